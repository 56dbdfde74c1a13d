// The one pipeline every event goes through (DESIGN §2):
//
//   submit(Event) → seq + time → event log → rules (pure match, gate) → plans →
//   actions (async) → outcome events → submit(...) again
//
// Watchers, signals, the CLI and action outcomes all enter through submit(). The
// pipeline owns no I/O of its own beyond reading a file's content for JSON
// conditions (on the thread pool) and it never blocks the loop.
//
// Threading: loop thread only. Lifetimes: the loop, clock, log writer, executor
// and file index passed in must outlive the Pipeline.
#pragma once

#include <uv.h>

#include <sys/types.h>

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "src/actions/action_executor.h"
#include "src/core/clock.h"
#include "src/core/event.h"
#include "src/eventlog/event_log_writer.h"
#include "src/rules/rule.h"
#include "src/rules/rule_gate.h"
#include "src/state/state_store.h"
#include "src/uvx/handle.h"
#include "watchers/file_index.h"

namespace aw {

struct PipelineOptions {
  std::uint32_t max_emit_depth = 8;
  std::uint64_t max_json_bytes = 16u << 20;
};

struct PipelineStats {
  std::uint64_t events = 0;
  std::uint64_t plans = 0;
  std::uint64_t actions_ok = 0;
  std::uint64_t actions_failed = 0;
  std::uint64_t log_errors = 0;
};

class Pipeline {
 public:
  // `state` (may be null: then `mark` records nothing) is the lifecycle store.
  Pipeline(uv_loop_t* loop, const Clock& clock, EventLogWriter& log, ActionExecutor& executor,
           FileIndex* index, StateStore* state, PipelineOptions options);
  ~Pipeline();
  Pipeline(const Pipeline&) = delete;
  Pipeline& operator=(const Pipeline&) = delete;

  // Swaps the rule set. Plans already running go on with the actions they were rendered with.
  void set_rules(std::shared_ptr<const RuleSet> rules);
  const std::shared_ptr<const RuleSet>& rules() const { return rules_; }

  // The first seq the next event gets (continued from the event log at start).
  void set_next_seq(std::uint64_t seq) { next_seq_ = seq; }
  std::uint64_t next_seq() const { return next_seq_; }

  // Numbers, timestamps (if unset) and logs the event, then routes it through
  // the rules. Returns the seq it was given.
  std::uint64_t submit(Event e);

  // Actions the executor does not carry out because they need other parts of
  // the daemon (kill/restart: the supervisor; tmux; rotate; probe). The handler
  // starts the work and calls `done` exactly once, on the loop thread, possibly
  // before it returns. Requests whose type has no handler go to the executor.
  using ActionDone = std::function<void(ActionOutcome)>;
  using ActionHandler =
      std::function<void(const ActionRequest& request, const Event& cause, ActionDone done)>;
  void set_action_handler(ActionType type, ActionHandler handler);

  // Sees every event after it was logged and routed (the supervisor watches
  // for PID files and completions this way). It may submit() more events.
  void set_observer(std::function<void(const Event&)> observer) { observer_ = std::move(observer); }

  // After drain(), events are still logged but start no new plans (shutdown).
  void drain() { draining_ = true; }
  // Plans running plus file contents being read.
  std::size_t in_flight() const { return in_flight_; }
  // Called (once per transition) when in_flight() drops to zero.
  void set_on_idle(std::function<void()> on_idle) { on_idle_ = std::move(on_idle); }

  const PipelineStats& stats() const { return stats_; }

 private:
  struct Handling;
  struct PlanRun;

  void route(const std::shared_ptr<const Event>& event);
  void match_and_fire(const std::shared_ptr<const Event>& event, const std::string* content);
  void fire(const std::shared_ptr<Handling>& handling, const Rule& rule, const Event& event,
            const std::string* content);
  void run_next_action(const std::shared_ptr<PlanRun>& run);
  void on_action_done(const std::shared_ptr<PlanRun>& run, const ActionRequest& request,
                      ActionOutcome outcome);
  void run_emit(const std::shared_ptr<PlanRun>& run, const ActionRequest& request);
  void run_with_handler(const std::shared_ptr<PlanRun>& run, const ActionRequest& request,
                        const ActionHandler& handler);
  void log_action_started(const PlanRun& run, const ActionRequest& request, int attempt, pid_t pid);
  void record_entity_state(const std::string& entity, const std::string& state, const Event& cause,
                           const std::string& rule);
  void finish_handling(Handling& handling);
  void arm_gate_alarm();
  void on_gate_alarm();
  void add_in_flight() { ++in_flight_; }
  void release_in_flight();

  uv_loop_t* loop_;
  const Clock& clock_;
  EventLogWriter& log_;
  ActionExecutor& executor_;
  FileIndex* index_;
  StateStore* state_;
  PipelineOptions options_;
  std::shared_ptr<const RuleSet> rules_;
  RuleGate gate_;
  uvx::Timer gate_alarm_;
  std::uint64_t next_seq_ = 1;
  bool draining_ = false;
  std::size_t in_flight_ = 0;
  std::function<void()> on_idle_;
  std::function<void(const Event&)> observer_;
  std::map<ActionType, ActionHandler> handlers_;
  std::vector<const Rule*> matched_;  // scratch, reused so matching allocates nothing
  PipelineStats stats_;
  // Cleared in the destructor: thread-pool completions that outlive us see it.
  std::shared_ptr<bool> alive_ = std::make_shared<bool>(true);
};

}  // namespace aw
