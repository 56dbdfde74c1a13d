// Pure tests of the wire format: no socket, no loop.
#include "watchers/notify/notify_protocol.h"

#include <gtest/gtest.h>

namespace aw {
namespace {

DecodedNotifyLine decode(std::string_view line, const NotifyKindPolicy& policy = {}) {
  return decode_notify_line(line, policy);
}

TEST(NotifyProtocol, DecodesAFullMessage) {
  auto d = decode(
      R"({"id":"00000000000000ff","time":"2026-01-02T03:04:05.678Z","kind":"tmux.session-closed",)"
      R"("entity":"w1","fields":{"session":"w1","pane_pid":123,"ratio":0.5,"dead":true}})");
  ASSERT_TRUE(d.ok) << d.detail;
  EXPECT_EQ(d.message.kind, "tmux.session-closed");
  EXPECT_EQ(d.message.entity, "w1");
  EXPECT_EQ(d.message.id, 0xffu);
  ASSERT_TRUE(d.message.time.has_value());
  EXPECT_EQ(format_time_utc(*d.message.time), "2026-01-02T03:04:05.678Z");
  EXPECT_EQ(d.message.fields.get_string("session"), "w1");
  EXPECT_EQ(d.message.fields.get_int("pane_pid"), 123);
  EXPECT_EQ(*d.message.fields.find("ratio"), FieldValue(0.5));
  EXPECT_EQ(*d.message.fields.find("dead"), FieldValue(true));
}

TEST(NotifyProtocol, EncodeThenDecodeRoundTrips) {
  NotifyMessage m;
  m.kind = "worker.done";
  m.entity = "w\"7\n";
  m.fields.set("note", "line1\nline2 \xE2\x9C\x93");
  m.fields.set("n", FieldValue(std::int64_t{-42}));
  m.time = WallTime(std::chrono::milliseconds(1'700'000'000'123));
  m.id = 0x0123456789abcdefull;
  const std::string line = encode_notify_line(m);
  ASSERT_EQ(line.back(), '\n');
  EXPECT_EQ(line.find('\n'), line.size() - 1) << "one message, one line";
  auto d = decode(std::string_view(line).substr(0, line.size() - 1));
  ASSERT_TRUE(d.ok) << d.detail;
  EXPECT_EQ(d.message.kind, m.kind);
  EXPECT_EQ(d.message.entity, m.entity);
  EXPECT_EQ(d.message.fields, m.fields);
  EXPECT_EQ(d.message.time, m.time);
  EXPECT_EQ(d.message.id, m.id);
}

TEST(NotifyProtocol, InvalidJsonIsRefusedAsSuch) {
  for (std::string_view bad : {"not json", "{\"kind\":", "[1,2]", "\"tmux.x\"", "{} {}"}) {
    auto d = decode(bad);
    EXPECT_FALSE(d.ok) << bad;
    EXPECT_EQ(d.refusal, NotifyRefusal::kInvalidJson) << bad << ": " << d.detail;
  }
}

TEST(NotifyProtocol, WrongShapesAreInvalidMessages) {
  struct Case {
    std::string_view line;
    std::string_view says;
  } cases[] = {
      {R"({"entity":"w1"})", "missing \"kind\""},
      {R"({"kind":5})", "\"kind\": expected a string"},
      {R"({"kind":"tmux.x","fields":[1]})", "\"fields\": expected an object"},
      {R"({"kind":"tmux.x","fields":{"a":[1]}})", "fields are flat"},
      {R"({"kind":"tmux.x","fields":{"a":null}})", "fields are flat"},
      {R"({"kind":"tmux.x","fields":{"spooled":true}})", "reserved"},
      {R"({"kind":"tmux.x","fields":{"bad key":1}})", "expected letters"},
      {R"({"kind":"tmux.x","source":"forged"})", "unknown key \"source\""},
      {R"({"kind":"tmux.x","id":"12"})", "16 hex digits"},
      {R"({"kind":"tmux.x","id":"0000000000000000"})", "16 hex digits"},
      {R"({"kind":"tmux.x","time":"yesterday"})", "RFC 3339"},
  };
  for (const auto& c : cases) {
    auto d = decode(c.line);
    EXPECT_FALSE(d.ok) << c.line;
    EXPECT_EQ(d.refusal, NotifyRefusal::kInvalidMessage) << c.line << ": " << d.detail;
    EXPECT_NE(d.detail.find(c.says), std::string::npos) << c.line << ": " << d.detail;
  }
}

TEST(NotifyProtocol, KindsAreCheckedForSyntaxAndPrefix) {
  EXPECT_TRUE(decode(R"({"kind":"user.deploy-done_2"})").ok);
  for (std::string_view bad :
       {R"({"kind":""})", R"({"kind":"tmux..x"})", R"({"kind":"tmux.X"})", R"({"kind":"tmux.x."})",
        R"({"kind":"evil.x"})", R"({"kind":"tmux"})", R"({"kind":"file.landed"})"}) {
    auto d = decode(bad);
    EXPECT_FALSE(d.ok) << bad;
    EXPECT_EQ(d.refusal, NotifyRefusal::kUnknownKind) << bad << ": " << d.detail;
  }
  auto d = decode(R"({"kind":"evil.x"})");
  EXPECT_NE(d.detail.find("expected one of: tmux.*, worker.*"), std::string::npos) << d.detail;

  NotifyKindPolicy only_ci;
  only_ci.allowed_prefixes = {"ci."};
  EXPECT_TRUE(decode(R"({"kind":"ci.green"})", only_ci).ok);
  EXPECT_FALSE(decode(R"({"kind":"tmux.x"})", only_ci).ok);
}

TEST(NotifyProtocol, ValidatorRefusesAfterThePolicy) {
  NotifyKindPolicy p;
  int calls = 0;
  p.validate = [&](const NotifyMessage& m) -> Status {
    ++calls;
    if (m.entity.empty()) return make_error("an entity is required");
    return Status::Ok();
  };
  auto d = decode(R"({"kind":"tmux.x"})", p);
  EXPECT_FALSE(d.ok);
  EXPECT_EQ(d.refusal, NotifyRefusal::kRejected);
  EXPECT_EQ(d.detail, "an entity is required");
  EXPECT_TRUE(decode(R"({"kind":"tmux.x","entity":"w"})", p).ok);
  EXPECT_FALSE(decode(R"({"kind":"evil.x","entity":"w"})", p).ok);
  EXPECT_EQ(calls, 2) << "the validator ran on a kind the policy refuses";
}

TEST(NotifyProtocol, TrailingCarriageReturnIsTolerated) {
  EXPECT_TRUE(decode("{\"kind\":\"tmux.x\"}\r").ok);
}

TEST(NotifyProtocol, RepliesRoundTrip) {
  EXPECT_EQ(notify_ok_reply(), "{\"ok\":true}\n");
  auto ok = parse_notify_reply("{\"ok\":true}");
  ASSERT_TRUE(ok.has_value());
  EXPECT_TRUE(ok->ok);
  std::string err = notify_error_reply(NotifyRefusal::kUnknownKind, "kind \"x\" is not allowed");
  ASSERT_EQ(err.back(), '\n');
  err.pop_back();
  auto r = parse_notify_reply(err);
  ASSERT_TRUE(r.has_value());
  EXPECT_FALSE(r->ok);
  EXPECT_EQ(r->reason, "unknown_kind");
  EXPECT_EQ(r->error, "kind \"x\" is not allowed");
  EXPECT_FALSE(parse_notify_reply("garbage").has_value());
  EXPECT_FALSE(parse_notify_reply("{\"nope\":1}").has_value());
}

TEST(NotifyProtocol, IdsAreSixteenHexDigits) {
  EXPECT_EQ(format_notify_id(0xabcu), "0000000000000abc");
  EXPECT_EQ(parse_notify_id("0000000000000abc"), 0xabcu);
  EXPECT_EQ(parse_notify_id("ffffffffffffffff"), ~std::uint64_t{0});
  EXPECT_FALSE(parse_notify_id("abc").has_value());
  EXPECT_FALSE(parse_notify_id("000000000000000g").has_value());
  EXPECT_FALSE(parse_notify_id("-000000000000001").has_value());
}

}  // namespace
}  // namespace aw
