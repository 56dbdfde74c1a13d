#include "src/actions/result_session.h"

#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <thread>
#include <vector>

#include "src/os/test_support.h"

namespace aw {
namespace {

using aw::testing::exists;
using aw::testing::make_dirs;
using aw::testing::TempDir;
using aw::testing::write_file;

// ---- the manifest ----

TEST(SessionManifest, ListsTheAgents) {
  Result<SessionManifest> m = parse_session_manifest(R"({"agents": ["a1", "a2"], "task": "x"})");
  ASSERT_TRUE(m.ok()) << m.error().message;
  EXPECT_EQ(m->agents, (std::vector<std::string>{"a1", "a2"}));
}

TEST(SessionManifest, SaysWhatIsWrong) {
  auto error_of = [](std::string_view text) {
    Result<SessionManifest> m = parse_session_manifest(text);
    return m.ok() ? std::string("ok") : m.error().message;
  };
  EXPECT_EQ(error_of(R"({"agents": ["a1",)").rfind("not valid JSON at byte 17: ", 0), 0u)
      << error_of(R"({"agents": ["a1",)");
  EXPECT_NE(error_of(R"(["a1"])").find("expected an object with an \"agents\" array"),
            std::string::npos);
  EXPECT_EQ(error_of(R"({"agents": []})"), "\"agents\" is empty: the session could never complete");
  EXPECT_EQ(error_of(R"({"agents": ["a1", 2]})"),
            "agents[1] must be a non-empty name usable as a file name (no '/')");
  EXPECT_EQ(error_of(R"({"agents": ["../x"]})"),
            "agents[0] must be a non-empty name usable as a file name (no '/')");
  EXPECT_EQ(error_of(R"({"agents": ["a1", "a1"]})"), "agents[1]: \"a1\" is listed twice");
}

// ---- the judgement ----

TEST(JudgeSession, CompleteWhenEveryAgentHasAValidResultOrRepairedCopy) {
  SessionManifest m{{"a1", "a2", "a3"}};
  std::map<std::string, AgentFiles> files = {
      {"a1", {.result = true, .result_valid = true}},
      {"a2", {.result = true, .result_valid = false, .repaired = true, .repaired_valid = true}},
      {"a3", {.repaired = true, .repaired_valid = true}},  // the original went to quarantine
  };
  SessionVerdict v = judge_session(m, false, files);
  EXPECT_TRUE(v.complete);
  EXPECT_EQ(v.how, "manifest");
  EXPECT_EQ(v.valid, (std::vector<std::string>{"a1"}));
  EXPECT_EQ(v.repaired, (std::vector<std::string>{"a2", "a3"}));
}

TEST(JudgeSession, WaitsOnAMissingOrInvalidAgent) {
  SessionManifest m{{"a1", "a2", "a3"}};
  std::map<std::string, AgentFiles> files = {
      {"a1", {.result = true, .result_valid = true}},
      {"a2", {.result = true, .result_valid = false}},  // being repaired, or still being written
  };
  SessionVerdict v = judge_session(m, false, files);
  EXPECT_FALSE(v.complete);
  EXPECT_EQ(v.invalid, (std::vector<std::string>{"a2"}));
  EXPECT_EQ(v.missing, (std::vector<std::string>{"a3"}));
}

TEST(JudgeSession, TheMarkerCompletesWithOrWithoutAManifest) {
  EXPECT_FALSE(judge_session(std::nullopt, false, {}).complete);
  SessionVerdict bare = judge_session(std::nullopt, true, {});
  EXPECT_TRUE(bare.complete);
  EXPECT_EQ(bare.how, "marker");
  SessionVerdict partial = judge_session(SessionManifest{{"a1"}}, true, {});
  EXPECT_TRUE(partial.complete);
  EXPECT_EQ(partial.missing, (std::vector<std::string>{"a1"})) << "still reported";
}

// ---- on real directories ----

class CompleteSessionTest : public ::testing::Test {
 protected:
  void SetUp() override { make_dirs(session_); }
  CompleteSessionSpec spec() const {
    CompleteSessionSpec s;
    s.session = session_;
    s.to = root_ / "completed";
    s.root = root_.path();
    return s;
  }
  TempDir root_;
  const std::string session_ = root_ / "temp/s1";
};

TEST_F(CompleteSessionTest, WaitsThenMovesTheWholeDirectoryOnce) {
  write_file(session_ + "/session.json", R"({"agents": ["a1", "a2"]})");
  write_file(session_ + "/a1.json", R"({"ok": 1})");
  ActionOutcome waiting = complete_session(spec());
  ASSERT_TRUE(waiting.ok) << waiting.message;
  EXPECT_EQ(waiting.fields.get_string("state"), "waiting");
  EXPECT_EQ(waiting.fields.get_string("missing"), "a2");
  EXPECT_NE(waiting.message.find("waiting on 1 of 2 agents"), std::string::npos) << waiting.message;

  write_file(session_ + "/a2.json", R"({"ok": 2})");
  ActionOutcome done = complete_session(spec());
  ASSERT_TRUE(done.ok) << done.message;
  EXPECT_EQ(done.fields.get_string("state"), "completed");
  EXPECT_EQ(done.fields.get_string("session"), "s1");
  EXPECT_EQ(done.fields.get_string("how"), "manifest");
  EXPECT_EQ(done.fields.get_string("valid"), "a1,a2");
  EXPECT_EQ(done.fields.get_string("to"), root_ / "completed/s1");
  EXPECT_FALSE(exists(session_));
  EXPECT_TRUE(exists(root_ / "completed/s1/a2.json"));

  ActionOutcome again = complete_session(spec());
  ASSERT_TRUE(again.ok) << again.message;
  EXPECT_EQ(again.fields.get_string("state"), "completed_before");
}

TEST_F(CompleteSessionTest, AnInvalidResultHoldsTheSessionUntilItsRepairedCopyIsThere) {
  write_file(session_ + "/session.json", R"({"agents": ["a1"]})");
  write_file(session_ + "/a1.json", R"({"ok": )");
  EXPECT_EQ(complete_session(spec()).fields.get_string("invalid"), "a1");
  write_file(session_ + "/a1.repaired.json", R"({"ok": null})");
  ActionOutcome done = complete_session(spec());
  EXPECT_EQ(done.fields.get_string("state"), "completed") << done.message;
  EXPECT_EQ(done.fields.get_string("repaired"), "a1");
}

TEST_F(CompleteSessionTest, WithoutAManifestTheMarkerDecides) {
  write_file(session_ + "/a1.json", "{}");
  EXPECT_EQ(complete_session(spec()).fields.get_string("state"), "waiting");
  write_file(session_ + "/session.done", "");
  ActionOutcome done = complete_session(spec());
  EXPECT_EQ(done.fields.get_string("state"), "completed") << done.message;
  EXPECT_EQ(done.fields.get_string("how"), "marker");
}

TEST_F(CompleteSessionTest, ABadManifestIsAValidationFailureNamingTheFile) {
  write_file(session_ + "/session.json", R"({"agents": "a1"})");
  ActionOutcome o = complete_session(spec());
  EXPECT_FALSE(o.ok);
  EXPECT_EQ(o.category, outcome_category::kValidation);
  EXPECT_NE(o.message.find(session_ + "/session.json: expected an object"), std::string::npos)
      << o.message;
  EXPECT_TRUE(exists(session_));
}

TEST_F(CompleteSessionTest, ATakenNameInCompletedGetsTheNextFreeOne) {
  make_dirs(root_ / "completed/s1");
  write_file(session_ + "/session.done", "");
  ActionOutcome o = complete_session(spec());
  ASSERT_TRUE(o.ok) << o.message;
  EXPECT_EQ(o.fields.get_string("to"), root_ / "completed/s1.1");
}

TEST_F(CompleteSessionTest, ASymlinkedResultCountsAsNothingAndIsNeverRead) {
  TempDir outside;
  write_file(outside / "a1.json", "{}");
  write_file(session_ + "/session.json", R"({"agents": ["a1"]})");
  ASSERT_EQ(::symlink((outside / "a1.json").c_str(), (session_ + "/a1.json").c_str()), 0);
  ActionOutcome o = complete_session(spec());
  EXPECT_EQ(o.fields.get_string("state"), "waiting") << o.message;
  EXPECT_EQ(o.fields.get_string("missing"), "a1");
}

TEST_F(CompleteSessionTest, ASessionOutsideTheRootIsRefused) {
  TempDir outside;
  CompleteSessionSpec s = spec();
  s.session = outside.path();
  EXPECT_EQ(complete_session(s).category, outcome_category::kPermission);
  s = spec();
  s.to = outside.path();
  EXPECT_EQ(complete_session(s).category, outcome_category::kPermission);
}

TEST_F(CompleteSessionTest, TenChecksAtOnceMoveItOnce) {
  write_file(session_ + "/session.done", "");
  std::vector<ActionOutcome> outcomes(10);
  std::vector<std::thread> threads;
  threads.reserve(outcomes.size());
  for (ActionOutcome& o : outcomes)
    threads.emplace_back([&o, s = spec()] { o = complete_session(s); });
  for (std::thread& t : threads) t.join();
  int moved = 0;
  for (const ActionOutcome& o : outcomes) {
    ASSERT_TRUE(o.ok) << o.message;
    moved += o.fields.get_string("state") == "completed";
  }
  EXPECT_EQ(moved, 1);
  EXPECT_TRUE(exists(root_ / "completed/s1"));
  EXPECT_FALSE(exists(root_ / "completed/s1.1"));
}

TEST_F(CompleteSessionTest, TheSessionArrivesWithItsCompletedRecordWrittenOnce) {
  write_file(session_ + "/session.done", "");
  ActionOutcome done = complete_session(spec());
  ASSERT_TRUE(done.ok) << done.message;
  const std::string record = aw::testing::read_file(root_ / "completed/s1/session.completed");
  EXPECT_NE(record.find(R"("session":"s1","how":"marker")"), std::string::npos) << record;
  struct stat st {};
  ASSERT_EQ(::stat((root_ / "completed/s1/session.completed").c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600u);
}

// ---- age-out ----

class FailSessionTest : public CompleteSessionTest {
 protected:
  FailSessionSpec fail_spec() const {
    FailSessionSpec s;
    s.session = session_;
    s.to = root_ / "failed";
    s.root = root_.path();
    s.reason = "no new result for 30 minutes";
    s.rule = "session-age-out";
    s.cause_seq = 42;
    return s;
  }
};

TEST_F(FailSessionTest, MovesTheSessionAndWritesWhatWasFoundAndWhy) {
  write_file(session_ + "/session.json", R"({"agents": ["a1", "a2", "a3"]})");
  write_file(session_ + "/a1.json", R"({"ok": 1})");
  write_file(session_ + "/a2.json", R"({"ok": )");
  ActionOutcome o = fail_session(fail_spec());
  ASSERT_TRUE(o.ok) << o.message;
  EXPECT_EQ(o.fields.get_string("state"), "failed");
  EXPECT_EQ(o.fields.get_string("missing"), "a3");
  EXPECT_EQ(o.fields.get_string("invalid"), "a2");
  EXPECT_EQ(o.fields.get_string("to"), root_ / "failed/s1");
  EXPECT_FALSE(exists(session_));
  const std::string report = aw::testing::read_file(root_ / "failed/s1/recovery_report.json");
  for (const char* part :
       {R"("session":"s1","state":"failed")", R"("reason":"no new result for 30 minutes")",
        R"("rule":"session-age-out","cause_seq":42)", R"("manifest":"valid","marker":false)",
        R"("agents":{"valid":["a1"],"repaired":[],"invalid":["a2"],"missing":["a3"]})",
        R"({"name":"a2.json","type":"file","bytes":7,)", R"("json":"invalid")"})
    EXPECT_NE(report.find(part), std::string::npos) << part << "\n" << report;
  struct stat st {};
  ASSERT_EQ(::stat((root_ / "failed/s1/recovery_report.json").c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600u);
}

TEST_F(FailSessionTest, ASessionCompleteByNowIsNotFailed) {
  write_file(session_ + "/session.done", "");
  ActionOutcome o = fail_session(fail_spec());
  ASSERT_TRUE(o.ok) << o.message;
  EXPECT_EQ(o.fields.get_string("state"), "complete");
  EXPECT_TRUE(exists(session_ + "/session.done"));
}

TEST_F(FailSessionTest, ASessionGoneIsNothingToFailAndOneAlreadyFailedGetsItsMissingReport) {
  ASSERT_TRUE(complete_session([&] {
                auto s = spec();
                write_file(session_ + "/session.done", "");
                return s;
              }())
                  .ok);
  EXPECT_EQ(fail_session(fail_spec()).fields.get_string("state"), "gone");

  // A killed daemon moved it but never wrote the report.
  make_dirs(root_ / "failed/s2/");
  write_file(root_ / "failed/s2/a1.json", "{}");
  FailSessionSpec again = fail_spec();
  again.session = root_ / "temp/s2";
  ActionOutcome o = fail_session(again);
  ASSERT_TRUE(o.ok) << o.message;
  EXPECT_EQ(o.fields.get_string("state"), "failed_before");
  EXPECT_TRUE(exists(root_ / "failed/s2/recovery_report.json"));
}

TEST_F(FailSessionTest, ABrokenManifestIsReportedNotFatal) {
  write_file(session_ + "/session.json", R"({"agents": 7})");
  ActionOutcome o = fail_session(fail_spec());
  ASSERT_TRUE(o.ok) << o.message;
  const std::string report = aw::testing::read_file(root_ / "failed/s1/recovery_report.json");
  EXPECT_NE(report.find(R"("manifest":"invalid","manifest_error":")"), std::string::npos) << report;
}

// ---- integration ----

class IntegrationTest : public ::testing::Test {
 protected:
  void SetUp() override {
    make_dirs(session_);
    write_file(session_ + "/a1.json", "{}");
  }
  IntegrateSessionSpec spec() const {
    IntegrateSessionSpec s;
    s.session = session_;
    s.to = root_ / "integrated";
    s.root = root_.path();
    s.rule = "session-integrate";
    return s;
  }
  TempDir root_;
  const std::string session_ = root_ / "completed/s1";
};

TEST_F(IntegrationTest, ClaimsThenFinishesWithAMarkerAndOneRename) {
  IntegrationStart start = prepare_integration(spec());
  ASSERT_EQ(start.next, IntegrationStart::Next::kRun) << start.outcome.message;
  EXPECT_EQ(start.session_dir, session_);
  EXPECT_EQ(start.name, "s1");
  EXPECT_TRUE(exists(session_ + "/session.integrating"));

  Fields run;
  run.set("exit_code", FieldValue(std::int64_t{0}));
  ActionOutcome done = finish_integration(spec(), run, 2);
  ASSERT_TRUE(done.ok) << done.message;
  EXPECT_EQ(done.fields.get_string("state"), "integrated");
  EXPECT_EQ(done.fields.get_string("how"), "command");
  EXPECT_EQ(done.fields.get_int("exit_code"), 0);
  EXPECT_FALSE(exists(session_));
  const std::string marker = aw::testing::read_file(root_ / "integrated/s1/session.integrated");
  EXPECT_NE(marker.find(R"("attempts":2)"), std::string::npos) << marker;

  IntegrationStart again = prepare_integration(spec());
  ASSERT_EQ(again.next, IntegrationStart::Next::kDone);
  EXPECT_EQ(again.outcome.fields.get_string("state"), "integrated_before");
}

TEST_F(IntegrationTest, AMarkerAlreadyThereSkipsTheCommand) {
  write_file(session_ + "/session.integrated", "{}");
  EXPECT_EQ(prepare_integration(spec()).next, IntegrationStart::Next::kFinalize);
  ActionOutcome done = finish_integration(spec(), {}, 0);
  ASSERT_TRUE(done.ok) << done.message;
  EXPECT_EQ(done.fields.get_string("how"), "marker");
  EXPECT_EQ(aw::testing::read_file(root_ / "integrated/s1/session.integrated"), "{}");
}

TEST_F(IntegrationTest, AClaimLeftByAnotherProcessIsInDoubtAndOurOwnIsInProgress) {
  write_file(session_ + "/session.integrating", R"({"daemon":"1-2"})");
  IntegrationStart doubt = prepare_integration(spec());
  ASSERT_EQ(doubt.next, IntegrationStart::Next::kDone);
  EXPECT_FALSE(doubt.outcome.ok);
  EXPECT_EQ(doubt.outcome.fields.get_string("state"), "in_doubt");
  EXPECT_NE(doubt.outcome.suggestion.find("recover fix"), std::string::npos);

  ::unlink((session_ + "/session.integrating").c_str());
  ASSERT_EQ(prepare_integration(spec()).next, IntegrationStart::Next::kRun);
  IntegrationStart second = prepare_integration(spec());
  ASSERT_EQ(second.next, IntegrationStart::Next::kDone);
  EXPECT_TRUE(second.outcome.ok);
  EXPECT_EQ(second.outcome.fields.get_string("state"), "in_progress");
}

TEST_F(IntegrationTest, ReleasingTheClaimLetsALaterTriggerRunIt) {
  ASSERT_EQ(prepare_integration(spec()).next, IntegrationStart::Next::kRun);
  release_integration(spec());
  EXPECT_FALSE(exists(session_ + "/session.integrating"));
  EXPECT_EQ(prepare_integration(spec()).next, IntegrationStart::Next::kRun);
}

TEST_F(IntegrationTest, ASessionGoneIsNothingToDoAndOneOutsideTheRootIsRefused) {
  IntegrateSessionSpec s = spec();
  s.session = root_ / "completed/nope";
  EXPECT_EQ(prepare_integration(s).outcome.fields.get_string("state"), "gone");
  TempDir outside;
  s = spec();
  s.to = outside.path();
  EXPECT_EQ(prepare_integration(s).outcome.category, outcome_category::kPermission);
}

}  // namespace
}  // namespace aw
