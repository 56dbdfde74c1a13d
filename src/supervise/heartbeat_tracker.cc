#include "src/supervise/heartbeat_tracker.h"

#include <algorithm>

namespace aw {

bool file_grew(const FileSample& before, const FileSample& after) {
  return before.ok && after.ok && (before.size != after.size || before.mtime != after.mtime);
}

const char* heartbeat_status_name(HeartbeatStatus s) {
  switch (s) {
    case HeartbeatStatus::kNone:
      return "none";
    case HeartbeatStatus::kPending:
      return "pending";
    case HeartbeatStatus::kFresh:
      return "fresh";
    case HeartbeatStatus::kStale:
      return "stale";
    case HeartbeatStatus::kUnknown:
      return "unknown";
  }
  return "?";
}

void HeartbeatTracker::begin(MonoTime now) {
  status_ = HeartbeatStatus::kPending;
  begun_ = now;
  last_growth_ = now;
  last_good_ = FileSample{};
  error_.clear();
  lost_ = false;
  unknown_reported_ = false;
}

HeartbeatStep HeartbeatTracker::observe(const FileSample& sample, const ClockSnapshot& clocks) {
  const MonoTime now = clocks.mono;
  HeartbeatStep step;
  if (!sample.ok) {
    // Says nothing about progress: neither lost nor fresh. Look again later.
    status_ = HeartbeatStatus::kUnknown;
    error_ = sample.error;
    if (!unknown_reported_) {
      unknown_reported_ = true;
      step.signal = HeartbeatStep::Signal::kUnknown;
    }
    step.next_check = now + timeout_;
    return step;
  }
  error_.clear();
  unknown_reported_ = false;
  bool first = !last_good_.ok;
  bool grew = file_grew(last_good_, sample);
  if (first || grew) {
    // The mtime says when it grew, if it agrees with what we saw (see the
    // header): a log older than this run counts from the run's start; an mtime
    // in the future (skew, a clock set back) counts as now (to_mono clamps);
    // growth that claims to predate the previous look, which saw none, means
    // the wall clock moved: it grew since that look, so "now" is the safe side.
    MonoTime at = clocks.to_mono(sample.mtime);
    if (first)
      at = std::max(at, begun_);
    else if (at < last_good_at_)
      at = now;
    last_growth_ = std::max(last_growth_, at);
  }
  last_good_ = sample;
  last_good_at_ = now;
  if (grew && lost_) {
    lost_ = false;
    status_ = HeartbeatStatus::kFresh;
    step.signal = HeartbeatStep::Signal::kResumed;
    step.next_check = std::max(last_growth_ + timeout_, now);
    return step;
  }
  if (now >= last_growth_ + timeout_) {
    status_ = HeartbeatStatus::kStale;
    if (!lost_) {
      lost_ = true;
      step.signal = HeartbeatStep::Signal::kLost;
    }
    step.next_check = now + timeout_;
    return step;
  }
  status_ = lost_ ? HeartbeatStatus::kStale : HeartbeatStatus::kFresh;
  step.next_check = last_growth_ + timeout_;
  return step;
}

}  // namespace aw
