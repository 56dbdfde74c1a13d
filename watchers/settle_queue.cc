#include "watchers/settle_queue.h"

#include <algorithm>

#include "watchers/watch_tree.h"

namespace aw {

Duration SettleQueue::age_of(const FileVersion& v, ClockSnapshot now) const {
  return now.wall.time_since_epoch() - Duration(v.mtime_ns);
}

bool SettleQueue::offer(const std::string& rel, const FileVersion& v, ClockSnapshot now) {
  if (settle_ <= Duration(0)) return false;
  if (age_of(v, now) >= settle_) return false;  // quiet for long enough: land it
  auto [it, inserted] = held_.try_emplace(rel);
  Held& h = it->second;
  if (!inserted) {
    if (h.version == v) return true;  // found again by another scan: keep its timing
    queue_.erase(Due{h.due, rel});
  }
  h.version = v;
  h.quiet_since = now.mono;
  schedule(rel, h, now);
  return true;
}

void SettleQueue::schedule(const std::string& rel, Held& h, ClockSnapshot now) {
  const Duration age = age_of(h.version, now);
  h.due = std::min(h.quiet_since + settle_, now.mono + std::max(settle_ - age, Duration(0)));
  queue_.insert(Due{h.due, rel});
}

void SettleQueue::release(const std::string& rel) {
  auto it = held_.find(rel);
  if (it == held_.end()) return;
  queue_.erase(Due{it->second.due, rel});
  held_.erase(it);
}

void SettleQueue::release_under(const std::string& rel) {
  if (held_.empty()) return;
  const auto first = [](const auto& kv) -> const std::string& { return kv.first; };
  for (const auto& k : rel_keys_under(held_, rel, first)) release(k);
}

void SettleQueue::clear() {
  held_.clear();
  queue_.clear();
}

std::vector<std::string> SettleQueue::take_due(MonoTime now, std::size_t max) {
  std::vector<std::string> out;
  while (out.size() < max && !queue_.empty() && queue_.begin()->due <= now) {
    auto node = queue_.extract(queue_.begin());
    out.push_back(std::move(node.value().rel));
  }
  return out;
}

SettleQueue::Verdict SettleQueue::recheck(const std::string& rel,
                                          const std::optional<FileVersion>& v, ClockSnapshot now) {
  auto it = held_.find(rel);
  if (it == held_.end()) return Verdict::kNotHeld;
  Held& h = it->second;
  // Its queue entry, if any, goes: take_due took it, or this is an early look.
  queue_.erase(Due{h.due, rel});
  if (!v) {
    // Nothing ever landed, so nothing is owed.
    held_.erase(it);
    return Verdict::kDropped;
  }
  if (!(h.version == *v)) {
    // Still being written: wait again from now (its close_write may land it
    // first, which ends the hold).
    h.version = *v;
    h.quiet_since = now.mono;
    schedule(rel, h, now);
    return Verdict::kWaiting;
  }
  if (now.mono - h.quiet_since < settle_ && age_of(h.version, now) < settle_) {
    schedule(rel, h, now);  // the alarm fired early, or the wall clock went back
    return Verdict::kWaiting;
  }
  held_.erase(it);
  return Verdict::kLand;
}

std::optional<MonoTime> SettleQueue::next_due() const {
  if (queue_.empty()) return std::nullopt;
  return queue_.begin()->due;
}

}  // namespace aw
