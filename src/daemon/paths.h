// Where agentwatch keeps things (DESIGN §5), resolved from XDG variables and
// overridable by flag so tests run in temp dirs.
#pragma once

#include <string>

#include "src/core/result.h"
#include "src/os/files.h"  // make_dirs, which paths' users need with them

namespace aw {

struct Paths {
  std::string config_file;  // $XDG_CONFIG_HOME/agentwatch/agentwatch.toml
  std::string config_dir;   // directory of config_file
  std::string rules_dir;    // <config_dir>/rules.d
  std::string
      shipped_rules_dir;    // share/agentwatch/rules (installed), else the source tree's rules/
  std::string state_dir;    // $XDG_STATE_HOME/agentwatch
  std::string runtime_dir;  // $XDG_RUNTIME_DIR/agentwatch (0700)

  std::string event_log_dir() const { return state_dir; }
  std::string lock_file() const { return runtime_dir + "/agentwatch.lock"; }
  std::string status_file() const { return runtime_dir + "/status.json"; }
  std::string file_index() const { return state_dir + "/file-index"; }
  std::string workspace_dir() const { return state_dir + "/workspace"; }
  // Request/reply with the CLI (docs/control.md); notify.sock is the one-way hook socket.
  std::string control_socket() const { return runtime_dir + "/control.sock"; }
  // Last run of each timer rule (docs/schedule.md).
  std::string timer_state_file() const { return state_dir + "/timers.json"; }
};

struct PathOverrides {
  std::string config_file;
  std::string state_dir;
  std::string runtime_dir;
  std::string shipped_rules_dir;
};

// Resolves every path from the environment, then applies the overrides. Pure
// apart from reading the environment and checking which shipped-rules dir exists.
Paths resolve_paths(const PathOverrides& overrides);

// Expands a leading "~/" to $HOME.
std::string expand_home(const std::string& path);

// Creates the runtime dir 0700 and refuses one that another user owns or that
// others can enter (the notify socket and lock live there).
Status prepare_runtime_dir(const std::string& path);

}  // namespace aw
