// The daemon's own configuration file, agentwatch.toml (rules live in rule
// files; this holds what the daemon watches and how it keeps its books).
//
//   [daemon]    shutdown_grace = "10s", max_emit_depth = 8, reload_debounce = "200ms",
//               max_json_bytes = "16MiB"
//   [event_log] max_size = "64MiB", keep = 5
//   [rules]     shipped = true, dir = "<config dir>/rules.d"
//   [[watch]]   name = "results", path = "~/agents/results", recursive = true, ignore = ["*.tmp"]
//   [[worker]]  name = "w1", argv = [...], ... (docs/workers.md)
//   [[log]]     name = "w1", path = "...", entity = "w1", stall_after = "10m",
//               patterns = [{ id = "done", regex = "ALL DONE" }]  (docs/logs.md)
//   [[git]]     name = "alpha", repo = "~/projects/alpha", entity = "alpha"  (docs/logs.md)
//   [tmux]      command = ["tmux", "-L", "agents"]  (docs/tmux.md)
//   [recover]   stuck_processing = "30m", stuck_timing_out = "10m", stuck_zombie = "5m"
//   [http]      listen = "127.0.0.1:9464", token_file = "...", allow_non_loopback = false
//   [statsd]    address = "127.0.0.1:8125", prefix = "agentwatch", interval = "1s"
//   [[alert]]   name = "...", metric = "failure_rate", above = 0.1, window = "15m", for = "5m"
//   [alerts]    defaults = true, interval = "10s"  (docs/alerts.md)
//
// A missing file means all defaults. Errors name file:line:column and what was
// expected; unknown keys suggest the closest valid one.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "src/alerts/alert_config.h"
#include "src/core/clock.h"
#include "src/core/disk_threshold.h"
#include "src/core/result.h"
#include "src/daemon/paths.h"
#include "src/rules/rule_files.h"
#include "src/state/entity_table.h"
#include "src/supervise/worker_spec.h"

namespace aw {

struct WatchConfig {
  std::string name;
  std::string path;
  bool recursive = true;
  std::vector<std::string> ignore;
  // Below this much free space its filesystem is `disk.low` (docs/sessions.md,
  // "Disk space and retention"): "5%" or a size like "2GiB".
  DiskThreshold min_free{0, 5.0};
  std::string min_free_text = "5%";
};

// A log to tail (docs/logs.md): lines matching `patterns` become log.line
// events; no growth for `stall_after` is a log.stalled event.
struct LogConfig {
  std::string name;
  std::string path;
  std::string entity;
  std::vector<std::pair<std::string, std::string>> patterns;  // (id, RE2 pattern)
  Duration stall_after{0};
  bool from_start = false;
  std::uint64_t max_line_bytes = 64 * 1024;  // longer lines are cut (truncated = true)
};
inline constexpr std::uint64_t kMaxLogLineBytes = 16u << 20;

// A git repository whose reflog (.git/logs/HEAD) is followed: each commit,
// merge, reset... becomes a git.* event (docs/logs.md).
struct GitConfig {
  std::string name;
  std::string repo;  // the work tree or the .git dir, absolute
  std::string entity;
};

// The HTTP endpoint: /metrics, the JSON API, server-sent events and the
// dashboard (docs/http.md). Loopback unless allow_non_loopback, which also
// needs a bearer token.
struct HttpConfig {
  std::string listen = "127.0.0.1:9464";  // "" = no HTTP
  std::string host = "127.0.0.1";         // parsed from listen
  int port = 9464;
  std::string token_file;  // a file holding the bearer token; "" = none
  bool allow_non_loopback = false;
};

// [statsd]: where executions and gauges are pushed (docs/http.md, "StatsD").
struct StatsdSettings {
  std::string address;  // "" = off
  std::string host;
  int port = 8125;
  std::string prefix = "agentwatch";
  Duration interval = std::chrono::seconds(1);
};

// "127.0.0.1:9464", "[::1]:9464", "localhost:0" → host and port.
Result<std::pair<std::string, int>> parse_listen_address(std::string_view text);

struct DaemonConfig {
  Duration shutdown_grace = std::chrono::seconds(10);
  std::uint32_t max_emit_depth = 8;  // the longest chain of rule firings (ChainPolicy)
  double derived_rate = 10.0;        // derived firings per second, per rule
  double derived_burst = 32.0;
  Duration reload_debounce = std::chrono::milliseconds(200);
  std::uint64_t max_json_bytes = 16u << 20;  // larger files fail JSON conditions
  std::uint64_t event_log_max_bytes = 64u << 20;
  std::uint32_t event_log_keep = 5;
  bool shipped_rules = true;
  std::string rules_dir;  // "" = the default beside the config file
  std::vector<WatchConfig> watches;
  std::vector<WorkerSpec> workers;  // [[worker]], see docs/workers.md
  std::vector<LogConfig> logs;      // [[log]]
  std::vector<GitConfig> git;       // [[git]]
  // How to reach the tmux server the agents run in: the argv prefix of every
  // tmux command ("-L NAME" or "-S PATH" select a server).
  std::vector<std::string> tmux_command{"tmux"};
  // How long an entity may stay in a working state before `recover list-stuck`
  // and `recover diagnose` call it stuck.
  StuckThresholds stuck;
  HttpConfig http;
  StatsdSettings statsd;
  alerts::AlertsConfig alerts;  // [[alert]], [alerts] (docs/alerts.md)
  bool file_found = false;      // whether the config file existed
};

// Parses the file at `path`. A missing file yields the defaults; an unreadable or
// invalid one an error whose message lists every problem, one per line.
Result<DaemonConfig> load_daemon_config(const std::string& path);
Result<DaemonConfig> parse_daemon_config(std::string_view text, const std::string& source_name);

// The rule layers to load, in order: the shipped rules (unless [rules] shipped =
// false), then the user's rules.d ([rules] dir, else beside the config file).
// The daemon and the CLI's `rules` commands load exactly this set.
std::vector<RuleLayerPaths> rule_layers(const Paths& paths, const DaemonConfig& config);

// The roots the daemon watches: agentwatch.toml's [[watch]] tables, or without
// any the default workspace under the state dir (results, pids, logs, hooks).
// Pure: the daemon creates the workspace's directories, the CLI only reads.
std::vector<WatchConfig> effective_watches(const Paths& paths, const DaemonConfig& config);

// "64MiB", "512KiB", "1GiB", "100" (bytes) or an integer.
Result<std::uint64_t> parse_size(std::string_view s);

}  // namespace aw
