// The Events the supervisor emits: one builder per kind, so that each kind's
// fields are written in one place (docs/workers.md, "Events", is the table they
// must match; the event log and the rules read them, so a field never changes
// name or type silently).
//
// Every event has source "supervisor", entity = the worker's name and `time` =
// the wall time given (the caller's `now`: the builders read no clock). PURE:
// values in, an Event out; no libuv, no I/O. Used by the worker machine (the
// pure decisions) and by the Supervisor shell (what only the shell sees:
// adoption failures, PID files, store errors).
//
// Thread safety: functions of values.
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "src/core/clock.h"
#include "src/core/event.h"
#include "src/supervise/evidence.h"
#include "src/supervise/process_end.h"
#include "src/supervise/process_identity.h"

namespace aw::supervisor_events {

// The common part: kind, source "supervisor", entity, time.
Event base(std::string_view kind, const std::string& worker, WallTime now);

Event store_error(const std::string& worker, WallTime now, std::string_view key,
                  const std::string& error);
Event started(const std::string& worker, WallTime now, pid_t pid, int attempt,
              const std::string& identity, bool half_open_trial);
Event spawn_failed(const std::string& worker, WallTime now, int attempt, const std::string& error);
Event exited(const std::string& worker, WallTime now, const ProcessEnd& end, bool by_us,
             const std::string& killed_for, bool adopted, int attempt);
Event restart_scheduled(const std::string& worker, WallTime now, Duration delay, int attempt,
                        int restarts, int max_restarts, const std::string& reason);
Event circuit_open(const std::string& worker, WallTime now, WallTime until, Duration delay,
                   int attempt, const std::string& reason);
Event circuit_closed(const std::string& worker, WallTime now, Duration uptime);
Event waiting(const std::string& worker, WallTime now, const std::string& deps, bool after_exit);
Event gave_up(const std::string& worker, WallTime now, const std::string& reason, int restarts,
              std::int64_t total_restarts, const std::string& last_exit);
// `was`: the phase whose pending restart or wait was cancelled (nullopt: a stop
// that ended a process).
Event stopped(const std::string& worker, WallTime now, std::optional<std::string_view> was);
Event kill_escalated(const std::string& worker, WallTime now, pid_t pid, Duration grace);
Event killing(const std::string& worker, WallTime now, pid_t pid, int signal, Duration grace,
              const std::string& reason, std::string_view was, const EvidenceList& evidence);
Event adopted(const std::string& worker, WallTime now, pid_t pid, const std::string& identity,
              std::string_view via, Liveness liveness, const EvidenceList& evidence);
Event lost(const std::string& worker, WallTime now, pid_t pid, const std::string& identity,
           Liveness liveness, const EvidenceList& evidence);
// ProcessWatch::adopt() refused the PID (gone, or another process now).
Event released(const std::string& worker, WallTime now, pid_t pid, const std::string& output);
Event adopt_failed(const std::string& worker, WallTime now, pid_t pid, std::string_view via,
                   Liveness liveness, const EvidenceList& evidence);
// A PID file that could not be read or queued (no PID to judge): `error`.
Event pid_file_unreadable(const std::string& worker, WallTime now, const std::string& path,
                          const std::string& error);
// A PID file naming a process that is gone (judge_pid_file: kGone).
Event pid_file_gone(const std::string& worker, WallTime now, const std::string& path, pid_t pid,
                    const EvidenceList& evidence);
Event pid_file_refused(const std::string& worker, WallTime now, const std::string& path, pid_t pid,
                       const std::string& reason, const EvidenceList& evidence);
// `pid` when a process is watched (running = true).
Event pid_file_removed(const std::string& worker, WallTime now, const std::string& path,
                       std::optional<pid_t> pid);
Event timing_out(const std::string& worker, WallTime now, pid_t pid, Duration runtime,
                 Duration limit, Duration grace, int extensions, int max_extensions,
                 std::string_view heartbeat, const EvidenceList& evidence);
Event extended(const std::string& worker, WallTime now, pid_t pid, int extensions,
               int max_extensions, Duration runtime, Duration next_deadline,
               const std::string& progress);
Event heartbeat_lost(const std::string& worker, WallTime now, const std::string& file,
                     const std::string& last_growth, Duration timeout, std::int64_t size);
Event heartbeat_resumed(const std::string& worker, WallTime now, const std::string& file,
                        const std::string& last_growth, Duration stale, std::int64_t size);
Event heartbeat_unknown(const std::string& worker, WallTime now, const std::string& file,
                        const std::string& error);
Event zombie(const std::string& worker, WallTime now, pid_t pid, const std::string& session,
             const EvidenceList& evidence);
Event phantom(const std::string& worker, WallTime now, const std::string& session,
              const std::string& since, Duration grace, const EvidenceList& evidence);

}  // namespace aw::supervisor_events
