// `agentwatch run`: one libuv loop on one thread, wiring watchers → pipeline →
// actions, with the rule-reload transaction, signals, the single-instance lock,
// systemd readiness/watchdog and the status file.
#pragma once

#include <string>

#include "src/core/event.h"
#include "src/core/result.h"
#include "src/daemon/config.h"
#include "src/daemon/paths.h"

namespace aw {

struct RunOptions {
  Paths paths;
  DaemonConfig config;
  std::string log_level = "info";  // the daemon's own diagnostics (spdlog)
  // A stop stops the workers too (`run --stop-workers`). By default they keep
  // running and the next daemon re-adopts them (docs/workers.md).
  bool stop_workers = false;
};

// Runs until SIGTERM/SIGINT. Returns the process exit code: 0 after a graceful
// stop, 1 when it could not start (another instance, invalid rules, unusable dirs).
int run_daemon(const RunOptions& options);

// Reads the highest seq in the event log dir (live file, else the newest rotated
// segment), so numbering continues across restarts. 0 when there is none.
std::uint64_t last_logged_seq(const std::string& event_log_dir);

// Appends one event to the log while no daemon runs (the caller holds the
// instance lock: `recover reset` offline), numbered after the last one and
// stamped now when its time is unset. One write(), O_APPEND, like the daemon's.
Status append_event_offline(const std::string& event_log_dir, Event e);

}  // namespace aw
