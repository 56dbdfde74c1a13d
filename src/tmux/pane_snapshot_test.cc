#include "src/tmux/pane_snapshot.h"

#include <gtest/gtest.h>

namespace aw {
namespace {

const WallTime kNow = WallTime(std::chrono::seconds(1'700'000'000));

PaneInfo pane(std::string session, std::string sid, std::string pane_id, pid_t pid,
              std::string window = "0") {
  PaneInfo p;
  p.session = std::move(session);
  p.session_id = std::move(sid);
  p.window_index = std::move(window);
  p.pane_id = std::move(pane_id);
  p.pane_pid = pid;
  p.current_command = "sh";
  return p;
}

PaneInfo dead(PaneInfo p, int status, int signal = 0) {
  p.dead = true;
  p.dead_status = status;
  p.dead_signal = signal;
  return p;
}

TmuxSnapshot snap(std::vector<PaneInfo> panes) {
  TmuxSnapshot s;
  s.panes = std::move(panes);
  return s;
}

std::vector<std::string> kinds(const std::vector<Event>& events) {
  std::vector<std::string> out;
  out.reserve(events.size());
  for (const Event& e : events) out.push_back(e.kind + " " + e.entity);
  return out;
}

using Kinds = std::vector<std::string>;

TEST(ListPanesArgs, AsksForEveryPaneWithTabsBetweenFields) {
  auto args = list_panes_args();
  ASSERT_EQ(args.size(), 4u);
  EXPECT_EQ(args[0], "list-panes");
  EXPECT_EQ(args[1], "-a");
  EXPECT_EQ(args[2], "-F");
  EXPECT_TRUE(args[3].starts_with("#{pid}\t#{session_id}\t"));
  // The free-text fields have their tabs and newlines replaced by tmux itself.
  EXPECT_NE(args[3].find("#{s/[\t\n]/?/:pane_current_command}"), std::string::npos);
  EXPECT_TRUE(args[3].ends_with("#{s/[\t\n]/?/:session_name}"));
}

TEST(ParseListPanes, EmptyOutputIsAKnownSnapshotWithNoSessions) {
  auto s = parse_list_panes("");
  ASSERT_TRUE(s.ok());
  EXPECT_TRUE(s->known);
  EXPECT_TRUE(s->panes.empty());
  EXPECT_TRUE(s->sessions().empty());
}

TEST(ParseListPanes, ReadsLivePanesDeadPanesAndOddNames) {
  auto s = parse_list_panes(
      "4321\t$0\t0\t%0\t1234\t0\t\t\tclaude\tw1\n"
      "4321\t$1\t2\t%5\t99\t1\t3\t\tsh\tx; touch /tmp/p $(id)\n"
      "4321\t$1\t3\t%6\t100\t1\t\t9\t\tx; touch /tmp/p $(id)\n");
  ASSERT_TRUE(s.ok()) << s.error().message;
  ASSERT_EQ(s->panes.size(), 3u);
  EXPECT_EQ(s->server_pid, 4321);
  const PaneInfo& a = s->panes[0];
  EXPECT_EQ(a.session, "w1");
  EXPECT_EQ(a.session_id, "$0");
  EXPECT_EQ(a.window_index, "0");
  EXPECT_EQ(a.pane_id, "%0");
  EXPECT_EQ(a.pane_pid, 1234);
  EXPECT_FALSE(a.dead);
  EXPECT_EQ(a.dead_status, -1);
  EXPECT_EQ(a.dead_signal, 0);
  EXPECT_EQ(a.current_command, "claude");
  EXPECT_TRUE(s->panes[1].dead);
  EXPECT_EQ(s->panes[1].dead_status, 3);
  EXPECT_EQ(s->panes[2].dead_status, -1);
  EXPECT_EQ(s->panes[2].dead_signal, 9);
  EXPECT_EQ(s->panes[2].current_command, "");
  EXPECT_TRUE(s->has_session("x; touch /tmp/p $(id)"));
  EXPECT_FALSE(s->has_session("w"));  // exact, never a prefix
  EXPECT_EQ(s->sessions(), (std::set<std::string>{"w1", "x; touch /tmp/p $(id)"}));
  EXPECT_EQ(s->panes_of("x; touch /tmp/p $(id)").size(), 2u);
}

TEST(ParseListPanes, AcceptsAMissingFinalNewline) {
  auto s = parse_list_panes("7\t$0\t0\t%0\t12\t0\t\t\tsh\tw1");
  ASSERT_TRUE(s.ok());
  EXPECT_EQ(s->panes.size(), 1u);
}

TEST(ParseListPanes, TooFewFieldsNamesTheLine) {
  auto s = parse_list_panes("7\t$0\t0\t%0\t12\t0\t\t\tsh\tw1\n7\t$1\t0\t%1\n");
  ASSERT_FALSE(s.ok());
  EXPECT_EQ(s.error().message,
            "tmux list-panes output, line 2: expected 10 tab-separated fields, got 4");
}

TEST(ParseListPanes, TooManyFieldsIsAnError) {
  auto s = parse_list_panes("7\t$0\t0\t%0\t12\t0\t\t\tsh\tw1\textra\n");
  ASSERT_FALSE(s.ok());
  EXPECT_NE(s.error().message.find("line 1: expected 10 tab-separated fields, got more"),
            std::string::npos);
}

TEST(ParseListPanes, BadPidNamesTheFieldAndWhatWasExpected) {
  auto s = parse_list_panes("7\t$0\t0\t%0\tabc\t0\t\t\tsh\tw1\n");
  ASSERT_FALSE(s.ok());
  EXPECT_EQ(s.error().message,
            "tmux list-panes output, line 1: pane_pid is \"abc\", expected a process id");
}

TEST(ParseListPanes, BadIdsAndFlagsAreErrors) {
  EXPECT_FALSE(parse_list_panes("7\t0\t0\t%0\t1\t0\t\t\tsh\tw\n").ok());    // session id
  EXPECT_FALSE(parse_list_panes("7\t$0\tx\t%0\t1\t0\t\t\tsh\tw\n").ok());   // window
  EXPECT_FALSE(parse_list_panes("7\t$0\t0\t0\t1\t0\t\t\tsh\tw\n").ok());    // pane id
  EXPECT_FALSE(parse_list_panes("7\t$0\t0\t%0\t1\t2\t\t\tsh\tw\n").ok());   // dead flag
  EXPECT_FALSE(parse_list_panes("7\t$0\t0\t%0\t1\t1\tx\t\tsh\tw\n").ok());  // status
  EXPECT_FALSE(parse_list_panes("7\t$0\t0\t%0\t1\t1\t\t0\tsh\tw\n").ok());  // signal
  EXPECT_FALSE(parse_list_panes("7\t$0\t0\t%0\t1\t0\t\t\tsh\t\n").ok());    // session name
  EXPECT_FALSE(parse_list_panes("7\t$0\t0\t%0\t0\t0\t\t\tsh\tw\n").ok());   // pid 0
}

TEST(ParseListPanes, EveryLineNamesTheSameServer) {
  auto s = parse_list_panes("7\t$0\t0\t%0\t12\t0\t\t\tsh\tw1\n8\t$1\t0\t%1\t13\t0\t\t\tsh\tw2\n");
  ASSERT_FALSE(s.ok());
  EXPECT_EQ(s.error().message,
            "tmux list-panes output, line 2: pid is 8, expected 7 (one server answers a listing)");
  EXPECT_FALSE(parse_list_panes("x\t$0\t0\t%0\t12\t0\t\t\tsh\tw1\n").ok());
  EXPECT_FALSE(parse_list_panes("0\t$0\t0\t%0\t12\t0\t\t\tsh\tw1\n").ok());
}

TEST(ParseListPanes, AnEmptyLineInTheMiddleIsAnError) {
  auto s = parse_list_panes("7\t$0\t0\t%0\t12\t0\t\t\tsh\tw1\n\n7\t$1\t0\t%1\t13\t0\t\t\tsh\tw2\n");
  ASSERT_FALSE(s.ok());
  EXPECT_NE(s.error().message.find("line 2: empty line"), std::string::npos);
}

TEST(DiffSnapshots, FromUnknownReportsSeenSessionsNotAppeared) {
  auto after = snap(
      {pane("w1", "$0", "%0", 10), pane("w2", "$1", "%1", 11), pane("w2", "$1", "%2", 12, "1")});
  auto events = diff_snapshots(TmuxSnapshot::unknown(), after, kNow);
  EXPECT_EQ(kinds(events), (Kinds{"tmux.session.seen w1", "tmux.session.seen w2"}));
  const Event& w2 = events[1];
  EXPECT_EQ(w2.source, "tmux");
  EXPECT_EQ(w2.time, kNow);
  EXPECT_EQ(w2.fields.get_string("session"), "w2");
  EXPECT_EQ(w2.fields.get_string("session_id"), "$1");
  EXPECT_EQ(w2.fields.get_int("panes"), 2);
  EXPECT_EQ(w2.fields.get_int("pane_pid"), 11);
}

TEST(DiffSnapshots, FromUnknownReportsPanesThatDiedWhileNobodyWatched) {
  auto after = snap({dead(pane("w1", "$0", "%0", 10), 3), pane("w2", "$1", "%1", 11)});
  auto events = diff_snapshots(TmuxSnapshot::unknown(), after, kNow);
  ASSERT_EQ(kinds(events),
            (Kinds{"tmux.session.seen w1", "tmux.pane.died w1", "tmux.session.seen w2"}));
  EXPECT_EQ(events[1].fields.get_int("status"), 3);
  EXPECT_EQ(events[1].fields.get_string("at_start"), "true");
  EXPECT_EQ(events[1].fields.get_string("pane"), "%0");
}

TEST(DiffSnapshots, FromKnownEmptyReportsAppearedSessionsAndTheirPanes) {
  auto after = snap({pane("w1", "$0", "%0", 10, "2")});
  auto events = diff_snapshots(TmuxSnapshot{}, after, kNow);
  ASSERT_EQ(kinds(events), (Kinds{"tmux.session.appeared w1", "tmux.pane.appeared w1"}));
  const Event& p = events[1];
  EXPECT_EQ(p.fields.get_int("window"), 2);
  EXPECT_EQ(p.fields.get_string("pane"), "%0");
  EXPECT_EQ(p.fields.get_int("pane_pid"), 10);
  EXPECT_EQ(p.fields.get_string("command"), "sh");
}

TEST(DiffSnapshots, SameSnapshotGivesNoEvents) {
  auto s = snap({pane("w1", "$0", "%0", 10), dead(pane("w2", "$1", "%1", 11), 0)});
  EXPECT_TRUE(diff_snapshots(s, s, kNow).empty());
}

TEST(DiffSnapshots, VanishedSessionReportsItsPanesFirst) {
  auto before = snap({pane("w1", "$0", "%0", 10), pane("w2", "$1", "%1", 11)});
  auto after = snap({pane("w2", "$1", "%1", 11)});
  auto events = diff_snapshots(before, after, kNow);
  ASSERT_EQ(kinds(events), (Kinds{"tmux.pane.vanished w1", "tmux.session.vanished w1"}));
  EXPECT_EQ(events[0].fields.get_string("was_dead"), "false");
  EXPECT_EQ(events[1].fields.get_int("pane_pid"), 10);
}

TEST(DiffSnapshots, ToKnownEmptyEverythingVanished) {
  auto before = snap({pane("a", "$0", "%0", 10), pane("b", "$1", "%1", 11)});
  auto events = diff_snapshots(before, TmuxSnapshot{}, kNow);
  EXPECT_EQ(kinds(events), (Kinds{"tmux.pane.vanished a", "tmux.session.vanished a",
                                  "tmux.pane.vanished b", "tmux.session.vanished b"}));
}

TEST(DiffSnapshots, ToUnknownGivesNoEvents) {
  auto before = snap({pane("a", "$0", "%0", 10)});
  EXPECT_TRUE(diff_snapshots(before, TmuxSnapshot::unknown(), kNow).empty());
}

TEST(DiffSnapshots, PaneThatDiedReportsStatusOrSignal) {
  auto before = snap({pane("w1", "$0", "%0", 10), pane("w1", "$0", "%1", 11, "1")});
  auto after =
      snap({dead(pane("w1", "$0", "%0", 10), 7), dead(pane("w1", "$0", "%1", 11, "1"), -1, 9)});
  auto events = diff_snapshots(before, after, kNow);
  ASSERT_EQ(kinds(events), (Kinds{"tmux.pane.died w1", "tmux.pane.died w1"}));
  EXPECT_EQ(events[0].fields.get_int("status"), 7);
  EXPECT_EQ(events[0].fields.find("signal"), nullptr);
  EXPECT_EQ(events[0].fields.find("at_start"), nullptr);
  EXPECT_EQ(events[1].fields.get_int("signal"), 9);
  EXPECT_EQ(events[1].fields.find("status"), nullptr);
}

TEST(DiffSnapshots, PaneClosedInALiveSessionVanishes) {
  auto before = snap({pane("w1", "$0", "%0", 10), pane("w1", "$0", "%1", 11, "1")});
  auto after = snap({pane("w1", "$0", "%0", 10)});
  EXPECT_EQ(kinds(diff_snapshots(before, after, kNow)), (Kinds{"tmux.pane.vanished w1"}));
}

TEST(DiffSnapshots, NewPaneInALiveSessionAppears) {
  auto before = snap({pane("w1", "$0", "%0", 10)});
  auto after = snap({pane("w1", "$0", "%0", 10), pane("w1", "$0", "%3", 13, "1")});
  auto events = diff_snapshots(before, after, kNow);
  ASSERT_EQ(kinds(events), (Kinds{"tmux.pane.appeared w1"}));
  EXPECT_EQ(events[0].fields.get_string("pane"), "%3");
}

TEST(DiffSnapshots, PaneAppearingAlreadyDeadAlsoDied) {
  auto after = snap({dead(pane("w1", "$0", "%0", 10), 1)});
  EXPECT_EQ(kinds(diff_snapshots(TmuxSnapshot{}, after, kNow)),
            (Kinds{"tmux.session.appeared w1", "tmux.pane.appeared w1", "tmux.pane.died w1"}));
}

TEST(DiffSnapshots, RespawnedPaneIsTheOldOneVanishedAndANewOne) {
  auto before = snap({dead(pane("w1", "$0", "%0", 10), 1)});
  auto after = snap({pane("w1", "$0", "%0", 20)});
  auto events = diff_snapshots(before, after, kNow);
  ASSERT_EQ(kinds(events), (Kinds{"tmux.pane.vanished w1", "tmux.pane.appeared w1"}));
  EXPECT_EQ(events[0].fields.get_int("pane_pid"), 10);
  EXPECT_EQ(events[0].fields.get_string("was_dead"), "true");
  EXPECT_EQ(events[1].fields.get_int("pane_pid"), 20);
}

TEST(DiffSnapshots, SessionRecreatedUnderTheSameNameIsANewSession) {
  auto before = snap({pane("w1", "$0", "%0", 10)});
  auto after = snap({pane("w1", "$4", "%9", 30)});
  auto events = diff_snapshots(before, after, kNow);
  ASSERT_EQ(kinds(events), (Kinds{"tmux.pane.vanished w1", "tmux.session.vanished w1",
                                  "tmux.session.appeared w1", "tmux.pane.appeared w1"}));
  EXPECT_EQ(events[1].fields.get_string("session_id"), "$0");
  EXPECT_EQ(events[2].fields.get_string("session_id"), "$4");
}

TEST(DiffSnapshots, WindowLinkedIntoTwoSessionsCountsForEach) {
  auto before = snap({pane("a", "$0", "%0", 10), pane("b", "$1", "%0", 10)});
  auto after = snap({pane("a", "$0", "%0", 10)});
  EXPECT_EQ(kinds(diff_snapshots(before, after, kNow)),
            (Kinds{"tmux.pane.vanished b", "tmux.session.vanished b"}));
}

}  // namespace
}  // namespace aw
