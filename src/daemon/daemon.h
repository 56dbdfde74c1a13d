// `agentwatch run`: one libuv loop on one thread, wiring watchers → pipeline →
// actions, with the rule-reload transaction, signals, the single-instance lock,
// systemd readiness/watchdog and the status file.
#pragma once

#include <string>

#include "src/daemon/config.h"
#include "src/daemon/paths.h"

namespace aw {

struct RunOptions {
  Paths paths;
  DaemonConfig config;
  std::string log_level = "info";  // the daemon's own diagnostics (spdlog)
};

// Runs until SIGTERM/SIGINT. Returns the process exit code: 0 after a graceful
// stop, 1 when it could not start (another instance, invalid rules, unusable dirs).
int run_daemon(const RunOptions& options);

// Reads the highest seq in the event log dir (live file, else the newest rotated
// segment), so numbering continues across restarts. 0 when there is none.
std::uint64_t last_logged_seq(const std::string& event_log_dir);

}  // namespace aw
