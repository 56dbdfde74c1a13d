#include "src/hooks/hook_payload.h"

#include <gtest/gtest.h>

#include <fstream>
#include <sstream>

namespace aw {
namespace {

std::string fixture(const std::string& rel) {
  std::ifstream in(std::string(AW_SOURCE_DIR) + "/tests/fixtures/hooks/" + rel);
  EXPECT_TRUE(in.good()) << rel;
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

Event map(HookAgent agent, const std::string& event, const std::string& payload,
          const HookOrigin& origin = {}) {
  HookCall call;
  call.agent = agent;
  call.event = event;
  call.payload = payload;
  return map_hook_call(call, origin);
}

std::string str(const Event& e, const char* key) {
  return e.fields.get_string(key).value_or("<none>");
}

TEST(HookPayload, ClaudeCommonFieldsAndKind) {
  const std::string p = fixture("claude/SessionStart.json");
  Event e = map(HookAgent::kClaude, "SessionStart", p);
  EXPECT_EQ(e.kind, "agent.hook");
  EXPECT_EQ(str(e, "agent"), "claude");
  EXPECT_EQ(str(e, "event"), "SessionStart");
  EXPECT_EQ(str(e, "session_id"), "9f1c2d3e-0a4b-4c5d-8e6f-112233445566");
  EXPECT_EQ(str(e, "cwd"), "/home/u/proj");
  EXPECT_EQ(str(e, "permission_mode"), "default");
  EXPECT_EQ(str(e, "source"), "startup");
  EXPECT_FALSE(e.fields.find("payload_error"));
}

TEST(HookPayload, ClaudeNotificationPermissionPrompt) {
  const std::string p = fixture("claude/Notification-permission.json");
  Event e = map(HookAgent::kClaude, "Notification", p);
  EXPECT_EQ(str(e, "notification_type"), "permission_prompt");
  EXPECT_EQ(str(e, "message"), "Claude needs your permission to use Bash");
}

TEST(HookPayload, ClaudeNotificationIdlePrompt) {
  const std::string p = fixture("claude/Notification-idle.json");
  EXPECT_EQ(str(map(HookAgent::kClaude, "Notification", p), "notification_type"), "idle_prompt");
}

TEST(HookPayload, ClaudeToolEventsForwardToolNameNotInput) {
  const std::string pre = fixture("claude/PreToolUse.json");
  Event e = map(HookAgent::kClaude, "PreToolUse", pre);
  EXPECT_EQ(str(e, "tool_name"), "Bash");
  EXPECT_FALSE(e.fields.find("tool_input"));
  EXPECT_FALSE(e.fields.find("command"));
  const std::string post = fixture("claude/PostToolUse.json");
  EXPECT_EQ(str(map(HookAgent::kClaude, "PostToolUse", post), "tool_name"), "Write");
}

TEST(HookPayload, ClaudeUserPromptSubmitDoesNotForwardThePrompt) {
  const std::string p = fixture("claude/UserPromptSubmit.json");
  Event e = map(HookAgent::kClaude, "UserPromptSubmit", p);
  EXPECT_EQ(str(e, "event"), "UserPromptSubmit");
  for (const auto& [k, v] : e.fields)
    EXPECT_EQ(field_to_string(v).find("failing test"), std::string::npos) << k;
  EXPECT_FALSE(e.fields.find("prompt"));
}

TEST(HookPayload, ClaudeStopHasStopHookActive) {
  const std::string p = fixture("claude/Stop.json");
  Event e = map(HookAgent::kClaude, "Stop", p);
  ASSERT_TRUE(e.fields.find("stop_hook_active"));
  EXPECT_EQ(*e.fields.find("stop_hook_active"), FieldValue(false));
}

TEST(HookPayload, ClaudeStopFailureErrorAndDetails) {
  const std::string p = fixture("claude/StopFailure.json");
  Event e = map(HookAgent::kClaude, "StopFailure", p);
  EXPECT_EQ(str(e, "error"), "rate_limit");
  EXPECT_EQ(str(e, "error_details"),
            "429 Too Many Requests: You've hit your session limit \u00b7 resets 4:20pm "
            "(Europe/London)");
}

TEST(HookPayload, StopFailureAlternativeSpellingErrorTypeAndMessage) {
  Event e = map(HookAgent::kClaude, "StopFailure",
                R"({"error_type":"server_error","error_message":"overloaded"})");
  EXPECT_EQ(str(e, "error"), "server_error");
  EXPECT_EQ(str(e, "error_details"), "overloaded");
}

TEST(HookPayload, ClaudePreCompactTriggerAndSessionEndReason) {
  const std::string pc = fixture("claude/PreCompact.json");
  const std::string se = fixture("claude/SessionEnd.json");
  EXPECT_EQ(str(map(HookAgent::kClaude, "PreCompact", pc), "trigger"), "auto");
  EXPECT_EQ(str(map(HookAgent::kClaude, "SessionEnd", se), "reason"), "prompt_input_exit");
}

TEST(HookPayload, EventNameFromPayloadWhenNotGiven) {
  const std::string p = fixture("claude/Stop.json");
  EXPECT_EQ(str(map(HookAgent::kClaude, "", p), "event"), "Stop");
}

TEST(HookPayload, StatusLineForwardsContextAndRateLimits) {
  const std::string p = fixture("claude/statusline.json");
  Event e = map(HookAgent::kClaude, "statusline", p);
  EXPECT_EQ(str(e, "model"), "Opus");
  EXPECT_EQ(*e.fields.find("context_used_pct"), FieldValue(std::int64_t{42}));
  EXPECT_EQ(*e.fields.find("context_window_size"), FieldValue(std::int64_t{200000}));
  EXPECT_EQ(*e.fields.find("rate_5h_used_pct"), FieldValue(16.5));
  EXPECT_EQ(*e.fields.find("rate_5h_resets_at"), FieldValue(std::int64_t{1790000000}));
  EXPECT_EQ(*e.fields.find("rate_7d_used_pct"), FieldValue(std::int64_t{44}));
  EXPECT_EQ(*e.fields.find("rate_7d_resets_at"), FieldValue(std::int64_t{1790400000}));
  // Cost and token counts are not status: not forwarded.
  EXPECT_FALSE(e.fields.find("total_cost_usd"));
}

TEST(HookPayload, StatusLineWithoutRateLimitsInventsNone) {
  const std::string p = fixture("claude/statusline-minimal.json");
  Event e = map(HookAgent::kClaude, "statusline", p);
  EXPECT_EQ(str(e, "cwd"), "/home/u/other");
  EXPECT_FALSE(e.fields.find("context_used_pct"));
  EXPECT_FALSE(e.fields.find("rate_5h_used_pct"));
  EXPECT_FALSE(e.fields.find("rate_5h_resets_at"));
}

TEST(HookPayload, CodexAgentTurnComplete) {
  const std::string p = fixture("codex/agent-turn-complete.json");
  Event e = map(HookAgent::kCodex, "", p);
  EXPECT_EQ(str(e, "agent"), "codex");
  EXPECT_EQ(str(e, "event"), "agent-turn-complete");
  EXPECT_EQ(str(e, "session_id"), "b5f6c1d2-7a8b-4c9d-0e1f-a2b3c4d5e6f7");
  EXPECT_EQ(str(e, "turn_id"), "12345");
  EXPECT_EQ(str(e, "cwd"), "/home/u/proj");
  EXPECT_EQ(str(e, "message"), "Rename complete and verified `cargo build` succeeds.");
  EXPECT_FALSE(e.fields.find("input-messages"));
}

TEST(HookPayload, GeminiEvents) {
  const std::string bt = fixture("gemini/BeforeTool.json");
  Event e = map(HookAgent::kGemini, "BeforeTool", bt);
  EXPECT_EQ(str(e, "agent"), "gemini");
  EXPECT_EQ(str(e, "tool_name"), "run_shell_command");
  EXPECT_EQ(str(e, "session_id"), "c0ffee00-1234-5678-9abc-def012345678");
  const std::string n = fixture("gemini/Notification.json");
  Event ne = map(HookAgent::kGemini, "Notification", n);
  EXPECT_EQ(str(ne, "notification_type"), "ToolPermission");
  EXPECT_EQ(str(ne, "message"), "Allow run_shell_command: rm -rf build?");
  const std::string aa = fixture("gemini/AfterAgent.json");
  EXPECT_EQ(*map(HookAgent::kGemini, "AfterAgent", aa).fields.find("stop_hook_active"),
            FieldValue(false));
  const std::string ss = fixture("gemini/SessionStart.json");
  EXPECT_EQ(str(map(HookAgent::kGemini, "SessionStart", ss), "source"), "resume");
  const std::string pc = fixture("gemini/PreCompress.json");
  EXPECT_EQ(str(map(HookAgent::kGemini, "PreCompress", pc), "trigger"), "manual");
}

TEST(HookPayload, OriginFieldsFromTmuxEnvironment) {
  HookOrigin o;
  o.tmux_pane = "%7";
  o.tmux_env = "/tmp/tmux-1000/default,4242,3";
  o.agent_pid = 999;
  Event e = map(HookAgent::kClaude, "Stop", "{}", o);
  EXPECT_EQ(str(e, "tmux_pane"), "%7");
  EXPECT_EQ(str(e, "tmux_socket"), "/tmp/tmux-1000/default");
  EXPECT_EQ(*e.fields.find("tmux_server_pid"), FieldValue(std::int64_t{4242}));
  EXPECT_EQ(str(e, "tmux_session"), "$3");
  EXPECT_EQ(*e.fields.find("agent_pid"), FieldValue(std::int64_t{999}));
}

TEST(HookPayload, TmuxSocketWithCommasIsSplitFromTheRight) {
  HookOrigin o;
  o.tmux_env = "/tmp/odd,name/sock,17,0";
  Event e = map(HookAgent::kClaude, "Stop", "{}", o);
  EXPECT_EQ(str(e, "tmux_socket"), "/tmp/odd,name/sock");
  EXPECT_EQ(str(e, "tmux_session"), "$0");
}

TEST(HookPayload, NoTmuxNoOriginFields) {
  Event e = map(HookAgent::kClaude, "Stop", "{}");
  EXPECT_FALSE(e.fields.find("tmux_pane"));
  EXPECT_FALSE(e.fields.find("tmux_socket"));
  EXPECT_FALSE(e.fields.find("agent_pid"));
}

TEST(HookPayload, InvalidJsonStillGivesAnEventWithPayloadError) {
  Event e = map(HookAgent::kClaude, "Stop", "{\"session_id\": ");
  EXPECT_EQ(str(e, "event"), "Stop");
  EXPECT_NE(str(e, "payload_error").find("invalid JSON"), std::string::npos);
}

TEST(HookPayload, EmptyPayloadAndNonObjectPayload) {
  EXPECT_NE(str(map(HookAgent::kGemini, "AfterAgent", ""), "payload_error").find("empty"),
            std::string::npos);
  EXPECT_NE(str(map(HookAgent::kClaude, "", "[1,2]"), "payload_error").find("not an object"),
            std::string::npos);
  EXPECT_EQ(str(map(HookAgent::kClaude, "", "[1,2]"), "event"), "unknown");
}

TEST(HookPayload, WrongTypesAreSkippedNotGuessed) {
  Event e = map(HookAgent::kClaude, "Notification",
                R"({"session_id":42,"message":["x"],"stop_hook_active":"yes"})");
  EXPECT_FALSE(e.fields.find("session_id"));
  EXPECT_FALSE(e.fields.find("message"));
  EXPECT_FALSE(e.fields.find("stop_hook_active"));
}

TEST(HookPayload, LongMessageIsCutOnAUtf8Boundary) {
  std::string msg(kHookTextMaxBytes - 1, 'a');
  msg += "\u00e9\u00e9\u00e9";  // 2-byte characters across the limit
  Event e = map(HookAgent::kClaude, "Notification", "{\"message\":\"" + msg + "\"}");
  const std::string got = str(e, "message");
  EXPECT_EQ(got, std::string(kHookTextMaxBytes - 1, 'a') + "\u2026");
}

TEST(HookPayload, TruncateUtf8KeepsShortTextAndCutsLongText) {
  EXPECT_EQ(truncate_utf8("abc", 3), "abc");
  EXPECT_EQ(truncate_utf8("abcd", 3), "abc\u2026");
  EXPECT_EQ(truncate_utf8("\u2713\u2713", 4), "\u2713\u2026");
}

TEST(HookPayload, AgentNames) {
  EXPECT_EQ(parse_hook_agent("claude"), HookAgent::kClaude);
  EXPECT_EQ(parse_hook_agent("codex"), HookAgent::kCodex);
  EXPECT_EQ(parse_hook_agent("gemini"), HookAgent::kGemini);
  EXPECT_FALSE(parse_hook_agent("Claude"));
  EXPECT_EQ(hook_agent_name(HookAgent::kGemini), "gemini");
}

TEST(StatusLine, RendersWhatThePayloadHas) {
  const std::string p = fixture("claude/statusline.json");
  Event e = map(HookAgent::kClaude, "statusline", p);
  const WallTime now{std::chrono::seconds(1790000000 - 2 * 3600 - 5 * 60)};
  EXPECT_EQ(render_status_line(e, now),
            "Opus \u00b7 ctx 42% \u00b7 5h 17% (resets in 2h05m) \u00b7 7d 44% (resets in 4d17h)");
}

TEST(StatusLine, OnlyTheModelWhenNothingElseIsKnown) {
  const std::string p = fixture("claude/statusline-minimal.json");
  Event e = map(HookAgent::kClaude, "statusline", p);
  EXPECT_EQ(render_status_line(e, WallTime{}), "Sonnet");
}

TEST(StatusLine, ResetInThePastIsNotShown) {
  Event e;
  e.fields.set("rate_5h_used_pct", FieldValue(std::int64_t{100}));
  e.fields.set("rate_5h_resets_at", FieldValue(std::int64_t{10}));
  EXPECT_EQ(render_status_line(e, WallTime{std::chrono::seconds(100)}), "5h 100%");
}

}  // namespace
}  // namespace aw
