#include "src/agents/agent_tracker.h"

#include <gtest/gtest.h>

namespace aw::agents {
namespace {

using namespace std::chrono_literals;

MonoTime t(std::chrono::milliseconds ms) {
  return MonoTime(ms);
}

Observation obs(Source s, std::optional<AgentStatus> status, MonoTime at, std::string said = "",
                std::string process = "") {
  Observation o;
  o.source = s;
  o.status = status;
  o.at = at;
  o.said = said.empty() ? std::string(source_name(s)) + " said" : std::move(said);
  o.process = std::move(process);
  return o;
}

Observation hook(AgentStatus s, MonoTime at, std::string said = "") {
  return obs(Source::kHook, s, at, std::move(said));
}
Observation pane(AgentStatus s, MonoTime at, std::string said = "") {
  return obs(Source::kPane, s, at, std::move(said));
}
Observation tmux(std::optional<AgentStatus> s, MonoTime at) {
  return obs(Source::kTmux, s, at);
}
Observation process(AgentStatus s, MonoTime at, std::string identity) {
  return obs(Source::kProcess, s, at, "", std::move(identity));
}

AgentTracker tracker() {
  return AgentTracker(AgentTrackerOptions{}, "pid 1 start 1", t(0ms));
}

TEST(AgentTrackerTest, SourceNamesRoundTrip) {
  for (auto s : {Source::kProcess, Source::kHook, Source::kPane, Source::kTmux})
    EXPECT_EQ(parse_source(source_name(s)), s);
  EXPECT_EQ(source_name(Source::kHook), "hook");
  EXPECT_EQ(parse_source("screen"), std::nullopt);
}

TEST(AgentTrackerTest, StartsInStartingWithNothingPending) {
  AgentTracker a = tracker();
  EXPECT_EQ(a.status(), AgentStatus::starting());
  EXPECT_EQ(a.next_deadline(), std::nullopt);
  EXPECT_EQ(a.process(), "pid 1 start 1");
}

TEST(AgentTrackerTest, HookReadingChangesStatusAtOnce) {
  AgentTracker a = tracker();
  auto tr = a.observe(hook(AgentStatus::working(), t(100ms), "hook UserPromptSubmit"));
  ASSERT_TRUE(tr);
  EXPECT_EQ(tr->from, AgentStatus::starting());
  EXPECT_EQ(tr->to, AgentStatus::working());
  EXPECT_EQ(tr->at, t(100ms));
  EXPECT_FALSE(tr->new_process);
  EXPECT_FALSE(tr->is_update());
  ASSERT_EQ(tr->evidence.size(), 1u);
  EXPECT_TRUE(tr->evidence[0].decided);
  EXPECT_EQ(tr->evidence[0].said, "hook UserPromptSubmit");
  EXPECT_EQ(a.status(), AgentStatus::working());
  EXPECT_EQ(a.since(), t(100ms));
}

TEST(AgentTrackerTest, UnknownNeverActs) {
  AgentTracker a = tracker();
  a.observe(pane(AgentStatus::working(), t(0ms)));
  EXPECT_FALSE(a.observe(tmux(std::nullopt, t(100ms))));
  EXPECT_EQ(a.status(), AgentStatus::working());
  EXPECT_FALSE(a.observe(obs(Source::kProcess, std::nullopt, t(200ms))));
  EXPECT_EQ(a.status(), AgentStatus::working());
  // ... but it is kept as evidence.
  ASSERT_EQ(a.recent().size(), 2u);
  EXPECT_EQ(a.recent()[0].status, std::nullopt);
  ASSERT_TRUE(a.last(Source::kTmux));
  EXPECT_EQ(a.last(Source::kTmux)->status, std::nullopt);
}

TEST(AgentTrackerTest, UnknownDoesNotCancelAPendingIdle) {
  AgentTracker a = tracker();
  a.observe(pane(AgentStatus::working(), t(0ms)));
  a.observe(pane(AgentStatus::idle(), t(100ms)));
  a.observe(tmux(std::nullopt, t(500ms)));
  auto tr = a.tick(t(1600ms));
  ASSERT_TRUE(tr);
  EXPECT_EQ(tr->to, AgentStatus::idle());
}

TEST(AgentTrackerTest, SameStatusMakesNoTransition) {
  AgentTracker a = tracker();
  ASSERT_TRUE(a.observe(pane(AgentStatus::working(), t(0ms))));
  EXPECT_FALSE(a.observe(pane(AgentStatus::working(), t(100ms))));
  EXPECT_FALSE(a.observe(hook(AgentStatus::working(), t(200ms))));
  EXPECT_EQ(a.since(), t(0ms));
}

TEST(AgentTrackerTest, ChangedResetTimeIsAnUpdate) {
  AgentTracker a = tracker();
  const WallTime r1(std::chrono::seconds(1000)), r2(std::chrono::seconds(2000));
  ASSERT_TRUE(a.observe(pane(AgentStatus::rate_limited(), t(0ms))));
  auto tr = a.observe(pane(AgentStatus::rate_limited(r1), t(100ms)));
  ASSERT_TRUE(tr);
  EXPECT_TRUE(tr->is_update());
  EXPECT_EQ(tr->to.reset_at(), r1);
  auto tr2 = a.observe(pane(AgentStatus::rate_limited(r2), t(200ms)));
  ASSERT_TRUE(tr2);
  EXPECT_EQ(tr2->from.reset_at(), r1);
  EXPECT_EQ(tr2->to.reset_at(), r2);
}

TEST(AgentTrackerTest, RateLimitWithoutTimeKeepsTheKnownTime) {
  AgentTracker a = tracker();
  const WallTime r(std::chrono::seconds(1000));
  a.observe(pane(AgentStatus::rate_limited(r), t(0ms)));
  EXPECT_FALSE(a.observe(pane(AgentStatus::rate_limited(), t(100ms))));
  EXPECT_EQ(a.status().reset_at(), r);
}

TEST(AgentTrackerTest, ChangedContextPercentageIsAnUpdate) {
  AgentTracker a = tracker();
  a.observe(hook(AgentStatus::context_low(12), t(0ms)));
  auto tr = a.observe(hook(AgentStatus::context_low(8), t(100ms)));
  ASSERT_TRUE(tr);
  EXPECT_TRUE(tr->is_update());
  EXPECT_EQ(tr->to.context_pct(), 8);
}

TEST(AgentTrackerTest, ChangedWaitReasonIsATransition) {
  AgentTracker a = tracker();
  a.observe(pane(AgentStatus::waiting(WaitReason::kPermission), t(0ms)));
  auto tr = a.observe(pane(AgentStatus::waiting(WaitReason::kQuestion), t(100ms)));
  ASSERT_TRUE(tr);
  EXPECT_EQ(tr->to.reason(), WaitReason::kQuestion);
}

TEST(AgentTrackerTest, FreshHookOverrulesAContradictingPaneReading) {
  AgentTracker a = tracker();
  a.observe(hook(AgentStatus::waiting(WaitReason::kPermission), t(0ms), "hook Notification"));
  EXPECT_FALSE(a.observe(pane(AgentStatus::working(), t(5s), "pane: spinner")));
  EXPECT_EQ(a.status(), AgentStatus::waiting(WaitReason::kPermission));
  ASSERT_EQ(a.recent().size(), 1u);
  EXPECT_EQ(a.recent()[0].said, "pane: spinner");
}

TEST(AgentTrackerTest, FreshHookOverrulesTmuxToo) {
  AgentTracker a = tracker();
  a.observe(hook(AgentStatus::working(), t(0ms)));
  EXPECT_FALSE(a.observe(tmux(AgentStatus::idle(), t(1s))));
  EXPECT_EQ(a.status(), AgentStatus::working());
}

TEST(AgentTrackerTest, PaneReadingCountsOnceTheHookIsStale) {
  AgentTracker a = tracker();
  a.observe(hook(AgentStatus::working(), t(0ms)));
  auto tr = a.observe(pane(AgentStatus::waiting(WaitReason::kPermission), t(31s)));
  ASSERT_TRUE(tr);
  EXPECT_EQ(tr->to, AgentStatus::waiting(WaitReason::kPermission));
}

TEST(AgentTrackerTest, RepeatedHookReadingsKeepItFresh) {
  AgentTracker a = tracker();
  a.observe(hook(AgentStatus::working(), t(0ms)));
  a.observe(hook(AgentStatus::working(), t(25s)));  // PostToolUse, say
  EXPECT_FALSE(a.observe(pane(AgentStatus::errored(), t(40s))));
  EXPECT_EQ(a.status(), AgentStatus::working());
}

TEST(AgentTrackerTest, AgreeingPaneReadingCountsDuringFreshHook) {
  AgentTracker a = tracker();
  a.observe(hook(AgentStatus::rate_limited(), t(0ms)));
  const WallTime r(std::chrono::seconds(5000));
  // Same state, more detail: a refinement, not a contradiction.
  auto tr = a.observe(pane(AgentStatus::rate_limited(r), t(1s)));
  ASSERT_TRUE(tr);
  EXPECT_EQ(tr->to.reset_at(), r);
}

TEST(AgentTrackerTest, HeldPaneReadingTakesEffectWhenTheHookGoesStale) {
  AgentTracker a = tracker();
  a.observe(hook(AgentStatus::working(), t(0ms)));
  EXPECT_FALSE(a.observe(pane(AgentStatus::rate_limited(), t(2s), "pane: limit")));
  EXPECT_EQ(a.next_deadline(), t(30s));
  EXPECT_FALSE(a.tick(t(29s)));
  auto tr = a.tick(t(30s));
  ASSERT_TRUE(tr);
  EXPECT_EQ(tr->to, AgentStatus::rate_limited());
  EXPECT_EQ(tr->at, t(30s));
  ASSERT_FALSE(tr->evidence.empty());
  EXPECT_EQ(tr->evidence[0].said, "pane: limit");
  EXPECT_TRUE(tr->evidence[0].decided);
  EXPECT_EQ(tr->evidence.size(), 1u);  // not repeated as overruled evidence
  EXPECT_EQ(a.next_deadline(), std::nullopt);
}

TEST(AgentTrackerTest, NewerHookReadingDropsTheHeldOne) {
  AgentTracker a = tracker();
  a.observe(hook(AgentStatus::working(), t(0ms)));
  a.observe(pane(AgentStatus::rate_limited(), t(2s)));
  a.observe(hook(AgentStatus::idle(), t(3s)));  // Stop: newer than the held reading
  EXPECT_EQ(a.next_deadline(), std::nullopt);
  EXPECT_FALSE(a.tick(t(60s)));
  EXPECT_EQ(a.status(), AgentStatus::idle());
}

TEST(AgentTrackerTest, HeldPaneIdleStillHasToHold) {
  AgentTracker a = tracker();
  a.observe(hook(AgentStatus::working(), t(0ms)));
  a.observe(pane(AgentStatus::idle(), t(29s)));
  // At 30s the hook is stale; the idle reading has held 1s of its 1.5s.
  EXPECT_FALSE(a.tick(t(30s)));
  EXPECT_EQ(a.next_deadline(), t(30500ms));
  auto tr = a.tick(t(30500ms));
  ASSERT_TRUE(tr);
  EXPECT_EQ(tr->to, AgentStatus::idle());
}

TEST(AgentTrackerTest, PaneFreshnessOverrulesTmux) {
  AgentTracker a = tracker();
  a.observe(pane(AgentStatus::waiting(WaitReason::kPermission), t(0ms)));
  EXPECT_FALSE(a.observe(tmux(AgentStatus::idle(), t(5s))));
  EXPECT_EQ(a.next_deadline(), t(10s));
  auto tr = a.tick(t(10s));
  ASSERT_TRUE(tr);
  EXPECT_EQ(tr->to, AgentStatus::idle());
}

TEST(AgentTrackerTest, PaneIdleMustHoldTheDebounce) {
  AgentTracker a = tracker();
  a.observe(pane(AgentStatus::working(), t(0ms)));
  EXPECT_FALSE(a.observe(pane(AgentStatus::idle(), t(1000ms), "pane: prompt")));
  EXPECT_EQ(a.status(), AgentStatus::working());
  EXPECT_EQ(a.next_deadline(), t(2500ms));
  EXPECT_FALSE(a.tick(t(2499ms)));
  auto tr = a.tick(t(2500ms));
  ASSERT_TRUE(tr);
  EXPECT_EQ(tr->to, AgentStatus::idle());
  EXPECT_EQ(tr->at, t(2500ms));
  EXPECT_EQ(tr->evidence[0].said, "pane: prompt");
  EXPECT_EQ(a.next_deadline(), std::nullopt);
}

TEST(AgentTrackerTest, WorkingRedrawCancelsPendingIdle) {
  AgentTracker a = tracker();
  a.observe(pane(AgentStatus::working(), t(0ms)));
  a.observe(pane(AgentStatus::idle(), t(1000ms)));
  EXPECT_FALSE(a.observe(pane(AgentStatus::working(), t(1100ms))));  // spinner redraw
  EXPECT_EQ(a.next_deadline(), std::nullopt);
  EXPECT_FALSE(a.tick(t(5s)));
  EXPECT_EQ(a.status(), AgentStatus::working());
}

TEST(AgentTrackerTest, RepeatedIdleReadingsDoNotRestartTheCountdown) {
  AgentTracker a = tracker();
  a.observe(pane(AgentStatus::working(), t(0ms)));
  a.observe(pane(AgentStatus::idle(), t(1000ms), "first"));
  a.observe(pane(AgentStatus::idle(), t(2000ms), "second"));
  EXPECT_EQ(a.next_deadline(), t(2500ms));
  auto tr = a.tick(t(2500ms));
  ASSERT_TRUE(tr);
  ASSERT_EQ(tr->evidence.size(), 2u);
  EXPECT_EQ(tr->evidence[0].said, "first");
  EXPECT_TRUE(tr->evidence[0].decided);
  EXPECT_EQ(tr->evidence[1].said, "second");
  EXPECT_FALSE(tr->evidence[1].decided);
}

TEST(AgentTrackerTest, PendingIdleLeadsToContextLowWhenTheFooterSaysSo) {
  AgentTracker a = tracker();
  a.observe(pane(AgentStatus::working(), t(0ms)));
  a.observe(pane(AgentStatus::idle(), t(1000ms)));
  a.observe(pane(AgentStatus::context_low(9), t(1001ms)));
  a.observe(pane(AgentStatus::idle(), t(1500ms)));
  auto tr = a.tick(t(2500ms));
  ASSERT_TRUE(tr);
  EXPECT_EQ(tr->to, AgentStatus::context_low(9));
}

TEST(AgentTrackerTest, PaneContextLowMustHoldToo) {
  AgentTracker a = tracker();
  a.observe(pane(AgentStatus::working(), t(0ms)));
  EXPECT_FALSE(a.observe(pane(AgentStatus::context_low(8), t(100ms))));
  a.observe(pane(AgentStatus::working(), t(200ms)));  // the footer under a running turn
  EXPECT_FALSE(a.tick(t(5s)));
  EXPECT_EQ(a.status(), AgentStatus::working());
}

TEST(AgentTrackerTest, IdleDoesNotEndRateLimitedErroredOrContextLow) {
  for (const AgentStatus& sticky :
       {AgentStatus::rate_limited(), AgentStatus::errored(), AgentStatus::context_low(5)}) {
    AgentTracker a = tracker();
    a.observe(pane(sticky, t(0ms)));
    a.tick(t(2s));  // a context_low reading from the pane has to hold first
    ASSERT_EQ(a.status(), sticky);
    EXPECT_FALSE(a.observe(pane(AgentStatus::idle(), t(3s))));
    EXPECT_FALSE(a.observe(tmux(AgentStatus::idle(), t(4s))));
    EXPECT_EQ(a.next_deadline(), std::nullopt) << sticky.to_string();
    EXPECT_FALSE(a.tick(t(10s)));
    EXPECT_EQ(a.status(), sticky);
    // Working again ends it.
    auto tr = a.observe(pane(AgentStatus::working(), t(11s)));
    ASSERT_TRUE(tr);
    EXPECT_EQ(tr->from, sticky);
  }
}

TEST(AgentTrackerTest, ContextLowDoesNotEndRateLimited) {
  AgentTracker a = tracker();
  a.observe(pane(AgentStatus::rate_limited(), t(0ms)));
  EXPECT_FALSE(a.observe(pane(AgentStatus::context_low(3), t(100ms))));
  EXPECT_FALSE(a.tick(t(5s)));
  EXPECT_EQ(a.status(), AgentStatus::rate_limited());
}

TEST(AgentTrackerTest, HookIdleIsTakenAtOnce) {
  AgentTracker a = tracker();
  a.observe(hook(AgentStatus::working(), t(0ms)));
  auto tr = a.observe(hook(AgentStatus::idle(), t(100ms), "hook Stop"));
  ASSERT_TRUE(tr);
  EXPECT_EQ(tr->to, AgentStatus::idle());
}

TEST(AgentTrackerTest, HookIdleEndsRateLimited) {
  AgentTracker a = tracker();
  a.observe(pane(AgentStatus::rate_limited(), t(0ms)));
  EXPECT_TRUE(a.observe(hook(AgentStatus::idle(), t(100ms))));
}

TEST(AgentTrackerTest, TmuxIdleIsTakenWithoutDebounce) {
  AgentTracker a = tracker();
  a.observe(tmux(AgentStatus::working(), t(0ms)));
  auto tr = a.observe(tmux(AgentStatus::idle(), t(100ms)));
  ASSERT_TRUE(tr);
  EXPECT_EQ(tr->to, AgentStatus::idle());
}

TEST(AgentTrackerTest, HookReadingCancelsPendingIdle) {
  AgentTracker a = tracker();
  a.observe(pane(AgentStatus::working(), t(0ms)));
  a.observe(pane(AgentStatus::idle(), t(100ms)));
  a.observe(hook(AgentStatus::waiting(WaitReason::kPermission), t(200ms)));
  EXPECT_EQ(a.next_deadline(), std::nullopt);
  EXPECT_EQ(a.status(), AgentStatus::waiting(WaitReason::kPermission));
}

TEST(AgentTrackerTest, ZeroDebounceTakesPaneIdleAtOnce) {
  AgentTrackerOptions o;
  o.idle_debounce = 0ms;
  AgentTracker a(o);
  a.observe(pane(AgentStatus::working(), t(0ms)));
  auto tr = a.observe(pane(AgentStatus::idle(), t(100ms)));
  ASSERT_TRUE(tr);
  EXPECT_EQ(tr->to, AgentStatus::idle());
}

TEST(AgentTrackerTest, LateTimerThenObservationGivesBothTransitions) {
  AgentTracker a = tracker();
  a.observe(pane(AgentStatus::working(), t(0ms)));
  a.observe(pane(AgentStatus::idle(), t(100ms)));
  // The timer for 1.6s fired late; the daemon settles before the new reading.
  const Observation next = pane(AgentStatus::working(), t(3s));
  ASSERT_TRUE(a.next_deadline() && *a.next_deadline() <= next.at);
  auto idle = a.tick(next.at);
  ASSERT_TRUE(idle);
  EXPECT_EQ(idle->to, AgentStatus::idle());
  auto working = a.observe(next);
  ASSERT_TRUE(working);
  EXPECT_EQ(working->to, AgentStatus::working());
}

TEST(AgentTrackerTest, ProcessExitIsFinalForThatProcess) {
  AgentTracker a = tracker();
  a.observe(hook(AgentStatus::working(), t(0ms)));
  auto tr = a.observe(process(AgentStatus::exited(), t(100ms), ""));
  ASSERT_TRUE(tr);
  EXPECT_EQ(tr->to, AgentStatus::exited());
  EXPECT_TRUE(a.exited_for_good());
  // A late hook, a pane line, tmux: kept as evidence, nothing more.
  EXPECT_FALSE(a.observe(hook(AgentStatus::idle(), t(200ms), "late Stop")));
  EXPECT_FALSE(a.observe(pane(AgentStatus::working(), t(300ms))));
  EXPECT_FALSE(a.observe(tmux(AgentStatus::idle(), t(400ms))));
  EXPECT_FALSE(a.observe(process(AgentStatus::starting(), t(500ms), "pid 1 start 1")));
  EXPECT_FALSE(a.tick(t(100s)));
  EXPECT_EQ(a.next_deadline(), std::nullopt);
  EXPECT_EQ(a.status(), AgentStatus::exited());
  EXPECT_EQ(a.recent().size(), 4u);
}

TEST(AgentTrackerTest, ProcessExitBeatsAFreshHook) {
  AgentTracker a = tracker();
  a.observe(hook(AgentStatus::working(), t(0ms)));
  EXPECT_TRUE(a.observe(process(AgentStatus::exited(), t(1s), "pid 1 start 1")));
}

TEST(AgentTrackerTest, ExitClearsPendingIdleAndHeldReadings) {
  AgentTracker a = tracker();
  a.observe(hook(AgentStatus::working(), t(0ms)));
  a.observe(pane(AgentStatus::errored(), t(100ms)));  // held
  a.observe(process(AgentStatus::exited(), t(200ms), ""));
  EXPECT_EQ(a.next_deadline(), std::nullopt);
}

TEST(AgentTrackerTest, NewProcessIdentityStartsAfresh) {
  AgentTracker a = tracker();
  a.observe(hook(AgentStatus::working(), t(0ms)));
  a.observe(process(AgentStatus::exited(), t(100ms), ""));
  auto tr = a.observe(process(AgentStatus::starting(), t(200ms), "pid 2 start 9"));
  ASSERT_TRUE(tr);
  EXPECT_TRUE(tr->new_process);
  EXPECT_EQ(tr->from, AgentStatus::exited());
  EXPECT_EQ(tr->to, AgentStatus::starting());
  EXPECT_EQ(a.process(), "pid 2 start 9");
  EXPECT_FALSE(a.exited_for_good());
  // The old hook's freshness is gone with the old process.
  EXPECT_TRUE(a.observe(pane(AgentStatus::working(), t(300ms))));
}

TEST(AgentTrackerTest, NewProcessInTheSameStateIsStillATransition) {
  AgentTracker a = tracker();
  auto tr = a.observe(process(AgentStatus::starting(), t(100ms), "pid 7 start 3"));
  ASSERT_TRUE(tr);
  EXPECT_TRUE(tr->new_process);
  EXPECT_TRUE(tr->is_update());
}

TEST(AgentTrackerTest, FirstIdentityIsLearntWithoutATransition) {
  AgentTracker a(AgentTrackerOptions{}, "", t(0ms));
  EXPECT_FALSE(a.observe(process(AgentStatus::starting(), t(100ms), "pid 3 start 4")));
  EXPECT_EQ(a.process(), "pid 3 start 4");
}

TEST(AgentTrackerTest, ExitFromAHookIsNotFinal) {
  AgentTracker a = tracker();
  ASSERT_TRUE(a.observe(hook(AgentStatus::exited(), t(0ms), "hook SessionEnd")));
  EXPECT_FALSE(a.exited_for_good());
  auto tr = a.observe(hook(AgentStatus::starting(), t(1s), "hook SessionStart"));
  ASSERT_TRUE(tr);
  EXPECT_EQ(tr->to, AgentStatus::starting());
}

TEST(AgentTrackerTest, EvidenceListsOverruledReadingsNewestFirstWithinTheLimit) {
  AgentTrackerOptions o;
  o.evidence_limit = 3;
  AgentTracker a(o);
  a.observe(hook(AgentStatus::working(), t(0ms)));
  for (int i = 1; i <= 5; ++i)
    a.observe(pane(AgentStatus::errored(), t(std::chrono::milliseconds(i * 100)),
                   "overruled " + std::to_string(i)));
  EXPECT_EQ(a.recent().size(), 3u);
  auto tr = a.observe(hook(AgentStatus::idle(), t(1s), "hook Stop"));
  ASSERT_TRUE(tr);
  ASSERT_EQ(tr->evidence.size(), 3u);
  EXPECT_EQ(tr->evidence[0].said, "hook Stop");
  EXPECT_EQ(tr->evidence[1].said, "overruled 5");
  EXPECT_EQ(tr->evidence[2].said, "overruled 4");
  EXPECT_TRUE(a.recent().empty());
}

TEST(AgentTrackerTest, LastKeepsEachSourcesLatestWord) {
  AgentTracker a = tracker();
  a.observe(hook(AgentStatus::working(), t(0ms), "hook A"));
  a.observe(pane(AgentStatus::working(), t(100ms), "pane B"));
  a.observe(pane(AgentStatus::errored(), t(200ms), "pane C"));  // overruled, still the last word
  ASSERT_TRUE(a.last(Source::kHook));
  EXPECT_EQ(a.last(Source::kHook)->said, "hook A");
  ASSERT_TRUE(a.last(Source::kPane));
  EXPECT_EQ(a.last(Source::kPane)->said, "pane C");
  EXPECT_FALSE(a.last(Source::kTmux));
}

TEST(AgentTrackerTest, HoursOfSpinnerRedrawsStayWorking) {
  AgentTracker a = tracker();
  int transitions = 0;
  for (int i = 0; i < 36000; ++i) {  // an hour at 10 frames a second
    const MonoTime now = t(std::chrono::milliseconds(i * 100));
    if (auto d = a.next_deadline(); d && *d <= now && a.tick(now)) ++transitions;
    if (a.observe(pane(AgentStatus::working(), now))) ++transitions;
    if (a.observe(pane(AgentStatus::idle(), now + 1ms))) ++transitions;  // the prompt box
  }
  EXPECT_EQ(transitions, 1);  // starting → working, once
  EXPECT_EQ(a.status(), AgentStatus::working());
}

}  // namespace
}  // namespace aw::agents
