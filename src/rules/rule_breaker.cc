#include "src/rules/rule_breaker.h"

#include <algorithm>
#include <utility>

namespace aw {

const char* breaker_state_name(BreakerState s) {
  switch (s) {
    case BreakerState::kClosed:
      return "closed";
    case BreakerState::kOpen:
      return "open";
    case BreakerState::kHalfOpen:
      return "half_open";
  }
  return "closed";
}

void RuleBreaker::open(Circuit& c, MonoTime now) {
  c.state = BreakerState::kOpen;
  c.reopen_at = now + c.cool_down;
  c.trial_running = false;
  ++c.generation;
}

BreakerAdmission RuleBreaker::offer(std::string_view rule, const BreakerPolicy& policy,
                                    const Event& event, MonoTime now) {
  (void)now;
  auto it = circuits_.find(rule);
  if (it == circuits_.end()) it = circuits_.emplace(std::string(rule), Circuit{}).first;
  Circuit& c = it->second;
  c.cool_down = policy.cool_down;
  if (c.state == BreakerState::kClosed) return {true, c.generation, false};
  if (c.state == BreakerState::kHalfOpen && !c.trial_running && c.held.empty()) {
    c.trial_running = true;
    return {true, c.generation, true};
  }
  if (c.held.size() == kMaxHeld) {
    c.held.pop_front();
    ++c.dropped;
  }
  c.held.push_back(event);
  return {false, 0, false};
}

std::optional<BreakerChange> RuleBreaker::record(std::string_view rule, const BreakerPolicy& policy,
                                                 std::uint64_t generation, bool ok, MonoTime now) {
  auto it = circuits_.find(rule);
  if (it == circuits_.end()) return std::nullopt;
  Circuit& c = it->second;
  c.cool_down = policy.cool_down;
  if (generation != c.generation) return std::nullopt;  // from before the last change
  BreakerChange change;
  change.rule = it->first;
  switch (c.state) {
    case BreakerState::kClosed:
      if (ok) {
        c.failures = 0;
        return std::nullopt;
      }
      if (++c.failures < policy.failures) return std::nullopt;
      open(c, now);
      change.to = BreakerState::kOpen;
      change.failures = c.failures;
      return change;
    case BreakerState::kOpen:
      return std::nullopt;  // cannot happen: open admits nothing of its generation
    case BreakerState::kHalfOpen:
      c.trial_running = false;
      if (!ok) {
        ++c.failures;
        open(c, now);
        change.to = BreakerState::kOpen;
        change.failures = c.failures;
        change.held = c.held.size();
        return change;
      }
      c.state = BreakerState::kClosed;
      c.failures = 0;
      ++c.generation;
      change.to = BreakerState::kClosed;
      change.held = c.held.size();
      change.dropped = std::exchange(c.dropped, 0);
      change.to_fire.assign(std::make_move_iterator(c.held.begin()),
                            std::make_move_iterator(c.held.end()));
      c.held.clear();
      change.generation = c.generation;
      return change;
  }
  return std::nullopt;
}

std::vector<BreakerChange> RuleBreaker::take_due(MonoTime now) {
  std::vector<BreakerChange> out;
  for (auto& [name, c] : circuits_) {
    if (c.state != BreakerState::kOpen || c.reopen_at > now) continue;
    c.state = BreakerState::kHalfOpen;
    ++c.generation;
    BreakerChange change;
    change.rule = name;
    change.to = BreakerState::kHalfOpen;
    change.failures = c.failures;
    change.held = c.held.size();
    change.generation = c.generation;
    if (!c.held.empty()) {
      change.to_fire.push_back(std::move(c.held.front()));
      c.held.pop_front();
      c.trial_running = true;
    }
    out.push_back(std::move(change));
  }
  return out;
}

std::optional<MonoTime> RuleBreaker::next_deadline() const {
  std::optional<MonoTime> earliest;
  for (const auto& [name, c] : circuits_)
    if (c.state == BreakerState::kOpen && (!earliest || c.reopen_at < *earliest))
      earliest = c.reopen_at;
  return earliest;
}

void RuleBreaker::retain_rules(const std::function<bool(std::string_view rule)>& keep) {
  std::erase_if(circuits_, [&](const auto& entry) { return !keep(entry.first); });
}

BreakerState RuleBreaker::state(std::string_view rule) const {
  auto it = circuits_.find(rule);
  return it == circuits_.end() ? BreakerState::kClosed : it->second.state;
}

std::size_t RuleBreaker::held(std::string_view rule) const {
  auto it = circuits_.find(rule);
  return it == circuits_.end() ? 0 : it->second.held.size();
}

}  // namespace aw
