#include "src/hooks/json_tree.h"

#include <gtest/gtest.h>

#include <fstream>
#include <sstream>

namespace aw {
namespace {

std::string fixture(const std::string& rel) {
  std::ifstream in(std::string(AW_SOURCE_DIR) + "/tests/fixtures/hooks/" + rel);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

TEST(JsonTree, KeepsMemberOrderAndDuplicates) {
  auto v = parse_json_tree(R"({"z":1,"a":2,"m":{"y":true,"b":null},"a":3})");
  ASSERT_TRUE(v) << v.error().message;
  const auto& m = v->members();
  ASSERT_EQ(m.size(), 4U);
  EXPECT_EQ(m[0].first, "z");
  EXPECT_EQ(m[1].first, "a");
  EXPECT_EQ(m[2].first, "m");
  EXPECT_EQ(m[3].first, "a");
  EXPECT_EQ(m[2].second.members()[0].first, "y");
}

TEST(JsonTree, PrettyPrintsWithTwoSpaces) {
  auto v = parse_json_tree(R"({"a":[1,{"b":"c"}],"e":{},"f":[],"g":-1.5,"h":false})");
  ASSERT_TRUE(v);
  EXPECT_EQ(format_json_tree(*v),
            "{\n"
            "  \"a\": [\n"
            "    1,\n"
            "    {\n"
            "      \"b\": \"c\"\n"
            "    }\n"
            "  ],\n"
            "  \"e\": {},\n"
            "  \"f\": [],\n"
            "  \"g\": -1.5,\n"
            "  \"h\": false\n"
            "}\n");
}

TEST(JsonTree, RoundTripIsAFixedPointAndKeepsValues) {
  const std::string text = fixture("settings/claude-settings.json");
  auto v = parse_json_tree(text);
  ASSERT_TRUE(v) << v.error().message;
  const std::string once = format_json_tree(*v);
  auto again = parse_json_tree(once);
  ASSERT_TRUE(again);
  EXPECT_EQ(*again, *v);
  EXPECT_EQ(format_json_tree(*again), once);
}

TEST(JsonTree, IntegersStayExact) {
  auto v = parse_json_tree(R"([9223372036854775807,-9223372036854775808,18446744073709551615,0])");
  ASSERT_TRUE(v);
  EXPECT_EQ(
      format_json_tree(*v),
      "[\n  9223372036854775807,\n  -9223372036854775808,\n  18446744073709551615,\n  0\n]\n");
}

TEST(JsonTree, StringsAreEscapedAndUtf8Kept) {
  auto v = parse_json_tree(R"(["q\"b\\n\n\u0001", "caf\u00e9 ✓"])");
  ASSERT_TRUE(v);
  EXPECT_EQ(format_json_tree(*v), "[\n  \"q\\\"b\\\\n\\n\\u0001\",\n  \"caf\u00e9 \u2713\"\n]\n");
}

TEST(JsonTree, ErrorNamesLineAndColumn) {
  const std::string text = fixture("settings/claude-invalid.json");
  auto v = parse_json_tree(text);
  ASSERT_FALSE(v);
  EXPECT_EQ(v.error().message.substr(0, 5), "6:3: ") << v.error().message;
  EXPECT_NE(v.error().message.find("expected"), std::string::npos) << v.error().message;
}

TEST(JsonTree, ErrorAtEndOfInput) {
  auto v = parse_json_tree("{\n  \"a\": 1,\n");
  ASSERT_FALSE(v);
  EXPECT_EQ(v.error().message.substr(0, 4), "3:1:") << v.error().message;
}

TEST(JsonTree, LineColCountsBytes) {
  EXPECT_EQ(line_col("ab\ncd", 0), "1:1");
  EXPECT_EQ(line_col("ab\ncd", 4), "2:2");
  EXPECT_EQ(line_col("ab\ncd", 99), "2:3");
}

TEST(JsonTree, FindGetOrAddErase) {
  JsonValue o = JsonValue::object();
  EXPECT_EQ(o.find("x"), nullptr);
  o.get_or_add("x") = JsonValue::string("1");
  o.get_or_add("y");
  o.members().emplace_back("x", JsonValue::string("2"));
  EXPECT_EQ(o.find("x")->str(), "1");
  EXPECT_EQ(o.erase("x"), 2U);
  ASSERT_EQ(o.members().size(), 1U);
  EXPECT_TRUE(o.find("y")->is_null());
}

}  // namespace
}  // namespace aw
