#include "src/cli/events_command.h"

#include <gtest/gtest.h>

#include <sstream>

#include "src/eventlog/test_util.h"

namespace aw {
namespace {

using testing::append_file;
using testing::numbered_event;
using testing::numbered_line;
using testing::split_lines;
using testing::TempDir;
using testing::write_file;

class EventsCommandTest : public ::testing::Test {
 protected:
  void SetUp() override {
    Event failed = numbered_event(3, "action.failed");
    failed.entity = "worker-9";
    failed.cause = 2;
    failed.rule = "restart";
    write_file(dir_ / "events.000001.jsonl",
               numbered_line(1, "file.landed") + numbered_line(2, "proc.exited"));
    write_file(dir_ / "events.jsonl", to_json_line(failed) + numbered_line(4, "file.landed"));
  }
  EventsOptions options() {
    EventsOptions o;
    o.state_dir = dir_.path();
    o.color = false;
    o.now = numbered_event(4).time;  // "now" is when event 4 happened
    return o;
  }
  int run(const EventsOptions& o) {
    out_.str("");
    err_.str("");
    return events_command(o, out_, err_);
  }
  std::vector<std::string> lines() { return split_lines(out_.str()); }

  TempDir dir_;
  std::ostringstream out_, err_;
};

TEST_F(EventsCommandTest, PrintsEveryEventReadably) {
  ASSERT_EQ(run(options()), 0) << err_.str();
  const auto l = lines();
  ASSERT_EQ(l.size(), 4u);
  EXPECT_EQ(l[0], "2026-11-22T00:00:00.001Z  #1  file.landed  /w/results/1.json  @worker-1  n=1");
  EXPECT_EQ(l[2],
            "2026-11-22T00:00:00.003Z  #3  !action.failed  /w/results/3.json  @worker-9  n=3  "
            "(rule=restart \xe2\x86\x90 #2)");
  EXPECT_EQ(err_.str(), "");
}

TEST_F(EventsCommandTest, JsonPrintsTheLoggedLinesUnchanged) {
  auto o = options();
  o.json = true;
  ASSERT_EQ(run(o), 0);
  EXPECT_EQ(out_.str(), testing::read_file(dir_ / "events.000001.jsonl") +
                            testing::read_file(dir_ / "events.jsonl"));
}

TEST_F(EventsCommandTest, KindFiltersAreAlternatives) {
  auto o = options();
  o.json = true;
  o.kinds = {"file.*", "proc.exited"};
  ASSERT_EQ(run(o), 0);
  EXPECT_EQ(out_.str(), numbered_line(1, "file.landed") + numbered_line(2, "proc.exited") +
                            numbered_line(4, "file.landed"));
}

TEST_F(EventsCommandTest, SinceADurationCountsBackFromNow) {
  auto o = options();
  o.since = "2ms";  // event 4 is "now": events 2, 3 and 4 are within 2 ms
  ASSERT_EQ(run(o), 0) << err_.str();
  EXPECT_EQ(lines().size(), 3u);
  o.since = "0";
  ASSERT_EQ(run(o), 0);
  EXPECT_EQ(lines().size(), 1u);
}

TEST_F(EventsCommandTest, SinceATimeOrADate) {
  auto o = options();
  o.since = "2026-11-22T00:00:00.003Z";
  ASSERT_EQ(run(o), 0);
  EXPECT_EQ(lines().size(), 2u);
  o.since = "2026-11-22T01:00:00.003+01:00";
  ASSERT_EQ(run(o), 0);
  EXPECT_EQ(lines().size(), 2u);
  o.since = "2026-11-23";
  ASSERT_EQ(run(o), 0);
  EXPECT_EQ(lines().size(), 0u);
  o.since = "2026-11-22";
  ASSERT_EQ(run(o), 0);
  EXPECT_EQ(lines().size(), 4u);
}

TEST_F(EventsCommandTest, BadSinceIsExitTwoWithWhatWasExpected) {
  auto o = options();
  o.since = "yesterday";
  EXPECT_EQ(run(o), 2);
  EXPECT_EQ(out_.str(), "");
  EXPECT_NE(err_.str().find("--since \"yesterday\": expected a duration"), std::string::npos)
      << err_.str();
}

TEST_F(EventsCommandTest, BadGlobIsExitTwo) {
  auto o = options();
  o.kinds = {"file.[oops"};
  EXPECT_EQ(run(o), 2);
  EXPECT_NE(err_.str().find("--kind \"file.[oops\""), std::string::npos) << err_.str();
  o.kinds.clear();
  o.entity = "w\\";
  EXPECT_EQ(run(o), 2);
  EXPECT_NE(err_.str().find("--entity"), std::string::npos) << err_.str();
}

TEST_F(EventsCommandTest, EntityExactOrGlob) {
  auto o = options();
  o.entity = "worker-9";
  ASSERT_EQ(run(o), 0);
  EXPECT_EQ(lines().size(), 1u);
  o.entity = "worker-[12]";
  ASSERT_EQ(run(o), 0);
  EXPECT_EQ(lines().size(), 3u);  // worker-1 (events 1, 4) and worker-2 (event 2)
}

TEST_F(EventsCommandTest, FailedOnly) {
  auto o = options();
  o.failed = true;
  ASSERT_EQ(run(o), 0);
  ASSERT_EQ(lines().size(), 1u);
  EXPECT_NE(lines()[0].find("!action.failed"), std::string::npos);
}

TEST_F(EventsCommandTest, LimitStopsAfterThatMany) {
  auto o = options();
  o.limit = 2;
  ASSERT_EQ(run(o), 0);
  ASSERT_EQ(lines().size(), 2u);
  EXPECT_NE(lines()[1].find("#2"), std::string::npos);
  o.limit = 0;
  ASSERT_EQ(run(o), 0);
  EXPECT_EQ(out_.str(), "");
}

TEST_F(EventsCommandTest, CorruptLinesAreSkippedAndReportedWithFileAndLine) {
  append_file(dir_ / "events.jsonl", "garbage\n" + numbered_line(5));
  ASSERT_EQ(run(options()), 0);
  EXPECT_EQ(lines().size(), 5u);
  EXPECT_NE(err_.str().find("skipped 1 corrupt line(s)"), std::string::npos) << err_.str();
  EXPECT_NE(err_.str().find(dir_ / "events.jsonl:3"), std::string::npos) << err_.str();
}

TEST_F(EventsCommandTest, ForeignJsonIsShownRawNotDropped) {
  append_file(dir_ / "events.jsonl", R"({"kind":"x.y","extra":1})"
                                     "\n");
  ASSERT_EQ(run(options()), 0);
  ASSERT_EQ(lines().size(), 5u);
  EXPECT_EQ(lines()[4].rfind(R"(?  {"kind":"x.y","extra":1}  ()", 0), 0u) << lines()[4];
  EXPECT_NE(lines()[4].find("unknown key \"extra\""), std::string::npos) << lines()[4];
}

TEST_F(EventsCommandTest, MissingStateDirIsANoteNotAFailure) {
  auto o = options();
  o.state_dir = dir_ / "nope";
  EXPECT_EQ(run(o), 0);
  EXPECT_EQ(out_.str(), "");
  EXPECT_NE(err_.str().find("no event log yet"), std::string::npos);
}

TEST_F(EventsCommandTest, FollowPrintsHistoryThenNewEventsUntilStopped) {
  auto o = options();
  o.follow = true;
  o.kinds = {"file.landed"};
  int calls = 0;
  o.stop = [&] {
    ++calls;
    if (calls == 2) append_file(dir_ / "events.jsonl", numbered_line(5, "file.landed"));
    return out_.str().find("#5") != std::string::npos || calls > 5000;
  };
  ASSERT_EQ(run(o), 0) << err_.str();
  const auto l = lines();
  ASSERT_EQ(l.size(), 3u);
  EXPECT_NE(l[2].find("#5  file.landed"), std::string::npos);
}

TEST_F(EventsCommandTest, FollowStopsAtTheLimit) {
  auto o = options();
  o.follow = true;
  o.limit = 3;
  ASSERT_EQ(run(o), 0);
  EXPECT_EQ(lines().size(), 3u);
}

TEST_F(EventsCommandTest, FollowOfAMissingDirIsExitOne) {
  auto o = options();
  o.follow = true;
  o.state_dir = dir_ / "nope";
  EXPECT_EQ(run(o), 1);
  EXPECT_NE(err_.str().find("does not exist"), std::string::npos) << err_.str();
}

TEST(ParseSinceTest, DurationsAndTimes) {
  const WallTime now = *parse_time_utc("2026-11-22T12:00:00Z");
  EXPECT_EQ(*parse_since("10m", now), *parse_time_utc("2026-11-22T11:50:00Z"));
  EXPECT_EQ(*parse_since("1h30m", now), *parse_time_utc("2026-11-22T10:30:00Z"));
  EXPECT_EQ(*parse_since("2026-11-01", now), *parse_time_utc("2026-11-01T00:00:00Z"));
  EXPECT_FALSE(parse_since("", now).ok());
  EXPECT_FALSE(parse_since("10 minutes", now).ok());
}

}  // namespace
}  // namespace aw
