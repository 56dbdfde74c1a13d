// Supervisor: keeps the declared workers running (DESIGN §6 scenarios 1, 2, 20).
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
//   backoff        restart timer armed                   timer → start
//   circuit_open   half-open trial timer armed           timer → start (trial)
//   stopped        stop() asked for it                   start
//   exited         ended, no restart (clean, "never", adopt-only, completed)
//   gave_up        the restart budget is spent           start (a fresh budget)
//
// Inputs (from the daemon): start/stop/restart (rules' actions, the CLI),
// adopt (a notify message or a PID file says worker X runs as PID N), on_event
// (file.landed on a worker's pid_file: read it and adopt), on_entity_completed
// (the state layer says an entity completed: dependants may start, and a
// completed worker is never restarted nor marked failed).
//
// Outputs: Events through `emit` (source "supervisor", entity = worker name;
// docs/workers.md lists kinds and fields), lifecycle requests through the
// LifecycleSink, and persisted attributes through the SupervisorStore:
//   "supervise.restart"  serialize_restart_state(): budget, backoff, circuit
//   "supervise.process"  format_identity() of the live process (erased at its end),
//                        so recover() re-adopts it after a daemon restart
//                        instead of starting a second copy
//
// Time: decisions read `clock` (wall time for persisted deadlines, monotonic
// for uptimes); uv timers only wake the loop at the deadlines.
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
  kBackoff,
  kCircuitOpen,
  kStopped,
  kExited,
  kGaveUp
};
// "down", "waiting", "running", "stopping", "backoff", "circuit_open", "stopped",
// "exited", "gave_up"
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

  // Loads each worker's persisted restart state (a malformed one is reported as
  // an event, supervisor.store_error, and replaced by a fresh one). Starts
  // nothing: call recover() then start_all().
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
  // Worker `name` runs as `pid` (`via`: "pid_file", "notify", ...).
  Status adopt(const std::string& name, pid_t pid, std::string_view via);

  // Reacts to events of the pipeline: file.landed / file.removed whose path is a
  // worker's pid_file (the PID is read on the thread pool, then adopt()).
  // Everything else is ignored, so the daemon may pass every event.
  void on_event(const Event& e);
  // Entity `name` reached `completed`.
  void on_entity_completed(const std::string& name);

  // Asks every live worker to stop (daemon shutdown). Run the loop until
  // running() is 0.
  void stop_all();
  std::size_t running() const;

  std::vector<WorkerStatus> list() const;
  std::optional<WorkerStatus> status(const std::string& name) const;

 private:
  struct Worker;

  Worker* find(const std::string& name);
  Status unknown_worker(const std::string& name) const;
  std::vector<std::string> missing_deps(const Worker& w) const;
  void spawn(Worker& w);
  void watch_started(Worker& w, std::unique_ptr<ProcessWatch> watch, bool adopted);
  void on_end(Worker& w, const ProcessEnd& end);
  // Carries out the policy's decision. `clean_exit`: the run ended with code 0.
  void apply(Worker& w, const PolicyStep& step, const EvidenceList& evidence,
             bool clean_exit = false);
  void wait_for_deps(Worker& w, bool after_exit);
  void arm(uvx::Timer& t, Duration delay);
  void cancel_timers(Worker& w);
  void on_restart_timer(Worker& w);
  void on_stable_timer(Worker& w);
  void on_grace_timer(Worker& w);
  void read_pid_file(Worker& w, const std::string& path);
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
  // Ended processes are destroyed from sweep_'s callback, never inside their own.
  std::vector<std::unique_ptr<ProcessWatch>> retired_;
  uvx::Timer sweep_;
  // Thread-pool completions (PID file reads) hold a weak_ptr to this.
  std::shared_ptr<char> alive_ = std::make_shared<char>();
};

}  // namespace aw
