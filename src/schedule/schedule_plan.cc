#include "src/schedule/schedule_plan.h"

#include <algorithm>
#include <tuple>

namespace aw {

std::string_view fire_reason_name(FireReason reason) {
  switch (reason) {
    case FireReason::kDue:
      return "due";
    case FireReason::kCatchUp:
      return "catch_up";
    case FireReason::kTrigger:
      return "trigger";
  }
  return "due";
}

Duration SchedulePlan::draw_offset(const ScheduledJob& job) {
  const Duration j = std::min(job.jitter, job.every / 2);
  if (j <= Duration{0}) return Duration{0};
  std::uniform_int_distribution<Duration::rep> dist(-j.count(), j.count());
  return Duration{dist(rng_)};
}

MonoTime SchedulePlan::to_deadline(const ScheduledJob& job, WallTime nominal, MonoTime mono,
                                   WallTime wall) {
  const MonoTime due = mono + (nominal - wall) + draw_offset(job);
  return std::max(due, mono);
}

SchedulePlan::Tracked SchedulePlan::start_tracking(const ScheduledJob& job, MonoTime mono,
                                                   WallTime wall) {
  JobRecord& record = records_[job.name];
  if (!record.last_run && !record.first_seen) {
    record.first_seen = wall;
    return {job, to_deadline(job, wall + job.every, mono, wall), FireReason::kDue};
  }
  // A time in the future means the wall clock went back while we were down:
  // count it as now, so the job waits one period at most.
  const WallTime base = std::min(record.last_run ? *record.last_run : *record.first_seen, wall);
  WallTime nominal = base + job.every;
  if (nominal <= wall) {
    if (job.persistent) return {job, mono, FireReason::kCatchUp};
    // Skip the missed periods, keep the phase: base + k·every <= wall < base + (k+1)·every.
    const auto k = (wall - base) / job.every;
    nominal = base + (k + 1) * job.every;
  }
  return {job, to_deadline(job, nominal, mono, wall), FireReason::kDue};
}

bool SchedulePlan::set_jobs(const std::vector<ScheduledJob>& jobs, MonoTime mono, WallTime wall) {
  const JobRecords before = records_;
  std::map<std::string, Tracked> next;
  for (const ScheduledJob& job : jobs) {
    if (job.every <= Duration{0} || job.jitter < Duration{0} || next.count(job.name)) continue;
    auto it = jobs_.find(job.name);
    if (it == jobs_.end()) {
      next.emplace(job.name, start_tracking(job, mono, wall));
      continue;
    }
    Tracked t = it->second;
    const bool timing_changed = t.job.every != job.every || t.job.jitter != job.jitter;
    t.job = job;
    if (timing_changed) {
      const JobRecord& record = records_[job.name];
      const WallTime base =
          std::min(record.last_run ? *record.last_run : record.first_seen.value_or(wall), wall);
      t.due = to_deadline(job, base + job.every, mono, wall);
      t.reason = FireReason::kDue;
    }
    next.emplace(job.name, std::move(t));
  }
  for (auto it = records_.begin(); it != records_.end();) {
    if (next.count(it->first))
      ++it;
    else
      it = records_.erase(it);
  }
  jobs_ = std::move(next);
  return records_ != before;
}

std::optional<MonoTime> SchedulePlan::earliest() const {
  std::optional<MonoTime> best;
  for (const auto& [name, t] : jobs_)
    if (!best || t.due < *best) best = t.due;
  return best;
}

std::vector<Firing> SchedulePlan::take_due(MonoTime mono, WallTime wall) {
  std::vector<std::pair<MonoTime, Firing>> due;
  for (auto& [name, t] : jobs_)
    if (t.due <= mono) due.emplace_back(t.due, Firing{name, t.reason});
  std::sort(due.begin(), due.end(), [](const auto& a, const auto& b) {
    return std::tie(a.first, a.second.name) < std::tie(b.first, b.second.name);
  });
  std::vector<Firing> out;
  out.reserve(due.size());
  for (auto& [when, firing] : due) {
    Tracked& t = jobs_.at(firing.name);
    records_[firing.name].last_run = wall;
    t.due = mono + t.job.every + draw_offset(t.job);
    t.reason = FireReason::kDue;
    out.push_back(std::move(firing));
  }
  return out;
}

bool SchedulePlan::trigger(const std::string& name, MonoTime mono, WallTime wall) {
  auto it = jobs_.find(name);
  if (it == jobs_.end()) return false;
  records_[name].last_run = wall;
  it->second.due = mono + it->second.job.every + draw_offset(it->second.job);
  it->second.reason = FireReason::kDue;
  return true;
}

std::optional<MonoTime> SchedulePlan::due(const std::string& name) const {
  auto it = jobs_.find(name);
  if (it == jobs_.end()) return std::nullopt;
  return it->second.due;
}

std::vector<JobView> SchedulePlan::view() const {
  std::vector<JobView> out;
  out.reserve(jobs_.size());
  for (const auto& [name, t] : jobs_) {
    auto rec = records_.find(name);
    out.push_back(
        JobView{t.job, rec == records_.end() ? JobRecord{} : rec->second, t.due, t.reason});
  }
  return out;
}

}  // namespace aw
