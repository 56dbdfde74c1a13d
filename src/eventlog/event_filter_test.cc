#include "src/eventlog/event_filter.h"

#include <gtest/gtest.h>

#include "src/eventlog/test_util.h"

namespace aw {
namespace {

using testing::numbered_event;

// Runs a filter over the DOM path (as the reader does) and the Event path, and
// insists they agree.
class EventFilterTest : public ::testing::Test {
 protected:
  bool matches(const EventFilterSpec& spec, const Event& e) {
    auto f = EventFilter::compile(spec);
    EXPECT_TRUE(f.ok()) << (f.ok() ? "" : f.error().message);
    const std::string line = to_json_line(e);
    simdjson::padded_string padded(line);
    simdjson::dom::object obj;
    EXPECT_FALSE(parser_.parse(padded).get_object().get(obj));
    LogRecord r{line, obj, e.kind, "test", 1};
    const bool dom = f->matches(r);
    EXPECT_EQ(dom, f->matches(e)) << "DOM and Event paths disagree on " << line;
    return dom;
  }
  simdjson::dom::parser parser_;
};

TEST_F(EventFilterTest, EmptySpecMatchesEverything) {
  EXPECT_TRUE(matches({}, numbered_event(1)));
}

TEST_F(EventFilterTest, KindGlobsAreAlternatives) {
  EventFilterSpec spec;
  spec.kinds = {"file.*", "action.failed"};
  EXPECT_TRUE(matches(spec, numbered_event(1, "file.landed")));
  EXPECT_TRUE(matches(spec, numbered_event(1, "action.failed")));
  EXPECT_FALSE(matches(spec, numbered_event(1, "action.succeeded")));
  EXPECT_FALSE(matches(spec, numbered_event(1, "profile.x")));
}

TEST_F(EventFilterTest, PlainGlobStarCrossesDots) {
  EventFilterSpec spec;
  spec.kinds = {"*.failed"};
  EXPECT_TRUE(matches(spec, numbered_event(1, "action.retry.failed")));
}

TEST_F(EventFilterTest, BadKindGlobNamesTheOption) {
  EventFilterSpec spec;
  spec.kinds = {"file.[x"};
  auto f = EventFilter::compile(spec);
  ASSERT_FALSE(f.ok());
  EXPECT_NE(f.error().message.find("--kind \"file.[x\""), std::string::npos) << f.error().message;
}

TEST_F(EventFilterTest, SinceKeepsEventsAtOrAfterItToTheMillisecond) {
  const Event e = numbered_event(500);  // base + 500 ms
  EventFilterSpec spec;
  spec.since = e.time;
  EXPECT_TRUE(matches(spec, e));
  spec.since = e.time + std::chrono::microseconds(300);  // same millisecond
  EXPECT_TRUE(matches(spec, e));
  spec.since = e.time + std::chrono::milliseconds(1);
  EXPECT_FALSE(matches(spec, e));
  spec.since = e.time - std::chrono::hours(24 * 400);  // across a year boundary
  EXPECT_TRUE(matches(spec, e));
}

TEST_F(EventFilterTest, SinceHandlesHandWrittenTimesWithOffsets) {
  EventFilterSpec spec;
  spec.since = parse_time_utc("2026-11-22T11:00:00Z");
  auto f = EventFilter::compile(spec);
  ASSERT_TRUE(f.ok());
  simdjson::dom::parser parser;
  auto check = [&](const std::string& line) {
    simdjson::padded_string padded(line);
    simdjson::dom::object obj;
    EXPECT_FALSE(parser.parse(padded).get_object().get(obj));
    return f->matches(LogRecord{line, obj, "x", "t", 1});
  };
  EXPECT_TRUE(check(R"({"kind":"x","time":"2026-11-22T12:30:00+01:00"})"));
  EXPECT_FALSE(check(R"({"kind":"x","time":"2026-11-22T11:30:00+01:00"})"));
  EXPECT_FALSE(check(R"({"kind":"x","time":"yesterday"})"));
  EXPECT_FALSE(check(R"({"kind":"x"})"));
}

TEST_F(EventFilterTest, EntityIsExactOrAGlob) {
  Event e = numbered_event(1);
  e.entity = "worker-12";
  EventFilterSpec spec;
  spec.entity = "worker-12";
  EXPECT_TRUE(matches(spec, e));
  spec.entity = "worker-1";
  EXPECT_FALSE(matches(spec, e));
  spec.entity = "worker-*";
  EXPECT_TRUE(matches(spec, e));
  e.entity.clear();
  EXPECT_FALSE(matches(spec, e));
}

TEST_F(EventFilterTest, FailedMeansAFailureKindOrOkFalse) {
  EventFilterSpec spec;
  spec.failed_only = true;
  for (const char* kind : {"action.failed", "rules.rejected", "notify.refused",
                           "action.interrupted", "watch.degraded"})
    EXPECT_TRUE(matches(spec, numbered_event(1, kind))) << kind;
  EXPECT_FALSE(matches(spec, numbered_event(1, "action.succeeded")));
  EXPECT_FALSE(matches(spec, numbered_event(1, "failed.not")));
  Event e = numbered_event(1, "action.finished");
  e.fields.set("ok", false);
  EXPECT_TRUE(matches(spec, e));
  e.fields.set("ok", true);
  EXPECT_FALSE(matches(spec, e));
  e.fields.set("ok", "false");  // a string is not the boolean outcome
  EXPECT_FALSE(matches(spec, e));
}

TEST_F(EventFilterTest, AllConditionsMustHold) {
  Event e = numbered_event(1, "action.failed");
  e.entity = "w1";
  EventFilterSpec spec;
  spec.kinds = {"action.*"};
  spec.entity = "w1";
  spec.failed_only = true;
  EXPECT_TRUE(matches(spec, e));
  spec.entity = "w2";
  EXPECT_FALSE(matches(spec, e));
}

TEST(IsFailureTest, KindsAndOutcomes) {
  EXPECT_TRUE(is_failure_kind("x.failed"));
  EXPECT_FALSE(is_failure_kind("failed"));
  EXPECT_FALSE(is_failure_kind("x.failedish"));
  Event e;
  e.kind = "action.succeeded";
  EXPECT_FALSE(is_failure(e));
  e.fields.set("ok", false);
  EXPECT_TRUE(is_failure(e));
}

}  // namespace
}  // namespace aw
