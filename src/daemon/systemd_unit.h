// The systemd user unit agentwatch ships, and `agentwatch service install|uninstall`.
//
// Type=notify with the watchdog: READY=1 and WATCHDOG=1 come from the loop itself,
// so a stuck loop is restarted. No PrivateTmp: the agents' tmux server keeps its
// socket in /tmp (see unit_hides). ProtectSystem=strict makes everything read-only
// except ReadWritePaths, which therefore lists the state, runtime and config dirs
// and every watched root (actions move files inside them): re-run install after
// adding a [[watch]].
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "src/core/result.h"

namespace aw {

struct UnitParams {
  std::string exec_path;              // absolute path of the agentwatch binary
  std::vector<std::string> run_args;  // flags passed to `agentwatch run` (e.g. --config)
  std::vector<std::string> read_write_paths;
  unsigned watchdog_sec = 30;
};

std::string render_unit(const UnitParams& p);

// The line of `unit` (a unit file's text) whose namespace setting hides `path`
// from the service (PrivateTmp: /tmp and /var/tmp; ProtectHome=yes|tmpfs:
// /home, /root, /run/user), or nullopt when the service sees it as we do.
// `service install` asks it about the tmux socket: a daemon that cannot reach
// the agents' tmux server knows nothing about their sessions.
std::optional<std::string> unit_hides(const std::string& unit, const std::string& path);

// ~/.config/systemd/user (honouring XDG_CONFIG_HOME).
std::string user_unit_dir();

// Writes <dir>/agentwatch.service atomically (tmp + rename). Returns the path.
Result<std::string> install_unit(const std::string& dir, const std::string& content);
// Removes it; an absent unit is not an error. Returns whether one was removed.
Result<bool> uninstall_unit(const std::string& dir);

}  // namespace aw
