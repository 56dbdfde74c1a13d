#include "src/rules/chain_guard.h"

#include <algorithm>
#include <chrono>
#include <utility>

namespace aw {

ChainDecision ChainGuard::offer(std::string_view rule, std::uint32_t depth, MonoTime now) {
  ChainDecision d;
  if (depth >= policy_.max_depth) {
    d.verdict = ChainVerdict::kTooDeep;
    return d;
  }
  if (depth == 0) return d;
  auto it = buckets_.find(rule);
  if (it == buckets_.end())
    it = buckets_.emplace(std::string(rule), Bucket{policy_.burst, now, 0}).first;
  Bucket& b = it->second;
  const double elapsed = std::chrono::duration<double>(now - b.at).count();
  if (elapsed > 0) b.tokens = std::min(policy_.burst, b.tokens + elapsed * policy_.rate);
  b.at = std::max(b.at, now);
  // An episode of drops ends when the rule was quiet long enough for its bucket
  // to fill again; a loop held at its rate stays one episode, reported once.
  if (b.dropped > 0 && b.tokens >= policy_.burst) d.dropped_before = std::exchange(b.dropped, 0);
  if (b.tokens >= 1.0) {
    b.tokens -= 1.0;
    return d;
  }
  d.verdict = ChainVerdict::kThrottled;
  d.first_drop = b.dropped++ == 0;
  return d;
}

void ChainGuard::record(std::uint64_t seq, std::uint64_t cause, std::string_view rule) {
  links_[seq] = Link{cause, std::string(rule)};
  while (links_.size() > kChainMemory) links_.erase(links_.begin());
}

std::vector<std::string> ChainGuard::chain_of(std::uint64_t seq) const {
  std::vector<std::string> out;
  // A chain is at most max_depth links long; the bound also guards a cycle.
  for (std::uint32_t i = 0; i <= policy_.max_depth; ++i) {
    auto it = links_.find(seq);
    if (it == links_.end()) break;
    out.push_back(it->second.rule);
    seq = it->second.cause;
  }
  std::reverse(out.begin(), out.end());
  return out;
}

void ChainGuard::record_loop_report(std::uint64_t seq) {
  loop_reports_.insert(seq);
  while (loop_reports_.size() > kChainMemory) loop_reports_.erase(loop_reports_.begin());
}

bool ChainGuard::descends_from_loop_report(std::uint64_t seq) const {
  for (std::uint32_t i = 0; i <= policy_.max_depth + 1; ++i) {
    if (loop_reports_.contains(seq)) return true;
    auto it = links_.find(seq);
    if (it == links_.end()) return false;
    seq = it->second.cause;
  }
  return false;
}

void ChainGuard::retain_rules(const std::function<bool(std::string_view)>& keep) {
  std::erase_if(buckets_, [&](const auto& kv) { return !keep(kv.first); });
}

}  // namespace aw
