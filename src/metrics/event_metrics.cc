#include "src/metrics/event_metrics.h"

#include <algorithm>
#include <vector>

#include "src/core/event_kinds.h"

namespace aw::metrics {

namespace {

double number(const Fields& f, std::string_view key) {
  const FieldValue* v = f.find(key);
  if (!v) return 0;
  if (const auto* i = std::get_if<std::int64_t>(v)) return static_cast<double>(*i);
  if (const auto* d = std::get_if<double>(v)) return *d;
  return 0;
}

std::string_view text(const Fields& f, std::string_view key) {
  const FieldValue* v = f.find(key);
  if (!v) return {};
  if (const auto* s = std::get_if<std::string>(v)) return *s;
  return {};
}

}  // namespace

EventMetrics::EventMetrics(Registry& r)
    : events_(r.counter("agentwatch_events_total", "Events the daemon logged, by kind.", {"kind"},
                        500)),
      executions_(r.counter("agentwatch_executions_total",
                            "Action executions (outcomes), by rule, action, outcome and category.",
                            {"rule", "action", "outcome", "category"})),
      duration_(r.histogram("agentwatch_execution_duration_seconds",
                            "How long executions took, start to outcome, retries included.",
                            {"rule", "action"}, duration_buckets())),
      cpu_(r.counter("agentwatch_execution_cpu_seconds_total",
                     "CPU time (user + system) of run executions.", {"rule", "action"})),
      peak_rss_(r.gauge("agentwatch_execution_peak_rss_bytes",
                        "The largest peak resident memory of a run execution so far.",
                        {"rule", "action"})),
      retries_(r.counter("agentwatch_execution_retries_total",
                         "Attempts beyond the first, over all executions.", {"rule", "action"})),
      worker_starts_(r.counter("agentwatch_worker_starts_total",
                               "Worker processes started (restarts included), by worker.",
                               {"worker"})),
      worker_exits_(r.counter("agentwatch_worker_exits_total",
                              "Worker processes that ended, by worker.", {"worker"})) {}

void EventMetrics::observe(const Event& e) {
  events_.inc({e.kind});
  if (e.kind == kind::kActionSucceeded || e.kind == kind::kActionFailed) {
    observe_execution(e);
  } else if (e.kind == kind::kWorkerStarted) {
    worker_starts_.inc({e.entity});
  } else if (e.kind == kind::kWorkerExited) {
    worker_exits_.inc({e.entity});
  }
}

void EventMetrics::observe_execution(const Event& e) {
  const std::string_view rule = e.rule;
  const std::string_view action = text(e.fields, "action");
  const bool ok = e.kind == kind::kActionSucceeded;
  executions_.inc({rule, action, ok ? "succeeded" : "failed", text(e.fields, "category")});
  duration_.observe({rule, action}, number(e.fields, "duration_ms") / 1000.0);
  double cpu_ms = number(e.fields, "user_ms") + number(e.fields, "sys_ms");
  if (cpu_ms > 0) cpu_.inc({rule, action}, cpu_ms / 1000.0);
  double rss = number(e.fields, "max_rss_kb") * 1024.0;
  if (rss > peak_rss_.value({rule, action})) peak_rss_.set({rule, action}, rss);
  double attempts = number(e.fields, "attempts");
  retries_.inc({rule, action}, attempts > 1 ? attempts - 1 : 0);
}

ExecutionTotals EventMetrics::totals() const {
  ExecutionTotals t;
  executions_.each([&](const std::vector<std::string>& labels, double v, const Histogram*) {
    t.executions += static_cast<std::uint64_t>(v);
    if (labels[2] == "failed") t.failed += static_cast<std::uint64_t>(v);
  });
  // One histogram over every series: same bounds, so buckets add up.
  std::vector<double> bounds = duration_buckets();
  Histogram all(&bounds);
  merge_durations_into(all);
  if (all.count() > 0) t.mean_seconds = all.sum() / static_cast<double>(all.count());
  t.p50_seconds = all.quantile(0.50);
  t.p95_seconds = all.quantile(0.95);
  t.p99_seconds = all.quantile(0.99);
  return t;
}

void EventMetrics::merge_durations_into(Histogram& into) const {
  duration_.each([&](const std::vector<std::string>&, double, const Histogram* h) {
    if (h) into.merge(*h);
  });
}

}  // namespace aw::metrics
