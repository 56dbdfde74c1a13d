// Pure tests of the control protocol's encoding and decoding.
#include "src/control/control_protocol.h"

#include <gtest/gtest.h>

namespace aw {
namespace {

TEST(ControlProtocolTest, DecodesRequestWithFlatParams) {
  auto d = decode_control_request(
      R"({"id":7,"method":"workers.list","params":{"state":"failed","limit":3,"ratio":0.5,"all":true,"skip":null}})");
  ASSERT_TRUE(d.ok) << d.error;
  EXPECT_EQ(d.id, 7u);
  EXPECT_EQ(d.request.id, 7u);
  EXPECT_EQ(d.request.method, "workers.list");
  EXPECT_EQ(d.request.params.get_string("state"), "failed");
  EXPECT_EQ(d.request.params.get_int("limit"), 3);
  ASSERT_NE(d.request.params.find("ratio"), nullptr);
  EXPECT_EQ(std::get<double>(*d.request.params.find("ratio")), 0.5);
  EXPECT_EQ(std::get<bool>(*d.request.params.find("all")), true);
  EXPECT_EQ(d.request.params.find("skip"), nullptr) << "null is the same as absent";
  EXPECT_EQ(d.request.params.size(), 4u);
}

TEST(ControlProtocolTest, IdAndParamsAreOptional) {
  auto d = decode_control_request(R"({"method":"ping"})"
                                  "\r");
  ASSERT_TRUE(d.ok) << d.error;
  EXPECT_FALSE(d.id.has_value());
  EXPECT_EQ(d.request.id, 0u);
  EXPECT_TRUE(d.request.params.empty());
}

TEST(ControlProtocolTest, RequestRoundTripsThroughEncoder) {
  const std::string line = encode_control_request(42, "health", R"({"id":"w\"1"})");
  ASSERT_EQ(line.back(), '\n');
  auto d = decode_control_request(std::string_view(line).substr(0, line.size() - 1));
  ASSERT_TRUE(d.ok) << d.error;
  EXPECT_EQ(d.request.id, 42u);
  EXPECT_EQ(d.request.method, "health");
  EXPECT_EQ(d.request.params.get_string("id"), "w\"1");
  EXPECT_EQ(encode_control_request(1, "ping", ""),
            "{\"id\":1,\"method\":\"ping\",\"params\":{}}\n");
}

struct BadRequestCase {
  const char* line;
  const char* expected_error_part;
  bool id_readable;
};

class ControlBadRequestTest : public ::testing::TestWithParam<BadRequestCase> {};

TEST_P(ControlBadRequestTest, IsRefusedWithAReason) {
  const BadRequestCase& c = GetParam();
  auto d = decode_control_request(c.line);
  EXPECT_FALSE(d.ok);
  EXPECT_NE(d.error.find(c.expected_error_part), std::string::npos) << d.error;
  EXPECT_EQ(d.id.has_value(), c.id_readable) << c.line;
}

INSTANTIATE_TEST_SUITE_P(
    Cases, ControlBadRequestTest,
    ::testing::Values(
        BadRequestCase{"not json", "not JSON", false}, BadRequestCase{"", "not JSON", false},
        BadRequestCase{"[1,2]", "expected a JSON object", false},
        BadRequestCase{R"({"id":-1,"method":"ping"})", "\"id\": expected an unsigned integer",
                       false},
        BadRequestCase{R"({"id":1.5,"method":"ping"})", "\"id\": expected an unsigned integer",
                       false},
        BadRequestCase{R"({"id":3})", "missing \"method\"", true},
        BadRequestCase{R"({"id":3,"method":""})", "non-empty string", true},
        BadRequestCase{R"({"id":3,"method":7})", "non-empty string", true},
        BadRequestCase{R"({"id":3,"method":"x","params":[1]})", "\"params\": expected an object",
                       true},
        BadRequestCase{R"({"id":3,"method":"x","params":{"ids":["a","b"]}})",
                       "params \"ids\": expected a string, number or boolean", true},
        BadRequestCase{R"({"id":3,"method":"x","params":{"o":{}}})", "params are flat", true},
        BadRequestCase{R"({"id":3,"method":"x","params":{"a":1,"a":2}})", "given twice", true},
        BadRequestCase{R"({"id":3,"methd":"x"})", "unknown key \"methd\"", true}));

TEST(ControlProtocolTest, RepliesAreOneLineEach) {
  EXPECT_EQ(encode_control_ok(5, R"({"a":1})"), "{\"id\":5,\"ok\":true,\"result\":{\"a\":1}}\n");
  EXPECT_EQ(encode_control_ok(std::nullopt, ""), "{\"id\":null,\"ok\":true,\"result\":null}\n");
  const std::string e =
      encode_control_error(9, ControlErrorCode::kNotFound, "no worker \"w9\"\nreally");
  EXPECT_EQ(e,
            "{\"id\":9,\"ok\":false,\"error\":\"no worker \\\"w9\\\"\\nreally\",\"code\":"
            "\"not_found\"}\n");
  EXPECT_EQ(e.find('\n'), e.size() - 1);
}

TEST(ControlProtocolTest, ErrorCodeNames) {
  EXPECT_STREQ(control_error_code_name(ControlErrorCode::kUnknownMethod), "unknown_method");
  EXPECT_STREQ(control_error_code_name(ControlErrorCode::kBadRequest), "bad_request");
  EXPECT_STREQ(control_error_code_name(ControlErrorCode::kNotFound), "not_found");
  EXPECT_STREQ(control_error_code_name(ControlErrorCode::kRefused), "refused");
  EXPECT_STREQ(control_error_code_name(ControlErrorCode::kFailed), "failed");
}

TEST(ControlProtocolTest, CompactJsonMakesOneLineAndRejectsInvalid) {
  auto c = compact_json("{\n  \"a\": [1, 2],\n  \"b\": \"x y\"\n}\n");
  ASSERT_TRUE(c.ok()) << c.error().message;
  EXPECT_EQ(*c, R"({"a":[1,2],"b":"x y"})");
  EXPECT_EQ(*compact_json("\"text\""), "\"text\"");
  EXPECT_FALSE(compact_json("{\"a\":").ok());
  EXPECT_FALSE(compact_json("").ok());
  EXPECT_FALSE(compact_json("{} {}").ok());
}

TEST(ControlProtocolTest, DecodesOkAndErrorReplies) {
  auto ok = decode_control_reply(R"({"id":1,"ok":true,"result":{"workers":[{"id":"w1"}]}})");
  ASSERT_TRUE(ok.ok()) << ok.error().message;
  EXPECT_EQ(ok->id, 1u);
  EXPECT_TRUE(ok->reply.ok);
  EXPECT_EQ(ok->reply.result_json, R"({"workers":[{"id":"w1"}]})");

  auto err = decode_control_reply(
      R"({"id":null,"ok":false,"error":"too many","code":"refused","since":"a newer daemon"})");
  ASSERT_TRUE(err.ok()) << err.error().message;
  EXPECT_FALSE(err->id.has_value());
  EXPECT_FALSE(err->reply.ok);
  EXPECT_EQ(err->reply.error, "too many");
  EXPECT_EQ(err->reply.code, "refused");

  auto no_result = decode_control_reply(R"({"id":2,"ok":true})");
  ASSERT_TRUE(no_result.ok());
  EXPECT_EQ(no_result->reply.result_json, "null");
}

TEST(ControlProtocolTest, MalformedRepliesAreErrors) {
  for (const char* line : {"", "garbage", "[]", R"({"id":1})", R"({"id":"x","ok":true})",
                           R"({"id":1,"ok":"yes"})", R"({"id":1,"ok":false,"error":3})"}) {
    auto r = decode_control_reply(line);
    ASSERT_FALSE(r.ok()) << line;
    EXPECT_NE(r.error().message.find("malformed reply"), std::string::npos) << line;
  }
}

}  // namespace
}  // namespace aw
