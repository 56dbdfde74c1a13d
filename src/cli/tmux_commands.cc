// `agentwatch tmux hooks [--install] [--tmux-conf FILE]` and `agentwatch
// logpipe --file PATH`: the two commands tmux itself runs or is configured
// with (docs/tmux.md).
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>
#include <CLI/CLI.hpp>

#include <cerrno>
#include <iostream>
#include <string>
#include <vector>

#include "src/cli/cli_common.h"
#include "src/logpipe/logpipe.h"
#include "src/os/errno_text.h"
#include "src/tmux/tmux_hooks.h"

namespace aw {
namespace {

// The global flags the hooks must repeat so `notify` reaches this daemon.
std::vector<std::string> path_args(const GlobalFlags& g) {
  std::vector<std::string> args;
  const Paths p = resolve_paths(g.overrides);
  if (!g.overrides.runtime_dir.empty()) args.insert(args.end(), {"--runtime-dir", p.runtime_dir});
  return args;
}

// Runs tmux with `argv` (no shell) and waits: the CLI is allowed to block.
int run_tmux(const std::vector<std::string>& argv, std::string* error) {
  std::vector<char*> args;
  args.reserve(argv.size() + 1);
  for (const auto& a : argv) args.push_back(const_cast<char*>(a.c_str()));
  args.push_back(nullptr);
  pid_t pid = -1;
  const int rc = posix_spawnp(&pid, args[0], nullptr, nullptr, args.data(), environ);
  if (rc != 0) {
    *error = "cannot run " + argv[0] + ": " + errno_text(rc);
    return -1;
  }
  int status = 0;
  while (waitpid(pid, &status, 0) < 0 && errno == EINTR) {
  }
  if (WIFEXITED(status) && WEXITSTATUS(status) == 0) return 0;
  *error = argv[0] + " failed (is a tmux server running? the command was: tmux";
  for (std::size_t i = 1; i < argv.size() && i < 6; ++i) *error += " " + argv[i];
  *error += " ...)";
  return -1;
}

int cmd_tmux_hooks(const GlobalFlags& g, bool install, const std::string& tmux_conf,
                   bool uninstall) {
  auto config = load_config(resolve_paths(g.overrides));
  if (!config) return 1;
  HookOptions o;
  o.agentwatch = self_exe();
  o.extra_args = path_args(g);
  if (!install && !uninstall) {
    for (const auto& line : hook_lines(o)) std::cout << line << "\n";
    return 0;
  }
  std::vector<std::string> argv = config->tmux_command;
  const auto commands = uninstall ? hook_unset_commands() : hook_set_commands(o);
  const auto joined = join_tmux_commands(commands);
  argv.insert(argv.end(), joined.begin(), joined.end());
  std::string error;
  if (run_tmux(argv, &error) != 0) {
    std::cerr << "agentwatch: " << error << "\n";
    return 1;
  }
  std::cout << (uninstall ? "removed " : "installed ") << commands.size()
            << " hooks from the running tmux server\n";
  if (!tmux_conf.empty()) {
    if (Status s = install_into_tmux_conf(tmux_conf,
                                          uninstall ? std::vector<std::string>{} : hook_lines(o));
        !s) {
      std::cerr << "agentwatch: " << s.error().message << "\n";
      return 1;
    }
    std::cout << (uninstall ? "removed the hook block from " : "wrote the hook block to ")
              << tmux_conf << "\n";
  }
  return 0;
}

int cmd_logpipe(const std::string& file) {
  LogpipeOptions o;
  o.path = file;
  std::string error;
  const int rc = run_logpipe(o, STDIN_FILENO, &error);
  if (rc != 0 && !error.empty()) std::cerr << "agentwatch logpipe: " << error << "\n";
  return rc;
}

}  // namespace

void add_tmux_commands(CLI::App& app, GlobalFlags& g, int& code) {
  static bool install = false;
  static bool uninstall = false;
  static std::string tmux_conf;
  static std::string file;

  auto* tmux = app.add_subcommand("tmux", "tmux integration");
  tmux->require_subcommand(1);
  auto* hooks = tmux->add_subcommand(
      "hooks", "Print the set-hook lines that notify agentwatch (or install them)");
  hooks->add_flag("--install", install,
                  "Install them into the running tmux server ([tmux] command)");
  hooks->add_flag("--uninstall", uninstall, "Remove them from the running server (and the file)");
  hooks
      ->add_option("--tmux-conf", tmux_conf,
                   "Also write them into this tmux.conf (a marked block, replaced on reinstall)")
      ->type_name("FILE");
  hooks->callback([&] { code = cmd_tmux_hooks(g, install, tmux_conf, uninstall); });

  auto* logpipe = app.add_subcommand(
      "logpipe", "Append stdin to a file, reopening it when rotated (tmux pipe-pane)");
  logpipe->add_option("--file", file, "The log file")->required()->type_name("PATH");
  logpipe->callback([&] { code = cmd_logpipe(file); });
}

}  // namespace aw
