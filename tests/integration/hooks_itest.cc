// Agent hooks end to end (docs/hooks.md): the real agentwatch-hook fed the
// fixture payloads as an agent feeds them (stdin, or Codex's last argument)
// reaches the real daemon's event log as agent.hook events; with the daemon
// down it exits 0 at once and the message is delivered from the spool when
// the daemon starts; install-hooks merges into a copy of a settings file and
// --uninstall gives its content back.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <vector>

#include "tests/integration/harness.h"

namespace aw::testing {
namespace {

std::string fixture(const std::string& rel) {
  return std::string(AW_SOURCE_DIR) + "/tests/fixtures/hooks/" + rel;
}
std::string hook_bin() {
  return std::filesystem::path(agentwatch_bin()).parent_path().string() +
         "/src/hooks/agentwatch-hook";
}

struct HookRun {
  int exit_code = -1;
  std::string out;
  std::chrono::milliseconds took{0};
};

// Runs ARGV (no shell) with stdin from `stdin_file` ("" = /dev/null), the
// environment plus `env`, stdout into a file; waits.
HookRun run_with_stdin(const std::vector<std::string>& argv, const std::string& stdin_file,
                       const std::vector<std::string>& env, const TempDir& tmp) {
  posix_spawn_file_actions_t fa;
  posix_spawn_file_actions_init(&fa);
  posix_spawn_file_actions_addopen(&fa, 0, stdin_file.empty() ? "/dev/null" : stdin_file.c_str(),
                                   O_RDONLY, 0);
  const std::string out_path = tmp / "hook.out";
  posix_spawn_file_actions_addopen(&fa, 1, out_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0600);
  std::vector<std::string> envs;
  for (char** e = environ; *e; ++e) envs.emplace_back(*e);
  envs.insert(envs.end(), env.begin(), env.end());
  std::vector<char*> c_env;
  c_env.reserve(envs.size() + 1);
  for (auto& e : envs) c_env.push_back(e.data());
  c_env.push_back(nullptr);
  std::vector<std::string> args = argv;
  std::vector<char*> c_argv;
  c_argv.reserve(args.size() + 1);
  for (auto& a : args) c_argv.push_back(a.data());
  c_argv.push_back(nullptr);
  HookRun r;
  const auto t0 = std::chrono::steady_clock::now();
  pid_t pid = -1;
  if (const int err = posix_spawn(&pid, c_argv[0], &fa, nullptr, c_argv.data(), c_env.data());
      err != 0) {
    ADD_FAILURE() << "cannot run " << argv[0] << ": " << std::strerror(err);
    return r;
  }
  posix_spawn_file_actions_destroy(&fa);
  int status = 0;
  waitpid(pid, &status, 0);
  r.took =
      std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() - t0);
  r.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  r.out = read_file(out_path);
  return r;
}

class HooksTest : public ::testing::Test {
 protected:
  void SetUp() override { d.write_config("[rules]\nshipped = false\n"); }
  HookRun hook(const std::vector<std::string>& args, const std::string& stdin_file,
               const std::vector<std::string>& env = {}) {
    std::vector<std::string> argv = {hook_bin(), "--runtime-dir", d.runtime_dir()};
    argv.insert(argv.end(), args.begin(), args.end());
    return run_with_stdin(argv, stdin_file, env, tmp);
  }
  std::optional<Event> wait_hook(const std::string& agent, const std::string& event) {
    return d.wait_for([&](const Event& e) {
      return e.kind == "agent.hook" && e.fields.get_string("agent") == agent &&
             e.fields.get_string("event") == event;
    });
  }
  DaemonUnderTest d;
  TempDir tmp;
};

TEST_F(HooksTest, ClaudeHooksReachTheEventLogWithTheirFields) {
  d.start();
  const std::vector<std::string> tmux_env = {"TMUX_PANE=%42", "TMUX=/tmp/tmux-1/agents,777,5"};
  auto r =
      hook({"claude", "Notification"}, fixture("claude/Notification-permission.json"), tmux_env);
  EXPECT_EQ(r.exit_code, 0);
  EXPECT_EQ(r.out, "");  // Claude Code reads stdout: nothing there
  auto e = wait_hook("claude", "Notification");
  ASSERT_TRUE(e);
  EXPECT_EQ(e->source, "notify");
  EXPECT_EQ(e->fields.get_string("notification_type"), "permission_prompt");
  EXPECT_EQ(e->fields.get_string("session_id"), "9f1c2d3e-0a4b-4c5d-8e6f-112233445566");
  EXPECT_EQ(e->fields.get_string("cwd"), "/home/u/proj");
  EXPECT_EQ(e->fields.get_string("tmux_pane"), "%42");
  EXPECT_EQ(e->fields.get_string("tmux_socket"), "/tmp/tmux-1/agents");
  EXPECT_EQ(e->fields.get_string("tmux_session"), "$5");
  EXPECT_EQ(e->fields.get_int("tmux_server_pid"), 777);
  EXPECT_GT(e->fields.get_int("agent_pid").value_or(0), 0);
  EXPECT_FALSE(e->fields.find("spooled"));

  ASSERT_EQ(hook({"claude", "StopFailure"}, fixture("claude/StopFailure.json")).exit_code, 0);
  auto f = wait_hook("claude", "StopFailure");
  ASSERT_TRUE(f);
  EXPECT_EQ(f->fields.get_string("error"), "rate_limit");
}

// The daemon reads the hooks as the agent's status (docs/agents.md): one
// agent.status event per change, with its evidence, and `agentwatch agents`.
TEST_F(HooksTest, TheHooksDriveTheAgentsStatus) {
  d.start();
  const std::vector<std::string> pane = {"TMUX_PANE=%7"};
  auto status_to = [&](const std::string& to, std::size_t nth = 1) {
    return d.wait_for_count(
        [&](const Event& e) { return e.kind == "agent.status" && e.fields.get_string("to") == to; },
        nth);
  };
  auto last_status = [&]() -> std::optional<Event> {
    std::optional<Event> last;
    for (const Event& e : d.events())
      if (e.kind == "agent.status") last = e;
    return last;
  };
  ASSERT_EQ(hook({"claude", "SessionStart"}, fixture("claude/SessionStart.json"), pane).exit_code,
            0);
  ASSERT_EQ(status_to("idle"), 1u) << d.stderr_text();
  auto first = last_status();
  ASSERT_TRUE(first);
  EXPECT_EQ(first->source, "agents");
  EXPECT_EQ(first->fields.get_string("from"), "starting");
  EXPECT_EQ(first->fields.get_string("agent"), "claude");
  EXPECT_EQ(first->fields.get_string("pane"), "%7");
  EXPECT_EQ(first->entity, "pane %7");  // no tmux session seen for it
  EXPECT_NE(first->fields.get_string("evidence").value_or("").find("hook: hook SessionStart"),
            std::string::npos);

  ASSERT_EQ(
      hook({"claude", "UserPromptSubmit"}, fixture("claude/UserPromptSubmit.json"), pane).exit_code,
      0);
  ASSERT_EQ(status_to("working"), 1u);
  ASSERT_EQ(hook({"claude", "Notification"}, fixture("claude/Notification-permission.json"), pane)
                .exit_code,
            0);
  ASSERT_EQ(status_to("waiting"), 1u);
  EXPECT_EQ(last_status()->fields.get_string("reason"), "permission");
  EXPECT_EQ(last_status()->fields.get_string("from"), "working");

  // What `agents` shows is the newest status.
  CommandResult list = d.cli({"agents", "--json"});
  EXPECT_EQ(list.exit_code, 0) << list.out;
  EXPECT_NE(
      list.out.find(R"("id":"pane %7","agent":"claude","status":"waiting","reason":"permission")"),
      std::string::npos)
      << list.out;
  CommandResult table = d.cli({"agents"});
  EXPECT_EQ(table.exit_code, 0);
  EXPECT_NE(table.out.find("waiting"), std::string::npos) << table.out;

  // A hit usage limit.
  ASSERT_EQ(hook({"claude", "StopFailure"}, fixture("claude/StopFailure.json"), pane).exit_code, 0);
  ASSERT_EQ(status_to("rate_limited"), 1u);
  // The same word again changes nothing: no second event.
  ASSERT_EQ(hook({"claude", "StopFailure"}, fixture("claude/StopFailure.json"), pane).exit_code, 0);
  ASSERT_EQ(d.wait_for_count(
                [](const Event& e) {
                  return e.kind == "agent.hook" && e.fields.get_string("event") == "StopFailure";
                },
                2),
            2u);
  EXPECT_EQ(d.count([](const Event& e) { return e.kind == "agent.status"; }), 4u);
}

TEST_F(HooksTest, AClientCannotForgeAnAgentsStatus) {
  d.start();
  CommandResult r = d.cli({"notify", "agent.status", "to=working", "pane=%1"});
  EXPECT_NE(r.exit_code, 0) << r.out;
  ASSERT_TRUE(d.wait_for_kind("notify.refused")) << d.stderr_text();
  EXPECT_EQ(d.count([](const Event& e) { return e.kind == "agent.status"; }), 0u);
}

TEST_F(HooksTest, CodexAndGeminiHooks) {
  d.start();
  const std::string codex_json = read_file(fixture("codex/agent-turn-complete.json"));
  ASSERT_EQ(hook({"codex", codex_json}, "").exit_code, 0);
  auto c = wait_hook("codex", "agent-turn-complete");
  ASSERT_TRUE(c);
  EXPECT_EQ(c->fields.get_string("session_id"), "b5f6c1d2-7a8b-4c9d-0e1f-a2b3c4d5e6f7");
  EXPECT_EQ(c->fields.get_string("turn_id"), "12345");

  ASSERT_EQ(hook({"gemini", "BeforeTool"}, fixture("gemini/BeforeTool.json")).exit_code, 0);
  auto g = wait_hook("gemini", "BeforeTool");
  ASSERT_TRUE(g);
  EXPECT_EQ(g->fields.get_string("tool_name"), "run_shell_command");
}

TEST_F(HooksTest, StatusLinePrintsTheStatusAndForwardsOnlyChanges) {
  d.start();
  auto r = hook({"claude", "statusline"}, fixture("claude/statusline.json"));
  EXPECT_EQ(r.exit_code, 0);
  EXPECT_EQ(r.out.rfind("Opus \u00b7 ctx 42% \u00b7 5h 17%", 0), 0U) << r.out;
  auto e = wait_hook("claude", "statusline");
  ASSERT_TRUE(e);
  EXPECT_EQ(e->fields.get_int("context_window_size"), 200000);
  EXPECT_EQ(e->fields.get_int("rate_5h_resets_at"), 1790000000);
  // The same status again: shown, not forwarded. Another session: forwarded.
  EXPECT_EQ(hook({"claude", "statusline"}, fixture("claude/statusline.json")).exit_code, 0);
  ASSERT_EQ(hook({"claude", "statusline"}, fixture("claude/statusline-minimal.json")).out,
            "Sonnet\n");
  ASSERT_TRUE(d.wait_for([](const Event& x) {
    return x.kind == "agent.hook" && x.fields.get_string("model") == "Sonnet";
  }));
  EXPECT_EQ(d.count([](const Event& x) {
    return x.kind == "agent.hook" && x.fields.get_string("model") == "Opus";
  }),
            1U);
}

TEST_F(HooksTest, DaemonDownTheHookExitsAtOnceAndTheSpoolIsDeliveredAtStart) {
  const auto r = hook({"claude", "Stop"}, fixture("claude/Stop.json"));
  EXPECT_EQ(r.exit_code, 0);
  EXPECT_LT(r.took, std::chrono::milliseconds(1000));
  EXPECT_TRUE(exists(d.runtime_dir() + "/notify.spool"));
  d.start();
  auto e = wait_hook("claude", "Stop");
  ASSERT_TRUE(e);
  EXPECT_EQ(e->fields.find("spooled") != nullptr, true);
  EXPECT_EQ(d.count([](const Event& x) {
    return x.kind == "agent.hook" && x.fields.get_string("event") == "Stop";
  }),
            1U);
}

TEST_F(HooksTest, BadInvocationsStillExitZero) {
  EXPECT_EQ(hook({"nobody", "Stop"}, "").exit_code, 0);
  EXPECT_EQ(hook({"claude"}, "").exit_code, 0);
  d.start();
  // Not JSON: forwarded anyway, saying so.
  ASSERT_EQ(hook({"claude", "Stop"}, fixture("settings/codex-config.toml")).exit_code, 0);
  auto e = wait_hook("claude", "Stop");
  ASSERT_TRUE(e);
  EXPECT_NE(e->fields.get_string("payload_error").value_or("").find("invalid JSON"),
            std::string::npos);
}

TEST_F(HooksTest, AgentwatchHookRunsTheFastClient) {
  d.start();
  std::vector<std::string> argv = {agentwatch_bin()};
  for (const auto& f : d.path_flags()) argv.push_back(f);
  argv.insert(argv.end(), {"hook", "claude", "PreToolUse"});
  auto r = run_with_stdin(argv, fixture("claude/PreToolUse.json"), {}, tmp);
  EXPECT_EQ(r.exit_code, 0);
  EXPECT_EQ(r.out, "");
  auto e = wait_hook("claude", "PreToolUse");
  ASSERT_TRUE(e);
  EXPECT_EQ(e->fields.get_string("tool_name"), "Bash");
}

TEST_F(HooksTest, InstallHooksMergesAndUninstallRestores) {
  const std::string settings = tmp / "settings.json";
  const std::string original = read_file(fixture("settings/claude-settings.json"));
  write_file(settings, original);
  auto install = d.cli({"agents", "install-hooks", "claude", "--settings", settings});
  ASSERT_EQ(install.exit_code, 0) << install.err;
  EXPECT_NE(install.out.find("backup of the previous content: " + settings + ".agentwatch-backup"),
            std::string::npos)
      << install.out;
  const std::string merged = read_file(settings);
  EXPECT_NE(merged.find(hook_bin() + " --runtime-dir " + d.runtime_dir() + " claude SessionEnd"),
            std::string::npos)
      << merged;
  EXPECT_NE(merged.find("npx prettier"), std::string::npos);
  auto again = d.cli({"agents", "install-hooks", "claude", "--settings", settings});
  ASSERT_EQ(again.exit_code, 0);
  EXPECT_NE(again.out.find("nothing to change"), std::string::npos) << again.out;
  EXPECT_EQ(read_file(settings), merged);

  auto un = d.cli({"agents", "install-hooks", "claude", "--settings", settings, "--uninstall"});
  ASSERT_EQ(un.exit_code, 0) << un.err;
  // Same parsed JSON as before the install (python's json module, no shell).
  const std::string compare =
      "import json,sys; a=json.load(open(sys.argv[1])); b=json.load(open(sys.argv[2])); "
      "sys.exit(0 if a==b and list(a)==list(b) else 1)";
  auto same =
      run_command({"python3", "-c", compare, settings, fixture("settings/claude-settings.json")});
  EXPECT_EQ(same.exit_code, 0) << read_file(settings);
}

TEST_F(HooksTest, InstallHooksRefusesInvalidJsonWithLineAndColumn) {
  const std::string settings = tmp / "settings.json";
  const std::string bad = read_file(fixture("settings/claude-invalid.json"));
  write_file(settings, bad);
  auto r = d.cli({"agents", "install-hooks", "claude", "--settings", settings});
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.err.find(settings + ":6:3:"), std::string::npos) << r.err;
  EXPECT_EQ(read_file(settings), bad);
}

}  // namespace
}  // namespace aw::testing
