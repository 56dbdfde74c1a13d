#include "src/cli/stats_command.h"

#include <gtest/gtest.h>

#include <sstream>

#include "src/eventlog/test_util.h"

namespace aw {
namespace {

using testing::append_file;
using testing::numbered_line;
using testing::TempDir;
using testing::write_file;
using testing::write_gzip_file;

// 2026-11-22T00:00:00Z: execution n happens n seconds later.
const WallTime kBase = WallTime(std::chrono::seconds(1'795'305'600));

struct Spec {
  int n;
  const char* rule;
  const char* entity;  // "" = none (the log leaves it out)
  const char* action;
  const char* category;  // "ok" = succeeded
  int attempts;
  int wall, user, sys, rss;  // wall < 0: a file action, no durations
};

// Explicit, so that a zero is not taken for a null `const char*`.
FieldValue num(std::int64_t n) {
  return FieldValue(n);
}

// An outcome line as the pipeline writes it (src/daemon/pipeline.cc): the
// common fields, then the action's own.
std::string outcome_line(const Spec& s) {
  Event e;
  e.seq = 100 + static_cast<std::uint64_t>(s.n);
  e.time = kBase + std::chrono::seconds(s.n);
  e.kind = std::string_view(s.category) == "ok" ? "action.succeeded" : "action.failed";
  e.source = "action";
  e.entity = s.entity;
  e.cause = static_cast<std::uint64_t>(s.n);
  e.rule = s.rule;
  e.depth = 1;
  e.fields.set("action", s.action);
  e.fields.set("index", num(0));
  e.fields.set("category", s.category);
  e.fields.set("message", "what happened");
  e.fields.set("attempts", num(s.attempts));
  if (s.wall >= 0) {
    e.fields.set("pid", num(4000 + s.n));
    e.fields.set("exit_code", num(std::string_view(s.category) == "ok" ? 0 : 1));
    e.fields.set("signal", num(0));
    e.fields.set("wall_ms", num(s.wall));
    e.fields.set("user_ms", num(s.user));
    e.fields.set("sys_ms", num(s.sys));
    e.fields.set("max_rss_kb", num(s.rss));
    e.fields.set("stderr_tail", "");
  } else {
    e.fields.set("from", "/w/results/x.json");
    e.fields.set("to", "/w/results/completed/x.json");
  }
  return to_json_line(e);
}

// The same six executions as src/stats/execution_stats_test.cc, spread over a
// gzipped segment, a plain segment and the live file, among other events:
//   #  rule     action entity  outcome           attempts wall  user sys  rss
//   1  collect  run    w1      ok                1        100   40   10   1000
//   2  collect  run    w1      ok                2        300   100  20   3000
//   3  collect  run    w1      failed execution  3        200   50   5    2000
//   4  archive  move   -       ok                1        -     -    -    -
//   5  archive  move   w2      failed not_found  1        -     -    -    -
//   6  collect  run    w2      failed timeout    1        5000  10   0    500
class StatsCommandTest : public ::testing::Test {
 protected:
  void SetUp() override {
    const Spec s[] = {
        {1, "collect", "w1", "run", "ok", 1, 100, 40, 10, 1000},
        {2, "collect", "w1", "run", "ok", 2, 300, 100, 20, 3000},
        {3, "collect", "w1", "run", "execution", 3, 200, 50, 5, 2000},
        {4, "archive", "", "move", "ok", 1, -1, 0, 0, 0},
        {5, "archive", "w2", "move", "not_found", 1, -1, 0, 0, 0},
        {6, "collect", "w2", "run", "timeout", 1, 5000, 10, 0, 500},
    };
    write_gzip_file(dir_ / "events.000001.jsonl.gz", numbered_line(1, "file.landed") +
                                                         numbered_line(2, "action.started") +
                                                         outcome_line(s[0]) + outcome_line(s[1]));
    write_file(dir_ / "events.000002.jsonl",
               outcome_line(s[2]) + numbered_line(3, "worker.exited") + outcome_line(s[3]));
    // The live file ends with a line still being written: not a record yet.
    write_file(dir_ / "events.jsonl", outcome_line(s[4]) + numbered_line(4, "file.landed") +
                                          outcome_line(s[5]) +
                                          R"({"seq":999,"kind":"action.failed","fie)");
  }
  StatsOptions options() {
    StatsOptions o;
    o.state_dir = dir_.path();
    o.json = true;
    o.now = kBase + std::chrono::milliseconds(6500);
    return o;
  }
  int run(const StatsOptions& o) {
    out_.str("");
    err_.str("");
    return stats_command(o, out_, err_);
  }

  TempDir dir_;
  std::ostringstream out_, err_;
};

TEST_F(StatsCommandTest, EveryExecutionInEverySegment) {
  ASSERT_EQ(run(options()), 0) << err_.str();
  const std::string all =
      R"({"group":"all","count":6,"succeeded":3,"failed":3,"success_rate":0.5,"timed":4,)"
      R"("mean_ms":1400.0,"p50_ms":200,"p95_ms":5000,"p99_ms":5000,"cpu_ms":235,)"
      R"("peak_rss_kb":3000,"retries":3})";
  EXPECT_EQ(out_.str(),
            R"({"group_by":null,"since":null,"until":null,"failed_only":false,"rows":[)" + all +
                R"(],"total":)" + all + "}\n");
  EXPECT_EQ(err_.str(), "");
}

TEST_F(StatsCommandTest, GroupByRule) {
  auto o = options();
  o.group_by = "rule";
  ASSERT_EQ(run(o), 0) << err_.str();
  EXPECT_EQ(out_.str(),
            R"({"group_by":"rule","since":null,"until":null,"failed_only":false,"rows":[)"
            R"({"group":"collect","count":4,"succeeded":2,"failed":2,"success_rate":0.5,"timed":4,)"
            R"("mean_ms":1400.0,"p50_ms":200,"p95_ms":5000,"p99_ms":5000,"cpu_ms":235,)"
            R"("peak_rss_kb":3000,"retries":3},)"
            R"({"group":"archive","count":2,"succeeded":1,"failed":1,"success_rate":0.5,"timed":0,)"
            R"("mean_ms":null,"p50_ms":null,"p95_ms":null,"p99_ms":null,"cpu_ms":null,)"
            R"("peak_rss_kb":null,"retries":0}],)"
            R"("total":{"group":"all","count":6,"succeeded":3,"failed":3,"success_rate":0.5,)"
            R"("timed":4,"mean_ms":1400.0,"p50_ms":200,"p95_ms":5000,"p99_ms":5000,"cpu_ms":235,)"
            R"("peak_rss_kb":3000,"retries":3}})"
            "\n");
}

TEST_F(StatsCommandTest, GroupByWorkerIsTheEntity) {
  auto o = options();
  o.group_by = "worker";
  ASSERT_EQ(run(o), 0) << err_.str();
  const std::string worker_rows =
      R"({"group":"w1","count":3,"succeeded":2,"failed":1,"success_rate":0.6666666666666666,)"
      R"("timed":3,"mean_ms":200.0,"p50_ms":200,"p95_ms":300,"p99_ms":300,"cpu_ms":225,)"
      R"("peak_rss_kb":3000,"retries":3},)"
      R"({"group":"w2","count":2,"succeeded":0,"failed":2,"success_rate":0.0,"timed":1,)"
      R"("mean_ms":5000.0,"p50_ms":5000,"p95_ms":5000,"p99_ms":5000,"cpu_ms":10,)"
      R"("peak_rss_kb":500,"retries":0},)"
      R"({"group":null,"count":1,"succeeded":1,"failed":0,"success_rate":1.0,"timed":0,)"
      R"("mean_ms":null,"p50_ms":null,"p95_ms":null,"p99_ms":null,"cpu_ms":null,)"
      R"("peak_rss_kb":null,"retries":0}])";
  EXPECT_NE(out_.str().find(R"("group_by":"entity")"), std::string::npos) << out_.str();
  EXPECT_NE(out_.str().find(worker_rows), std::string::npos) << out_.str();
  const std::string by_worker = out_.str();
  o.group_by = "entity";
  ASSERT_EQ(run(o), 0);
  EXPECT_EQ(out_.str(), by_worker);
}

TEST_F(StatsCommandTest, FailedOnly) {
  auto o = options();
  o.failed = true;
  ASSERT_EQ(run(o), 0) << err_.str();
  // #3, #5, #6: durations 200 and 5000.
  const std::string failed =
      R"({"group":"all","count":3,"succeeded":0,"failed":3,"success_rate":0.0,"timed":2,)"
      R"("mean_ms":2600.0,"p50_ms":200,"p95_ms":5000,"p99_ms":5000,"cpu_ms":65,)"
      R"("peak_rss_kb":2000,"retries":2})";
  EXPECT_EQ(out_.str(),
            R"({"group_by":null,"since":null,"until":null,"failed_only":true,"rows":[)" + failed +
                R"(],"total":)" + failed + "}\n");
}

TEST_F(StatsCommandTest, SinceAndUntilAsDurationsBeforeNow) {
  auto o = options();  // now = base + 6.5 s
  o.since = "4s";      // base + 2.5 s: from #3 on
  o.until = "1s";      // base + 5.5 s: #6 is out
  o.group_by = "kind";
  ASSERT_EQ(run(o), 0) << err_.str();
  EXPECT_NE(
      out_.str().find(R"("since":"2026-11-22T00:00:02.500Z","until":"2026-11-22T00:00:05.500Z")"),
      std::string::npos)
      << out_.str();
  EXPECT_NE(out_.str().find(R"("rows":[{"group":"action.failed","count":2,"succeeded":0,)"
                            R"("failed":2,)"),
            std::string::npos)
      << out_.str();
  EXPECT_NE(out_.str().find(R"({"group":"action.succeeded","count":1,"succeeded":1,"failed":0,)"),
            std::string::npos)
      << out_.str();
}

TEST_F(StatsCommandTest, UntilIsExcludedSoAdjacentWindowsAddUp) {
  auto o = options();
  o.until = "2026-11-22T00:00:03Z";  // #1, #2; #3 happened at exactly 00:00:03
  ASSERT_EQ(run(o), 0) << err_.str();
  EXPECT_NE(out_.str().find(R"("rows":[{"group":"all","count":2,)"), std::string::npos)
      << out_.str();
  o.until.reset();
  o.since = "2026-11-22T00:00:03Z";  // #3 to #6
  ASSERT_EQ(run(o), 0) << err_.str();
  EXPECT_NE(out_.str().find(R"("rows":[{"group":"all","count":4,)"), std::string::npos)
      << out_.str();
}

TEST_F(StatsCommandTest, TheTableForPeople) {
  auto o = options();
  o.json = false;
  o.group_by = "category";
  ASSERT_EQ(run(o), 0) << err_.str();
  EXPECT_EQ(out_.str(),
            "CATEGORY   COUNT  OK  FAILED  SUCCESS   MEAN    P50    P95    P99    CPU  PEAK RSS  "
            "RETRIES\n"
            "ok             3   3       0   100.0%  200ms  100ms  300ms  300ms  170ms      2.9M  "
            "      1\n"
            "execution      1   0       1     0.0%  200ms  200ms  200ms  200ms   55ms      2.0M  "
            "      2\n"
            "not_found      1   0       1     0.0%      -      -      -      -      -         -  "
            "      0\n"
            "timeout        1   0       1     0.0%   5.0s   5.0s   5.0s   5.0s   10ms      500K  "
            "      0\n"
            "(total)        6   3       3    50.0%   1.4s  200ms   5.0s   5.0s  235ms      2.9M  "
            "      3\n");
}

TEST_F(StatsCommandTest, BadOptionsAreExitTwoNamingTheOption) {
  auto o = options();
  o.since = "yesterday";
  EXPECT_EQ(run(o), 2);
  EXPECT_EQ(out_.str(), "");
  EXPECT_NE(err_.str().find("agentwatch stats: --since \"yesterday\": expected a duration"),
            std::string::npos)
      << err_.str();

  o.since.reset();
  o.until = "soon";
  EXPECT_EQ(run(o), 2);
  EXPECT_EQ(out_.str(), "");
  EXPECT_NE(err_.str().find("agentwatch stats: --until \"soon\": expected a duration"),
            std::string::npos)
      << err_.str();

  o.since = "1h";
  o.until = "2h";  // before the since
  EXPECT_EQ(run(o), 2);
  EXPECT_EQ(out_.str(), "");
  EXPECT_EQ(err_.str(),
            "agentwatch stats: --since \"1h\" is after --until \"2h\": expected --since before "
            "--until\n");

  o.since.reset();
  o.until.reset();
  o.group_by = "host";
  EXPECT_EQ(run(o), 2);
  EXPECT_EQ(out_.str(), "");
  EXPECT_EQ(err_.str(),
            "agentwatch stats: --group-by \"host\": expected one of rule, action, worker, "
            "category, entity, kind\n");
}

TEST_F(StatsCommandTest, CorruptLinesAreSkippedAndReported) {
  // The newline ends the line being written (torn: not JSON), then one more bad line.
  append_file(dir_ / "events.jsonl", "\n{not json\n");
  ASSERT_EQ(run(options()), 0);
  EXPECT_NE(out_.str().find(R"("count":6,)"), std::string::npos) << out_.str();
  EXPECT_NE(err_.str().find("agentwatch stats: skipped 2 corrupt line(s)"), std::string::npos)
      << err_.str();
}

TEST(StatsCommandNoLog, NoLogYetIsZeroExecutionsAndANote) {
  StatsOptions o;
  o.state_dir = "/nonexistent/agentwatch-stats-test";
  std::ostringstream out, err;
  ASSERT_EQ(stats_command(o, out, err), 0);
  EXPECT_NE(err.str().find("no event log yet"), std::string::npos) << err.str();
  EXPECT_EQ(out.str(),
            "GROUP  COUNT  OK  FAILED  SUCCESS  MEAN  P50  P95  P99  CPU  PEAK RSS  RETRIES\n"
            "all        0   0       0        -     -    -    -    -    -         -        0\n");
}

}  // namespace
}  // namespace aw
