#include "src/supervise/supervisor_events.h"

#include "src/core/event_kinds.h"

namespace aw::supervisor_events {

namespace {

std::int64_t ms(Duration d) {
  return to_ms(d);
}
std::int64_t num(std::int64_t n) {
  return n;
}

}  // namespace

Event base(std::string_view kind, const std::string& worker, WallTime now) {
  Event e;
  e.kind = std::string(kind);
  e.source = "supervisor";
  e.time = now;
  e.entity = worker;
  return e;
}

Event store_error(const std::string& worker, WallTime now, std::string_view key,
                  const std::string& error) {
  Event e = base(kind::kSupervisorStoreError, worker, now);
  e.fields.set("key", std::string(key));
  e.fields.set("error", error);
  return e;
}

Event started(const std::string& worker, WallTime now, pid_t pid, int attempt,
              const std::string& identity, bool half_open_trial) {
  Event e = base(kind::kWorkerStarted, worker, now);
  e.fields.set("pid", num(pid));
  e.fields.set("attempt", num(attempt));
  e.fields.set("identity", identity);
  if (half_open_trial) e.fields.set("circuit", "half-open");
  return e;
}

Event spawn_failed(const std::string& worker, WallTime now, int attempt, const std::string& error) {
  Event e = base(kind::kWorkerSpawnFailed, worker, now);
  e.fields.set("attempt", num(attempt));
  e.fields.set("error", error);
  return e;
}

Event exited(const std::string& worker, WallTime now, const ProcessEnd& end, bool by_us,
             const std::string& killed_for, bool adopted, int attempt) {
  Event e = base(kind::kWorkerExited, worker, now);
  e.fields.set("pid", num(end.pid));
  if (end.status_known && end.exited) e.fields.set("exit_code", num(end.exit_code));
  if (end.status_known && !end.exited) e.fields.set("signal", num(end.term_signal));
  if (!end.status_known) e.fields.set("status", "unknown");
  e.fields.set("wall_ms", ms(end.wall));
  if (end.child) {
    e.fields.set("user_ms", ms(end.user_cpu));
    e.fields.set("sys_ms", ms(end.sys_cpu));
    e.fields.set("max_rss_kb", end.max_rss_kb);
  }
  e.fields.set("by_us", by_us || !killed_for.empty());
  if (!killed_for.empty()) e.fields.set("killed_for", killed_for);
  e.fields.set("adopted", adopted);
  e.fields.set("attempt", num(attempt));
  if (!end.stderr_tail.empty()) e.fields.set("stderr_tail", end.stderr_tail);
  e.fields.set("evidence", format_evidence(end.evidence));
  return e;
}

Event restart_scheduled(const std::string& worker, WallTime now, Duration delay, int attempt,
                        int restarts, int max_restarts, const std::string& reason) {
  Event e = base(kind::kWorkerRestartScheduled, worker, now);
  e.fields.set("delay_ms", ms(delay));
  e.fields.set("attempt", num(attempt));
  e.fields.set("restarts", num(restarts));
  e.fields.set("max_restarts", num(max_restarts));
  e.fields.set("reason", reason);
  return e;
}

Event circuit_open(const std::string& worker, WallTime now, WallTime until, Duration delay,
                   int attempt, const std::string& reason) {
  Event e = base(kind::kWorkerCircuitOpen, worker, now);
  e.fields.set("until", format_time_utc(until));
  e.fields.set("delay_ms", ms(delay));
  e.fields.set("attempt", num(attempt));
  e.fields.set("reason", reason);
  return e;
}

Event circuit_closed(const std::string& worker, WallTime now, Duration uptime) {
  Event e = base(kind::kWorkerCircuitClosed, worker, now);
  e.fields.set("uptime_ms", ms(uptime));
  return e;
}

Event waiting(const std::string& worker, WallTime now, const std::string& deps, bool after_exit) {
  Event e = base(kind::kWorkerWaiting, worker, now);
  e.fields.set("deps", deps);
  e.fields.set("after_exit", after_exit);
  return e;
}

Event gave_up(const std::string& worker, WallTime now, const std::string& reason, int restarts,
              std::int64_t total_restarts, const std::string& last_exit) {
  Event e = base(kind::kWorkerGaveUp, worker, now);
  e.fields.set("reason", reason);
  e.fields.set("restarts", num(restarts));
  e.fields.set("total_restarts", total_restarts);
  e.fields.set("last_exit", last_exit);
  return e;
}

Event stopped(const std::string& worker, WallTime now, std::optional<std::string_view> was) {
  Event e = base(kind::kWorkerStopped, worker, now);
  if (was) e.fields.set("was", std::string(*was));
  return e;
}

Event kill_escalated(const std::string& worker, WallTime now, pid_t pid, Duration grace) {
  Event e = base(kind::kWorkerKillEscalated, worker, now);
  e.fields.set("pid", num(pid));
  e.fields.set("grace_ms", ms(grace));
  return e;
}

Event killing(const std::string& worker, WallTime now, pid_t pid, int signal, Duration grace,
              const std::string& reason, std::string_view was, const EvidenceList& evidence) {
  Event e = base(kind::kWorkerKilling, worker, now);
  e.fields.set("pid", num(pid));
  e.fields.set("signal", num(signal));
  e.fields.set("grace_ms", ms(grace));
  e.fields.set("reason", reason);
  e.fields.set("was", std::string(was));
  e.fields.set("evidence", format_evidence(evidence));
  return e;
}

Event adopted(const std::string& worker, WallTime now, pid_t pid, const std::string& identity,
              std::string_view via, Liveness liveness, const EvidenceList& evidence) {
  Event e = base(kind::kWorkerAdopted, worker, now);
  e.fields.set("pid", num(pid));
  e.fields.set("identity", identity);
  e.fields.set("via", std::string(via));
  e.fields.set("liveness", liveness_name(liveness));
  e.fields.set("evidence", format_evidence(evidence));
  return e;
}

Event lost(const std::string& worker, WallTime now, pid_t pid, const std::string& identity,
           Liveness liveness, const EvidenceList& evidence) {
  Event e = base(kind::kWorkerLost, worker, now);
  e.fields.set("pid", num(pid));
  e.fields.set("identity", identity);
  e.fields.set("liveness", liveness_name(liveness));
  e.fields.set("evidence", format_evidence(evidence));
  return e;
}

Event released(const std::string& worker, WallTime now, pid_t pid, const std::string& output) {
  Event e = base(kind::kWorkerReleased, worker, now);
  e.fields.set("pid", num(pid));
  if (!output.empty()) e.fields.set("output", output);
  return e;
}

Event adopt_failed(const std::string& worker, WallTime now, pid_t pid, std::string_view via,
                   Liveness liveness, const EvidenceList& evidence) {
  Event e = base(kind::kWorkerAdoptFailed, worker, now);
  e.fields.set("pid", num(pid));
  e.fields.set("via", std::string(via));
  e.fields.set("liveness", liveness_name(liveness));
  e.fields.set("evidence", format_evidence(evidence));
  return e;
}

Event pid_file_unreadable(const std::string& worker, WallTime now, const std::string& path,
                          const std::string& error) {
  Event e = base(kind::kWorkerAdoptFailed, worker, now);
  e.fields.set("via", "pid_file");
  e.path = path;
  e.fields.set("error", error);
  return e;
}

Event pid_file_gone(const std::string& worker, WallTime now, const std::string& path, pid_t pid,
                    const EvidenceList& evidence) {
  Event e = base(kind::kWorkerAdoptFailed, worker, now);
  e.fields.set("pid", num(pid));
  e.fields.set("via", "pid_file");
  e.path = path;
  e.fields.set("liveness", liveness_name(Liveness::kAbsent));
  e.fields.set("evidence", format_evidence(evidence));
  return e;
}

Event pid_file_refused(const std::string& worker, WallTime now, const std::string& path, pid_t pid,
                       const std::string& reason, const EvidenceList& evidence) {
  Event e = base(kind::kWorkerAdoptRefused, worker, now);
  e.fields.set("via", "pid_file");
  e.path = path;
  e.fields.set("pid", num(pid));
  e.fields.set("reason", reason);
  e.fields.set("error", "not adopting pid " + std::to_string(pid) + ": " + reason);
  if (!evidence.empty()) e.fields.set("evidence", format_evidence(evidence));
  return e;
}

Event pid_file_removed(const std::string& worker, WallTime now, const std::string& path,
                       std::optional<pid_t> pid) {
  Event e = base(kind::kWorkerPidFileRemoved, worker, now);
  e.path = path;
  e.fields.set("running", pid.has_value());
  if (pid) e.fields.set("pid", num(*pid));
  return e;
}

Event timing_out(const std::string& worker, WallTime now, pid_t pid, Duration runtime,
                 Duration limit, Duration grace, int extensions, int max_extensions,
                 std::string_view heartbeat, const EvidenceList& evidence) {
  Event e = base(kind::kWorkerTimingOut, worker, now);
  e.fields.set("pid", num(pid));
  e.fields.set("runtime_ms", ms(runtime));
  e.fields.set("limit_ms", ms(limit));
  e.fields.set("grace_ms", ms(grace));
  e.fields.set("extensions", num(extensions));
  e.fields.set("max_extensions", num(max_extensions));
  e.fields.set("heartbeat", std::string(heartbeat));
  e.fields.set("evidence", format_evidence(evidence));
  return e;
}

Event extended(const std::string& worker, WallTime now, pid_t pid, int extensions,
               int max_extensions, Duration runtime, Duration next_deadline,
               const std::string& progress) {
  Event e = base(kind::kWorkerExtended, worker, now);
  e.fields.set("pid", num(pid));
  e.fields.set("extensions", num(extensions));
  e.fields.set("max_extensions", num(max_extensions));
  e.fields.set("runtime_ms", ms(runtime));
  e.fields.set("next_deadline_ms", ms(next_deadline));
  e.fields.set("progress", progress);
  return e;
}

Event heartbeat_lost(const std::string& worker, WallTime now, const std::string& file,
                     const std::string& last_growth, Duration timeout, std::int64_t size) {
  Event e = base(kind::kWorkerHeartbeatLost, worker, now);
  e.fields.set("file", file);
  e.fields.set("last_growth", last_growth);
  e.fields.set("timeout_ms", ms(timeout));
  e.fields.set("size", size);
  return e;
}

Event heartbeat_resumed(const std::string& worker, WallTime now, const std::string& file,
                        const std::string& last_growth, Duration stale, std::int64_t size) {
  Event e = base(kind::kWorkerHeartbeatResumed, worker, now);
  e.fields.set("file", file);
  e.fields.set("last_growth", last_growth);
  e.fields.set("stale_ms", ms(stale));
  e.fields.set("size", size);
  return e;
}

Event heartbeat_unknown(const std::string& worker, WallTime now, const std::string& file,
                        const std::string& error) {
  Event e = base(kind::kWorkerHeartbeatUnknown, worker, now);
  e.fields.set("file", file);
  e.fields.set("heartbeat", "unknown");
  e.fields.set("error", error);
  return e;
}

Event zombie(const std::string& worker, WallTime now, pid_t pid, const std::string& session,
             const EvidenceList& evidence) {
  Event e = base(kind::kWorkerZombie, worker, now);
  e.fields.set("pid", num(pid));
  e.fields.set("session", session);
  e.fields.set("evidence", format_evidence(evidence));
  return e;
}

Event phantom(const std::string& worker, WallTime now, const std::string& session,
              const std::string& since, Duration grace, const EvidenceList& evidence) {
  Event e = base(kind::kWorkerPhantom, worker, now);
  e.fields.set("session", session);
  e.fields.set("since", since);
  e.fields.set("grace_ms", ms(grace));
  e.fields.set("evidence", format_evidence(evidence));
  return e;
}

}  // namespace aw::supervisor_events
