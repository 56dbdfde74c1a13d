// What tmux says exists (sessions and their panes) at one moment, and the
// events that tell one moment from the next. Pure: no loop, no I/O.
//
// The daemon never trusts tmux hooks for facts (they misfire: pane-exited names
// the wrong pane, pane-died gets coalesced). It asks tmux for the whole picture
// with `list-panes -a` (list_panes_args), parses it (parse_list_panes) and
// compares it with the previous picture (diff_snapshots). See docs/tmux.md.
#pragma once

#include <sys/types.h>

#include <set>
#include <string>
#include <string_view>
#include <vector>

#include "src/core/clock.h"
#include "src/core/event.h"
#include "src/core/result.h"

namespace aw {

struct PaneInfo {
  std::string session;       // session name (tmux never lets it contain ':', '.', tab or newline)
  std::string session_id;    // "$3": unique for the server's lifetime, so it tells a session
                             // killed and re-created under the same name from the old one
  std::string window_index;  // "0"
  std::string pane_id;       // "%7"
  pid_t pane_pid = 0;        // the process tmux started in the pane
  bool dead = false;         // the command exited and remain-on-exit kept the pane
  int dead_status = -1;      // exit status when dead and it exited; -1 otherwise
  int dead_signal = 0;       // the signal that killed it when dead by a signal; 0 otherwise
  std::string current_command;  // tmux's pane_current_command (tabs/newlines shown as '?')

  friend bool operator==(const PaneInfo&, const PaneInfo&) = default;
};

struct TmuxSnapshot {
  std::vector<PaneInfo> panes;  // in tmux's order: by session, window, pane
  // The PID of the server that answered; 0 when it listed no pane (a listing
  // with no pane does not name its server).
  pid_t server_pid = 0;
  // false: nobody knows what exists (before the first successful query). A
  // known snapshot with no panes means "no sessions" (e.g. no server running).
  bool known = true;

  static TmuxSnapshot unknown() {
    TmuxSnapshot s;
    s.known = false;
    return s;
  }
  bool has_session(std::string_view name) const;
  std::set<std::string> sessions() const;
  // The panes of one session, in order (empty when it does not exist).
  std::vector<PaneInfo> panes_of(std::string_view session) const;

  friend bool operator==(const TmuxSnapshot&, const TmuxSnapshot&) = default;
};

// The tmux arguments (after the server command) that list every pane of every
// session in the format parse_list_panes reads: one line per pane, fields
// separated by tabs. Tabs cannot occur inside a field: tmux renders control
// characters in session names visibly (a tab becomes the two characters "\t"),
// the ids and numbers have none, and the command name (the only free text) has
// its tabs and newlines replaced by '?' through the format's s/// modifier.
std::vector<std::string> list_panes_args();

// Parses list-panes output made with list_panes_args(). An empty output is a
// known snapshot with no panes (and no server_pid). Every line must name the
// same server PID. A malformed line is an error naming the line
// number and what was expected (this means a tmux whose format differs, never
// bad data to skip silently).
Result<TmuxSnapshot> parse_list_panes(std::string_view out);

// The events that turn `before` into `after`; each has source "tmux", time
// `now`, entity = the session name and fields `session`, `session_id`, plus:
//
//   tmux.session.appeared  panes, pane_pid (of the first pane)
//   tmux.session.vanished  panes, pane_pid (as last seen)
//   tmux.session.seen      panes, pane_pid — instead of "appeared" when `before`
//                          is unknown (the daemon just started: a restart must not
//                          look like a burst of new sessions)
//   tmux.pane.appeared     window, pane, pane_pid, command
//   tmux.pane.died         window, pane, pane_pid, status (exited) or signal
//                          (killed); at_start = true when `before` was unknown
//   tmux.pane.vanished     window, pane, pane_pid, was_dead
//
// A session is identified by name and session_id: the same name with another
// id is the old session vanished and a new one appeared. A pane is identified
// by session, pane_id and pane_pid: a respawned pane (same id, new pid) is the
// old pane vanished and a new one appeared. When a session vanishes its panes'
// tmux.pane.vanished come first; when one appears its tmux.pane.appeared come
// after it. Sessions are visited in name order, so the output is deterministic.
// With `before` unknown, live panes get no event (tmux.session.seen covers
// them) but dead ones get tmux.pane.died with at_start: a worker that died
// while the daemon was down is reported. `after` must be known (an unknown
// `after` yields no events: the caller keeps its last snapshot).
std::vector<Event> diff_snapshots(const TmuxSnapshot& before, const TmuxSnapshot& after,
                                  WallTime now);

}  // namespace aw
