#include "src/tmux/pane_snapshot.h"

#include <charconv>
#include <cstdint>
#include <map>

#include "src/core/event_kinds.h"

namespace aw {
namespace {

// The fields of one list-panes line, in order. The first is the server's own
// PID (the same on every line): what TmuxWatch watches to learn, from the
// server's exit, that its sessions are gone. Free text goes last but one
// (command) and the session name last, each through s/[\t\n]/?/ so that no
// tab or newline tmux did not already render visibly can break the framing.
constexpr std::string_view kFormat =
    "#{pid}\t#{session_id}\t#{window_index}\t#{pane_id}\t#{pane_pid}\t#{pane_dead}\t"
    "#{pane_dead_status}\t#{pane_dead_signal}\t#{s/[\t\n]/?/:pane_current_command}\t"
    "#{s/[\t\n]/?/:session_name}";
constexpr std::size_t kFieldCount = 10;
constexpr std::string_view kFieldNames[kFieldCount] = {"pid",
                                                       "session_id",
                                                       "window_index",
                                                       "pane_id",
                                                       "pane_pid",
                                                       "pane_dead",
                                                       "pane_dead_status",
                                                       "pane_dead_signal",
                                                       "pane_current_command",
                                                       "session_name"};

bool parse_int(std::string_view s, std::int64_t& out) {
  if (s.empty()) return false;
  auto [ptr, ec] = std::from_chars(s.data(), s.data() + s.size(), out);
  return ec == std::errc() && ptr == s.data() + s.size();
}

Error line_error(std::size_t line, std::string_view what) {
  return make_error("tmux list-panes output, line " + std::to_string(line) + ": " +
                    std::string(what));
}

// One pane; `server_pid` gets the line's server PID.
Result<PaneInfo> parse_line(std::string_view text, std::size_t line, pid_t& server_pid) {
  std::string_view f[kFieldCount];
  std::size_t n = 0;
  std::size_t start = 0;
  while (true) {
    std::size_t tab = text.find('\t', start);
    if (n == kFieldCount)
      return line_error(line, "expected " + std::to_string(kFieldCount) +
                                  " tab-separated fields, got more (is this tmux 3.3 or later?)");
    f[n++] = text.substr(start, tab == std::string_view::npos ? tab : tab - start);
    if (tab == std::string_view::npos) break;
    start = tab + 1;
  }
  if (n != kFieldCount)
    return line_error(line, "expected " + std::to_string(kFieldCount) +
                                " tab-separated fields, got " + std::to_string(n));
  auto bad = [&](std::size_t i, std::string_view expected) {
    return line_error(line, std::string(kFieldNames[i]) + " is \"" + std::string(f[i]) +
                                "\", expected " + std::string(expected));
  };

  std::int64_t num = 0;
  if (!parse_int(f[0], num) || num <= 0 || num > INT32_MAX) return bad(0, "a process id");
  server_pid = static_cast<pid_t>(num);
  PaneInfo p;
  if (f[1].size() < 2 || f[1][0] != '$') return bad(1, "'$' and a number");
  p.session_id = f[1];
  if (!parse_int(f[2], num) || num < 0) return bad(2, "a window index");
  p.window_index = f[2];
  if (f[3].size() < 2 || f[3][0] != '%') return bad(3, "'%' and a number");
  p.pane_id = f[3];
  if (!parse_int(f[4], num) || num <= 0 || num > INT32_MAX) return bad(4, "a process id");
  p.pane_pid = static_cast<pid_t>(num);
  if (f[5] != "0" && f[5] != "1") return bad(5, "0 or 1");
  p.dead = f[5] == "1";
  if (!f[6].empty()) {
    if (!parse_int(f[6], num) || num < 0 || num > 255) return bad(6, "an exit status or nothing");
    p.dead_status = static_cast<int>(num);
  }
  if (!f[7].empty()) {
    if (!parse_int(f[7], num) || num <= 0 || num > 128) return bad(7, "a signal number or nothing");
    p.dead_signal = static_cast<int>(num);
  }
  p.current_command = f[8];
  if (f[9].empty()) return bad(9, "a session name");
  p.session = f[9];
  return p;
}

// One session's view in a snapshot: its id and its panes, in tmux's order.
struct SessionView {
  std::string id;
  std::vector<const PaneInfo*> panes;
};

std::map<std::string, SessionView> by_session(const TmuxSnapshot& s) {
  std::map<std::string, SessionView> out;
  for (const PaneInfo& p : s.panes) {
    SessionView& v = out[p.session];
    v.id = p.session_id;
    v.panes.push_back(&p);
  }
  return out;
}

Event base_event(std::string_view kind, const std::string& session, const std::string& session_id,
                 WallTime now) {
  Event e;
  e.kind = kind;
  e.source = "tmux";
  e.time = now;
  e.entity = session;
  e.fields.set("session", FieldValue(session));
  e.fields.set("session_id", FieldValue(session_id));
  return e;
}

Event session_event(std::string_view kind, const std::string& name, const SessionView& v,
                    WallTime now) {
  Event e = base_event(kind, name, v.id, now);
  e.fields.set("panes", FieldValue(static_cast<std::int64_t>(v.panes.size())));
  if (!v.panes.empty())
    e.fields.set("pane_pid", FieldValue(static_cast<std::int64_t>(v.panes.front()->pane_pid)));
  return e;
}

Event pane_event(std::string_view kind, const PaneInfo& p, WallTime now) {
  Event e = base_event(kind, p.session, p.session_id, now);
  std::int64_t window = 0;
  if (parse_int(p.window_index, window))
    e.fields.set("window", FieldValue(window));
  else
    e.fields.set("window", FieldValue(p.window_index));
  e.fields.set("pane", FieldValue(p.pane_id));
  e.fields.set("pane_pid", FieldValue(static_cast<std::int64_t>(p.pane_pid)));
  return e;
}

Event pane_died(const PaneInfo& p, WallTime now, bool at_start) {
  Event e = pane_event(kind::kTmuxPaneDied, p, now);
  if (p.dead_status >= 0) e.fields.set("status", FieldValue(std::int64_t{p.dead_status}));
  if (p.dead_signal > 0) e.fields.set("signal", FieldValue(std::int64_t{p.dead_signal}));
  if (at_start) e.fields.set("at_start", FieldValue(true));
  return e;
}

void pane_appeared(std::vector<Event>& out, const PaneInfo& p, WallTime now) {
  Event e = pane_event(kind::kTmuxPaneAppeared, p, now);
  e.fields.set("command", FieldValue(p.current_command));
  out.push_back(std::move(e));
  if (p.dead) out.push_back(pane_died(p, now, false));
}

void pane_vanished(std::vector<Event>& out, const PaneInfo& p, WallTime now) {
  Event e = pane_event(kind::kTmuxPaneVanished, p, now);
  e.fields.set("was_dead", FieldValue(p.dead));
  out.push_back(std::move(e));
}

const PaneInfo* find_pane(const SessionView& v, const std::string& pane_id) {
  for (const PaneInfo* p : v.panes)
    if (p->pane_id == pane_id) return p;
  return nullptr;
}

// Both snapshots hold the same session (same name, same id): compare panes.
void diff_panes(std::vector<Event>& out, const SessionView& before, const SessionView& after,
                WallTime now) {
  for (const PaneInfo* old : before.panes) {
    const PaneInfo* now_p = find_pane(after, old->pane_id);
    if (!now_p || now_p->pane_pid != old->pane_pid) pane_vanished(out, *old, now);
  }
  for (const PaneInfo* p : after.panes) {
    const PaneInfo* old = find_pane(before, p->pane_id);
    if (!old || old->pane_pid != p->pane_pid) {
      pane_appeared(out, *p, now);
    } else if (p->dead && !old->dead) {
      out.push_back(pane_died(*p, now, false));
    }
  }
}

}  // namespace

bool TmuxSnapshot::has_session(std::string_view name) const {
  for (const PaneInfo& p : panes)
    if (p.session == name) return true;
  return false;
}

std::set<std::string> TmuxSnapshot::sessions() const {
  std::set<std::string> out;
  for (const PaneInfo& p : panes) out.insert(p.session);
  return out;
}

std::vector<PaneInfo> TmuxSnapshot::panes_of(std::string_view session) const {
  std::vector<PaneInfo> out;
  for (const PaneInfo& p : panes)
    if (p.session == session) out.push_back(p);
  return out;
}

std::vector<std::string> list_panes_args() {
  return {"list-panes", "-a", "-F", std::string(kFormat)};
}

Result<TmuxSnapshot> parse_list_panes(std::string_view out) {
  TmuxSnapshot snap;
  std::size_t line_no = 0;
  std::size_t start = 0;
  while (start < out.size()) {
    std::size_t nl = out.find('\n', start);
    std::string_view line =
        out.substr(start, nl == std::string_view::npos ? std::string_view::npos : nl - start);
    start = nl == std::string_view::npos ? out.size() : nl + 1;
    ++line_no;
    if (line.empty())
      return line_error(line_no,
                        "empty line, expected one pane (pid, session_id, window_index, ...)");
    pid_t server_pid = 0;
    auto pane = parse_line(line, line_no, server_pid);
    if (!pane) return pane.error();
    if (snap.server_pid != 0 && server_pid != snap.server_pid)
      return line_error(line_no, "pid is " + std::to_string(server_pid) + ", expected " +
                                     std::to_string(snap.server_pid) +
                                     " (one server answers a listing)");
    snap.server_pid = server_pid;
    snap.panes.push_back(std::move(*pane));
  }
  return snap;
}

std::vector<Event> diff_snapshots(const TmuxSnapshot& before, const TmuxSnapshot& after,
                                  WallTime now) {
  std::vector<Event> out;
  if (!after.known) return out;
  const auto after_sessions = by_session(after);
  if (!before.known) {
    for (const auto& [name, view] : after_sessions) {
      out.push_back(session_event(kind::kTmuxSessionSeen, name, view, now));
      for (const PaneInfo* p : view.panes)
        if (p->dead) out.push_back(pane_died(*p, now, true));
    }
    return out;
  }
  const auto before_sessions = by_session(before);

  // Gone first (a session re-created under its old name is gone, then new),
  // then appeared and changed, each in name order.
  for (const auto& [name, old] : before_sessions) {
    auto it = after_sessions.find(name);
    if (it != after_sessions.end() && it->second.id == old.id) continue;
    for (const PaneInfo* p : old.panes) pane_vanished(out, *p, now);
    out.push_back(session_event(kind::kTmuxSessionVanished, name, old, now));
  }
  for (const auto& [name, view] : after_sessions) {
    auto it = before_sessions.find(name);
    if (it != before_sessions.end() && it->second.id == view.id) {
      diff_panes(out, it->second, view, now);
      continue;
    }
    out.push_back(session_event(kind::kTmuxSessionAppeared, name, view, now));
    for (const PaneInfo* p : view.panes) pane_appeared(out, *p, now);
  }
  return out;
}

}  // namespace aw
