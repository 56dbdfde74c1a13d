#include "src/agents/agent_status.h"

#include <gtest/gtest.h>

#include "src/core/event.h"

namespace aw::agents {
namespace {

TEST(AgentStatusTest, StateNamesAreStableAndRoundTrip) {
  const std::vector<std::string_view> expected{"starting",     "working",     "idle",    "waiting",
                                               "rate_limited", "context_low", "errored", "exited"};
  EXPECT_EQ(all_state_names(), expected);
  for (std::size_t i = 0; i < expected.size(); ++i) {
    const auto s = static_cast<AgentState>(i);
    EXPECT_EQ(state_name(s), expected[i]);
    EXPECT_EQ(parse_state(expected[i]), s);
  }
}

TEST(AgentStatusTest, UnknownOrMiscasedStateNamesAreRefused) {
  EXPECT_EQ(parse_state("Working"), std::nullopt);
  EXPECT_EQ(parse_state("rate-limited"), std::nullopt);
  EXPECT_EQ(parse_state(""), std::nullopt);
}

TEST(AgentStatusTest, WaitReasonNamesRoundTrip) {
  EXPECT_EQ(all_wait_reason_names(),
            (std::vector<std::string_view>{"permission", "question", "input"}));
  for (auto r : {WaitReason::kPermission, WaitReason::kQuestion, WaitReason::kInput})
    EXPECT_EQ(parse_wait_reason(wait_reason_name(r)), r);
  EXPECT_EQ(parse_wait_reason("approval"), std::nullopt);
}

TEST(AgentStatusTest, DetailExistsOnlyForItsState) {
  const WallTime t(std::chrono::seconds(1767225600));
  EXPECT_EQ(AgentStatus::waiting(WaitReason::kQuestion).reason(), WaitReason::kQuestion);
  EXPECT_EQ(AgentStatus::rate_limited(t).reset_at(), t);
  EXPECT_EQ(AgentStatus::context_low(12).context_pct(), 12);
  EXPECT_EQ(AgentStatus::working().reason(), std::nullopt);
  EXPECT_EQ(AgentStatus::working().reset_at(), std::nullopt);
  EXPECT_EQ(AgentStatus::working().context_pct(), std::nullopt);
  EXPECT_EQ(AgentStatus::rate_limited().reset_at(), std::nullopt);
  EXPECT_EQ(AgentStatus::idle().state(), AgentState::kIdle);
  EXPECT_EQ(AgentStatus::exited().state(), AgentState::kExited);
}

TEST(AgentStatusTest, ContextPercentageIsClamped) {
  EXPECT_EQ(AgentStatus::context_low(-3).context_pct(), 0);
  EXPECT_EQ(AgentStatus::context_low(140).context_pct(), 100);
}

TEST(AgentStatusTest, EqualityComparesTheDetail) {
  const WallTime t(std::chrono::seconds(100));
  EXPECT_EQ(AgentStatus::rate_limited(t), AgentStatus::rate_limited(t));
  EXPECT_NE(AgentStatus::rate_limited(t), AgentStatus::rate_limited());
  EXPECT_NE(AgentStatus::waiting(WaitReason::kInput), AgentStatus::waiting(WaitReason::kQuestion));
  EXPECT_NE(AgentStatus::context_low(5), AgentStatus::context_low(6));
  EXPECT_NE(AgentStatus::idle(), AgentStatus::working());
}

TEST(AgentStatusTest, ToStringShowsTheDetail) {
  EXPECT_EQ(AgentStatus::idle().to_string(), "idle");
  EXPECT_EQ(AgentStatus::waiting(WaitReason::kPermission).to_string(), "waiting(permission)");
  EXPECT_EQ(AgentStatus::context_low(12).to_string(), "context_low(12%)");
  EXPECT_EQ(
      AgentStatus::rate_limited(WallTime(std::chrono::seconds(1767225600))).to_string(),
      "rate_limited(reset " + format_time_utc(WallTime(std::chrono::seconds(1767225600))) + ")");
  EXPECT_EQ(AgentStatus::rate_limited().to_string(), "rate_limited");
}

}  // namespace
}  // namespace aw::agents
