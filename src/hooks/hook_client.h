// The hook process: what an agent runs on each hook event (docs/hooks.md).
//
//   agentwatch-hook [--runtime-dir DIR] claude EVENT      JSON on stdin
//   agentwatch-hook [--runtime-dir DIR] gemini EVENT      JSON on stdin
//   agentwatch-hook [--runtime-dir DIR] codex JSON        Codex's notify program
//   agentwatch-hook [--runtime-dir DIR] claude statusline JSON on stdin; prints the status
//
// Agents run hooks synchronously and read what a hook prints and how it
// exits (Claude Code: exit 0 with empty stdout is "no effect"; Gemini CLI
// parses stdout as JSON). So a hook call:
//   - always exits 0, whatever happened (a bad payload, no daemon, a full
//     disk): agentwatch must never change what the agent does;
//   - prints nothing on stdout, except the status line for `statusline`;
//   - says what went wrong, if anything, in one line on stderr;
//   - costs one read of stdin (at most kHookMaxPayloadBytes are parsed; the
//     rest is drained so the agent's write never fails), one connect and one
//     write to notify.sock, and a short wait for the reply; when the daemon is
//     down the message goes to the spool (notify_client.h, the same code as
//     `agentwatch notify`), delivered once when the daemon takes it in.
//
// The status line runs on every redraw of Claude Code's screen; it forwards
// only when what it shows has changed since the last call for that session
// (a fingerprint in <runtime_dir>/statusline.<session>), so a long session
// does not flood the event log.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "src/core/clock.h"
#include "src/core/result.h"
#include "src/hooks/hook_payload.h"

namespace aw {

// Payloads above this are not parsed (the event says so in payload_error).
inline constexpr std::size_t kHookMaxPayloadBytes = 1024 * 1024;
// Connect + write + the wait for the reply. Shorter than `agentwatch notify`'s
// 200 ms: an agent waits for its hooks, and a message without a reply in time
// is spooled as well (delivered once, by id).
inline constexpr Duration kHookSendTimeout = std::chrono::milliseconds(100);

struct HookArgs {
  HookAgent agent = HookAgent::kClaude;
  std::string event;         // EVENT (claude, gemini); "" for codex
  std::string argv_payload;  // codex: the JSON argument
  std::string runtime_dir;   // --runtime-dir; "" = $XDG_RUNTIME_DIR/agentwatch
};

// Parses the arguments after the program name. Errors name what was wrong
// and the usage.
Result<HookArgs> parse_hook_args(const std::vector<std::string_view>& args);

// Where the hook's output goes (fds, so that nothing is buffered past exit).
struct HookIo {
  int in = 0;
  int out = 1;
  int err = 2;
};

// Runs one hook call: reads the payload, maps it (hook_payload.h), sends it.
// Returns the process's exit code: 0, always (see above).
int run_hook(const HookArgs& args, const HookIo& io);

// The whole program: parse_hook_args, then run_hook. Bad arguments are
// reported on stderr and still exit 0: an agent must not fail for a typo in
// its settings.
int hook_main(int argc, char** argv);

}  // namespace aw
