#include "src/stats/execution_stats.h"

#include <gtest/gtest.h>

#include <algorithm>

#include <numeric>

namespace aw {
namespace {

Execution run(std::string_view rule, std::string_view entity, bool failed,
              std::string_view category, std::int64_t attempts, std::int64_t wall,
              std::int64_t user, std::int64_t sys, std::int64_t rss) {
  Execution e;
  e.kind = failed ? "action.failed" : "action.succeeded";
  e.rule = rule;
  e.entity = entity;
  e.action = "run";
  e.category = category;
  e.failed = failed;
  e.attempts = attempts;
  e.duration_ms = wall;
  e.user_ms = user;
  e.sys_ms = sys;
  e.max_rss_kb = rss;
  return e;
}

Execution move(std::string_view entity, bool failed, std::string_view category) {
  Execution e;
  e.kind = failed ? "action.failed" : "action.succeeded";
  e.rule = "archive";
  e.entity = entity;
  e.action = "move";
  e.category = category;
  e.failed = failed;
  return e;
}

// Six executions whose figures are worked out by hand below:
//   #  rule     action entity  outcome           attempts wall  user sys  rss
//   1  collect  run    w1      ok                1        100   40   10   1000
//   2  collect  run    w1      ok                2        300   100  20   3000
//   3  collect  run    w1      failed execution  3        200   50   5    2000
//   4  archive  move   -       ok                1        -     -    -    -
//   5  archive  move   w2      failed not_found  1        -     -    -    -
//   6  collect  run    w2      failed timeout    1        5000  10   0    500
std::vector<Execution> fixture() {
  return {run("collect", "w1", false, "ok", 1, 100, 40, 10, 1000),
          run("collect", "w1", false, "ok", 2, 300, 100, 20, 3000),
          run("collect", "w1", true, "execution", 3, 200, 50, 5, 2000),
          move("", false, "ok"),
          move("w2", true, "not_found"),
          run("collect", "w2", true, "timeout", 1, 5000, 10, 0, 500)};
}

ExecutionStats aggregate(StatsGroupBy by) {
  ExecutionStats stats(by);
  for (const Execution& e : fixture()) stats.add(e);
  return stats;
}

TEST(NearestRank, IsTheValueAtRankCeilPTimesN) {
  std::vector<std::int64_t> hundred(100);
  std::iota(hundred.begin(), hundred.end(), 1);
  EXPECT_EQ(nearest_rank(hundred, 50), 50);
  EXPECT_EQ(nearest_rank(hundred, 95), 95);
  EXPECT_EQ(nearest_rank(hundred, 99), 99);
  EXPECT_EQ(nearest_rank(hundred, 100), 100);

  std::vector<std::int64_t> twenty(20);
  std::iota(twenty.begin(), twenty.end(), 1);
  EXPECT_EQ(nearest_rank(twenty, 50), 10);  // ceil(10)
  EXPECT_EQ(nearest_rank(twenty, 95), 19);  // ceil(19), not 20: 0.95 * 20 is whole
  EXPECT_EQ(nearest_rank(twenty, 99), 20);  // ceil(19.8)

  EXPECT_EQ(nearest_rank({7}, 50), 7);
  EXPECT_EQ(nearest_rank({7}, 99), 7);
  EXPECT_EQ(nearest_rank({1, 2}, 50), 1);
  EXPECT_EQ(nearest_rank({1, 2}, 51), 2);
}

TEST(ParseGroupBy, WorkerIsTheEntity) {
  EXPECT_EQ(parse_stats_group_by("rule"), StatsGroupBy::kRule);
  EXPECT_EQ(parse_stats_group_by("action"), StatsGroupBy::kAction);
  EXPECT_EQ(parse_stats_group_by("worker"), StatsGroupBy::kEntity);
  EXPECT_EQ(parse_stats_group_by("entity"), StatsGroupBy::kEntity);
  EXPECT_EQ(parse_stats_group_by("category"), StatsGroupBy::kCategory);
  EXPECT_EQ(parse_stats_group_by("kind"), StatsGroupBy::kKind);
  EXPECT_FALSE(parse_stats_group_by("Rule"));
  EXPECT_FALSE(parse_stats_group_by(""));
  EXPECT_FALSE(parse_stats_group_by("none"));
  EXPECT_EQ(stats_group_by_name(StatsGroupBy::kEntity), "entity");
  EXPECT_EQ(stats_group_by_name(StatsGroupBy::kNone), "");
}

TEST(ExecutionStats, UngroupedIsOneRowNamedAll) {
  const ExecutionStats stats = aggregate(StatsGroupBy::kNone);
  EXPECT_EQ(stats.count(), 6u);
  const auto rows = stats.rows();
  ASSERT_EQ(rows.size(), 1u);
  const StatsRow& r = rows[0];
  EXPECT_EQ(r.group, "all");
  EXPECT_TRUE(r.group_present);
  EXPECT_EQ(r.count, 6u);
  EXPECT_EQ(r.succeeded, 3u);
  EXPECT_EQ(r.failed, 3u);
  EXPECT_DOUBLE_EQ(r.success_rate, 0.5);
  // Durations of 1, 2, 3 and 6 (the moves have none): 100 200 300 5000.
  EXPECT_EQ(r.timed, 4u);
  EXPECT_EQ(r.mean_ms, 1400.0);  // 5600 / 4
  EXPECT_EQ(r.p50_ms, 200);      // rank ceil(0.50 * 4) = 2
  EXPECT_EQ(r.p95_ms, 5000);     // rank ceil(0.95 * 4) = 4
  EXPECT_EQ(r.p99_ms, 5000);
  EXPECT_EQ(r.cpu_ms, 235);  // 50 + 120 + 55 + 10
  EXPECT_EQ(r.peak_rss_kb, 3000);
  EXPECT_EQ(r.retries, 3u);  // (2-1) + (3-1)
  const StatsRow total = stats.total();
  EXPECT_EQ(total.count, r.count);
  EXPECT_EQ(total.p50_ms, r.p50_ms);
}

TEST(ExecutionStats, PercentilesOfShuffledDurationsAreTheSortedRanks) {
  // Selected in place of a sort: the same answer for any order and sizes.
  std::uint64_t x = 12345;
  for (const std::size_t n : {1, 2, 3, 19, 20, 21, 100, 997}) {
    ExecutionStats stats(StatsGroupBy::kNone);
    std::vector<std::int64_t> all;
    for (std::size_t i = 0; i < n; ++i) {
      x = x * 6364136223846793005ull + 1442695040888963407ull;
      const auto d = static_cast<std::int64_t>(x >> 54);  // 0..1023: ties too
      all.push_back(d);
      stats.add(run("r", "w", false, "", 1, d, 0, 0, 0));
    }
    std::sort(all.begin(), all.end());
    const StatsRow r = stats.total();
    EXPECT_EQ(r.p50_ms, nearest_rank(all, 50)) << n;
    EXPECT_EQ(r.p95_ms, nearest_rank(all, 95)) << n;
    EXPECT_EQ(r.p99_ms, nearest_rank(all, 99)) << n;
  }
}

TEST(ExecutionStats, ByRuleAGroupWithoutDurationsHasNone) {
  const auto rows = aggregate(StatsGroupBy::kRule).rows();
  ASSERT_EQ(rows.size(), 2u);
  EXPECT_EQ(rows[0].group, "collect");
  EXPECT_EQ(rows[0].count, 4u);
  EXPECT_EQ(rows[0].succeeded, 2u);
  EXPECT_EQ(rows[0].failed, 2u);
  EXPECT_EQ(rows[0].timed, 4u);
  EXPECT_EQ(rows[0].mean_ms, 1400.0);
  EXPECT_EQ(rows[0].cpu_ms, 235);
  EXPECT_EQ(rows[0].retries, 3u);

  EXPECT_EQ(rows[1].group, "archive");
  EXPECT_EQ(rows[1].count, 2u);
  EXPECT_EQ(rows[1].succeeded, 1u);
  EXPECT_EQ(rows[1].failed, 1u);
  EXPECT_DOUBLE_EQ(rows[1].success_rate, 0.5);
  EXPECT_EQ(rows[1].timed, 0u);
  EXPECT_FALSE(rows[1].mean_ms);
  EXPECT_FALSE(rows[1].p50_ms);
  EXPECT_FALSE(rows[1].p95_ms);
  EXPECT_FALSE(rows[1].p99_ms);
  EXPECT_FALSE(rows[1].cpu_ms);
  EXPECT_FALSE(rows[1].peak_rss_kb);
  EXPECT_EQ(rows[1].retries, 0u);
}

TEST(ExecutionStats, ByEntityExecutionsWithoutOneGoLast) {
  const auto rows = aggregate(StatsGroupBy::kEntity).rows();
  ASSERT_EQ(rows.size(), 3u);
  EXPECT_EQ(rows[0].group, "w1");
  EXPECT_EQ(rows[0].count, 3u);
  EXPECT_EQ(rows[0].succeeded, 2u);
  EXPECT_EQ(rows[0].failed, 1u);
  EXPECT_DOUBLE_EQ(rows[0].success_rate, 2.0 / 3.0);
  EXPECT_EQ(rows[0].mean_ms, 200.0);  // 100 200 300
  EXPECT_EQ(rows[0].p50_ms, 200);     // rank 2 of 3
  EXPECT_EQ(rows[0].p95_ms, 300);     // rank ceil(2.85) = 3
  EXPECT_EQ(rows[0].p99_ms, 300);
  EXPECT_EQ(rows[0].cpu_ms, 225);
  EXPECT_EQ(rows[0].peak_rss_kb, 3000);
  EXPECT_EQ(rows[0].retries, 3u);

  EXPECT_EQ(rows[1].group, "w2");
  EXPECT_EQ(rows[1].count, 2u);
  EXPECT_EQ(rows[1].succeeded, 0u);
  EXPECT_EQ(rows[1].failed, 2u);
  EXPECT_DOUBLE_EQ(rows[1].success_rate, 0.0);
  EXPECT_EQ(rows[1].timed, 1u);
  EXPECT_EQ(rows[1].mean_ms, 5000.0);
  EXPECT_EQ(rows[1].p50_ms, 5000);
  EXPECT_EQ(rows[1].cpu_ms, 10);  // user 10 + sys 0
  EXPECT_EQ(rows[1].peak_rss_kb, 500);

  EXPECT_FALSE(rows[2].group_present);
  EXPECT_EQ(rows[2].group, "");
  EXPECT_EQ(rows[2].count, 1u);
  EXPECT_EQ(rows[2].succeeded, 1u);
}

TEST(ExecutionStats, TiesAreOrderedByKey) {
  const auto by_category = aggregate(StatsGroupBy::kCategory).rows();
  ASSERT_EQ(by_category.size(), 4u);
  EXPECT_EQ(by_category[0].group, "ok");
  EXPECT_EQ(by_category[0].count, 3u);
  EXPECT_EQ(by_category[1].group, "execution");
  EXPECT_EQ(by_category[2].group, "not_found");
  EXPECT_EQ(by_category[3].group, "timeout");

  const auto by_kind = aggregate(StatsGroupBy::kKind).rows();
  ASSERT_EQ(by_kind.size(), 2u);
  EXPECT_EQ(by_kind[0].group, "action.failed");
  EXPECT_EQ(by_kind[0].failed, 3u);
  EXPECT_EQ(by_kind[1].group, "action.succeeded");
  EXPECT_EQ(by_kind[1].succeeded, 3u);

  const auto by_action = aggregate(StatsGroupBy::kAction).rows();
  ASSERT_EQ(by_action.size(), 2u);
  EXPECT_EQ(by_action[0].group, "run");
  EXPECT_EQ(by_action[0].count, 4u);
  EXPECT_EQ(by_action[1].group, "move");
}

TEST(ExecutionStats, NothingAddedIsOneEmptyRowUngroupedAndNoRowsGrouped) {
  const ExecutionStats none;
  const auto rows = none.rows();
  ASSERT_EQ(rows.size(), 1u);
  EXPECT_EQ(rows[0].count, 0u);
  EXPECT_EQ(rows[0].success_rate, 0.0);
  EXPECT_FALSE(rows[0].mean_ms);
  EXPECT_TRUE(ExecutionStats(StatsGroupBy::kRule).rows().empty());
}

TEST(ExecutionStats, GroupKeysAreCopiedNotViewed) {
  // The reader's buffer is reused for every line: a key must outlive the view.
  ExecutionStats stats(StatsGroupBy::kRule);
  std::string rule = "first";
  Execution e = move("w", false, "ok");
  e.rule = rule;
  stats.add(e);
  rule = "other";  // same storage, new text
  e.rule = rule;
  stats.add(e);
  const auto rows = stats.rows();
  ASSERT_EQ(rows.size(), 2u);
  EXPECT_EQ(rows[0].group, "first");
  EXPECT_EQ(rows[1].group, "other");
}

TEST(ExecutionStats, OnlyUserOrSysTimeStillCountsAsCpu) {
  ExecutionStats stats;
  Execution e = move("w", false, "ok");
  e.user_ms = 7;
  stats.add(e);
  e.user_ms.reset();
  e.sys_ms = 5;
  stats.add(e);
  EXPECT_EQ(stats.total().cpu_ms, 12);
}

TEST(ExecutionStats, RowsCanBeAskedForTwice) {
  const ExecutionStats stats = aggregate(StatsGroupBy::kNone);
  EXPECT_EQ(stats.rows()[0].p50_ms, 200);
  EXPECT_EQ(stats.rows()[0].p50_ms, 200);
}

}  // namespace
}  // namespace aw
