// The edits `agentwatch agents install-hooks` makes to an agent's settings,
// as pure functions of the settings' content (hook_install.h does the files).
//
//   Claude Code  ~/.claude/settings.json: under "hooks", for each event, one
//                group {"matcher"?, "hooks": [{"type": "command", "command":
//                "<hook> claude EVENT"}]}; and "statusLine" {"type":
//                "command", "command": "<hook> claude statusline"} when the
//                user has none (theirs is never replaced).
//   Gemini CLI   ~/.gemini/settings.json: the same shape, its events, each
//                hook also {"name": "agentwatch"}.
//   Codex CLI    ~/.codex/config.toml: top-level notify = ["<hook>", "codex"]
//                (Codex appends the JSON as the last argument). A notify the
//                user set to something else is refused, never replaced.
//
// Ours is recognised by the command alone: its program is named
// agentwatch-hook (or it is `agentwatch hook`), so an install after the binary
// moved updates the entries in place, and an uninstall finds entries written
// by any earlier install. Everything else in the file is kept, in its order.
//
// Idempotent: adding to settings that already hold our entries, with the same
// command, changes nothing (no changes listed). Removing takes out exactly
// what adding put in: a group we added goes whole; a list or "hooks" object
// that only held ours goes too. So install then uninstall gives back the
// parsed content the file had (two exceptions, documented in docs/hooks.md:
// an empty "hooks": {} or event list that was there before and received our
// entries is removed with them).
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "src/core/result.h"
#include "src/hooks/hook_payload.h"
#include "src/hooks/json_tree.h"

namespace aw {

// The events install-hooks hooks, per agent (Codex: its one notify program).
const std::vector<std::string>& hook_events(HookAgent agent);

// The program a hook entry runs and the arguments before AGENT: the absolute
// path of agentwatch-hook, plus "--runtime-dir DIR" when one was chosen.
struct HookProgram {
  std::vector<std::string> argv;  // e.g. {"/usr/bin/agentwatch-hook"}
};

// The command string of a JSON hook entry (agents run it through a shell):
// each word single-quoted when it holds anything but [A-Za-z0-9_./%+:=@-].
std::string hook_command_line(const HookProgram& program, HookAgent agent, std::string_view event);

// Whether a hook command (a shell string) is one of ours.
bool is_agentwatch_hook_command(std::string_view command);

// What an edit did, one line each ("added hook Notification", …); empty when
// nothing changed.
using SettingsChanges = std::vector<std::string>;

// Claude Code / Gemini CLI settings (the parsed JSON). Errors: the settings
// (or their "hooks", an event's list, a group) are not of the expected type;
// nothing is changed then.
Result<SettingsChanges> add_json_hooks(JsonValue& settings, HookAgent agent,
                                       const HookProgram& program, bool statusline);
Result<SettingsChanges> remove_json_hooks(JsonValue& settings, HookAgent agent);

// Codex: the new text of config.toml (line-level edit: comments, blank lines
// and every other line are kept byte for byte). Errors: a notify set to
// another program (refused: never clobbered), or one that cannot be read.
struct TomlEdit {
  std::string text;
  SettingsChanges changes;
};
Result<TomlEdit> add_codex_notify(std::string_view toml, const HookProgram& program);
Result<TomlEdit> remove_codex_notify(std::string_view toml);

}  // namespace aw
