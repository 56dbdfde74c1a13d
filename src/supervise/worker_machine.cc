// The worker machine: its names, its phase table's lookup, the run record, the
// deadlines, and step() — which routes each input to the Stepper's verbs
// (worker_machine_lifecycle.cc: start, stop, kill, adoption, a process's end,
// the restart policy's decisions; worker_machine_detectors.cc: hung,
// heartbeat, zombie, phantom) and checks every phase move against the table.
#include "src/supervise/worker_machine.h"

#include <algorithm>
#include <charconv>
#include <csignal>
#include <cstring>

#include "src/core/duration.h"
#include "src/supervise/supervisor_events.h"
#include "src/supervise/worker_machine_step.h"

namespace aw {

namespace ev = supervisor_events;
namespace in = worker_input;
namespace cmd = worker_command;

const char* worker_phase_name(WorkerPhase p) {
  switch (p) {
    case WorkerPhase::kDown:
      return "down";
    case WorkerPhase::kWaiting:
      return "waiting";
    case WorkerPhase::kRunning:
      return "running";
    case WorkerPhase::kStopping:
      return "stopping";
    case WorkerPhase::kKilling:
      return "killing";
    case WorkerPhase::kBackoff:
      return "backoff";
    case WorkerPhase::kCircuitOpen:
      return "circuit_open";
    case WorkerPhase::kStopped:
      return "stopped";
    case WorkerPhase::kExited:
      return "exited";
    case WorkerPhase::kGaveUp:
      return "gave_up";
  }
  return "?";
}

const char* phase_cause_name(PhaseCause c) {
  switch (c) {
    case PhaseCause::kStart:
      return "start";
    case PhaseCause::kAdopt:
      return "adopt";
    case PhaseCause::kSpawnFailed:
      return "spawn_failed";
    case PhaseCause::kStop:
      return "stop";
    case PhaseCause::kKill:
      return "kill";
    case PhaseCause::kExit:
      return "exit";
    case PhaseCause::kAlarm:
      return "alarm";
    case PhaseCause::kDependencies:
      return "dependencies";
  }
  return "?";
}

const PhaseMove* find_phase_move(WorkerPhase from, WorkerPhase to) {
  for (const PhaseMove& m : kPhaseTable)
    if (m.from == from && m.to == to) return &m;
  return nullptr;
}

std::string format_run(WallTime started, int extensions) {
  auto unix_ms =
      std::chrono::duration_cast<std::chrono::milliseconds>(started.time_since_epoch()).count();
  return "started=" + std::to_string(unix_ms) + ";extensions=" + std::to_string(extensions);
}

std::optional<RunRecord> parse_run(std::string_view text) {
  std::optional<std::int64_t> started;
  int extensions = 0;
  while (!text.empty()) {
    std::size_t semi = text.find(';');
    std::string_view item = text.substr(0, semi);
    text = semi == std::string_view::npos ? std::string_view() : text.substr(semi + 1);
    std::size_t eq = item.find('=');
    if (eq == std::string_view::npos) return std::nullopt;
    std::string_view key = item.substr(0, eq), value = item.substr(eq + 1);
    std::int64_t n = 0;
    auto [p, ec] = std::from_chars(value.data(), value.data() + value.size(), n);
    if (ec != std::errc() || p != value.data() + value.size() || n < 0) return std::nullopt;
    if (key == "started") started = n;
    if (key == "extensions") extensions = static_cast<int>(std::min<std::int64_t>(n, 1'000'000));
  }
  if (!started) return std::nullopt;
  return RunRecord{WallTime(std::chrono::milliseconds(*started)), extensions};
}

WorkerState initial_worker_state(const WorkerSpec& spec, RestartState restart) {
  WorkerState s;
  s.heartbeat = HeartbeatTracker(spec.heartbeat_timeout);
  s.restart = std::move(restart);
  if (s.restart.gave_up) s.phase = WorkerPhase::kGaveUp;
  return s;
}

std::optional<MonoTime> next_deadline(const WorkerState& s) {
  std::optional<MonoTime> earliest;
  for (const auto& d : {s.restart_due, s.stable_due, s.escalate_due, s.runtime_due, s.heartbeat_due,
                        s.presence_due})
    if (d && (!earliest || *d < *earliest)) earliest = d;
  return earliest;
}

namespace worker_machine_detail {

std::string join(const std::vector<std::string>& v) {
  std::string s;
  for (const auto& x : v) {
    if (!s.empty()) s += ",";
    s += x;
  }
  return s;
}

Stepper::Stepper(const WorkerSpec& spec_in, WorkerState state, const WorkerWorld& world_in,
                 const ClockSnapshot& now_in)
    : result_{std::move(state), {}, {}, {}},
      original_(result_.state),
      spec(spec_in),
      w(result_.state),
      world(world_in),
      now(now_in),
      policy(spec_in.restart) {}

StepResult Stepper::finish() {
  if (result_.refusal.empty()) {
    for (const auto& [from, to] : result_.moves) {
      if (find_phase_move(from, to)) continue;
      result_.refusal = std::string("illegal phase move ") + worker_phase_name(from) + " -> " +
                        worker_phase_name(to);
      break;
    }
  }
  if (!result_.refusal.empty()) return StepResult{std::move(original_), {}, {}, result_.refusal};
  return std::move(result_);
}

void Stepper::refuse(std::string why) {
  if (result_.refusal.empty()) result_.refusal = std::move(why);
}

void Stepper::enter(WorkerPhase to) {
  if (w.phase == to) return;
  result_.moves.emplace_back(w.phase, to);
  w.phase = to;
}

void Stepper::emit(Event e) {
  result_.commands.emplace_back(cmd::Emit{std::move(e)});
}

void Stepper::request(LifecycleState to, std::string_view reason, const EvidenceList& evidence) {
  w.requested = to;
  result_.commands.emplace_back(cmd::RequestLifecycle{to, std::string(reason), evidence});
}

void Stepper::note(std::string signal, std::string detail) {
  w.decisions.push_back(Evidence{std::move(signal), std::move(detail), now.wall});
  while (w.decisions.size() > kHealthRecords) w.decisions.pop_front();
}

void Stepper::persist_restart() {
  result_.commands.emplace_back(cmd::Persist{kRestartKey, serialize_restart_state(w.restart, now)});
}

void Stepper::persist_run() {
  result_.commands.emplace_back(
      cmd::Persist{kRunKey, format_run(now.to_wall(w.run_started), w.extensions)});
}

std::optional<LifecycleState> Stepper::entity_state() const {
  if (world.completed) return LifecycleState::kCompleted;
  if (world.sink_state) return world.sink_state;
  return w.requested;
}

Duration Stepper::runtime() const {
  if (!w.process) return Duration{0};
  return now.mono - w.run_started;
}

bool Stepper::action_pending() const {
  return w.phase == WorkerPhase::kWaiting || w.phase == WorkerPhase::kBackoff ||
         w.phase == WorkerPhase::kCircuitOpen || w.phase == WorkerPhase::kStopping ||
         w.phase == WorkerPhase::kKilling;
}

void Stepper::cancel_restart_deadlines() {
  w.restart_due.reset();
  w.escalate_due.reset();
  w.stable_due.reset();
}

}  // namespace worker_machine_detail

StepResult step(const WorkerSpec& spec, WorkerState state, const WorkerInput& input,
                const WorkerWorld& world, const ClockSnapshot& now) {
  worker_machine_detail::Stepper s(spec, std::move(state), world, now);
  std::visit(
      [&](const auto& x) {
        using T = std::decay_t<decltype(x)>;
        if constexpr (std::is_same_v<T, in::Start>) {
          s.start();
        } else if constexpr (std::is_same_v<T, in::Stop>) {
          s.stop();
        } else if constexpr (std::is_same_v<T, in::Restart>) {
          s.restart();
        } else if constexpr (std::is_same_v<T, in::Kill>) {
          const std::string why = x.reason.empty() ? "killed" : x.reason;
          s.kill(
              x.signal, x.grace, why,
              {Evidence{"kill", "signal " + std::to_string(x.signal) + " asked: " + why, now.wall}},
              /*asked=*/true);
        } else if constexpr (std::is_same_v<T, in::Spawned>) {
          s.spawned(x);
        } else if constexpr (std::is_same_v<T, in::SpawnFailed>) {
          s.spawn_failed(x);
        } else if constexpr (std::is_same_v<T, in::Adopted>) {
          s.adopted(x);
        } else if constexpr (std::is_same_v<T, in::Lost>) {
          s.lost(x);
        } else if constexpr (std::is_same_v<T, in::Exited>) {
          s.exited(x.end);
        } else if constexpr (std::is_same_v<T, in::AlarmDue>) {
          s.alarm();
        } else if constexpr (std::is_same_v<T, in::EntityCompleted>) {
          s.entity_completed();
        } else if constexpr (std::is_same_v<T, in::DependencyCompleted>) {
          s.dependency_completed();
        } else if constexpr (std::is_same_v<T, in::HeartbeatHint>) {
          s.heartbeat_hint();
        } else if constexpr (std::is_same_v<T, in::HeartbeatSampled>) {
          s.heartbeat_sampled(x);
        } else if constexpr (std::is_same_v<T, in::PaneOffered>) {
          s.pane_offered(x.pid);
        } else if constexpr (std::is_same_v<T, in::PresenceCheck>) {
          s.evaluate_presence();
        } else if constexpr (std::is_same_v<T, in::LivenessProbed>) {
          s.liveness_probed(x.verdict);
        } else if constexpr (std::is_same_v<T, in::PidFileRefused>) {
          if (x.judged)
            s.note("adopt",
                   "refused pid " + std::to_string(x.pid) + " from " + x.path + ": " + x.reason);
          s.emit(ev::pid_file_refused(spec.name, now.wall, x.path, x.pid, x.reason, x.evidence));
        }
      },
      input);
  return s.finish();
}

}  // namespace aw
