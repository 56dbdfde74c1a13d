#include "src/state/state_event.h"

#include <gtest/gtest.h>

namespace aw {
namespace {

using S = LifecycleState;
const WallTime kT0 = WallTime(std::chrono::seconds(1'700'000'000));

TEST(StateEvent, ChangedCarriesTheDocumentedFields) {
  EntityTable t;
  ASSERT_TRUE(t.create("w1", EntityKind::kWorker, S::kProcessing, kT0));
  auto c = t.transition(
      "w1", S::kFailed, "exited without completing",
      {{"pidfd", "pid 123 exited status 1", kT0}, {"tmux", "session w1 absent", kT0}}, kT0);
  ASSERT_TRUE(c);
  Event e = state_changed_event(*c);
  EXPECT_EQ(e.kind, "state.changed");
  EXPECT_EQ(e.source, "state");
  EXPECT_EQ(e.entity, "w1");
  EXPECT_EQ(e.time, kT0);
  EXPECT_EQ(e.fields.get_string("from"), "processing");
  EXPECT_EQ(e.fields.get_string("to"), "failed");
  EXPECT_EQ(e.fields.get_string("reason"), "exited without completing");
  EXPECT_EQ(e.fields.get_string("evidence"),
            "pidfd: pid 123 exited status 1; tmux: session w1 absent");
  EXPECT_EQ(e.fields.get_int("run"), 0);
  EXPECT_EQ(e.fields.get_string("entity_kind"), "worker");
  EXPECT_EQ(e.fields.find("reset"), nullptr);
  // It is a loggable event: it survives the event log's round trip.
  auto back = parse_event_json(to_json_line(e));
  ASSERT_TRUE(back) << back.error().message;
  EXPECT_EQ(back->fields, e.fields);
}

TEST(StateEvent, CreationAndResetAreMarked) {
  EntityTable t;
  auto created = t.create("p1", EntityKind::kProject, S::kCompleted, kT0);
  ASSERT_TRUE(created);
  EXPECT_EQ(state_changed_event(*created).fields.get_string("from"), "none");
  auto reset = t.reset("p1", S::kQueued, "redo", kT0);
  ASSERT_TRUE(reset);
  Event e = state_changed_event(*reset);
  EXPECT_EQ(e.fields.get_string("from"), "completed");
  EXPECT_EQ(e.fields.get_string("reset"), "true");
  EXPECT_EQ(e.fields.get_int("run"), 1);
  EXPECT_EQ(e.fields.get_string("entity_kind"), "project");
}

TEST(StateEvent, Refused) {
  EntityRecord r;
  r.id = "p1";
  r.kind = EntityKind::kProject;
  r.state = S::kCompleted;
  r.run = 2;
  auto check = check_transition(r, S::kFailed);
  Event e = state_refused_event(r, S::kFailed, check.refusal, "exited 1",
                                {{"pidfd", "status 1", kT0}}, kT0);
  EXPECT_EQ(e.kind, "state.refused");
  EXPECT_EQ(e.entity, "p1");
  EXPECT_EQ(e.fields.get_string("from"), "completed");
  EXPECT_EQ(e.fields.get_string("to"), "failed");
  EXPECT_EQ(e.fields.get_string("refusal"), "completed is final");
  EXPECT_EQ(e.fields.get_string("reason"), "exited 1");
  EXPECT_EQ(e.fields.get_string("evidence"), "pidfd: status 1");
  EXPECT_EQ(e.fields.get_int("run"), 2);
}

TEST(StateEvent, RecoverResetIsAStateChangedWithReasonReset) {
  EntityTable t;
  ASSERT_TRUE(t.create("w1", EntityKind::kWorker, S::kFailed, kT0));
  auto c = t.recover_reset("w1", {.uid = 1000}, kT0);
  ASSERT_TRUE(c);
  Event e = state_changed_event(*c);
  EXPECT_EQ(e.kind, "state.changed");
  EXPECT_EQ(e.fields.get_string("from"), "failed");
  EXPECT_EQ(e.fields.get_string("to"), "queued");
  EXPECT_EQ(e.fields.get_string("reason"), "reset");
  EXPECT_EQ(e.fields.get_string("reset"), "true");
  EXPECT_EQ(e.fields.get_string("evidence"), "recover: reset by uid 1000");
}

}  // namespace
}  // namespace aw
