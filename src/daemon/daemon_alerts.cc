#include "src/daemon/daemon_alerts.h"

#include <spdlog/spdlog.h>

#include "src/alerts/alert_state_file.h"
#include "src/core/event_kinds.h"
#include "src/core/json_writer.h"
#include "src/os/files.h"

namespace aw {

namespace {

// While an alert is pending, its `for` progress is saved at least this often.
constexpr auto kPendingSaveEvery = std::chrono::seconds(60);

}  // namespace

DaemonAlerts::DaemonAlerts(uv_loop_t* loop, const Clock& clock, const alerts::AlertsConfig& config,
                           std::string state_path, DaemonMetrics& metrics, DaemonAlertsPorts ports)
    : loop_(loop),
      clock_(clock),
      config_(config),
      state_path_(std::move(state_path)),
      metrics_(metrics),
      ports_(std::move(ports)),
      engine_(config.alerts),
      measures_(engine_.needs()),
      bounds_(metrics::duration_buckets()) {
  for (const auto& [measure, window] : engine_.needs())
    wants_disk_ |=
        measure == alerts::Measure::kStaleSessions || measure == alerts::Measure::kDiskUsedBytes;
}

DaemonAlerts::~DaemonAlerts() = default;

void DaemonAlerts::start() {
  const WallTime now = clock_.wall();
  auto text = read_file_if_exists(state_path_);
  if (!text) {
    spdlog::error("alerts: {} (every alert starts afresh)", text.error().message);
  } else if (*text) {
    auto parsed = alerts::parse_alert_state(**text, state_path_);
    if (!parsed) {
      spdlog::error("alerts: {} (every alert starts afresh)", parsed.error().message);
    } else {
      for (const std::string& p : parsed->problems) spdlog::warn("alerts: {}", p);
      for (const std::string& note : engine_.restore(parsed->alerts, now))
        spdlog::info("alerts: {}", note);
    }
  }
  saved_changes_ = engine_.changes();
  last_save_ = clock_.mono();
  scan_disk();
  sample(now);  // the counters' starting point
  timer_ = std::make_unique<uvx::Timer>(loop_, [this] { tick(); });
  const auto ms = static_cast<std::uint64_t>(std::max<std::int64_t>(1, to_ms(config_.interval)));
  timer_->start(ms, ms);
  timer_->unref();  // it watches; it must not keep a stopping daemon alive
}

void DaemonAlerts::observe(const Event& e) {
  if (e.kind != kind::kActionSucceeded && e.kind != kind::kActionFailed) return;
  if (auto kb = e.fields.get_int("max_rss_kb"))
    peak_rss_since_sample_ = std::max(peak_rss_since_sample_, static_cast<double>(*kb) * 1024.0);
}

void DaemonAlerts::sample(WallTime now) {
  using alerts::Input;
  const metrics::ExecutionTotals t = metrics_.totals();
  measures_.record({now, Input::kExecutionsTotal, static_cast<double>(t.executions)});
  measures_.record({now, Input::kFailedTotal, static_cast<double>(t.failed)});
  metrics::Histogram durations(&bounds_);
  metrics_.merge_durations_into(durations);
  measures_.record_durations(now, durations, bounds_);
  // Restarts: every start of a worker beyond its first.
  double restarts = 0;
  if (const metrics::Family* starts = metrics_.registry().find("agentwatch_worker_starts_total"))
    starts->each([&](const std::vector<std::string>&, double v, const metrics::Histogram*) {
      if (v > 1) restarts += v - 1;
    });
  measures_.record({now, Input::kWorkerRestartsTotal, restarts});
  measures_.record({now, Input::kPeakRssBytes, peak_rss_since_sample_});
  peak_rss_since_sample_ = 0;
  if (ports_.stuck_entities)
    measures_.record({now, Input::kStuckEntities, static_cast<double>(ports_.stuck_entities())});
  // The newest walk's values, until the first walk is done: no value yet.
  if (disk_.stale_sessions) measures_.record({now, Input::kStaleSessions, *disk_.stale_sessions});
  if (disk_.disk_used_bytes) measures_.record({now, Input::kDiskUsedBytes, *disk_.disk_used_bytes});
}

void DaemonAlerts::scan_disk() {
  if (!wants_disk_ || !ports_.disk_scan || scan_running_) return;
  const MonoTime now = clock_.mono();
  if (last_scan_ && now - *last_scan_ < kDiskScanEvery) return;
  last_scan_ = now;
  scan_running_ = true;
  auto result = std::make_shared<DiskGauges>();
  uvx::queue_work(
      loop_, work_owner_, [walk = ports_.disk_scan(), result] { *result = walk(); },
      [this, result] {
        scan_running_ = false;
        disk_ = *result;
      });
}

void DaemonAlerts::tick() {
  const WallTime now = clock_.wall();
  scan_disk();
  sample(now);
  for (const alerts::AlertTransition& t : engine_.evaluate(now, measures_)) {
    Event e;
    e.kind = std::string(t.kind == alerts::TransitionKind::kRaised ? kind::kAlertRaised
                                                                   : kind::kAlertResolved);
    e.source = "alerts";
    e.entity = t.entity.empty() ? t.name : t.entity;
    e.fields = alerts::alert_event_fields(t);
    ports_.submit(std::move(e));
  }
  const bool changed = engine_.changes() != saved_changes_;
  if (changed || (engine_.any_pending() && clock_.mono() - last_save_ >= kPendingSaveEvery))
    save_async();
}

void DaemonAlerts::save_async() {
  if (save_running_) return;  // the next tick saves what this one would have
  save_running_ = true;
  saved_changes_ = engine_.changes();
  last_save_ = clock_.mono();
  uvx::queue_work(
      loop_, work_owner_,
      [path = state_path_, text = alerts::serialize_alert_state(engine_.saved())] {
        if (Status s = write_file_durably(path, text, 0600); !s)
          spdlog::error("alerts: cannot save {}: {}", path, s.error().message);
      },
      [this] { save_running_ = false; });
}

void DaemonAlerts::stop() {
  timer_.reset();
  if (Status s =
          write_file_durably(state_path_, alerts::serialize_alert_state(engine_.saved()), 0600);
      !s)
    spdlog::error("alerts: cannot save {}: {}", state_path_, s.error().message);
}

std::string DaemonAlerts::active_json() const {
  std::string out = "[";
  for (const alerts::ActiveAlert& a : engine_.active()) {
    if (out.size() > 1) out += ',';
    JsonObjectWriter w(out);
    w.str("alert", a.name)
        .str("severity", alerts::severity_name(a.severity))
        .str("metric", alerts::measure_name(a.measure))
        .dbl("threshold", a.threshold)
        .str("since", format_time_utc(a.since));
    if (a.value) w.dbl("value", *a.value);
    if (!a.entity.empty()) w.str("entity", a.entity);
    w.close();
  }
  out += ']';
  return out;
}

}  // namespace aw
