// The pipeline on fakes: no loop, no files, a ManualClock. Each test names the
// ordering or bound it pins down; the real binary is driven by
// tests/integration/pipeline_itest.cc.
#include "src/daemon/pipeline.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "src/core/state_file.h"
#include "src/rules/rule_loader.h"
#include "src/state/entity_table.h"

namespace aw {
namespace {

using std::chrono::milliseconds;
using std::chrono::seconds;

// Gathers events as the daemon's group-committing journal does: `in_file`
// counts the events a flush() has put in the file.
struct FakeJournal final : EventJournal {
  std::vector<Event> events;
  std::size_t in_file = 0;
  bool failing = false;
  Status append(const Event& e) override {
    events.push_back(e);
    if (failing) return make_error("disk full");
    return Status::Ok();
  }
  Status flush() override {
    in_file = events.size();
    if (flushes) flushes->push_back("events");
    return Status::Ok();
  }
  std::vector<std::string>* flushes = nullptr;  // set: each flush's name, in order
};

// Records each start; the test completes it (or it completes itself inside
// start(), when `complete_inline` is set, as a failed spawn does).
struct FakeRunner final : ActionRunner {
  struct Started {
    ActionRequest request;
    Event cause;
    OnDone done;
  };
  std::vector<Started> started;
  std::optional<ActionOutcome> complete_inline;
  std::function<void()> on_start;  // called first thing in start()
  int depth = 0, max_depth = 0;    // nesting of start() calls: stays 1 when nothing recurses

  void start(const ActionRequest& request, const Event& cause, OnAttempt on_attempt,
             OnDone done) override {
    if (on_start) on_start();
    ++depth;
    max_depth = std::max(max_depth, depth);
    on_attempt(1, 4242);
    started.push_back({request, cause, done});
    if (complete_inline) done(*complete_inline);
    --depth;
  }
  void finish(std::size_t i, ActionOutcome outcome) { started.at(i).done(std::move(outcome)); }
};

struct FakeReader final : ContentReader {
  std::map<std::string, std::string> files;
  std::vector<std::pair<std::string, OnRead>> pending;
  void read(const std::string& path, std::uint64_t, OnRead done) override {
    pending.emplace_back(path, std::move(done));
  }
  // The thread pool finishes the oldest read.
  void complete_next() {
    auto [path, done] = std::move(pending.front());
    pending.erase(pending.begin());
    auto it = files.find(path);
    done(it == files.end() ? nullptr : std::make_shared<const std::string>(it->second));
  }
};

struct FakeAlarm final : Alarm {
  std::function<void()> ring;
  std::optional<MonoTime> deadline;
  void set_ring(std::function<void()> r) override { ring = std::move(r); }
  void arm(MonoTime d) override { deadline = d; }
  void disarm() override { deadline.reset(); }
};

struct FakeLedger final : LandingLedger {
  std::vector<std::pair<std::string, std::string>> finished_files;  // path, outcome
  std::vector<std::string> abandoned_files;
  void finished(const Event& landed, std::string_view outcome) override {
    finished_files.emplace_back(landed.path, std::string(outcome));
  }
  void abandoned(const Event& landed) override { abandoned_files.push_back(landed.path); }
  void resumed(const Event& landed) override { resumed_files.push_back(landed.path); }
  std::vector<std::string> resumed_files;
};

// The intent log's records in memory, as the daemon's file holds them:
// `in_file` is what a flush() wrote, what a SIGKILL would leave.
struct FakeIntents final : IntentJournal {
  std::string gathered, in_file = state_file_header(kIntentLogKind);
  std::uint64_t next_id = 1;
  std::uint64_t open(const Event& cause, const std::vector<const Plan*>& plans) override {
    append_intent_open(gathered, next_id, cause, plans);
    return next_id++;
  }
  void start(std::uint64_t id, std::size_t plan, std::size_t action) override {
    append_intent_start(gathered, id, plan, action);
  }
  void end(std::uint64_t id, std::size_t plan, std::size_t action, ActionEnd end) override {
    append_intent_end(gathered, id, plan, action, end);
  }
  void close(std::uint64_t id) override { append_intent_close(gathered, id); }
  Status flush() override {
    in_file += gathered;
    gathered.clear();
    if (flushes) flushes->push_back("intents");
    return Status::Ok();
  }
  // Writes everything, as flush() does; only the call is told apart.
  Status flush_opens() override {
    in_file += gathered;
    gathered.clear();
    if (flushes) flushes->push_back("intent opens");
    return Status::Ok();
  }
  std::vector<std::string>* flushes = nullptr;  // set: each flush's name, in order
  // The intents a daemon killed now would leave open.
  std::vector<OpenIntent> left_open() const {
    Result<IntentReplay> r = replay_intents(in_file, "intents");
    EXPECT_TRUE(r.ok());
    if (!r) return {};
    EXPECT_TRUE(r->problems.empty()) << r->problems.front();
    return std::move(r->open);
  }
};

class PipelineTest : public ::testing::Test {
 protected:
  PipelineTest() { make(PipelineOptions{}); }

  void make(PipelineOptions options) {
    pipeline_.reset();
    PipelinePorts ports{clock_,   journal_,   runner_, reader_,  alarm_,
                        &ledger_, &entities_, &env_,   &intents_};
    pipeline_ = std::make_unique<Pipeline>(ports, options);
  }

  void rules(std::string_view toml) {
    RuleLoad load = load_rules_from_string(toml, "test.toml");
    ASSERT_TRUE(load.ok()) << load.error_text();
    pipeline_->set_rules(std::make_shared<const RuleSet>(std::move(load).rules()));
  }

  static Event event(std::string kind, std::string path = "", std::string entity = "") {
    Event e;
    e.kind = std::move(kind);
    e.source = "test";
    e.path = std::move(path);
    e.entity = std::move(entity);
    return e;
  }

  std::vector<std::string> kinds() const {
    std::vector<std::string> out;
    for (const Event& e : journal_.events) out.push_back(e.kind);
    return out;
  }
  std::size_t count(std::string_view kind) const {
    return static_cast<std::size_t>(std::count_if(journal_.events.begin(), journal_.events.end(),
                                                  [&](const Event& e) { return e.kind == kind; }));
  }
  const Event* first(std::string_view kind) const {
    for (const Event& e : journal_.events)
      if (e.kind == kind) return &e;
    return nullptr;
  }

  ManualClock clock_;
  FakeJournal journal_;
  FakeRunner runner_;
  FakeReader reader_;
  FakeAlarm alarm_;
  FakeLedger ledger_;
  FakeIntents intents_;
  EntityTable entities_;
  EnvLookup env_ = [](std::string_view) -> std::optional<std::string> { return std::nullopt; };
  std::unique_ptr<Pipeline> pipeline_;
};

constexpr std::string_view kRunOnLanded = R"(
[[rule]]
name = "handle"
on = "file.landed"
  [[rule.action]]
  do = "run"
  argv = ["/bin/true", "{path}"]
  [[rule.action]]
  do = "run"
  argv = ["/bin/echo", "second"]
)";

TEST_F(PipelineTest, EventsAreNumberedLoggedAndSeenBySubscribersInSeqOrder) {
  pipeline_->set_next_seq(100);
  std::vector<std::uint64_t> seen;
  pipeline_->add_subscriber([&](const Event& e) { seen.push_back(e.seq); });
  EXPECT_EQ(pipeline_->submit(event("a.one")), 100u);
  EXPECT_EQ(pipeline_->submit(event("a.two")), 101u);
  EXPECT_EQ(kinds(), (std::vector<std::string>{"a.one", "a.two"}));
  EXPECT_EQ(seen, (std::vector<std::uint64_t>{100, 101}));
  EXPECT_EQ(journal_.events[0].time, clock_.wall());  // stamped when unset
  EXPECT_EQ(pipeline_->stats().events, 2u);
}

TEST_F(PipelineTest, AnEventSubmittedWhileOneIsHandledWaitsItsTurn) {
  // A subscriber that reacts to every "x" by submitting a "y": the "y" must be
  // handled after every subscriber has seen the "x", never inside the first one.
  std::vector<std::string> order;
  int nesting = 0, max_nesting = 0;
  pipeline_->add_subscriber([&](const Event& e) {
    ++nesting;
    max_nesting = std::max(max_nesting, nesting);
    order.push_back("first:" + e.kind);
    if (e.kind == "x") pipeline_->submit(event("y"));
    --nesting;
  });
  pipeline_->add_subscriber([&](const Event& e) { order.push_back("second:" + e.kind); });
  pipeline_->submit(event("x"));
  EXPECT_EQ(order, (std::vector<std::string>{"first:x", "second:x", "first:y", "second:y"}));
  EXPECT_EQ(max_nesting, 1);
}

TEST_F(PipelineTest, AJournalErrorIsCountedAndTheEventIsStillRouted) {
  rules(kRunOnLanded);
  journal_.failing = true;
  pipeline_->submit(event("file.landed", "/r/a.json"));
  ASSERT_EQ(runner_.started.size(), 1u);
  EXPECT_EQ(pipeline_->stats().log_errors, 2u);  // file.landed, action.started
}

TEST_F(PipelineTest, ActionsRunInOrderAndOutcomesAreOneStepDeeper) {
  rules(kRunOnLanded);
  const std::uint64_t cause = pipeline_->submit(event("file.landed", "/r/a.json"));
  ASSERT_EQ(runner_.started.size(), 1u);  // the second waits for the first
  EXPECT_EQ(std::get<RunRequest>(runner_.started[0].request.body).argv,
            (std::vector<std::string>{"/bin/true", "/r/a.json"}));
  runner_.finish(0, make_success("exit 0"));
  ASSERT_EQ(runner_.started.size(), 2u);
  runner_.finish(1, make_success("exit 0"));

  EXPECT_EQ(kinds(), (std::vector<std::string>{"file.landed", "action.started", "action.succeeded",
                                               "action.started", "action.succeeded"}));
  for (std::size_t i = 1; i < journal_.events.size(); ++i) {
    EXPECT_EQ(journal_.events[i].depth, 1u);
    EXPECT_EQ(journal_.events[i].cause, cause);
    EXPECT_EQ(journal_.events[i].rule, "handle");
  }
  EXPECT_EQ(first("action.started")->fields.get_int("pid"), 4242);
  EXPECT_EQ(ledger_.finished_files,
            (std::vector<std::pair<std::string, std::string>>{{"/r/a.json", "handled"}}));
  EXPECT_EQ(pipeline_->in_flight(), 0u);
}

TEST_F(PipelineTest, AnEventIsInTheFileBeforeAnythingActsOnIt) {
  rules(std::string(kRunOnLanded) + R"(
[[rule]]
name = "stop-it"
on = "worker.hung"
  [[rule.action]]
  do = "kill"
  worker = "w1"
)");
  // The journal gathers events and writes them when asked: whatever acts on
  // an event finds it (and all before it) in the file already.
  std::vector<std::size_t> in_file_at_start;
  runner_.on_start = [&] { in_file_at_start.push_back(journal_.in_file); };
  std::size_t in_file_at_kill = 0;
  pipeline_->set_action_handler(
      ActionType::kKill, [&](const ActionRequest&, const Event&, const Pipeline::ActionDone& done) {
        in_file_at_kill = journal_.in_file;
        done(make_success("killed"));
      });
  pipeline_->submit(event("file.removed", "/r/x"));  // nothing acts: nothing forces a write
  EXPECT_EQ(journal_.in_file, 0u);
  pipeline_->submit(event("file.landed", "/r/a.json"));
  ASSERT_EQ(in_file_at_start, (std::vector<std::size_t>{2}));  // file.removed, file.landed
  runner_.finish(0, make_success("exit 0"));
  ASSERT_EQ(in_file_at_start.size(), 2u);
  // The second action's cause is the same event; what its first action logged
  // (action.started, action.succeeded) is in the file by then too.
  EXPECT_EQ(in_file_at_start[1], journal_.events.size() - 1);  // all but its own action.started
  pipeline_->submit(event("worker.hung", "", "w1"));
  const Event* hung = first("worker.hung");
  ASSERT_NE(hung, nullptr);
  EXPECT_GT(in_file_at_kill, static_cast<std::size_t>(hung - journal_.events.data()));
}

TEST_F(PipelineTest, AFailedActionSkipsTheRestOfItsPlan) {
  rules(kRunOnLanded);
  pipeline_->submit(event("file.landed", "/r/a.json"));
  runner_.finish(0, make_failure(outcome_category::kExecution, "exit 1", "look"));
  EXPECT_EQ(runner_.started.size(), 1u);
  const Event* failed = first("action.failed");
  ASSERT_NE(failed, nullptr);
  EXPECT_EQ(failed->fields.get_int("skipped"), 1);
  EXPECT_EQ(failed->fields.get_string("category"), "execution");
  EXPECT_EQ(ledger_.finished_files.at(0).second, "failed");
  EXPECT_EQ(pipeline_->stats().actions_failed, 1u);
}

TEST_F(PipelineTest, ALandedFileNoRuleWantsIsFinishedAsNoRule) {
  rules(kRunOnLanded);
  pipeline_->submit(event("file.removed", "/r/a.json"));  // no rule: not a landing either
  pipeline_->submit(event("file.landed", "/r/b.txt"));
  runner_.finish(0, make_success(""));
  runner_.finish(1, make_success(""));
  EXPECT_EQ(ledger_.finished_files.size(), 1u);
  rules("");
  pipeline_->submit(event("file.landed", "/r/c.json"));
  EXPECT_EQ(ledger_.finished_files.back(),
            (std::pair<std::string, std::string>{"/r/c.json", "no-rule"}));
}

// The two rules of issue #9's first defect, through outcomes rather than emit:
// each failure fires the other rule again.
constexpr std::string_view kOutcomeLoop = R"(
[[rule]]
name = "kick"
on = "daemon.started"
  [[rule.action]]
  do = "run"
  argv = ["false"]

[[rule]]
name = "again"
on = "action.failed"
  [[rule.action]]
  do = "run"
  argv = ["false"]
)";

TEST_F(PipelineTest, ALoopThroughOutcomesIsCutAtMaxDepthAndReportedOnce) {
  PipelineOptions options;
  options.chain.max_depth = 8;
  options.chain.burst = 1000;  // only the depth bound in this test
  make(options);
  rules(kOutcomeLoop);
  runner_.complete_inline = make_failure(outcome_category::kExecution, "exit 1", "");
  pipeline_->submit(event("daemon.started"));

  EXPECT_EQ(runner_.max_depth, 1) << "an outcome was handled on its action's stack";
  // One run at each depth 0..7; the action.failed at depth 8 fires nothing.
  EXPECT_EQ(runner_.started.size(), 8u);
  ASSERT_EQ(count("rule.loop"), 1u);
  const Event* loop = first("rule.loop");
  EXPECT_EQ(loop->fields.get_string("rules"), "again");
  EXPECT_EQ(loop->fields.get_int("depth"), 8);
  EXPECT_NE(loop->fields.get_string("chain")->find("kick → again"), std::string::npos);
  EXPECT_EQ(loop->depth, 0u);
  EXPECT_EQ(pipeline_->in_flight(), 0u);
  // The pipeline still serves.
  pipeline_->submit(event("daemon.started"));
  EXPECT_EQ(runner_.started.size(), 16u);
}

TEST_F(PipelineTest, AFastDerivedLoopIsThrottledToItsTokenBucket) {
  PipelineOptions options;
  options.chain.max_depth = 1'000'000;  // only the throttle in this test
  options.chain.rate = 10;
  options.chain.burst = 5;
  make(options);
  rules(R"(
[[rule]]
name = "retry"
on = "action.failed"
  [[rule.action]]
  do = "run"
  argv = ["false"]

[[rule]]
name = "kick"
on = "tick"
  [[rule.action]]
  do = "run"
  argv = ["false"]
)");
  runner_.complete_inline = make_failure(outcome_category::kExecution, "exit 1", "");
  // Ten seconds of one real event every 100 ms, each starting a derived chain.
  for (int i = 0; i < 100; ++i) {
    pipeline_->submit(event("tick"));
    clock_.advance(milliseconds(100));
  }
  // "kick" fires on real events: never throttled (100). "retry" fires on
  // derived ones: at most burst + rate × 10 s = 105.
  const std::size_t retries = runner_.started.size() - 100;
  EXPECT_LE(retries, 105u);
  EXPECT_GE(retries, 95u);
  EXPECT_EQ(count("rule.throttled"), 1u) << "reported when it first bites, not per drop";
  EXPECT_EQ(first("rule.throttled")->rule, "retry");
}

TEST_F(PipelineTest, EmitReentersOneStepDeeperWithoutThePath) {
  rules(R"(
[[rule]]
name = "relay"
on = "file.landed"
  [[rule.action]]
  do = "emit"
  kind = "result.ready"
  entity = "proj"
  fields = { from = "{name}" }
)");
  const std::uint64_t cause = pipeline_->submit(event("file.landed", "/r/x.json"));
  const Event* derived = first("result.ready");
  ASSERT_NE(derived, nullptr);
  EXPECT_EQ(derived->depth, 1u);
  EXPECT_EQ(derived->cause, cause);
  EXPECT_EQ(derived->path, "");
  EXPECT_EQ(derived->entity, "proj");
  EXPECT_EQ(derived->fields.get_string("from"), "x.json");
  EXPECT_TRUE(runner_.started.empty());  // emit is the pipeline's own action
}

TEST_F(PipelineTest, MarkRecordsTheEntityThroughTheLifecycleTable) {
  rules(R"(
[[rule]]
name = "done"
on = "file.landed"
  [[rule.action]]
  do = "mark"
  entity = "{entity}"
  state = "completed"
)");
  runner_.complete_inline = make_success("marked");
  pipeline_->submit(event("file.landed", "/r/DONE", "proj-1"));
  ASSERT_NE(entities_.get("proj-1"), nullptr);
  EXPECT_EQ(entities_.get("proj-1")->state, LifecycleState::kCompleted);
  const Event* changed = first("state.changed");
  ASSERT_NE(changed, nullptr);
  EXPECT_EQ(changed->rule, "done");
  EXPECT_EQ(changed->depth, 1u);
}

TEST_F(PipelineTest, ContentIsReadOffTheTurnAndOtherEventsGoOnMeanwhile) {
  rules(R"(
[[rule]]
name = "valid"
on = "file.landed"
when = [ { json = "/status", equals = "done" } ]
  [[rule.action]]
  do = "run"
  argv = ["/bin/true"]
)");
  reader_.files["/r/a.json"] = R"({"status": "done"})";
  pipeline_->submit(event("file.landed", "/r/a.json"));
  pipeline_->submit(event("other"));
  EXPECT_EQ(kinds(), (std::vector<std::string>{"file.landed", "other"}));
  EXPECT_TRUE(runner_.started.empty());
  EXPECT_EQ(pipeline_->in_flight(), 1u);  // the read
  reader_.complete_next();
  ASSERT_EQ(runner_.started.size(), 1u);
  // A file that is gone by then: the json condition does not hold.
  pipeline_->submit(event("file.landed", "/r/gone.json"));
  reader_.complete_next();
  EXPECT_EQ(runner_.started.size(), 1u);
  EXPECT_EQ(ledger_.finished_files.back().second, "no-rule");
}

TEST_F(PipelineTest, ADebouncedRuleFiresWhenItsAlarmRings) {
  rules(R"(
[[rule]]
name = "settle"
on = "file.landed"
debounce = "2s"
  [[rule.action]]
  do = "run"
  argv = ["/bin/true"]
)");
  pipeline_->submit(event("file.landed", "/r/a", "p"));
  clock_.advance(seconds(1));
  pipeline_->submit(event("file.landed", "/r/a", "p"));
  EXPECT_TRUE(runner_.started.empty());
  ASSERT_TRUE(alarm_.deadline.has_value());
  EXPECT_EQ(*alarm_.deadline, clock_.mono() + seconds(2));  // pushed back by the second one
  clock_.advance(seconds(2));
  alarm_.ring();
  EXPECT_EQ(runner_.started.size(), 1u);
  EXPECT_FALSE(alarm_.deadline.has_value()) << "idle: no alarm armed";
}

TEST_F(PipelineTest, AHandlerMayReportBeforeItReturnsAndOnlyOnce) {
  rules(R"(
[[rule]]
name = "stop-it"
on = "worker.hung"
  [[rule.action]]
  do = "kill"
  worker = "w1"
)");
  int calls = 0;
  pipeline_->set_action_handler(
      ActionType::kKill, [&](const ActionRequest&, const Event&, const Pipeline::ActionDone& done) {
        ++calls;
        done(make_success("killed"));
        done(make_failure(outcome_category::kUnknown, "twice", ""));
      });
  pipeline_->submit(event("worker.hung", "", "w1"));
  EXPECT_EQ(calls, 1);
  EXPECT_EQ(count("action.succeeded"), 1u);
  EXPECT_EQ(count("action.failed"), 0u);
  EXPECT_TRUE(runner_.started.empty());
}

TEST_F(PipelineTest, DrainLetsRunningPlansEndAndAbandonsTheirLandedFiles) {
  rules(kRunOnLanded);
  bool idle = false;
  pipeline_->set_on_idle([&] { idle = true; });
  pipeline_->submit(event("file.landed", "/r/a.json"));
  pipeline_->drain();
  pipeline_->submit(event("file.landed", "/r/b.json"));  // logged, starts nothing
  EXPECT_EQ(count("file.landed"), 2u);
  EXPECT_EQ(runner_.started.size(), 1u);
  runner_.finish(0, make_success("exit 0"));  // its next action does not start
  EXPECT_EQ(runner_.started.size(), 1u);
  EXPECT_TRUE(idle);
  EXPECT_EQ(ledger_.abandoned_files, (std::vector<std::string>{"/r/a.json"}));
  EXPECT_TRUE(ledger_.finished_files.empty());
}

// Two rules on one file: a move, and a run that records it (the issue's case).
constexpr std::string_view kMoveAndRecord = R"(
[[rule]]
name = "file-it"
on = "file.landed"
  [[rule.action]]
  do = "move"
  to = "/r/done"
[[rule]]
name = "record"
on = "file.landed"
  [[rule.action]]
  do = "run"
  argv = ["/bin/record", "{path}"]
  [[rule.action]]
  do = "run"
  argv = ["/bin/notify", "{path}"]
)";

TEST_F(PipelineTest, TheWholeIntentIsInTheFileBeforeItsFirstActionActs) {
  rules(kMoveAndRecord);
  std::vector<std::vector<OpenIntent>> open_at_start;
  runner_.on_start = [&] { open_at_start.push_back(intents_.left_open()); };
  pipeline_->submit(event("file.landed", "/r/a.json"));
  ASSERT_EQ(open_at_start.size(), 2u);  // the move, the record: one plan each
  ASSERT_EQ(open_at_start[0].size(), 1u);
  const OpenIntent& intent = open_at_start[0][0];
  EXPECT_EQ(intent.cause.kind, "file.landed");
  EXPECT_EQ(intent.cause.path, "/r/a.json");
  ASSERT_EQ(intent.plans.size(), 2u);  // both rules, rendered, before either acts
  EXPECT_EQ(intent.plans[0].rule, "file-it");
  EXPECT_EQ(intent.plans[1].rule, "record");
  EXPECT_EQ(std::get<RunRequest>(intent.plans[1].actions[0].body).argv,
            (std::vector<std::string>{"/bin/record", "/r/a.json"}));
  // Each action is recorded as started before it acts.
  EXPECT_TRUE(open_at_start[1][0].progress[0].in_flight);
  EXPECT_FALSE(open_at_start[0][0].progress[1].in_flight);
  EXPECT_TRUE(open_at_start[1][0].progress[1].in_flight);

  for (std::size_t i = 0; i < 2; ++i) runner_.finish(i, make_success("done"));
  runner_.finish(2, make_success("done"));
  ASSERT_TRUE(intents_.flush().ok());         // the end of the loop turn
  EXPECT_TRUE(intents_.left_open().empty());  // closed once every plan ended
  EXPECT_EQ(ledger_.finished_files,
            (std::vector<std::pair<std::string, std::string>>{{"/r/a.json", "handled"}}));
}

// Fault 4 of docs/crash-testing.md: a cause in the event log without its
// intent lands its file again after a SIGKILL, while an intent without its
// cause is mended at start (the daemon logs the cause). So before an action
// acts: the intents opened, then the events, then the other intent records
// (an action's end must not precede its outcome event).
TEST_F(PipelineTest, IntentsOpenedReachTheirFileBeforeTheirCausesReachTheEventLog) {
  rules(kMoveAndRecord);
  std::vector<std::string> flushes;
  journal_.flushes = &flushes;
  intents_.flushes = &flushes;
  std::vector<std::string> at_first_start;
  runner_.on_start = [&] {
    if (at_first_start.empty()) at_first_start = flushes;
  };
  pipeline_->submit(event("file.landed", "/r/a.json"));
  ASSERT_GE(at_first_start.size(), 3u);
  EXPECT_EQ((std::vector<std::string>(at_first_start.end() - 3, at_first_start.end())),
            (std::vector<std::string>{"intent opens", "events", "intents"}));
}

TEST_F(PipelineTest, AResumedIntentRunsWhatHadNotStartedAndReportsWhatWasInFlight) {
  rules(kMoveAndRecord);
  pipeline_->set_next_seq(40);
  pipeline_->submit(event("file.landed", "/r/a.json"));
  runner_.finish(0, make_success("moved"));     // the move ended
  runner_.finish(1, make_success("recorded"));  // /bin/record ended; /bin/notify starts
  ASSERT_EQ(runner_.started.size(), 3u);
  ASSERT_TRUE(intents_.flush().ok());
  // SIGKILL here: /bin/notify was in flight. A new daemon resumes the intent.
  std::vector<OpenIntent> open = intents_.left_open();
  ASSERT_EQ(open.size(), 1u);
  journal_.events.clear();
  runner_.started.clear();
  make(PipelineOptions{});
  pipeline_->set_next_seq(100);
  pipeline_->resume(std::move(open));

  EXPECT_EQ(ledger_.resumed_files, (std::vector<std::string>{"/r/a.json"}));
  const Event* resumed = first("plan.resumed");
  ASSERT_NE(resumed, nullptr);
  EXPECT_EQ(resumed->cause, 40u);
  EXPECT_EQ(resumed->fields.get_string("rules"), "file-it, record");
  EXPECT_EQ(resumed->fields.get_int("actions_left"), 1);
  // A run is not idempotent: reported interrupted, not run again.
  const Event* failed = first("action.failed");
  ASSERT_NE(failed, nullptr);
  EXPECT_EQ(failed->fields.get_string("category"), "interrupted");
  EXPECT_EQ(failed->fields.get_int("index"), 1);
  EXPECT_EQ(failed->cause, 40u);
  EXPECT_EQ(failed->rule, "record");
  EXPECT_TRUE(runner_.started.empty());
  EXPECT_EQ(ledger_.finished_files,
            (std::vector<std::pair<std::string, std::string>>{{"/r/a.json", "failed"}}));
  ASSERT_TRUE(intents_.flush().ok());
  EXPECT_TRUE(intents_.left_open().empty());
  EXPECT_EQ(pipeline_->in_flight(), 0u);
}

TEST_F(PipelineTest, AResumedPlanRunsItsNextActionsAndRerunsWhatItMay) {
  rules(std::string(kMoveAndRecord) + R"(
[[rule]]
name = "retry-safe"
on = "file.landed"
  [[rule.action]]
  do = "run"
  argv = ["/bin/check", "{path}"]
  on_interrupt = "rerun"
)");
  pipeline_->submit(event("file.landed", "/r/a.json"));
  // Killed with all three first actions in flight: the move (idempotent), the
  // record (not) and the check (its rule allows a rerun).
  std::vector<OpenIntent> open = intents_.left_open();
  ASSERT_EQ(open.size(), 1u);
  runner_.started.clear();
  journal_.events.clear();
  make(PipelineOptions{});
  pipeline_->resume(std::move(open));
  ASSERT_EQ(runner_.started.size(), 2u);
  EXPECT_EQ(runner_.started[0].request.type(), ActionType::kMove);
  EXPECT_EQ(std::get<RunRequest>(runner_.started[1].request.body).argv[0], "/bin/check");
  EXPECT_EQ(count("action.failed"), 3u);  // each reported, whether it runs again or not
  for (const Event& e : journal_.events) {
    if (e.kind != "action.failed") continue;
    EXPECT_EQ(e.fields.get_string("category"), "interrupted");
  }
  runner_.finish(0, make_success("already moved"));
  runner_.finish(1, make_success("checked"));
  EXPECT_EQ(pipeline_->in_flight(), 0u);
  ASSERT_TRUE(intents_.flush().ok());
  EXPECT_TRUE(intents_.left_open().empty());
}

TEST_F(PipelineTest, AnIntentThatShutdownCutShortStaysOpenAndResumesWhereItStopped) {
  rules(kRunOnLanded);
  pipeline_->submit(event("file.landed", "/r/a.json"));
  pipeline_->drain();
  runner_.finish(0, make_success("exit 0"));  // the second action does not start
  ASSERT_TRUE(intents_.flush().ok());
  std::vector<OpenIntent> open = intents_.left_open();
  ASSERT_EQ(open.size(), 1u);
  EXPECT_EQ(open[0].progress[0].next, 1u);
  EXPECT_FALSE(open[0].progress[0].in_flight);
  runner_.started.clear();
  make(PipelineOptions{});
  pipeline_->resume(std::move(open));
  ASSERT_EQ(runner_.started.size(), 1u);
  EXPECT_EQ(std::get<RunRequest>(runner_.started[0].request.body).argv,
            (std::vector<std::string>{"/bin/echo", "second"}));
  EXPECT_EQ(count("action.failed"), 0u);
  runner_.finish(0, make_success("exit 0"));
  ASSERT_TRUE(intents_.flush().ok());
  EXPECT_TRUE(intents_.left_open().empty());
}

TEST_F(PipelineTest, EventsNoRuleActsOnOpenNoIntent) {
  rules(kRunOnLanded);
  pipeline_->submit(event("file.removed", "/r/a.json"));
  ASSERT_TRUE(intents_.flush().ok());
  EXPECT_EQ(intents_.in_file, state_file_header(kIntentLogKind));
}

TEST_F(PipelineTest, CallbacksThatOutliveThePipelineAreIgnored) {
  rules(kRunOnLanded);
  pipeline_->submit(event("file.landed", "/r/a.json"));
  const std::size_t logged = journal_.events.size();
  pipeline_.reset();
  runner_.finish(0, make_success("late"));
  EXPECT_EQ(journal_.events.size(), logged);
  EXPECT_FALSE(alarm_.deadline.has_value());
}

}  // namespace
}  // namespace aw
