// What an agent's hook call says about its status: the `agent.hook` event the
// hook client sends (src/hooks/hook_payload.h, docs/hooks.md) read as one
// hook-source reading for AgentTracker (docs/agents.md, "Hooks").
//
//   Claude Code   SessionStart → idle (ready for a prompt); UserPromptSubmit,
//                 PreToolUse, PostToolUse, PreCompact → working; Notification
//                 by notification_type (permission_prompt → waiting
//                 permission, elicitation_dialog → waiting question,
//                 idle_prompt → idle; without a type, by its message's
//                 wording); Stop → idle; StopFailure → rate_limited when its
//                 error says rate_limit, else errored; SessionEnd → exited.
//                 The status line: rate_limited with its reset time when a
//                 window is used up (100 %), nothing otherwise.
//   Gemini CLI    SessionStart → idle; BeforeAgent, BeforeTool, AfterTool,
//                 PreCompress → working; AfterAgent → idle; Notification
//                 (ToolPermission) → waiting permission; SessionEnd → exited.
//   Codex CLI     agent-turn-complete → idle.
//
// Anything else is no reading (unknown never acts): a new hook event of a new
// agent release changes nothing until it is mapped here.
//
// Pure.
#pragma once

#include <optional>
#include <string>

#include "src/agents/agent_status.h"
#include "src/core/event.h"

namespace aw::agents {

struct HookReading {
  std::optional<AgentStatus> status;  // nullopt: the call says nothing about it
  std::string said;                   // "hook Notification permission_prompt"
};

// `hook` is an agent.hook event (fields agent, event, …).
HookReading read_hook(const Event& hook);

}  // namespace aw::agents
