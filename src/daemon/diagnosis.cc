#include "src/daemon/diagnosis.h"

#include "src/core/duration.h"
#include "src/core/event.h"
#include "src/core/json_writer.h"

namespace aw {

const char* severity_name(Problem::Severity s) {
  return s == Problem::Severity::kError ? "error" : "warning";
}

std::vector<Problem> diagnose(const DiagnosisInput& in) {
  std::vector<Problem> out;
  auto add = [&](Problem::Severity sev, std::string subject, std::string what, std::string hint) {
    out.push_back({sev, std::move(subject), std::move(what), std::move(hint)});
  };
  if (!in.daemon_running)
    add(Problem::Severity::kError, "daemon", "agentwatch is not running: nothing is being watched",
        "start it: agentwatch run (or systemctl --user start agentwatch)");
  for (const StuckEntity& s : in.table->stuck(in.now, in.thresholds)) {
    add(Problem::Severity::kError, s.id,
        std::string(lifecycle_state_name(s.state)) + " for " + format_duration(s.age),
        s.state == LifecycleState::kZombie
            ? "agentwatch recover kill-zombie " + s.id
            : "agentwatch health " + s.id + ", then agentwatch recover reset " + s.id);
  }
  for (const WorkerSummary& w : in.workers) {
    if (w.phase == "gave_up")
      add(Problem::Severity::kError, w.name, "restart budget spent: " + w.gave_up_reason,
          "fix the cause, then agentwatch workers start " + w.name);
    else if (w.circuit == "open")
      add(Problem::Severity::kWarning, w.name, "circuit open after repeated quick failures",
          "agentwatch events --entity " + w.name + " --failed");
  }
  if (!in.degraded_reason.empty())
    add(Problem::Severity::kError, "watching", "degraded: " + in.degraded_reason,
        "raise fs.inotify.max_user_watches or watch fewer directories");
  if (!in.tmux_error.empty())
    add(Problem::Severity::kError, "tmux",
        "the tmux server cannot be asked, so its sessions are unknown (no zombie or phantom is "
        "judged until it answers): " +
            in.tmux_error,
        "check [tmux] command and that its socket is visible to the daemon (a private /tmp hides "
        "it; see docs/tmux.md)");
  if (!in.rules_error.empty())
    add(Problem::Severity::kError, "rules", "the last reload was rejected: " + in.rules_error,
        "agentwatch rules check");
  if (!in.store_report.empty())
    add(Problem::Severity::kWarning, "lifecycle store", in.store_report, "");
  if (in.daemon_running && in.spooled_notifications > 0)
    add(Problem::Severity::kWarning, "notify",
        std::to_string(in.spooled_notifications) + " notifications waiting in the spool",
        "the running daemon takes them in as they arrive; if they stay, see its log");
  return out;
}

std::string problems_json(const std::vector<Problem>& problems) {
  std::string out = "[";
  for (std::size_t i = 0; i < problems.size(); ++i) {
    if (i) out += ',';
    const Problem& p = problems[i];
    JsonObjectWriter w(out);
    w.str("severity", severity_name(p.severity)).str("subject", p.subject).str("what", p.what);
    if (!p.hint.empty()) w.str("hint", p.hint);
    w.close();
  }
  return out + "]";
}

std::string stuck_json(const std::vector<StuckEntity>& stuck) {
  std::string out = "[";
  for (std::size_t i = 0; i < stuck.size(); ++i) {
    if (i) out += ',';
    JsonObjectWriter(out)
        .str("id", stuck[i].id)
        .str("kind", entity_kind_name(stuck[i].kind))
        .str("state", lifecycle_state_name(stuck[i].state))
        .str("since", format_time_utc(stuck[i].since))
        .num("age_ms", to_ms(stuck[i].age))
        .close();
  }
  return out + "]";
}

std::string entity_json(const EntityRecord& r) {
  std::string evidence = "[";
  for (std::size_t i = 0; i < r.evidence.size(); ++i) {
    if (i) evidence += ',';
    JsonObjectWriter(evidence)
        .str("signal", r.evidence[i].signal)
        .str("detail", r.evidence[i].detail)
        .str("time", format_time_utc(r.evidence[i].time))
        .close();
  }
  evidence += "]";
  std::string attrs;
  JsonObjectWriter a(attrs);
  for (const auto& [k, v] : r.attrs) a.str(k, v);
  a.close();
  std::string out;
  JsonObjectWriter(out)
      .str("id", r.id)
      .str("kind", entity_kind_name(r.kind))
      .str("state", lifecycle_state_name(r.state))
      .str("since", format_time_utc(r.since))
      .str("reason", r.reason)
      .unum("run", r.run)
      .raw("evidence", evidence)
      .raw("attrs", attrs)
      .close();
  return out;
}

}  // namespace aw
