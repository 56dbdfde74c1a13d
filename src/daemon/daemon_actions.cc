#include "src/daemon/daemon_actions.h"

#include <signal.h>

#include <algorithm>
#include <utility>

#include "src/actions/retention.h"
#include "src/actions/rotate_file.h"
#include "src/core/event_kinds.h"
#include "src/uvx/handle.h"

namespace aw {
namespace {

namespace cat = outcome_category;

ActionOutcome success(std::string message, Fields fields = {}) {
  ActionOutcome o;
  o.ok = true;
  o.category = cat::kOk;
  o.message = std::move(message);
  o.fields = std::move(fields);
  o.attempts = 1;
  return o;
}

ActionOutcome failure(const char* category, std::string message, std::string suggestion = {}) {
  ActionOutcome o;
  o.ok = false;
  o.category = category;
  o.message = std::move(message);
  o.suggestion = std::move(suggestion);
  o.attempts = 1;
  return o;
}

// A supervisor refusal: an unknown worker is the rule's mistake (validation),
// anything else (already stopped, nothing running) the state of the world.
ActionOutcome supervisor_refusal(const Supervisor& s, const std::string& worker,
                                 const Error& error) {
  if (!s.status(worker))
    return failure(cat::kValidation, error.message,
                   "the rule names a worker that is not declared in agentwatch.toml");
  return failure(cat::kExecution, error.message);
}

}  // namespace

DaemonActions::DaemonActions(uv_loop_t* loop, const Clock& clock, Pipeline& pipeline,
                             TmuxClient& tmux)
    : loop_(loop),
      clock_(clock),
      pipeline_(pipeline),
      tmux_(loop, clock, tmux),
      probes_(loop, clock) {}

DaemonActions::~DaemonActions() {
  for (ActionType t :
       {ActionType::kKill, ActionType::kRestart, ActionType::kTmux, ActionType::kRotate,
        ActionType::kProbe, ActionType::kRetain, ActionType::kCheckDisk})
    pipeline_.set_action_handler(t, nullptr);
}

void DaemonActions::install() {
  // The pipeline calls a handler only with requests of the type it was set for.
  pipeline_.set_action_handler(ActionType::kKill,
                               [this](const ActionRequest& r, const Event&, const Done& done) {
                                 kill(r, std::get<KillRequest>(r.body), done);
                               });
  pipeline_.set_action_handler(ActionType::kRestart,
                               [this](const ActionRequest& r, const Event&, const Done& done) {
                                 restart(std::get<RestartRequest>(r.body), done);
                               });
  pipeline_.set_action_handler(ActionType::kTmux,
                               [this](const ActionRequest& r, const Event&, Done done) {
                                 tmux(std::get<TmuxRequest>(r.body), std::move(done));
                               });
  pipeline_.set_action_handler(ActionType::kRotate,
                               [this](const ActionRequest& r, const Event&, Done done) {
                                 rotate(std::get<RotateRequest>(r.body), std::move(done));
                               });
  pipeline_.set_action_handler(ActionType::kProbe,
                               [this](const ActionRequest& r, const Event& cause, Done done) {
                                 probe(r, std::get<ProbeRequest>(r.body), cause, std::move(done));
                               });
  pipeline_.set_action_handler(ActionType::kRetain,
                               [this](const ActionRequest& r, const Event& cause, Done done) {
                                 retain(r, std::get<RetainRequest>(r.body), cause, std::move(done));
                               });
  pipeline_.set_action_handler(ActionType::kCheckDisk,
                               [this](const ActionRequest&, const Event& cause, Done done) {
                                 check_disk(cause, std::move(done));
                               });
}

void DaemonActions::retain(const ActionRequest& req, const RetainRequest& r, const Event& cause,
                           Done done) {
  Done finish = tracked(std::move(done));
  RetentionSpec spec;
  spec.dir = r.dir;
  spec.root = r.root;
  spec.glob = r.glob;
  spec.max_age = r.max_age;
  spec.max_entries = static_cast<std::size_t>(r.max_entries);
  spec.now = clock_.wall();
  auto result = std::make_shared<Result<RetentionResult>>(make_error("not run"));
  const std::uint64_t cause_seq = cause.seq;
  const std::uint32_t depth = cause.depth;
  const std::string rule = req.rule;
  const int rc = uvx::queue_work(
      loop_, [result, spec] { *result = apply_retention(spec); },
      [this, result, spec, finish, cause_seq, depth, rule, alive = std::weak_ptr<char>(alive_)] {
        if (alive.expired()) return;
        // Every deletion in the event log, with its size and age, before the
        // outcome that sums them up.
        if (result->ok()) {
          for (const RetainedDeletion& d : (*result)->deleted) {
            Event e;
            e.kind = kind::kRetentionDeleted;
            e.source = "action";
            e.path = d.path;
            e.cause = cause_seq;
            e.depth = depth + 1;
            e.rule = rule;
            e.fields.set("bytes", static_cast<std::int64_t>(d.bytes));
            e.fields.set("age_s",
                         static_cast<std::int64_t>(
                             std::chrono::duration_cast<std::chrono::seconds>(d.age).count()));
            e.fields.set("directory", d.directory);
            pipeline_.submit(std::move(e));
          }
        }
        finish(retention_outcome(spec, *result));
      });
  if (rc != 0)
    finish(failure(cat::kResource, "retain: cannot queue work: " + std::string(uv_strerror(rc))));
}

void DaemonActions::check_disk(const Event& cause, Done done) {
  if (!disk_monitor_) return done(failure(cat::kValidation, "check_disk: nothing is watched"));
  Done finish = tracked(std::move(done));
  disk_monitor_->check_all(&cause, [finish](int low, int checked) {
    Fields f;
    f.set("checked", static_cast<std::int64_t>(checked));
    f.set("low", static_cast<std::int64_t>(low));
    finish(success("checked " + std::to_string(checked) +
                       " watched filesystems: " + std::to_string(low) + " low on space",
                   std::move(f)));
  });
}

DaemonActions::Done DaemonActions::tracked(Done done) {
  ++in_flight_;
  return [this, done = std::move(done), alive = std::weak_ptr<char>(alive_)](ActionOutcome o) {
    if (alive.expired()) return;
    --in_flight_;
    done(std::move(o));
  };
}

void DaemonActions::kill(const ActionRequest& req, const KillRequest& r, const Done& done) {
  if (!supervisor_)
    return done(failure(cat::kValidation, "kill: no workers are declared",
                        "declare the worker with [[worker]] in agentwatch.toml"));
  const std::string reason = r.reason.empty() ? "rule " + req.rule : r.reason;
  Status s = supervisor_->kill(r.worker, r.signal, r.grace, reason);
  if (!s) return done(supervisor_refusal(*supervisor_, r.worker, s.error()));
  Fields f;
  f.set("worker", r.worker);
  f.set("signal", static_cast<std::int64_t>(r.signal));
  f.set("grace_ms", to_ms(r.grace));
  done(success("signal " + std::to_string(r.signal) + " sent to worker " + r.worker, std::move(f)));
}

void DaemonActions::restart(const RestartRequest& r, const Done& done) {
  if (!supervisor_)
    return done(failure(cat::kValidation, "restart: no workers are declared",
                        "declare the worker with [[worker]] in agentwatch.toml"));
  Status s = supervisor_->restart(r.worker);
  if (!s) return done(supervisor_refusal(*supervisor_, r.worker, s.error()));
  Fields f;
  f.set("worker", r.worker);
  done(success("restart of worker " + r.worker + " requested", std::move(f)));
}

void DaemonActions::tmux(const TmuxRequest& r, Done done) {
  Done finish = tracked(std::move(done));
  Fields f;
  f.set("session", r.session);
  f.set("op", tmux_op_name(r.op));
  auto report = [finish, f, what = std::string(tmux_op_name(r.op)) + " tmux session " + r.session](
                    const Status& s) mutable {
    if (s)
      finish(success(what, std::move(f)));
    else
      finish(failure(s.error().code == -ETIMEDOUT ? cat::kTimeout : cat::kExecution,
                     s.error().message));
  };
  switch (r.op) {
    case TmuxOp::kOpen: {
      OpenSession o;
      o.session = r.session;
      o.cwd = r.cwd;
      o.argv = r.argv;
      o.env = r.env;
      o.brief = r.brief;
      o.submit = r.submit;
      o.keys = r.keys;
      o.wait_for = r.wait_for;
      if (r.ready_timeout > Duration::zero()) o.ready_timeout = r.ready_timeout;
      tmux_.open_session(std::move(o), std::move(report));
      return;
    }
    case TmuxOp::kSend:
      tmux_.send({r.session, r.brief, r.submit, r.keys}, std::move(report));
      return;
    case TmuxOp::kKill:
      tmux_.kill_session(r.session, std::move(report));
      return;
  }
}

void DaemonActions::rotate(const RotateRequest& r, Done done) {
  Done finish = tracked(std::move(done));
  RotatePolicy policy;
  policy.max_size = r.max_size;
  policy.max_age = r.max_age;
  policy.keep = r.keep;
  policy.compress = r.compress;
  policy.method =
      r.method == RotateMethod::kCopyTruncate ? RotatePolicy::kCopyTruncate : RotatePolicy::kRename;
  auto result = std::make_shared<Result<RotateResult>>(make_error("not run"));
  const std::string path = r.path;
  const WallTime now = clock_.wall();
  const int rc = uvx::queue_work(
      loop_, [result, path, policy, now] { *result = rotate_file(path, policy, now); },
      [result, path, finish] { finish(rotate_outcome(path, *result)); });
  if (rc != 0)
    finish(failure(cat::kResource, "rotate: cannot queue work: " + std::string(uv_strerror(rc))));
}

void DaemonActions::probe(const ActionRequest& req, const ProbeRequest& r, const Event& cause,
                          Done done) {
  // A queue-status command slower than its period must not pile up copies.
  if (probes_.busy(req.rule))
    return done(failure(cat::kExecution,
                        "probe skipped: the previous run of rule " + req.rule + " is still going",
                        "raise the rule's `every` or lower the probe's `timeout`"));
  Done finish = tracked(std::move(done));
  ProbeSpec spec;
  spec.rule = req.rule;
  spec.argv = r.argv;
  spec.cwd = r.cwd;
  spec.env = r.env;
  if (req.timeout > Duration::zero()) spec.timeout = req.timeout;
  spec.max_output = r.max_output;
  for (const auto& p : r.patterns) spec.patterns.push_back({p.match, p.kind});
  const std::uint64_t cause_seq = cause.seq;
  const std::uint32_t depth = cause.depth;
  auto id = std::make_shared<ProbeRunner::RunId>(0);
  *id = probes_.run(
      spec,
      [this, cause_seq, depth](Event e) {
        e.cause = cause_seq;
        e.depth = depth + 1;
        pipeline_.submit(std::move(e));
      },
      [this, id, finish](ProbeOutcome o) {
        probe_runs_.erase(std::remove(probe_runs_.begin(), probe_runs_.end(), *id),
                          probe_runs_.end());
        Fields f;
        f.set("exit_code", static_cast<std::int64_t>(o.exit_code));
        f.set("lines", static_cast<std::int64_t>(o.lines));
        f.set("matched", static_cast<std::int64_t>(o.matched));
        f.set("events", static_cast<std::int64_t>(o.events));
        f.set("wall_ms", to_ms(o.wall));
        if (o.truncated) f.set("truncated", true);
        if (!o.stderr_tail.empty()) f.set("stderr_tail", o.stderr_tail);
        if (o.ok) {
          finish(success("probe ran: " + std::to_string(o.events) + " events from " +
                             std::to_string(o.lines) + " lines",
                         std::move(f)));
          return;
        }
        ActionOutcome fail = failure(o.timed_out              ? cat::kTimeout
                                     : o.error == "cancelled" ? cat::kInterrupted
                                                              : cat::kExecution,
                                     "probe: " + o.error);
        fail.fields = std::move(f);
        finish(std::move(fail));
      });
  probe_runs_.push_back(*id);
}

void DaemonActions::interrupt_all() {
  const auto runs = probe_runs_;
  for (auto id : runs) probes_.cancel(id);
}

}  // namespace aw
