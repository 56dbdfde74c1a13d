#include "src/daemon/diagnosis.h"

#include <gtest/gtest.h>

namespace aw {
namespace {

using namespace std::chrono_literals;

WallTime at(int minutes) {
  return WallTime{} + std::chrono::hours(24 * 365 * 50) + std::chrono::minutes(minutes);
}

bool has(const std::vector<Problem>& ps, const std::string& subject, const std::string& what_part) {
  for (const auto& p : ps)
    if (p.subject == subject && p.what.find(what_part) != std::string::npos) return true;
  return false;
}

TEST(Diagnosis, HealthyRunningDaemonHasNoProblems) {
  EntityTable t;
  ASSERT_TRUE(t.create("w1", EntityKind::kWorker, LifecycleState::kProcessing, at(0)).ok());
  DiagnosisInput in;
  in.table = &t;
  in.now = at(5);
  in.daemon_running = true;
  in.live = true;
  EXPECT_TRUE(diagnose(in).empty());
}

TEST(Diagnosis, StuckZombieGaveUpDegradedAndRejectedRulesAreProblems) {
  EntityTable t;
  ASSERT_TRUE(t.create("slow", EntityKind::kProject, LifecycleState::kProcessing, at(0)).ok());
  ASSERT_TRUE(t.create("z", EntityKind::kWorker, LifecycleState::kZombie, at(50)).ok());
  DiagnosisInput in;
  in.table = &t;
  in.now = at(60);
  in.daemon_running = true;
  in.live = true;
  in.workers = {WorkerSummary{"w2", "gave_up", "closed", "3 failures in 1h"},
                WorkerSummary{"w3", "backoff", "open", ""}};
  in.degraded_reason = "inotify watch limit";
  in.rules_error = "r.toml:3:1: error: x";
  in.tmux_error = "tmux list-panes: error connecting to /tmp/tmux-0/x (No such file or directory)";
  auto ps = diagnose(in);
  EXPECT_TRUE(has(ps, "slow", "processing for 1h")) << problems_json(ps);
  EXPECT_TRUE(has(ps, "z", "zombie for 10m")) << problems_json(ps);
  EXPECT_TRUE(has(ps, "w2", "3 failures in 1h"));
  EXPECT_TRUE(has(ps, "w3", "circuit open"));
  EXPECT_TRUE(has(ps, "watching", "inotify watch limit"));
  EXPECT_TRUE(has(ps, "rules", "r.toml:3:1"));
  EXPECT_TRUE(has(ps, "tmux", "sessions are unknown")) << problems_json(ps);
  EXPECT_TRUE(has(ps, "tmux", "No such file or directory")) << problems_json(ps);
  EXPECT_EQ(ps.size(), 7u) << problems_json(ps);
}

TEST(Diagnosis, OfflineSaysTheDaemonIsDownAndStillJudgesTheTable) {
  EntityTable t;
  ASSERT_TRUE(t.create("slow", EntityKind::kProject, LifecycleState::kProcessing, at(0)).ok());
  DiagnosisInput in;
  in.table = &t;
  in.now = at(31);
  in.spooled_notifications = 4;  // only a problem while a daemon should be ingesting
  auto ps = diagnose(in);
  EXPECT_TRUE(has(ps, "daemon", "not running"));
  EXPECT_TRUE(has(ps, "slow", "processing for 31m"));
  EXPECT_EQ(ps.size(), 2u) << problems_json(ps);
}

TEST(Diagnosis, JsonRenderingsAreWellFormed) {
  EntityTable t;
  ASSERT_TRUE(t.create("a\"b", EntityKind::kProject, LifecycleState::kProcessing, at(0)).ok());
  const EntityRecord* r = t.get("a\"b");
  ASSERT_NE(r, nullptr);
  const std::string e = entity_json(*r);
  EXPECT_NE(e.find(R"("id":"a\"b")"), std::string::npos) << e;
  EXPECT_NE(e.find(R"("state":"processing")"), std::string::npos) << e;
  const std::string s = stuck_json(t.stuck(at(45)));
  EXPECT_NE(s.find(R"("age_ms":2700000)"), std::string::npos) << s;
  EXPECT_EQ(problems_json({}), "[]");
}

}  // namespace
}  // namespace aw
