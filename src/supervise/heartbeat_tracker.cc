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

void HeartbeatTracker::begin(WallTime now) {
  status_ = HeartbeatStatus::kPending;
  begun_ = now;
  last_growth_ = now;
  last_good_ = FileSample{};
  error_.clear();
  lost_ = false;
  unknown_reported_ = false;
}

HeartbeatStep HeartbeatTracker::observe(const FileSample& sample, WallTime now) {
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
    // The mtime is when it grew; a log older than this run counts from the run's
    // start, and an mtime in the future (clock skew) counts as now.
    WallTime at = std::clamp(sample.mtime, begun_, std::max(begun_, now));
    last_growth_ = std::max(last_growth_, at);
  }
  last_good_ = sample;
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
