// HeartbeatTracker: is a worker's heartbeat file (usually its log) still
// growing? (DESIGN §6 scenario 6.) PURE: the Supervisor stats the file on the
// thread pool, only when asked to by next_check, and feeds each sample here with
// `now`; tests run hours of heartbeat in microseconds.
//
// Growth is a change of size or mtime between two samples. When it grew, the
// file's own mtime says when, so the next look is due at mtime + timeout, not a
// whole timeout after we happened to look: no wake-ups in between, and a stale
// file is noticed within the timeout plus the stat's latency.
//
//   status     meaning                                   next_check
//   none       no heartbeat declared (never tracked)     —
//   pending    begun, no sample yet                      —
//   fresh      grew within the timeout                   last growth + timeout
//   stale      no growth for the timeout: lost, reported now + timeout (a fallback look;
//              once per episode                          a hint from the pipeline looks sooner)
//   unknown    the last stat failed: NOT evidence of     now + timeout
//              loss (a missing or unreadable file says
//              nothing about the worker's progress)
//
// A run's growth is counted from its beginning: a log left by a previous run,
// with an old mtime, does not make a new run stale at once.
//
// Time: every judgement runs on the monotonic clock (`now.mono`), so setting the
// wall clock neither reports a loss early nor holds one back. The mtime is wall
// time by nature (the writer's clock when it wrote): comparing it between two
// samples (a change is growth) needs no clock. To say *when* the file grew, the
// mtime is re-based onto the monotonic clock (ClockSnapshot::to_mono) and
// trusted only where it agrees with what the tracker itself saw: not before the
// previous good sample, which did not see that change (not before the run
// began, for a first sample), and not after now. An mtime outside that — the
// wall clock was set since the write, or the file's host has another clock —
// counts as "grew now" (a first sample: "at the run's start"), which can delay
// a loss by the time since the previous look, never report one early.
//
// Thread safety: a value; one owner.
#pragma once

#include <cstdint>
#include <string>

#include "src/core/clock.h"

namespace aw {

// One stat() of a file.
struct FileSample {
  bool ok = false;    // false: the stat failed; `error` says why
  std::string error;  // errno_text
  std::int64_t size = 0;
  WallTime mtime{};  // the file's, as its writer's wall clock said
  friend bool operator==(const FileSample&, const FileSample&) = default;
};

// Size or mtime differ (both samples must be ok; otherwise false).
bool file_grew(const FileSample& before, const FileSample& after);

enum class HeartbeatStatus { kNone, kPending, kFresh, kStale, kUnknown };
// "none", "pending", "fresh", "stale", "unknown"
const char* heartbeat_status_name(HeartbeatStatus s);

struct HeartbeatStep {
  enum class Signal {
    kNothing,
    kLost,     // worker.heartbeat_lost: once per stale episode
    kResumed,  // worker.heartbeat_resumed: growth after a loss
    kUnknown,  // worker.heartbeat_unknown: the file cannot be stat'ed (once per episode)
  };
  Signal signal = Signal::kNothing;
  MonoTime next_check{};  // when to stat the file again
};

class HeartbeatTracker {
 public:
  explicit HeartbeatTracker(Duration timeout = std::chrono::minutes(10)) : timeout_(timeout) {}

  // A run begins (spawn or adoption): forgets the previous run's samples.
  void begin(MonoTime now);
  // A stat's result, taken at `now` (both clocks: the wall time only re-bases
  // the sample's mtime).
  HeartbeatStep observe(const FileSample& sample, const ClockSnapshot& now);

  Duration timeout() const { return timeout_; }
  HeartbeatStatus status() const { return status_; }
  // When the file last grew, on the monotonic clock (see "Time" above); the
  // begin time until then.
  MonoTime last_growth() const { return last_growth_; }
  // The latest sample that succeeded (ok = false when none did).
  const FileSample& last_good() const { return last_good_; }
  // The latest stat error ("" after a success).
  const std::string& error() const { return error_; }
  // A loss was reported and no growth seen since.
  bool lost() const { return lost_; }

 private:
  Duration timeout_;
  HeartbeatStatus status_ = HeartbeatStatus::kNone;
  MonoTime begun_{};
  MonoTime last_growth_{};
  FileSample last_good_;
  MonoTime last_good_at_{};  // when last_good_ was taken
  std::string error_;
  bool lost_ = false;
  bool unknown_reported_ = false;
};

}  // namespace aw
