// Supervisor: keeps the declared workers running and judges their health
// (DESIGN §6 scenarios 1-6, 20).
//
// It owns one entry per WorkerSpec and drives each through an explicit phase
// table (s6 style); the decisions after an exit are RestartPolicy's (pure), the
// Supervisor only carries them out with timers — a crash loop costs one timer
// wake-up per attempt, never a busy loop.
//
//   phase          what is going on                      leaves on
//   down           never started (or recovered absent)   start, adopt
//   waiting        depends_on not all completed          on_entity_completed → start
//   running        a live process (ours, or adopted)     its end, stop
//   stopping       TERM sent to its group; KILL at grace its end
//   killing        kill(): a signal sent; KILL at grace    its end (a failure: the
//                                                          restart policy decides)
//   backoff        restart timer armed                   timer → start
//   circuit_open   half-open trial timer armed           timer → start (trial)
//   stopped        stop() asked for it                   start
//   exited         ended, no restart (clean, "never", adopt-only, completed)
//   gave_up        the restart budget is spent           start (a fresh budget)
//
// Inputs (from the daemon): start/stop/restart (rules' actions, the CLI),
// adopt (a notify message, a PID file or a tmux pane says worker X runs as
// PID N), on_event
// (file.landed on a worker's pid_file: read it and adopt), on_entity_completed
// (the state layer says an entity completed: dependants may start, and a
// completed worker is never restarted nor marked failed).
//
// Detectors (docs/workers.md "Health"), each on the injected clock with a uv
// timer armed only at its next deadline — never a periodic wake-up:
//   hung       runtime over runtime_limit → timing_out; at the end of
//              timeout_grace, heartbeat growth since timing_out began earns an
//              extension (at most max_extensions; the next deadline is a full
//              runtime_limit from the extension), else kill(…, "hung").
//   heartbeat  the heartbeat file not growing for heartbeat_timeout →
//              worker.heartbeat_lost once, worker.heartbeat_resumed on growth;
//              the file is stat'ed on the thread pool only at the deadline.
//   zombie     on_tmux_snapshot(): process alive (pidfd + /proc), its session
//              confirmed absent, past start_grace → zombie, kill(…, "zombie").
//   phantom    entity processing, no process watched, session confirmed absent
//              (or none declared) for phantom_grace → worker.phantom, failed.
// Only confirmed absence acts; "unknown" (a snapshot that could not be taken, a
// /proc or stat that failed) never does.
//
// Outputs: Events through `emit` (source "supervisor", entity = worker name;
// docs/workers.md lists kinds and fields), lifecycle requests through the
// LifecycleSink, and persisted attributes through the SupervisorStore:
//   "supervise.restart"  serialize_restart_state(): budget, backoff, circuit
//   "supervise.process"  format_identity() of the live process (erased at its end),
//                        so recover() re-adopts it after a daemon restart
//                        instead of starting a second copy
//   "supervise.run"      "started=<unix ms>;extensions=N" of the live run (erased
//                        at its end), so a re-adopted worker keeps its runtime
//                        and its used extensions across a daemon restart
//
// Time: every deadline, window and budget that decides an action (backoff,
// circuit, stable_after, kill_grace, runtime_limit and its grace, heartbeat,
// start_grace, phantom_grace) is a MonoTime compared with clock.mono(); a uv
// timer is only the alarm, and its callback checks the deadline on the clock
// before acting (re-arming when it woke early). Wall time (clock.wall()) is for
// what is shown (events, health) and what is persisted ("supervise.restart",
// "supervise.run"), which are written as wall time and re-based onto the
// monotonic clock when read back (ClockSnapshot; restart_policy.h says why).
// So setting the wall clock forward or back changes no decision while the
// daemon runs. A heartbeat file's mtime is wall time by nature: see
// heartbeat_tracker.h for how it is read.
//
// PID files: a landed pid_file is read on the thread pool with its mtime and
// what /proc says about the PID it names; judge_pid_file()
// (process_identity.h) decides whether the file is plausible for that worker —
// the process existed when the file was written, and runs the worker's program
// when argv[0] says which — before adopt() is tried; a refusal is
// worker.adopt_refused (via "pid_file") with the `reason` and `evidence`.
//
// Threading: loop thread only. Lifetimes: loop, clock, store, sink and ProcFs
// must outlive the Supervisor. `emit` and the sink are called synchronously from
// the Supervisor's methods and loop callbacks; they may call the Supervisor's
// public methods again but must not destroy it. Destroying the Supervisor stops
// watching adopted processes (they keep running) and kills the children it
// spawned (ChildProcess's rule): call stop_all() and run the loop until
// running() is 0 for a graceful shutdown.
#pragma once

#include <sys/types.h>
#include <uv.h>

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <random>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include "src/core/clock.h"
#include "src/core/event.h"
#include "src/core/result.h"
#include "src/supervise/detectors.h"
#include "src/supervise/heartbeat_tracker.h"
#include "src/supervise/lifecycle_sink.h"
#include "src/supervise/process_watch.h"
#include "src/supervise/restart_policy.h"
#include "src/supervise/supervisor_store.h"
#include "src/supervise/worker_spec.h"
#include "src/uvx/handle.h"

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
// "down", "waiting", "running", "stopping", "killing", "backoff", "circuit_open",
// "stopped", "exited", "gave_up"
const char* worker_phase_name(WorkerPhase p);

struct WorkerStatus {
  std::string name;
  WorkerPhase phase = WorkerPhase::kDown;
  pid_t pid = 0;               // 0 when no live process
  bool adopted = false;        // the process is not our child
  std::int64_t restarts = 0;   // lifetime
  int restarts_in_window = 0;  // what the budget counts
  CircuitState circuit = CircuitState::kClosed;
  std::vector<std::string> waiting_on;  // depends_on not completed yet
  Duration next_start_in{0};            // backoff / circuit_open: time left
  std::string last_exit;                // "exited with code 1", "killed by signal 9", ...
  std::string gave_up_reason;
};

// Why `agentwatch health ID` says what it says. Built from what the Supervisor
// already knows: no syscall, no /proc read, no stat (cheap enough for a
// dashboard refresh).
struct WorkerHealth {
  std::string name;
  WorkerPhase phase = WorkerPhase::kDown;
  pid_t pid = 0;                         // 0 when no live process
  std::optional<LifecycleState> entity;  // the sink's answer, else the last request
  // Process: kAlive while its pidfd is watched and no end was seen; kAbsent once
  // its end was seen (or recover() found it gone); kUnknown when none was ever
  // watched (an adopt-only worker before its pid_file, a worker never started).
  Liveness process = Liveness::kUnknown;
  std::string process_evidence;  // how that is known
  SessionPresence session = SessionPresence::kNone;
  std::string tmux_session;
  WallTime session_checked{};  // time of the snapshot that said so (epoch: none yet)
  HeartbeatStatus heartbeat = HeartbeatStatus::kNone;
  std::string heartbeat_file;
  // Fresh/stale: when the file last grew (decided on the monotonic clock; shown
  // as the wall time it is by the wall clock now).
  WallTime heartbeat_last_growth{};
  std::string heartbeat_error;  // unknown: why the stat failed
  Duration runtime{0};          // of the current run (0 without a process)
  Duration runtime_limit{0};
  bool timing_out = false;
  Duration judged_in{0};  // time to the runtime deadline, or to the grace's end
  int extensions = 0;     // used in this run
  int max_extensions = 0;
  // A phantom is suspected: failed at this time (phantom_grace of monotonic time
  // after the suspicion began, shown by the wall clock now).
  std::optional<WallTime> phantom_deadline;
  // The last kHealthRecords decisions (timing_out, extensions, kills, heartbeat,
  // zombie, phantom, ends), oldest first.
  std::vector<Evidence> decisions;
};

struct SupervisorOptions {
  std::uint64_t jitter_seed = 0;  // 0 = seeded from std::random_device
  ProcessWatchOptions watch;
  std::size_t stderr_tail_bytes = 512;  // of a child's stderr, in worker.exited
};

class Supervisor {
 public:
  using Emit = std::function<void(Event)>;

  static constexpr const char* kRestartKey = "supervise.restart";
  static constexpr const char* kProcessKey = "supervise.process";
  static constexpr const char* kRunKey = "supervise.run";
  static constexpr std::size_t kHealthRecords = 16;

  // Loads each worker's persisted restart state (a malformed one is reported as
  // an event, supervisor.store_error, and replaced by a fresh one), re-based onto
  // `clock`'s monotonic time. Starts nothing: call recover() then start_all().
  // `proc_fs` is also read from the thread pool (PID files): it must outlive the
  // Supervisor and the loop's pending work.
  Supervisor(uv_loop_t* loop, const Clock& clock, std::vector<WorkerSpec> specs,
             SupervisorStore& store, LifecycleSink& sink, Emit emit, SupervisorOptions options = {},
             const ProcFs& proc_fs = real_proc_fs());
  ~Supervisor();
  Supervisor(const Supervisor&) = delete;
  Supervisor& operator=(const Supervisor&) = delete;

  // After a daemon restart: every worker whose store names a live process with
  // the recorded identity is adopted (worker.adopted via=recovered); one whose
  // process is gone is reported (worker.lost) and left down for start_all().
  void recover();
  // Starts every down worker that has an argv and is not completed.
  void start_all();

  // Errors (unknown worker with "did you mean", already running, no argv) are
  // returned, not emitted.
  Status start(const std::string& name);
  // TERM to the process group, SIGKILL after the worker's kill_grace; a pending
  // restart or wait is cancelled. Never restarted afterwards (worker.stopped).
  Status stop(const std::string& name);
  // stop() then start() once it ended; start() when it is not running.
  Status restart(const std::string& name);
  // Sends `signal` to the worker's process group (an adopted worker: the process,
  // and its group only when it leads one), then SIGKILL after `grace` (none when
  // `signal` is SIGKILL). Unlike stop(), the end is a failure: the entity is asked
  // to go `failed` with `reason` ("hung", "zombie", a rule's words; "" reads
  // "killed"), and the restart policy decides what follows as for any failure.
  // Emits worker.killing. On a worker already stopping or killing, only the
  // signal is sent (an escalation; the first intent stands). Errors: unknown
  // worker, not running, the signal could not be sent.
  Status kill(const std::string& name, int signal, Duration grace, std::string_view reason);
  // Worker `name` runs as `pid` (`via`: "notify", "tmux", ...). No check beyond
  // the process's liveness: the caller vouches for the PID (a PID file does not:
  // see on_event).
  Status adopt(const std::string& name, pid_t pid, std::string_view via);

  // Reacts to events of the pipeline: file.landed / file.removed whose path is a
  // worker's pid_file (the PID, the file's mtime and /proc's answers about the
  // PID are read on the thread pool; a plausible file is adopted, see "PID
  // files" above). Everything else is ignored, so the daemon may pass every
  // event.
  void on_event(const Event& e);
  // Entity `name` reached `completed`: a completed worker is not judged hung any
  // more (its work is done) nor a phantom.
  void on_entity_completed(const std::string& name);
  // The tmux sessions that exist now (the daemon's reconciliation: list-sessions
  // / list-panes, or a session-closed hook followed by a listing). known = false:
  // the listing could not be taken — every session is UNKNOWN, nothing acts on
  // it, and a phantom suspicion that relied on an absent session is dropped
  // (its grace must be a confirmed absence throughout).
  //
  // `pane_pids`: the process of each session's first live pane. An adopt-only
  // worker (no argv) that declares a tmux_session and watches no process adopts
  // its session's pane process (via "tmux"): an agent someone started by hand in
  // tmux comes under watch when its session appears. A pane PID that could not
  // be adopted is not tried again.
  void on_tmux_snapshot(const std::set<std::string>& sessions, bool known,
                        const std::map<std::string, pid_t>& pane_pids = {});

  // Asks every live worker to stop (daemon shutdown). Run the loop until
  // running() is 0. Until the next start(), no phantom is suspected.
  void stop_all();
  std::size_t running() const;

  std::vector<WorkerStatus> list() const;
  std::optional<WorkerStatus> status(const std::string& name) const;
  std::optional<WorkerHealth> health(const std::string& name) const;

 private:
  struct Worker;

  Worker* find(const std::string& name);
  Status unknown_worker(const std::string& name) const;
  std::vector<std::string> missing_deps(const Worker& w) const;
  void spawn(Worker& w);
  // kRunKey as persisted: wall time, re-based when the run is carried over.
  struct RunRecord {
    WallTime started{};
    int extensions = 0;
  };
  // `carried`: the run was recorded before a daemon restart (recover()).
  void watch_started(Worker& w, std::unique_ptr<ProcessWatch> watch, bool adopted,
                     std::optional<RunRecord> carried = std::nullopt);
  void on_end(Worker& w, const ProcessEnd& end);
  // adopt() once the worker is found; `expected`: the identity a check made
  // off the loop saw (the PID file's), so a PID reused since is not adopted.
  Status adopt_process(Worker& w, pid_t pid, std::string_view via,
                       const std::optional<ProcessIdentity>& expected);
  // Carries out the policy's decision. `clean_exit`: the run ended with code 0.
  void apply(Worker& w, const PolicyStep& step, const EvidenceList& evidence,
             bool clean_exit = false);
  void wait_for_deps(Worker& w, bool after_exit);
  void arm(uvx::Timer& t, Duration delay);
  void cancel_timers(Worker& w);
  void on_restart_timer(Worker& w);
  void on_stable_timer(Worker& w);
  void on_grace_timer(Worker& w);
  Status kill_worker(Worker& w, int signal, Duration grace, const std::string& reason,
                     const EvidenceList& evidence);
  // Detectors.
  void on_runtime_timer(Worker& w);
  void begin_timing_out(Worker& w);
  void end_of_grace(Worker& w, const std::optional<FileSample>& sample);
  void check_heartbeat(Worker& w);
  void on_heartbeat_sample(Worker& w, const FileSample& sample);
  void evaluate_presence(Worker& w);
  void adopt_pane(Worker& w, const std::map<std::string, pid_t>& pane_pids);
  void declare_zombie(Worker& w, const LivenessVerdict& alive);
  void declare_phantom(Worker& w);
  void drop_phantom(Worker& w, const std::string& why);
  SessionPresence session_of(const Worker& w) const;
  std::optional<LifecycleState> entity_state(const Worker& w) const;
  Duration runtime_of(const Worker& w) const;
  // Stats `w`'s heartbeat file on the thread pool; `then` runs on the loop thread
  // if the same run of `w` is still watched.
  void stat_heartbeat(Worker& w, const std::function<void(Worker&, const FileSample&)>& then);
  void request(Worker& w, LifecycleState to, std::string_view reason, const EvidenceList& evidence);
  void note(Worker& w, std::string signal, std::string detail);
  void persist_run(Worker& w);
  struct PidFileRead;
  void read_pid_file(Worker& w, const std::string& path);
  void on_pid_file_read(Worker& w, const std::string& path, const PidFileRead& r);
  void persist(Worker& w);
  void retire(std::unique_ptr<ProcessWatch> p);
  double draw();
  Event make_event(const char* kind, const Worker& w) const;
  WorkerStatus status_of(const Worker& w) const;

  uv_loop_t* loop_;
  const Clock& clock_;
  SupervisorStore& store_;
  LifecycleSink& sink_;
  Emit emit_;
  SupervisorOptions options_;
  const ProcFs& proc_fs_;
  std::mt19937_64 rng_;
  std::map<std::string, std::unique_ptr<Worker>> workers_;  // ordered: list() reads well
  std::set<std::string> completed_;
  // The latest tmux snapshot (on_tmux_snapshot).
  std::set<std::string> sessions_;
  bool sessions_known_ = false;
  bool stopping_all_ = false;
  WallTime sessions_at_{};
  // Ended processes are destroyed from sweep_'s callback, never inside their own.
  std::vector<std::unique_ptr<ProcessWatch>> retired_;
  uvx::Timer sweep_;
  // Thread-pool completions (PID file reads) hold a weak_ptr to this.
  std::shared_ptr<char> alive_ = std::make_shared<char>();
};

}  // namespace aw
