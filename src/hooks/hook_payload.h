// What an agent's hook call says, as the flat fields of one `agent.hook`
// notify message (docs/hooks.md). The agents hand their hooks JSON:
//
//   Claude Code  stdin, one object per call: session_id, transcript_path, cwd,
//                hook_event_name, permission_mode, and per event e.g.
//                notification_type + message (Notification), tool_name
//                (Pre/PostToolUse), error + error_details (StopFailure),
//                trigger (PreCompact), source (SessionStart), reason (SessionEnd).
//                Its statusLine command gets another object on stdin:
//                context_window.used_percentage, rate_limits.five_hour /
//                seven_day {used_percentage, resets_at (epoch s)}, model.
//   Gemini CLI   stdin, the same common keys; events BeforeTool, AfterTool,
//                BeforeAgent, AfterAgent, Notification, SessionStart,
//                SessionEnd, PreCompress.
//   Codex CLI    its `notify` program gets the JSON as its last argument:
//                {"type":"agent-turn-complete","thread-id":…,"turn-id":…,
//                 "cwd":…,"input-messages":[…],"last-assistant-message":…}
//
// The hook client parses the payload itself (simdjson, microseconds) and sends
// only these fields: a raw payload can exceed the notify line limit (a
// PostToolUse carries whole tool outputs) and would put prompts and file
// contents into the event log. The daemon may map a raw payload with the same
// function.
//
// Only what the payload really holds is forwarded: a missing key is a missing
// field, never a default. Free text (messages, error details) is cut to
// kHookTextMaxBytes on a UTF-8 boundary, marked with a trailing "…".
//
// Pure: no I/O. The caller reads the environment and /proc into HookOrigin.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "src/core/clock.h"
#include "src/core/event.h"

namespace aw {

enum class HookAgent { kClaude, kCodex, kGemini };

// "claude", "codex", "gemini"; nullopt for anything else.
std::optional<HookAgent> parse_hook_agent(std::string_view name);
std::string_view hook_agent_name(HookAgent agent);

// The notify kind of every hook call ("agent." kinds are allowed by default).
inline constexpr std::string_view kAgentHookKind = "agent.hook";
// The pseudo-event of Claude Code's statusLine command.
inline constexpr std::string_view kStatusLineEvent = "statusline";
// Free text longer than this is cut (on a UTF-8 boundary) and ends in "…".
inline constexpr std::size_t kHookTextMaxBytes = 200;

// Where the hook runs, read by the caller from its environment and /proc.
struct HookOrigin {
  std::string tmux_pane;       // $TMUX_PANE, e.g. "%3" (empty outside tmux)
  std::string tmux_env;        // $TMUX: "SOCKET_PATH,SERVER_PID,SESSION_NUMBER"
  std::int64_t agent_pid = 0;  // the agent's process (0: unknown)
};

// One hook call.
struct HookCall {
  HookAgent agent = HookAgent::kClaude;
  // The EVENT argument ("Notification", "statusline", …). Empty: taken from
  // the payload (hook_event_name; Codex's "type").
  std::string event;
  std::string_view payload;  // the JSON text (may be empty or invalid)
};

// The agent.hook event of a call. Never fails: a payload that is not a JSON
// object still yields agent, event and origin fields, plus `payload_error`
// saying what was wrong, so the daemon learns that the agent is alive.
//
// Fields (each only when known): agent, event, session_id, cwd,
// transcript_path, permission_mode, tmux_pane, tmux_socket, tmux_server_pid,
// tmux_session ("$N", tmux's session id), agent_pid; per event:
// notification_type, message, tool_name, stop_hook_active, error,
// error_details, trigger, source, reason, turn_id; for the status line:
// model, context_used_pct, context_window_size, rate_5h_used_pct,
// rate_5h_resets_at, rate_7d_used_pct, rate_7d_resets_at.
Event map_hook_call(const HookCall& call, const HookOrigin& origin);

// The one-line status Claude Code shows for its statusLine command, from a
// mapped statusline event, e.g. "ctx 42% · 5h 16% (resets in 2h05m) · 7d 44%".
// Only the parts the payload had; "" when it had none. `now` dates the resets.
std::string render_status_line(const Event& statusline, WallTime now);

// `text` cut to at most `max_bytes` on a UTF-8 character boundary, with "…"
// appended when anything was cut.
std::string truncate_utf8(std::string_view text, std::size_t max_bytes);

}  // namespace aw
