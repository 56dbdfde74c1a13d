#include "src/state/lifecycle.h"

namespace aw {

std::string_view entity_kind_name(EntityKind kind) {
  switch (kind) {
    case EntityKind::kWorker:
      return "worker";
    case EntityKind::kSession:
      return "session";
    case EntityKind::kProject:
      return "project";
  }
  return "worker";
}

std::optional<EntityKind> parse_entity_kind(std::string_view name) {
  for (auto kind : {EntityKind::kWorker, EntityKind::kSession, EntityKind::kProject})
    if (entity_kind_name(kind) == name) return kind;
  return std::nullopt;
}

std::string_view lifecycle_state_name(LifecycleState state) {
  switch (state) {
    case LifecycleState::kQueued:
      return "queued";
    case LifecycleState::kProcessing:
      return "processing";
    case LifecycleState::kTimingOut:
      return "timing_out";
    case LifecycleState::kZombie:
      return "zombie";
    case LifecycleState::kFailed:
      return "failed";
    case LifecycleState::kCompleted:
      return "completed";
  }
  return "queued";
}

std::optional<LifecycleState> parse_lifecycle_state(std::string_view name) {
  for (auto state : kAllLifecycleStates)
    if (lifecycle_state_name(state) == name) return state;
  return std::nullopt;
}

const TransitionRule* find_transition_rule(LifecycleState from, LifecycleState to) {
  for (const auto& rule : kTransitionTable)
    if (rule.from == from && rule.to == to) return &rule;
  return nullptr;
}

std::string summarize_evidence(const std::vector<Evidence>& evidence) {
  std::string out;
  for (const auto& e : evidence) {
    if (!out.empty()) out += "; ";
    out += e.signal;
    if (!e.detail.empty()) {
      out += ": ";
      out += e.detail;
    }
  }
  return out;
}

TransitionResult check_transition(LifecycleState from, LifecycleState to) {
  // Completion wins, whatever is asked: a finished project must never be marked
  // failed by a late exit status (DESIGN §6.7). Checked before "already" so the
  // answer for `completed` is always the same words.
  if (from == LifecycleState::kCompleted)
    return {false, "completed is final", Refusal::kCompletedIsFinal};
  if (from == to)
    return {false, "already " + std::string(lifecycle_state_name(from)), Refusal::kSameState};
  if (find_transition_rule(from, to)) return {true, "", Refusal::kNone};
  std::string legal;
  for (const auto& rule : kTransitionTable) {
    if (rule.from != from) continue;
    if (!legal.empty()) legal += ", ";
    legal += lifecycle_state_name(rule.to);
  }
  std::string refusal = "illegal transition ";
  refusal += lifecycle_state_name(from);
  refusal += " -> ";
  refusal += lifecycle_state_name(to);
  refusal += " (from ";
  refusal += lifecycle_state_name(from);
  refusal += ": ";
  refusal += legal;
  refusal += ")";
  return {false, std::move(refusal), Refusal::kIllegalEdge};
}

TransitionResult check_transition(const EntityRecord& entity, LifecycleState to) {
  return check_transition(entity.state, to);
}

TransitionResult check_recover_reset(LifecycleState from, bool force) {
  if (from == LifecycleState::kQueued) return {false, "already queued", Refusal::kSameState};
  if (from == LifecycleState::kCompleted && !force)
    return {false, "completed is final (reset a completed entity with --force)",
            Refusal::kCompletedIsFinal};
  return {true, "", Refusal::kNone};
}

}  // namespace aw
