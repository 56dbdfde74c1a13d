#include "src/stats/execution_record.h"

#include <gtest/gtest.h>

#include <string>

namespace aw {
namespace {

// Decodes `line` the way the event log reader hands records over: parsed into a
// DOM, `kind` read first.
class ExecutionRecordTest : public ::testing::Test {
 protected:
  std::optional<Execution> decode(const std::string& line) {
    padded_ = simdjson::padded_string(line);
    simdjson::dom::object object;
    EXPECT_FALSE(parser_.parse(padded_).get_object().get(object)) << line;
    std::string_view kind;
    EXPECT_FALSE(object["kind"].get_string().get(kind)) << line;
    return decode_execution(kind, object);
  }

  simdjson::dom::parser parser_;
  simdjson::padded_string padded_;
};

TEST(ExecutionKind, OnlyOutcomesAreExecutions) {
  EXPECT_TRUE(is_execution_kind("action.succeeded"));
  EXPECT_TRUE(is_execution_kind("action.failed"));
  EXPECT_FALSE(is_execution_kind("action.started"));  // its `attempt` is not an outcome
  EXPECT_FALSE(is_execution_kind("action.succeeded.x"));
  EXPECT_FALSE(is_execution_kind("worker.exited"));  // has wall_ms too, but is no action
  EXPECT_FALSE(is_execution_kind(""));
}

TEST_F(ExecutionRecordTest, ARunOutcomeAsThePipelineWritesIt) {
  const auto e = decode(
      R"({"seq":43,"time":"2026-11-22T11:20:39.140Z","kind":"action.failed","source":"action",)"
      R"("entity":"w3","cause":42,"rule":"collect","depth":1,"fields":{"action":"run","index":0,)"
      R"("category":"execution","message":"exited 1","suggestion":"see stderr_tail",)"
      R"("attempts":3,"pid":4242,"exit_code":1,"signal":0,"wall_ms":1530,"user_ms":120,)"
      R"("sys_ms":0,"max_rss_kb":20480,"stdout_tail":"","stderr_tail":"boom\n",)"
      R"("stdout_bytes":0,"stderr_bytes":5,"timed_out":false}})");
  ASSERT_TRUE(e);
  EXPECT_EQ(e->kind, "action.failed");
  EXPECT_EQ(e->time, "2026-11-22T11:20:39.140Z");
  EXPECT_EQ(e->rule, "collect");
  EXPECT_EQ(e->entity, "w3");
  EXPECT_EQ(e->action, "run");
  EXPECT_EQ(e->category, "execution");
  EXPECT_TRUE(e->failed);
  EXPECT_EQ(e->attempts, 3);
  EXPECT_EQ(e->duration_ms, 1530);
  EXPECT_EQ(e->user_ms, 120);
  EXPECT_EQ(e->sys_ms, 0);  // zero is a value, not an absence
  EXPECT_EQ(e->max_rss_kb, 20480);
}

TEST_F(ExecutionRecordTest, AFileActionLoggedBeforeDurationMsHasNoDurations) {
  const auto e = decode(
      R"({"seq":9,"time":"2026-11-22T11:20:39.140Z","kind":"action.succeeded","source":"action",)"
      R"("cause":8,"rule":"archive","depth":1,"fields":{"action":"move","index":1,)"
      R"("category":"ok","message":"moved","attempts":1,"from":"/w/a","to":"/w/done/a"}})");
  ASSERT_TRUE(e);
  EXPECT_FALSE(e->failed);
  EXPECT_EQ(e->entity, "");  // the log leaves an empty entity out
  EXPECT_EQ(e->action, "move");
  EXPECT_EQ(e->category, "ok");
  EXPECT_EQ(e->attempts, 1);
  EXPECT_FALSE(e->duration_ms);
  EXPECT_FALSE(e->user_ms);
  EXPECT_FALSE(e->sys_ms);
  EXPECT_FALSE(e->max_rss_kb);
}

TEST_F(ExecutionRecordTest, OtherKindsAreNotDecoded) {
  EXPECT_FALSE(decode(R"({"kind":"action.started","fields":{"action":"run","attempt":1}})"));
  EXPECT_FALSE(decode(R"({"kind":"worker.exited","fields":{"wall_ms":5}})"));
}

TEST_F(ExecutionRecordTest, OkFalseIsAFailureWhateverTheKind) {
  const auto e = decode(R"({"kind":"action.succeeded","fields":{"ok":false}})");
  ASSERT_TRUE(e);
  EXPECT_TRUE(e->failed);
  const auto ok = decode(R"({"kind":"action.succeeded","fields":{"ok":true}})");
  ASSERT_TRUE(ok);
  EXPECT_FALSE(ok->failed);
}

TEST_F(ExecutionRecordTest, HandWrittenLinesAreReadAsFarAsTheyMakeSense) {
  // No fields at all: an execution of unknown action, one attempt.
  auto e = decode(R"({"kind":"action.failed"})");
  ASSERT_TRUE(e);
  EXPECT_EQ(e->attempts, 1);
  EXPECT_EQ(e->action, "");
  EXPECT_EQ(e->time, "");

  // Decimals are rounded; values of the wrong type count as absent.
  e = decode(R"({"kind":"action.succeeded","rule":7,"fields":{"action":true,"wall_ms":12.6,)"
             R"("user_ms":"3","sys_ms":null,"max_rss_kb":18446744073709551615,"attempts":"2"}})");
  ASSERT_TRUE(e);
  EXPECT_EQ(e->rule, "");
  EXPECT_EQ(e->action, "");
  EXPECT_EQ(e->duration_ms, 13);
  EXPECT_FALSE(e->user_ms);
  EXPECT_FALSE(e->sys_ms);
  EXPECT_EQ(e->max_rss_kb, std::numeric_limits<std::int64_t>::max());
  EXPECT_EQ(e->attempts, 1);

  // `fields` that is not an object is ignored.
  e = decode(R"({"kind":"action.failed","fields":[1,2]})");
  ASSERT_TRUE(e);
  EXPECT_TRUE(e->failed);
}

TEST_F(ExecutionRecordTest, DurationMsIsTheDurationAndWallMsOnlyStandsInForOldLogs) {
  auto e = decode(R"({"kind":"action.succeeded","fields":{"action":"run","wall_ms":40,)"
                  R"("duration_ms":1040}})");
  ASSERT_TRUE(e);
  EXPECT_EQ(e->duration_ms, 1040) << "retries' waits included";
  e = decode(R"({"kind":"action.succeeded","fields":{"action":"move","duration_ms":3}})");
  ASSERT_TRUE(e);
  EXPECT_EQ(e->duration_ms, 3) << "every action is timed now";
}

}  // namespace
}  // namespace aw
