#include "src/daemon/control_api.h"

#include <signal.h>

#include <memory>
#include <utility>

#include "src/core/event_kinds.h"
#include "src/core/json_writer.h"
#include "src/core/suggest.h"
#include "src/rules/rule.h"
#include "src/state/state_event.h"

namespace aw {
namespace {

using Responder = ControlResponder;

// A boolean param; absent (or not a boolean) is false.
bool flag(const Fields& params, std::string_view key) {
  const FieldValue* v = params.find(key);
  const bool* b = v ? std::get_if<bool>(v) : nullptr;
  return b && *b;
}

std::string time_or_empty(WallTime t) {
  return t == WallTime{} ? std::string() : format_time_utc(t);
}

std::string string_array(const std::vector<std::string>& items) {
  std::string out = "[";
  for (std::size_t i = 0; i < items.size(); ++i) {
    if (i) out += ',';
    append_json_string(out, items[i]);
  }
  return out + "]";
}

std::string evidence_array(const std::vector<Evidence>& evidence) {
  std::string out = "[";
  for (std::size_t i = 0; i < evidence.size(); ++i) {
    if (i) out += ',';
    JsonObjectWriter(out)
        .str("signal", evidence[i].signal)
        .str("detail", evidence[i].detail)
        .str("time", format_time_utc(evidence[i].time))
        .close();
  }
  return out + "]";
}

std::string worker_json(const WorkerStatus& w, const EntityRecord* entity) {
  std::string out;
  JsonObjectWriter o(out);
  o.str("name", w.name).str("phase", worker_phase_name(w.phase));
  if (w.pid > 0) o.num("pid", w.pid);
  o.boolean("adopted", w.adopted)
      .num("restarts", w.restarts)
      .num("restarts_in_window", w.restarts_in_window)
      .str("circuit", circuit_state_name(w.circuit));
  if (!w.waiting_on.empty()) o.raw("waiting_on", string_array(w.waiting_on));
  if (w.next_start_in > Duration::zero()) o.num("next_start_in_ms", to_ms(w.next_start_in));
  if (!w.last_exit.empty()) o.str("last_exit", w.last_exit);
  if (!w.gave_up_reason.empty()) o.str("gave_up_reason", w.gave_up_reason);
  if (entity) o.str("state", lifecycle_state_name(entity->state));
  std::string detail = !w.gave_up_reason.empty() ? w.gave_up_reason
                       : !w.waiting_on.empty()   ? "waiting on " + w.waiting_on.front()
                       : !w.last_exit.empty()    ? "last: " + w.last_exit
                       : entity                  ? entity->reason
                                                 : std::string();
  o.str("detail", detail);
  o.close();
  return out;
}

std::string health_json(const WorkerHealth& h) {
  std::string out;
  JsonObjectWriter o(out);
  o.str("phase", worker_phase_name(h.phase));
  if (h.pid > 0) o.num("pid", h.pid);
  o.str("process", liveness_name(h.process));
  if (!h.process_evidence.empty()) o.str("process_evidence", h.process_evidence);
  o.str("session", session_presence_name(h.session));
  if (!h.tmux_session.empty()) o.str("tmux_session", h.tmux_session);
  if (auto t = time_or_empty(h.session_checked); !t.empty()) o.str("session_checked", t);
  o.str("heartbeat", heartbeat_status_name(h.heartbeat));
  if (!h.heartbeat_file.empty()) o.str("heartbeat_file", h.heartbeat_file);
  if (auto t = time_or_empty(h.heartbeat_last_growth); !t.empty())
    o.str("heartbeat_last_growth", t);
  if (!h.heartbeat_error.empty()) o.str("heartbeat_error", h.heartbeat_error);
  o.num("runtime_ms", to_ms(h.runtime))
      .num("runtime_limit_ms", to_ms(h.runtime_limit))
      .boolean("timing_out", h.timing_out);
  if (h.judged_in > Duration::zero()) o.num("judged_in_ms", to_ms(h.judged_in));
  o.num("extensions", h.extensions).num("max_extensions", h.max_extensions);
  if (h.phantom_deadline) o.str("phantom_deadline", format_time_utc(*h.phantom_deadline));
  o.raw("evidence", evidence_array(h.decisions));
  o.close();
  return out;
}

class Api {
 public:
  explicit Api(ControlContext c) : c_(std::move(c)) {}

  // The handlers share the Api; it lives as long as the server keeps them.
  static void register_all(const std::shared_ptr<Api>& self, ControlServer& s) {
    s.handle("status",
             [self](const ControlRequest&, const Responder& r) { r.ok(self->c_.status_json()); });
    s.handle("workers.list", [self](const ControlRequest&, Responder r) { self->workers_list(r); });
    s.handle("agents.list", [self](const ControlRequest&, const Responder& r) {
      r.ok(self->c_.agents_json ? self->c_.agents_json() : "[]");
    });
    for (const char* verb : {"start", "stop", "restart"})
      s.handle(std::string("workers.") + verb, [self, verb](const ControlRequest& q, Responder r) {
        self->worker_verb(q, r, verb);
      });
    s.handle("health", [self](const ControlRequest& q, Responder r) { self->health(q, r); });
    s.handle("recover.list-stuck", [self](const ControlRequest&, const Responder& r) {
      r.ok(stuck_json(self->c_.state->table().stuck(self->c_.clock->wall(), self->c_.stuck)));
    });
    s.handle("recover.diagnose", [self](const ControlRequest&, const Responder& r) {
      r.ok(problems_json(diagnose(self->diagnosis_input())));
    });
    s.handle("recover.reset", [self](const ControlRequest& q, Responder r) { self->reset(q, r); });
    s.handle("recover.kill-zombie",
             [self](const ControlRequest& q, Responder r) { self->kill_zombie(q, r); });
    s.handle("trigger", [self](const ControlRequest& q, Responder r) { self->trigger(q, r); });
    s.handle("recover.fix",
             [self](const ControlRequest& q, Responder r) { self->record_fix(q, r); });
  }

 private:
  Supervisor* supervisor() const { return c_.supervisor ? c_.supervisor() : nullptr; }

  // The audit record of a request that changes something.
  void audit(const ControlRequest& q, const std::string& target, const char* outcome,
             const std::string& message, Fields extra = {}) {
    Event e;
    e.kind = std::string(kind::kControlPrefix) + q.method;
    e.source = "control";
    e.entity = target;
    e.fields = std::move(extra);
    e.fields.set("uid", static_cast<std::int64_t>(q.peer.uid));
    e.fields.set("peer_pid", static_cast<std::int64_t>(q.peer.pid));
    e.fields.set("outcome", outcome);
    if (!message.empty()) e.fields.set("message", message);
    c_.pipeline->submit(std::move(e));
  }

  void refuse(const ControlRequest& q, Responder& r, const std::string& target,
              ControlErrorCode code, const std::string& text) {
    audit(q, target, control_error_code_name(code), text);
    r.fail(code, text);
  }

  static std::optional<std::string> required(const ControlRequest& q, Responder& r,
                                             const char* key) {
    auto v = q.params.get_string(key);
    if (!v || v->empty()) {
      r.fail(ControlErrorCode::kBadRequest, std::string("params.") + key + " is required");
      return std::nullopt;
    }
    return std::string(*v);
  }

  DiagnosisInput diagnosis_input() {
    DiagnosisInput in = c_.diagnosis_input ? c_.diagnosis_input() : DiagnosisInput{};
    in.table = &c_.state->table();
    in.now = c_.clock->wall();
    in.thresholds = c_.stuck;
    in.daemon_running = true;
    in.live = true;
    if (Supervisor* s = supervisor())
      for (const WorkerStatus& w : s->list())
        in.workers.push_back(
            {w.name, worker_phase_name(w.phase), circuit_state_name(w.circuit), w.gave_up_reason});
    return in;
  }

  void workers_list(Responder& r) {
    std::string out = "[";
    if (Supervisor* s = supervisor()) {
      bool first = true;
      for (const WorkerStatus& w : s->list()) {
        if (!first) out += ',';
        first = false;
        out += worker_json(w, c_.state->table().get(w.name));
      }
    }
    r.ok(out + "]");
  }

  void worker_verb(const ControlRequest& q, Responder& r, const char* verb) {
    auto name = required(q, r, "name");
    if (!name) return;
    Supervisor* s = supervisor();
    if (!s) return refuse(q, r, *name, ControlErrorCode::kNotFound, "no workers are declared");
    const std::string v = verb;
    Status st = v == "start" ? s->start(*name) : v == "stop" ? s->stop(*name) : s->restart(*name);
    if (!st) {
      const bool unknown = !s->status(*name);
      return refuse(q, r, *name, unknown ? ControlErrorCode::kNotFound : ControlErrorCode::kRefused,
                    st.error().message);
    }
    const std::string message = v + " requested";
    audit(q, *name, "ok", message);
    std::string out;
    JsonObjectWriter(out).str("name", *name).str("message", message).close();
    r.ok(out);
  }

  void health(const ControlRequest& q, Responder& r) {
    auto id = required(q, r, "id");
    if (!id) return;
    const EntityRecord* entity = c_.state->table().get(*id);
    std::optional<WorkerHealth> worker;
    if (Supervisor* s = supervisor()) worker = s->health(*id);
    if (!entity && !worker) {
      std::vector<std::string> names;
      for (const EntityRecord* e : c_.state->table().list()) names.push_back(e->id);
      std::vector<std::string_view> views(names.begin(), names.end());
      return r.fail(ControlErrorCode::kNotFound,
                    "no worker or entity \"" + *id + "\"" + did_you_mean(*id, views));
    }
    std::string out;
    JsonObjectWriter o(out);
    o.str("id", *id).boolean("live", true);
    if (worker) o.raw("worker", health_json(*worker));
    if (entity) o.raw("entity", entity_json(*entity));
    o.close();
    r.ok(out);
  }

  // `agentwatch recover fix` applied a fix on disk (src/recover/session_doctor.h):
  // the daemon, the one writer of the event log, records it with who ran it.
  void record_fix(const ControlRequest& q, Responder& r) {
    if (!required(q, r, "subject")) return;
    Fields f;
    for (const char* k : {"problem", "id", "subject", "fix", "action", "result", "user"})
      if (auto v = q.params.get_string(k)) f.set(k, std::string(*v));
    f.set("fixed", flag(q.params, "fixed"));
    audit(q, q.params.get_string("entity").value_or(""), "ok", "", std::move(f));
    r.ok("{\"recorded\":true}");
  }

  void reset(const ControlRequest& q, Responder& r) {
    auto id = required(q, r, "id");
    if (!id) return;
    const bool force = flag(q.params, "force");
    EntityTable& table = c_.state->table();
    const EntityRecord* rec = table.get(*id);
    if (!rec) return refuse(q, r, *id, ControlErrorCode::kNotFound, "no entity \"" + *id + "\"");
    const std::string from(lifecycle_state_name(rec->state));
    auto change =
        table.recover_reset(*id, {static_cast<std::uint32_t>(q.peer.uid), force}, c_.clock->wall());
    if (!change) return refuse(q, r, *id, ControlErrorCode::kRefused, change.error().message);
    c_.state->schedule_commit();
    c_.pipeline->submit(state_changed_event(*change));
    Fields f;
    f.set("from", from);
    f.set("to", "queued");
    f.set("force", force);
    audit(q, *id, "ok", "", std::move(f));
    std::string out;
    JsonObjectWriter(out).str("id", *id).str("from", from).str("to", "queued").close();
    r.ok(out);
  }

  void kill_zombie(const ControlRequest& q, Responder& r) {
    auto id = required(q, r, "id");
    if (!id) return;
    Supervisor* s = supervisor();
    const WorkerSpec* spec = c_.worker_spec ? c_.worker_spec(*id) : nullptr;
    if (!s || !spec)
      return refuse(q, r, *id, ControlErrorCode::kNotFound,
                    "no worker \"" + *id + "\": only a worker's process can be killed");
    const EntityRecord* rec = c_.state->table().get(*id);
    const bool force = flag(q.params, "force");
    if (!force && (!rec || rec->state != LifecycleState::kZombie))
      return refuse(q, r, *id, ControlErrorCode::kRefused,
                    *id + " is not a zombie (" +
                        (rec ? std::string(lifecycle_state_name(rec->state)) : "no state") +
                        "); `workers stop` stops a healthy worker");
    Status st = s->kill(*id, SIGTERM, spec->kill_grace,
                        "recover kill-zombie by uid " + std::to_string(q.peer.uid));
    if (!st) return refuse(q, r, *id, ControlErrorCode::kRefused, st.error().message);
    const std::string message =
        "TERM sent; KILL after " + std::to_string(to_ms(spec->kill_grace)) + " ms";
    audit(q, *id, "ok", message);
    std::string out;
    JsonObjectWriter(out).str("id", *id).str("message", message).close();
    r.ok(out);
  }

  void trigger(const ControlRequest& q, Responder& r) {
    auto name = required(q, r, "rule");
    if (!name) return;
    const auto& rules = c_.pipeline->rules();
    const Rule* rule = rules ? rules->find(*name) : nullptr;
    if (!rule) {
      std::vector<std::string_view> names;
      if (rules)
        for (const Rule& x : rules->rules()) names.push_back(x.name);
      return refuse(q, r, *name, ControlErrorCode::kNotFound,
                    "no rule \"" + *name + "\"" + did_you_mean(*name, names));
    }
    if (!can_trigger(*rule))
      return refuse(q, r, *name, ControlErrorCode::kRefused,
                    "rule \"" + *name + "\" has no `every` and does not listen to " +
                        std::string(kind::kTimerFired) + ": nothing would run");
    // A scheduled rule is triggered through its scheduler, so the run counts
    // as its last run (the next one is a period away); any other rule that
    // listens to timer.fired gets the event directly.
    TimerScheduler* scheduler = c_.scheduler ? c_.scheduler() : nullptr;
    const std::uint64_t seq = c_.pipeline->next_seq();
    if (rule->schedule && scheduler) {
      if (Status s = scheduler->trigger(*name); !s)
        return refuse(q, r, *name, ControlErrorCode::kFailed, s.error().message);
    } else {
      Event e = timer_fired_event(*name, FireReason::kTrigger, c_.clock->wall());
      c_.pipeline->submit(std::move(e));
    }
    audit(q, *name, "ok", "");
    std::string out;
    JsonObjectWriter(out).str("rule", *name).unum("seq", seq).close();
    r.ok(out);
  }

  ControlContext c_;
};

}  // namespace

void register_control_handlers(ControlServer& server, ControlContext context) {
  Api::register_all(std::make_shared<Api>(std::move(context)), server);
}

}  // namespace aw
