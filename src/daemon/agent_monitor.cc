#include "src/daemon/agent_monitor.h"

#include <algorithm>

#include "src/agents/hook_status.h"
#include "src/core/event_kinds.h"
#include "src/core/json_writer.h"

namespace aw {
namespace {

using agents::AgentStatus;
using agents::AgentTransition;
using agents::Evidence;
using agents::Observation;
using agents::Source;

// Evidence in one field: "hook: hook Notification permission_prompt (decided);
// pane: …", newest first, as the tracker keeps it.
std::string evidence_text(const std::vector<Evidence>& evidence) {
  std::string out;
  for (const Evidence& e : evidence) {
    if (!out.empty()) out += "; ";
    out += agents::source_name(e.source);
    out += ": ";
    out += e.said.empty() ? "(nothing said)" : e.said;
    if (!e.status) out += " (unknown)";
    if (e.decided) out += " (decided)";
  }
  return out;
}

void status_field(Fields& f, std::string_view key, const AgentStatus& s) {
  f.set(key, std::string(agents::state_name(s.state())));
}

void detail_fields(Fields& f, const AgentStatus& s) {
  if (auto r = s.reason()) f.set("reason", std::string(agents::wait_reason_name(*r)));
  if (auto at = s.reset_at()) f.set("reset_at", format_time_utc(*at));
  if (auto pct = s.context_pct()) f.set("context_pct", static_cast<std::int64_t>(*pct));
}

}  // namespace

AgentMonitor::AgentMonitor(uv_loop_t* loop, const Clock& clock, std::function<void(Event)> submit,
                           agents::AgentTrackerOptions options)
    : clock_(clock), submit_(std::move(submit)), options_(options) {
  timer_ = std::make_unique<uvx::Timer>(loop, [this] { on_deadline(); });
  timer_->unref();  // it decides; it must not keep a stopping daemon alive
}

AgentMonitor::Agent* AgentMonitor::agent_for_hook(const Event& e) {
  const std::string pane = e.fields.get_string("tmux_pane").value_or("");
  const std::string session_id = e.fields.get_string("session_id").value_or("");
  if (pane.empty() && session_id.empty()) return nullptr;  // nothing to know it by
  const std::string id = pane.empty() ? "session " + session_id : "pane " + pane;
  auto [it, added] = agents_.try_emplace(id);
  Agent& a = it->second;
  if (added) {
    a.id = id;
    a.pane = pane;
    a.tracker = std::make_unique<agents::AgentTracker>(options_, std::string(), clock_.mono());
    if (auto name = pane_names_.find(pane); name != pane_names_.end()) a.session = name->second;
  }
  if (auto agent = e.fields.get_string("agent")) a.agent = *agent;
  if (auto cwd = e.fields.get_string("cwd")) a.cwd = *cwd;
  return &a;
}

void AgentMonitor::observe(const Event& e) {
  if (e.kind == "agent.hook") {
    Agent* a = agent_for_hook(e);
    if (!a) return;
    agents::HookReading r = agents::read_hook(e);
    Observation o;
    o.source = Source::kHook;
    o.status = r.status;
    o.at = clock_.mono();
    o.said = std::move(r.said);
    feed(*a, o);
    return;
  }
  if (e.kind == kind::kTmuxPaneAppeared) {
    const std::string pane = e.fields.get_string("pane").value_or("");
    const std::string session = e.fields.get_string("session").value_or("");
    if (pane.empty() || session.empty()) return;
    pane_names_[pane] = session;
    if (auto it = agents_.find("pane " + pane); it != agents_.end()) it->second.session = session;
    return;
  }
  if (e.kind == kind::kTmuxPaneDied || e.kind == kind::kTmuxPaneVanished) {
    const std::string pane = e.fields.get_string("pane").value_or("");
    pane_names_.erase(pane);
    auto it = agents_.find("pane " + pane);
    if (pane.empty() || it == agents_.end()) return;
    Observation o;
    o.source = Source::kProcess;
    o.status = AgentStatus::exited();
    o.at = clock_.mono();
    o.said = std::string(e.kind) + " (tmux)";
    feed(it->second, o);
  }
}

void AgentMonitor::feed(Agent& a, const Observation& o) {
  // A deadline the timer has not served yet comes first (agent_tracker.h).
  if (auto due = a.tracker->next_deadline(); due && *due <= o.at)
    if (auto t = a.tracker->tick(o.at)) publish(a, *t);
  if (auto t = a.tracker->observe(o)) publish(a, *t);
  arm();
}

void AgentMonitor::publish(const Agent& a, const AgentTransition& t) {
  Event e;
  e.kind = std::string(kind::kAgentStatus);
  e.source = "agents";
  e.entity = a.session.empty() ? a.id : a.session;
  status_field(e.fields, "from", t.from);
  status_field(e.fields, "to", t.to);
  detail_fields(e.fields, t.to);
  e.fields.set("agent", a.agent);
  if (!a.pane.empty()) e.fields.set("pane", a.pane);
  e.fields.set("id", a.id);
  if (t.is_update()) e.fields.set("update", true);
  if (t.new_process) e.fields.set("new_process", true);
  e.fields.set("evidence", evidence_text(t.evidence));
  submit_(std::move(e));
}

void AgentMonitor::arm() {
  std::optional<MonoTime> first;
  for (const auto& [id, a] : agents_)
    if (auto due = a.tracker->next_deadline(); due && (!first || *due < *first)) first = due;
  if (!first) {
    timer_->stop();
    return;
  }
  const auto wait = std::max<Duration>(*first - clock_.mono(), Duration::zero());
  timer_->start(static_cast<std::uint64_t>(to_ms(wait)) + 1);
}

void AgentMonitor::on_deadline() {
  const MonoTime now = clock_.mono();
  for (auto& [id, a] : agents_)
    if (auto due = a.tracker->next_deadline(); due && *due <= now)
      if (auto t = a.tracker->tick(now)) publish(a, *t);
  arm();
}

std::string AgentMonitor::agents_json() const {
  std::string out = "[";
  const WallTime wall = clock_.wall();
  const MonoTime mono = clock_.mono();
  for (const auto& [id, a] : agents_) {
    if (out.size() > 1) out += ',';
    const AgentStatus& s = a.tracker->status();
    JsonObjectWriter w(out);
    w.str("id", a.id).str("agent", a.agent).str("status", agents::state_name(s.state()));
    if (auto r = s.reason()) w.str("reason", agents::wait_reason_name(*r));
    if (auto at = s.reset_at()) w.str("reset_at", format_time_utc(*at));
    if (auto pct = s.context_pct()) w.num("context_pct", *pct);
    w.str("since", format_time_utc(wall - (mono - a.tracker->since())));
    if (!a.pane.empty()) w.str("pane", a.pane);
    if (!a.session.empty()) w.str("session", a.session);
    if (!a.cwd.empty()) w.str("cwd", a.cwd);
    std::vector<Evidence> recent(a.tracker->recent().begin(), a.tracker->recent().end());
    w.str("evidence", evidence_text(recent));
    w.close();
  }
  out += ']';
  return out;
}

}  // namespace aw
