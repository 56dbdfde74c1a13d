#include "src/state/lifecycle.h"

// The pure core must not pull libuv in (STYLE §9): these headers together.
#include "src/state/entity_table.h"
#include "src/state/state_codec.h"
#include "src/state/state_event.h"
#ifdef UV_VERSION_MAJOR
#error "the lifecycle core includes <uv.h>"
#endif

#include <gtest/gtest.h>

#include <set>
#include <utility>

namespace aw {
namespace {

using S = LifecycleState;

TEST(LifecycleNames, StatesRoundTrip) {
  std::set<std::string_view> names;
  for (S s : kAllLifecycleStates) {
    auto name = lifecycle_state_name(s);
    names.insert(name);
    EXPECT_EQ(parse_lifecycle_state(name), s) << name;
  }
  EXPECT_EQ(names, (std::set<std::string_view>{"queued", "processing", "timing_out", "zombie",
                                               "failed", "completed"}));
  EXPECT_FALSE(parse_lifecycle_state("Processing"));
  EXPECT_FALSE(parse_lifecycle_state("timing-out"));
  EXPECT_FALSE(parse_lifecycle_state(""));
}

TEST(LifecycleNames, KindsRoundTrip) {
  for (auto k : {EntityKind::kWorker, EntityKind::kSession, EntityKind::kProject})
    EXPECT_EQ(parse_entity_kind(entity_kind_name(k)), k);
  EXPECT_EQ(entity_kind_name(EntityKind::kSession), "session");
  EXPECT_FALSE(parse_entity_kind("workers"));
}

// The legal edges, written out independently of kTransitionTable so a change to
// the table must be a change to this test too.
const std::set<std::pair<S, S>> kLegal = {
    {S::kQueued, S::kProcessing},   {S::kProcessing, S::kTimingOut}, {S::kProcessing, S::kZombie},
    {S::kProcessing, S::kFailed},   {S::kProcessing, S::kCompleted}, {S::kTimingOut, S::kFailed},
    {S::kTimingOut, S::kCompleted}, {S::kTimingOut, S::kProcessing}, {S::kZombie, S::kFailed},
    {S::kFailed, S::kQueued},       {S::kZombie, S::kCompleted},     {S::kFailed, S::kCompleted},
    {S::kProcessing, S::kQueued},
};

TEST(CheckTransition, EveryPairIsLegalOrRefusedWithTheRightReason) {
  int checked = 0;
  for (S from : kAllLifecycleStates) {
    for (S to : kAllLifecycleStates) {
      ++checked;
      SCOPED_TRACE(std::string(lifecycle_state_name(from)) + " -> " +
                   std::string(lifecycle_state_name(to)));
      TransitionResult r = check_transition(from, to);
      if (from == S::kCompleted) {
        EXPECT_FALSE(r.applied);
        EXPECT_EQ(r.code, Refusal::kCompletedIsFinal);
        EXPECT_EQ(r.refusal, "completed is final");
      } else if (from == to) {
        EXPECT_FALSE(r.applied);
        EXPECT_EQ(r.code, Refusal::kSameState);
        EXPECT_EQ(r.refusal, "already " + std::string(lifecycle_state_name(from)));
      } else if (kLegal.count({from, to})) {
        EXPECT_TRUE(r.applied);
        EXPECT_EQ(r.code, Refusal::kNone);
        EXPECT_EQ(r.refusal, "");
        EXPECT_NE(find_transition_rule(from, to), nullptr);
      } else {
        EXPECT_FALSE(r.applied);
        EXPECT_EQ(r.code, Refusal::kIllegalEdge);
        EXPECT_EQ(r.refusal.rfind("illegal transition " + std::string(lifecycle_state_name(from)) +
                                      " -> " + std::string(lifecycle_state_name(to)),
                                  0),
                  0u)
            << r.refusal;
        EXPECT_EQ(find_transition_rule(from, to), nullptr);
      }
    }
  }
  EXPECT_EQ(checked, 36);
  EXPECT_EQ(kTransitionTable.size(), kLegal.size());
}

TEST(CheckTransition, IllegalRefusalListsTheLegalTargets) {
  EXPECT_EQ(check_transition(S::kQueued, S::kFailed).refusal,
            "illegal transition queued -> failed (from queued: processing)");
  EXPECT_EQ(check_transition(S::kZombie, S::kQueued).refusal,
            "illegal transition zombie -> queued (from zombie: failed, completed)");
  EXPECT_EQ(check_transition(S::kFailed, S::kProcessing).refusal,
            "illegal transition failed -> processing (from failed: queued, completed)");
  EXPECT_EQ(check_transition(S::kTimingOut, S::kZombie).refusal,
            "illegal transition timing_out -> zombie (from timing_out: failed, completed, "
            "processing)");
}

TEST(CheckTransition, CompletionWinsOverEveryLaterRequest) {
  EntityRecord done;
  done.state = S::kCompleted;
  for (S to : kAllLifecycleStates) {
    auto r = check_transition(done, to);
    EXPECT_FALSE(r.applied);
    EXPECT_EQ(r.refusal, "completed is final");
  }
}

// Completion wins in both directions of time: a marker that lands after the
// entity was failed (killed as hung, given up) or while it is being terminated
// as a zombie still completes it; nothing leaves completed.
TEST(CheckTransition, LateCompletionWinsOverFailedAndZombie) {
  for (S from : kAllLifecycleStates) {
    if (from == S::kQueued || from == S::kCompleted) continue;
    EXPECT_TRUE(check_transition(from, S::kCompleted).applied) << lifecycle_state_name(from);
  }
  EXPECT_FALSE(check_transition(S::kQueued, S::kCompleted).applied);  // never started
  for (S to : kAllLifecycleStates) EXPECT_FALSE(check_transition(S::kCompleted, to).applied);
}

TEST(CheckRecoverReset, WorkingAndFailedStatesMayBeResetCompletedOnlyWithForce) {
  for (S from : {S::kProcessing, S::kTimingOut, S::kZombie, S::kFailed}) {
    for (bool force : {false, true}) {
      auto r = check_recover_reset(from, force);
      EXPECT_TRUE(r.applied) << lifecycle_state_name(from);
      EXPECT_EQ(r.code, Refusal::kNone);
    }
  }
  auto completed = check_recover_reset(S::kCompleted, false);
  EXPECT_FALSE(completed.applied);
  EXPECT_EQ(completed.code, Refusal::kCompletedIsFinal);
  EXPECT_EQ(completed.refusal, "completed is final (reset a completed entity with --force)");
  EXPECT_TRUE(check_recover_reset(S::kCompleted, true).applied);
  for (bool force : {false, true}) {
    auto queued = check_recover_reset(S::kQueued, force);
    EXPECT_FALSE(queued.applied);
    EXPECT_EQ(queued.code, Refusal::kSameState);
    EXPECT_EQ(queued.refusal, "already queued");
  }
}

TEST(CheckTransition, OnlyARequeueFromFailedOrProcessingStartsANewRun) {
  for (S from : kAllLifecycleStates)
    for (S to : kAllLifecycleStates)
      EXPECT_EQ(is_restart_edge(from, to),
                to == S::kQueued && (from == S::kFailed || from == S::kProcessing));
}

TEST(CheckTransition, EveryRuleHasAMeaning) {
  for (const auto& rule : kTransitionTable) EXPECT_FALSE(rule.meaning.empty());
}

TEST(Evidence, Summary) {
  EXPECT_EQ(summarize_evidence({}), "");
  EXPECT_EQ(summarize_evidence({{"pidfd", "pid 123 exited status 1", {}},
                                {"tmux", "session w1 absent", {}},
                                {"timer", "", {}}}),
            "pidfd: pid 123 exited status 1; tmux: session w1 absent; timer");
}

}  // namespace
}  // namespace aw
