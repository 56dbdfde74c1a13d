// WorkerSpec: one `[[worker]]` of agentwatch.toml, parsed and checked.
//
//   [[worker]]
//   name = "builder"                 # unique; the entity name of its events
//   argv = ["claude", "-p", "..."]   # how to start it (no shell); may be absent
//   cwd = "~/agents/builder"         #   for a worker another tool starts (pid_file)
//   env = { TOKEN_BUDGET = "100" }
//   pid_file = "/run/user/1000/builder.pid"   # adopt it when this file lands
//   tmux_session = "builder"
//   depends_on = ["planner"]         # not started / restarted until these complete
//   restart = "on-failure"           # "always" | "never"
//   max_restarts = 2                 # within restart_window ("1h")
//   backoff = { initial = "100ms", factor = 2.0, max = "5m", jitter = 0.2 }
//   stable_after = "60s"             # uptime that resets the budget and the circuit
//   min_spawn_interval = "1s"        # s6's floor between two spawns
//   circuit_threshold = 3            # quick failures in a row that open the circuit
//   circuit_cooldown = "5m"
//   runtime_limit = "30m"  timeout_grace = "60s"  max_extensions = 3
//   heartbeat = "~/agents/builder/log"  heartbeat_timeout = "10m"
//   phantom_grace = "15m"  kill_grace = "10s"  start_grace = "30s"
//
// docs/workers.md is the user's reference. Durations are strings ("30s") or a
// whole number of seconds.
//
// Errors: every problem of the array is reported, one per line, as
// "SOURCE:LINE:COLUMN: error: what was expected", with "did you mean" for a
// misspelt key or dependency.
#pragma once

#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include <toml++/toml.h>

#include "src/config/toml_reader.h"
#include "src/core/clock.h"
#include "src/core/result.h"
#include "src/supervise/restart_policy.h"

namespace aw {

struct WorkerSpec {
  std::string name;
  std::vector<std::string> argv;  // empty: adopt-only (started by another tool)
  std::string cwd;                // "" = the daemon's; "~/" expanded by the parser
  std::vector<std::pair<std::string, std::string>> env;
  std::string pid_file;  // "" = none; "~/" expanded
  std::string tmux_session;
  std::vector<std::string> depends_on;
  RestartPolicyConfig restart;  // mode, budget, backoff, stable_after, circuit
  Duration runtime_limit = std::chrono::seconds(1800);
  // timing_out lasts this long; progress during it earns an extension.
  Duration timeout_grace = std::chrono::seconds(60);
  std::string heartbeat;  // a file whose growth counts as progress ("" = none)
  Duration heartbeat_timeout = std::chrono::seconds(600);
  int max_extensions = 3;
  Duration phantom_grace = std::chrono::seconds(900);
  Duration kill_grace = std::chrono::seconds(10);   // stop: TERM → grace → KILL
  Duration start_grace = std::chrono::seconds(30);  // not judged (phantom, hung) before this
  // Where it was declared, for later messages ("worker 'x' (agentwatch.toml:12)").
  std::string source;
  std::uint32_t line = 0;
};

// Reads the elements of a `worker` array (each must be a table) through the
// document's reader; every problem is appended to the reader's errors
// ("FILE:LINE:COLUMN: error: ..."). The specs are meaningful only when no
// error was added.
std::vector<WorkerSpec> read_worker_specs(TomlReader& reader, const toml::array& workers);

// The same for a parsed array alone; `source_name` is the file name used in
// errors, which come back one per line.
Result<std::vector<WorkerSpec>> parse_worker_specs(const toml::array& workers,
                                                   const std::string& source_name);

// Parses a whole TOML document and reads its top-level `worker` array, ignoring
// every other key (agentwatch.toml holds the daemon's settings too). No `worker`
// key yields an empty list; a `worker` that is not an array of tables is an error.
Result<std::vector<WorkerSpec>> parse_worker_specs_from_string(std::string_view text,
                                                               const std::string& source_name);

}  // namespace aw
