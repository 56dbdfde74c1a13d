#include "src/agents/hook_status.h"

#include <gtest/gtest.h>

#include <chrono>

namespace aw::agents {
namespace {

Event hook(std::string agent, std::string event,
           std::initializer_list<std::pair<std::string, FieldValue>> fields = {}) {
  Event e;
  e.kind = "agent.hook";
  e.fields.set("agent", std::move(agent));
  e.fields.set("event", std::move(event));
  for (const auto& [k, v] : fields) e.fields.set(k, v);
  return e;
}

std::optional<AgentStatus> status(const Event& e) {
  return read_hook(e).status;
}

TEST(ReadHook, ClaudeTurnsAndTools) {
  EXPECT_EQ(status(hook("claude", "SessionStart")), AgentStatus::idle());
  EXPECT_EQ(status(hook("claude", "UserPromptSubmit")), AgentStatus::working());
  EXPECT_EQ(status(hook("claude", "PreToolUse", {{"tool_name", std::string("Bash")}})),
            AgentStatus::working());
  EXPECT_EQ(status(hook("claude", "PostToolUse")), AgentStatus::working());
  EXPECT_EQ(status(hook("claude", "PreCompact")), AgentStatus::working());
  EXPECT_EQ(status(hook("claude", "Stop")), AgentStatus::idle());
  EXPECT_EQ(status(hook("claude", "SessionEnd")), AgentStatus::exited());
}

TEST(ReadHook, ClaudeNotificationsByTypeThenByWording) {
  EXPECT_EQ(status(hook("claude", "Notification",
                        {{"notification_type", std::string("permission_prompt")}})),
            AgentStatus::waiting(WaitReason::kPermission));
  EXPECT_EQ(status(hook("claude", "Notification",
                        {{"notification_type", std::string("elicitation_dialog")}})),
            AgentStatus::waiting(WaitReason::kQuestion));
  EXPECT_EQ(
      status(hook("claude", "Notification", {{"notification_type", std::string("idle_prompt")}})),
      AgentStatus::idle());
  EXPECT_EQ(status(hook("claude", "Notification",
                        {{"message", std::string("Claude needs your permission to use Bash")}})),
            AgentStatus::waiting(WaitReason::kPermission));
  // A type this code does not know yet says nothing, whatever its message.
  EXPECT_EQ(status(hook("claude", "Notification",
                        {{"notification_type", std::string("auth_success")},
                         {"message", std::string("permission granted")}})),
            std::nullopt);
}

TEST(ReadHook, ClaudeStopFailureIsARateLimitOrAnError) {
  EXPECT_EQ(status(hook("claude", "StopFailure", {{"error", std::string("rate_limit")}})),
            AgentStatus::rate_limited());
  EXPECT_EQ(status(hook("claude", "StopFailure", {{"error", std::string("server_error")}})),
            AgentStatus::errored());
}

TEST(ReadHook, ClaudeStatusLineSaysRateLimitedOnlyWhenAWindowIsUsedUp) {
  EXPECT_EQ(status(hook("claude", "statusline",
                        {{"rate_5h_used_pct", 42.0}, {"context_used_pct", std::int64_t{90}}})),
            std::nullopt);
  EXPECT_EQ(
      status(hook("claude", "statusline",
                  {{"rate_5h_used_pct", 100.0}, {"rate_5h_resets_at", std::int64_t{1800000000}}})),
      AgentStatus::rate_limited(WallTime(std::chrono::seconds(1800000000))));
  EXPECT_EQ(status(hook("claude", "statusline", {{"rate_7d_used_pct", std::int64_t{100}}})),
            AgentStatus::rate_limited());
}

TEST(ReadHook, GeminiAndCodex) {
  EXPECT_EQ(status(hook("gemini", "BeforeAgent")), AgentStatus::working());
  EXPECT_EQ(status(hook("gemini", "AfterAgent")), AgentStatus::idle());
  EXPECT_EQ(status(hook("gemini", "Notification",
                        {{"notification_type", std::string("ToolPermission")}})),
            AgentStatus::waiting(WaitReason::kPermission));
  EXPECT_EQ(status(hook("gemini", "SessionEnd")), AgentStatus::exited());
  EXPECT_EQ(status(hook("codex", "agent-turn-complete")), AgentStatus::idle());
}

TEST(ReadHook, UnknownAgentsAndEventsSayNothingButAreEvidence) {
  const HookReading r = read_hook(hook("claude", "SomeFutureHook", {{"source", std::string("x")}}));
  EXPECT_EQ(r.status, std::nullopt);
  EXPECT_EQ(r.said, "hook SomeFutureHook x");
  EXPECT_EQ(status(hook("aider", "Stop")), std::nullopt);
  EXPECT_EQ(read_hook(hook("claude", "Notification",
                           {{"notification_type", std::string("permission_prompt")}}))
                .said,
            "hook Notification permission_prompt");
}

}  // namespace
}  // namespace aw::agents
