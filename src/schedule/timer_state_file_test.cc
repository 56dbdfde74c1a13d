#include "src/schedule/timer_state_file.h"

#include <gtest/gtest.h>
#include <sys/stat.h>

#include "src/core/event.h"
#include "src/core/state_file.h"
#include "src/schedule/schedule_test_support.h"

namespace aw {
namespace {

using namespace std::chrono_literals;
using testing::exists;
using testing::read_file;
using testing::TempDir;
using testing::write_file;

const WallTime kT1 = *parse_time_utc("2026-11-22T10:50:00.125Z");
const WallTime kT2 = *parse_time_utc("2026-11-22T11:20:39.000Z");

std::string error_of(std::string_view text) {
  auto r = parse_timer_state(text, "/s/timers");
  return r.ok() ? "(parsed)" : r.error().message;
}

TEST(TimerStateFileTest, RoundTripsNamesWithAnyBytes) {
  JobRecords records{{"plain", JobRecord{kT2, kT1}},
                     {"never run", JobRecord{std::nullopt, kT1}},
                     {"tab\there\nnewline 100%", JobRecord{kT2, std::nullopt}}};
  const std::string text = serialize_timer_state(records);
  EXPECT_EQ(text.substr(0, text.find('\n')), "agentwatch-state 2 timers");
  EXPECT_NE(text.find("plain\t2026-11-22T11:20:39.000Z\t2026-11-22T10:50:00.125Z\n"),
            std::string::npos)
      << text;
  auto back = parse_timer_state(text, "/s/timers");
  ASSERT_TRUE(back.ok()) << back.error().message;
  EXPECT_EQ(*back, records);
}

TEST(TimerStateFileTest, EmptyTableIsJustTheHeader) {
  EXPECT_EQ(serialize_timer_state({}), "agentwatch-state 2 timers\n");
  auto back = parse_timer_state("agentwatch-state 2 timers\n", "/s/timers");
  ASSERT_TRUE(back.ok());
  EXPECT_TRUE(back->empty());
  back = parse_timer_state("agentwatch-timers 1\n", "/s/timers");  // the older format
  ASSERT_TRUE(back.ok());
  EXPECT_TRUE(back->empty());
}

TEST(TimerStateFileTest, WrongHeaderNamesFileLineAndExpectation) {
  EXPECT_EQ(error_of("{\"jobs\": {}}\n"),
            "/s/timers:1: expected the header 'agentwatch-state 2 timers', found '{\"jobs\": "
            "{}}'");
  EXPECT_EQ(error_of(""),
            "/s/timers:1: expected the header 'agentwatch-state 2 timers', found an "
            "empty file");
}

TEST(TimerStateFileTest, ADamagedRecordMakesTheWholeFileUnusable) {
  std::string damaged = state_record({"b", "-", "2026-11-22T10:50:00.000Z"});
  damaged[damaged.size() - 3] = '9';
  EXPECT_EQ(error_of(state_file_header("timers") +
                     state_record({"a", "-", "2026-11-22T10:50:00.000Z"}) + damaged),
            "/s/timers:3: the checksum does not match the record (a damaged line)");
  EXPECT_EQ(error_of(state_file_header("timers") + state_record({"a", "-", "noon"})),
            "/s/timers:2: first seen: expected an RFC 3339 time or '-', found 'noon'");
  std::string torn = state_record({"a", "-", "2026-11-22T10:50:00.000Z"});
  torn.pop_back();
  EXPECT_EQ(error_of(state_file_header("timers") + torn),
            "/s/timers:2: the last line ends without a newline (a torn write: ignored)");
}

TEST(TimerStateFileTest, TheOlderFormatIsReadAndRewrittenInTheCurrentOne) {
  TempDir dir;
  write_file(dir / "timers",
             "agentwatch-timers 1\n"
             "tab%09name\t2026-11-22T11:20:39.000Z\t2026-11-22T10:50:00.125Z\n"
             "never\t-\t2026-11-22T10:50:00.125Z\n");
  const JobRecords expected{{"tab\tname", JobRecord{kT2, kT1}},
                            {"never", JobRecord{std::nullopt, kT1}}};
  auto r = read_timer_state(dir / "timers");
  ASSERT_TRUE(r.ok()) << r.error().message;
  EXPECT_EQ(*r, expected);
  EXPECT_EQ(read_file(dir / "timers"), serialize_timer_state(expected));
  auto again = read_timer_state(dir / "timers");
  ASSERT_TRUE(again.ok()) << again.error().message;
  EXPECT_EQ(*again, expected);
}

TEST(TimerStateFileTest, TornLastLineIsAnError) {
  EXPECT_EQ(error_of("agentwatch-timers 1\nplain\t-\t2026-11-22T10:50:00Z"),
            "/s/timers:2: the line ends without a newline (expected a whole line: the file was "
            "cut short)");
}

TEST(TimerStateFileTest, WrongColumnCount) {
  EXPECT_EQ(error_of("agentwatch-timers 1\nplain\t-\n"),
            "/s/timers:2: expected 3 tab-separated columns (name, last run, first seen), found 2");
}

TEST(TimerStateFileTest, BadTimes) {
  EXPECT_EQ(error_of("agentwatch-timers 1\nx\tyesterday\t-\n"),
            "/s/timers:2: last run: expected an RFC 3339 time or '-', found 'yesterday'");
  EXPECT_EQ(error_of("agentwatch-timers 1\nx\t-\t12:00\n"),
            "/s/timers:2: first seen: expected an RFC 3339 time or '-', found '12:00'");
  EXPECT_EQ(error_of("agentwatch-timers 1\nx\t-\t-\n"),
            "/s/timers:2: expected a last run or a first-seen time, found neither");
}

TEST(TimerStateFileTest, BadNameAndDuplicates) {
  EXPECT_EQ(error_of("agentwatch-timers 1\n\t-\t2026-11-22T10:50:00Z\n"),
            "/s/timers:2: expected a job name (percent-escaped, not empty)");
  EXPECT_EQ(error_of("agentwatch-timers 1\nbad%zz\t-\t2026-11-22T10:50:00Z\n"),
            "/s/timers:2: expected a job name (percent-escaped, not empty)");
  EXPECT_EQ(
      error_of("agentwatch-timers 1\na\t-\t2026-11-22T10:50:00Z\na\t-\t2026-11-22T10:50:00Z\n"),
      "/s/timers:3: job 'a' appears twice (expected one line per job)");
}

TEST(TimerStateFileTest, MissingFileIsEmpty) {
  TempDir dir;
  auto r = read_timer_state(dir / "timers");
  ASSERT_TRUE(r.ok()) << r.error().message;
  EXPECT_TRUE(r->empty());
}

TEST(TimerStateFileTest, CorruptFileIsReportedAndMovedAside) {
  TempDir dir;
  write_file(dir / "timers", "garbage\x01\n");
  auto r = read_timer_state(dir / "timers");
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().message, dir / "timers" +
                                   ":1: expected the header 'agentwatch-state 2 timers', " +
                                   "found 'garbage\x01'" + " (moved aside to '" +
                                   (dir / "timers.corrupt") + "'; every timer starts afresh)");
  EXPECT_FALSE(exists(dir / "timers"));
  EXPECT_EQ(read_file(dir / "timers.corrupt"), "garbage\x01\n");
}

TEST(TimerStateFileTest, UnreadableFileIsAnError) {
  TempDir dir;
  ASSERT_EQ(::mkdir((dir / "timers").c_str(), 0700), 0);  // a directory: read() fails
  auto r = read_timer_state(dir / "timers");
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.error().message.find("cannot read the timer state '" + (dir / "timers") + "'"),
            std::string::npos)
      << r.error().message;
}

TEST(TimerStateFileTest, WriteReplacesAtomicallyAndCreatesTheDirectory) {
  TempDir dir;
  const std::string path = dir / "state/agentwatch/timers";
  JobRecords records{{"a", JobRecord{kT2, kT1}}};
  ASSERT_TRUE(write_timer_state(path, serialize_timer_state(records)).ok());
  struct stat st {};
  ASSERT_EQ(::stat((dir / "state/agentwatch").c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0700u);
  records["b"] = JobRecord{std::nullopt, kT2};
  ASSERT_TRUE(write_timer_state(path, serialize_timer_state(records)).ok());
  auto back = read_timer_state(path);
  ASSERT_TRUE(back.ok()) << back.error().message;
  EXPECT_EQ(*back, records);
}

TEST(TimerStateFileTest, WriteErrorNamesThePath) {
  TempDir dir;
  write_file(dir / "file", "x");
  Status s = write_timer_state(dir / "file/timers", "x");  // parent is a file
  ASSERT_FALSE(s.ok());
  EXPECT_NE(s.error().message.find(dir / "file"), std::string::npos) << s.error().message;
}

}  // namespace
}  // namespace aw
