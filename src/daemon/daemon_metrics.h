// What the daemon shows of the fleet and of itself (docs/http.md, "Metrics"):
// the metrics registry, the numbers read off the event stream (EventMetrics)
// and the newest events (RecentEvents), fed by a pipeline subscriber, so they
// agree with the event log; plus the gauges read from the daemon's parts at
// each scrape, and the loop's own lag: the watcher watches itself.
#pragma once

#include <uv.h>

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "src/core/clock.h"
#include "src/core/event.h"
#include "src/core/json_writer.h"
#include "src/eventlog/event_log_writer.h"
#include "src/metrics/event_metrics.h"
#include "src/metrics/recent_events.h"
#include "src/metrics/registry.h"
#include "src/state/lifecycle.h"
#include "src/supervise/worker_health.h"
#include "src/uvx/handle.h"

namespace aw {

// Where the scrape-time gauges come from. Any may be empty (the part is off).
struct DaemonMetricsSources {
  std::function<std::vector<const EntityRecord*>()> entities;
  std::function<std::vector<WorkerStatus>()> workers;
  std::function<std::size_t()> watches;    // directories under inotify
  std::function<std::size_t()> in_flight;  // plans running
  std::function<EventLogWriterStats()> event_log;
};

class DaemonMetrics {
 public:
  // How often the loop's lag is sampled.
  static constexpr std::uint64_t kLagSampleMs = 1000;

  DaemonMetrics(uv_loop_t* loop, const Clock& clock, DaemonMetricsSources sources);
  DaemonMetrics(const DaemonMetrics&) = delete;
  DaemonMetrics& operator=(const DaemonMetrics&) = delete;

  // Every logged event, with its JSON line (no newline).
  void observe(const Event& e, std::string line);

  metrics::Registry& registry() { return registry_; }
  const metrics::RecentEvents& recent() const { return recent_; }
  metrics::ExecutionTotals totals() const { return events_.totals(); }
  void merge_durations_into(metrics::Histogram& into) const { events_.merge_durations_into(into); }
  // Entities per state, workers per phase: what /api/status shows too.
  std::vector<std::pair<std::string, std::size_t>> entities_by_state() const;
  std::vector<std::pair<std::string, std::size_t>> workers_by_phase() const;

  // Stops sampling the lag (shutdown: a timer must not keep the loop alive).
  void stop();

 private:
  void collect();
  void sample_lag();

  const Clock& clock_;
  DaemonMetricsSources sources_;
  metrics::Registry registry_;
  metrics::EventMetrics events_{registry_};
  metrics::RecentEvents recent_;
  metrics::Family& entities_;
  metrics::Family& workers_;
  metrics::Family& watches_;
  metrics::Family& in_flight_;
  metrics::Family& log_bytes_;
  metrics::Family& log_dropped_;
  metrics::Family& lag_;
  metrics::Family& rss_;
  metrics::Family& fds_;
  metrics::Family& cpu_;
  metrics::Family& start_time_;
  MonoTime lag_due_{};
  std::unique_ptr<uvx::Timer> lag_timer_;
};

// Adds what `status` and /api/status show of the fleet to a status object:
// "entities" and "workers" (counts by state and phase), "executions" (totals,
// success rate, mean and p95 seconds) and "last_errors" (the newest failure
// events, as logged).
void append_fleet_status(JsonObjectWriter& w, const DaemonMetrics& m);

}  // namespace aw
