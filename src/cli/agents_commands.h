// `agentwatch hook AGENT EVENT` (what agents' hooks run) and `agentwatch agents
// install-hooks AGENT` (docs/hooks.md).
#pragma once

#include <string>

namespace CLI {
class App;
}

namespace aw {

struct GlobalFlags;

// Adds `hook`, `agents` (the list) and `agents install-hooks`. `code`
// receives the exit code of the command that ran.
void add_agents_commands(CLI::App& app, GlobalFlags& g, int& code);

// `agentwatch agents [--json]`: the coding agents the daemon knows and their
// status (docs/agents.md). Exit 3 when the daemon is not running. Defined with
// the other commands that ask the daemon (ops_commands.cc).
int cmd_agents_list(const GlobalFlags& g, bool json);

// The agentwatch-hook executable beside `self` (installed: the same bindir;
// a build tree: src/hooks/), or "" when there is none.
std::string find_hook_program(const std::string& self);

}  // namespace aw
