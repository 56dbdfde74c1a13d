// The one pipeline every event goes through (DESIGN §2; docs/architecture.md):
//
//   submit(Event) → seq + time → queue ─drain─▶ event log → rules (pure match,
//   gate, chain guard) → plans → actions (async) → outcome events → submit(...)
//                                        └─▶ subscribers (in seq order)
//
// Watchers, signals, the CLI and action outcomes all enter through submit().
// Run to completion: submit() numbers the event and queues it; one drain loop
// takes events in seq order and, for each, logs it, routes it and hands it to
// the subscribers before it takes the next. An event submitted while another
// is being handled (an outcome reported synchronously, a state change, an
// emit) waits its turn: no event is ever handled on another event's stack, so
// no chain of rules can grow the stack.
//
// Every chain real event → rule → action → outcome → rule … is bounded by the
// ChainGuard (src/rules/chain_guard.h): events an action produces are one step
// deeper than the event that fired its rule; at max_depth the chain is cut
// (rule.loop, naming the rules on it), and derived firings are throttled per
// rule (rule.throttled).
//
// The pipeline is pure: everything it needs from the world (the event log, the
// action executor, file reads, its one alarm, the file index, the lifecycle
// table) comes through PipelinePorts (pipeline_ports.h), so its unit tests run
// without a loop or a file (pipeline_test.cc); pipeline_loop_ports.h binds the
// ports to libuv for the daemon. The library it is in cannot include uv.h.
//
// Threading: one thread (the loop's). Lifetimes: the ports must outlive the
// Pipeline; callbacks a port still holds when the Pipeline is destroyed are
// ignored when they come.
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "src/actions/action_outcome.h"
#include "src/core/clock.h"
#include "src/core/event.h"
#include "src/daemon/intent_log.h"
#include "src/daemon/pipeline_ports.h"
#include "src/rules/chain_guard.h"
#include "src/rules/rule.h"
#include "src/rules/rule_gate.h"

namespace aw {

struct PipelineOptions {
  ChainPolicy chain;  // chain.max_depth is [daemon] max_emit_depth
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
  Pipeline(const PipelinePorts& ports, PipelineOptions options);
  ~Pipeline();
  Pipeline(const Pipeline&) = delete;
  Pipeline& operator=(const Pipeline&) = delete;

  // Swaps the rule set. Plans already running go on with the actions they were rendered with.
  void set_rules(std::shared_ptr<const RuleSet> rules);
  const std::shared_ptr<const RuleSet>& rules() const { return rules_; }

  // The first seq the next event gets (continued from the event log at start).
  void set_next_seq(std::uint64_t seq) { next_seq_ = seq; }
  std::uint64_t next_seq() const { return next_seq_; }

  // Numbers and timestamps (if unset) the event and queues it. Called from
  // outside a drain, it drains the queue before it returns: the event and every
  // event it led to synchronously are logged, routed and seen by subscribers.
  // Called while an event is being handled, it only queues. Returns the seq.
  std::uint64_t submit(Event e);

  // Actions the executor does not carry out because they need other parts of
  // the daemon (kill/restart: the supervisor; tmux; rotate; probe). The handler
  // starts the work and calls `done` exactly once, on the loop thread, possibly
  // before it returns. Requests whose type has no handler go to the executor.
  using ActionDone = std::function<void(ActionOutcome)>;
  using ActionHandler =
      std::function<void(const ActionRequest& request, const Event& cause, ActionDone done)>;
  void set_action_handler(ActionType type, ActionHandler handler);

  // Sees every event after it was logged and routed, in seq order, in the
  // order subscribers were added (the daemon's hints to tmux and the
  // supervisor this way). It may submit() more events: they are queued.
  void add_subscriber(std::function<void(const Event&)> subscriber) {
    subscribers_.push_back(std::move(subscriber));
  }

  // Resumes the intents a daemon left open (read from the intent log at
  // start, before the watchers' first scans): for each, a plan.resumed event,
  // then every plan goes on from its next action. An action that was in flight
  // is reported interrupted (action.failed, category "interrupted") and runs
  // again only when rerun_when_interrupted(); otherwise its plan stops there.
  // Call once, after set_rules() and the action handlers are set.
  void resume(std::vector<OpenIntent> intents);

  // After drain(), events are still logged but start no new plans (shutdown).
  // Debounced and held firings are dropped: the alarm is disarmed so that it
  // keeps no loop alive.
  void drain() {
    draining_ = true;
    ports_.alarm.disarm();
  }
  // Plans running plus file contents being read.
  std::size_t in_flight() const { return in_flight_; }
  // Called (once per transition) when in_flight() drops to zero.
  void set_on_idle(std::function<void()> on_idle) { on_idle_ = std::move(on_idle); }

  const PipelineStats& stats() const { return stats_; }

 private:
  struct Handling;
  struct PlanRun;

  // Runs `work` as one turn of the loop's handling: events it submits are
  // queued, then handled in seq order once it returns (at once when a turn
  // is already running: they join its queue).
  void in_turn(const std::function<void()>& work);
  void handle(Event e);
  // Before an action or handler acts: the journal puts its events in the file.
  void journal_before_acting();
  void report_journal_error(const Error& error);
  void route(const std::shared_ptr<const Event>& event);
  // The chain guard's verdict for `rule` on `event`; reports a throttle.
  bool may_fire(const Rule& rule, const Event& event);
  void report_loop(const Event& event, const std::vector<std::string>& rules);
  // An event `rule`'s plan for `cause` produced: source, cause, rule, depth set.
  Event derived_from(const Event& cause, const std::string& rule) const;
  void match_and_fire(const std::shared_ptr<const Event>& event, const std::string* content);
  // The rule's plan for `event`, rendered, or null when the chain guard refuses it.
  std::shared_ptr<PlanRun> prepare(const std::shared_ptr<Handling>& handling, const Rule& rule,
                                   const Event& event, const std::string* content);
  // Journals the plans as one intent, then starts each.
  void start_plans(Handling& handling, const std::vector<std::shared_ptr<PlanRun>>& runs);
  // Counts the plans in, starts each, and finishes the handling if none is left.
  void run_plans(Handling& handling, const std::vector<std::shared_ptr<PlanRun>>& runs);
  // The events a resumed intent logs (plan.resumed, its interruptions) and its file's claim.
  void report_resumed(const OpenIntent& intent);
  // Takes the intent's plans on from where they stood.
  void resume_intent(OpenIntent& intent);
  Event plan_resumed_event(const OpenIntent& intent) const;
  // action.failed (interrupted, resumed) for an action the daemon died in.
  Event resumed_interruption_event(const Event& cause, const std::string& rule,
                                   const ActionRequest& request, bool again) const;
  // The journal's records for one action (nothing without an intent log).
  void journal_start(const PlanRun& run);
  void journal_end(const PlanRun& run, ActionEnd end);
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
  void fire_due();
  // A matched rule's firing: through its circuit breaker (held while open),
  // then prepared into `runs`.
  void admit(const std::shared_ptr<Handling>& handling, const Rule& rule, const Event& event,
             const std::string* content, std::vector<std::shared_ptr<PlanRun>>& runs);
  // A plan under a breaker ended: its outcome moves the circuit.
  void breaker_record(const std::string& rule, std::uint64_t generation, bool ok);
  // Logs a circuit's change and queues the events it lets through.
  void report_breaker(BreakerChange change);
  void fire_released();
  // A held firing (debounce, open circuit) comes due for `event`.
  void claim_again(const Event& event);
  void add_in_flight() { ++in_flight_; }
  void release_in_flight();

  PipelinePorts ports_;
  const Clock& clock_;
  PipelineOptions options_;
  std::shared_ptr<const RuleSet> rules_;
  RuleGate gate_;
  RuleBreaker breaker_;
  // Events a circuit let through (closed: all it held; half-open: the trial),
  // fired on the next alarm turn rather than on the stack that closed it.
  std::vector<BreakerChange> released_;
  std::uint64_t next_seq_ = 1;
  bool draining_ = false;
  std::size_t in_flight_ = 0;
  std::function<void()> on_idle_;
  std::vector<std::function<void(const Event&)>> subscribers_;
  std::deque<Event> queue_;
  bool handling_ = false;  // inside in_turn()
  ChainGuard chain_;
  std::map<ActionType, ActionHandler> handlers_;
  std::vector<const Rule*> matched_;  // scratch, reused so matching allocates nothing
  PipelineStats stats_;
  // Cleared in the destructor: port callbacks that outlive us see it.
  std::shared_ptr<bool> alive_ = std::make_shared<bool>(true);
};

}  // namespace aw
