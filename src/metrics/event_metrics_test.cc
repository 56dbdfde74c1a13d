#include "src/metrics/event_metrics.h"

#include <gtest/gtest.h>

#include "src/core/event_kinds.h"

namespace aw::metrics {
namespace {

Event outcome(bool ok, const std::string& rule, const std::string& action, std::int64_t ms,
              std::int64_t attempts = 1, const std::string& category = "") {
  Event e;
  e.kind = std::string(ok ? kind::kActionSucceeded : kind::kActionFailed);
  e.source = "action";
  e.rule = rule;
  e.fields.set("action", action);
  e.fields.set("category", category.empty() ? (ok ? "ok" : "execution") : category);
  e.fields.set("attempts", FieldValue(attempts));
  e.fields.set("duration_ms", FieldValue(ms));
  return e;
}

class EventMetricsTest : public ::testing::Test {
 protected:
  Registry registry_;
  EventMetrics metrics_{registry_};
  const Family& family(const char* name) { return *registry_.find(name); }
};

TEST_F(EventMetricsTest, AnExecutionCountsByRuleActionOutcomeAndCategory) {
  metrics_.observe(outcome(true, "collect", "run", 100));
  metrics_.observe(outcome(false, "collect", "run", 300, 3, "timeout"));
  metrics_.observe(outcome(true, "collect", "run", 200));
  const Family& ex = family("agentwatch_executions_total");
  EXPECT_EQ(ex.value({"collect", "run", "succeeded", "ok"}), 2);
  EXPECT_EQ(ex.value({"collect", "run", "failed", "timeout"}), 1);
  EXPECT_EQ(family("agentwatch_execution_retries_total").value({"collect", "run"}), 2);
  const Histogram* h =
      family("agentwatch_execution_duration_seconds").histogram({"collect", "run"});
  ASSERT_NE(h, nullptr);
  EXPECT_EQ(h->count(), 3u);
  EXPECT_DOUBLE_EQ(h->sum(), 0.6);
}

TEST_F(EventMetricsTest, CpuAndPeakMemoryComeFromARunsOutcome) {
  Event a = outcome(true, "r", "run", 10);
  a.fields.set("user_ms", FieldValue(std::int64_t{1500}));
  a.fields.set("sys_ms", FieldValue(std::int64_t{500}));
  a.fields.set("max_rss_kb", FieldValue(std::int64_t{2048}));
  Event b = outcome(true, "r", "run", 10);
  b.fields.set("max_rss_kb", FieldValue(std::int64_t{1024}));
  metrics_.observe(a);
  metrics_.observe(b);
  EXPECT_DOUBLE_EQ(family("agentwatch_execution_cpu_seconds_total").value({"r", "run"}), 2.0);
  EXPECT_DOUBLE_EQ(family("agentwatch_execution_peak_rss_bytes").value({"r", "run"}),
                   2048.0 * 1024);
}

TEST_F(EventMetricsTest, TotalsAddEverySeries) {
  for (int i = 0; i < 18; ++i) metrics_.observe(outcome(true, "a", "move", 3));
  metrics_.observe(outcome(false, "b", "run", 20'000));
  metrics_.observe(outcome(false, "b", "run", 20'000));
  ExecutionTotals t = metrics_.totals();
  EXPECT_EQ(t.executions, 20u);
  EXPECT_EQ(t.failed, 2u);
  EXPECT_NEAR(t.mean_seconds, (18 * 0.003 + 40.0) / 20, 1e-9);
  // 18 of 20 in (0.001, 0.005]: the median is in there; the p99 in (10, 30].
  EXPECT_GT(t.p50_seconds, 0.001);
  EXPECT_LE(t.p50_seconds, 0.005);
  EXPECT_GT(t.p99_seconds, 10);
  EXPECT_LE(t.p99_seconds, 30);
}

TEST_F(EventMetricsTest, EveryEventCountsByKindAndWorkersByName) {
  Event s;
  s.kind = std::string(kind::kWorkerStarted);
  s.entity = "w1";
  metrics_.observe(s);
  metrics_.observe(s);
  Event x = s;
  x.kind = std::string(kind::kWorkerExited);
  metrics_.observe(x);
  EXPECT_EQ(family("agentwatch_events_total").value({"worker.started"}), 2);
  EXPECT_EQ(family("agentwatch_worker_starts_total").value({"w1"}), 2);
  EXPECT_EQ(family("agentwatch_worker_exits_total").value({"w1"}), 1);
}

}  // namespace
}  // namespace aw::metrics
