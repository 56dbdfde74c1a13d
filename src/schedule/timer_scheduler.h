// TimerScheduler: periodic jobs on the loop ("run this rule every 30 min ±60 s,
// and catch up a run missed while the daemon was down"; DESIGN §6 scenario 19).
//
// The decisions are SchedulePlan's (schedule_plan.h holds the semantics: first
// run, jitter, catch-up, reloads, clock jumps). This class adds:
//   - ONE uv timer, armed for the earliest deadline of all jobs and re-armed
//     after each firing or set_jobs(): no periodic wake-ups; with no job the
//     loop is idle. Deadlines are monotonic (Clock::mono), never early (the
//     loop time is refreshed and the delay rounded up to the millisecond).
//   - The state file: load() reads it once at start; every change of the
//     records (a run, a first sighting, a forgotten job) is written in the
//     background (uvx::queue_work: tmp, fsync, rename), one write in flight at
//     a time, the newest records winning. A run is recorded (in memory) just
//     before `fire` is called; a crash before the write lands makes that run
//     count as missed at the next start, so it is caught up: at least once.
//
// Start-up order: load(), then set_jobs() with the rules' jobs (that call
// decides the catch-ups), then run the loop. Catch-ups fire on the first loop
// iteration, not inside set_jobs().
//
// Ownership and threads: one owner, on the loop thread. `loop` and `clock`
// must outlive the scheduler. `fire` is called on the loop thread from the
// scheduler's timer (or from trigger()); it may call set_jobs(), trigger() and
// the accessors, but must not destroy the scheduler. Destroying the scheduler
// stops its timer; a state write still pending is finished by the thread pool
// (run the loop until it has no work left, as at any shutdown).
#pragma once

#include <uv.h>

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "src/core/clock.h"
#include "src/core/event.h"
#include "src/core/result.h"
#include "src/schedule/schedule_plan.h"
#include "src/uvx/handle.h"

namespace aw {

// One job as the CLI lists it.
struct TimerStatus {
  ScheduledJob job;
  std::optional<WallTime> last_run;
  std::optional<WallTime> first_seen;
  WallTime next_due{};  // estimated from the monotonic deadline and the wall clock now
  FireReason next_reason = FireReason::kDue;
};

class TimerScheduler {
 public:
  using FireCallback = std::function<void(const std::string& name, FireReason reason)>;

  // `state_file`: e.g. `$XDG_STATE_HOME/agentwatch/timers`; "" keeps the
  // records in memory only (tests, --no-state). `seed` seeds the jitter draws
  // (0: from std::random_device).
  TimerScheduler(uv_loop_t* loop, const Clock& clock, std::string state_file, FireCallback fire,
                 std::uint64_t seed);
  ~TimerScheduler();
  TimerScheduler(const TimerScheduler&) = delete;
  TimerScheduler& operator=(const TimerScheduler&) = delete;

  // Reads the state file (blocking; small; call once, before the first
  // set_jobs()). A missing file is fine. A corrupt one is moved aside and
  // reported here; the scheduler then starts as if it were empty (no catch-up,
  // every job first due one period from now). Never throws.
  Status load();

  // Replaces the jobs (at start and on each rules reload); see SchedulePlan.
  void set_jobs(const std::vector<ScheduledJob>& jobs);

  // `agentwatch trigger RULE`: fires `name` now with kTrigger (synchronously,
  // before returning), records the run and restarts its period. An unknown
  // name is an error naming it.
  Status trigger(const std::string& name);

  // When `name` is next due (wall-clock estimate), nullopt for an unknown job.
  std::optional<WallTime> next_due(const std::string& name) const;
  // Every job, by name.
  std::vector<TimerStatus> list() const;

  // Called (on the loop thread) with the error of each failed background write
  // of the state file; the old file stays and the next change writes again.
  void on_persist_error(std::function<void(const Error&)> handler);
  // True while a state write is due or in flight (tests wait for false).
  bool persisting() const;

 private:
  struct Persister;
  void arm();
  void on_timer();
  void persist();

  uv_loop_t* loop_;
  const Clock& clock_;
  FireCallback fire_;
  SchedulePlan plan_;
  std::shared_ptr<Persister> persister_;  // shared with the background writes
  uvx::Timer timer_;
};

// The event a firing becomes: kind "timer.fired", source "timer", rule = name,
// fields {rule: name, reason: "due" | "catch_up" | "trigger"}, time = `now`.
Event timer_fired_event(const std::string& name, FireReason reason, WallTime now);

}  // namespace aw
