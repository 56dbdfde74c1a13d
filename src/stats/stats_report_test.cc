#include "src/stats/stats_report.h"

#include <gtest/gtest.h>

#include "src/core/event.h"

namespace aw {
namespace {

Execution timed(std::string_view rule, std::string_view entity, bool failed, std::int64_t wall,
                std::int64_t attempts = 1) {
  Execution e;
  e.kind = failed ? "action.failed" : "action.succeeded";
  e.rule = rule;
  e.entity = entity;
  e.action = "run";
  e.category = failed ? "execution" : "ok";
  e.failed = failed;
  e.attempts = attempts;
  e.duration_ms = wall;
  e.user_ms = wall / 2;
  e.sys_ms = 0;
  e.max_rss_kb = 2048;
  return e;
}

Execution untimed(std::string_view rule) {
  Execution e;
  e.kind = "action.succeeded";
  e.rule = rule;
  e.action = "mark";
  e.category = "ok";
  return e;
}

TEST(StatsUnits, Durations) {
  EXPECT_EQ(format_stats_ms(0), "0ms");
  EXPECT_EQ(format_stats_ms(842.4), "842ms");
  EXPECT_EQ(format_stats_ms(999.4), "999ms");
  EXPECT_EQ(format_stats_ms(999.6), "1.0s");
  EXPECT_EQ(format_stats_ms(12'345), "12.3s");
  EXPECT_EQ(format_stats_ms(59'949), "59.9s");
  EXPECT_EQ(format_stats_ms(59'950), "1m00s");
  EXPECT_EQ(format_stats_ms(245'000), "4m05s");
  EXPECT_EQ(format_stats_ms(3'599'499), "59m59s");
  EXPECT_EQ(format_stats_ms(3'599'500), "1h00m");
  EXPECT_EQ(format_stats_ms(90'000'000), "25h00m");
}

TEST(StatsUnits, Sizes) {
  EXPECT_EQ(format_stats_kb(0), "0K");
  EXPECT_EQ(format_stats_kb(1023), "1023K");
  EXPECT_EQ(format_stats_kb(1024), "1.0M");
  EXPECT_EQ(format_stats_kb(12'595), "12.3M");
  EXPECT_EQ(format_stats_kb(3 * 1024 * 1024), "3.0G");
}

TEST(StatsJson, UngroupedWithoutWindow) {
  ExecutionStats stats;
  stats.add(timed("r", "w1", false, 100));
  stats.add(timed("r", "w1", true, 300, 3));
  EXPECT_EQ(stats_json(stats, {}),
            R"({"group_by":null,"since":null,"until":null,"failed_only":false,"rows":[)"
            R"({"group":"all","count":2,"succeeded":1,"failed":1,"success_rate":0.5,"timed":2,)"
            R"("mean_ms":200.0,"p50_ms":100,"p95_ms":300,"p99_ms":300,"cpu_ms":200,)"
            R"("peak_rss_kb":2048,"retries":2}],)"
            R"("total":{"group":"all","count":2,"succeeded":1,"failed":1,"success_rate":0.5,)"
            R"("timed":2,"mean_ms":200.0,"p50_ms":100,"p95_ms":300,"p99_ms":300,"cpu_ms":200,)"
            R"("peak_rss_kb":2048,"retries":2}})"
            "\n");
}

TEST(StatsJson, GroupedWithAWindowAndNulls) {
  ExecutionStats stats(StatsGroupBy::kEntity);
  stats.add(untimed("m"));
  const TimeWindow window(parse_time_utc("2026-11-22T11:00:00Z"), std::nullopt);
  const StatsReportContext context{&window, true};
  EXPECT_EQ(stats_json(stats, context),
            R"({"group_by":"entity","since":"2026-11-22T11:00:00.000Z","until":null,)"
            R"("failed_only":true,"rows":[)"
            R"({"group":null,"count":1,"succeeded":1,"failed":0,"success_rate":1.0,"timed":0,)"
            R"("mean_ms":null,"p50_ms":null,"p95_ms":null,"p99_ms":null,"cpu_ms":null,)"
            R"("peak_rss_kb":null,"retries":0}],)"
            R"("total":{"group":"all","count":1,"succeeded":1,"failed":0,"success_rate":1.0,)"
            R"("timed":0,"mean_ms":null,"p50_ms":null,"p95_ms":null,"p99_ms":null,)"
            R"("cpu_ms":null,"peak_rss_kb":null,"retries":0}})"
            "\n");
}

TEST(StatsJson, NoExecutionsHasNoSuccessRate) {
  const ExecutionStats stats(StatsGroupBy::kRule);
  EXPECT_EQ(stats_json(stats, {}),
            R"({"group_by":"rule","since":null,"until":null,"failed_only":false,"rows":[],)"
            R"("total":{"group":"all","count":0,"succeeded":0,"failed":0,"success_rate":null,)"
            R"("timed":0,"mean_ms":null,"p50_ms":null,"p95_ms":null,"p99_ms":null,)"
            R"("cpu_ms":null,"peak_rss_kb":null,"retries":0}})"
            "\n");
}

TEST(StatsTable, UngroupedIsOneAlignedRow) {
  ExecutionStats stats;
  stats.add(timed("r", "w1", false, 100));
  stats.add(timed("r", "w1", true, 12'345, 2));
  EXPECT_EQ(stats_table(stats),
            "GROUP  COUNT  OK  FAILED  SUCCESS  MEAN    P50    P95    P99   CPU  PEAK RSS  "
            "RETRIES\n"
            "all        2   1       1    50.0%  6.2s  100ms  12.3s  12.3s  6.2s      2.0M        "
            "1\n");
}

TEST(StatsTable, GroupedEndsWithTheTotalAndShowsMissingAsDashes) {
  ExecutionStats stats(StatsGroupBy::kRule);
  stats.add(timed("collect", "w1", false, 100));
  stats.add(timed("collect", "w1", false, 300));
  stats.add(untimed("mark-done"));
  EXPECT_EQ(stats_table(stats),
            "RULE       COUNT  OK  FAILED  SUCCESS   MEAN    P50    P95    P99    CPU  PEAK RSS  "
            "RETRIES\n"
            "collect        2   2       0   100.0%  200ms  100ms  300ms  300ms  200ms      2.0M  "
            "      0\n"
            "mark-done      1   1       0   100.0%      -      -      -      -      -         -  "
            "      0\n"
            "(total)        3   3       0   100.0%  200ms  100ms  300ms  300ms  200ms      2.0M  "
            "      0\n");
}

TEST(StatsTable, KeysFromTheLogCannotDriveTheTerminal) {
  ExecutionStats stats(StatsGroupBy::kEntity);
  stats.add(untimed("m"));  // no entity
  Execution e = untimed("m");
  e.entity = "w\x1b[2Jx\n\xc2\x9b";
  stats.add(e);
  const std::string table = stats_table(stats);
  EXPECT_EQ(table.find('\x1b'), std::string::npos) << table;
  EXPECT_NE(table.find("w\\x1b[2Jx\\n\\u009b"), std::string::npos) << table;
  EXPECT_NE(table.find("(none)"), std::string::npos) << table;
  EXPECT_EQ(table.find("ENTITY"), 0u) << table;
}

}  // namespace
}  // namespace aw
