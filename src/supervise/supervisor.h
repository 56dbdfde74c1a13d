// Supervisor: keeps the declared workers running and judges their health
// (DESIGN §6 scenarios 1-6, 20). It is the thin, imperative shell around the
// pure worker machine (worker_machine.h), which holds every decision: phases
// and their table, restarts, the detectors (hung, heartbeat, zombie, phantom),
// what is persisted and which events say so. The shell only
//   - turns the daemon's calls and the kernel's news into machine inputs
//     (a process ended: its pidfd; a deadline passed: the alarm; a heartbeat
//     stat or a PID file read came back from the thread pool);
//   - carries out the machine's commands: spawn (ProcessWatch::watch_child),
//     adopt (ProcessWatch::adopt), signal, stat a file, ask /proc, emit an
//     event, persist an attribute, request a lifecycle transition;
//   - arms ONE alarm (a uvx::Timer) for all workers at the earliest deadline of
//     any machine state: an idle fleet costs no wake-up at all, and a crash
//     loop costs one wake-up per attempt.
// A uv timer is only the alarm: the machine compares each deadline with the
// clock's `now` and does nothing before it (the alarm may wake a millisecond
// early; it re-arms).
//
// Inputs (from the daemon): start/stop/restart/kill (rules' actions, the CLI),
// adopt (a notify message, a PID file or a tmux pane says worker X runs as PID
// N), on_event (file.landed on a worker's pid_file: read it and adopt; any
// event about a heartbeat file: look at it now when stale), on_entity_completed
// (dependants may start; a completed worker is never restarted nor marked
// failed), on_tmux_snapshot (zombie, phantom, tmux adoption).
//
// Outputs: Events through `emit` (source "supervisor", entity = worker name;
// supervisor_events.h builds them, docs/workers.md lists kinds and fields),
// lifecycle requests through the LifecycleSink, persisted attributes through
// the SupervisorStore (keys in worker_machine.h: kRestartKey, kProcessKey,
// kRunKey).
//
// Time: every decision runs on the monotonic clock (clock.mono()); wall time
// is for what is shown and persisted, re-based when read back (ClockSnapshot;
// restart_policy.h says why). Setting the wall clock changes no decision.
//
// PID files: a landed pid_file is read on the thread pool (pid_file_reader.h);
// judge_pid_file() (process_identity.h) decides whether it is plausible for
// the worker before it is adopted; a refusal is worker.adopt_refused.
//
// Threading: loop thread only. Lifetimes: loop, clock, store, sink and Env
// must outlive the Supervisor. `emit` and the sink are called synchronously
// from the Supervisor's methods and loop callbacks; they may call the
// Supervisor's public methods again but must not destroy it (a machine step's
// new state is committed before its commands run, so a re-entrant call sees
// it). Destroying the Supervisor stops watching adopted processes (they keep
// running) and kills the children it spawned (ChildProcess's rule): call
// stop_all() and run the loop until running() is 0 for a graceful shutdown.
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
#include "src/os/env.h"
#include "src/supervise/lifecycle_sink.h"
#include "src/supervise/pid_file_reader.h"
#include "src/supervise/process_watch.h"
#include "src/supervise/spawn_record.h"
#include "src/supervise/supervisor_store.h"
#include "src/supervise/worker_health.h"
#include "src/supervise/worker_machine.h"
#include "src/supervise/worker_spec.h"
#include "src/uvx/handle.h"

namespace aw {

// WorkerPhase, worker_phase_name: worker_machine.h. WorkerStatus, WorkerHealth:
// worker_health.h.

struct SupervisorOptions {
  std::uint64_t jitter_seed = 0;  // 0 = seeded from std::random_device
  ProcessWatchOptions watch;
  std::size_t stderr_tail_bytes = 512;  // of a child's stderr, in worker.exited
  // Set (the daemon sets STATE_DIR/workers): each spawned worker's stdout and
  // stderr are appended to DIR/NAME.log, so that it can outlive the daemon
  // (release_all). Empty: into pipes (the tail for worker.exited is read from
  // them), and a daemon stop must stop such workers. Also where each spawn's
  // token is recorded first (DIR/NAME.spawn, spawn_record.h), so that a worker
  // spawned just before the daemon was SIGKILLed is found and adopted, not
  // started a second time.
  std::string output_dir;
};

class Supervisor {
 public:
  using Emit = std::function<void(Event)>;

  static constexpr const char* kRestartKey = aw::kRestartKey;
  static constexpr const char* kProcessKey = aw::kProcessKey;
  static constexpr const char* kRunKey = aw::kRunKey;
  static constexpr std::size_t kHealthRecords = aw::kHealthRecords;

  // Loads each worker's persisted restart state (a malformed one is reported as
  // an event, supervisor.store_error, and replaced by a fresh one), re-based onto
  // `clock`'s monotonic time. Starts nothing: call recover() then start_all().
  // `env` answers for /proc (src/os/env.h); it is also called from the thread
  // pool (PID files): it must outlive the Supervisor and the loop's pending work.
  Supervisor(uv_loop_t* loop, const Clock& clock, std::vector<WorkerSpec> specs,
             SupervisorStore& store, LifecycleSink& sink, Emit emit, SupervisorOptions options = {},
             Env& env = Env::real());
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
  // Entity `name` left `completed` (`agentwatch recover reset`): its dependants
  // wait for it again, at every start and restart; it may be started again.
  void on_entity_reopened(const std::string& name);
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
  // Called once every worker stop_all() stopped has ended (running() is 0).
  void set_on_all_stopped(std::function<void()> cb) { on_all_stopped_ = std::move(cb); }
  // A daemon shutdown that leaves the fleet running (the default one): every
  // watched process is left as it is, unsignalled, and no longer watched; each
  // is reported (worker.released). Their identities stay in the store, so the
  // next daemon re-adopts them (recover()). A worker whose output is in our
  // pipes (no output_dir) cannot outlive us and is stopped instead. From here
  // on the Supervisor decides nothing: destroy it once the loop is done.
  void release_all();
  std::size_t running() const;

  // Acts on every deadline the clock says has passed, and re-arms the alarm:
  // what the alarm does when it rings. For a clock that moves without the loop
  // knowing (a ManualClock in tests: advance it, then call this, instead of
  // waiting for an alarm armed on real milliseconds).
  void check_deadlines();

  std::vector<WorkerStatus> list() const;
  std::optional<WorkerStatus> status(const std::string& name) const;
  std::optional<WorkerHealth> health(const std::string& name) const;

 private:
  struct Worker;

  Worker* find(const std::string& name);
  Status unknown_worker(const std::string& name) const;
  std::vector<std::string> missing_deps(const Worker& w) const;
  SessionPresence session_of(const Worker& w) const;
  WorkerWorld world_of(const Worker& w) const;
  // One machine step for `w`: its refusal as an error, else the new state is
  // committed and its commands carried out (some feed an answer back: nested
  // steps). The alarm is re-armed afterwards.
  Status feed(Worker& w, const WorkerInput& input);
  void execute(Worker& w, const WorkerCommand& command);
  int send_signal(Worker& w, const worker_command::Signal& s);
  void spawn(Worker& w);
  // recover()'s first pass: the workers whose last spawn's token names a live
  // process (found in /proc), adopted.
  void recover_spawned();
  // Where a spawned worker's output goes ("" = our pipes): see output_dir.
  std::string output_path(const Worker& w) const;
  void on_end(Worker& w, const ProcessEnd& end);
  // adopt() once the worker is found; `expected`: the identity a check made
  // off the loop saw (the PID file's), so a PID reused since is not adopted.
  Status adopt_process(Worker& w, pid_t pid, std::string_view via,
                       const std::optional<ProcessIdentity>& expected);
  void stat_heartbeat(Worker& w, worker_input::SamplePurpose purpose, std::uint64_t run);
  void read_pid_file(Worker& w, const std::string& path);
  void on_pid_file_read(Worker& w, const std::string& path, const PidFileRead& r);
  void rearm();
  double draw();

  uv_loop_t* loop_;
  const Clock& clock_;
  SupervisorStore& store_;
  LifecycleSink& sink_;
  Emit emit_;
  SupervisorOptions options_;
  Env& env_;
  SpawnRecords spawn_records_;
  std::mt19937_64 rng_;
  std::map<std::string, std::unique_ptr<Worker>> workers_;  // ordered: list() reads well
  std::set<std::string> completed_;
  // The latest tmux snapshot (on_tmux_snapshot).
  std::set<std::string> sessions_;
  bool sessions_known_ = false;
  bool stopping_all_ = false;
  bool released_all_ = false;
  std::function<void()> on_all_stopped_;  // release_all() ran: no more decisions
  WallTime sessions_at_{};
  // The one alarm: armed for the earliest deadline of any worker (armed_for_).
  uvx::Timer alarm_;
  std::optional<MonoTime> armed_for_;
  // Thread-pool completions (PID file reads, heartbeat stats) hold a weak_ptr to this.
  std::shared_ptr<char> alive_ = std::make_shared<char>();
};

}  // namespace aw
