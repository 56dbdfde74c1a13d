// The worker machine's lifecycle verbs: start, stop, restart, kill, spawn and
// adoption, the end of a process, the restart policy's decisions, dependencies
// and the deadlines of the restart, the stable run and the kill's grace.
#include <algorithm>
#include <csignal>

#include "src/core/duration.h"
#include "src/supervise/supervisor_events.h"
#include "src/supervise/worker_machine_step.h"

namespace aw::worker_machine_detail {

namespace ev = supervisor_events;
namespace in = worker_input;
namespace cmd = worker_command;

namespace {

std::string describe_end(const ProcessEnd& e) {
  if (!e.status_known) return "ended (status unknown)";
  if (e.exited) return "exited with code " + std::to_string(e.exit_code);
  return "killed by signal " + std::to_string(e.term_signal);
}

}  // namespace

// ---- requests ----

void Stepper::start() {
  if (w.process) {
    refuse("worker '" + spec.name + "' is already running (pid " + std::to_string(w.process->pid) +
           ")");
    return;
  }
  if (spec.argv.empty()) {
    refuse("worker '" + spec.name +
           "' has no argv: agentwatch cannot start it, it adopts it when its pid_file lands");
    return;
  }
  if (w.phase == WorkerPhase::kGaveUp) {
    w.restart = RestartPolicy::reset(std::move(w.restart));
    persist_restart();
  }
  cancel_restart_deadlines();
  w.stop_requested = false;
  w.start_after_stop = false;
  if (!world.missing_deps.empty()) {
    wait_for_deps(/*after_exit=*/false);
    return;
  }
  w.pending_attempt = policy.restarts_in_window(w.restart, now.mono) + 1;
  begin_spawn();
}

void Stepper::stop() {
  switch (w.phase) {
    case WorkerPhase::kRunning:
      result_.commands.emplace_back(cmd::Signal{SIGTERM, /*kill_group_on_exit=*/true,
                                                /*refuse_on_error=*/true, std::nullopt});
      w.stop_requested = true;
      enter(WorkerPhase::kStopping);
      w.escalate_after = spec.kill_grace;
      w.escalate_due = now.mono + spec.kill_grace;
      return;
    case WorkerPhase::kStopping:
      w.start_after_stop = false;
      return;
    case WorkerPhase::kKilling:
      // The kill goes on (and is still a failure for the lifecycle); the stop
      // only says: do not restart it afterwards.
      w.stop_requested = true;
      w.start_after_stop = false;
      return;
    case WorkerPhase::kWaiting:
    case WorkerPhase::kBackoff:
    case WorkerPhase::kCircuitOpen: {
      WorkerPhase was = w.phase;
      cancel_restart_deadlines();
      enter(WorkerPhase::kStopped);
      emit(ev::stopped(spec.name, now.wall, worker_phase_name(was)));
      return;
    }
    default:
      refuse("worker '" + spec.name + "' is not running (" + worker_phase_name(w.phase) + ")");
  }
}

void Stepper::restart() {
  if (w.phase == WorkerPhase::kRunning) {
    stop();
    if (!refused()) w.start_after_stop = true;
    return;
  }
  if (w.phase == WorkerPhase::kStopping || w.phase == WorkerPhase::kKilling) {
    w.stop_requested = true;
    w.start_after_stop = true;
    return;
  }
  start();
}

void Stepper::kill(int signal, Duration grace, const std::string& reason,
                   const EvidenceList& evidence, bool asked) {
  if (!w.process) {
    refuse("worker '" + spec.name + "' is not running (" + worker_phase_name(w.phase) + ")");
    return;
  }
  WorkerPhase was = w.phase;
  bool first = w.phase == WorkerPhase::kRunning;
  result_.commands.emplace_back(
      cmd::Signal{signal, first, /*refuse_on_error=*/asked, std::nullopt});
  if (first) {
    enter(WorkerPhase::kKilling);
    w.kill_reason = reason;
    w.kill_evidence = evidence;
    w.escalate_after = grace;
    if (signal != SIGKILL)
      w.escalate_due = now.mono + grace;
    else
      w.escalate_due.reset();
    w.runtime_due.reset();
    w.presence_due.reset();
  }
  note("kill", "signal " + std::to_string(signal) + " (" + reason + ")" +
                   (first && signal != SIGKILL ? ", SIGKILL after " + format_duration(grace) : ""));
  emit(ev::killing(spec.name, now.wall, w.process->pid, signal, first ? grace : w.escalate_after,
                   first ? reason : w.kill_reason, worker_phase_name(was), evidence));
}

// ---- processes ----

void Stepper::begin_spawn() {
  w.restart = policy.on_spawn(std::move(w.restart), now.mono);
  persist_restart();
  w.attempt = std::max(w.pending_attempt, 1);
  // Always the last command: its answer (Spawned / SpawnFailed) is a step of its own.
  result_.commands.emplace_back(cmd::Spawn{});
}

void Stepper::spawned(const in::Spawned& s) {
  watch_started(WatchedProcess{s.pid, s.identity, /*adopted=*/false}, std::nullopt);
  emit(ev::started(spec.name, now.wall, s.pid, w.attempt, s.identity,
                   w.restart.circuit == CircuitState::kHalfOpen));
  request(LifecycleState::kProcessing, "started",
          {Evidence{"posix_spawn", "pid " + std::to_string(s.pid), now.wall}});
}

void Stepper::spawn_failed(const in::SpawnFailed& f) {
  // A spawn that fails is a failed run of length zero: the policy backs off
  // and, for a program that is not there, eventually gives up.
  emit(ev::spawn_failed(spec.name, now.wall, w.attempt, f.error));
  w.last_exit = "spawn failed: " + f.error;
  ExitFacts facts;
  facts.deps_ready = world.missing_deps.empty();
  PolicyStep step = policy.on_exit(w.restart, facts, now.mono, world.jitter);
  apply(step, {Evidence{"posix_spawn", f.error, now.wall}}, /*clean_exit=*/false);
}

void Stepper::adopted(const in::Adopted& a) {
  if (w.process) {
    refuse("worker '" + spec.name + "' already runs as pid " + std::to_string(w.process->pid));
    return;
  }
  const bool recovered = a.via == "recovered";
  if (!recovered) {
    // Someone else started it: a pending restart or wait of ours is moot.
    cancel_restart_deadlines();
    w.stop_requested = false;
    w.start_after_stop = false;
  }
  Event e = ev::adopted(spec.name, now.wall, a.pid, a.identity, a.via, a.liveness, a.evidence);
  note("adopt", recovered ? "re-adopted pid " + std::to_string(a.pid) + " after a restart"
                          : "pid " + std::to_string(a.pid) + " via " + a.via);
  watch_started(WatchedProcess{a.pid, a.identity, /*adopted=*/true}, a.carried);
  emit(std::move(e));
  if (!recovered) request(LifecycleState::kProcessing, "adopted via " + a.via, a.evidence);
}

void Stepper::lost(const in::Lost& l) {
  result_.commands.emplace_back(cmd::Erase{kProcessKey});
  result_.commands.emplace_back(cmd::Erase{kRunKey});
  w.absence = "lost while the daemon was down: pid " + std::to_string(l.pid) + " (" +
              format_evidence(l.evidence) + ")";
  note("lost", w.absence);
  emit(ev::lost(spec.name, now.wall, l.pid, l.identity, l.liveness, l.evidence));
}

void Stepper::watch_started(const WatchedProcess& p, const std::optional<RunRecord>& carried) {
  w.process = p;
  enter(WorkerPhase::kRunning);
  w.started = now.mono;
  result_.commands.emplace_back(cmd::Persist{kProcessKey, p.identity});
  w.stable_due = now.mono + spec.restart.stable_after;

  ++w.run;
  w.absence.clear();
  w.kill_reason.clear();
  w.kill_evidence.clear();
  w.timing_out = false;
  w.zombie = false;
  w.progress_baseline.reset();
  if (carried) {
    // As long ago as the wall clock says; a start in its future (the clock was
    // set back while the daemon was down) counts as now.
    w.run_started = now.to_mono(carried->started);
    w.extensions = carried->extensions;
  } else {
    w.run_started = now.mono;
    w.extensions = 0;
  }
  persist_run();
  drop_phantom("a process is watched");

  // Hung: judged at the runtime deadline, never before start_grace. A completed
  // worker is not judged at all.
  w.runtime_due.reset();
  if (!world.completed) {
    w.run_deadline = std::max(w.run_started + spec.runtime_limit, w.started + spec.start_grace);
    w.runtime_due = w.run_deadline;
  }
  // Heartbeat: a first sample now, then only at deadlines.
  w.heartbeat_in_flight = false;
  w.heartbeat_due.reset();
  if (!spec.heartbeat.empty()) {
    w.heartbeat.begin(now.mono);
    check_heartbeat();
  }
  // Zombie: judged once start_grace has passed (now when a snapshot already says
  // its session is gone; else at the next snapshot).
  w.presence_due.reset();
  if (!spec.tmux_session.empty()) w.presence_due = now.mono + spec.start_grace;
}

void Stepper::exited(const ProcessEnd& end) {
  if (!w.process) return;  // not ours to judge (defensive: the shell watches one at a time)
  result_.commands.emplace_back(cmd::Erase{kProcessKey});
  result_.commands.emplace_back(cmd::Erase{kRunKey});
  w.escalate_due.reset();
  w.stable_due.reset();
  w.runtime_due.reset();
  w.heartbeat_due.reset();
  w.presence_due.reset();
  const bool by_us = w.stop_requested;
  const std::string killed_for = std::exchange(w.kill_reason, std::string());
  const EvidenceList kill_evidence = std::exchange(w.kill_evidence, EvidenceList());
  const bool was_timing_out = std::exchange(w.timing_out, false);
  const bool was_zombie = std::exchange(w.zombie, false);
  const bool was_adopted = w.process->adopted;
  w.process.reset();
  w.last_exit = describe_end(end);
  w.absence = (end.child ? "wait4: " : "pidfd: ") + w.last_exit;
  note("exit", w.last_exit + (killed_for.empty() ? "" : " (killed: " + killed_for + ")"));
  const bool clean = end.status_known && end.exited && end.exit_code == 0;
  // What the lifecycle hears about this end, beyond what the policy asks for: a
  // kill is a failure with its reason; an end while timing_out or zombie leaves
  // that state (a clean completion under on-failure says `completed` instead).
  EvidenceList failure_evidence = kill_evidence;
  failure_evidence.insert(failure_evidence.end(), end.evidence.begin(), end.evidence.end());
  std::string failure_reason;
  if (!killed_for.empty()) {
    failure_reason = killed_for;
  } else if (was_timing_out || was_zombie) {
    bool completes = clean && spec.restart.mode == RestartMode::kOnFailure && !by_us;
    if (!completes)
      failure_reason = w.last_exit + " while " + (was_zombie ? "zombie" : "timing_out");
  }
  emit(ev::exited(spec.name, now.wall, end, by_us, killed_for, was_adopted, w.attempt));

  if (!failure_reason.empty() && !world.completed)
    request(LifecycleState::kFailed, failure_reason, failure_evidence);

  if (by_us) {
    w.stop_requested = false;
    enter(WorkerPhase::kStopped);
    emit(ev::stopped(spec.name, now.wall, std::nullopt));
    // An asked-for stop (`workers stop`, a restart by the CLI or a rule) ends
    // the run without a verdict (docs/lifecycle.md): queued, where neither
    // list-stuck nor the phantom detector judges it. A shutdown is not such a
    // stop: the next daemon reconciles what it finds.
    if (failure_reason.empty() && !world.completed && !world.stopping_all)
      request(LifecycleState::kQueued, w.start_after_stop ? "restarted" : "stopped", end.evidence);
    if (w.start_after_stop) {
      w.start_after_stop = false;
      // As start() would: a start that cannot happen (no argv) leaves it stopped.
      if (!spec.argv.empty()) start();
    } else {
      evaluate_presence();
    }
    return;
  }
  if (world.completed) {
    // A finished worker is never restarted nor marked failed, whatever its exit.
    enter(WorkerPhase::kExited);
    return;
  }
  if (spec.argv.empty()) {
    // Adopt-only: whoever started it decides what follows. If nobody does and
    // the entity stays processing, the phantom detector fails it after its grace.
    enter(WorkerPhase::kExited);
    evaluate_presence();
    return;
  }
  ExitFacts facts;
  facts.uptime = now.mono - w.started;
  // A killed worker failed, whatever its status after the signal.
  facts.clean = clean && killed_for.empty();
  facts.deps_ready = world.missing_deps.empty();
  PolicyStep step = policy.on_exit(w.restart, facts, now.mono, world.jitter);
  // The run is over, and the lifecycle hears how before what follows
  // (docs/lifecycle.md): a failed run is processing → failed, and the restart
  // that comes is then a new run (failed → queued: its run number goes up); a
  // clean end that restart = "always" restarts is processing → queued. A
  // give-up says failed with its own reason (apply), as does a kill (above).
  const DecisionKind next = step.decision.kind;
  if (failure_reason.empty() &&
      (next == DecisionKind::kRestartAt || next == DecisionKind::kCircuitOpen ||
       next == DecisionKind::kWaitForDependencies)) {
    if (facts.clean)
      request(LifecycleState::kQueued, w.last_exit + " (restart = always)", end.evidence);
    else
      request(LifecycleState::kFailed, w.last_exit, failure_evidence);
  }
  apply(step, failure_evidence, facts.clean);
  if (!w.process) evaluate_presence();
}

void Stepper::apply(const PolicyStep& step, const EvidenceList& evidence, bool clean_exit) {
  w.restart = step.state;
  persist_restart();
  const RestartDecision& d = step.decision;
  switch (d.kind) {
    case DecisionKind::kRestartAt:
      enter(WorkerPhase::kBackoff);
      w.next_start = d.at;
      w.pending_attempt = d.attempt + 1;
      w.restart_due = d.at;
      emit(ev::restart_scheduled(spec.name, now.wall, d.delay, d.attempt + 1, d.attempt,
                                 spec.restart.max_restarts, d.reason));
      // Waiting for its backoff is queued (a new run, not started yet).
      if (w.requested != LifecycleState::kQueued)
        request(
            LifecycleState::kQueued,
            "restart " +
                (d.delay <= Duration{0} ? std::string("now") : "in " + format_duration(d.delay)) +
                ": " + d.reason,
            evidence);
      return;
    case DecisionKind::kCircuitOpen:
      enter(WorkerPhase::kCircuitOpen);
      w.next_start = d.at;
      w.pending_attempt = d.attempt + 1;
      w.restart_due = d.at;
      emit(ev::circuit_open(spec.name, now.wall, now.to_wall(d.at), d.delay, d.attempt + 1,
                            d.reason));
      // Not running, not given up: queued until the trial (docs/lifecycle.md).
      if (w.requested != LifecycleState::kQueued)
        request(LifecycleState::kQueued,
                "circuit open for " + format_duration(d.delay) + ": " + d.reason, evidence);
      return;
    case DecisionKind::kWaitForDependencies:
      wait_for_deps(/*after_exit=*/true);
      return;
    case DecisionKind::kGiveUp:
      enter(WorkerPhase::kGaveUp);
      emit(ev::gave_up(spec.name, now.wall, d.reason, d.attempt, w.restart.total_restarts,
                       w.last_exit));
      request(LifecycleState::kFailed, "gave up: " + d.reason, evidence);
      return;
    case DecisionKind::kDoNotRestart:
      enter(WorkerPhase::kExited);
      if (clean_exit && spec.restart.mode == RestartMode::kOnFailure) {
        request(LifecycleState::kCompleted, "exited 0", evidence);
      } else if (spec.restart.mode == RestartMode::kNever &&
                 w.requested != LifecycleState::kFailed) {
        request(LifecycleState::kFailed, w.last_exit + " (restart = never)", evidence);
      }
      return;
  }
}

void Stepper::wait_for_deps(bool after_exit) {
  const bool first = w.phase != WorkerPhase::kWaiting;
  enter(WorkerPhase::kWaiting);
  w.waiting_after_exit = after_exit;
  const std::string missing = join(world.missing_deps);
  emit(ev::waiting(spec.name, now.wall, missing, after_exit));
  if (first && w.requested != LifecycleState::kQueued)
    request(LifecycleState::kQueued, "waiting for " + missing,
            {Evidence{"state", "not completed: " + missing, now.wall}});
}

void Stepper::dependency_completed() {
  if (w.phase != WorkerPhase::kWaiting || !world.missing_deps.empty()) return;
  if (!w.waiting_after_exit) {
    w.pending_attempt = policy.restarts_in_window(w.restart, now.mono) + 1;
    begin_spawn();
    return;
  }
  PolicyStep step = policy.on_dependencies_ready(w.restart, now.mono);
  apply(step, {Evidence{"state", "dependencies completed", now.wall}}, /*clean_exit=*/false);
}

void Stepper::pane_offered(pid_t pid) {
  if (world.stopping_all || !spec.argv.empty() || spec.tmux_session.empty() || w.process) return;
  if (pid <= 0) return;
  // Hooks come in bursts and each brings a snapshot: a process that was
  // adopted and ended, or refused, is not offered again while tmux lists it.
  if (std::exchange(w.pane_pid_tried, pid) == pid) return;
  result_.commands.emplace_back(cmd::AdoptPid{pid, "tmux"});
}

// ---- deadlines ----

void Stepper::alarm() {
  const auto due = [&](std::optional<MonoTime>& d) {
    if (!d || *d > now.mono) return false;
    d.reset();
    return true;
  };
  if (due(w.escalate_due)) on_escalate_deadline();
  if (due(w.stable_due)) on_stable_deadline();
  if (due(w.runtime_due)) on_runtime_deadline();
  if (due(w.heartbeat_due)) check_heartbeat();
  if (due(w.presence_due)) evaluate_presence();
  // Last: it may spawn, and a Spawn is the step's last command.
  if (due(w.restart_due)) {
    if (w.phase != WorkerPhase::kBackoff && w.phase != WorkerPhase::kCircuitOpen) return;
    if (!world.missing_deps.empty()) {
      wait_for_deps(/*after_exit=*/true);
      return;
    }
    begin_spawn();
  }
}

void Stepper::on_stable_deadline() {
  if (!w.process) return;
  const bool was_half_open = w.restart.circuit != CircuitState::kClosed;
  RestartState next = policy.on_stable_run(w.restart);
  if (next == w.restart) return;
  w.restart = std::move(next);
  persist_restart();
  if (was_half_open) emit(ev::circuit_closed(spec.name, now.wall, now.mono - w.started));
}

void Stepper::on_escalate_deadline() {
  if (!w.process || (w.phase != WorkerPhase::kStopping && w.phase != WorkerPhase::kKilling)) return;
  note("kill", "SIGKILL: it outlived the grace of " + format_duration(w.escalate_after));
  result_.commands.emplace_back(
      cmd::Signal{SIGKILL, false, false,
                  ev::kill_escalated(spec.name, now.wall, w.process->pid, w.escalate_after)});
}

}  // namespace aw::worker_machine_detail
