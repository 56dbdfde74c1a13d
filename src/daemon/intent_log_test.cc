// The intent log's records and their replay, on strings: what a killed daemon
// leaves is what the next one resumes.
#include "src/daemon/intent_log.h"

#include <gtest/gtest.h>

#include "src/core/state_file.h"

namespace aw {
namespace {

Plan run_plan(std::string rule, std::vector<std::vector<std::string>> argvs) {
  Plan p;
  p.rule = std::move(rule);
  for (auto& argv : argvs) {
    ActionRequest r;
    r.rule = p.rule;
    r.index = p.actions.size();
    r.body = RunRequest{std::move(argv), "/tmp", {{"K", "v\tw"}}, false, std::chrono::seconds(3)};
    p.actions.push_back(std::move(r));
  }
  return p;
}

Event landed(std::uint64_t seq, std::string path) {
  Event e;
  e.seq = seq;
  e.kind = "file.landed";
  e.source = "watch";
  e.path = std::move(path);
  e.fields.set("size", std::int64_t{12});
  return e;
}

class IntentLogTest : public ::testing::Test {
 protected:
  std::string file = state_file_header(kIntentLogKind);
  Plan a = run_plan("a", {{"/bin/one", "%x"}, {"/bin/two"}});
  Plan b = run_plan("b", {{"/bin/three"}});

  IntentReplay replay() const {
    Result<IntentReplay> r = replay_intents(file, "STATE/intents");
    EXPECT_TRUE(r.ok()) << (r ? "" : r.error().message);
    return r ? std::move(*r) : IntentReplay{};
  }
};

TEST_F(IntentLogTest, AnOpenIntentReplaysWithItsCauseAndPlans) {
  append_intent_open(file, 7, landed(42, "/r/a b.json"), {&a, &b});
  IntentReplay r = replay();
  ASSERT_EQ(r.open.size(), 1u);
  EXPECT_TRUE(r.problems.empty());
  EXPECT_EQ(r.last_id, 7u);
  const OpenIntent& i = r.open[0];
  EXPECT_EQ(i.id, 7u);
  EXPECT_EQ(i.cause.seq, 42u);
  EXPECT_EQ(i.cause.path, "/r/a b.json");
  EXPECT_EQ(i.cause.fields.get_int("size"), 12);
  ASSERT_EQ(i.plans.size(), 2u);
  EXPECT_EQ(std::get<RunRequest>(i.plans[0].actions[0].body).argv,
            (std::vector<std::string>{"/bin/one", "%x"}));
  EXPECT_EQ(std::get<RunRequest>(i.plans[0].actions[0].body).env, (EnvList{{"K", "v\tw"}}));
  ASSERT_EQ(i.progress.size(), 2u);
  EXPECT_EQ(i.progress[0].next, 0u);
  EXPECT_FALSE(i.progress[0].in_flight);
}

TEST_F(IntentLogTest, StartsAndEndsMoveEachPlanOn) {
  append_intent_open(file, 1, landed(1, "/r/x"), {&a, &b});
  append_intent_start(file, 1, 0, 0);
  append_intent_end(file, 1, 0, 0, ActionEnd::kOk);
  append_intent_start(file, 1, 0, 1);  // in flight when the daemon died
  append_intent_start(file, 1, 1, 0);
  append_intent_end(file, 1, 1, 0, ActionEnd::kFailed);
  IntentReplay r = replay();
  ASSERT_EQ(r.open.size(), 1u);
  const PlanProgress& p0 = r.open[0].progress[0];
  EXPECT_EQ(p0.next, 1u);
  EXPECT_TRUE(p0.in_flight);
  EXPECT_FALSE(p0.stopped);
  const PlanProgress& p1 = r.open[0].progress[1];
  EXPECT_TRUE(p1.stopped);
  EXPECT_FALSE(p1.in_flight);
}

TEST_F(IntentLogTest, AnInterruptedEndLeavesTheActionNext) {
  append_intent_open(file, 1, landed(1, "/r/x"), {&a});
  append_intent_start(file, 1, 0, 0);
  append_intent_end(file, 1, 0, 0, ActionEnd::kInterrupted);
  IntentReplay r = replay();
  ASSERT_EQ(r.open.size(), 1u);
  EXPECT_EQ(r.open[0].progress[0].next, 0u);
  EXPECT_TRUE(r.open[0].progress[0].interrupted);
  EXPECT_FALSE(r.open[0].progress[0].in_flight);
}

TEST_F(IntentLogTest, ClosedIntentsAreGoneButTheirIdsAreNotReused) {
  append_intent_open(file, 1, landed(1, "/r/x"), {&a});
  append_intent_open(file, 2, landed(2, "/r/y"), {&b});
  append_intent_close(file, 1);
  append_intent_close(file, 2);
  IntentReplay r = replay();
  EXPECT_TRUE(r.open.empty());
  EXPECT_EQ(r.last_id, 2u);
  EXPECT_EQ(r.records, 4u);
}

TEST_F(IntentLogTest, ATornLastRecordAndStrayRecordsAreSkippedAndSaid) {
  append_intent_open(file, 1, landed(1, "/r/x"), {&a});
  append_intent_end(file, 9, 0, 0, ActionEnd::kOk);  // of an intent never opened
  append_intent_start(file, 1, 5, 0);                // no plan 5
  std::string torn;
  append_intent_start(torn, 1, 0, 0);
  file += torn.substr(0, torn.size() - 3);  // a crash mid-write
  IntentReplay r = replay();
  ASSERT_EQ(r.open.size(), 1u);
  EXPECT_FALSE(r.open[0].progress[0].in_flight);  // the torn start never counted
  ASSERT_EQ(r.problems.size(), 3u);
  // The file's own problems first, then the records that did not replay.
  EXPECT_NE(r.problems[0].find("STATE/intents:5: the last line ends without a newline"),
            std::string::npos)
      << r.problems[0];
  EXPECT_EQ(r.problems[1], "STATE/intents:3: end of intent 9, which is not open");
  EXPECT_EQ(r.problems[2], "STATE/intents:4: intent 1 has no plan '5'");
}

TEST_F(IntentLogTest, ADamagedPlanLosesItsIntentAndSaysSo) {
  std::string line = state_record({"open", "3", to_json_line(landed(1, "/r/x")), "{\"rule\":"});
  file += line;
  IntentReplay r = replay();
  EXPECT_TRUE(r.open.empty());
  ASSERT_EQ(r.problems.size(), 1u);
  EXPECT_NE(r.problems[0].find("STATE/intents:2: its plan 0: "), std::string::npos)
      << r.problems[0];
}

TEST_F(IntentLogTest, AForeignFileIsAnError) {
  Result<IntentReplay> r = replay_intents("agentwatch-state 2 file-index\n", "STATE/intents");
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.error().message.find("STATE/intents:1: expected the header"), std::string::npos);
}

// A compaction writes each open intent's state: it must replay to the same.
TEST_F(IntentLogTest, AnIntentsStateReplaysToTheSameIntent) {
  append_intent_open(file, 4, landed(8, "/r/x"), {&a, &b});
  append_intent_start(file, 4, 0, 0);
  append_intent_end(file, 4, 0, 0, ActionEnd::kOk);
  append_intent_start(file, 4, 0, 1);
  append_intent_start(file, 4, 1, 0);
  append_intent_end(file, 4, 1, 0, ActionEnd::kInterrupted);
  IntentReplay first = replay();
  ASSERT_EQ(first.open.size(), 1u);
  file = state_file_header(kIntentLogKind);
  append_intent_state(file, first.open[0]);
  IntentReplay second = replay();
  ASSERT_EQ(second.open.size(), 1u);
  const OpenIntent& x = first.open[0];
  const OpenIntent& y = second.open[0];
  EXPECT_EQ(y.id, x.id);
  EXPECT_EQ(to_json_line(y.cause), to_json_line(x.cause));
  ASSERT_EQ(y.progress.size(), x.progress.size());
  for (std::size_t i = 0; i < x.progress.size(); ++i) {
    EXPECT_EQ(y.progress[i].next, x.progress[i].next) << i;
    EXPECT_EQ(y.progress[i].in_flight, x.progress[i].in_flight) << i;
    EXPECT_EQ(y.progress[i].interrupted, x.progress[i].interrupted) << i;
    EXPECT_EQ(y.progress[i].stopped, x.progress[i].stopped) << i;
  }
}

}  // namespace
}  // namespace aw
