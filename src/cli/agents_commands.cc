#include "src/cli/agents_commands.h"

#include <unistd.h>
#include <CLI/CLI.hpp>

#include <iostream>
#include <string>
#include <vector>

#include "src/cli/cli_common.h"
#include "src/hooks/hook_client.h"
#include "src/hooks/hook_install.h"
#include "src/os/environ.h"

namespace aw {

namespace {

// `agentwatch hook …` hands over to agentwatch-hook, whose start costs far
// less than this binary's (docs/hooks.md, "Cost"); when it is missing, the
// same code runs here. Like the hook program, it always exits 0.
int cmd_hook(const GlobalFlags& g, const std::vector<std::string>& args) {
  std::vector<std::string> argv;
  const std::string program = find_hook_program(self_exe());
  argv.push_back(program.empty() ? "agentwatch-hook" : program);
  if (!g.overrides.runtime_dir.empty()) {
    argv.emplace_back("--runtime-dir");
    argv.push_back(resolve_paths(g.overrides).runtime_dir);
  }
  argv.insert(argv.end(), args.begin(), args.end());
  if (!program.empty()) {
    std::vector<char*> c_argv;
    c_argv.reserve(argv.size() + 1);
    for (auto& a : argv) c_argv.push_back(a.data());
    c_argv.push_back(nullptr);
    ::execv(program.c_str(), c_argv.data());
    // Not runnable after all: fall through to the in-process client.
  }
  std::vector<char*> c_argv;
  c_argv.reserve(argv.size());
  for (auto& a : argv) c_argv.push_back(a.data());
  return hook_main(static_cast<int>(c_argv.size()), c_argv.data());
}

int cmd_install_hooks(const GlobalFlags& g, const std::string& agent_name, InstallHooksOptions o) {
  auto agent = parse_hook_agent(agent_name);
  if (!agent) {
    std::cerr << "agentwatch agents install-hooks: unknown agent \"" << agent_name
              << "\" (expected claude, codex or gemini)\n";
    return 2;
  }
  o.agent = *agent;
  if (o.settings.empty())
    o.settings = default_settings_path(o.agent, env_or("HOME", "/"), env_or("CODEX_HOME", ""));
  const std::string self = self_exe();
  const std::string program = find_hook_program(self);
  if (program.empty()) {
    std::cerr << "agentwatch agents install-hooks: warning: no agentwatch-hook beside " << self
              << "; the hooks will run `agentwatch hook`, which starts slower\n";
    o.program.argv = {self, "hook"};
  } else {
    o.program.argv = {program};
  }
  // The hooks must reach this daemon: repeat a chosen runtime dir.
  if (!g.overrides.runtime_dir.empty())
    o.program.argv.insert(o.program.argv.end(),
                          {"--runtime-dir", resolve_paths(g.overrides).runtime_dir});
  return install_hooks(o, std::cout, std::cerr, SystemClock().wall());
}

}  // namespace

std::string find_hook_program(const std::string& self) {
  const std::string dir = self.substr(0, self.find_last_of('/'));
  for (const std::string& candidate :
       {dir + "/agentwatch-hook", dir + "/src/hooks/agentwatch-hook"})
    if (::access(candidate.c_str(), X_OK) == 0) return candidate;
  return "";
}

void add_agents_commands(CLI::App& app, GlobalFlags& g, int& code) {
  static std::vector<std::string> hook_args;
  auto* hook = app.add_subcommand(
      "hook", "What an agent's hook runs: forward the event to the daemon (always exits 0)");
  hook->add_option("args", hook_args, "AGENT EVENT (payload on stdin), or codex JSON")
      ->type_name("AGENT EVENT|JSON")
      ->required();
  hook->callback([&] { code = cmd_hook(g, hook_args); });

  auto* agents = app.add_subcommand(
      "agents", "Coding agents: what each is doing (working, waiting, rate-limited…), their hooks");
  agents->require_subcommand(0, 1);
  static bool list_json = false;
  agents->add_flag("--json", list_json, "The list as JSON");
  agents->callback([agents, &g, &code] {
    if (agents->get_subcommands().empty()) code = cmd_agents_list(g, list_json);
  });
  static std::string agent_name;
  static InstallHooksOptions options;
  static bool no_statusline = false;
  auto* install = agents->add_subcommand(
      "install-hooks", "Add agentwatch's hooks to an agent's settings (a backup first)");
  install->add_option("agent", agent_name, "claude, codex or gemini")->required();
  install->add_option("--settings", options.settings, "The settings file (default: the agent's)")
      ->type_name("FILE");
  install->add_flag("--uninstall", options.uninstall,
                    "Remove exactly the entries agentwatch added");
  install->add_flag("--dry-run", options.dry_run, "Say what would change; change nothing");
  install->add_flag("--no-statusline", no_statusline,
                    "Claude Code: do not add the statusLine command");
  install->callback([&] {
    options.statusline = !no_statusline;
    code = cmd_install_hooks(g, agent_name, options);
  });
}

}  // namespace aw
