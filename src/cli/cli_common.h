// What every subcommand module of the CLI shares: the global flags and the
// config loading. Each module (cli.cc, ops_commands.cc, tmux_commands.cc) adds
// its subcommands to the one CLI::App.
#pragma once

#include <unistd.h>

#include <climits>
#include <iostream>
#include <optional>
#include <string>

#include "src/core/result.h"
#include "src/daemon/config.h"
#include "src/daemon/paths.h"

namespace CLI {
class App;
}

namespace aw {

// Options every subcommand understands (before or after the subcommand name).
struct GlobalFlags {
  PathOverrides overrides;
  std::string log_level = "info";
  bool stop_workers = false;               // run --stop-workers
  std::optional<std::string> http_listen;  // run --http
};

inline Result<DaemonConfig> load_config(const Paths& paths) {
  auto c = load_daemon_config(paths.config_file);
  if (!c) std::cerr << c.error().message << "\n";
  return c;
}

inline std::string self_exe() {
  char buf[PATH_MAX];
  ssize_t n = readlink("/proc/self/exe", buf, sizeof buf - 1);
  return n > 0 ? std::string(buf, static_cast<std::size_t>(n)) : "agentwatch";
}

// Subcommand modules. `code` receives the exit code of the command that ran.
void add_ops_commands(CLI::App& app, GlobalFlags& g,
                      int& code);  // workers, recover, health, trigger
void add_tmux_commands(CLI::App& app, GlobalFlags& g, int& code);  // tmux hooks, logpipe

}  // namespace aw
