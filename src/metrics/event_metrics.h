// The fleet's numbers, read off the event stream: the one place that knows
// which event means what to a metric. The daemon feeds it every event after
// the pipeline logged it (a pipeline subscriber), so /metrics, the JSON API and
// the dashboard count exactly what the event log says.
//
// An execution is one action outcome (action.succeeded / action.failed, see
// docs/stats.md): it counts by rule, action, outcome and category, and observes
// its duration_ms, CPU (user_ms + sys_ms) and peak memory (max_rss_kb, a run's).
#pragma once

#include <cstdint>
#include <string>

#include "src/core/event.h"
#include "src/metrics/registry.h"

namespace aw::metrics {

// Totals over every series, for the dashboard's summary and alerts.
struct ExecutionTotals {
  std::uint64_t executions = 0;
  std::uint64_t failed = 0;
  double mean_seconds = 0;
  double p50_seconds = 0;
  double p95_seconds = 0;
  double p99_seconds = 0;
};

class EventMetrics {
 public:
  explicit EventMetrics(Registry& registry);
  void observe(const Event& e);
  ExecutionTotals totals() const;
  // Adds every execution-duration series into `into` (built on duration_buckets()).
  void merge_durations_into(Histogram& into) const;

 private:
  void observe_execution(const Event& e);

  Family& events_;
  Family& executions_;
  Family& duration_;
  Family& cpu_;
  Family& peak_rss_;
  Family& retries_;
  Family& worker_starts_;
  Family& worker_exits_;
};

}  // namespace aw::metrics
