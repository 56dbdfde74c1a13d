#include "src/agents/hook_status.h"

#include <chrono>
#include <cstdint>
#include <string_view>
#include <variant>

namespace aw::agents {
namespace {

// A number field, integer or not (the status line's percentages are 16.0).
std::optional<double> number(const Fields& f, const std::string& key) {
  const FieldValue* v = f.find(key);
  if (!v) return std::nullopt;
  if (const auto* i = std::get_if<std::int64_t>(v)) return static_cast<double>(*i);
  if (const auto* d = std::get_if<double>(v)) return *d;
  return std::nullopt;
}

bool contains(std::string_view text, std::string_view what) {
  return text.find(what) != std::string_view::npos;
}

std::optional<AgentStatus> claude_notification(std::string_view type, std::string_view message) {
  if (type == "permission_prompt") return AgentStatus::waiting(WaitReason::kPermission);
  if (type == "elicitation_dialog") return AgentStatus::waiting(WaitReason::kQuestion);
  if (type == "idle_prompt") return AgentStatus::idle();
  if (!type.empty()) return std::nullopt;  // auth_success and types to come
  // Older releases send no type: "Claude needs your permission to use Bash",
  // "Claude is waiting for your input".
  if (contains(message, "permission")) return AgentStatus::waiting(WaitReason::kPermission);
  if (contains(message, "waiting for your input")) return AgentStatus::idle();
  return std::nullopt;
}

std::optional<AgentStatus> claude(std::string_view event, const Fields& f) {
  if (event == "SessionStart" || event == "Stop") return AgentStatus::idle();
  if (event == "UserPromptSubmit" || event == "PreToolUse" || event == "PostToolUse" ||
      event == "PreCompact")
    return AgentStatus::working();
  if (event == "Notification")
    return claude_notification(f.get_string("notification_type").value_or(""),
                               f.get_string("message").value_or(""));
  if (event == "StopFailure") {
    if (contains(f.get_string("error").value_or(""), "rate_limit"))
      return AgentStatus::rate_limited();
    return AgentStatus::errored();
  }
  if (event == "SessionEnd") return AgentStatus::exited();
  if (event == "statusline") {
    // A window used up is a limit hit; its reset time is the agent's own.
    for (const char* window : {"rate_5h", "rate_7d"}) {
      const std::string w = window;
      const auto used = number(f, w + "_used_pct");
      const auto resets = number(f, w + "_resets_at");
      if (used && *used >= 100) {
        std::optional<WallTime> at;
        if (resets && *resets > 0)
          at = WallTime(std::chrono::seconds(static_cast<std::int64_t>(*resets)));
        return AgentStatus::rate_limited(at);
      }
    }
  }
  return std::nullopt;
}

std::optional<AgentStatus> gemini(std::string_view event, const Fields& f) {
  if (event == "SessionStart" || event == "AfterAgent") return AgentStatus::idle();
  if (event == "BeforeAgent" || event == "BeforeTool" || event == "AfterTool" ||
      event == "PreCompress")
    return AgentStatus::working();
  if (event == "Notification") {
    const std::string type = f.get_string("notification_type").value_or("");
    if (type == "ToolPermission") return AgentStatus::waiting(WaitReason::kPermission);
    return std::nullopt;
  }
  if (event == "SessionEnd") return AgentStatus::exited();
  return std::nullopt;
}

}  // namespace

HookReading read_hook(const Event& hook) {
  const std::string agent = hook.fields.get_string("agent").value_or("");
  const std::string event = hook.fields.get_string("event").value_or("");
  HookReading r;
  r.said = "hook " + event;
  for (const char* detail : {"notification_type", "error", "source", "reason"})
    if (auto v = hook.fields.get_string(detail); v && !v->empty()) r.said += " " + *v;
  if (agent == "claude")
    r.status = claude(event, hook.fields);
  else if (agent == "gemini")
    r.status = gemini(event, hook.fields);
  else if (agent == "codex" && event == "agent-turn-complete")
    r.status = AgentStatus::idle();
  return r;
}

}  // namespace aw::agents
