#include "src/daemon/pipeline.h"

#include <spdlog/spdlog.h>
#include <cstdlib>

#include "src/core/duration.h"
#include "src/core/event_kinds.h"
#include "src/rules/matcher.h"
#include "src/state/entity_table.h"
#include "src/state/state_event.h"

namespace aw {

// One routed event and the plans it started; completes the file index entry of a
// landed file once every plan has finished.
struct Pipeline::Handling {
  std::shared_ptr<const Event> event;
  int pending_plans = 0;
  bool any_failed = false;
  int fired = 0;
  bool held = false;         // a rule's firing for it is held by the gate (debounce)
  bool routed = false;       // all plans have been started
  bool interrupted = false;  // shutdown cut a plan short: its intent stays open
  std::uint64_t intent = 0;  // its id in the intent log (0: not journaled)
};

struct Pipeline::PlanRun {
  std::shared_ptr<Handling> handling;
  Plan plan;
  std::size_t index = 0;  // its place among the intent's plans
  std::size_t next = 0;
  bool failed = false;                   // a step failed
  std::uint64_t breaker_generation = 0;  // admitted by its rule's breaker (0: none)
  MonoTime action_began{};               // when its current action was started
};

namespace {

// {env.X} in templates reads the daemon's own environment.
const EnvLookup kProcessEnv = [](std::string_view name) -> std::optional<std::string> {
  const char* v = std::getenv(std::string(name).c_str());
  if (!v) return std::nullopt;
  return std::string(v);
};

std::string_view outcome_kind(const ActionOutcome& o) {
  return o.ok ? kind::kActionSucceeded : kind::kActionFailed;
}

}  // namespace

Pipeline::Pipeline(const PipelinePorts& ports, PipelineOptions options)
    : ports_(ports),
      clock_(ports.clock),
      options_(options),
      rules_(std::make_shared<RuleSet>()),
      chain_(options.chain) {
  if (!ports_.env) ports_.env = &kProcessEnv;
  ports_.alarm.set_ring([this, alive = alive_] {
    if (*alive) on_gate_alarm();
  });
}

Pipeline::~Pipeline() {
  *alive_ = false;
  ports_.alarm.disarm();
}

void Pipeline::set_rules(std::shared_ptr<const RuleSet> rules) {
  rules_ = std::move(rules);
  gate_.retain_rules([&](std::string_view name) { return rules_->find(name) != nullptr; });
  breaker_.retain_rules([&](std::string_view name) { return rules_->find(name) != nullptr; });
  chain_.retain_rules([&](std::string_view name) { return rules_->find(name) != nullptr; });
  arm_gate_alarm();
}

std::uint64_t Pipeline::submit(Event e) {
  e.seq = next_seq_++;
  if (e.time == WallTime{}) e.time = clock_.wall();
  const std::uint64_t seq = e.seq;
  queue_.push_back(std::move(e));
  in_turn([] {});
  return seq;
}

void Pipeline::in_turn(const std::function<void()>& work) {
  if (handling_) {
    work();  // already in a turn: what it submits is queued behind
    return;
  }
  // Reset however the turn ends: an exception escaping a handler (caught by
  // the loop's trampoline) must not leave every later submit() only queueing.
  struct TurnScope {
    bool& flag;
    explicit TurnScope(bool& f) : flag(f) { flag = true; }
    ~TurnScope() { flag = false; }
    TurnScope(const TurnScope&) = delete;
    TurnScope& operator=(const TurnScope&) = delete;
  } scope(handling_);
  work();
  while (!queue_.empty()) {
    Event e = std::move(queue_.front());
    queue_.pop_front();
    handle(std::move(e));
  }
}

void Pipeline::handle(Event e) {
  ++stats_.events;
  if (Status s = ports_.journal.append(e); !s) report_journal_error(s.error());
  if (!e.rule.empty() && e.depth > 0) chain_.record(e.seq, e.cause, e.rule);
  auto event = std::make_shared<const Event>(std::move(e));
  route(event);
  for (const auto& subscriber : subscribers_) subscriber(*event);
}

void Pipeline::journal_before_acting() {
  // Intents opened, then the events (their causes, earlier outcomes), then the
  // rest of the intent records (IntentJournal::flush_opens says why).
  if (ports_.intents)
    if (Status s = ports_.intents->flush_opens(); !s) report_journal_error(s.error());
  if (Status s = ports_.journal.flush(); !s) report_journal_error(s.error());
  if (!ports_.intents) return;
  if (Status s = ports_.intents->flush(); !s) report_journal_error(s.error());
}

void Pipeline::report_journal_error(const Error& error) {
  // The writer keeps the line in its backlog; say so once per failure.
  ++stats_.log_errors;
  spdlog::error("event log: {}", error.message);
}

void Pipeline::route(const std::shared_ptr<const Event>& event) {
  if (draining_) return;
  // Most events need no file content: match them right here, synchronously,
  // so a landed file reaches its action without another loop turn.
  if (event->path.empty() || !needs_content(*rules_, *event)) {
    match_and_fire(event, nullptr);
    return;
  }
  add_in_flight();
  ports_.content.read(event->path, options_.max_json_bytes,
                      [this, alive = alive_, event](std::shared_ptr<const std::string> content) {
                        if (!*alive) return;
                        if (!draining_) in_turn([&] { match_and_fire(event, content.get()); });
                        release_in_flight();
                      });
}

void Pipeline::match_and_fire(const std::shared_ptr<const Event>& event,
                              const std::string* content) {
  // A directory renamed away or removed: a debounce waiting on it (a session's
  // age-out, per = "directory") has nothing left to fire for.
  if (event->kind == kind::kDirRemoved && !event->path.empty()) {
    if (gate_.drop_held(event->path) > 0) arm_gate_alarm();
  } else if (event->kind == kind::kDirCreated) {
    if (auto from = event->fields.get_string("from"); from && gate_.drop_held(*from) > 0)
      arm_gate_alarm();
  }
  auto handling = std::make_shared<Handling>();
  handling->event = event;
  MatchInput input{content, ports_.env};
  matched_.clear();
  matching_rules(*rules_, *event, input, matched_);
  if (!matched_.empty() && event->depth >= chain_.policy().max_depth) {
    // The chain ends here: no rule fires, and one event says which ones it cut.
    std::vector<std::string> names;
    names.reserve(matched_.size());
    for (const Rule* rule : matched_) names.push_back(rule->name);
    report_loop(*event, names);
    matched_.clear();
  }
  // Kept apart from matched_, which a routing of another event reuses.
  const std::vector<const Rule*> matched = matched_;
  std::vector<std::shared_ptr<PlanRun>> runs;
  bool deferred = false;
  for (const Rule* rule : matched) {
    GateDecision decision = GateDecision::kFire;
    if (rule->gate.active())
      decision = gate_.offer(rule->name, rule->gate, gate_subject(*event, rule->gate.per), *event,
                             clock_.mono());
    if (decision == GateDecision::kDeferred) deferred = true;
    if (decision != GateDecision::kFire) continue;
    admit(handling, *rule, *event, content, runs);
  }
  if (deferred) {
    handling->held = true;
    arm_gate_alarm();
  }
  start_plans(*handling, runs);
}

bool Pipeline::may_fire(const Rule& rule, const Event& event) {
  const ChainDecision d = chain_.offer(rule.name, event.depth, clock_.mono());
  if (d.dropped_before > 0)
    spdlog::warn("rule {}: quiet again after {} throttled firings", rule.name, d.dropped_before);
  if (d.verdict == ChainVerdict::kFire) return true;
  if (d.verdict == ChainVerdict::kTooDeep) {
    report_loop(event, {rule.name});  // a debounced firing that came due too deep
    return false;
  }
  if (d.first_drop) {
    Event t;
    t.kind = kind::kRuleThrottled;
    t.source = "rules";
    t.cause = event.seq;
    t.rule = rule.name;
    t.entity = event.entity;
    t.fields.set("event", event.kind);
    t.fields.set("depth", static_cast<std::int64_t>(event.depth));
    t.fields.set("rate", chain_.policy().rate);
    t.fields.set("burst", chain_.policy().burst);
    submit(std::move(t));
  }
  return false;
}

void Pipeline::report_loop(const Event& event, const std::vector<std::string>& rules) {
  if (chain_.descends_from_loop_report(event.seq)) {
    // Reported once already: a chain grown from that report ends quietly.
    spdlog::warn("rule loop cut at depth {} again, after a rule.loop: not reported", event.depth);
    return;
  }
  std::vector<std::string> chain = chain_.chain_of(event.seq);
  std::string path;
  for (const std::string& r : chain) path += r + " → ";
  std::string cut;
  for (const std::string& r : rules) cut += (cut.empty() ? "" : ", ") + r;
  path += "(" + cut + ")";
  Event loop;
  loop.kind = kind::kRuleLoop;
  loop.source = "rules";
  loop.cause = event.seq;
  loop.entity = event.entity;
  // depth 0: a rule may alert on it, and its own chain starts afresh.
  loop.fields.set("event", event.kind);
  loop.fields.set("depth", static_cast<std::int64_t>(event.depth));
  loop.fields.set("rules", cut);
  loop.fields.set("chain", path);
  spdlog::warn("rule loop cut at depth {}: {}", event.depth, path);
  chain_.record_loop_report(submit(std::move(loop)));
}

Event Pipeline::derived_from(const Event& cause, const std::string& rule) const {
  Event e;
  e.path = cause.path;
  e.entity = cause.entity;
  e.cause = cause.seq;
  e.rule = rule;
  e.depth = cause.depth + 1;  // one more step on the chain (ChainGuard)
  return e;
}

void Pipeline::admit(const std::shared_ptr<Handling>& handling, const Rule& rule,
                     const Event& event, const std::string* content,
                     std::vector<std::shared_ptr<PlanRun>>& runs) {
  BreakerAdmission admission{true, 0, false};
  if (rule.breaker.active()) {
    admission = breaker_.offer(rule.name, rule.breaker, event, clock_.mono());
    if (!admission.fire) {
      // Held while the circuit is open, in memory: like a debounced firing,
      // its file lands again at the next start.
      handling->held = true;
      return;
    }
  }
  auto run = prepare(handling, rule, event, content);
  if (!run) {
    // A trial the chain guard refused failed: the circuit must not wait on it.
    if (admission.trial) breaker_record(rule.name, admission.generation, false);
    return;
  }
  run->breaker_generation = admission.generation;
  runs.push_back(std::move(run));
}

void Pipeline::breaker_record(const std::string& rule_name, std::uint64_t generation, bool ok) {
  const Rule* rule = rules_->find(rule_name);
  if (!rule || !rule->breaker.active()) return;
  if (auto change = breaker_.record(rule_name, rule->breaker, generation, ok, clock_.mono()))
    report_breaker(std::move(*change));
  arm_gate_alarm();
}

void Pipeline::report_breaker(BreakerChange change) {
  Event e;
  e.source = "rules";
  e.rule = change.rule;
  e.kind = change.to == BreakerState::kOpen       ? kind::kRuleCircuitOpen
           : change.to == BreakerState::kHalfOpen ? kind::kRuleCircuitHalfOpen
                                                  : kind::kRuleCircuitClosed;
  const Rule* rule = rules_->find(change.rule);
  e.fields.set("failures", static_cast<std::int64_t>(change.failures));
  if (rule) e.fields.set("cool_down", format_duration(rule->breaker.cool_down));
  e.fields.set("held", static_cast<std::int64_t>(change.held));
  if (change.dropped > 0) e.fields.set("dropped", static_cast<std::int64_t>(change.dropped));
  spdlog::warn("rule {}: circuit {} ({} failures in a row, {} events held)", change.rule,
               breaker_state_name(change.to), change.failures, change.held);
  submit(std::move(e));
  if (!change.to_fire.empty()) released_.push_back(std::move(change));
}

void Pipeline::fire_released() {
  std::vector<BreakerChange> released = std::move(released_);
  released_.clear();
  for (BreakerChange& change : released) {
    const Rule* rule = rules_->find(change.rule);
    for (Event& event : change.to_fire) {
      if (!rule || draining_) break;
      auto handling = std::make_shared<Handling>();
      handling->event = std::make_shared<const Event>(std::move(event));
      claim_again(*handling->event);
      std::vector<std::shared_ptr<PlanRun>> runs;
      if (auto run = prepare(handling, *rule, *handling->event, nullptr)) {
        run->breaker_generation = change.generation;
        runs.push_back(std::move(run));
      } else if (change.to == BreakerState::kHalfOpen) {
        breaker_record(change.rule, change.generation, false);
      }
      start_plans(*handling, runs);
    }
  }
}

std::shared_ptr<Pipeline::PlanRun> Pipeline::prepare(const std::shared_ptr<Handling>& handling,
                                                     const Rule& rule, const Event& event,
                                                     const std::string* content) {
  if (!may_fire(rule, event)) return nullptr;
  MatchInput input{content, ports_.env};
  auto run = std::make_shared<PlanRun>();
  run->handling = handling;
  run->plan = render(rule, event, input);
  return run;
}

void Pipeline::start_plans(Handling& handling, const std::vector<std::shared_ptr<PlanRun>>& runs) {
  if (!runs.empty() && ports_.intents) {
    // The whole intent is in the log before its first action acts.
    std::vector<const Plan*> plans;
    plans.reserve(runs.size());
    for (std::size_t i = 0; i < runs.size(); ++i) {
      runs[i]->index = i;
      plans.push_back(&runs[i]->plan);
    }
    handling.intent = ports_.intents->open(*handling.event, plans);
  }
  run_plans(handling, runs);
}

void Pipeline::run_plans(Handling& handling, const std::vector<std::shared_ptr<PlanRun>>& runs) {
  handling.pending_plans += static_cast<int>(runs.size());
  handling.fired += static_cast<int>(runs.size());
  stats_.plans += runs.size();
  for (std::size_t i = 0; i < runs.size(); ++i) add_in_flight();
  for (const auto& run : runs) run_next_action(run);
  handling.routed = true;
  if (handling.pending_plans == 0) finish_handling(handling);
}

void Pipeline::resume(std::vector<OpenIntent> intents) {
  // What the log must say comes first: each plan.resumed and each
  // interruption, in the file before a resumed action acts or an end is
  // journaled. A daemon killed during the resume then loses no report.
  in_turn([&] {
    for (const OpenIntent& intent : intents) report_resumed(intent);
  });
  journal_before_acting();
  in_turn([&] {
    for (OpenIntent& intent : intents) resume_intent(intent);
  });
}

void Pipeline::report_resumed(const OpenIntent& intent) {
  const Event& cause = intent.cause;
  if (ports_.ledger && cause.kind == kind::kFileLanded) ports_.ledger->resumed(cause);
  submit(plan_resumed_event(intent));
  for (std::size_t i = 0; i < intent.plans.size(); ++i) {
    const PlanProgress& progress = intent.progress[i];
    // An interrupted end is in the log already; an action in flight has none.
    if (!progress.in_flight || progress.stopped || progress.next >= intent.plans[i].actions.size())
      continue;
    const ActionRequest& request = intent.plans[i].actions[progress.next];
    submit(resumed_interruption_event(cause, intent.plans[i].rule, request,
                                      request.rerun_when_interrupted()));
  }
}

void Pipeline::resume_intent(OpenIntent& intent) {
  auto handling = std::make_shared<Handling>();
  handling->event = std::make_shared<const Event>(intent.cause);
  handling->intent = intent.id;

  std::vector<std::shared_ptr<PlanRun>> runs;
  for (std::size_t i = 0; i < intent.plans.size(); ++i) {
    auto run = std::make_shared<PlanRun>();
    run->handling = handling;
    run->plan = std::move(intent.plans[i]);
    run->index = i;
    const PlanProgress& progress = intent.progress[i];
    run->next = progress.stopped ? run->plan.actions.size() : progress.next;
    if (progress.stopped) handling->any_failed = true;
    if ((progress.in_flight || progress.interrupted) && run->next < run->plan.actions.size()) {
      ActionRequest& request = run->plan.actions[run->next];
      if (request.rerun_when_interrupted()) {
        request.resumed = true;
      } else {
        journal_end(*run, ActionEnd::kFailed);
        handling->any_failed = true;
        run->next = run->plan.actions.size();
      }
    }
    runs.push_back(std::move(run));
  }
  run_plans(*handling, runs);
}

Event Pipeline::plan_resumed_event(const OpenIntent& intent) const {
  const Event& cause = intent.cause;
  Event e;
  e.kind = kind::kPlanResumed;
  e.source = "pipeline";
  e.cause = cause.seq;
  e.entity = cause.entity;
  e.path = cause.path;
  std::string rules;
  std::int64_t left = 0;
  for (std::size_t i = 0; i < intent.plans.size(); ++i) {
    rules += (rules.empty() ? "" : ", ") + intent.plans[i].rule;
    if (!intent.progress[i].stopped)
      left += static_cast<std::int64_t>(intent.plans[i].actions.size() - intent.progress[i].next);
  }
  e.fields.set("intent", static_cast<std::int64_t>(intent.id));
  e.fields.set("event", cause.kind);
  e.fields.set("rules", rules);
  e.fields.set("actions_left", left);
  return e;
}

Event Pipeline::resumed_interruption_event(const Event& cause, const std::string& rule,
                                           const ActionRequest& request, bool again) const {
  // The daemon died while the action acted: nobody knows how it ended.
  Event out = derived_from(cause, rule);
  out.kind = kind::kActionFailed;
  out.source = "action";
  out.fields.set("action", action_type_name(request.type()));
  out.fields.set("index", static_cast<std::int64_t>(request.index));
  out.fields.set("category", std::string(outcome_category::kInterrupted));
  out.fields.set("message", again ? "the daemon stopped while it ran; it runs again"
                                  : "the daemon stopped while it ran; its outcome is unknown, "
                                    "and it does not run again");
  if (!again)
    out.fields.set("suggestion",
                   "set on_interrupt = \"rerun\" on the action if running it twice is safe");
  out.fields.set("resumed", true);
  return out;
}

void Pipeline::journal_start(const PlanRun& run) {
  if (ports_.intents && run.handling->intent != 0)
    ports_.intents->start(run.handling->intent, run.index, run.next);
}

void Pipeline::journal_end(const PlanRun& run, ActionEnd end) {
  if (ports_.intents && run.handling->intent != 0)
    ports_.intents->end(run.handling->intent, run.index, run.next, end);
}

void Pipeline::run_next_action(const std::shared_ptr<PlanRun>& run) {
  Handling& h = *run->handling;
  if (draining_ && run->next < run->plan.actions.size()) h.interrupted = true;
  if (run->next >= run->plan.actions.size() || draining_) {
    if (run->breaker_generation != 0 && !h.interrupted)
      breaker_record(run->plan.rule, run->breaker_generation, !run->failed);
    --h.pending_plans;
    if (h.routed && h.pending_plans == 0) finish_handling(h);
    release_in_flight();
    return;
  }
  const ActionRequest& request = run->plan.actions[run->next];
  run->action_began = ports_.clock.mono();
  if (request.type() == ActionType::kEmit && request.render_error.empty()) {
    run_emit(run, request);
    return;
  }
  if (auto it = handlers_.find(request.type());
      it != handlers_.end() && request.render_error.empty()) {
    run_with_handler(run, request, it->second);
    return;
  }
  const Event& cause = *h.event;
  journal_start(*run);
  journal_before_acting();
  ports_.actions.start(
      request, cause,
      [this, run, &request, alive = alive_](int attempt, pid_t pid) {
        if (*alive) log_action_started(*run, request, attempt, pid);
      },
      [this, run, &request, alive = alive_](ActionOutcome outcome) {
        if (*alive) on_action_done(run, request, std::move(outcome));
      });
}

void Pipeline::set_action_handler(ActionType type, ActionHandler handler) {
  if (handler)
    handlers_[type] = std::move(handler);
  else
    handlers_.erase(type);
}

void Pipeline::run_with_handler(const std::shared_ptr<PlanRun>& run, const ActionRequest& request,
                                const ActionHandler& handler) {
  log_action_started(*run, request, 1, 0);
  journal_start(*run);
  journal_before_acting();
  // `done` may be called before the handler returns: the outcome is then
  // reported from the handler's call, which on_action_done handles like any other.
  auto called = std::make_shared<bool>(false);
  handler(request, *run->handling->event,
          [this, run, &request, called, alive = alive_](ActionOutcome outcome) {
            if (!*alive || *called) return;
            *called = true;
            if (outcome.attempts == 0) outcome.attempts = 1;
            on_action_done(run, request, std::move(outcome));
          });
}

void Pipeline::log_action_started(const PlanRun& run, const ActionRequest& request, int attempt,
                                  pid_t pid) {
  Event started = derived_from(*run.handling->event, run.plan.rule);
  started.kind = kind::kActionStarted;
  started.source = "action";
  started.fields.set("action", action_type_name(request.type()));
  started.fields.set("index", static_cast<std::int64_t>(request.index));
  started.fields.set("attempt", static_cast<std::int64_t>(attempt));
  if (pid > 0) started.fields.set("pid", static_cast<std::int64_t>(pid));
  submit(std::move(started));
}

void Pipeline::on_action_done(const std::shared_ptr<PlanRun>& run, const ActionRequest& request,
                              ActionOutcome outcome) {
  Handling& h = *run->handling;
  const Event& cause = *h.event;
  const std::size_t remaining = run->plan.actions.size() - run->next - 1;
  Event out = derived_from(cause, run->plan.rule);
  out.kind = outcome_kind(outcome);
  out.source = "action";
  out.fields.set("action", action_type_name(request.type()));
  out.fields.set("index", static_cast<std::int64_t>(request.index));
  out.fields.set("category", outcome.category);
  out.fields.set("message", outcome.message);
  if (!outcome.suggestion.empty()) out.fields.set("suggestion", outcome.suggestion);
  out.fields.set("attempts", static_cast<std::int64_t>(outcome.attempts));
  // Every execution's duration, whatever the action: start to outcome, its
  // retries' waits included (a run's own wall_ms is its last attempt's).
  out.fields.set("duration_ms", FieldValue(to_ms(ports_.clock.mono() - run->action_began)));
  for (const auto& [k, v] : outcome.fields) out.fields.set(k, v);
  if (!outcome.ok && remaining > 0) out.fields.set("skipped", static_cast<std::int64_t>(remaining));
  if (outcome.ok)
    ++stats_.actions_ok;
  else
    ++stats_.actions_failed;
  submit(std::move(out));

  journal_end(*run, outcome.ok                                           ? ActionEnd::kOk
                    : outcome.category == outcome_category::kInterrupted ? ActionEnd::kInterrupted
                                                                         : ActionEnd::kFailed);
  if (const auto* mark = request.as<MarkRequest>(); outcome.ok && mark)
    record_entity_state(mark->entity, mark->state, cause, run->plan.rule);
  // A session in completed/ is the session entity's completion: whether this
  // action moved it, or another (or a killed daemon's) did and its outcome was
  // never logged. Recording a state the entity is in already does nothing.
  // Likewise a session moved to failed/ is the entity's failure.
  if (outcome.ok && (request.as<CompleteSessionRequest>() || request.as<FailSessionRequest>())) {
    const std::optional<std::string> state = outcome.fields.get_string("state");
    const char* entity_state = state == "completed" || state == "completed_before" ? "completed"
                               : state == "failed" || state == "failed_before"     ? "failed"
                                                                                   : nullptr;
    if (entity_state)
      record_entity_state(outcome.fields.get_string("session").value_or(""), entity_state, cause,
                          run->plan.rule);
  }
  if (outcome.category == outcome_category::kInterrupted) h.interrupted = true;
  if (!outcome.ok) {
    // An ordered list: what follows a failed step does not run.
    h.any_failed = true;
    run->failed = true;
    run->next = run->plan.actions.size();
  } else {
    ++run->next;
  }
  run_next_action(run);
}

void Pipeline::run_emit(const std::shared_ptr<PlanRun>& run, const ActionRequest& request) {
  // Bounded like every other derived event: by the chain guard, when it is routed.
  Event derived = derived_from(*run->handling->event, run->plan.rule);
  derived.path.clear();
  const EmitRequest& emit = std::get<EmitRequest>(request.body);
  derived.kind = emit.kind;
  derived.source = "rule";
  derived.entity = emit.entity;
  derived.fields = emit.fields;
  journal_end(*run, ActionEnd::kOk);
  ++run->next;
  submit(std::move(derived));  // queued: handled after the event being handled now
  run_next_action(run);
}

// A `mark` goes through the lifecycle state machine like any other transition:
// an entity seen for the first time is created in the marked state; an illegal
// transition (completed is final, queued cannot jump to completed) is refused
// and logged as state.refused.
void Pipeline::record_entity_state(const std::string& entity, const std::string& state,
                                   const Event& cause, const std::string& rule) {
  if (entity.empty() || !ports_.entities) return;
  const std::optional<LifecycleState> to = parse_lifecycle_state(state);
  if (!to) {
    spdlog::error("rule {}: mark with unknown state '{}'", rule, state);
    return;
  }
  const WallTime now = clock_.wall();
  const std::string reason = "marked by rule " + rule;
  std::vector<Evidence> evidence{{"rule", rule + " on event #" + std::to_string(cause.seq), now}};
  EntityTable& table = *ports_.entities;
  const EntityRecord* existing = table.get(entity);
  if (existing && existing->state == *to) return;  // already there: nothing happened
  Result<Change> change =
      existing ? table.transition(entity, *to, reason, evidence, now)
               : table.create(entity, EntityKind::kProject, *to, now, reason, evidence);
  if (!change && !table.get(entity)) {
    spdlog::error("rule {}: cannot record {} as {}: {}", rule, entity, state,
                  change.error().message);
    return;
  }
  Event out = change ? state_changed_event(*change)
                     : state_refused_event(*table.get(entity), *to, change.error().message, reason,
                                           evidence, now);
  out.cause = cause.seq;
  out.rule = rule;
  out.depth = cause.depth + 1;  // one more step on the chain (ChainGuard)
  submit(std::move(out));
}

void Pipeline::finish_handling(Handling& h) {
  // An interrupted intent stays open: the next start resumes it.
  if (ports_.intents && h.intent != 0 && !h.interrupted) ports_.intents->close(h.intent);
  if (!ports_.ledger || h.event->kind != kind::kFileLanded) return;
  if (h.interrupted || h.held) {
    // Not done: the next start resumes its intent (without an intent log, its
    // start scan lands the file again). A held firing lives in memory only, so
    // the file lands again at the next start and its wait starts over (a
    // session's age-out survives a restart); the firing records it once it
    // comes due.
    ports_.ledger->abandoned(*h.event);
    return;
  }
  const char* outcome = h.fired == 0 ? "no-rule" : (h.any_failed ? "failed" : "handled");
  ports_.ledger->finished(*h.event, outcome);
}

void Pipeline::arm_gate_alarm() {
  // One alarm for the gate's debounces and the breakers' cool-downs; events a
  // circuit released fire on the next turn. None once draining.
  if (draining_) {
    ports_.alarm.disarm();
    return;
  }
  std::optional<MonoTime> deadline = gate_.next_deadline();
  if (auto b = breaker_.next_deadline(); b && (!deadline || *b < *deadline)) deadline = b;
  if (!released_.empty()) deadline = clock_.mono();
  if (deadline)
    ports_.alarm.arm(*deadline);
  else
    ports_.alarm.disarm();
}

void Pipeline::on_gate_alarm() {
  in_turn([this] {
    fire_due();
    for (BreakerChange& change : breaker_.take_due(clock_.mono()))
      report_breaker(std::move(change));
    fire_released();
  });
  arm_gate_alarm();
}

void Pipeline::fire_due() {
  for (DueFiring& due : gate_.take_due(clock_.mono())) {
    const Rule* rule = rules_->find(due.rule);
    if (!rule || draining_) continue;
    auto handling = std::make_shared<Handling>();
    handling->event = std::make_shared<const Event>(std::move(due.event));
    claim_again(*handling->event);
    // JSON conditions were checked when the event was offered; the content read
    // then is gone, so a debounced rule's templates cannot depend on it (none do).
    std::vector<std::shared_ptr<PlanRun>> runs;
    admit(handling, *rule, *handling->event, nullptr, runs);
    start_plans(*handling, runs);
  }
}

void Pipeline::claim_again(const Event& event) {
  // A landing left unrecorded while its firing was held: claimed again, so
  // that the firing's handling records it.
  if (ports_.ledger && event.kind == kind::kFileLanded) ports_.ledger->resumed(event);
}

void Pipeline::release_in_flight() {
  if (--in_flight_ != 0 || !on_idle_) return;
  auto on_idle = on_idle_;  // the callback may replace on_idle_ while it runs
  on_idle();
}

}  // namespace aw
