// The worker machine: everything the Supervisor decides about one worker, as a
// PURE function   step(spec, state, input, world, now) -> (state, commands).
//
// No libuv, no I/O, no clock: `now` is an argument, deadlines are values in the
// state, and every effect is a command the shell (supervisor.h) carries out —
// spawn, signal, stat a heartbeat file, ask /proc, emit an event, persist an
// attribute, request a lifecycle transition. So the tests run hours of restarts,
// hangs and phantoms in microseconds on explicit `now` values
// (worker_machine_test.cc), and the shell stays a thin translator.
//
// Phases (s6 style). The legal moves are DATA, kPhaseTable below; step() checks
// every move it makes against it and refuses the whole input (state unchanged,
// no command) if one is not there, so the table, the docs and the tests read
// the same thing.
//
//   phase          what is going on                      leaves on
//   down           never started (or recovered absent)   start, adopt
//   waiting        depends_on not all completed          dependencies → start
//   running        a live process (ours, or adopted)     its end, stop, kill
//   stopping       TERM sent to its group; KILL at grace its end
//   killing        kill(): a signal sent; KILL at grace  its end (a failure: the
//                                                        restart policy decides)
//   backoff        restart deadline armed                alarm → start
//   circuit_open   half-open trial deadline armed        alarm → start (trial)
//   stopped        stop() asked for it                   start
//   exited         ended, no restart (clean, "never", adopt-only, completed)
//   gave_up        the restart budget is spent           start (a fresh budget)
//
// Decisions after an exit are RestartPolicy's (restart_policy.h); verdicts of
// the detectors are detectors.h's and heartbeat_tracker.h's. This machine
// sequences them, keeps the deadlines, and says what to do.
//
// Inputs and the commands they produce are listed with their types below. Some
// commands ask the shell a question whose answer is the next input: Spawn →
// Spawned | SpawnFailed; StatHeartbeat → HeartbeatSampled; ProbeLiveness →
// LivenessProbed; AdoptPid → (the shell adopts) Adopted. The shell feeds the
// answer back at once (ProbeLiveness, Spawn, AdoptPid) or when the thread pool
// returns (StatHeartbeat); an answer about an older run is ignored.
//
// Thread safety: values and functions of values; safe from any thread.
#pragma once

#include <sys/types.h>

#include <array>
#include <cstdint>
#include <deque>
#include <optional>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include "src/core/clock.h"
#include "src/core/event.h"
#include "src/state/lifecycle.h"
#include "src/supervise/detectors.h"
#include "src/supervise/evidence.h"
#include "src/supervise/heartbeat_tracker.h"
#include "src/supervise/process_end.h"
#include "src/supervise/process_identity.h"
#include "src/supervise/restart_policy.h"
#include "src/supervise/worker_spec.h"

namespace aw {

enum class WorkerPhase {
  kDown,
  kWaiting,
  kRunning,
  kStopping,
  kKilling,
  kBackoff,
  kCircuitOpen,
  kStopped,
  kExited,
  kGaveUp
};
inline constexpr std::array<WorkerPhase, 10> kAllWorkerPhases = {
    WorkerPhase::kDown,    WorkerPhase::kWaiting, WorkerPhase::kRunning,     WorkerPhase::kStopping,
    WorkerPhase::kKilling, WorkerPhase::kBackoff, WorkerPhase::kCircuitOpen, WorkerPhase::kStopped,
    WorkerPhase::kExited,  WorkerPhase::kGaveUp};
// "down", "waiting", "running", "stopping", "killing", "backoff", "circuit_open",
// "stopped", "exited", "gave_up"
const char* worker_phase_name(WorkerPhase p);

// What drives a move (for the table's reader and its tests; a move's legality
// depends on from and to only).
enum class PhaseCause {
  kStart,         // start() / restart() of a worker with no process, start after a stop
  kAdopt,         // a process started elsewhere is now watched (notify, PID file, tmux, recovery)
  kSpawnFailed,   // the program could not be started: a failed run of length zero
  kStop,          // stop(): TERM, or a pending restart / wait cancelled
  kKill,          // kill(): a signal whose end is a failure
  kExit,          // the watched process ended
  kAlarm,         // the restart deadline (backoff, circuit trial) passed
  kDependencies,  // every depends_on entity completed
};
// "start", "adopt", "spawn_failed", "stop", "kill", "exit", "alarm", "dependencies"
const char* phase_cause_name(PhaseCause c);

struct PhaseMove {
  WorkerPhase from;
  WorkerPhase to;
  PhaseCause cause;
  std::string_view meaning;
};

// Every legal phase move. A start, a spawn failure and an adoption can happen in
// any phase without a process (down, stopped, exited, gave_up, backoff,
// circuit_open, and waiting for some); the rows say so one phase at a time, so
// that a test walks each of them. Why some moves are NOT here:
//  - stopping → anything but stopped: a stop was asked, and nothing restarts a
//    stopped worker (a restart() during the stop starts it from `stopped`);
//  - running → stopped: a stop goes through `stopping` (TERM, then its end);
//  - anything with a process → a start or an adoption: refused ("already
//    running"): two copies of a worker are never watched;
//  - a spawn failure → waiting: a spawn happens only with every dependency
//    completed.
inline constexpr PhaseMove kPhaseTable[] = {
    {WorkerPhase::kDown, WorkerPhase::kRunning, PhaseCause::kStart, "started: a child spawned"},
    {WorkerPhase::kStopped, WorkerPhase::kRunning, PhaseCause::kStart, "started: a child spawned"},
    {WorkerPhase::kExited, WorkerPhase::kRunning, PhaseCause::kStart, "started: a child spawned"},
    {WorkerPhase::kGaveUp, WorkerPhase::kRunning, PhaseCause::kStart, "started: a child spawned"},
    {WorkerPhase::kBackoff, WorkerPhase::kRunning, PhaseCause::kStart, "started: a child spawned"},
    {WorkerPhase::kCircuitOpen, WorkerPhase::kRunning, PhaseCause::kStart,
     "started: a child spawned"},
    {WorkerPhase::kDown, WorkerPhase::kWaiting, PhaseCause::kStart,
     "start asked; depends_on not all completed"},
    {WorkerPhase::kStopped, WorkerPhase::kWaiting, PhaseCause::kStart,
     "start asked; depends_on not all completed"},
    {WorkerPhase::kExited, WorkerPhase::kWaiting, PhaseCause::kStart,
     "start asked; depends_on not all completed"},
    {WorkerPhase::kGaveUp, WorkerPhase::kWaiting, PhaseCause::kStart,
     "start asked; depends_on not all completed"},
    {WorkerPhase::kBackoff, WorkerPhase::kWaiting, PhaseCause::kStart,
     "start asked; depends_on not all completed"},
    {WorkerPhase::kCircuitOpen, WorkerPhase::kWaiting, PhaseCause::kStart,
     "start asked; depends_on not all completed"},
    {WorkerPhase::kDown, WorkerPhase::kRunning, PhaseCause::kAdopt,
     "a process started elsewhere adopted"},
    {WorkerPhase::kStopped, WorkerPhase::kRunning, PhaseCause::kAdopt,
     "a process started elsewhere adopted"},
    {WorkerPhase::kExited, WorkerPhase::kRunning, PhaseCause::kAdopt,
     "a process started elsewhere adopted"},
    {WorkerPhase::kGaveUp, WorkerPhase::kRunning, PhaseCause::kAdopt,
     "a process started elsewhere adopted"},
    {WorkerPhase::kBackoff, WorkerPhase::kRunning, PhaseCause::kAdopt,
     "a process started elsewhere adopted"},
    {WorkerPhase::kCircuitOpen, WorkerPhase::kRunning, PhaseCause::kAdopt,
     "a process started elsewhere adopted"},
    {WorkerPhase::kWaiting, WorkerPhase::kRunning, PhaseCause::kAdopt,
     "adopted while waiting: someone else started it"},
    // A spawn failure is judged like an exit (restart_policy.h): back off, open
    // the circuit, give up, or (restart = never) stay down.
    {WorkerPhase::kDown, WorkerPhase::kBackoff, PhaseCause::kSpawnFailed, "spawn failed: retry"},
    {WorkerPhase::kStopped, WorkerPhase::kBackoff, PhaseCause::kSpawnFailed, "spawn failed: retry"},
    {WorkerPhase::kExited, WorkerPhase::kBackoff, PhaseCause::kSpawnFailed, "spawn failed: retry"},
    {WorkerPhase::kGaveUp, WorkerPhase::kBackoff, PhaseCause::kSpawnFailed, "spawn failed: retry"},
    {WorkerPhase::kCircuitOpen, WorkerPhase::kBackoff, PhaseCause::kSpawnFailed,
     "spawn failed: retry"},
    {WorkerPhase::kWaiting, WorkerPhase::kBackoff, PhaseCause::kSpawnFailed, "spawn failed: retry"},
    {WorkerPhase::kDown, WorkerPhase::kCircuitOpen, PhaseCause::kSpawnFailed,
     "spawn failed: circuit opens"},
    {WorkerPhase::kStopped, WorkerPhase::kCircuitOpen, PhaseCause::kSpawnFailed,
     "spawn failed: circuit opens"},
    {WorkerPhase::kExited, WorkerPhase::kCircuitOpen, PhaseCause::kSpawnFailed,
     "spawn failed: circuit opens"},
    {WorkerPhase::kGaveUp, WorkerPhase::kCircuitOpen, PhaseCause::kSpawnFailed,
     "spawn failed: circuit opens"},
    {WorkerPhase::kBackoff, WorkerPhase::kCircuitOpen, PhaseCause::kSpawnFailed,
     "spawn failed: circuit opens"},
    {WorkerPhase::kWaiting, WorkerPhase::kCircuitOpen, PhaseCause::kSpawnFailed,
     "spawn failed: circuit opens"},
    {WorkerPhase::kDown, WorkerPhase::kGaveUp, PhaseCause::kSpawnFailed,
     "spawn failed: budget spent"},
    {WorkerPhase::kStopped, WorkerPhase::kGaveUp, PhaseCause::kSpawnFailed,
     "spawn failed: budget spent"},
    {WorkerPhase::kExited, WorkerPhase::kGaveUp, PhaseCause::kSpawnFailed,
     "spawn failed: budget spent"},
    {WorkerPhase::kBackoff, WorkerPhase::kGaveUp, PhaseCause::kSpawnFailed,
     "spawn failed: budget spent"},
    {WorkerPhase::kCircuitOpen, WorkerPhase::kGaveUp, PhaseCause::kSpawnFailed,
     "spawn failed: budget spent"},
    {WorkerPhase::kWaiting, WorkerPhase::kGaveUp, PhaseCause::kSpawnFailed,
     "spawn failed: budget spent"},
    {WorkerPhase::kDown, WorkerPhase::kExited, PhaseCause::kSpawnFailed,
     "spawn failed; restart = never"},
    {WorkerPhase::kStopped, WorkerPhase::kExited, PhaseCause::kSpawnFailed,
     "spawn failed; restart = never"},
    {WorkerPhase::kGaveUp, WorkerPhase::kExited, PhaseCause::kSpawnFailed,
     "spawn failed; restart = never"},
    {WorkerPhase::kBackoff, WorkerPhase::kExited, PhaseCause::kSpawnFailed,
     "spawn failed; restart = never"},
    {WorkerPhase::kCircuitOpen, WorkerPhase::kExited, PhaseCause::kSpawnFailed,
     "spawn failed; restart = never"},
    {WorkerPhase::kWaiting, WorkerPhase::kExited, PhaseCause::kSpawnFailed,
     "spawn failed; restart = never"},
    {WorkerPhase::kRunning, WorkerPhase::kStopping, PhaseCause::kStop, "TERM to its group"},
    {WorkerPhase::kWaiting, WorkerPhase::kStopped, PhaseCause::kStop, "the wait is cancelled"},
    {WorkerPhase::kBackoff, WorkerPhase::kStopped, PhaseCause::kStop, "the restart is cancelled"},
    {WorkerPhase::kCircuitOpen, WorkerPhase::kStopped, PhaseCause::kStop, "the trial is cancelled"},
    {WorkerPhase::kRunning, WorkerPhase::kKilling, PhaseCause::kKill, "a signal; its end fails it"},
    {WorkerPhase::kStopping, WorkerPhase::kStopped, PhaseCause::kExit, "the stop completed"},
    {WorkerPhase::kKilling, WorkerPhase::kStopped, PhaseCause::kExit,
     "killed, and a stop asked meanwhile: no restart"},
    {WorkerPhase::kRunning, WorkerPhase::kExited, PhaseCause::kExit,
     "no restart: clean, never, adopt-only or completed"},
    {WorkerPhase::kKilling, WorkerPhase::kExited, PhaseCause::kExit,
     "killed; no restart (never, adopt-only, completed)"},
    {WorkerPhase::kRunning, WorkerPhase::kBackoff, PhaseCause::kExit, "restart after the backoff"},
    {WorkerPhase::kKilling, WorkerPhase::kBackoff, PhaseCause::kExit,
     "killed: restart after backoff"},
    {WorkerPhase::kRunning, WorkerPhase::kCircuitOpen, PhaseCause::kExit, "quick failures: trip"},
    {WorkerPhase::kKilling, WorkerPhase::kCircuitOpen, PhaseCause::kExit, "killed: circuit trips"},
    {WorkerPhase::kRunning, WorkerPhase::kWaiting, PhaseCause::kExit,
     "restart waits for its dependencies"},
    {WorkerPhase::kKilling, WorkerPhase::kWaiting, PhaseCause::kExit,
     "killed; the restart waits for its dependencies"},
    {WorkerPhase::kRunning, WorkerPhase::kGaveUp, PhaseCause::kExit, "the budget is spent"},
    {WorkerPhase::kKilling, WorkerPhase::kGaveUp, PhaseCause::kExit, "killed; the budget is spent"},
    {WorkerPhase::kBackoff, WorkerPhase::kRunning, PhaseCause::kAlarm, "the backoff ended"},
    {WorkerPhase::kCircuitOpen, WorkerPhase::kRunning, PhaseCause::kAlarm,
     "the half-open trial starts"},
    {WorkerPhase::kBackoff, WorkerPhase::kWaiting, PhaseCause::kAlarm,
     "due, but a dependency is not completed"},
    {WorkerPhase::kCircuitOpen, WorkerPhase::kWaiting, PhaseCause::kAlarm,
     "due, but a dependency is not completed"},
    {WorkerPhase::kWaiting, WorkerPhase::kRunning, PhaseCause::kDependencies,
     "dependencies completed: first start"},
    {WorkerPhase::kWaiting, WorkerPhase::kBackoff, PhaseCause::kDependencies,
     "dependencies completed: restart after the floor"},
};

// A row with from → to (the first), or nullptr: the move is illegal.
const PhaseMove* find_phase_move(WorkerPhase from, WorkerPhase to);

// ---- state ----

// The attributes the machine persists (SupervisorStore, one set per worker):
//   kRestartKey  serialize_restart_state(): budget, backoff, circuit
//   kProcessKey  format_identity() of the live process (erased at its end), so
//                recover() re-adopts it after a daemon restart instead of
//                starting a second copy
//   kRunKey      format_run() of the live run (erased at its end), so a
//                re-adopted worker keeps its runtime and used extensions
inline constexpr const char* kRestartKey = "supervise.restart";
inline constexpr const char* kProcessKey = "supervise.process";
inline constexpr const char* kRunKey = "supervise.run";

// The process being watched (its pidfd open, no end seen).
struct WatchedProcess {
  pid_t pid = 0;
  std::string identity;  // format_identity() when watching began
  bool adopted = false;  // not our child
  friend bool operator==(const WatchedProcess&, const WatchedProcess&) = default;
};

// Persisted run (Supervisor::kRunKey): wall time, re-based when carried over.
struct RunRecord {
  WallTime started{};
  int extensions = 0;
};
// "started=<unix ms>;extensions=N"
std::string format_run(WallTime started, int extensions);
std::optional<RunRecord> parse_run(std::string_view text);

// Everything the machine remembers about one worker. A deadline that is
// nullopt is not armed; next_deadline() is the earliest that is.
struct WorkerState {
  WorkerPhase phase = WorkerPhase::kDown;
  RestartState restart;
  std::optional<WatchedProcess> process;
  bool stop_requested = false;
  bool start_after_stop = false;    // restart(): start again once it ended
  bool waiting_after_exit = false;  // kWaiting after an exit (a restart) vs before a first start
  int attempt = 0;                  // run number within the budget (1 = first)
  int pending_attempt = 0;          // the attempt the restart deadline will start
  MonoTime started{};               // watching of the current process began
  MonoTime next_start{};            // backoff / circuit_open: when the restart may spawn
  std::string last_exit;            // "exited with code 1", "killed by signal 9", ...

  // Deadlines (the shell's one alarm wakes at the earliest).
  std::optional<MonoTime> restart_due;    // backoff / circuit_open: spawn
  std::optional<MonoTime> stable_due;     // the run reaches stable_after
  std::optional<MonoTime> escalate_due;   // stopping / killing: SIGKILL
  std::optional<MonoTime> runtime_due;    // runtime limit, or the end of timing_out's grace
  std::optional<MonoTime> heartbeat_due;  // the next look at the heartbeat file
  std::optional<MonoTime> presence_due;   // start_grace's end (zombie) or the phantom deadline

  Duration escalate_after{0};               // stopping / killing: the grace before SIGKILL
  std::string kill_reason;                  // kill() asked: the end is a failure with this reason
  EvidenceList kill_evidence;               // what the kill rests on
  std::string absence;                      // how we know no process runs ("" = none was watched)
  std::optional<LifecycleState> requested;  // the last state asked of the lifecycle

  // The current run (one watched process); answers about an older run are dropped.
  std::uint64_t run = 0;
  MonoTime run_started{};  // before `started` for a run carried over a daemon restart
  MonoTime run_deadline{};
  int extensions = 0;  // used in this run
  bool timing_out = false;
  std::optional<FileSample> progress_baseline;  // the heartbeat when timing_out began
  bool zombie = false;
  HeartbeatTracker heartbeat;
  bool heartbeat_in_flight = false;
  pid_t pane_pid_tried = 0;  // the last tmux pane process offered for adoption
  std::optional<MonoTime> phantom_since;
  std::deque<Evidence> decisions;  // the last kHealthRecords, for health()
};

inline constexpr std::size_t kHealthRecords = 16;

// A fresh state for `spec`, with the persisted restart state (a worker that gave
// up stays gave_up).
WorkerState initial_worker_state(const WorkerSpec& spec, RestartState restart);

// The earliest armed deadline, or nullopt when nothing is due ever (idle).
std::optional<MonoTime> next_deadline(const WorkerState& s);

// ---- inputs ----

namespace worker_input {
struct Start {};
struct Stop {};
struct Restart {};
struct Kill {
  int signal = 0;
  Duration grace{0};
  std::string reason;  // "" reads "killed"
};
// The shell spawned the child Spawn asked for.
struct Spawned {
  pid_t pid = 0;
  std::string identity;
};
struct SpawnFailed {
  std::string error;
};
// A process is watched now (ProcessWatch::adopt succeeded).
struct Adopted {
  pid_t pid = 0;
  std::string identity;
  std::string via;  // "notify", "pid_file", "tmux", "recovered"
  Liveness liveness = Liveness::kAlive;
  EvidenceList evidence;
  std::optional<RunRecord> carried;  // recovered: the run recorded before the restart
};
// recover(): the recorded process is gone.
struct Lost {
  pid_t pid = 0;
  std::string identity;
  Liveness liveness = Liveness::kAbsent;
  EvidenceList evidence;
};
struct Exited {
  ProcessEnd end;
};
struct AlarmDue {};
// This worker's entity completed.
struct EntityCompleted {};
// Another entity completed: a waiting worker may go (world.missing_deps says).
struct DependencyCompleted {};
// The daemon saw an event about the heartbeat file: look now if stale / unknown.
struct HeartbeatHint {};
enum class SamplePurpose { kTrack, kBaseline, kGraceEnd };
struct HeartbeatSampled {
  SamplePurpose purpose = SamplePurpose::kTrack;
  std::uint64_t run = 0;
  FileSample sample;
};
// The tmux snapshot offers this session's pane process (adopt-only workers).
struct PaneOffered {
  pid_t pid = 0;
};
// Something that bears on zombie / phantom changed (a snapshot, recovery).
struct PresenceCheck {};
struct LivenessProbed {
  LivenessVerdict verdict;
};
// A landed PID file is not adopted: `judged` by judge_pid_file() (noted in the
// health record), or naming another process while ours runs (not noted).
struct PidFileRefused {
  std::string path;
  pid_t pid = 0;
  std::string reason;
  EvidenceList evidence;
  bool judged = false;
};
}  // namespace worker_input

using WorkerInput =
    std::variant<worker_input::Start, worker_input::Stop, worker_input::Restart, worker_input::Kill,
                 worker_input::Spawned, worker_input::SpawnFailed, worker_input::Adopted,
                 worker_input::Lost, worker_input::Exited, worker_input::AlarmDue,
                 worker_input::EntityCompleted, worker_input::DependencyCompleted,
                 worker_input::HeartbeatHint, worker_input::HeartbeatSampled,
                 worker_input::PaneOffered, worker_input::PresenceCheck,
                 worker_input::LivenessProbed, worker_input::PidFileRefused>;

// What the shell knows beyond this worker, read when the input arrives.
struct WorkerWorld {
  std::vector<std::string> missing_deps;  // depends_on not completed yet
  bool completed = false;                 // this worker's entity completed
  SessionPresence session = SessionPresence::kNone;
  WallTime sessions_at{};                    // the latest known tmux snapshot
  std::optional<LifecycleState> sink_state;  // LifecycleSink::current()
  bool stopping_all = false;                 // a daemon shutdown is under way
  double jitter = 0.5;                       // a uniform draw in [0, 1) (backoff jitter)
};

// ---- commands ----

namespace worker_command {
struct Emit {
  Event event;
};
struct RequestLifecycle {
  LifecycleState to;
  std::string reason;
  EvidenceList evidence;
};
struct Persist {
  std::string key;  // Supervisor::kRestartKey, kProcessKey, kRunKey
  std::string value;
};
struct Erase {
  std::string key;
};
// Spawn spec.argv (+ AGENTWATCH_WORKER); answer Spawned or SpawnFailed.
struct Spawn {};
// Send `signal` to the watched process (its group: ProcessWatch::signal).
struct Signal {
  int signal = 0;
  bool kill_group_on_exit = false;  // first stop / kill: the group goes with it
  // A failure other than ESRCH refuses the whole input (stop / kill return it).
  bool refuse_on_error = false;
  // Emitted after the signal; with field "error" when it failed.
  std::optional<Event> report;
};
struct StatHeartbeat {
  worker_input::SamplePurpose purpose = worker_input::SamplePurpose::kTrack;
  std::uint64_t run = 0;
};
struct ProbeLiveness {};
// Adopt `pid` (via) as this worker: ProcessWatch::adopt, then Adopted.
struct AdoptPid {
  pid_t pid = 0;
  std::string via;
};
}  // namespace worker_command

using WorkerCommand =
    std::variant<worker_command::Emit, worker_command::RequestLifecycle, worker_command::Persist,
                 worker_command::Erase, worker_command::Spawn, worker_command::Signal,
                 worker_command::StatHeartbeat, worker_command::ProbeLiveness,
                 worker_command::AdoptPid>;

struct StepResult {
  WorkerState state;
  std::vector<WorkerCommand> commands;  // in order
  // Moves made, in order (each in kPhaseTable).
  std::vector<std::pair<WorkerPhase, WorkerPhase>> moves;
  // Non-empty: the input is refused (an error for the caller: "is not
  // running", an illegal move...); `state` is the old one and there is no command.
  std::string refusal;
};

// The machine. `now` is both clocks read at one instant: decisions compare
// deadlines with now.mono; events and persisted values show now.wall. The
// shell commits `state` BEFORE it carries out `commands` (in order), so a
// command whose effect calls back into the shell sees the new state; a Spawn,
// a ProbeLiveness or an AdoptPid is always a step's last command, since its
// answer is the next step. A Signal with refuse_on_error comes first: if it
// fails, the shell drops the whole result (the state stays as it was).
StepResult step(const WorkerSpec& spec, WorkerState state, const WorkerInput& input,
                const WorkerWorld& world, const ClockSnapshot& now);

}  // namespace aw
