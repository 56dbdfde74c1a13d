// SchedulePlan: what is due when, for periodic jobs (pure; STYLE §5, §6).
//
// The decisions of the TimerScheduler without its loop, timer or files: given
// the jobs, what was persisted and `now` (monotonic and wall), it says which job
// is next due and why. Tests drive it with a ManualClock through hours of
// schedule in milliseconds.
//
// Semantics (docs/schedule.md is the user's version):
//   - A period counts from the job's last run: next = last run + every + offset,
//     offset drawn per period, uniform in [-j, +j], j = min(jitter, every / 2)
//     (so two runs are always at least every/2 apart, whatever the jitter).
//   - A job never run before is first due one `every` (± jitter) after it was
//     first seen; `first_seen` is recorded so a restart does not push it back.
//   - At start (a job first given to set_jobs() while restore() had a record
//     for it): if last run (or first seen) + every is already past, the run was
//     missed while the daemon was down. A persistent job then fires once, at
//     once, with kCatchUp — not once per missed period. A non-persistent job
//     skips what it missed and keeps its phase: next = the first
//     last run + k·every still in the future, ± jitter.
//   - A record time in the future (the wall clock went back while down) counts
//     as "now": a job is never postponed by more than one period.
//   - set_jobs() again (a rules reload): an unchanged job keeps its deadline; a
//     job whose `every` or `jitter` changed is rescheduled from its last run (or
//     first sighting) with the new values, at once with kDue if that is past;
//     only `persistent` changed keeps the deadline; a removed job and its record
//     are forgotten (added back later, it is a new job).
//   - Deadlines are monotonic: once running, a wall-clock jump moves nothing.
//     Wall time is used only to record runs and to read records at start.
//
// Preconditions: job names unique (a duplicate is ignored: the first wins),
// every > 0 (a job with every <= 0 is ignored), jitter >= 0.
//
// Thread safety: none; one owner.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <random>
#include <string>
#include <string_view>
#include <vector>

#include "src/core/clock.h"

namespace aw {

struct ScheduledJob {
  std::string name;  // the rule's name
  Duration every{0};
  Duration jitter{0};
  bool persistent = true;
  friend bool operator==(const ScheduledJob&, const ScheduledJob&) = default;
};

enum class FireReason {
  kDue,      // its period elapsed
  kCatchUp,  // at start: a persistent job's run was missed while the daemon was down
  kTrigger,  // asked for (`agentwatch trigger RULE`); restarts the period
};
// "due", "catch_up", "trigger".
std::string_view fire_reason_name(FireReason reason);

// What is persisted per job (wall times, so it means something after a reboot).
struct JobRecord {
  std::optional<WallTime> last_run;
  std::optional<WallTime> first_seen;
  friend bool operator==(const JobRecord&, const JobRecord&) = default;
};
using JobRecords = std::map<std::string, JobRecord>;

struct Firing {
  std::string name;
  FireReason reason;
  friend bool operator==(const Firing&, const Firing&) = default;
};

// One job as `list` shows it.
struct JobView {
  ScheduledJob job;
  JobRecord record;
  MonoTime due{};     // next deadline (monotonic)
  FireReason reason;  // the reason it will fire with then
};

class SchedulePlan {
 public:
  explicit SchedulePlan(std::uint64_t seed) : rng_(seed) {}

  // The records read from the state file. Call before the first set_jobs():
  // that call is "the start", where these records decide the catch-ups. Any
  // record whose job is not in that first set is dropped.
  void restore(JobRecords records) { records_ = std::move(records); }

  // Replaces the job set (see the semantics above). Returns true when the
  // records changed (a first sighting, a forgotten job): persist them.
  bool set_jobs(const std::vector<ScheduledJob>& jobs, MonoTime mono, WallTime wall);

  // The earliest deadline of any job; nullopt when there is no job.
  std::optional<MonoTime> earliest() const;

  // Every job due at `mono` (deadline <= mono), ordered by deadline then name.
  // Each is recorded as run at `wall` and rescheduled one period later from
  // `mono`. The records changed if the result is not empty.
  std::vector<Firing> take_due(MonoTime mono, WallTime wall);

  // Runs `name` now, out of schedule: recorded as run at `wall`, its period
  // restarted. Returns false (and changes nothing) for an unknown job.
  bool trigger(const std::string& name, MonoTime mono, WallTime wall);

  std::optional<MonoTime> due(const std::string& name) const;
  const JobRecords& records() const { return records_; }
  // Every job, by name.
  std::vector<JobView> view() const;

 private:
  struct Tracked {
    ScheduledJob job;
    MonoTime due{};
    FireReason reason = FireReason::kDue;
  };

  Duration draw_offset(const ScheduledJob& job);
  // A job seen for the first time in this process.
  Tracked start_tracking(const ScheduledJob& job, MonoTime mono, WallTime wall);
  // Deadline `nominal` (wall) + a fresh offset, as monotonic, never before `mono`.
  MonoTime to_deadline(const ScheduledJob& job, WallTime nominal, MonoTime mono, WallTime wall);

  std::mt19937_64 rng_;
  std::map<std::string, Tracked> jobs_;
  JobRecords records_;
};

}  // namespace aw
