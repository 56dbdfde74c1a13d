#include "src/supervise/supervisor.h"

#include <fcntl.h>
#include <signal.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <charconv>
#include <cstring>

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
        grace_timer(loop, [this, &sup] { sup.on_grace_timer(*this); }) {}

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
  MonoTime started{};
  WallTime next_start{};
  std::string last_exit;
  uvx::Timer restart_timer;
  uvx::Timer stable_timer;
  uvx::Timer grace_timer;
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
      auto parsed = deserialize_restart_state(*text);
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
  store_.set(w.spec.name, kRestartKey, serialize_restart_state(w.restart));
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
      watch_started(*w, std::move(adoption.watch), /*adopted=*/true);
      emit_(std::move(e));
    } else {
      store_.erase(name, kProcessKey);
      Event e = make_event("worker.lost", *w);
      e.fields.set("pid", static_cast<std::int64_t>(expected->pid));
      e.fields.set("identity", *text);
      e.fields.set("liveness", liveness_name(adoption.verdict.liveness));
      e.fields.set("evidence", format_evidence(adoption.verdict.evidence));
      emit_(std::move(e));
    }
  }
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
  w->pending_attempt = w->policy.restarts_in_window(w->restart, clock_.wall()) + 1;
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
      arm(w->grace_timer, w->spec.kill_grace);
      return Status::Ok();
    }
    case WorkerPhase::kStopping:
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
  if (w->phase == WorkerPhase::kStopping) {
    w->start_after_stop = true;
    return Status::Ok();
  }
  return start(name);
}

Status Supervisor::adopt(const std::string& name, pid_t pid, std::string_view via) {
  Worker* w = find(name);
  if (!w) return unknown_worker(name);
  if (w->process) {
    if (w->process->pid() == pid && !w->process->ended()) return Status::Ok();
    return make_error("worker '" + name + "' already runs as pid " +
                      std::to_string(w->process->pid()) + "; not adopting pid " +
                      std::to_string(pid));
  }
  auto adoption = ProcessWatch::adopt(
      loop_, clock_, proc_fs_, pid, std::nullopt,
      [this, w](const ProcessEnd& end) { on_end(*w, end); }, options_.watch);
  if (!adoption.watch) {
    Event e = make_event("worker.adopt_failed", *w);
    e.fields.set("pid", static_cast<std::int64_t>(pid));
    e.fields.set("via", std::string(via));
    e.fields.set("liveness", liveness_name(adoption.verdict.liveness));
    e.fields.set("evidence", format_evidence(adoption.verdict.evidence));
    emit_(std::move(e));
    return make_error("cannot adopt pid " + std::to_string(pid) + " as worker '" + name +
                      "': " + format_evidence(adoption.verdict.evidence));
  }
  // Someone else started it: a pending restart or wait of ours is moot.
  cancel_timers(*w);
  w->stop_requested = false;
  w->start_after_stop = false;
  if (w->phase == WorkerPhase::kGaveUp) w->phase = WorkerPhase::kDown;
  Event e = make_event("worker.adopted", *w);
  e.fields.set("pid", static_cast<std::int64_t>(pid));
  e.fields.set("identity", format_identity(adoption.watch->identity()));
  e.fields.set("via", std::string(via));
  e.fields.set("liveness", liveness_name(adoption.verdict.liveness));
  e.fields.set("evidence", format_evidence(adoption.verdict.evidence));
  EvidenceList evidence = adoption.verdict.evidence;
  watch_started(*w, std::move(adoption.watch), /*adopted=*/true);
  emit_(std::move(e));
  sink_.transition(name, LifecycleState::kProcessing, "adopted via " + std::string(via), evidence);
  return Status::Ok();
}

void Supervisor::on_event(const Event& e) {
  bool landed = e.kind == "file.landed";
  bool removed = e.kind == "file.removed";
  if ((!landed && !removed) || e.path.empty()) return;
  for (auto& [name, w] : workers_) {
    if (w->spec.pid_file != e.path) continue;
    // A removed PID file is no verdict: the pidfd says when the process ends.
    if (landed) read_pid_file(*w, e.path);
  }
}

void Supervisor::read_pid_file(Worker& w, const std::string& path) {
  struct Read {
    std::string text;
    int err = 0;
  };
  auto r = std::make_shared<Read>();
  std::weak_ptr<char> alive = alive_;
  std::string name = w.spec.name;
  int rc = uvx::queue_work(
      loop_,
      [r, path] {
        int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
        if (fd < 0) {
          r->err = errno;
          return;
        }
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
      },
      [this, r, alive, name, path] {
        if (alive.expired()) return;
        Worker* w = find(name);
        if (!w) return;
        std::string_view t = r->text;
        while (!t.empty() && (t.back() == '\n' || t.back() == ' ' || t.back() == '\r'))
          t.remove_suffix(1);
        while (!t.empty() && t.front() == ' ') t.remove_prefix(1);
        pid_t pid = 0;
        auto [p, ec] = std::from_chars(t.data(), t.data() + t.size(), pid);
        if (r->err != 0 || ec != std::errc() || p != t.data() + t.size() || pid <= 0) {
          Event e = make_event("worker.adopt_failed", *w);
          e.fields.set("via", "pid_file");
          e.path = path;
          e.fields.set("error", r->err ? std::string(std::strerror(r->err))
                                       : "expected a process id, found \"" + std::string(t) + "\"");
          emit_(std::move(e));
          return;
        }
        (void)adopt(name, pid, "pid_file");
      });
  if (rc != 0) {
    Event e = make_event("worker.adopt_failed", w);
    e.fields.set("via", "pid_file");
    e.path = path;
    e.fields.set("error", std::string("cannot queue the read: ") + uv_strerror(rc));
    emit_(std::move(e));
  }
}

void Supervisor::on_entity_completed(const std::string& name) {
  if (!completed_.insert(name).second) return;
  std::vector<std::string> ready;
  for (const auto& [n, w] : workers_)
    if (w->phase == WorkerPhase::kWaiting && missing_deps(*w).empty()) ready.push_back(n);
  for (const std::string& n : ready) {
    Worker* w = find(n);
    if (!w || w->phase != WorkerPhase::kWaiting || !missing_deps(*w).empty()) continue;
    if (!w->waiting_after_exit) {
      w->pending_attempt = w->policy.restarts_in_window(w->restart, clock_.wall()) + 1;
      spawn(*w);
      continue;
    }
    PolicyStep step = w->policy.on_dependencies_ready(w->restart, clock_.wall());
    apply(*w, step, {Evidence{"state", "dependencies completed", clock_.wall()}});
  }
}

void Supervisor::stop_all() {
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
    sink_.transition(w.spec.name, LifecycleState::kQueued, "waiting for " + join(missing),
                     {Evidence{"state", "not completed: " + join(missing), clock_.wall()}});
}

void Supervisor::spawn(Worker& w) {
  w.restart = w.policy.on_spawn(std::move(w.restart), clock_.wall());
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
    PolicyStep step = w.policy.on_exit(w.restart, facts, clock_.wall(), draw());
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
  sink_.transition(
      w.spec.name, LifecycleState::kProcessing, "started",
      {Evidence{"posix_spawn", "pid " + std::to_string(w.process->pid()), clock_.wall()}});
}

void Supervisor::watch_started(Worker& w, std::unique_ptr<ProcessWatch> watch, bool adopted) {
  w.process = std::move(watch);
  w.adopted = adopted;
  w.phase = WorkerPhase::kRunning;
  w.started = clock_.mono();
  store_.set(w.spec.name, kProcessKey, format_identity(w.process->identity()));
  arm(w.stable_timer, w.spec.restart.stable_after);
}

void Supervisor::on_end(Worker& w, const ProcessEnd& end) {
  // Inside the watch's own callback: keep it alive until the sweep.
  retire(std::move(w.process));
  store_.erase(w.spec.name, kProcessKey);
  w.grace_timer.stop();
  w.stable_timer.stop();
  bool by_us = w.stop_requested;
  bool was_adopted = w.adopted;
  w.adopted = false;
  w.last_exit = describe_end(end);

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
  e.fields.set("by_us", by_us);
  e.fields.set("adopted", was_adopted);
  e.fields.set("attempt", static_cast<std::int64_t>(w.attempt));
  if (!end.stderr_tail.empty()) e.fields.set("stderr_tail", end.stderr_tail);
  e.fields.set("evidence", format_evidence(end.evidence));
  emit_(std::move(e));

  if (by_us) {
    w.stop_requested = false;
    w.phase = WorkerPhase::kStopped;
    emit_(make_event("worker.stopped", w));
    if (w.start_after_stop) {
      w.start_after_stop = false;
      (void)start(w.spec.name);
    }
    return;
  }
  if (completed_.count(w.spec.name)) {
    // A finished worker is never restarted nor marked failed, whatever its exit.
    w.phase = WorkerPhase::kExited;
    return;
  }
  if (w.spec.argv.empty()) {
    // Adopt-only: whoever started it decides what follows.
    w.phase = WorkerPhase::kExited;
    return;
  }
  ExitFacts facts;
  facts.uptime = clock_.mono() - w.started;
  facts.clean = end.status_known && end.exited && end.exit_code == 0;
  facts.deps_ready = missing_deps(w).empty();
  PolicyStep step = w.policy.on_exit(w.restart, facts, clock_.wall(), draw());
  apply(w, step, end.evidence, facts.clean);
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
      e.fields.set("until", format_time_utc(d.at));
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
      sink_.transition(w.spec.name, LifecycleState::kFailed, "gave up: " + d.reason, evidence);
      return;
    }
    case DecisionKind::kDoNotRestart: {
      w.phase = WorkerPhase::kExited;
      if (clean_exit && w.spec.restart.mode == RestartMode::kOnFailure) {
        sink_.transition(w.spec.name, LifecycleState::kCompleted, "exited 0", evidence);
      } else if (w.spec.restart.mode == RestartMode::kNever) {
        sink_.transition(w.spec.name, LifecycleState::kFailed, w.last_exit + " (restart = never)",
                         evidence);
      }
      return;
    }
  }
}

void Supervisor::on_restart_timer(Worker& w) {
  if (w.phase != WorkerPhase::kBackoff && w.phase != WorkerPhase::kCircuitOpen) return;
  if (!missing_deps(w).empty()) {
    wait_for_deps(w, /*after_exit=*/true);
    return;
  }
  spawn(w);
}

void Supervisor::on_stable_timer(Worker& w) {
  if (!w.process) return;
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
  if (!w.process || w.phase != WorkerPhase::kStopping) return;
  int rc = w.process->signal(SIGKILL);
  Event e = make_event("worker.kill_escalated", w);
  e.fields.set("pid", static_cast<std::int64_t>(w.process->pid()));
  e.fields.set("grace_ms", ms(w.spec.kill_grace));
  if (rc != 0) e.fields.set("error", std::strerror(-rc));
  emit_(std::move(e));
}

// ---- reading ----

WorkerStatus Supervisor::status_of(const Worker& w) const {
  WorkerStatus s;
  s.name = w.spec.name;
  s.phase = w.phase;
  if (w.process && !w.process->ended()) s.pid = w.process->pid();
  s.adopted = w.process && w.adopted;
  s.restarts = w.restart.total_restarts;
  s.restarts_in_window = w.policy.restarts_in_window(w.restart, clock_.wall());
  s.circuit = w.restart.circuit;
  s.waiting_on = missing_deps(w);
  if (w.phase == WorkerPhase::kBackoff || w.phase == WorkerPhase::kCircuitOpen)
    s.next_start_in = std::max(w.next_start - clock_.wall(), Duration{0});
  s.last_exit = w.last_exit;
  s.gave_up_reason = w.restart.gave_up_reason;
  return s;
}

std::vector<WorkerStatus> Supervisor::list() const {
  std::vector<WorkerStatus> out;
  for (const auto& [n, w] : workers_) out.push_back(status_of(*w));
  return out;
}

std::optional<WorkerStatus> Supervisor::status(const std::string& name) const {
  auto it = workers_.find(name);
  if (it == workers_.end()) return std::nullopt;
  return status_of(*it->second);
}

}  // namespace aw
