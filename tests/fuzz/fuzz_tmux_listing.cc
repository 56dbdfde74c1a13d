// tmux `list-panes -a -F …` output (src/tmux/pane_snapshot.h parse_list_panes)
// and the diff of two snapshots.
//
// Input: the whole output of one listing; its first half is also parsed as
// the listing before it, to diff.
//
// Holds beyond "no crash":
//   - a snapshot that parses writes back (in list_panes_args' format) to a
//     listing that parses to the same snapshot; an empty listing is a known
//     snapshot with no panes and no server pid; otherwise every pane has a
//     positive pid and the server pid is set;
//   - a snapshot diffed with itself yields no event (when every pane id is
//     unique in its session and each session has one id, as tmux guarantees);
//   - every event of any diff has source "tmux", the session as entity and a
//     kind in the documented set; diffing from "unknown" never crashes.
#include <set>
#include <string>

#include "src/tmux/pane_snapshot.h"
#include "tests/fuzz/fuzz_support.h"

using namespace aw;

namespace {

std::string write_listing(const TmuxSnapshot& s) {
  std::string out;
  for (const PaneInfo& p : s.panes) {
    out += std::to_string(s.server_pid) + "\t" + p.session_id + "\t" + p.window_index + "\t" +
           p.pane_id + "\t" + std::to_string(p.pane_pid) + "\t" + (p.dead ? "1" : "0") + "\t" +
           (p.dead_status >= 0 ? std::to_string(p.dead_status) : "") + "\t" +
           (p.dead_signal > 0 ? std::to_string(p.dead_signal) : "") + "\t" + p.current_command +
           "\t" + p.session + "\n";
  }
  return out;
}

bool tmux_would_list(const TmuxSnapshot& s) {
  std::set<std::pair<std::string, std::string>> panes;
  std::set<std::pair<std::string, std::string>> ids;
  std::set<std::string> names;
  for (const PaneInfo& p : s.panes) {
    if (!panes.insert({p.session, p.pane_id}).second) return false;
    ids.insert({p.session, p.session_id});
    names.insert(p.session);
  }
  return ids.size() == names.size();
}

void check_events(const std::vector<Event>& events) {
  static const std::set<std::string> kKinds = {"tmux.session.appeared", "tmux.session.vanished",
                                               "tmux.session.seen",     "tmux.pane.appeared",
                                               "tmux.pane.died",        "tmux.pane.vanished"};
  for (const Event& e : events) {
    FUZZ_CHECK(kKinds.count(e.kind) == 1);
    FUZZ_CHECK(e.source == "tmux");
    FUZZ_CHECK(!e.entity.empty());
    FUZZ_CHECK(e.fields.get_string("session") == e.entity);
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view text = fuzz::as_text(data, size);
  auto after = parse_list_panes(text);
  if (!after) {
    FUZZ_CHECK(after.error().message.starts_with("tmux list-panes output, line "));
    return 0;
  }
  FUZZ_CHECK(after->known);
  if (after->panes.empty()) {
    FUZZ_CHECK(after->server_pid == 0);
  } else {
    FUZZ_CHECK(after->server_pid > 0);
  }
  for (const PaneInfo& p : after->panes) {
    FUZZ_CHECK(p.pane_pid > 0);
    FUZZ_CHECK(!p.session.empty());
  }
  auto again = parse_list_panes(write_listing(*after));
  FUZZ_CHECK(again.ok());
  FUZZ_CHECK(*again == *after);

  const WallTime now{std::chrono::seconds(1'700'000'000)};
  if (tmux_would_list(*after)) FUZZ_CHECK(diff_snapshots(*after, *after, now).empty());
  check_events(diff_snapshots(TmuxSnapshot::unknown(), *after, now));
  FUZZ_CHECK(diff_snapshots(*after, TmuxSnapshot::unknown(), now).empty());

  const std::size_t half = text.rfind('\n', text.size() / 2);
  if (half != std::string_view::npos) {
    auto before = parse_list_panes(text.substr(0, half + 1));
    if (before) {
      check_events(diff_snapshots(*before, *after, now));
      check_events(diff_snapshots(*after, *before, now));
    }
  }
  return 0;
}
