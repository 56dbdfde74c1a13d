// `agentwatch stats`: what the actions came to, over the whole event log.
// The CLI layer maps flags onto StatsOptions (CLI11) and returns the exit code.
//
//   agentwatch stats [--since WHEN] [--until WHEN] [--group-by rule|action|worker|
//                    category|entity|kind] [--failed] [--json]
//
// Every action outcome (action.succeeded / action.failed) in every rotated
// segment and the live file is one execution; src/stats does the counting and
// the rendering. docs/stats.md is the user-facing reference.
#pragma once

#include <iosfwd>
#include <optional>
#include <string>

#include "src/core/clock.h"

namespace aw {

struct StatsOptions {
  std::string state_dir;                // holds events.jsonl and its rotated segments
  std::optional<std::string> since;     // --since: as `events --since` (parse_since)
  std::optional<std::string> until;     // --until: the same syntax; excluded
  std::optional<std::string> group_by;  // --group-by; nullopt = one "all" row
  bool failed = false;                  // --failed: failed executions only
  bool json = false;                    // --json: one JSON object (src/stats/stats_report.h)
  // "now" for --since/--until durations; nullopt = the system clock. For tests.
  std::optional<WallTime> now;
};

// Exit codes, as `agentwatch events`: 0 done (also with no log yet, noted on
// `err`), 1 the log could not be read (message on `err`), 2 a bad option value
// (message on `err` naming the option and what was expected). Skipped corrupt
// lines are reported on `err` at the end, naming file:line.
int stats_command(const StatsOptions& options, std::ostream& out, std::ostream& err);

}  // namespace aw
