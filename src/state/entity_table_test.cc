#include "src/state/entity_table.h"

#include <gtest/gtest.h>

#include <chrono>
#include <string>
#include <vector>

namespace aw {
namespace {

using S = LifecycleState;
using std::chrono::hours;
using std::chrono::milliseconds;
using std::chrono::minutes;
using std::chrono::seconds;

const WallTime kT0 = WallTime(seconds(1'700'000'000));

Evidence ev(std::string signal, std::string detail, WallTime t = kT0) {
  return Evidence{std::move(signal), std::move(detail), t};
}

// Captures what the table tells its observer (the journal's view).
struct Recorder {
  std::vector<Mutation> seen;
  void attach(EntityTable& t) {
    t.set_observer([this](const Mutation& m) { seen.push_back(m); });
  }
};

TEST(EntityTable, CreateAndGet) {
  EntityTable t;
  auto c = t.create("w1", EntityKind::kWorker, S::kQueued, kT0);
  ASSERT_TRUE(c) << c.error().message;
  EXPECT_EQ(c->id, "w1");
  EXPECT_FALSE(c->from.has_value());
  EXPECT_EQ(c->to, S::kQueued);
  EXPECT_EQ(c->reason, "created");
  EXPECT_EQ(c->run, 0u);
  const EntityRecord* r = t.get("w1");
  ASSERT_NE(r, nullptr);
  EXPECT_EQ(r->state, S::kQueued);
  EXPECT_EQ(r->since, kT0);
  EXPECT_EQ(t.get("w2"), nullptr);
  EXPECT_EQ(t.size(), 1u);
}

TEST(EntityTable, CreateRefusesDuplicatesAndEmptyIds) {
  EntityTable t;
  ASSERT_TRUE(t.create("w1", EntityKind::kWorker, S::kQueued, kT0));
  auto dup = t.create("w1", EntityKind::kWorker, S::kProcessing, kT0);
  ASSERT_FALSE(dup);
  EXPECT_EQ(dup.error().message, "entity \"w1\" exists (queued)");
  EXPECT_FALSE(t.create("", EntityKind::kWorker, S::kQueued, kT0));
  EXPECT_FALSE(t.create("w2", EntityKind::kWorker, S::kQueued, kT0, ""));
  EXPECT_EQ(t.get("w1")->state, S::kQueued);
}

TEST(EntityTable, EnsureCreatesOnceAndChecksKind) {
  EntityTable t;
  auto first = t.ensure("s1", EntityKind::kSession, S::kProcessing, kT0);
  ASSERT_TRUE(first);
  ASSERT_TRUE(first->has_value());
  EXPECT_EQ((*first)->to, S::kProcessing);
  auto again = t.ensure("s1", EntityKind::kSession, S::kQueued, kT0 + seconds(1));
  ASSERT_TRUE(again);
  EXPECT_FALSE(again->has_value());
  EXPECT_EQ(t.get("s1")->state, S::kProcessing);
  auto wrong = t.ensure("s1", EntityKind::kProject, S::kQueued, kT0);
  ASSERT_FALSE(wrong);
  EXPECT_EQ(wrong.error().message, "entity \"s1\" exists as a session, not a project");
}

TEST(EntityTable, TransitionCarriesReasonEvidenceAndTime) {
  EntityTable t;
  Recorder rec;
  rec.attach(t);
  ASSERT_TRUE(t.create("w1", EntityKind::kWorker, S::kQueued, kT0));
  auto c = t.transition("w1", S::kProcessing, "spawned", {ev("pidfd", "pid 42 started")},
                        kT0 + seconds(1));
  ASSERT_TRUE(c) << c.error().message;
  EXPECT_EQ(c->from, S::kQueued);
  EXPECT_EQ(c->to, S::kProcessing);
  EXPECT_EQ(c->reason, "spawned");
  ASSERT_EQ(c->evidence.size(), 1u);
  EXPECT_EQ(c->evidence[0].detail, "pid 42 started");
  EXPECT_EQ(c->time, kT0 + seconds(1));
  EXPECT_FALSE(c->reset);
  const EntityRecord* r = t.get("w1");
  EXPECT_EQ(r->state, S::kProcessing);
  EXPECT_EQ(r->since, kT0 + seconds(1));
  EXPECT_EQ(r->reason, "spawned");
  ASSERT_EQ(rec.seen.size(), 2u);
  EXPECT_EQ(rec.seen[1].op, MutationOp::kTransition);
  EXPECT_EQ(rec.seen[1].from, S::kQueued);
  EXPECT_EQ(rec.seen[1].to, S::kProcessing);
}

TEST(EntityTable, RefusedTransitionChangesNothingAndRecordsNothing) {
  EntityTable t;
  ASSERT_TRUE(t.create("w1", EntityKind::kWorker, S::kQueued, kT0));
  Recorder rec;
  rec.attach(t);
  EntityRecord before = *t.get("w1");
  auto c = t.transition("w1", S::kFailed, "exited", {ev("pidfd", "status 1")}, kT0 + seconds(5));
  ASSERT_FALSE(c);
  EXPECT_EQ(c.error().message, check_transition(S::kQueued, S::kFailed).refusal);
  EXPECT_EQ(*t.get("w1"), before);
  EXPECT_TRUE(rec.seen.empty());
  auto unknown = t.transition("nope", S::kProcessing, "x", {}, kT0);
  ASSERT_FALSE(unknown);
  EXPECT_EQ(unknown.error().message, "unknown entity \"nope\"");
  auto no_reason = t.transition("w1", S::kProcessing, "", {}, kT0);
  EXPECT_FALSE(no_reason);
  EXPECT_TRUE(rec.seen.empty());
}

TEST(EntityTable, CompletionWins) {
  EntityTable t;
  ASSERT_TRUE(t.create("p1", EntityKind::kProject, S::kProcessing, kT0));
  ASSERT_TRUE(t.transition("p1", S::kCompleted, "marker file", {ev("inotify", "DONE landed")},
                           kT0 + minutes(10)));
  // The process exits non-zero a moment later: the project stays completed.
  for (S to : kAllLifecycleStates) {
    auto late = t.transition("p1", to, "exited", {ev("pidfd", "status 1")}, kT0 + minutes(11));
    ASSERT_FALSE(late);
    EXPECT_EQ(late.error().message, "completed is final");
  }
  EXPECT_EQ(t.get("p1")->state, S::kCompleted);
  EXPECT_EQ(t.get("p1")->since, kT0 + minutes(10));
  EXPECT_EQ(t.get("p1")->reason, "marker file");
}

TEST(EntityTable, LateCompletionAfterAFailureOrAZombieWins) {
  EntityTable t;
  ASSERT_TRUE(t.create("hung", EntityKind::kWorker, S::kProcessing, kT0));
  ASSERT_TRUE(t.transition("hung", S::kTimingOut, "runtime over 30m", {}, kT0 + minutes(30)));
  ASSERT_TRUE(
      t.transition("hung", S::kFailed, "hung", {ev("supervisor", "killed")}, kT0 + minutes(31)));
  // Its DONE marker is found a moment later (written just before the kill).
  auto late = t.transition("hung", S::kCompleted, "marker file", {ev("inotify", "DONE landed")},
                           kT0 + minutes(31) + seconds(1));
  ASSERT_TRUE(late) << late.error().message;
  EXPECT_EQ(late->from, S::kFailed);
  EXPECT_EQ(late->run, 0u);  // the same run completed: not a restart

  ASSERT_TRUE(t.create("z", EntityKind::kWorker, S::kProcessing, kT0));
  ASSERT_TRUE(t.transition("z", S::kZombie, "session gone", {}, kT0 + seconds(1)));
  ASSERT_TRUE(t.transition("z", S::kCompleted, "result landed", {}, kT0 + seconds(2)));
  // And completed stays final: the kill's exit that follows is refused.
  for (const char* id : {"hung", "z"}) {
    auto after = t.transition(id, S::kFailed, "exited", {}, kT0 + minutes(40));
    ASSERT_FALSE(after);
    EXPECT_EQ(after.error().message, "completed is final");
    EXPECT_EQ(t.get(id)->state, S::kCompleted);
  }
}

TEST(EntityTable, RecoverResetRequeuesWithAnAuditedNewRun) {
  EntityTable t;
  Recorder rec;
  rec.attach(t);
  ASSERT_TRUE(t.create("w1", EntityKind::kWorker, S::kProcessing, kT0));
  ASSERT_TRUE(t.transition("w1", S::kZombie, "session gone", {}, kT0 + seconds(1)));
  auto c = t.recover_reset("w1", {.uid = 1000, .force = false}, kT0 + seconds(2));
  ASSERT_TRUE(c) << c.error().message;
  EXPECT_EQ(c->from, S::kZombie);
  EXPECT_EQ(c->to, S::kQueued);
  EXPECT_EQ(c->reason, "reset");
  EXPECT_TRUE(c->reset);
  EXPECT_EQ(c->run, 1u);
  ASSERT_EQ(c->evidence.size(), 1u);
  EXPECT_EQ(c->evidence[0], ev("recover", "reset by uid 1000", kT0 + seconds(2)));
  EXPECT_EQ(t.get("w1")->state, S::kQueued);
  EXPECT_EQ(t.get("w1")->evidence.back().signal, "recover");
  ASSERT_EQ(rec.seen.size(), 3u);
  EXPECT_EQ(rec.seen.back().op, MutationOp::kReset);  // journalled like any change

  // Queued already: refused, nothing recorded.
  auto again = t.recover_reset("w1", {.uid = 1000, .force = true}, kT0 + seconds(3));
  ASSERT_FALSE(again);
  EXPECT_EQ(again.error().message, "already queued");
  EXPECT_EQ(rec.seen.size(), 3u);

  // From every working or failed state.
  for (S from : {S::kProcessing, S::kTimingOut, S::kFailed}) {
    std::string id = "e-" + std::string(lifecycle_state_name(from));
    ASSERT_TRUE(t.create(id, EntityKind::kWorker, from, kT0));
    ASSERT_TRUE(t.recover_reset(id, {.uid = 7}, kT0)) << id;
    EXPECT_EQ(t.get(id)->state, S::kQueued);
  }

  // Completed: only with force, and the audit says so.
  ASSERT_TRUE(t.create("done", EntityKind::kProject, S::kCompleted, kT0));
  auto refused = t.recover_reset("done", {.uid = 1000}, kT0 + seconds(4));
  ASSERT_FALSE(refused);
  EXPECT_EQ(refused.error().message, "completed is final (reset a completed entity with --force)");
  EXPECT_EQ(t.get("done")->state, S::kCompleted);
  auto forced = t.recover_reset("done", {.uid = 1000, .force = true}, kT0 + seconds(5));
  ASSERT_TRUE(forced);
  EXPECT_EQ(forced->evidence[0].detail, "reset by uid 1000, forced");
  EXPECT_EQ(t.get("done")->run, 1u);

  auto unknown = t.recover_reset("nope", {.uid = 1}, kT0);
  ASSERT_FALSE(unknown);
  EXPECT_EQ(unknown.error().message, "unknown entity \"nope\"");

  // Replaying what the journal saw rebuilds the same table.
  EntityTable replayed;
  for (const auto& m : rec.seen) ASSERT_TRUE(replayed.replay(m));
  for (const EntityRecord* r : t.list()) EXPECT_EQ(*replayed.get(r->id), *r) << r->id;
}

TEST(EntityTable, RestartIsANewRun) {
  EntityTable t;
  ASSERT_TRUE(t.create("w1", EntityKind::kWorker, S::kQueued, kT0));
  for (std::uint64_t run = 0; run < 3; ++run) {
    ASSERT_TRUE(t.transition("w1", S::kProcessing, "spawned", {}, kT0));
    ASSERT_TRUE(t.transition("w1", S::kFailed, "killed", {ev("pidfd", "signal 9")}, kT0));
    EXPECT_EQ(t.get("w1")->run, run);
    auto restart = t.transition("w1", S::kQueued, "restart", {}, kT0);
    ASSERT_TRUE(restart);
    EXPECT_EQ(restart->run, run + 1);
    EXPECT_EQ(t.get("w1")->run, run + 1);
  }
}

TEST(EntityTable, ExtensionReturnsToProcessingWithoutANewRun) {
  EntityTable t;
  ASSERT_TRUE(t.create("w1", EntityKind::kWorker, S::kProcessing, kT0));
  ASSERT_TRUE(t.transition("w1", S::kTimingOut, "runtime over 30m", {}, kT0 + minutes(30)));
  auto ext = t.transition("w1", S::kProcessing, "extension 1 of 3: log grew",
                          {ev("logtail", "+4 KiB")}, kT0 + minutes(31));
  ASSERT_TRUE(ext);
  EXPECT_EQ(ext->run, 0u);
  EXPECT_EQ(t.get("w1")->since, kT0 + minutes(31));
}

TEST(EntityTable, ResetMovesEvenACompletedEntityAndIsAudited) {
  EntityTable t;
  ASSERT_TRUE(t.create("p1", EntityKind::kProject, S::kProcessing, kT0));
  ASSERT_TRUE(t.transition("p1", S::kCompleted, "marker", {}, kT0));
  Recorder rec;
  rec.attach(t);
  auto c = t.reset("p1", S::kQueued, "operator: redo integration", kT0 + hours(1));
  ASSERT_TRUE(c) << c.error().message;
  EXPECT_TRUE(c->reset);
  EXPECT_EQ(c->from, S::kCompleted);
  EXPECT_EQ(c->to, S::kQueued);
  EXPECT_EQ(c->run, 1u);
  ASSERT_EQ(c->evidence.size(), 1u);
  EXPECT_EQ(c->evidence[0].signal, "reset");
  EXPECT_EQ(c->evidence[0].detail, "from completed: operator: redo integration");
  const EntityRecord* r = t.get("p1");
  EXPECT_EQ(r->state, S::kQueued);
  EXPECT_EQ(r->reason, "operator: redo integration");
  EXPECT_EQ(r->evidence.back().signal, "reset");
  ASSERT_EQ(rec.seen.size(), 1u);
  EXPECT_EQ(rec.seen[0].op, MutationOp::kReset);
  // Reset to a working state keeps the run; an empty reason or unknown id is refused.
  auto again = t.reset("p1", S::kProcessing, "adopted by hand", kT0 + hours(2));
  ASSERT_TRUE(again);
  EXPECT_EQ(again->run, 1u);
  EXPECT_FALSE(t.reset("p1", S::kFailed, "", kT0));
  EXPECT_FALSE(t.reset("zz", S::kFailed, "x", kT0));
}

TEST(EntityTable, EvidenceIsBoundedToTheNewest) {
  EntityTable t(EntityTableOptions{.max_evidence = 3, .max_evidence_detail = 1024});
  ASSERT_TRUE(t.create("w1", EntityKind::kWorker, S::kQueued, kT0));
  ASSERT_TRUE(t.transition("w1", S::kProcessing, "go", {ev("a", "1"), ev("b", "2")}, kT0));
  ASSERT_TRUE(t.transition("w1", S::kTimingOut, "slow", {ev("c", "3"), ev("d", "4")}, kT0));
  const auto& e = t.get("w1")->evidence;
  ASSERT_EQ(e.size(), 3u);
  EXPECT_EQ(e[0].signal, "b");
  EXPECT_EQ(e[2].signal, "d");
  // One transition with more evidence than the bound keeps its newest items.
  auto c = t.transition("w1", S::kFailed, "killed",
                        {ev("1", ""), ev("2", ""), ev("3", ""), ev("4", ""), ev("5", "")}, kT0);
  ASSERT_TRUE(c);
  ASSERT_EQ(c->evidence.size(), 3u);
  EXPECT_EQ(c->evidence.front().signal, "3");
  EXPECT_EQ(t.get("w1")->evidence.back().signal, "5");
}

TEST(EntityTable, LongEvidenceDetailIsCutAtACharacterBoundary) {
  EntityTable t(EntityTableOptions{.max_evidence = 4, .max_evidence_detail = 10});
  ASSERT_TRUE(t.create("w1", EntityKind::kWorker, S::kQueued, kT0));
  // "éééééx" is 11 bytes; with "..." the cut would land inside a 2-byte character.
  auto c = t.transition("w1", S::kProcessing, "go",
                        {ev("log", "\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9x")}, kT0);
  ASSERT_TRUE(c);
  EXPECT_EQ(c->evidence[0].detail, "\xc3\xa9\xc3\xa9\xc3\xa9...");
  EXPECT_LE(c->evidence[0].detail.size(), 10u);
  auto short_one = t.transition("w1", S::kFailed, "x", {ev("log", "0123456789")}, kT0);
  EXPECT_EQ(short_one->evidence[0].detail, "0123456789");
}

TEST(EntityTable, AttrsAreRecordedOnlyWhenTheyChange) {
  EntityTable t;
  ASSERT_TRUE(t.create("w1", EntityKind::kWorker, S::kQueued, kT0));
  Recorder rec;
  rec.attach(t);
  ASSERT_TRUE(t.set_attr("w1", "restarts", "1"));
  ASSERT_TRUE(t.set_attr("w1", "restarts", "1"));
  ASSERT_TRUE(t.set_attr("w1", "restarts", "2"));
  ASSERT_TRUE(t.erase_attr("w1", "restarts"));
  ASSERT_TRUE(t.erase_attr("w1", "restarts"));
  EXPECT_EQ(rec.seen.size(), 3u);
  EXPECT_TRUE(t.get("w1")->attrs.empty());
  EXPECT_FALSE(t.set_attr("nope", "k", "v"));
  EXPECT_FALSE(t.set_attr("w1", "", "v"));
  EXPECT_FALSE(t.erase_attr("nope", "k"));
}

TEST(EntityTable, RemoveForgets) {
  EntityTable t;
  ASSERT_TRUE(t.create("w1", EntityKind::kWorker, S::kCompleted, kT0));
  ASSERT_TRUE(t.remove("w1"));
  EXPECT_EQ(t.get("w1"), nullptr);
  EXPECT_FALSE(t.remove("w1"));
}

TEST(EntityTable, ListIsSortedById) {
  EntityTable t;
  for (const char* id : {"w3", "w1", "w2"})
    ASSERT_TRUE(t.create(id, EntityKind::kWorker, S::kQueued, kT0));
  auto all = t.list();
  ASSERT_EQ(all.size(), 3u);
  EXPECT_EQ(all[0]->id, "w1");
  EXPECT_EQ(all[2]->id, "w3");
}

TEST(EntityTable, StuckListsWorkingStatesOverTheirThreshold) {
  EntityTable t;
  ASSERT_TRUE(t.create("fresh", EntityKind::kWorker, S::kProcessing, kT0 + minutes(50)));
  ASSERT_TRUE(t.create("old", EntityKind::kWorker, S::kProcessing, kT0));
  ASSERT_TRUE(t.create("hung", EntityKind::kWorker, S::kProcessing, kT0));
  ASSERT_TRUE(t.transition("hung", S::kTimingOut, "over limit", {}, kT0 + minutes(40)));
  ASSERT_TRUE(t.create("zomb", EntityKind::kSession, S::kProcessing, kT0));
  ASSERT_TRUE(t.transition("zomb", S::kZombie, "session gone", {}, kT0 + minutes(56)));
  ASSERT_TRUE(t.create("queued", EntityKind::kWorker, S::kQueued, kT0));
  ASSERT_TRUE(t.create("done", EntityKind::kWorker, S::kCompleted, kT0));
  ASSERT_TRUE(t.create("future", EntityKind::kWorker, S::kProcessing, kT0 + hours(5)));

  WallTime now = kT0 + hours(1);
  auto stuck = t.stuck(now, StuckThresholds{minutes(30), minutes(10), minutes(5)});
  ASSERT_EQ(stuck.size(), 2u);
  EXPECT_EQ(stuck[0].id, "old");
  EXPECT_EQ(stuck[0].age, hours(1));
  EXPECT_EQ(stuck[1].id, "hung");
  EXPECT_EQ(stuck[1].state, S::kTimingOut);
  EXPECT_EQ(stuck[1].age, minutes(20));
  // Exactly at the threshold counts; a future `since` is age 0, never negative.
  auto at = t.stuck(kT0 + minutes(61), StuckThresholds{minutes(30), minutes(10), minutes(5)});
  ASSERT_EQ(at.size(), 3u);
  EXPECT_EQ(at[2].id, "zomb");
  EXPECT_EQ(at[2].age, minutes(5));
  auto all = t.stuck(now, StuckThresholds{Duration::zero(), Duration::zero(), Duration::zero()});
  EXPECT_EQ(all.back().id, "future");
  EXPECT_EQ(all.back().age, Duration::zero());
}

// Hours of a fleet's life, driven by explicit `now` values: a worker crashes twice,
// restarts, hangs, earns an extension, completes; a late exit cannot fail it.
TEST(EntityTable, HoursOfLifecycleInMilliseconds) {
  EntityTable t;
  std::vector<Change> log;
  WallTime now = kT0;
  auto step = [&](std::string_view id, S to, std::string reason, Duration later) {
    now += later;
    auto c = t.transition(id, to, std::move(reason), {ev("test", "step", now)}, now);
    if (c) log.push_back(*c);
    return c.ok();
  };
  ASSERT_TRUE(t.create("w1", EntityKind::kWorker, S::kQueued, now));
  ASSERT_TRUE(step("w1", S::kProcessing, "spawned", seconds(1)));
  ASSERT_TRUE(step("w1", S::kFailed, "exited 1", minutes(3)));
  ASSERT_TRUE(step("w1", S::kQueued, "restart", seconds(2)));
  ASSERT_TRUE(step("w1", S::kProcessing, "spawned", milliseconds(10)));
  EXPECT_TRUE(t.stuck(now + minutes(29)).empty());
  EXPECT_EQ(t.stuck(now + minutes(30)).size(), 1u);
  ASSERT_TRUE(step("w1", S::kTimingOut, "runtime over 1800s", minutes(30)));
  for (int i = 1; i <= 3; ++i) {
    ASSERT_TRUE(step("w1", S::kProcessing, "extension " + std::to_string(i), minutes(2)));
    ASSERT_TRUE(step("w1", S::kTimingOut, "runtime over extension", minutes(10)));
  }
  ASSERT_TRUE(step("w1", S::kCompleted, "DONE marker", minutes(1)));
  EXPECT_FALSE(step("w1", S::kFailed, "exited 1 after completing", seconds(3)));
  EXPECT_FALSE(step("w1", S::kQueued, "restart", seconds(3)));

  const EntityRecord* r = t.get("w1");
  EXPECT_EQ(r->state, S::kCompleted);
  EXPECT_EQ(r->run, 1u);
  EXPECT_EQ(now - kT0, seconds(1) + minutes(3) + seconds(2) + milliseconds(10) + minutes(30) +
                           3 * minutes(12) + minutes(1) + seconds(6));
  ASSERT_EQ(log.size(), 12u);
  EXPECT_EQ(log.back().to, S::kCompleted);
  EXPECT_EQ(r->since, log.back().time);
  EXPECT_TRUE(t.stuck(now + hours(24)).empty());
}

TEST(EntityTable, ReplayOfObservedMutationsRebuildsTheSameTable) {
  EntityTable live(EntityTableOptions{.max_evidence = 2, .max_evidence_detail = 16});
  Recorder rec;
  rec.attach(live);
  ASSERT_TRUE(live.create("w1", EntityKind::kWorker, S::kQueued, kT0));
  ASSERT_TRUE(live.create("w2", EntityKind::kSession, S::kProcessing, kT0));
  ASSERT_TRUE(live.transition("w1", S::kProcessing, "go", {ev("a", "x"), ev("b", "y")}, kT0));
  ASSERT_TRUE(live.transition("w1", S::kFailed, "died", {ev("pidfd", std::string(100, 'z'))}, kT0));
  ASSERT_TRUE(live.transition("w1", S::kQueued, "restart", {}, kT0 + seconds(1)));
  ASSERT_TRUE(live.set_attr("w1", "restarts", "1"));
  ASSERT_TRUE(live.set_attr("w2", "pid", "77"));
  ASSERT_TRUE(live.erase_attr("w2", "pid"));
  ASSERT_TRUE(live.reset("w2", S::kQueued, "by hand", kT0 + seconds(2)));
  ASSERT_TRUE(live.create("gone", EntityKind::kProject, S::kCompleted, kT0));
  ASSERT_TRUE(live.remove("gone"));

  EntityTable replayed(live.options());
  for (const auto& m : rec.seen) ASSERT_TRUE(replayed.replay(m));
  ASSERT_EQ(replayed.size(), live.size());
  for (const EntityRecord* r : live.list()) EXPECT_EQ(*replayed.get(r->id), *r) << r->id;
}

TEST(EntityTable, ReplayToleratesALostCreateButNotAnOrphanAttr) {
  EntityTable t;
  Mutation m;
  m.op = MutationOp::kTransition;
  m.id = "w9";
  m.kind = EntityKind::kSession;
  m.from = S::kQueued;
  m.to = S::kProcessing;
  m.reason = "spawned";
  m.time = kT0;
  m.run = 4;
  ASSERT_TRUE(t.replay(m));
  EXPECT_EQ(t.get("w9")->kind, EntityKind::kSession);
  EXPECT_EQ(t.get("w9")->run, 4u);
  Mutation attr;
  attr.op = MutationOp::kSetAttr;
  attr.id = "nobody";
  attr.key = "k";
  EXPECT_FALSE(t.replay(attr));
  EXPECT_EQ(t.get("nobody"), nullptr);
  // Replay bypasses the state machine: the journal records facts, not requests.
  m.from = S::kCompleted;
  m.to = S::kFailed;
  EXPECT_TRUE(t.replay(m));
}

}  // namespace
}  // namespace aw
