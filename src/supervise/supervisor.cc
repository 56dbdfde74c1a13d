#include "src/supervise/supervisor.h"

#include <signal.h>

#include <algorithm>
#include <cerrno>

#include "src/core/event_kinds.h"
#include "src/core/suggest.h"
#include "src/os/crash_point.h"
#include "src/os/errno_text.h"
#include "src/supervise/file_sampler.h"
#include "src/supervise/supervisor_events.h"

namespace aw {

namespace ev = supervisor_events;
namespace in = worker_input;
namespace cmd = worker_command;

// The machine's state, and what only the shell can hold: the watch of the live
// process (its pidfd, or our child).
struct Supervisor::Worker {
  WorkerSpec spec;
  WorkerState state;
  std::unique_ptr<ProcessWatch> process;
};

Supervisor::Supervisor(uv_loop_t* loop, const Clock& clock, std::vector<WorkerSpec> specs,
                       SupervisorStore& store, LifecycleSink& sink, Emit emit,
                       SupervisorOptions options, Env& env)
    : loop_(loop),
      clock_(clock),
      store_(store),
      sink_(sink),
      emit_(std::move(emit)),
      options_(std::move(options)),
      env_(env),
      spawn_records_(env, options_.output_dir),
      rng_(options_.jitter_seed ? options_.jitter_seed : std::random_device{}()),
      alarm_(loop, [this] { check_deadlines(); }) {
  for (WorkerSpec& s : specs) {
    RestartState restart;
    if (auto text = store_.get(s.name, kRestartKey)) {
      auto parsed = deserialize_restart_state(*text, ClockSnapshot::of(clock_));
      if (parsed)
        restart = std::move(*parsed);
      else
        emit_(ev::store_error(s.name, clock_.wall(), kRestartKey, parsed.error().message));
    }
    auto w = std::make_unique<Worker>();
    w->state = initial_worker_state(s, std::move(restart));
    w->spec = std::move(s);
    std::string name = w->spec.name;
    workers_.emplace(std::move(name), std::move(w));
  }
}

Supervisor::~Supervisor() {
  // Destroying a live child's watch kills it; an adopted one is left running.
  // Either way its end must not reach a half-destroyed Supervisor: the watch
  // calls nothing once destroyed.
  for (auto& [name, w] : workers_) w->process.reset();
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

SessionPresence Supervisor::session_of(const Worker& w) const {
  if (w.spec.tmux_session.empty()) return SessionPresence::kNone;
  if (!sessions_known_) return SessionPresence::kUnknown;
  return sessions_.count(w.spec.tmux_session) ? SessionPresence::kPresent
                                              : SessionPresence::kAbsent;
}

WorkerWorld Supervisor::world_of(const Worker& w) const {
  WorkerWorld world;
  world.missing_deps = missing_deps(w);
  world.completed = completed_.count(w.spec.name) > 0;
  world.session = session_of(w);
  world.sessions_at = sessions_at_;
  world.sink_state = sink_.current(w.spec.name);
  world.stopping_all = stopping_all_;
  return world;
}

double Supervisor::draw() {
  return std::uniform_real_distribution<double>(0.0, 1.0)(rng_);
}

// ---- the machine's steps and commands ----

Status Supervisor::feed(Worker& w, const WorkerInput& input) {
  if (released_all_) return make_error("the fleet was released: this daemon is stopping");
  WorkerWorld world = world_of(w);
  // The policy's jitter draws from the seeded RNG only when a run ended.
  if (std::holds_alternative<in::Exited>(input) || std::holds_alternative<in::SpawnFailed>(input))
    world.jitter = draw();
  StepResult r = step(w.spec, w.state, input, world, ClockSnapshot::of(clock_));
  if (!r.refusal.empty()) return make_error(r.refusal);
  // A stop's or a kill's signal decides whether the input holds: sent before
  // the new state is committed, and a failure (other than "already gone")
  // leaves the worker as it was.
  std::size_t next = 0;
  for (; next < r.commands.size(); ++next) {
    const auto* signal = std::get_if<cmd::Signal>(&r.commands[next]);
    if (!signal || !signal->refuse_on_error) break;
    if (int rc = send_signal(w, *signal); rc != 0 && rc != -ESRCH)
      return make_error("cannot signal worker '" + w.spec.name + "': " + errno_text(-rc));
  }
  w.state = std::move(r.state);
  for (; next < r.commands.size(); ++next) execute(w, r.commands[next]);
  rearm();
  return Status::Ok();
}

void Supervisor::execute(Worker& w, const WorkerCommand& command) {
  const std::string& name = w.spec.name;
  std::visit(
      [&](const auto& c) {
        using T = std::decay_t<decltype(c)>;
        if constexpr (std::is_same_v<T, cmd::Emit>) {
          emit_(c.event);
        } else if constexpr (std::is_same_v<T, cmd::RequestLifecycle>) {
          sink_.transition(name, c.to, c.reason, c.evidence);
        } else if constexpr (std::is_same_v<T, cmd::Persist>) {
          store_.set(name, c.key, c.value);
        } else if constexpr (std::is_same_v<T, cmd::Erase>) {
          store_.erase(name, c.key);
        } else if constexpr (std::is_same_v<T, cmd::Spawn>) {
          spawn(w);
        } else if constexpr (std::is_same_v<T, cmd::Signal>) {
          int rc = send_signal(w, c);
          if (c.report) {
            Event report = *c.report;
            if (rc != 0) report.fields.set("error", errno_text(-rc));
            emit_(std::move(report));
          }
        } else if constexpr (std::is_same_v<T, cmd::StatHeartbeat>) {
          stat_heartbeat(w, c.purpose, c.run);
        } else if constexpr (std::is_same_v<T, cmd::ProbeLiveness>) {
          if (w.process) (void)feed(w, in::LivenessProbed{w.process->liveness()});
        } else if constexpr (std::is_same_v<T, cmd::AdoptPid>) {
          (void)adopt_process(w, c.pid, c.via, std::nullopt);  // a refusal is worker.adopt_failed
        }
      },
      command);
}

int Supervisor::send_signal(Worker& w, const cmd::Signal& s) {
  if (!w.process) return -ESRCH;
  if (s.kill_group_on_exit) w.process->kill_group_on_exit(true);
  return w.process->signal(s.signal);
}

void Supervisor::check_deadlines() {
  const MonoTime now = clock_.mono();
  armed_for_.reset();
  for (auto& [name, w] : workers_)
    if (auto due = next_deadline(w->state); due && *due <= now) (void)feed(*w, in::AlarmDue{});
  rearm();
}

void Supervisor::rearm() {
  std::optional<MonoTime> earliest;
  for (const auto& [name, w] : workers_)
    if (auto due = next_deadline(w->state); due && (!earliest || *due < *earliest)) earliest = due;
  if (!earliest) {
    // Idle: no deadline anywhere, no wake-up.
    alarm_.stop();
    armed_for_.reset();
    return;
  }
  if (armed_for_ == earliest && alarm_.active()) return;
  // Round up, and count from now, not from the loop's cached time (which can be
  // a millisecond or more behind): the alarm should not ring before the
  // deadline (if it does, the machine does nothing and it is re-armed).
  uv_update_time(loop_);
  auto ms =
      std::chrono::ceil<std::chrono::milliseconds>(std::max(*earliest - clock_.mono(), Duration{0}))
          .count();
  alarm_.start(static_cast<std::uint64_t>(ms));
  armed_for_ = earliest;
}

std::string Supervisor::output_path(const Worker& w) const {
  if (options_.output_dir.empty()) return "";
  return options_.output_dir + "/" + w.spec.name + ".log";
}

void Supervisor::spawn(Worker& w) {
  SpawnOptions o;
  o.argv = w.spec.argv;
  o.cwd = w.spec.cwd;
  o.env = w.spec.env;
  o.env.emplace_back("AGENTWATCH_WORKER", w.spec.name);
  if (spawn_records_.enabled()) {
    // Durable before the process exists (spawn_record.h). A failed record does
    // not stop the start: the store still learns the PID, only later.
    std::string token = new_spawn_token();
    if (Status s = spawn_records_.record(w.spec.name, token); !s)
      emit_(ev::store_error(w.spec.name, clock_.wall(), "spawn", s.error().message));
    o.env.emplace_back(kSpawnTokenVar, std::move(token));
  }
  o.output_path = output_path(w);  // "": into our pipes (capture_output)
  o.tail_limit = std::max<std::size_t>(options_.stderr_tail_bytes, 1);
  Worker* wp = &w;
  auto watch = ProcessWatch::watch_child(loop_, clock_, env_, std::move(o),
                                         [this, wp](const ProcessEnd& end) { on_end(*wp, end); });
  if (!watch) {
    (void)feed(w, in::SpawnFailed{watch.error().message});
    return;
  }
  w.process = std::move(*watch);
  if (spawn_records_.enabled())
    if (Status s = spawn_records_.record_pid(w.spec.name, w.process->pid()); !s)
      emit_(ev::store_error(w.spec.name, clock_.wall(), "spawn", s.error().message));
  crash_point("worker-spawned");
  (void)feed(w, in::Spawned{w.process->pid(), format_identity(w.process->identity())});
}

void Supervisor::on_end(Worker& w, const ProcessEnd& end) {
  // Inside the watch's own callback, as its last act: destroying it here is
  // safe (process_watch.h), and nothing below may see it as running.
  w.process.reset();
  spawn_records_.forget(w.spec.name);  // seen to end: nothing to look for after a restart
  const bool restarting = w.state.stop_requested && w.state.start_after_stop;
  (void)feed(w, in::Exited{end});
  if (restarting) stopping_all_ = false;  // as start() does
  if (stopping_all_ && running() == 0 && on_all_stopped_) on_all_stopped_();
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
      loop_, clock_, env_, pid, expected, [this, wp](const ProcessEnd& end) { on_end(*wp, end); },
      options_.watch);
  if (!adoption.watch) {
    emit_(ev::adopt_failed(name, clock_.wall(), pid, via, adoption.verdict.liveness,
                           adoption.verdict.evidence));
    return make_error("cannot adopt pid " + std::to_string(pid) + " as worker '" + name +
                      "': " + format_evidence(adoption.verdict.evidence));
  }
  w.process = std::move(adoption.watch);
  Status s =
      feed(w, in::Adopted{pid, format_identity(w.process->identity()), std::string(via),
                          adoption.verdict.liveness, adoption.verdict.evidence, std::nullopt});
  if (!s.ok()) w.process.reset();
  return s;
}

void Supervisor::stat_heartbeat(Worker& w, in::SamplePurpose purpose, std::uint64_t run) {
  std::weak_ptr<char> alive = alive_;
  std::string name = w.spec.name;
  int rc = sample_file_async(loop_, w.spec.heartbeat,
                             [this, alive, name, purpose, run](const FileSample& sample) {
                               if (alive.expired()) return;
                               // An older run's sample is ignored by the machine.
                               if (Worker* x = find(name))
                                 (void)feed(*x, in::HeartbeatSampled{purpose, run, sample});
                             });
  if (rc != 0) {
    FileSample failed;
    failed.error = std::string("cannot queue the stat: ") + uv_strerror(rc);
    (void)feed(w, in::HeartbeatSampled{purpose, run, failed});
  }
}

// ---- inputs ----

void Supervisor::recover_spawned() {
  // worker -> the process its last spawn started, when it still runs: the
  // recorded PID if it carries the token; with no PID recorded (a kill right
  // after the spawn), whatever /proc finds with the token.
  std::map<std::string, pid_t> found;
  std::map<std::string, std::string> unnumbered;  // worker -> token, no PID recorded
  std::set<std::string> tokens;
  for (auto& [name, w] : workers_) {
    if (w->process) continue;
    auto record = spawn_records_.read(name);
    if (!record) continue;
    if (record->pid) {
      if (carries_token(env_, *record->pid, record->token)) found.emplace(name, *record->pid);
      continue;  // else that run ended while no daemon ran: the store's record decides
    }
    unnumbered.emplace(name, record->token);
    tokens.insert(record->token);
  }
  if (!tokens.empty()) {
    const std::map<std::string, pid_t> by_token = find_spawned(env_, tokens);
    for (const auto& [name, token] : unnumbered)
      if (auto it = by_token.find(token); it != by_token.end()) found.emplace(name, it->second);
  }
  for (const auto& [name, pid] : found) {
    Worker& w = *workers_.at(name);
    // The store's identity and run, when the pool made them durable in time;
    // else the token alone vouches for the process.
    std::optional<ProcessIdentity> expected;
    std::optional<RunRecord> carried;
    if (auto text = store_.get(name, kProcessKey))
      if (auto recorded = parse_identity(*text); recorded && recorded->pid == pid) {
        expected = recorded;
        if (auto run = store_.get(name, kRunKey)) carried = parse_run(*run);
      }
    Worker* self = &w;
    auto adoption = ProcessWatch::adopt(
        loop_, clock_, env_, pid, expected,
        [this, self](const ProcessEnd& end) { on_end(*self, end); }, options_.watch);
    if (!adoption.watch) continue;  // gone meanwhile: as if not found
    adoption.verdict.evidence.push_back(
        Evidence{"/proc/" + std::to_string(pid) + "/environ",
                 std::string(kSpawnTokenVar) + " matches the last spawn's record", clock_.wall()});
    w.process = std::move(adoption.watch);
    (void)feed(w, in::Adopted{pid, format_identity(w.process->identity()), "recovered",
                              adoption.verdict.liveness, adoption.verdict.evidence, carried});
  }
}

void Supervisor::recover() {
  recover_spawned();
  for (auto& [name, wp] : workers_) {
    Worker& w = *wp;
    if (w.process) continue;
    auto text = store_.get(name, kProcessKey);
    if (!text) continue;
    auto expected = parse_identity(*text);
    if (!expected) {
      store_.erase(name, kProcessKey);
      continue;
    }
    Worker* self = &w;
    auto adoption = ProcessWatch::adopt(
        loop_, clock_, env_, expected->pid, expected,
        [this, self](const ProcessEnd& end) { on_end(*self, end); }, options_.watch);
    if (!adoption.watch) {
      (void)feed(
          w, in::Lost{expected->pid, *text, adoption.verdict.liveness, adoption.verdict.evidence});
      continue;
    }
    std::optional<RunRecord> carried;
    if (auto run = store_.get(name, kRunKey)) carried = parse_run(*run);
    w.process = std::move(adoption.watch);
    (void)feed(w, in::Adopted{expected->pid, format_identity(w.process->identity()), "recovered",
                              adoption.verdict.liveness, adoption.verdict.evidence, carried});
  }
  // A worker the table says is processing, with nothing watched now, may be a
  // phantom (judged after phantom_grace; start_all() or an adoption cancels it).
  for (auto& [name, w] : workers_)
    if (!w->process) (void)feed(*w, in::PresenceCheck{});
}

void Supervisor::start_all() {
  std::vector<std::string> names;
  for (const auto& [n, w] : workers_)
    if (w->state.phase == WorkerPhase::kDown && !w->spec.argv.empty() && !completed_.count(n))
      names.push_back(n);
  for (const std::string& n : names) {
    Worker* w = find(n);
    if (w && w->state.phase == WorkerPhase::kDown) (void)start(n);
  }
}

Status Supervisor::start(const std::string& name) {
  Worker* w = find(name);
  if (!w) return unknown_worker(name);
  stopping_all_ = false;
  return feed(*w, in::Start{});
}

Status Supervisor::stop(const std::string& name) {
  Worker* w = find(name);
  if (!w) return unknown_worker(name);
  return feed(*w, in::Stop{});
}

Status Supervisor::restart(const std::string& name) {
  Worker* w = find(name);
  if (!w) return unknown_worker(name);
  if (w->state.phase != WorkerPhase::kRunning && w->state.phase != WorkerPhase::kStopping &&
      w->state.phase != WorkerPhase::kKilling)
    stopping_all_ = false;  // a start, as start() does
  return feed(*w, in::Restart{});
}

Status Supervisor::kill(const std::string& name, int signal, Duration grace,
                        std::string_view reason) {
  Worker* w = find(name);
  if (!w) return unknown_worker(name);
  return feed(*w, in::Kill{signal, grace, std::string(reason)});
}

Status Supervisor::adopt(const std::string& name, pid_t pid, std::string_view via) {
  Worker* w = find(name);
  if (!w) return unknown_worker(name);
  return adopt_process(*w, pid, via, std::nullopt);
}

void Supervisor::on_event(const Event& e) {
  if (e.path.empty()) return;
  // Something happened to a heartbeat file (a watched directory, a tailed log):
  // a stale or unknown heartbeat looks again now instead of at its fallback.
  for (auto& [name, w] : workers_)
    if (w->spec.heartbeat == e.path) (void)feed(*w, in::HeartbeatHint{});
  const bool landed = e.kind == kind::kFileLanded;
  const bool removed = e.kind == kind::kFileRemoved;
  if (!landed && !removed) return;
  for (auto& [name, w] : workers_) {
    if (w->spec.pid_file != e.path) continue;
    if (landed) {
      read_pid_file(*w, e.path);
      continue;
    }
    // A removed PID file is no verdict (the pidfd says when the process ends),
    // but it is news a rule may want, under the worker's name.
    std::optional<pid_t> running;
    if (w->process && !w->process->ended()) running = w->process->pid();
    emit_(ev::pid_file_removed(name, clock_.wall(), e.path, running));
  }
}

void Supervisor::read_pid_file(Worker& w, const std::string& path) {
  std::weak_ptr<char> alive = alive_;
  std::string name = w.spec.name;
  std::string argv0 = w.spec.argv.empty() ? std::string() : w.spec.argv.front();
  int rc = read_pid_file_async(loop_, env_, path, argv0, w.spec.cwd,
                               [this, alive, name, path](const PidFileRead& r) {
                                 if (alive.expired()) return;
                                 if (Worker* x = find(name)) on_pid_file_read(*x, path, r);
                               });
  if (rc != 0)
    emit_(ev::pid_file_unreadable(name, clock_.wall(), path,
                                  std::string("cannot queue the read: ") + uv_strerror(rc)));
}

void Supervisor::on_pid_file_read(Worker& w, const std::string& path, const PidFileRead& r) {
  const pid_t pid = r.claim.pid;
  if (r.err != 0 || pid <= 0 || !r.proc) {
    std::string_view t = r.text;
    while (!t.empty() && (t.back() == '\n' || t.back() == ' ' || t.back() == '\r'))
      t.remove_suffix(1);
    emit_(ev::pid_file_unreadable(
        w.spec.name, clock_.wall(), path,
        r.err ? errno_text(r.err) : "expected a process id, found \"" + std::string(t) + "\""));
    return;
  }
  if (w.process && !w.process->ended()) {
    // The file names the process we watch: nothing to do. Another one while
    // ours still runs: two copies, or a stale file. Adopting either would be a
    // guess.
    if (w.process->pid() != pid)
      (void)feed(w, in::PidFileRefused{path,
                                       pid,
                                       "worker '" + w.spec.name + "' already runs as pid " +
                                           std::to_string(w.process->pid()),
                                       {},
                                       /*judged=*/false});
    return;
  }
  PidFileJudgement j = judge_pid_file(r.claim, *r.proc, r.expected_exe, clock_.wall());
  switch (j.verdict) {
    case PidFileVerdict::kPlausible:
      // Adopted as the process judged: if it ended and its PID went to another
      // since the pool asked, the identity check of the adoption says so.
      (void)adopt_process(w, pid, "pid_file", j.seen);  // a failure is worker.adopt_failed
      return;
    case PidFileVerdict::kGone:
      emit_(ev::pid_file_gone(w.spec.name, clock_.wall(), path, pid, j.evidence));
      return;
    case PidFileVerdict::kUnverifiable:
    case PidFileVerdict::kStale:
    case PidFileVerdict::kWrongProgram:
      (void)feed(w, in::PidFileRefused{path, pid, j.reason, j.evidence, /*judged=*/true});
      return;
  }
}

void Supervisor::on_entity_completed(const std::string& name) {
  if (!completed_.insert(name).second) return;
  if (Worker* done = find(name)) (void)feed(*done, in::EntityCompleted{});
  std::vector<std::string> ready;
  for (const auto& [n, w] : workers_)
    if (w->state.phase == WorkerPhase::kWaiting && missing_deps(*w).empty()) ready.push_back(n);
  for (const std::string& n : ready)
    if (Worker* w = find(n)) (void)feed(*w, in::DependencyCompleted{});
}

void Supervisor::on_entity_reopened(const std::string& name) {
  // Dependants wait for it again from their next start or restart on; a
  // worker that was it may be started again.
  completed_.erase(name);
}

void Supervisor::on_tmux_snapshot(const std::set<std::string>& sessions, bool known,
                                  const std::map<std::string, pid_t>& pane_pids) {
  if (known) {
    sessions_ = sessions;
    sessions_known_ = true;
    sessions_at_ = clock_.wall();
  } else {
    sessions_known_ = false;  // unknown, not absent: nothing acts on it
  }
  for (auto& [name, w] : workers_) {
    if (known && !w->spec.tmux_session.empty()) {
      auto it = pane_pids.find(w->spec.tmux_session);
      if (it != pane_pids.end()) (void)feed(*w, in::PaneOffered{it->second});
    }
    (void)feed(*w, in::PresenceCheck{});
  }
}

void Supervisor::release_all() {
  stopping_all_ = true;
  for (auto& [name, w] : workers_) {
    if (!w->process || w->process->ended()) continue;
    if (w->process->is_child() && options_.output_dir.empty()) {
      if (w->state.phase != WorkerPhase::kStopping) (void)feed(*w, in::Stop{});
      continue;
    }
    const pid_t pid = w->process->pid();
    w->process->release();
    w->process.reset();
    emit_(ev::released(name, clock_.wall(), pid, output_path(*w)));
  }
  released_all_ = true;
  alarm_.stop();
}

void Supervisor::stop_all() {
  // A shutdown: the stopped workers are not phantoms (no timer may keep the
  // loop alive for their phantom_grace).
  stopping_all_ = true;
  for (auto& [name, w] : workers_)
    if (w->state.phase != WorkerPhase::kStopping) (void)feed(*w, in::Stop{});
}

std::size_t Supervisor::running() const {
  std::size_t n = 0;
  for (const auto& [name, w] : workers_) n += w->process != nullptr;
  return n;
}

// ---- reading ----

std::vector<WorkerStatus> Supervisor::list() const {
  std::vector<WorkerStatus> out;
  for (const auto& [n, w] : workers_)
    out.push_back(describe_status(w->spec, w->state, world_of(*w), clock_.mono()));
  return out;
}

std::optional<WorkerStatus> Supervisor::status(const std::string& name) const {
  auto it = workers_.find(name);
  if (it == workers_.end()) return std::nullopt;
  const Worker& w = *it->second;
  return describe_status(w.spec, w.state, world_of(w), clock_.mono());
}

std::optional<WorkerHealth> Supervisor::health(const std::string& name) const {
  auto it = workers_.find(name);
  if (it == workers_.end()) return std::nullopt;
  const Worker& w = *it->second;
  return describe_health(w.spec, w.state, world_of(w), sessions_known_, ClockSnapshot::of(clock_));
}

}  // namespace aw
