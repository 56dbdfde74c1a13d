#include "src/supervise/supervisor.h"

#include <fcntl.h>
#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <charconv>
#include <cstring>
#include <deque>

#include "src/core/duration.h"
#include "src/core/suggest.h"

namespace aw {

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

struct Supervisor::Worker {
  Worker(uv_loop_t* loop, WorkerSpec s, Supervisor& sup)
      : spec(std::move(s)),
        policy(spec.restart),
        restart_timer(loop, [this, &sup] { sup.on_restart_timer(*this); }),
        stable_timer(loop, [this, &sup] { sup.on_stable_timer(*this); }),
        grace_timer(loop, [this, &sup] { sup.on_grace_timer(*this); }),
        runtime_timer(loop, [this, &sup] { sup.on_runtime_timer(*this); }),
        heartbeat_timer(loop, [this, &sup] { sup.check_heartbeat(*this); }),
        presence_timer(loop, [this, &sup] { sup.evaluate_presence(*this); }),
        heartbeat(spec.heartbeat_timeout) {}

  WorkerSpec spec;
  RestartPolicy policy;
  RestartState restart;
  WorkerPhase phase = WorkerPhase::kDown;
  std::unique_ptr<ProcessWatch> process;
  bool adopted = false;
  bool stop_requested = false;
  bool start_after_stop = false;    // restart(): start again once it ended
  bool waiting_after_exit = false;  // kWaiting after an exit (a restart) vs before a first start
  bool trial = false;               // the pending start is the circuit's half-open trial
  int attempt = 0;                  // run number within the budget (1 = first)
  int pending_attempt = 0;          // the attempt a backoff / circuit timer will start
  MonoTime started{};               // this Supervisor began watching the current process
  MonoTime next_start{};            // backoff / circuit_open: when the restart timer may spawn
  std::string last_exit;
  uvx::Timer restart_timer;
  uvx::Timer stable_timer;
  uvx::Timer grace_timer;      // stopping / killing: SIGKILL at the end of the grace
  uvx::Timer runtime_timer;    // the runtime deadline, then the end of timing_out's grace
  uvx::Timer heartbeat_timer;  // the next heartbeat deadline
  uvx::Timer presence_timer;   // start_grace's end (zombie) or the phantom deadline

  Duration escalate_after{0};               // stopping / killing: the grace before SIGKILL
  MonoTime escalate_at{};                   // ... and when it ends
  std::string kill_reason;                  // kill() asked: the end is a failure with this reason
  EvidenceList kill_evidence;               // what the kill rests on (for the failed transition)
  std::string absence;                      // how we know no process runs ("" = none was watched)
  std::optional<LifecycleState> requested;  // the last state asked of the sink

  // The current run (one watched process). Async results of an older run are dropped.
  std::uint64_t run = 0;
  // When the run began: before `started` for a run carried over a daemon
  // restart (persisted as wall time in kRunKey, re-based at recover()).
  MonoTime run_started{};
  MonoTime run_deadline{};  // the runtime deadline, or the end of the grace
  int extensions = 0;       // used in this run
  bool timing_out = false;
  std::optional<FileSample> progress_baseline;  // the heartbeat when timing_out began
  bool zombie = false;

  HeartbeatTracker heartbeat;
  bool heartbeat_in_flight = false;

  pid_t pane_pid_tried = 0;  // the last tmux pane process adopt_pane() offered

  std::optional<MonoTime>
      phantom_since;  // a phantom is suspected since (failed phantom_grace later)

  std::deque<Evidence> decisions;  // the last kHealthRecords, for health()
};

namespace {

std::string join(const std::vector<std::string>& v) {
  std::string s;
  for (const auto& x : v) {
    if (!s.empty()) s += ",";
    s += x;
  }
  return s;
}

std::string describe_end(const ProcessEnd& e) {
  if (!e.status_known) return "ended (status unknown)";
  if (e.exited) return "exited with code " + std::to_string(e.exit_code);
  return "killed by signal " + std::to_string(e.term_signal);
}

std::int64_t ms(Duration d) {
  return to_ms(d);
}

std::int64_t unix_ms(WallTime t) {
  return std::chrono::duration_cast<std::chrono::milliseconds>(t.time_since_epoch()).count();
}

// kRunKey's value: "started=<unix ms>;extensions=N".
std::string format_run(WallTime started, int extensions) {
  return "started=" + std::to_string(unix_ms(started)) +
         ";extensions=" + std::to_string(extensions);
}

std::optional<std::pair<WallTime, int>> parse_run(std::string_view text) {
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
  return std::make_pair(WallTime(std::chrono::milliseconds(*started)), extensions);
}

std::string describe_progress(Progress p, const std::optional<FileSample>& before,
                              const std::optional<FileSample>& after) {
  switch (p) {
    case Progress::kNoHeartbeat:
      return "no heartbeat declared";
    case Progress::kSeen:
      return "heartbeat grew (" + std::to_string(before->size) + " -> " +
             std::to_string(after->size) + " bytes)";
    case Progress::kNone:
      return "heartbeat unchanged (" + std::to_string(after->size) + " bytes, mtime " +
             format_time_utc(after->mtime) + ")";
    case Progress::kUnknown: {
      std::string why = after && !after->ok     ? after->error
                        : before && !before->ok ? before->error
                                                : "no sample";
      return "heartbeat unknown (" + why + ")";
    }
  }
  return "?";
}

}  // namespace

Supervisor::Supervisor(uv_loop_t* loop, const Clock& clock, std::vector<WorkerSpec> specs,
                       SupervisorStore& store, LifecycleSink& sink, Emit emit,
                       SupervisorOptions options, const ProcFs& proc_fs)
    : loop_(loop),
      clock_(clock),
      store_(store),
      sink_(sink),
      emit_(std::move(emit)),
      options_(options),
      proc_fs_(proc_fs),
      rng_(options.jitter_seed ? options.jitter_seed : std::random_device{}()),
      sweep_(loop, [this] { retired_.clear(); }) {
  for (WorkerSpec& s : specs) {
    std::string name = s.name;
    auto w = std::make_unique<Worker>(loop, std::move(s), *this);
    if (auto text = store_.get(name, kRestartKey)) {
      auto parsed = deserialize_restart_state(*text, ClockSnapshot::of(clock_));
      if (parsed) {
        w->restart = std::move(*parsed);
        if (w->restart.gave_up) w->phase = WorkerPhase::kGaveUp;
      } else {
        Event e = make_event("supervisor.store_error", *w);
        e.fields.set("key", kRestartKey);
        e.fields.set("error", parsed.error().message);
        emit_(std::move(e));
      }
    }
    workers_.emplace(name, std::move(w));
  }
}

Supervisor::~Supervisor() {
  for (auto& [name, w] : workers_) {
    // Destroying a live child's watch kills it; an adopted one is left running.
    // Either way its end must not reach a half-destroyed Supervisor: the watch
    // calls nothing once destroyed.
    w->process.reset();
  }
  retired_.clear();
}

Event Supervisor::make_event(const char* kind, const Worker& w) const {
  Event e;
  e.kind = kind;
  e.source = "supervisor";
  e.time = clock_.wall();
  e.entity = w.spec.name;
  return e;
}

Supervisor::Worker* Supervisor::find(const std::string& name) {
  auto it = workers_.find(name);
  return it == workers_.end() ? nullptr : it->second.get();
}

Status Supervisor::unknown_worker(const std::string& name) const {
  std::vector<std::string_view> names;
  for (const auto& [n, w] : workers_) names.push_back(n);
  return make_error("no worker named '" + name + "'" + did_you_mean(name, names));
}

std::vector<std::string> Supervisor::missing_deps(const Worker& w) const {
  std::vector<std::string> missing;
  for (const std::string& d : w.spec.depends_on)
    if (!completed_.count(d)) missing.push_back(d);
  return missing;
}

double Supervisor::draw() {
  return std::uniform_real_distribution<double>(0.0, 1.0)(rng_);
}

void Supervisor::arm(uvx::Timer& t, Duration delay) {
  // Round up, and count from now, not from the loop's cached time (which can be
  // a millisecond or more behind): a timer must not fire before the deadline.
  uv_update_time(loop_);
  auto d = std::chrono::ceil<std::chrono::milliseconds>(std::max(delay, Duration{0})).count();
  t.start(static_cast<std::uint64_t>(d));
}

void Supervisor::cancel_timers(Worker& w) {
  w.restart_timer.stop();
  w.grace_timer.stop();
  w.stable_timer.stop();
}

void Supervisor::persist(Worker& w) {
  store_.set(w.spec.name, kRestartKey,
             serialize_restart_state(w.restart, ClockSnapshot::of(clock_)));
}

void Supervisor::retire(std::unique_ptr<ProcessWatch> p) {
  if (!p) return;
  retired_.push_back(std::move(p));
  sweep_.start(0);
}

// ---- inputs ----

void Supervisor::recover() {
  std::vector<std::string> names;
  for (const auto& [n, w] : workers_) names.push_back(n);
  for (const std::string& name : names) {
    Worker* w = find(name);
    if (!w || w->process) continue;
    auto text = store_.get(name, kProcessKey);
    if (!text) continue;
    auto expected = parse_identity(*text);
    if (!expected) {
      store_.erase(name, kProcessKey);
      continue;
    }
    auto adoption = ProcessWatch::adopt(
        loop_, clock_, proc_fs_, expected->pid, expected,
        [this, w](const ProcessEnd& end) { on_end(*w, end); }, options_.watch);
    if (adoption.watch) {
      if (w->phase == WorkerPhase::kGaveUp) w->phase = WorkerPhase::kDown;
      Event e = make_event("worker.adopted", *w);
      e.fields.set("pid", static_cast<std::int64_t>(expected->pid));
      e.fields.set("identity", format_identity(adoption.watch->identity()));
      e.fields.set("via", "recovered");
      e.fields.set("liveness", liveness_name(adoption.verdict.liveness));
      e.fields.set("evidence", format_evidence(adoption.verdict.evidence));
      std::optional<RunRecord> carried;
      if (auto run = store_.get(name, kRunKey))
        if (auto parsed = parse_run(*run)) carried = RunRecord{parsed->first, parsed->second};
      note(*w, "adopt", "re-adopted pid " + std::to_string(expected->pid) + " after a restart");
      watch_started(*w, std::move(adoption.watch), /*adopted=*/true, carried);
      emit_(std::move(e));
    } else {
      store_.erase(name, kProcessKey);
      store_.erase(name, kRunKey);
      w->absence = "lost while the daemon was down: pid " + std::to_string(expected->pid) + " (" +
                   format_evidence(adoption.verdict.evidence) + ")";
      note(*w, "lost", w->absence);
      Event e = make_event("worker.lost", *w);
      e.fields.set("pid", static_cast<std::int64_t>(expected->pid));
      e.fields.set("identity", *text);
      e.fields.set("liveness", liveness_name(adoption.verdict.liveness));
      e.fields.set("evidence", format_evidence(adoption.verdict.evidence));
      emit_(std::move(e));
    }
  }
  // A worker the table says is processing, with nothing watched now, may be a
  // phantom (judged after phantom_grace; start_all() or an adoption cancels it).
  for (const std::string& name : names)
    if (Worker* w = find(name); w && !w->process) evaluate_presence(*w);
}

void Supervisor::start_all() {
  std::vector<std::string> names;
  for (const auto& [n, w] : workers_)
    if (w->phase == WorkerPhase::kDown && !w->spec.argv.empty() && !completed_.count(n))
      names.push_back(n);
  for (const std::string& n : names) {
    Worker* w = find(n);
    if (w && w->phase == WorkerPhase::kDown) (void)start(n);
  }
}

Status Supervisor::start(const std::string& name) {
  Worker* w = find(name);
  if (!w) return unknown_worker(name);
  stopping_all_ = false;
  if (w->process)
    return make_error("worker '" + name + "' is already running (pid " +
                      std::to_string(w->process->pid()) + ")");
  if (w->spec.argv.empty())
    return make_error("worker '" + name +
                      "' has no argv: agentwatch cannot start it, it adopts it when its "
                      "pid_file lands");
  if (w->phase == WorkerPhase::kGaveUp) {
    w->restart = RestartPolicy::reset(std::move(w->restart));
    persist(*w);
  }
  cancel_timers(*w);
  w->stop_requested = false;
  w->start_after_stop = false;
  w->trial = false;
  if (!missing_deps(*w).empty()) {
    wait_for_deps(*w, /*after_exit=*/false);
    return Status::Ok();
  }
  w->pending_attempt = w->policy.restarts_in_window(w->restart, clock_.mono()) + 1;
  spawn(*w);
  return Status::Ok();
}

Status Supervisor::stop(const std::string& name) {
  Worker* w = find(name);
  if (!w) return unknown_worker(name);
  switch (w->phase) {
    case WorkerPhase::kRunning: {
      w->stop_requested = true;
      w->phase = WorkerPhase::kStopping;
      w->process->kill_group_on_exit(true);
      int rc = w->process->signal(SIGTERM);
      if (rc != 0 && rc != -ESRCH)
        return make_error("cannot signal worker '" + name + "': " + std::strerror(-rc));
      w->escalate_after = w->spec.kill_grace;
      w->escalate_at = clock_.mono() + w->spec.kill_grace;
      arm(w->grace_timer, w->spec.kill_grace);
      return Status::Ok();
    }
    case WorkerPhase::kStopping:
      w->start_after_stop = false;
      return Status::Ok();
    case WorkerPhase::kKilling:
      // The kill goes on (and is still a failure for the lifecycle); the stop
      // only says: do not restart it afterwards.
      w->stop_requested = true;
      w->start_after_stop = false;
      return Status::Ok();
    case WorkerPhase::kWaiting:
    case WorkerPhase::kBackoff:
    case WorkerPhase::kCircuitOpen: {
      WorkerPhase was = w->phase;
      cancel_timers(*w);
      w->phase = WorkerPhase::kStopped;
      Event e = make_event("worker.stopped", *w);
      e.fields.set("was", worker_phase_name(was));
      emit_(std::move(e));
      return Status::Ok();
    }
    default:
      return make_error("worker '" + name + "' is not running (" + worker_phase_name(w->phase) +
                        ")");
  }
}

Status Supervisor::restart(const std::string& name) {
  Worker* w = find(name);
  if (!w) return unknown_worker(name);
  if (w->phase == WorkerPhase::kRunning) {
    Status s = stop(name);
    if (s.ok()) w->start_after_stop = true;
    return s;
  }
  if (w->phase == WorkerPhase::kStopping || w->phase == WorkerPhase::kKilling) {
    w->stop_requested = true;
    w->start_after_stop = true;
    return Status::Ok();
  }
  return start(name);
}

Status Supervisor::kill(const std::string& name, int signal, Duration grace,
                        std::string_view reason) {
  Worker* w = find(name);
  if (!w) return unknown_worker(name);
  std::string why(reason.empty() ? "killed" : reason);
  return kill_worker(
      *w, signal, grace, why,
      {Evidence{"kill", "signal " + std::to_string(signal) + " asked: " + why, clock_.wall()}});
}

Status Supervisor::kill_worker(Worker& w, int signal, Duration grace, const std::string& reason,
                               const EvidenceList& evidence) {
  const std::string& name = w.spec.name;
  if (!w.process || w.process->ended())
    return make_error("worker '" + name + "' is not running (" + worker_phase_name(w.phase) + ")");
  WorkerPhase was = w.phase;
  bool first = w.phase == WorkerPhase::kRunning;
  if (first) w.process->kill_group_on_exit(true);
  int rc = w.process->signal(signal);
  if (rc != 0 && rc != -ESRCH)
    return make_error("cannot signal worker '" + name + "': " + std::strerror(-rc));
  if (first) {
    w.phase = WorkerPhase::kKilling;
    w.kill_reason = reason;
    w.kill_evidence = evidence;
    w.escalate_after = grace;
    w.escalate_at = clock_.mono() + grace;
    w.runtime_timer.stop();
    w.presence_timer.stop();
    if (signal != SIGKILL) arm(w.grace_timer, grace);
  }
  note(w, "kill",
       "signal " + std::to_string(signal) + " (" + reason + ")" +
           (first && signal != SIGKILL ? ", SIGKILL after " + format_duration(grace) : ""));
  Event e = make_event("worker.killing", w);
  e.fields.set("pid", static_cast<std::int64_t>(w.process->pid()));
  e.fields.set("signal", static_cast<std::int64_t>(signal));
  e.fields.set("grace_ms", ms(first ? grace : w.escalate_after));
  e.fields.set("reason", first ? reason : w.kill_reason);
  e.fields.set("was", worker_phase_name(was));
  e.fields.set("evidence", format_evidence(evidence));
  emit_(std::move(e));
  return Status::Ok();
}

Status Supervisor::adopt(const std::string& name, pid_t pid, std::string_view via) {
  Worker* w = find(name);
  if (!w) return unknown_worker(name);
  return adopt_process(*w, pid, via, std::nullopt);
}

Status Supervisor::adopt_process(Worker& w, pid_t pid, std::string_view via,
                                 const std::optional<ProcessIdentity>& expected) {
  const std::string& name = w.spec.name;
  if (w.process) {
    if (w.process->pid() == pid && !w.process->ended()) return Status::Ok();
    return make_error("worker '" + name + "' already runs as pid " +
                      std::to_string(w.process->pid()) + "; not adopting pid " +
                      std::to_string(pid));
  }
  Worker* wp = &w;
  auto adoption = ProcessWatch::adopt(
      loop_, clock_, proc_fs_, pid, expected,
      [this, wp](const ProcessEnd& end) { on_end(*wp, end); }, options_.watch);
  if (!adoption.watch) {
    Event e = make_event("worker.adopt_failed", w);
    e.fields.set("pid", static_cast<std::int64_t>(pid));
    e.fields.set("via", std::string(via));
    e.fields.set("liveness", liveness_name(adoption.verdict.liveness));
    e.fields.set("evidence", format_evidence(adoption.verdict.evidence));
    emit_(std::move(e));
    return make_error("cannot adopt pid " + std::to_string(pid) + " as worker '" + name +
                      "': " + format_evidence(adoption.verdict.evidence));
  }
  // Someone else started it: a pending restart or wait of ours is moot.
  cancel_timers(w);
  w.stop_requested = false;
  w.start_after_stop = false;
  if (w.phase == WorkerPhase::kGaveUp) w.phase = WorkerPhase::kDown;
  Event e = make_event("worker.adopted", w);
  e.fields.set("pid", static_cast<std::int64_t>(pid));
  e.fields.set("identity", format_identity(adoption.watch->identity()));
  e.fields.set("via", std::string(via));
  e.fields.set("liveness", liveness_name(adoption.verdict.liveness));
  e.fields.set("evidence", format_evidence(adoption.verdict.evidence));
  EvidenceList evidence = adoption.verdict.evidence;
  note(w, "adopt", "pid " + std::to_string(pid) + " via " + std::string(via));
  watch_started(w, std::move(adoption.watch), /*adopted=*/true);
  emit_(std::move(e));
  request(w, LifecycleState::kProcessing, "adopted via " + std::string(via), evidence);
  return Status::Ok();
}

void Supervisor::on_event(const Event& e) {
  if (!e.path.empty()) {
    // Something happened to a heartbeat file (a watched directory, a tailed log):
    // a stale or unknown heartbeat looks again now instead of at its fallback.
    for (auto& [name, w] : workers_) {
      if (w->spec.heartbeat != e.path || !w->process) continue;
      HeartbeatStatus hs = w->heartbeat.status();
      if (hs == HeartbeatStatus::kStale || hs == HeartbeatStatus::kUnknown) check_heartbeat(*w);
    }
  }
  bool landed = e.kind == "file.landed";
  bool removed = e.kind == "file.removed";
  if ((!landed && !removed) || e.path.empty()) return;
  for (auto& [name, w] : workers_) {
    if (w->spec.pid_file != e.path) continue;
    if (landed) {
      read_pid_file(*w, e.path);
      continue;
    }
    // A removed PID file is no verdict (the pidfd says when the process ends),
    // but it is news a rule may want, under the worker's name.
    Event gone = make_event("worker.pid_file_removed", *w);
    gone.path = e.path;
    const bool watching = w->process && !w->process->ended();
    gone.fields.set("running", watching);
    if (watching) gone.fields.set("pid", static_cast<std::int64_t>(w->process->pid()));
    emit_(std::move(gone));
  }
}

// What the thread pool learnt about a landed PID file: the file (its text and
// mtime) and, when it names a PID, /proc's answers about that PID and the
// program the worker's argv[0] resolves to.
struct Supervisor::PidFileRead {
  int err = 0;  // open / fstat / read
  std::string text;
  PidFileClaim claim;  // pid 0: the text is not a PID
  std::optional<ProcAnswers> proc;
  std::string expected_exe;
};

namespace {

// "  4242\n" → 4242; 0 when the text is not one positive number.
pid_t parse_pid(std::string_view t) {
  while (!t.empty() && (t.back() == '\n' || t.back() == ' ' || t.back() == '\r'))
    t.remove_suffix(1);
  while (!t.empty() && t.front() == ' ') t.remove_prefix(1);
  pid_t pid = 0;
  auto [p, ec] = std::from_chars(t.data(), t.data() + t.size(), pid);
  if (ec != std::errc() || p != t.data() + t.size() || pid <= 0) return 0;
  return pid;
}

}  // namespace

void Supervisor::read_pid_file(Worker& w, const std::string& path) {
  auto r = std::make_shared<PidFileRead>();
  std::weak_ptr<char> alive = alive_;
  std::string name = w.spec.name;
  // Copies for the pool: the Worker may change meanwhile. The ProcFs outlives
  // the work (the constructor's contract).
  std::string argv0 = w.spec.argv.empty() ? std::string() : w.spec.argv.front();
  std::string cwd = w.spec.cwd;
  const ProcFs* fs = &proc_fs_;
  int rc = uvx::queue_work(
      loop_,
      [r, path, argv0, cwd, fs] {
        int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
        if (fd < 0) {
          r->err = errno;
          return;
        }
        // The mtime of the file that was read (fstat of the same fd): when it
        // last said what it says.
        struct stat st {};
        if (::fstat(fd, &st) != 0) {
          r->err = errno;
          ::close(fd);
          return;
        }
        r->claim.written = WallTime(std::chrono::seconds(st.st_mtim.tv_sec) +
                                    std::chrono::nanoseconds(st.st_mtim.tv_nsec));
        char buf[64];
        ssize_t n;
        do {
          n = ::read(fd, buf, sizeof buf);
        } while (n < 0 && errno == EINTR);
        if (n < 0)
          r->err = errno;
        else
          r->text.assign(buf, static_cast<std::size_t>(n));
        ::close(fd);
        if (r->err != 0) return;
        r->claim.pid = parse_pid(r->text);
        if (r->claim.pid <= 0) return;
        r->proc = ask_proc_about(*fs, r->claim.pid);
        r->expected_exe = resolve_program_exe(argv0, cwd);
      },
      [this, r, alive, name, path] {
        if (alive.expired()) return;
        if (Worker* w = find(name)) on_pid_file_read(*w, path, *r);
      });
  if (rc != 0) {
    Event e = make_event("worker.adopt_failed", w);
    e.fields.set("via", "pid_file");
    e.path = path;
    e.fields.set("error", std::string("cannot queue the read: ") + uv_strerror(rc));
    emit_(std::move(e));
  }
}

void Supervisor::on_pid_file_read(Worker& w, const std::string& path, const PidFileRead& r) {
  const pid_t pid = r.claim.pid;
  if (r.err != 0 || pid <= 0 || !r.proc) {
    std::string_view t = r.text;
    while (!t.empty() && (t.back() == '\n' || t.back() == ' ' || t.back() == '\r'))
      t.remove_suffix(1);
    Event e = make_event("worker.adopt_failed", w);
    e.fields.set("via", "pid_file");
    e.path = path;
    e.fields.set("error", r.err ? std::string(std::strerror(r.err))
                                : "expected a process id, found \"" + std::string(t) + "\"");
    emit_(std::move(e));
    return;
  }
  auto refuse = [&](const std::string& reason, const EvidenceList& evidence) {
    Event e = make_event("worker.adopt_refused", w);
    e.fields.set("via", "pid_file");
    e.path = path;
    e.fields.set("pid", static_cast<std::int64_t>(pid));
    e.fields.set("reason", reason);
    e.fields.set("error", "not adopting pid " + std::to_string(pid) + ": " + reason);
    if (!evidence.empty()) e.fields.set("evidence", format_evidence(evidence));
    emit_(std::move(e));
  };
  if (w.process && !w.process->ended()) {
    // The file names the process we watch: nothing to do. Another one while
    // ours still runs: two copies, or a stale file. Adopting either would be a
    // guess.
    if (w.process->pid() != pid)
      refuse("worker '" + w.spec.name + "' already runs as pid " + std::to_string(w.process->pid()),
             {});
    return;
  }
  PidFileJudgement j = judge_pid_file(r.claim, *r.proc, r.expected_exe, clock_.wall());
  switch (j.verdict) {
    case PidFileVerdict::kPlausible:
      // Adopted as the process judged: if it ended and its PID went to another
      // since the pool asked, the identity check of the adoption says so.
      (void)adopt_process(w, pid, "pid_file", j.seen);  // a failure is worker.adopt_failed
      return;
    case PidFileVerdict::kGone: {
      Event e = make_event("worker.adopt_failed", w);
      e.fields.set("pid", static_cast<std::int64_t>(pid));
      e.fields.set("via", "pid_file");
      e.path = path;
      e.fields.set("liveness", liveness_name(Liveness::kAbsent));
      e.fields.set("evidence", format_evidence(j.evidence));
      emit_(std::move(e));
      return;
    }
    case PidFileVerdict::kUnverifiable:
    case PidFileVerdict::kStale:
    case PidFileVerdict::kWrongProgram:
      note(w, "adopt", "refused pid " + std::to_string(pid) + " from " + path + ": " + j.reason);
      refuse(j.reason, j.evidence);
      return;
  }
}

void Supervisor::on_entity_completed(const std::string& name) {
  if (!completed_.insert(name).second) return;
  if (Worker* done = find(name)) {
    // Its work is done: not hung (whatever its runtime), not a phantom.
    done->runtime_timer.stop();
    done->timing_out = false;
    drop_phantom(*done, "the entity completed");
  }
  std::vector<std::string> ready;
  for (const auto& [n, w] : workers_)
    if (w->phase == WorkerPhase::kWaiting && missing_deps(*w).empty()) ready.push_back(n);
  for (const std::string& n : ready) {
    Worker* w = find(n);
    if (!w || w->phase != WorkerPhase::kWaiting || !missing_deps(*w).empty()) continue;
    if (!w->waiting_after_exit) {
      w->pending_attempt = w->policy.restarts_in_window(w->restart, clock_.mono()) + 1;
      spawn(*w);
      continue;
    }
    PolicyStep step = w->policy.on_dependencies_ready(w->restart, clock_.mono());
    apply(*w, step, {Evidence{"state", "dependencies completed", clock_.wall()}});
  }
}

void Supervisor::stop_all() {
  // A shutdown: the stopped workers are not phantoms (no timer may keep the
  // loop alive for their phantom_grace).
  stopping_all_ = true;
  std::vector<std::string> names;
  for (const auto& [n, w] : workers_) names.push_back(n);
  for (const std::string& n : names) {
    Worker* w = find(n);
    if (w && w->phase != WorkerPhase::kStopping) (void)stop(n);
  }
}

std::size_t Supervisor::running() const {
  std::size_t n = 0;
  for (const auto& [name, w] : workers_) n += w->process != nullptr;
  return n;
}

// ---- the machine ----

void Supervisor::wait_for_deps(Worker& w, bool after_exit) {
  bool first = w.phase != WorkerPhase::kWaiting;
  w.phase = WorkerPhase::kWaiting;
  w.waiting_after_exit = after_exit;
  std::vector<std::string> missing = missing_deps(w);
  Event e = make_event("worker.waiting", w);
  e.fields.set("deps", join(missing));
  e.fields.set("after_exit", after_exit);
  emit_(std::move(e));
  if (first && !after_exit)
    request(w, LifecycleState::kQueued, "waiting for " + join(missing),
            {Evidence{"state", "not completed: " + join(missing), clock_.wall()}});
}

void Supervisor::spawn(Worker& w) {
  w.restart = w.policy.on_spawn(std::move(w.restart), clock_.mono());
  persist(w);
  w.attempt = std::max(w.pending_attempt, 1);

  SpawnOptions o;
  o.argv = w.spec.argv;
  o.cwd = w.spec.cwd;
  o.env = w.spec.env;
  o.env.emplace_back("AGENTWATCH_WORKER", w.spec.name);
  o.capture_output = true;
  o.tail_limit = std::max<std::size_t>(options_.stderr_tail_bytes, 1);
  Worker* wp = &w;
  auto watch = ProcessWatch::watch_child(loop_, clock_, proc_fs_, std::move(o),
                                         [this, wp](const ProcessEnd& end) { on_end(*wp, end); });
  if (!watch) {
    // A spawn that fails is a failed run of length zero: the policy backs off
    // and, for a program that is not there, eventually gives up.
    Event e = make_event("worker.spawn_failed", w);
    e.fields.set("attempt", static_cast<std::int64_t>(w.attempt));
    e.fields.set("error", watch.error().message);
    emit_(std::move(e));
    w.last_exit = "spawn failed: " + watch.error().message;
    ExitFacts facts;
    facts.deps_ready = missing_deps(w).empty();
    PolicyStep step = w.policy.on_exit(w.restart, facts, clock_.mono(), draw());
    apply(w, step, {Evidence{"posix_spawn", watch.error().message, clock_.wall()}});
    return;
  }
  watch_started(w, std::move(*watch), /*adopted=*/false);
  Event e = make_event("worker.started", w);
  e.fields.set("pid", static_cast<std::int64_t>(w.process->pid()));
  e.fields.set("attempt", static_cast<std::int64_t>(w.attempt));
  e.fields.set("identity", format_identity(w.process->identity()));
  if (w.restart.circuit == CircuitState::kHalfOpen) e.fields.set("circuit", "half-open");
  emit_(std::move(e));
  request(w, LifecycleState::kProcessing, "started",
          {Evidence{"posix_spawn", "pid " + std::to_string(w.process->pid()), clock_.wall()}});
}

void Supervisor::watch_started(Worker& w, std::unique_ptr<ProcessWatch> watch, bool adopted,
                               std::optional<RunRecord> carried) {
  const ClockSnapshot now = ClockSnapshot::of(clock_);
  w.process = std::move(watch);
  w.adopted = adopted;
  w.phase = WorkerPhase::kRunning;
  w.started = now.mono;
  store_.set(w.spec.name, kProcessKey, format_identity(w.process->identity()));
  arm(w.stable_timer, w.spec.restart.stable_after);

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
  persist_run(w);
  drop_phantom(w, "a process is watched");

  // Hung: judged at the runtime deadline, never before start_grace. A completed
  // worker is not judged at all.
  if (!completed_.count(w.spec.name)) {
    w.run_deadline = std::max(w.run_started + w.spec.runtime_limit, w.started + w.spec.start_grace);
    arm(w.runtime_timer, w.run_deadline - now.mono);
  }
  // Heartbeat: a first sample now, then only at deadlines.
  w.heartbeat_in_flight = false;
  w.heartbeat_timer.stop();
  if (!w.spec.heartbeat.empty()) {
    w.heartbeat.begin(now.mono);
    check_heartbeat(w);
  }
  // Zombie: judged once start_grace has passed (now when a snapshot already says
  // its session is gone; else at the next snapshot).
  w.presence_timer.stop();
  if (!w.spec.tmux_session.empty()) arm(w.presence_timer, w.spec.start_grace);
}

void Supervisor::on_end(Worker& w, const ProcessEnd& end) {
  // Inside the watch's own callback: keep it alive until the sweep.
  retire(std::move(w.process));
  store_.erase(w.spec.name, kProcessKey);
  store_.erase(w.spec.name, kRunKey);
  w.grace_timer.stop();
  w.stable_timer.stop();
  w.runtime_timer.stop();
  w.heartbeat_timer.stop();
  w.presence_timer.stop();
  bool by_us = w.stop_requested;
  std::string killed_for = std::exchange(w.kill_reason, std::string());
  EvidenceList kill_evidence = std::exchange(w.kill_evidence, EvidenceList());
  bool was_timing_out = std::exchange(w.timing_out, false);
  bool was_zombie = std::exchange(w.zombie, false);
  bool was_adopted = w.adopted;
  w.adopted = false;
  w.last_exit = describe_end(end);
  w.absence = (end.child ? "wait4: " : "pidfd: ") + w.last_exit;
  note(w, "exit", w.last_exit + (killed_for.empty() ? "" : " (killed: " + killed_for + ")"));
  bool clean = end.status_known && end.exited && end.exit_code == 0;
  // What the lifecycle hears about this end, beyond what the policy asks for: a
  // kill is a failure with its reason; an end while timing_out or zombie leaves
  // that state (a clean completion under on-failure says `completed` instead).
  EvidenceList failure_evidence = kill_evidence;
  failure_evidence.insert(failure_evidence.end(), end.evidence.begin(), end.evidence.end());
  std::string failure_reason;
  if (!killed_for.empty()) {
    failure_reason = killed_for;
  } else if (was_timing_out || was_zombie) {
    bool completes = clean && w.spec.restart.mode == RestartMode::kOnFailure && !by_us;
    if (!completes)
      failure_reason = w.last_exit + " while " + (was_zombie ? "zombie" : "timing_out");
  }

  Event e = make_event("worker.exited", w);
  e.fields.set("pid", static_cast<std::int64_t>(end.pid));
  if (end.status_known && end.exited)
    e.fields.set("exit_code", static_cast<std::int64_t>(end.exit_code));
  if (end.status_known && !end.exited)
    e.fields.set("signal", static_cast<std::int64_t>(end.term_signal));
  if (!end.status_known) e.fields.set("status", "unknown");
  e.fields.set("wall_ms", ms(end.wall));
  if (end.child) {
    e.fields.set("user_ms", ms(end.user_cpu));
    e.fields.set("sys_ms", ms(end.sys_cpu));
    e.fields.set("max_rss_kb", end.max_rss_kb);
  }
  e.fields.set("by_us", by_us || !killed_for.empty());
  if (!killed_for.empty()) e.fields.set("killed_for", killed_for);
  e.fields.set("adopted", was_adopted);
  e.fields.set("attempt", static_cast<std::int64_t>(w.attempt));
  if (!end.stderr_tail.empty()) e.fields.set("stderr_tail", end.stderr_tail);
  e.fields.set("evidence", format_evidence(end.evidence));
  emit_(std::move(e));

  bool completed = completed_.count(w.spec.name) > 0;
  if (!failure_reason.empty() && !completed)
    request(w, LifecycleState::kFailed, failure_reason, failure_evidence);

  if (by_us) {
    w.stop_requested = false;
    w.phase = WorkerPhase::kStopped;
    emit_(make_event("worker.stopped", w));
    // An asked-for stop (`workers stop`, a restart by the CLI or a rule) ends
    // the run without a verdict (docs/lifecycle.md): queued, where neither
    // list-stuck nor the phantom detector judges it. A shutdown is not such a
    // stop: the next daemon reconciles what it finds.
    if (failure_reason.empty() && !completed && !stopping_all_)
      request(w, LifecycleState::kQueued, w.start_after_stop ? "restarted" : "stopped",
              end.evidence);
    if (w.start_after_stop) {
      w.start_after_stop = false;
      (void)start(w.spec.name);
    } else {
      evaluate_presence(w);
    }
    return;
  }
  if (completed) {
    // A finished worker is never restarted nor marked failed, whatever its exit.
    w.phase = WorkerPhase::kExited;
    return;
  }
  if (w.spec.argv.empty()) {
    // Adopt-only: whoever started it decides what follows. If nobody does and
    // the entity stays processing, the phantom detector fails it after its grace.
    w.phase = WorkerPhase::kExited;
    evaluate_presence(w);
    return;
  }
  ExitFacts facts;
  facts.uptime = clock_.mono() - w.started;
  // A killed worker failed, whatever its status after the signal.
  facts.clean = clean && killed_for.empty();
  facts.deps_ready = missing_deps(w).empty();
  PolicyStep step = w.policy.on_exit(w.restart, facts, clock_.mono(), draw());
  apply(w, step, failure_evidence, facts.clean);
  if (!w.process) evaluate_presence(w);
}

void Supervisor::apply(Worker& w, const PolicyStep& step, const EvidenceList& evidence,
                       bool clean_exit) {
  w.restart = step.state;
  persist(w);
  const RestartDecision& d = step.decision;
  switch (d.kind) {
    case DecisionKind::kRestartAt: {
      w.phase = WorkerPhase::kBackoff;
      w.next_start = d.at;
      w.pending_attempt = d.attempt + 1;
      arm(w.restart_timer, d.delay);
      Event e = make_event("worker.restart_scheduled", w);
      e.fields.set("delay_ms", ms(d.delay));
      e.fields.set("attempt", static_cast<std::int64_t>(d.attempt + 1));
      e.fields.set("restarts", static_cast<std::int64_t>(d.attempt));
      e.fields.set("max_restarts", static_cast<std::int64_t>(w.spec.restart.max_restarts));
      e.fields.set("reason", d.reason);
      emit_(std::move(e));
      return;
    }
    case DecisionKind::kCircuitOpen: {
      w.phase = WorkerPhase::kCircuitOpen;
      w.next_start = d.at;
      w.pending_attempt = d.attempt + 1;
      arm(w.restart_timer, d.delay);
      Event e = make_event("worker.circuit_open", w);
      e.fields.set("until", format_time_utc(ClockSnapshot::of(clock_).to_wall(d.at)));
      e.fields.set("delay_ms", ms(d.delay));
      e.fields.set("attempt", static_cast<std::int64_t>(d.attempt + 1));
      e.fields.set("reason", d.reason);
      emit_(std::move(e));
      return;
    }
    case DecisionKind::kWaitForDependencies:
      wait_for_deps(w, /*after_exit=*/true);
      return;
    case DecisionKind::kGiveUp: {
      w.phase = WorkerPhase::kGaveUp;
      Event e = make_event("worker.gave_up", w);
      e.fields.set("reason", d.reason);
      e.fields.set("restarts", static_cast<std::int64_t>(d.attempt));
      e.fields.set("total_restarts", w.restart.total_restarts);
      e.fields.set("last_exit", w.last_exit);
      emit_(std::move(e));
      request(w, LifecycleState::kFailed, "gave up: " + d.reason, evidence);
      return;
    }
    case DecisionKind::kDoNotRestart: {
      w.phase = WorkerPhase::kExited;
      if (clean_exit && w.spec.restart.mode == RestartMode::kOnFailure) {
        request(w, LifecycleState::kCompleted, "exited 0", evidence);
      } else if (w.spec.restart.mode == RestartMode::kNever &&
                 w.requested != LifecycleState::kFailed) {
        request(w, LifecycleState::kFailed, w.last_exit + " (restart = never)", evidence);
      }
      return;
    }
  }
}

void Supervisor::on_restart_timer(Worker& w) {
  if (w.phase != WorkerPhase::kBackoff && w.phase != WorkerPhase::kCircuitOpen) return;
  if (MonoTime now = clock_.mono(); now < w.next_start) {
    arm(w.restart_timer, w.next_start - now);  // woke early: the clock decides
    return;
  }
  if (!missing_deps(w).empty()) {
    wait_for_deps(w, /*after_exit=*/true);
    return;
  }
  spawn(w);
}

void Supervisor::on_stable_timer(Worker& w) {
  if (!w.process) return;
  if (Duration up = clock_.mono() - w.started; up < w.spec.restart.stable_after) {
    arm(w.stable_timer, w.spec.restart.stable_after - up);
    return;
  }
  bool was_half_open = w.restart.circuit != CircuitState::kClosed;
  RestartState next = w.policy.on_stable_run(w.restart);
  if (next == w.restart) return;
  w.restart = std::move(next);
  persist(w);
  if (was_half_open) {
    Event e = make_event("worker.circuit_closed", w);
    e.fields.set("uptime_ms", ms(clock_.mono() - w.started));
    emit_(std::move(e));
  }
}

void Supervisor::on_grace_timer(Worker& w) {
  if (!w.process || (w.phase != WorkerPhase::kStopping && w.phase != WorkerPhase::kKilling)) return;
  if (MonoTime now = clock_.mono(); now < w.escalate_at) {
    arm(w.grace_timer, w.escalate_at - now);
    return;
  }
  int rc = w.process->signal(SIGKILL);
  note(w, "kill", "SIGKILL: it outlived the grace of " + format_duration(w.escalate_after));
  Event e = make_event("worker.kill_escalated", w);
  e.fields.set("pid", static_cast<std::int64_t>(w.process->pid()));
  e.fields.set("grace_ms", ms(w.escalate_after));
  if (rc != 0) e.fields.set("error", std::strerror(-rc));
  emit_(std::move(e));
}

// ---- lifecycle requests and the health record ----

void Supervisor::request(Worker& w, LifecycleState to, std::string_view reason,
                         const EvidenceList& evidence) {
  w.requested = to;
  sink_.transition(w.spec.name, to, reason, evidence);
}

void Supervisor::note(Worker& w, std::string signal, std::string detail) {
  w.decisions.push_back(Evidence{std::move(signal), std::move(detail), clock_.wall()});
  while (w.decisions.size() > kHealthRecords) w.decisions.pop_front();
}

void Supervisor::persist_run(Worker& w) {
  store_.set(w.spec.name, kRunKey,
             format_run(ClockSnapshot::of(clock_).to_wall(w.run_started), w.extensions));
}

std::optional<LifecycleState> Supervisor::entity_state(const Worker& w) const {
  if (completed_.count(w.spec.name)) return LifecycleState::kCompleted;
  if (auto s = sink_.current(w.spec.name)) return s;
  return w.requested;
}

SessionPresence Supervisor::session_of(const Worker& w) const {
  if (w.spec.tmux_session.empty()) return SessionPresence::kNone;
  if (!sessions_known_) return SessionPresence::kUnknown;
  return sessions_.count(w.spec.tmux_session) ? SessionPresence::kPresent
                                              : SessionPresence::kAbsent;
}

Duration Supervisor::runtime_of(const Worker& w) const {
  if (!w.process) return Duration{0};
  return clock_.mono() - w.run_started;
}

// ---- hung: runtime limit, timing_out, extensions ----

void Supervisor::on_runtime_timer(Worker& w) {
  if (!w.process || w.phase != WorkerPhase::kRunning) return;
  MonoTime now = clock_.mono();
  if (now < w.run_deadline) {
    arm(w.runtime_timer, w.run_deadline - now);
    return;
  }
  if (!w.timing_out) {
    begin_timing_out(w);
    return;
  }
  if (w.spec.heartbeat.empty()) {
    end_of_grace(w, std::nullopt);
    return;
  }
  stat_heartbeat(w, [this](Worker& x, const FileSample& sample) { end_of_grace(x, sample); });
}

void Supervisor::begin_timing_out(Worker& w) {
  const WallTime wall = clock_.wall();
  Duration runtime = runtime_of(w);
  w.timing_out = true;
  w.progress_baseline.reset();
  w.run_deadline = clock_.mono() + w.spec.timeout_grace;
  std::string detail =
      "ran " + format_duration(runtime) + ", limit " + format_duration(w.spec.runtime_limit);
  if (w.extensions > 0) detail += " (after " + std::to_string(w.extensions) + " extensions)";
  EvidenceList evidence = {
      Evidence{"runtime", detail, wall},
      Evidence{"pidfd", "pid " + std::to_string(w.process->pid()) + " still running", wall}};
  note(w, "timing_out", detail + "; grace " + format_duration(w.spec.timeout_grace));
  Event e = make_event("worker.timing_out", w);
  e.fields.set("pid", static_cast<std::int64_t>(w.process->pid()));
  e.fields.set("runtime_ms", ms(runtime));
  e.fields.set("limit_ms", ms(w.spec.runtime_limit));
  e.fields.set("grace_ms", ms(w.spec.timeout_grace));
  e.fields.set("extensions", static_cast<std::int64_t>(w.extensions));
  e.fields.set("max_extensions", static_cast<std::int64_t>(w.spec.max_extensions));
  e.fields.set("heartbeat",
               w.spec.heartbeat.empty() ? "none" : heartbeat_status_name(w.heartbeat.status()));
  e.fields.set("evidence", format_evidence(evidence));
  emit_(std::move(e));
  request(w, LifecycleState::kTimingOut, "runtime over its limit", evidence);
  if (!w.spec.heartbeat.empty())
    stat_heartbeat(w, [](Worker& x, const FileSample& sample) {
      if (x.timing_out && !x.progress_baseline) x.progress_baseline = sample;
    });
  arm(w.runtime_timer, w.spec.timeout_grace);
}

void Supervisor::end_of_grace(Worker& w, const std::optional<FileSample>& sample) {
  if (!w.timing_out || !w.process || w.phase != WorkerPhase::kRunning) return;
  const WallTime wall = clock_.wall();
  Progress progress = progress_between(!w.spec.heartbeat.empty(), w.progress_baseline, sample);
  std::string said = describe_progress(progress, w.progress_baseline, sample);
  if (judge_grace_end(progress, w.extensions, w.spec.max_extensions) == GraceVerdict::kExtend) {
    ++w.extensions;
    w.timing_out = false;
    // A full runtime_limit from now: the worker showed it is working, and a
    // shorter slice would only re-run the grace's verdict sooner, with less
    // growth to see. Total runtime stays bounded: (max_extensions + 1) ×
    // (runtime_limit + timeout_grace).
    w.run_deadline = clock_.mono() + w.spec.runtime_limit;
    persist_run(w);
    std::string what = "extension " + std::to_string(w.extensions) + " of " +
                       std::to_string(w.spec.max_extensions);
    note(w, "extended", what + ": " + said);
    Event e = make_event("worker.extended", w);
    e.fields.set("pid", static_cast<std::int64_t>(w.process->pid()));
    e.fields.set("extensions", static_cast<std::int64_t>(w.extensions));
    e.fields.set("max_extensions", static_cast<std::int64_t>(w.spec.max_extensions));
    e.fields.set("runtime_ms", ms(runtime_of(w)));
    e.fields.set("next_deadline_ms", ms(w.spec.runtime_limit));
    e.fields.set("progress", said);
    emit_(std::move(e));
    request(w, LifecycleState::kProcessing, what + ": progress",
            {Evidence{"heartbeat", said, wall}});
    arm(w.runtime_timer, w.spec.runtime_limit);
    return;
  }
  std::string why =
      progress == Progress::kSeen
          ? "progress, but all " + std::to_string(w.spec.max_extensions) + " extensions are used"
          : "no progress during the grace";
  note(w, "hung", why + ": " + said);
  EvidenceList evidence = {
      Evidence{"runtime",
               "ran " + format_duration(runtime_of(w)) + ", limit " +
                   format_duration(w.spec.runtime_limit) + ", extensions " +
                   std::to_string(w.extensions) + "/" + std::to_string(w.spec.max_extensions),
               wall},
      Evidence{"heartbeat", said, wall}};
  (void)kill_worker(w, SIGTERM, w.spec.kill_grace, "hung", evidence);
}

// ---- heartbeat ----

void Supervisor::stat_heartbeat(Worker& w,
                                const std::function<void(Worker&, const FileSample&)>& then) {
  struct Stat {
    int err = 0;
    std::int64_t size = 0;
    WallTime mtime{};
  };
  auto r = std::make_shared<Stat>();
  std::weak_ptr<char> alive = alive_;
  std::string name = w.spec.name;
  std::string path = w.spec.heartbeat;
  std::uint64_t run = w.run;
  int rc = uvx::queue_work(
      loop_,
      [r, path] {
        struct stat st {};
        if (::stat(path.c_str(), &st) != 0) {
          r->err = errno;
          return;
        }
        r->size = static_cast<std::int64_t>(st.st_size);
        r->mtime = WallTime(std::chrono::seconds(st.st_mtim.tv_sec) +
                            std::chrono::nanoseconds(st.st_mtim.tv_nsec));
      },
      [this, r, alive, name, run, then] {
        if (alive.expired()) return;
        Worker* x = find(name);
        if (!x || !x->process || x->run != run) return;  // that run is over
        FileSample sample;
        sample.ok = r->err == 0;
        if (r->err) sample.error = std::strerror(r->err);
        sample.size = r->size;
        sample.mtime = r->mtime;
        then(*x, sample);
      });
  if (rc != 0) {
    FileSample failed;
    failed.error = std::string("cannot queue the stat: ") + uv_strerror(rc);
    then(w, failed);
  }
}

void Supervisor::check_heartbeat(Worker& w) {
  if (!w.process || w.spec.heartbeat.empty() || w.heartbeat_in_flight) return;
  w.heartbeat_in_flight = true;
  w.heartbeat_timer.stop();
  stat_heartbeat(w,
                 [this](Worker& x, const FileSample& sample) { on_heartbeat_sample(x, sample); });
}

void Supervisor::on_heartbeat_sample(Worker& w, const FileSample& sample) {
  w.heartbeat_in_flight = false;
  const ClockSnapshot now = ClockSnapshot::of(clock_);
  MonoTime growth_before = w.heartbeat.last_growth();
  HeartbeatStep step = w.heartbeat.observe(sample, now);
  const std::string last_growth = format_time_utc(now.to_wall(w.heartbeat.last_growth()));
  switch (step.signal) {
    case HeartbeatStep::Signal::kNothing:
      break;
    case HeartbeatStep::Signal::kLost: {
      note(w, "heartbeat",
           "lost: no growth since " + last_growth + " (timeout " +
               format_duration(w.spec.heartbeat_timeout) + ")");
      Event e = make_event("worker.heartbeat_lost", w);
      e.fields.set("file", w.spec.heartbeat);
      e.fields.set("last_growth", last_growth);
      e.fields.set("timeout_ms", ms(w.spec.heartbeat_timeout));
      e.fields.set("size", sample.size);
      emit_(std::move(e));
      break;
    }
    case HeartbeatStep::Signal::kResumed: {
      note(w, "heartbeat", "resumed: grew to " + std::to_string(sample.size) + " bytes");
      Event e = make_event("worker.heartbeat_resumed", w);
      e.fields.set("file", w.spec.heartbeat);
      e.fields.set("last_growth", last_growth);
      e.fields.set("stale_ms", ms(w.heartbeat.last_growth() - growth_before));
      e.fields.set("size", sample.size);
      emit_(std::move(e));
      break;
    }
    case HeartbeatStep::Signal::kUnknown: {
      note(w, "heartbeat", "unknown: " + sample.error + " (not evidence of a loss)");
      Event e = make_event("worker.heartbeat_unknown", w);
      e.fields.set("file", w.spec.heartbeat);
      e.fields.set("heartbeat", "unknown");
      e.fields.set("error", sample.error);
      emit_(std::move(e));
      break;
    }
  }
  if (w.process) arm(w.heartbeat_timer, step.next_check - now.mono);
}

// ---- zombie and phantom ----

void Supervisor::on_tmux_snapshot(const std::set<std::string>& sessions, bool known,
                                  const std::map<std::string, pid_t>& pane_pids) {
  if (known) {
    sessions_ = sessions;
    sessions_known_ = true;
    sessions_at_ = clock_.wall();
  } else {
    sessions_known_ = false;  // unknown, not absent: nothing acts on it
  }
  std::vector<std::string> names;
  for (const auto& [n, w] : workers_) names.push_back(n);
  for (const std::string& n : names) {
    if (Worker* w = find(n); w && known) adopt_pane(*w, pane_pids);
    if (Worker* w = find(n)) evaluate_presence(*w);
  }
}

void Supervisor::adopt_pane(Worker& w, const std::map<std::string, pid_t>& pane_pids) {
  if (stopping_all_ || !w.spec.argv.empty() || w.spec.tmux_session.empty() || w.process) return;
  auto it = pane_pids.find(w.spec.tmux_session);
  if (it == pane_pids.end() || it->second <= 0) return;
  // Hooks come in bursts and each brings a snapshot: a process that was
  // adopted and ended, or refused, is not offered again while tmux lists it.
  if (std::exchange(w.pane_pid_tried, it->second) == it->second) return;
  (void)adopt(w.spec.name, it->second, "tmux");  // a refusal is a worker.adopt_failed event
}

void Supervisor::evaluate_presence(Worker& w) {
  if (stopping_all_) return;
  PresenceFacts f;
  f.process_watched = w.process && !w.process->ended();
  f.session = session_of(w);
  f.entity = entity_state(w);
  f.action_pending = w.phase == WorkerPhase::kWaiting || w.phase == WorkerPhase::kBackoff ||
                     w.phase == WorkerPhase::kCircuitOpen || w.phase == WorkerPhase::kStopping ||
                     w.phase == WorkerPhase::kKilling;
  if (f.process_watched) {
    if (f.action_pending || f.session != SessionPresence::kAbsent) return;
    Duration up = clock_.mono() - w.started;
    if (up < w.spec.start_grace) {
      arm(w.presence_timer, w.spec.start_grace - up);
      return;
    }
    f.past_start_grace = true;
    // Only now, with the session confirmed gone, is /proc asked (small procfs reads).
    LivenessVerdict v = w.process->liveness();
    f.process = v.liveness;
    if (judge_presence(f) == PresenceVerdict::kZombie) {
      declare_zombie(w, v);
    } else if (v.liveness == Liveness::kUnknown) {
      note(w, "zombie",
           "session '" + w.spec.tmux_session + "' absent, process liveness unknown (" +
               format_evidence(v.evidence) + "): not acting");
    }
    return;
  }
  if (judge_presence(f) != PresenceVerdict::kPhantom) {
    std::string why =
        f.action_pending                         ? std::string("a start or stop is pending")
        : f.session == SessionPresence::kPresent ? "session '" + w.spec.tmux_session + "' seen"
        : f.session == SessionPresence::kUnknown
            ? std::string("the tmux sessions are unknown")
            : "the entity is " +
                  std::string(f.entity ? lifecycle_state_name(*f.entity) : "in an unknown state");
    drop_phantom(w, why);
    return;
  }
  const MonoTime now = clock_.mono();
  if (!w.phantom_since) {
    w.phantom_since = now;
    const WallTime deadline = ClockSnapshot::of(clock_).to_wall(now + w.spec.phantom_grace);
    note(
        w, "phantom",
        "suspected: processing with no process (" +
            (w.absence.empty() ? std::string("none watched") : w.absence) + ") and " +
            (f.session == SessionPresence::kNone ? std::string("no tmux_session declared")
                                                 : "session '" + w.spec.tmux_session + "' absent") +
            "; failed at " + format_time_utc(deadline) + " unless it shows life");
    arm(w.presence_timer, w.spec.phantom_grace);
    return;
  }
  Duration waited = now - *w.phantom_since;
  if (waited < w.spec.phantom_grace) {
    arm(w.presence_timer, w.spec.phantom_grace - waited);
    return;
  }
  declare_phantom(w);
}

void Supervisor::drop_phantom(Worker& w, const std::string& why) {
  if (!w.phantom_since) return;
  w.phantom_since.reset();
  if (!w.process) w.presence_timer.stop();
  note(w, "phantom", "suspicion dropped: " + why);
}

void Supervisor::declare_zombie(Worker& w, const LivenessVerdict& alive) {
  const WallTime wall = clock_.wall();
  w.zombie = true;
  EvidenceList evidence;
  evidence.push_back(
      {"pidfd", "pid " + std::to_string(w.process->pid()) + " watched, no exit seen", wall});
  evidence.insert(evidence.end(), alive.evidence.begin(), alive.evidence.end());
  evidence.push_back({"tmux",
                      "session '" + w.spec.tmux_session + "' absent from the listing of " +
                          format_time_utc(sessions_at_),
                      wall});
  note(w, "zombie",
       "pid " + std::to_string(w.process->pid()) + " alive, session '" + w.spec.tmux_session +
           "' gone: terminating");
  Event e = make_event("worker.zombie", w);
  e.fields.set("pid", static_cast<std::int64_t>(w.process->pid()));
  e.fields.set("session", w.spec.tmux_session);
  e.fields.set("evidence", format_evidence(evidence));
  emit_(std::move(e));
  auto state = entity_state(w);
  if (!state || *state == LifecycleState::kProcessing)
    request(w, LifecycleState::kZombie, "process alive but its session is gone", evidence);
  if (w.process && w.phase == WorkerPhase::kRunning)
    (void)kill_worker(w, SIGTERM, w.spec.kill_grace, "zombie", evidence);
}

void Supervisor::declare_phantom(Worker& w) {
  const ClockSnapshot now = ClockSnapshot::of(clock_);
  const WallTime wall = now.wall;
  const WallTime since = now.to_wall(w.phantom_since.value_or(now.mono));
  w.phantom_since.reset();
  EvidenceList evidence = {
      {"process", w.absence.empty() ? std::string("none watched") : w.absence, wall},
      {"tmux",
       w.spec.tmux_session.empty()
           ? std::string("no tmux_session declared")
           : "session '" + w.spec.tmux_session + "' absent from the listing of " +
                 format_time_utc(sessions_at_),
       wall},
      {"state", "processing with neither since " + format_time_utc(since), wall}};
  note(w, "phantom", "failed after " + format_duration(w.spec.phantom_grace));
  Event e = make_event("worker.phantom", w);
  e.fields.set("session", w.spec.tmux_session.empty() ? std::string("none") : w.spec.tmux_session);
  e.fields.set("since", format_time_utc(since));
  e.fields.set("grace_ms", ms(w.spec.phantom_grace));
  e.fields.set("evidence", format_evidence(evidence));
  emit_(std::move(e));
  request(w, LifecycleState::kFailed, "phantom", evidence);
}

// ---- reading ----

WorkerStatus Supervisor::status_of(const Worker& w) const {
  WorkerStatus s;
  s.name = w.spec.name;
  s.phase = w.phase;
  if (w.process && !w.process->ended()) s.pid = w.process->pid();
  s.adopted = w.process && w.adopted;
  s.restarts = w.restart.total_restarts;
  s.restarts_in_window = w.policy.restarts_in_window(w.restart, clock_.mono());
  s.circuit = w.restart.circuit;
  s.waiting_on = missing_deps(w);
  if (w.phase == WorkerPhase::kBackoff || w.phase == WorkerPhase::kCircuitOpen)
    s.next_start_in = std::max(w.next_start - clock_.mono(), Duration{0});
  s.last_exit = w.last_exit;
  s.gave_up_reason = w.restart.gave_up_reason;
  return s;
}

std::vector<WorkerStatus> Supervisor::list() const {
  std::vector<WorkerStatus> out;
  for (const auto& [n, w] : workers_) out.push_back(status_of(*w));
  return out;
}

std::optional<WorkerHealth> Supervisor::health(const std::string& name) const {
  auto it = workers_.find(name);
  if (it == workers_.end()) return std::nullopt;
  const Worker& w = *it->second;
  const ClockSnapshot now = ClockSnapshot::of(clock_);
  WorkerHealth h;
  h.name = w.spec.name;
  h.phase = w.phase;
  h.entity = entity_state(w);
  if (w.process && !w.process->ended()) {
    h.pid = w.process->pid();
    h.process = Liveness::kAlive;
    h.process_evidence = std::string(w.adopted ? "pidfd" : "pidfd (our child)") +
                         ": watched since " + format_time_utc(now.to_wall(w.run_started)) +
                         ", no exit seen";
  } else if (!w.absence.empty()) {
    h.process = Liveness::kAbsent;
    h.process_evidence = w.absence;
  } else {
    h.process = Liveness::kUnknown;
    h.process_evidence = "no process watched yet";
  }
  h.tmux_session = w.spec.tmux_session;
  h.session = session_of(w);
  if (sessions_known_) h.session_checked = sessions_at_;
  h.heartbeat_file = w.spec.heartbeat;
  if (!w.spec.heartbeat.empty()) {
    h.heartbeat = w.heartbeat.status();
    h.heartbeat_last_growth = now.to_wall(w.heartbeat.last_growth());
    h.heartbeat_error = w.heartbeat.error();
  }
  h.runtime = runtime_of(w);
  h.runtime_limit = w.spec.runtime_limit;
  h.timing_out = w.timing_out;
  if (w.process && w.phase == WorkerPhase::kRunning && w.runtime_timer.active())
    h.judged_in = std::max(w.run_deadline - now.mono, Duration{0});
  h.extensions = w.extensions;
  h.max_extensions = w.spec.max_extensions;
  if (w.phantom_since) h.phantom_deadline = now.to_wall(*w.phantom_since + w.spec.phantom_grace);
  h.decisions.assign(w.decisions.begin(), w.decisions.end());
  return h;
}

std::optional<WorkerStatus> Supervisor::status(const std::string& name) const {
  auto it = workers_.find(name);
  if (it == workers_.end()) return std::nullopt;
  return status_of(*it->second);
}

}  // namespace aw
