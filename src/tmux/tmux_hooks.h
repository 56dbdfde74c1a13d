// The tmux hooks that tell agentwatch something may have changed: each runs
// `agentwatch notify -q tmux.<hook> key=value…` in the background (run-shell
// -b), which becomes a notify event, which makes the daemon reconcile
// (tmux_watch.h). Hooks are hints: their values can name the wrong pane.
//
// SECURITY: tmux runs a run-shell command through /bin/sh after expanding its
// formats, and session names are chosen by whoever creates sessions. Every
// format is therefore expanded through tmux's #{q:…} modifier (backslash before
// every sh special character; tmux never lets a session name hold a newline),
// the binary path and extra arguments are shell-quoted here, and '#' in them is
// doubled so run-shell does not read it as a format. The whole command is then
// quoted again for tmux's own parser (for a config line or set-hook's value).
//
// The hooks are installed at a fixed array index (kHookIndex) of each hook, so
// a user's own hooks (index 0, or appended with set-hook -a) are left alone and
// installing twice replaces rather than duplicates.
//
// The hook's output and exit status are discarded (>/dev/null 2>&1): run-shell
// would otherwise show them over the agent's pane, where an agent or a rule
// reading the screen would see them. To debug, run the line by hand.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "src/core/result.h"

namespace aw {

inline constexpr int kHookIndex = 87;
inline constexpr std::string_view kHookBlockBegin = "# >>> agentwatch hooks >>>";
inline constexpr std::string_view kHookBlockEnd = "# <<< agentwatch hooks <<<";

struct HookOptions {
  std::string agentwatch;  // absolute path of the agentwatch binary
  std::vector<std::string>
      extra_args;  // global flags before "notify", e.g. {"--runtime-dir", "/x"}
};

// One hook: its tmux name and the shell command run-shell runs (with formats).
struct HookCommand {
  std::string hook;     // "session-closed"
  std::string command;  // shell text with #{q:…} formats, ready for run-shell
};

// The hooks installed, in order: session-created, session-closed, pane-died,
// pane-exited, client-detached, alert-silence, window-linked, window-unlinked.
// docs/tmux.md lists the fields each carries.
std::vector<HookCommand> hook_commands(const HookOptions& options);

// Lines for a tmux.conf: `set-hook -g <hook>[87] '<run-shell -b '…'>'`.
std::vector<std::string> hook_lines(const HookOptions& options);

// The same as tmux arguments, one vector per hook: {"set-hook", "-g",
// "<hook>[87]", "run-shell -b '…'"}, to install into a running server.
std::vector<std::vector<std::string>> hook_set_commands(const HookOptions& options);
// {"set-hook", "-gu", "<hook>[87]"} per hook: removes only ours.
std::vector<std::vector<std::string>> hook_unset_commands();
// Several tmux commands as one argv, separated by ";" elements (one client run).
std::vector<std::string> join_tmux_commands(const std::vector<std::vector<std::string>>& commands);

// Quoting, exposed for tests. shell_quote: one sh word ('…' unless plainly
// safe). tmux_quote: one word for tmux's command parser (same rules).
std::string shell_quote(std::string_view s);
std::string tmux_quote(std::string_view s);

// `conf` with the agentwatch block set to `lines`: an existing block (begin
// marker line to end marker line) is replaced in place; without one, the block
// is appended (after a newline if `conf` does not end with one). Everything
// outside the block is kept byte for byte. Empty `lines` removes the block.
// A begin marker without an end, an end without a begin, or two blocks is an
// error naming `path` and the line.
Result<std::string> with_hook_block(std::string_view conf, const std::vector<std::string>& lines,
                                    std::string_view path);

// Applies with_hook_block to the file at `path` (created if missing), writing a
// temporary file in the same directory then renaming it over (never a torn
// file), keeping the file's mode. A symlink (dotfile managers) is followed and
// its target replaced, not the link. Blocking file I/O: for the CLI, or from
// the thread pool, never on the loop thread.
Status install_into_tmux_conf(const std::string& path, const std::vector<std::string>& lines);

}  // namespace aw
