// What `agentwatch workers` (WorkerStatus) and `agentwatch health ID`
// (WorkerHealth) show about a worker, built from the worker machine's state
// and what the shell knows of the world — no syscall, no /proc read, no stat
// (cheap enough for a dashboard refresh).
//
// PURE: functions of values and `now`; no libuv. Thread safety: values.
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "src/core/clock.h"
#include "src/supervise/worker_machine.h"

namespace aw {

struct WorkerStatus {
  std::string name;
  WorkerPhase phase = WorkerPhase::kDown;
  pid_t pid = 0;               // 0 when no live process
  bool adopted = false;        // the process is not our child
  std::int64_t restarts = 0;   // lifetime
  int restarts_in_window = 0;  // what the budget counts
  CircuitState circuit = CircuitState::kClosed;
  std::vector<std::string> waiting_on;  // depends_on not completed yet
  Duration next_start_in{0};            // backoff / circuit_open: time left
  std::string last_exit;                // "exited with code 1", "killed by signal 9", ...
  std::string gave_up_reason;
};

// Why `agentwatch health ID` says what it says.
struct WorkerHealth {
  std::string name;
  WorkerPhase phase = WorkerPhase::kDown;
  pid_t pid = 0;                         // 0 when no live process
  std::optional<LifecycleState> entity;  // the sink's answer, else the last request
  // Process: kAlive while its pidfd is watched and no end was seen; kAbsent once
  // its end was seen (or recover() found it gone); kUnknown when none was ever
  // watched (an adopt-only worker before its pid_file, a worker never started).
  Liveness process = Liveness::kUnknown;
  std::string process_evidence;  // how that is known
  SessionPresence session = SessionPresence::kNone;
  std::string tmux_session;
  WallTime session_checked{};  // time of the snapshot that said so (epoch: none yet)
  HeartbeatStatus heartbeat = HeartbeatStatus::kNone;
  std::string heartbeat_file;
  // Fresh/stale: when the file last grew (decided on the monotonic clock; shown
  // as the wall time it is by the wall clock now).
  WallTime heartbeat_last_growth{};
  std::string heartbeat_error;  // unknown: why the stat failed
  Duration runtime{0};          // of the current run (0 without a process)
  Duration runtime_limit{0};
  bool timing_out = false;
  Duration judged_in{0};  // time to the runtime deadline, or to the grace's end
  int extensions = 0;     // used in this run
  int max_extensions = 0;
  // A phantom is suspected: failed at this time (phantom_grace of monotonic time
  // after the suspicion began, shown by the wall clock now).
  std::optional<WallTime> phantom_deadline;
  // The last kHealthRecords decisions (timing_out, extensions, kills, heartbeat,
  // zombie, phantom, ends), oldest first.
  std::vector<Evidence> decisions;
};

WorkerStatus describe_status(const WorkerSpec& spec, const WorkerState& state,
                             const WorkerWorld& world, MonoTime now);

// `sessions_known`: the latest tmux snapshot was taken (world.sessions_at is
// then shown as session_checked).
WorkerHealth describe_health(const WorkerSpec& spec, const WorkerState& state,
                             const WorkerWorld& world, bool sessions_known,
                             const ClockSnapshot& now);

}  // namespace aw
