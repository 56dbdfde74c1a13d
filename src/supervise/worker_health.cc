#include "src/supervise/worker_health.h"

#include <algorithm>

namespace aw {

WorkerStatus describe_status(const WorkerSpec& spec, const WorkerState& w, const WorkerWorld& world,
                             MonoTime now) {
  const RestartPolicy policy(spec.restart);
  WorkerStatus s;
  s.name = spec.name;
  s.phase = w.phase;
  if (w.process) {
    s.pid = w.process->pid;
    s.adopted = w.process->adopted;
  }
  s.restarts = w.restart.total_restarts;
  s.restarts_in_window = policy.restarts_in_window(w.restart, now);
  s.circuit = w.restart.circuit;
  s.waiting_on = world.missing_deps;
  if (w.phase == WorkerPhase::kBackoff || w.phase == WorkerPhase::kCircuitOpen)
    s.next_start_in = std::max(w.next_start - now, Duration{0});
  s.last_exit = w.last_exit;
  s.gave_up_reason = w.restart.gave_up_reason;
  return s;
}

WorkerHealth describe_health(const WorkerSpec& spec, const WorkerState& w, const WorkerWorld& world,
                             bool sessions_known, const ClockSnapshot& now) {
  WorkerHealth h;
  h.name = spec.name;
  h.phase = w.phase;
  if (world.completed)
    h.entity = LifecycleState::kCompleted;
  else if (world.sink_state)
    h.entity = world.sink_state;
  else
    h.entity = w.requested;
  if (w.process) {
    h.pid = w.process->pid;
    h.process = Liveness::kAlive;
    h.process_evidence = std::string(w.process->adopted ? "pidfd" : "pidfd (our child)") +
                         ": watched since " + format_time_utc(now.to_wall(w.run_started)) +
                         ", no exit seen";
  } else if (!w.absence.empty()) {
    h.process = Liveness::kAbsent;
    h.process_evidence = w.absence;
  } else {
    h.process = Liveness::kUnknown;
    h.process_evidence = "no process watched yet";
  }
  h.tmux_session = spec.tmux_session;
  h.session = world.session;
  if (sessions_known) h.session_checked = world.sessions_at;
  h.heartbeat_file = spec.heartbeat;
  if (!spec.heartbeat.empty()) {
    h.heartbeat = w.heartbeat.status();
    h.heartbeat_last_growth = now.to_wall(w.heartbeat.last_growth());
    h.heartbeat_error = w.heartbeat.error();
  }
  h.runtime = w.process ? now.mono - w.run_started : Duration{0};
  h.runtime_limit = spec.runtime_limit;
  h.timing_out = w.timing_out;
  if (w.process && w.phase == WorkerPhase::kRunning && w.runtime_due)
    h.judged_in = std::max(w.run_deadline - now.mono, Duration{0});
  h.extensions = w.extensions;
  h.max_extensions = spec.max_extensions;
  if (w.phantom_since) h.phantom_deadline = now.to_wall(*w.phantom_since + spec.phantom_grace);
  h.decisions.assign(w.decisions.begin(), w.decisions.end());
  return h;
}

}  // namespace aw
