// `agentwatch agents install-hooks AGENT [--settings FILE] [--uninstall]
// [--dry-run]`: the file side of hook_settings.h (docs/hooks.md).
//
// For a settings file, in this order, stopping at the first error with the
// file unchanged:
//   1. read it (a symlink is followed: the file it names is edited, the link
//      stays); a missing file is empty settings;
//   2. parse it (JSON errors read "FILE:LINE:COL: error: WHAT") and compute
//      the edit; nothing to change → say so, touch nothing (idempotent);
//   3. --dry-run: list the changes and stop;
//   4. back up the current content beside it: FILE.agentwatch-backup, or,
//      when that exists already (an earlier install's), FILE.agentwatch-backup.
//      <UTC time>; the output names it;
//   5. replace the file atomically (temp file, fsync, rename, directory
//      fsync) with its mode kept (0600 for a new file).
// Blocking file I/O: for the CLI.
#pragma once

#include <ostream>
#include <string>

#include "src/core/clock.h"
#include "src/hooks/hook_payload.h"
#include "src/hooks/hook_settings.h"

namespace aw {

struct InstallHooksOptions {
  HookAgent agent = HookAgent::kClaude;
  std::string settings;  // the file to edit; "" = default_settings_path
  HookProgram program;   // what the entries run
  bool uninstall = false;
  bool dry_run = false;
  bool statusline = true;  // Claude Code: add our statusLine when none is set
};

// ~/.claude/settings.json, ~/.codex/config.toml, ~/.gemini/settings.json
// (Codex: $CODEX_HOME/config.toml when CODEX_HOME is set).
std::string default_settings_path(HookAgent agent, const std::string& home,
                                  const std::string& codex_home);

// Runs the steps above; the report goes to `out`, errors to `err`. Returns the
// exit code: 0 done (or nothing to do), 1 refused or failed (file unchanged).
int install_hooks(const InstallHooksOptions& options, std::ostream& out, std::ostream& err,
                  WallTime now);

}  // namespace aw
