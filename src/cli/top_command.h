// `agentwatch top [--text]` (issue #12): a live terminal dashboard of the
// running daemon: its status (over the control socket, like `status`) and the
// newest executions (from the event log, like `events`).
//
// Without --text it is an ncurses screen that redraws when the event log grows
// (EventLogReader::follow, inotify): no fixed poll of the daemon; its status
// is asked again only at each redraw, at most every 200 ms. Keys: q quits,
// 1 summary, 2 executions feed, 3 last errors.
//
// Exit status: 0 done; 3 no daemon runs (as `status`); 1 the screen could not
// be set up (no terminal).
#pragma once

#include <cstdint>
#include <iosfwd>
#include <optional>
#include <string>
#include <vector>

#include "src/daemon/paths.h"

namespace aw {

struct TopOptions {
  bool text = false;  // --text: print one plain report and exit
};

// One action.succeeded / action.failed line of the event log, copied out of it.
struct TopExecution {
  std::string time;  // as logged (RFC 3339 UTC)
  std::uint64_t seq = 0;
  bool ok = false;
  std::string rule;
  std::string action;  // fields.action
  std::string entity;
  std::optional<std::int64_t> duration_ms;
};

struct TopSnapshot {
  int pid = 0;                           // the daemon's, 0 when none runs
  std::string status_json;               // its answer to "status"; "" when it did not answer
  std::vector<TopExecution> executions;  // oldest first, as read from the log
};

enum class TopView { kSummary, kExecutions, kErrors };

// The report as lines no wider than `width` columns (<= 0: no limit). Pure, so
// that the text report, the screen and the unit test share it.
std::vector<std::string> render_top(const TopSnapshot& snapshot, TopView view, int width);

// The execution an event-log line records, or nullopt for any other line.
std::optional<TopExecution> top_execution_from_json(std::string_view line);

int top_command(const Paths& paths, const TopOptions& options, std::ostream& out,
                std::ostream& err);

}  // namespace aw
