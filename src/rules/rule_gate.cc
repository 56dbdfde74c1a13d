#include "src/rules/rule_gate.h"

namespace aw {

const char* gate_decision_name(GateDecision d) {
  switch (d) {
    case GateDecision::kFire:
      return "fire";
    case GateDecision::kDeferred:
      return "deferred";
    case GateDecision::kSuppressed:
      return "suppressed";
  }
  return "unknown";
}

std::string_view gate_subject(const Event& e, GateSubject per) {
  if (e.path.empty()) return e.entity;
  if (per == GateSubject::kPath) return e.path;
  std::string_view path = e.path;
  const std::size_t slash = path.rfind('/');
  if (slash == std::string_view::npos) return "";
  return slash == 0 ? path.substr(0, 1) : path.substr(0, slash);
}

void RuleGate::start_cooldown(const Key& key, Slot& slot, MonoTime now) {
  slot.cooling = true;
  slot.cool_until = now + slot.cooldown;
  cooldown_expiries_.emplace(slot.cool_until, key);
}

GateDecision RuleGate::offer(std::string_view rule, const GatePolicy& policy,
                             std::string_view subject, const Event& event, MonoTime now) {
  if (!policy.active()) return GateDecision::kFire;
  prune(now);
  Key key{std::string(rule), std::string(subject)};
  auto it = slots_.find(key);
  if (it != slots_.end() && it->second.cooling && now < it->second.cool_until)
    return GateDecision::kSuppressed;

  if (policy.debounce <= Duration::zero()) {
    // Cooldown only: fire now and start cooling.
    Slot& slot = it != slots_.end() ? it->second : slots_[key];
    slot.cooldown = policy.cooldown;
    start_cooldown(key, slot, now);
    return GateDecision::kFire;
  }

  Slot& slot = it != slots_.end() ? it->second : slots_[key];
  if (slot.held) due_.erase({slot.due, key});
  slot.held = true;
  slot.cooling = false;
  slot.event = event;  // the last event wins
  slot.due = now + policy.debounce;
  slot.cooldown = policy.cooldown;
  due_.emplace(slot.due, key);
  return GateDecision::kDeferred;
}

std::vector<DueFiring> RuleGate::take_due(MonoTime now) {
  std::vector<DueFiring> out;
  while (!due_.empty() && due_.begin()->first <= now) {
    Key key = due_.begin()->second;
    due_.erase(due_.begin());
    auto it = slots_.find(key);
    if (it == slots_.end()) continue;  // cannot happen: held slots are never pruned
    Slot& slot = it->second;
    out.push_back(DueFiring{key.first, key.second, std::move(slot.event)});
    slot.held = false;
    slot.event = Event{};
    if (slot.cooldown > Duration::zero())
      start_cooldown(key, slot, now);
    else
      slots_.erase(it);
  }
  prune(now);
  return out;
}

std::size_t RuleGate::drop_held(std::string_view subject) {
  std::size_t dropped = 0;
  for (auto it = due_.begin(); it != due_.end();) {
    if (it->second.second != subject) {
      ++it;
      continue;
    }
    auto slot = slots_.find(it->second);
    if (slot != slots_.end()) {
      slot->second.held = false;
      slot->second.event = Event{};
      if (!slot->second.cooling) slots_.erase(slot);
    }
    it = due_.erase(it);
    ++dropped;
  }
  return dropped;
}

std::optional<MonoTime> RuleGate::next_deadline() const {
  if (due_.empty()) return std::nullopt;
  return due_.begin()->first;
}

void RuleGate::prune(MonoTime now) {
  while (!cooldown_expiries_.empty() && cooldown_expiries_.begin()->first <= now) {
    auto it = slots_.find(cooldown_expiries_.begin()->second);
    cooldown_expiries_.erase(cooldown_expiries_.begin());
    if (it == slots_.end()) continue;
    Slot& slot = it->second;
    if (slot.cooling && slot.cool_until <= now) slot.cooling = false;
    if (!slot.cooling && !slot.held) slots_.erase(it);
  }
}

void RuleGate::retain_rules(const std::function<bool(std::string_view)>& keep) {
  for (auto it = slots_.begin(); it != slots_.end();) {
    if (keep(it->first.first)) {
      ++it;
      continue;
    }
    if (it->second.held) due_.erase({it->second.due, it->first});
    it = slots_.erase(it);
  }
  // Stale expiry entries for erased slots are skipped by prune().
}

}  // namespace aw
