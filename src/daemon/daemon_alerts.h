// The alerts of agentwatch.toml ([[alert]], docs/alerts.md) in the daemon:
// every `interval` it samples what the alert measures need from the daemon's
// own numbers (DaemonMetrics, the lifecycle table), evaluates the engine
// (src/alerts, pure) and submits each raise and resolve as an `alert.raised`
// / `alert.resolved` event, which rules route like any other.
//
// The engine's state is kept in <state_dir>/alerts (alert_state_file.h),
// written durably on the thread pool whenever an alert changes phase, every
// minute while one is pending (its `for` progress), and at shutdown; read at
// start, so a restarted daemon neither raises a firing alert again nor loses
// a pending one's progress.
//
// Loop thread only.
#pragma once

#include <uv.h>

#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "src/alerts/alert_config.h"
#include "src/alerts/alert_engine.h"
#include "src/alerts/alert_metrics.h"
#include "src/core/clock.h"
#include "src/core/event.h"
#include "src/daemon/daemon_metrics.h"
#include "src/uvx/handle.h"

namespace aw {

// The gauges whose value takes a walk of the disk.
struct DiskGauges {
  std::optional<double> stale_sessions;   // result sessions past their age-out limit
  std::optional<double> disk_used_bytes;  // what the watched roots and the state dir take
};

struct DaemonAlertsPorts {
  std::function<void(Event)> submit;            // into the pipeline
  std::function<std::size_t()> stuck_entities;  // recover's thresholds (may be empty)
  // Makes, on the loop, from the config and rules of the moment, the walk that
  // measures DiskGauges; the walk runs on the thread pool. Empty: those
  // measures have no value.
  std::function<std::function<DiskGauges()>()> disk_scan;
};

class DaemonAlerts {
 public:
  // How often the disk is walked for DiskGauges (only while an alert measures
  // one of them); a tick samples the newest walk's values.
  static constexpr std::chrono::seconds kDiskScanEvery{60};

  DaemonAlerts(uv_loop_t* loop, const Clock& clock, const alerts::AlertsConfig& config,
               std::string state_path, DaemonMetrics& metrics, DaemonAlertsPorts ports);
  ~DaemonAlerts();
  DaemonAlerts(const DaemonAlerts&) = delete;
  DaemonAlerts& operator=(const DaemonAlerts&) = delete;

  // Reads the saved state (problems are logged, never fatal) and starts sampling.
  void start();
  // Every logged event: the peak memory of runs that ended since the last sample.
  void observe(const Event& e);
  // The firing alerts, as a JSON array (for /api/status and `status`).
  std::string active_json() const;
  // Saves the state now (synchronously: shutdown) and stops sampling.
  void stop();

 private:
  void tick();
  void sample(WallTime now);
  void save_async();
  void scan_disk();

  uv_loop_t* loop_;
  const Clock& clock_;
  alerts::AlertsConfig config_;
  std::string state_path_;
  DaemonMetrics& metrics_;
  DaemonAlertsPorts ports_;
  alerts::AlertEngine engine_;
  alerts::SampledMeasures measures_;
  std::vector<double> bounds_;
  double peak_rss_since_sample_ = 0;
  std::uint64_t saved_changes_ = 0;
  MonoTime last_save_{};
  bool save_running_ = false;
  bool wants_disk_ = false;  // an alert measures stale_sessions or disk_used_bytes
  bool scan_running_ = false;
  std::optional<MonoTime> last_scan_;
  DiskGauges disk_;
  std::unique_ptr<uvx::Timer> timer_;
  uvx::WorkOwner work_owner_;  // last: dies first
};

}  // namespace aw
