#include "src/core/event.h"

#include <gtest/gtest.h>

namespace aw {
namespace {

Event sample() {
  Event e;
  e.kind = "file.landed";
  e.source = "inotify";
  e.time = WallTime(std::chrono::milliseconds(1'763'810'439'123));
  e.seq = 42;
  e.path = "/r/with \"quote\"\nnewline.json";
  e.entity = "w1";
  e.cause = 7;
  e.rule = "r";
  e.depth = 1;
  e.fields.set("via", "close_write");
  e.fields.set("size", std::int64_t{1234});
  e.fields.set("ratio", 0.5);
  e.fields.set("ok", true);
  return e;
}

TEST(Event, JsonLineIsOneLine) {
  std::string line = to_json_line(sample());
  ASSERT_FALSE(line.empty());
  EXPECT_EQ(line.back(), '\n');
  EXPECT_EQ(line.find('\n'), line.size() - 1);
}

TEST(Event, JsonRoundTrip) {
  Event e = sample();
  std::string line = to_json_line(e);
  auto parsed = parse_event_json(line);
  ASSERT_TRUE(parsed.ok()) << parsed.error().message;
  EXPECT_EQ(*parsed, e);
}

TEST(Event, AppendedLineIsTheSameLine) {
  std::string out = "before\n";
  append_json_line(out, sample());
  EXPECT_EQ(out, "before\n" + to_json_line(sample()));
}

// The digits are written by hand; the edges of each field, a time before the
// epoch (negative milliseconds) and the last time a WallTime holds come out right.
TEST(Event, TimeFormatsEveryFieldAtItsEdges) {
  using std::chrono::milliseconds;
  EXPECT_EQ(format_time_utc(WallTime(milliseconds(0))), "1970-01-01T00:00:00.000Z");
  EXPECT_EQ(format_time_utc(WallTime(milliseconds(-1))), "1969-12-31T23:59:59.999Z");
  EXPECT_EQ(format_time_utc(WallTime::max()), "2262-04-11T23:47:16.854Z");
  EXPECT_EQ(format_time_utc(WallTime(milliseconds(946'684'799'999))), "1999-12-31T23:59:59.999Z");
  std::string out = "t=";
  append_time_utc(out, WallTime(milliseconds(1'763'810'439'007)));
  EXPECT_EQ(out, "t=2025-11-22T11:20:39.007Z");
}

TEST(Event, TimeFormatsAsRfc3339) {
  EXPECT_EQ(format_time_utc(WallTime(std::chrono::milliseconds(1'763'810'439'123))),
            "2025-11-22T11:20:39.123Z");
  auto t = parse_time_utc("2025-11-22T12:20:39.123+01:00");
  ASSERT_TRUE(t);
  EXPECT_EQ(format_time_utc(*t), "2025-11-22T11:20:39.123Z");
  EXPECT_TRUE(parse_time_utc("2025-11-22"));
  EXPECT_FALSE(parse_time_utc("yesterday"));
}

// Found by tests/fuzz/fuzz_notify: a year past 2262 overflowed the nanosecond
// count (undefined behaviour) in a notify message's or an event line's "time".
TEST(Event, TimeOutsideWallTimeRangeIsNoTime) {
  EXPECT_FALSE(parse_time_utc("3288-01-02T03:04:05.6789+02:00"));
  EXPECT_FALSE(parse_time_utc("9999-12-31"));
  EXPECT_FALSE(parse_time_utc("1000-01-01T00:00:00Z"));
  EXPECT_FALSE(parse_event_json(R"({"kind":"x","time":"5626-01-02"})").ok());
  auto last = parse_time_utc("2262-04-11T23:47:16.854Z");
  ASSERT_TRUE(last);
  EXPECT_EQ(format_time_utc(*last), "2262-04-11T23:47:16.854Z");
  auto first = parse_time_utc("1677-09-21T00:12:44Z");
  ASSERT_TRUE(first);
  EXPECT_EQ(format_time_utc(*first), "1677-09-21T00:12:44.000Z");
}

TEST(Event, ParseRejectsUnknownKeysAndNestedFields) {
  auto unknown = parse_event_json(R"({"kind":"x","colour":"red"})");
  ASSERT_FALSE(unknown.ok());
  EXPECT_NE(unknown.error().message.find("colour"), std::string::npos);
  EXPECT_FALSE(parse_event_json(R"({"kind":"x","fields":{"a":{"b":1}}})").ok());
  EXPECT_FALSE(parse_event_json(R"({"path":"/x"})").ok());  // kind is required
  EXPECT_FALSE(parse_event_json(R"({"kind":"x"} trailing)").ok());
  EXPECT_FALSE(parse_event_json("{\"kind\":\"x\"").ok());
}

TEST(Fields, SetReplacesAndKeepsOrder) {
  Fields f;
  f.set("a", std::int64_t{1});
  f.set("b", "two");
  f.set("a", std::int64_t{3});
  ASSERT_EQ(f.size(), 2u);
  EXPECT_EQ(f.begin()->key, "a");
  EXPECT_EQ(*f.get_int("a"), 3);
  EXPECT_EQ(*f.get_string("b"), "two");
  EXPECT_FALSE(f.get_int("b"));
  EXPECT_TRUE(f.erase("a"));
  EXPECT_FALSE(f.find("a"));
}

}  // namespace
}  // namespace aw
