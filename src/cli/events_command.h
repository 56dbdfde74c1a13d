// `agentwatch events`: print the event log, filtered, optionally following it.
// The CLI layer maps flags onto EventsOptions (CLI11) and returns the exit code.
//
//   agentwatch events [-f] [--kind GLOB]... [--since 10m|TIME] [--entity NAME|GLOB]
//                     [--failed] [--json] [-n LIMIT]
//
// docs/events.md is the user-facing reference (schema and this command).
#pragma once

#include <cstddef>
#include <functional>
#include <iosfwd>
#include <optional>
#include <string>
#include <vector>

#include "src/core/clock.h"
#include "src/core/result.h"

namespace aw {

struct EventsOptions {
  std::string state_dir;              // holds events.jsonl and its rotated segments
  bool follow = false;                // -f: keep printing new events, across rotations
  std::vector<std::string> kinds;     // --kind, repeatable (OR), GlobMode::kPlain
  std::optional<std::string> since;   // --since: "10m" (ago) or RFC 3339 time or a date
  std::optional<std::string> entity;  // --entity: exact or glob
  bool failed = false;                // --failed: failures only
  bool json = false;                  // --json: the logged lines, unchanged
  std::optional<std::size_t> limit;   // stop after printing this many (first N in order)
  // Ends -f when it returns true (checked after every batch and at least every 200 ms).
  // Without it, -f runs until the process is interrupted.
  std::function<bool()> stop;
  // ANSI colour; nullopt = automatic: only when `out` is std::cout, stdout is a TTY
  // and NO_COLOR is unset.
  std::optional<bool> color;
  // "now" for --since durations; nullopt = the system clock. For tests.
  std::optional<WallTime> now;
};

// Exit codes: 0 done (or stopped), 1 the log could not be read (message on `err`),
// 2 bad arguments (message on `err` naming the option and what was expected).
// Skipped corrupt lines are reported on `err` at the end, naming file:line.
int events_command(const EventsOptions& options, std::ostream& out, std::ostream& err);

// --since: a duration before `now` ("90s", "10m", "1h30m", "7d") or an absolute
// time ("2026-11-22T11:20:00Z", "2026-11-22T12:20:00+01:00", "2026-11-22").
Result<WallTime> parse_since(std::string_view text, WallTime now);

}  // namespace aw
