#include "src/daemon/daemon_metrics.h"

#include <dirent.h>
#include <sys/resource.h>
#include <unistd.h>

#include <fstream>
#include <map>

#include "src/supervise/worker_machine.h"

namespace aw {

namespace {

double seconds(const timeval& tv) {
  return static_cast<double>(tv.tv_sec) + static_cast<double>(tv.tv_usec) / 1e6;
}

// Resident set size from /proc/self/statm (pages).
double resident_bytes() {
  std::ifstream in("/proc/self/statm");
  std::uint64_t size = 0;
  std::uint64_t resident = 0;
  if (!(in >> size >> resident)) return 0;
  return static_cast<double>(resident) * static_cast<double>(::sysconf(_SC_PAGESIZE));
}

double open_fds() {
  DIR* d = ::opendir("/proc/self/fd");
  if (!d) return 0;
  double n = 0;
  while (const dirent* e = ::readdir(d))
    if (e->d_name[0] != '.') ++n;
  ::closedir(d);
  return n - 1;  // the directory's own fd
}

}  // namespace

DaemonMetrics::DaemonMetrics(uv_loop_t* loop, const Clock& clock, DaemonMetricsSources sources)
    : clock_(clock),
      sources_(std::move(sources)),
      entities_(registry_.gauge("agentwatch_entities",
                                "Entities (workers, sessions, projects) by "
                                "lifecycle state.",
                                {"state"})),
      workers_(registry_.gauge("agentwatch_workers", "Declared workers by phase.", {"phase"})),
      watches_(registry_.gauge("agentwatch_watched_directories", "Directories under inotify.")),
      in_flight_(registry_.gauge("agentwatch_plans_in_flight",
                                 "Rule firings whose actions are still running.")),
      log_bytes_(registry_.counter("agentwatch_event_log_written_bytes_total",
                                   "Bytes written to the event log since the daemon started.")),
      log_dropped_(registry_.counter("agentwatch_event_log_dropped_lines_total",
                                     "Event log lines lost because writes failed too long.")),
      lag_(registry_.histogram("agentwatch_loop_lag_seconds",
                               "How late the event loop ran a timer due every second: the "
                               "watcher watching itself.",
                               {}, {0.001, 0.005, 0.01, 0.05, 0.1, 0.5, 1, 5})),
      rss_(registry_.gauge("process_resident_memory_bytes", "Resident memory size in bytes.")),
      fds_(registry_.gauge("process_open_fds", "Number of open file descriptors.")),
      cpu_(registry_.counter("process_cpu_seconds_total",
                             "Total user and system CPU time spent in seconds.")),
      start_time_(registry_.gauge("process_start_time_seconds",
                                  "Start time of the process since unix epoch in seconds.")) {
  // Every state and phase is a series from the start: a dashboard's "failed"
  // reads 0, not nothing.
  for (LifecycleState s : kAllLifecycleStates) entities_.touch({lifecycle_state_name(s)});
  for (WorkerPhase p : kAllWorkerPhases) workers_.touch({worker_phase_name(p)});
  start_time_.set({}, std::chrono::duration<double>(clock_.wall().time_since_epoch()).count());
  registry_.add_collector([this] { collect(); });
  lag_timer_ = std::make_unique<uvx::Timer>(loop, [this] { sample_lag(); });
  lag_due_ = clock_.mono() + std::chrono::milliseconds(kLagSampleMs);
  lag_timer_->start(kLagSampleMs, kLagSampleMs);
  lag_timer_->unref();
}

void DaemonMetrics::observe(const Event& e, std::string line) {
  events_.observe(e);
  recent_.add(e, std::move(line));
}

void DaemonMetrics::sample_lag() {
  MonoTime now = clock_.mono();
  double late = std::chrono::duration<double>(now - lag_due_).count();
  lag_.observe({}, late > 0 ? late : 0);
  lag_due_ = now + std::chrono::milliseconds(kLagSampleMs);
}

void DaemonMetrics::stop() {
  lag_timer_.reset();
}

std::vector<std::pair<std::string, std::size_t>> DaemonMetrics::entities_by_state() const {
  std::map<LifecycleState, std::size_t> n;
  if (sources_.entities)
    for (const EntityRecord* r : sources_.entities()) ++n[r->state];
  std::vector<std::pair<std::string, std::size_t>> out;
  out.reserve(kAllLifecycleStates.size());
  for (LifecycleState s : kAllLifecycleStates)
    out.emplace_back(std::string(lifecycle_state_name(s)), n[s]);
  return out;
}

std::vector<std::pair<std::string, std::size_t>> DaemonMetrics::workers_by_phase() const {
  std::map<WorkerPhase, std::size_t> n;
  if (sources_.workers)
    for (const WorkerStatus& w : sources_.workers()) ++n[w.phase];
  std::vector<std::pair<std::string, std::size_t>> out;
  out.reserve(kAllWorkerPhases.size());
  for (WorkerPhase p : kAllWorkerPhases) out.emplace_back(std::string(worker_phase_name(p)), n[p]);
  return out;
}

void DaemonMetrics::collect() {
  for (const auto& [state, n] : entities_by_state()) entities_.set({state}, static_cast<double>(n));
  for (const auto& [phase, n] : workers_by_phase()) workers_.set({phase}, static_cast<double>(n));
  if (sources_.watches) watches_.set({}, static_cast<double>(sources_.watches()));
  if (sources_.in_flight) in_flight_.set({}, static_cast<double>(sources_.in_flight()));
  if (sources_.event_log) {
    EventLogWriterStats s = sources_.event_log();
    log_bytes_.set({}, static_cast<double>(s.bytes_written));
    log_dropped_.set({}, static_cast<double>(s.dropped_lines));
  }
  rss_.set({}, resident_bytes());
  fds_.set({}, open_fds());
  rusage ru{};
  if (::getrusage(RUSAGE_SELF, &ru) == 0) cpu_.set({}, seconds(ru.ru_utime) + seconds(ru.ru_stime));
}

namespace {

std::string counts_json(const std::vector<std::pair<std::string, std::size_t>>& counts) {
  std::string out;
  JsonObjectWriter o(out);
  for (const auto& [name, n] : counts) o.unum(name, n);
  o.close();
  return out;
}

}  // namespace

void append_fleet_status(JsonObjectWriter& w, const DaemonMetrics& m) {
  w.raw("entities", counts_json(m.entities_by_state()));
  w.raw("workers", counts_json(m.workers_by_phase()));
  const metrics::ExecutionTotals t = m.totals();
  std::string ex;
  JsonObjectWriter e(ex);
  e.unum("total", t.executions).unum("failed", t.failed);
  e.dbl("success_rate", t.executions ? static_cast<double>(t.executions - t.failed) /
                                           static_cast<double>(t.executions)
                                     : 1.0);
  e.dbl("mean_seconds", t.mean_seconds).dbl("p95_seconds", t.p95_seconds);
  e.close();
  w.raw("executions", ex);
  std::string errors = "[";
  for (const auto& f : m.recent().failures()) {
    if (errors.size() > 1) errors += ',';
    errors += f.line;
  }
  errors += ']';
  w.raw("last_errors", errors);
}

}  // namespace aw
