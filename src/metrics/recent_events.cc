#include "src/metrics/recent_events.h"

#include <algorithm>

#include "src/core/event_kinds.h"

namespace aw::metrics {

void RecentEvents::add(const Event& e, std::string line) {
  last_seq_ = e.seq;
  const bool execution = e.kind == kind::kActionSucceeded || e.kind == kind::kActionFailed;
  if (execution) {
    executions_.push_back({e.seq, line});
    if (executions_.size() > limits_.executions) executions_.pop_front();
  }
  if (aw::is_failure(e)) {
    failures_.push_back({e.seq, line});
    if (failures_.size() > limits_.failures) failures_.pop_front();
  }
  bytes_ += line.size();
  events_.push_back({e.seq, std::move(line)});
  while (!events_.empty() && (events_.size() > limits_.events || bytes_ > limits_.bytes)) {
    bytes_ -= events_.front().line.size();
    events_.pop_front();
  }
}

bool RecentEvents::covers_after(std::uint64_t seq) const {
  // Events before the first it was given (a daemon that just started) are
  // not held either: only the disk knows them.
  if (events_.empty()) return last_seq_ != 0 && seq >= last_seq_;
  return seq + 1 >= events_.front().seq;
}

std::vector<const RecentEvents::Entry*> RecentEvents::after_in(const std::deque<Entry>& ring,
                                                               std::uint64_t seq,
                                                               std::size_t limit) {
  // Seqs increase along the ring: binary search for the first one past `seq`.
  auto it = std::upper_bound(ring.begin(), ring.end(), seq,
                             [](std::uint64_t s, const Entry& e) { return s < e.seq; });
  std::vector<const Entry*> out;
  for (; it != ring.end() && out.size() < limit; ++it) out.push_back(&*it);
  return out;
}

std::vector<const RecentEvents::Entry*> RecentEvents::after(std::uint64_t seq,
                                                            std::size_t limit) const {
  return after_in(events_, seq, limit);
}

std::vector<const RecentEvents::Entry*> RecentEvents::executions_after(std::uint64_t seq,
                                                                       std::size_t limit) const {
  return after_in(executions_, seq, limit);
}

}  // namespace aw::metrics
