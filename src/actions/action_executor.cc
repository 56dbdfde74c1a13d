#include "src/actions/action_executor.h"

#include <signal.h>

#include <cerrno>
#include <cstring>

#include "src/actions/ensure_file.h"
#include "src/actions/file_move.h"
#include "src/actions/json_repair_file.h"
#include "src/actions/marker_file.h"
#include "src/actions/result_session.h"
#include "src/actions/retention.h"
#include "src/core/duration.h"
#include "src/plan/backoff.h"

namespace aw {

struct ActionExecutor::Job {
  Id id = 0;
  ActionRequest req;
  std::uint64_t cause_seq = 0;
  AttemptCallback on_attempt;
  DoneCallback on_done;
  int attempts = 0;
  Phase phase = Phase::kStarting;
  bool interrupted = false;

  // run
  std::unique_ptr<ChildProcess> child;
  RunContext run;
  int stop_stage = 0;  // 0: within the timeout; 1: SIGTERM sent, SIGKILL next
  std::unique_ptr<uvx::Timer> stop_timer;

  // backoff before the next attempt, or a deferred finish
  std::unique_ptr<uvx::Timer> wait;
  std::optional<ActionOutcome> last;  // the last attempt's outcome

  // integrate_session: the claim (pool), the command (retried alone), the
  // marker and move (pool).
  enum class Stage { kClaim, kCommand } stage = Stage::kClaim;
  std::string session_dir, session_name;
};

namespace {

std::uint64_t to_timer_ms(Duration d) {
  // Round up: a timer must not fire before its deadline.
  auto ms = std::chrono::ceil<std::chrono::milliseconds>(d).count();
  return ms < 0 ? 0 : static_cast<std::uint64_t>(ms);
}

// libuv measures a timer from the loop's cached "now", which can be stale by as
// long as the current callback has run: refresh it so deadlines count from now.
void arm(uv_loop_t* loop, uvx::Timer& timer, Duration d) {
  uv_update_time(loop);
  timer.start(to_timer_ms(d));
}

// The request cannot be carried out as written; nullopt when it can be tried.
std::optional<ActionOutcome> validate(const ActionRequest& r) {
  using outcome_category::kValidation;
  const std::string what = std::string(action_type_name(r.type())) + " action #" +
                           std::to_string(r.index + 1) + " of rule '" + r.rule + "'";
  if (!r.render_error.empty())
    return make_failure(kValidation, what + ": " + r.render_error,
                        "fix the rule's template, or match only events that carry the fields it "
                        "uses");
  auto check_move = [&](const std::string& source,
                        const std::string& to) -> std::optional<ActionOutcome> {
    if (source.empty())
      return make_failure(kValidation, what + ": no source path",
                          "give the action a source (usually the event's {path})");
    if (to.empty())
      return make_failure(kValidation, what + ": no destination directory",
                          "give the action a 'to' directory");
    return std::nullopt;
  };
  if (const auto* run = r.as<RunRequest>()) {
    if (run->argv.empty() || run->argv[0].empty())
      return make_failure(kValidation, what + ": no command to run",
                          "give the action a non-empty argv");
    return std::nullopt;
  }
  if (const auto* move = r.as<MoveRequest>()) return check_move(move->source, move->to);
  if (const auto* q = r.as<QuarantineRequest>()) return check_move(q->source, q->to);
  if (const auto* session = r.as<CompleteSessionRequest>())
    return check_move(session->session, session->to);
  if (const auto* session = r.as<FailSessionRequest>())
    return check_move(session->session, session->to);
  if (const auto* session = r.as<IntegrateSessionRequest>()) {
    if (session->command.argv.empty() || session->command.argv[0].empty())
      return make_failure(kValidation, what + ": no integration command",
                          "give the action a non-empty argv");
    return check_move(session->session, session->to);
  }
  if (const auto* ensure = r.as<EnsureFileRequest>()) {
    if (ensure->path.empty() || ensure->source.empty())
      return make_failure(kValidation, what + ": needs a path and a source",
                          "give the action path = \"{path}\" and the source to restore from");
    return std::nullopt;
  }
  if (const auto* retain = r.as<RetainRequest>()) {
    if (retain->dir.empty() || retain->max_age <= Duration::zero())
      return make_failure(kValidation, what + ": needs a directory and a max_age above 0",
                          "give the action dir and max_age, e.g. max_age = \"7d\"");
    return std::nullopt;
  }
  if (const auto* repair = r.as<RepairJsonRequest>()) {
    if (repair->source.empty())
      return make_failure(kValidation, what + ": no file to repair",
                          "give the action a path (usually the event's {path})");
    return std::nullopt;
  }
  if (const auto* mark = r.as<MarkRequest>()) {
    if (mark->entity.empty())
      return make_failure(kValidation, what + ": no entity to mark",
                          "give the action an entity (usually the event's {entity})");
    return std::nullopt;
  }
  if (r.as<EmitRequest>())
    return make_failure(kValidation, what + ": emit is handled by the pipeline",
                        "this is a bug in agentwatch: emit requests must not reach the executor");
  // kill, restart, tmux, rotate, probe, check_disk
  return make_failure(
      kValidation,
      what + ": " + action_type_name(r.type()) + " is handled by the daemon, not the executor",
      "this is a bug in agentwatch: the daemon must intercept " +
          std::string(action_type_name(r.type())) + " requests");
}

}  // namespace

ActionExecutor::ActionExecutor(uv_loop_t* loop, const Clock& clock, std::uint64_t jitter_seed)
    : loop_(loop), clock_(clock), rng_(jitter_seed) {}

ActionExecutor::~ActionExecutor() {
  // Children are killed and reaped by their destructors; pool completions see
  // alive_ expire and drop their results.
  alive_.reset();
  jobs_.clear();
}

ActionExecutor::Id ActionExecutor::start(const ActionRequest& request, const Event& cause,
                                         AttemptCallback on_attempt, DoneCallback on_done) {
  ++inside_call_;
  auto owned = std::make_unique<Job>();
  Job& job = *owned;
  job.id = next_id_++;
  job.req = request;
  job.cause_seq = cause.seq;
  job.on_attempt = std::move(on_attempt);
  job.on_done = std::move(on_done);
  jobs_.emplace(job.id, std::move(owned));
  const Id id = job.id;

  if (stopping_) {
    finish(job, make_failure(outcome_category::kInterrupted,
                             std::string(action_type_name(request.type())) +
                                 " action not started: agentwatch is shutting down",
                             "it will not run; re-run it after the daemon is back if needed"));
  } else if (std::optional<ActionOutcome> invalid = validate(request)) {
    finish(job, std::move(*invalid));
  } else {
    begin_attempt(job);
  }
  --inside_call_;
  return id;
}

// The command a run-like job runs: a run's own, or an integration's.
const RunRequest& command_of(const ActionRequest& req) {
  if (const auto* integrate = req.as<IntegrateSessionRequest>()) return integrate->command;
  return std::get<RunRequest>(req.body);
}

IntegrateSessionSpec integration_spec(const ActionRequest& r, std::uint64_t cause_seq,
                                      WallTime now) {
  const auto& i = std::get<IntegrateSessionRequest>(r.body);
  IntegrateSessionSpec spec;
  spec.session = i.session;
  spec.to = i.to;
  spec.root = i.root;
  spec.marker = i.marker;
  spec.claim = i.claim;
  spec.time = now;
  spec.rule = r.rule;
  spec.cause_seq = cause_seq;
  return spec;
}

void ActionExecutor::begin_attempt(Job& job) {
  ++job.attempts;
  if (job.req.as<IntegrateSessionRequest>()) {
    if (job.stage == Job::Stage::kClaim) {
      begin_integration(job);
    } else {
      begin_run(job);
    }
  } else if (job.req.as<RunRequest>()) {
    begin_run(job);
  } else {
    begin_file_action(job);
  }
}

void ActionExecutor::begin_run(Job& job) {
  const RunRequest& r = command_of(job.req);
  SpawnOptions opts;
  if (r.shell) {
    // The script is argv[0], written by the rule's author; templated values
    // follow as $1, $2 ... and are never parsed as shell text.
    opts.argv = {"/bin/sh", "-c", r.argv[0], "sh"};
    opts.argv.insert(opts.argv.end(), r.argv.begin() + 1, r.argv.end());
  } else {
    opts.argv = r.argv;
  }
  opts.cwd = r.cwd;
  opts.env = r.env;
  if (!job.session_dir.empty()) {
    // An integration command learns its session without templating.
    opts.env.emplace_back("AGENTWATCH_SESSION", job.session_name);
    opts.env.emplace_back("AGENTWATCH_SESSION_DIR", job.session_dir);
  }

  job.run = RunContext{};
  job.run.program = r.shell ? "sh -c " + r.argv[0].substr(0, 60) : r.argv[0];
  job.run.cwd = r.cwd;
  job.run.timeout = job.req.timeout > Duration::zero() ? job.req.timeout : default_run_timeout_;
  job.run.kill_grace = r.kill_grace;
  job.stop_stage = 0;

  Job* jp = &job;
  Result<std::unique_ptr<ChildProcess>> child =
      ChildProcess::spawn(loop_, clock_, std::move(opts), [this, jp](const ChildExit& e) {
        Job& j = *jp;
        if (j.stop_timer) j.stop_timer->stop();
        ActionOutcome outcome = classify_exit(e, j.run);
        j.child.reset();  // inside its own callback, which ChildProcess allows
        if (j.req.as<IntegrateSessionRequest>() && outcome.ok) {
          j.last = std::move(outcome);
          finish_integration_on_pool(j);
          return;
        }
        attempt_ended(j, std::move(outcome));
      });
  // An integration's first attempt was announced when its claim began.
  const bool announce =
      job.on_attempt && !(job.req.as<IntegrateSessionRequest>() && job.attempts == 1);
  if (!child.ok()) {
    if (announce) job.on_attempt(AttemptInfo{job.id, job.attempts, 0});
    attempt_ended(job, classify_spawn_error(child.error(), job.run));
    return;
  }
  job.child = std::move(child.value());
  job.phase = Phase::kRunning;
  if (!job.stop_timer)
    job.stop_timer = std::make_unique<uvx::Timer>(loop_, [this, jp] { on_stop_timer(*jp); });
  arm(loop_, *job.stop_timer, job.run.timeout);
  if (announce) job.on_attempt(AttemptInfo{job.id, job.attempts, job.child->pid()});
}

void ActionExecutor::on_stop_timer(Job& job) {
  if (!job.child) return;
  if (job.stop_stage == 0) {
    job.stop_stage = 1;
    job.run.timed_out = !job.interrupted;
    job.child->kill_group_on_exit(true);
    job.child->kill_group(SIGTERM);
    arm(loop_, *job.stop_timer, job.run.kill_grace);
  } else {
    job.run.sent_sigkill = true;
    job.child->kill_group(SIGKILL);
  }
}

void ActionExecutor::begin_file_action(Job& job) {
  job.phase = Phase::kOnPool;
  if (job.on_attempt) job.on_attempt(AttemptInfo{job.id, job.attempts, 0});
  const ActionRequest& r = job.req;
  const auto* mark = r.as<MarkRequest>();

  if (mark && mark->marker.empty()) {
    // Nothing to write: the daemon records the state from the outcome.
    Fields f;
    f.set("entity", mark->entity);
    f.set("state", mark->state);
    f.set("marker", "");
    attempt_ended(job, make_success("marked '" + mark->entity + "' " + mark->state, std::move(f)));
    return;
  }

  auto result = std::make_shared<ActionOutcome>();
  std::function<void()> work;
  if (mark) {
    MarkerSpec spec{mark->marker,  "",           mark->entity, mark->state, r.rule,
                    job.cause_seq, clock_.wall()};
    work = [spec = std::move(spec), result] { *result = write_marker(spec); };
  } else if (const auto* move = r.as<MoveRequest>()) {
    MoveSpec spec{move->source, move->to, move->root, std::nullopt, r.resumed};
    work = [spec = std::move(spec), result] { *result = move_file(spec); };
  } else if (const auto* session = r.as<CompleteSessionRequest>()) {
    CompleteSessionSpec spec;
    spec.session = session->session;
    spec.to = session->to;
    spec.root = session->root;
    spec.manifest = session->manifest;
    spec.marker = session->marker;
    spec.time = clock_.wall();
    work = [spec = std::move(spec), result] { *result = complete_session(spec); };
  } else if (const auto* fail = r.as<FailSessionRequest>()) {
    FailSessionSpec spec;
    spec.session = fail->session;
    spec.to = fail->to;
    spec.root = fail->root;
    spec.manifest = fail->manifest;
    spec.marker = fail->marker;
    spec.reason = fail->reason;
    spec.time = clock_.wall();
    spec.rule = r.rule;
    spec.cause_seq = job.cause_seq;
    work = [spec = std::move(spec), result] { *result = fail_session(spec); };
  } else if (const auto* ensure = r.as<EnsureFileRequest>()) {
    EnsureFileSpec spec;
    spec.path = ensure->path;
    spec.source = ensure->source;
    spec.root = ensure->root;
    spec.keep = ensure->keep;
    spec.mode = static_cast<mode_t>(ensure->mode);
    work = [spec = std::move(spec), result] { *result = ensure_file(spec); };
  } else if (const auto* retain = r.as<RetainRequest>()) {
    RetentionSpec spec;
    spec.dir = retain->dir;
    spec.root = retain->root;
    spec.glob = retain->glob;
    spec.max_age = retain->max_age;
    spec.max_entries = static_cast<std::size_t>(retain->max_entries);
    spec.now = clock_.wall();
    work = [spec = std::move(spec), result] {
      *result = retention_outcome(spec, apply_retention(spec));
    };
  } else if (const auto* repair = r.as<RepairJsonRequest>()) {
    RepairJsonSpec spec;
    spec.source = repair->source;
    spec.to = repair->to;
    spec.root = repair->root;
    spec.quarantine = repair->quarantine;
    spec.time = clock_.wall();
    spec.rule = r.rule;
    spec.cause_seq = job.cause_seq;
    spec.resumed = r.resumed;
    work = [spec = std::move(spec), result] { *result = repair_json_file(spec); };
  } else {
    const auto& q = std::get<QuarantineRequest>(r.body);
    QuarantineNote note;
    note.reason = q.reason;
    note.time = clock_.wall();
    note.rule = r.rule;
    note.cause_seq = job.cause_seq;
    MoveSpec spec{q.source, q.to, q.root, std::move(note), r.resumed};
    work = [spec = std::move(spec), result] { *result = move_file(spec); };
  }
  on_pool(job, std::move(work), [this, result](Job& j) { attempt_ended(j, std::move(*result)); });
}

void ActionExecutor::on_pool(Job& job, std::function<void()> work, std::function<void(Job&)> then) {
  job.phase = Phase::kOnPool;
  std::weak_ptr<char> alive = alive_;
  const Id id = job.id;
  int rc = uvx::queue_work(loop_, std::move(work), [this, alive, id, then = std::move(then)] {
    if (alive.expired()) return;
    auto it = jobs_.find(id);
    if (it == jobs_.end()) return;
    then(*it->second);
  });
  if (rc != 0)
    attempt_ended(job,
                  make_failure(outcome_category::kResource,
                               std::string("cannot queue the ") + action_type_name(job.req.type()) +
                                   " on the thread pool: " + uv_strerror(rc),
                               "the daemon is out of memory or shutting down"));
}

void ActionExecutor::begin_integration(Job& job) {
  if (job.on_attempt) job.on_attempt(AttemptInfo{job.id, job.attempts, 0});
  auto start = std::make_shared<IntegrationStart>();
  IntegrateSessionSpec spec = integration_spec(job.req, job.cause_seq, clock_.wall());
  on_pool(
      job, [spec = std::move(spec), start] { *start = prepare_integration(spec); },
      [this, start](Job& j) {
        switch (start->next) {
          case IntegrationStart::Next::kDone:
            // Settled without running anything: never retried (an in-doubt
            // claim must not be run again by a retry either).
            finish(j, std::move(start->outcome));
            return;
          case IntegrationStart::Next::kFinalize:
            finish_integration_on_pool(j);
            return;
          case IntegrationStart::Next::kRun:
            j.stage = Job::Stage::kCommand;
            j.session_dir = start->session_dir;
            j.session_name = start->name;
            if (stopping_ || j.interrupted) {
              // Shutdown began while the claim was written: nothing runs, and
              // the claim is released (attempt_ended).
              attempt_ended(j, make_failure(outcome_category::kInterrupted,
                                            "integrate_session not started: agentwatch is "
                                            "shutting down",
                                            "the next start integrates the session"));
              return;
            }
            begin_run(j);
            return;
        }
      });
}

void ActionExecutor::finish_integration_on_pool(Job& job) {
  IntegrateSessionSpec spec = integration_spec(job.req, job.cause_seq, clock_.wall());
  Fields run_fields = job.last ? job.last->fields : Fields{};
  auto result = std::make_shared<ActionOutcome>();
  on_pool(
      job,
      [spec = std::move(spec), run_fields = std::move(run_fields), attempts = job.attempts,
       result] { *result = finish_integration(spec, run_fields, attempts); },
      [this, result](Job& j) {
        j.last.reset();
        // A failure here (the marker or the move) is not the command's: it is
        // not run again, whatever the retries.
        finish(j, std::move(*result));
      });
}

void ActionExecutor::attempt_ended(Job& job, ActionOutcome outcome) {
  outcome.attempts = job.attempts;
  const bool retryable = !outcome.ok && outcome.category != outcome_category::kValidation &&
                         outcome.category != outcome_category::kInterrupted;
  if (retryable && !stopping_ && !job.interrupted && job.attempts <= job.req.retry.retries) {
    std::uniform_real_distribution<double> uniform(0.0, 1.0);
    Duration delay = backoff_delay(job.req.retry, job.attempts, uniform(rng_));
    job.last = std::move(outcome);
    job.phase = Phase::kWaitingRetry;
    arm(loop_, wait_timer(job), delay);
    return;
  }
  if (job.req.as<IntegrateSessionRequest>() && job.stage == Job::Stage::kCommand) {
    // The command failed for good (or the daemon stopped it): it did not
    // integrate, so the session is not in doubt; its claim goes, and a later
    // trigger (recover fix lands its record again) may try again.
    IntegrateSessionSpec spec = integration_spec(job.req, job.cause_seq, clock_.wall());
    auto last = std::make_shared<ActionOutcome>(std::move(outcome));
    last->fields.set("session", job.session_name);
    last->fields.set("from", job.session_dir);
    last->fields.set("state", "failed");
    job.stage = Job::Stage::kClaim;
    on_pool(
        job, [spec = std::move(spec)] { release_integration(spec); },
        [this, last](Job& j) { finish(j, std::move(*last)); });
    return;
  }
  finish(job, std::move(outcome));
}

uvx::Timer& ActionExecutor::wait_timer(Job& job) {
  if (!job.wait) {
    Job* jp = &job;
    job.wait = std::make_unique<uvx::Timer>(loop_, [this, jp] { on_wait_timer(*jp); });
  }
  return *job.wait;
}

void ActionExecutor::on_wait_timer(Job& job) {
  if (job.phase == Phase::kFinishing) {
    finish_now(job);
  } else if (job.phase == Phase::kWaitingRetry) {
    begin_attempt(job);
  }
}

void ActionExecutor::finish(Job& job, ActionOutcome outcome) {
  if (outcome.attempts == 0) outcome.attempts = job.attempts;
  job.last = std::move(outcome);
  job.phase = Phase::kFinishing;
  if (inside_call_ > 0) {
    wait_timer(job).start(0);
    return;
  }
  finish_now(job);
}

void ActionExecutor::finish_now(Job& job) {
  DoneCallback done = std::move(job.on_done);
  ActionOutcome outcome = std::move(*job.last);
  // Possibly inside one of the job's own handle callbacks (its timer, its
  // child's exit): uvx wrappers and ChildProcess may be destroyed there.
  jobs_.erase(job.id);
  if (done) done(std::move(outcome));
}

void ActionExecutor::interrupt_all(Duration grace) {
  ++inside_call_;
  stopping_ = true;
  for (auto& [id, owned] : jobs_) {
    Job& job = *owned;
    job.interrupted = true;
    switch (job.phase) {
      case Phase::kRunning:
        if (!job.child) break;
        job.run.interrupted = true;
        job.child->kill_group_on_exit(true);
        job.child->kill_group(SIGTERM);
        job.stop_stage = 1;
        arm(loop_, *job.stop_timer, grace);
        break;
      case Phase::kWaitingRetry: {
        job.wait->stop();
        std::string last = job.last ? job.last->message : "";
        ActionOutcome o = make_failure(
            outcome_category::kInterrupted,
            std::string(action_type_name(job.req.type())) +
                " action interrupted by shutdown while " + "waiting to retry (after attempt " +
                std::to_string(job.attempts) + ": " + last + ")",
            "it was not retried: run it again after the daemon is back if it is still needed",
            job.last ? job.last->fields : Fields{});
        attempt_ended(job, std::move(o));  // not retried; an integration's claim is released
        break;
      }
      case Phase::kStarting:
      case Phase::kOnPool:
      case Phase::kFinishing:
        break;
    }
  }
  --inside_call_;
}

}  // namespace aw
