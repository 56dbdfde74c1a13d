#include "src/agents/agent_status.h"

#include <algorithm>
#include <array>

#include "src/core/event.h"

namespace aw::agents {
namespace {

constexpr std::array<std::string_view, 8> kStateNames{
    "starting", "working", "idle", "waiting", "rate_limited", "context_low", "errored", "exited"};
constexpr std::array<std::string_view, 3> kReasonNames{"permission", "question", "input"};

}  // namespace

std::string_view state_name(AgentState s) {
  return kStateNames[static_cast<std::size_t>(s)];
}

std::optional<AgentState> parse_state(std::string_view name) {
  for (std::size_t i = 0; i < kStateNames.size(); ++i)
    if (kStateNames[i] == name) return static_cast<AgentState>(i);
  return std::nullopt;
}

const std::vector<std::string_view>& all_state_names() {
  static const std::vector<std::string_view> names(kStateNames.begin(), kStateNames.end());
  return names;
}

std::string_view wait_reason_name(WaitReason r) {
  return kReasonNames[static_cast<std::size_t>(r)];
}

std::optional<WaitReason> parse_wait_reason(std::string_view name) {
  for (std::size_t i = 0; i < kReasonNames.size(); ++i)
    if (kReasonNames[i] == name) return static_cast<WaitReason>(i);
  return std::nullopt;
}

const std::vector<std::string_view>& all_wait_reason_names() {
  static const std::vector<std::string_view> names(kReasonNames.begin(), kReasonNames.end());
  return names;
}

AgentStatus AgentStatus::context_low(int pct_left) {
  return AgentStatus(ContextLow{std::clamp(pct_left, 0, 100)});
}

std::optional<WaitReason> AgentStatus::reason() const {
  if (const auto* w = std::get_if<Waiting>(&v_)) return w->reason;
  return std::nullopt;
}

std::optional<WallTime> AgentStatus::reset_at() const {
  if (const auto* r = std::get_if<RateLimited>(&v_)) return r->reset_at;
  return std::nullopt;
}

std::optional<int> AgentStatus::context_pct() const {
  if (const auto* c = std::get_if<ContextLow>(&v_)) return c->pct_left;
  return std::nullopt;
}

std::string AgentStatus::to_string() const {
  std::string out(state_name(state()));
  if (auto r = reason()) out += "(" + std::string(wait_reason_name(*r)) + ")";
  if (auto t = reset_at()) out += "(reset " + format_time_utc(*t) + ")";
  if (auto p = context_pct()) out += "(" + std::to_string(*p) + "%)";
  return out;
}

}  // namespace aw::agents
