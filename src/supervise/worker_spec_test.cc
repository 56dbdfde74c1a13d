#include "src/supervise/worker_spec.h"

#include <gtest/gtest.h>

#include <cstdlib>

namespace aw {
namespace {

using std::chrono::milliseconds;
using std::chrono::minutes;
using std::chrono::seconds;

std::vector<WorkerSpec> parse_ok(std::string_view text) {
  auto r = parse_worker_specs_from_string(text, "agentwatch.toml");
  EXPECT_TRUE(r.ok()) << (r.ok() ? "" : r.error().message);
  return r.ok() ? *r : std::vector<WorkerSpec>{};
}

std::string parse_error(std::string_view text) {
  auto r = parse_worker_specs_from_string(text, "agentwatch.toml");
  EXPECT_FALSE(r.ok());
  return r.ok() ? "" : r.error().message;
}

TEST(WorkerSpec, DefaultsFromTheIssue) {
  auto specs = parse_ok(R"(
[[worker]]
name = "builder"
argv = ["claude", "-p", "build it"]
)");
  ASSERT_EQ(specs.size(), 1u);
  const WorkerSpec& w = specs[0];
  EXPECT_EQ(w.name, "builder");
  EXPECT_EQ(w.argv, (std::vector<std::string>{"claude", "-p", "build it"}));
  EXPECT_EQ(w.restart.mode, RestartMode::kOnFailure);
  EXPECT_EQ(w.restart.max_restarts, 2);
  EXPECT_EQ(w.restart.stable_after, seconds(60));
  EXPECT_EQ(w.restart.min_spawn_interval, seconds(1));
  EXPECT_EQ(w.runtime_limit, seconds(1800));
  EXPECT_EQ(w.timeout_grace, seconds(60));
  EXPECT_EQ(w.heartbeat_timeout, seconds(600));
  EXPECT_EQ(w.max_extensions, 3);
  EXPECT_EQ(w.phantom_grace, seconds(900));
  EXPECT_EQ(w.source, "agentwatch.toml");
  EXPECT_EQ(w.line, 2u);
}

TEST(WorkerSpec, EveryKey) {
  ::setenv("HOME", "/home/tester", 1);
  auto specs = parse_ok(R"(
[daemon]
shutdown_grace = "5s"

[[worker]]
name = "planner"
argv = ["plan"]

[[worker]]
name = "builder"
argv = ["build", "--fast"]
cwd = "~/agents/builder"
env = { TOKEN_BUDGET = "100", MODE = "ci" }
pid_file = "~/run/builder.pid"
tmux_session = "builder-1"
depends_on = ["planner"]
restart = "always"
max_restarts = 5
restart_window = "30m"
backoff = { initial = "250ms", factor = 3, max = "2m", jitter = 0.1 }
stable_after = 120
min_spawn_interval = "500ms"
circuit_threshold = 4
circuit_cooldown = "10m"
runtime_limit = "45m"
timeout_grace = "2m"
heartbeat = "~/agents/builder/log"
heartbeat_timeout = "5m"
max_extensions = 1
phantom_grace = "20m"
kill_grace = "3s"
start_grace = "1m"
)");
  ASSERT_EQ(specs.size(), 2u);
  const WorkerSpec& w = specs[1];
  EXPECT_EQ(w.cwd, "/home/tester/agents/builder");
  // toml++ keeps a table's keys sorted.
  EXPECT_EQ(w.env, (std::vector<std::pair<std::string, std::string>>{{"MODE", "ci"},
                                                                     {"TOKEN_BUDGET", "100"}}));
  EXPECT_EQ(w.pid_file, "/home/tester/run/builder.pid");
  EXPECT_EQ(w.tmux_session, "builder-1");
  EXPECT_EQ(w.depends_on, std::vector<std::string>{"planner"});
  EXPECT_EQ(w.restart.mode, RestartMode::kAlways);
  EXPECT_EQ(w.restart.max_restarts, 5);
  EXPECT_EQ(w.restart.restart_window, minutes(30));
  EXPECT_EQ(w.restart.backoff.initial, milliseconds(250));
  EXPECT_EQ(w.restart.backoff.factor, 3.0);
  EXPECT_EQ(w.restart.backoff.max, minutes(2));
  EXPECT_EQ(w.restart.backoff.jitter, 0.1);
  EXPECT_EQ(w.restart.stable_after, seconds(120));
  EXPECT_EQ(w.restart.min_spawn_interval, milliseconds(500));
  EXPECT_EQ(w.restart.circuit_threshold, 4);
  EXPECT_EQ(w.restart.circuit_cooldown, minutes(10));
  EXPECT_EQ(w.runtime_limit, minutes(45));
  EXPECT_EQ(w.timeout_grace, minutes(2));
  EXPECT_EQ(w.heartbeat, "/home/tester/agents/builder/log");
  EXPECT_EQ(w.heartbeat_timeout, minutes(5));
  EXPECT_EQ(w.max_extensions, 1);
  EXPECT_EQ(w.phantom_grace, minutes(20));
  EXPECT_EQ(w.kill_grace, seconds(3));
  EXPECT_EQ(w.start_grace, minutes(1));
}

TEST(WorkerSpec, AdoptOnlyWorkerNeedsNoArgv) {
  auto specs = parse_ok(R"(
[[worker]]
name = "external"
pid_file = "/run/user/1000/external.pid"
)");
  ASSERT_EQ(specs.size(), 1u);
  EXPECT_TRUE(specs[0].argv.empty());
  // Its tmux session's pane process is enough to adopt it by.
  auto in_tmux = parse_ok("[[worker]]\nname = \"agent\"\ntmux_session = \"agent-1\"\n");
  ASSERT_EQ(in_tmux.size(), 1u);
  EXPECT_TRUE(in_tmux[0].argv.empty());
  EXPECT_TRUE(in_tmux[0].pid_file.empty());
  EXPECT_EQ(in_tmux[0].tmux_session, "agent-1");
}

TEST(WorkerSpec, NoWorkersIsAnEmptyList) {
  EXPECT_TRUE(parse_ok("[daemon]\nshutdown_grace = \"1s\"\n").empty());
}

TEST(WorkerSpec, MisspeltKeyNamesLineColumnAndSuggests) {
  std::string e = parse_error(R"([[worker]]
name = "a"
argv = ["x"]
max_restart = 3
)");
  EXPECT_EQ(e,
            "agentwatch.toml:4:1: error: unknown key 'max_restart' in [[worker]]; did you "
            "mean 'max_restarts'?");
}

TEST(WorkerSpec, BadValuesNameTheirPosition) {
  std::string e = parse_error(R"([[worker]]
name = "a"
argv = ["x"]
runtime_limit = "30 minutes"
max_restarts = -1
restart = "on_failure"
backoff = { initial = "1s", factr = 2 }
)");
  EXPECT_NE(e.find("agentwatch.toml:4:17: error: 'runtime_limit': "), std::string::npos) << e;
  EXPECT_NE(e.find("agentwatch.toml:5:16: error: 'max_restarts': expected an integer from 0"),
            std::string::npos)
      << e;
  EXPECT_NE(e.find("agentwatch.toml:6:11: error: 'restart': unknown mode \"on_failure\"; did you "
                   "mean 'on-failure'?"),
            std::string::npos)
      << e;
  EXPECT_NE(e.find("agentwatch.toml:7:29: error: unknown key 'factr' in 'backoff'; did you mean "
                   "'factor'?"),
            std::string::npos)
      << e;
  // One line per problem.
  EXPECT_EQ(std::count(e.begin(), e.end(), '\n'), 3) << e;
}

TEST(WorkerSpec, TimeoutGraceIsADurationAndMayBeZero) {
  auto specs = parse_ok("[[worker]]\nname = \"a\"\nargv = [\"x\"]\ntimeout_grace = 0\n");
  ASSERT_EQ(specs.size(), 1u);
  EXPECT_EQ(specs[0].timeout_grace, seconds(0));
  std::string e =
      parse_error("[[worker]]\nname = \"a\"\nargv = [\"x\"]\ntimeout_grace = \"soon\"\n");
  EXPECT_EQ(e.rfind("agentwatch.toml:4:17: error: 'timeout_grace': ", 0), 0u) << e;
  EXPECT_NE(e.find("expected a duration like"), std::string::npos) << e;
  std::string typo = parse_error("[[worker]]\nname = \"a\"\nargv = [\"x\"]\ntimeout_grase = 5\n");
  EXPECT_NE(typo.find("did you mean 'timeout_grace'?"), std::string::npos) << typo;
}

TEST(WorkerSpec, MissingNameAndNothingToRun) {
  std::string e = parse_error("[[worker]]\ncwd = \"/tmp\"\n");
  EXPECT_NE(e.find("agentwatch.toml:1:1: error: [[worker]] needs a 'name'"), std::string::npos)
      << e;
  EXPECT_NE(e.find("needs 'argv' (to start it), or 'pid_file' or 'tmux_session'"),
            std::string::npos)
      << e;
}

TEST(WorkerSpec, WrongTypes) {
  std::string e = parse_error(R"([[worker]]
name = "a"
argv = "claude -p"
env = { 9LIVES = "x", OK = 3 }
pid_file = "relative.pid"
)");
  EXPECT_NE(e.find(":3:8: error: 'argv' expects an array of strings, not a string"),
            std::string::npos)
      << e;
  EXPECT_NE(e.find(":4:9: error: 'env': \"9LIVES\" is not a valid variable name"),
            std::string::npos)
      << e;
  EXPECT_NE(e.find(":4:28: error: 'env.OK' expects a string, not an integer"), std::string::npos)
      << e;
  EXPECT_NE(e.find(":5:12: error: 'pid_file': expected an absolute path"), std::string::npos) << e;
}

TEST(WorkerSpec, DuplicateNames) {
  std::string e = parse_error(R"([[worker]]
name = "a"
argv = ["x"]
[[worker]]
name = "a"
argv = ["y"]
)");
  EXPECT_NE(e.find("agentwatch.toml:5:8: error: worker 'a' is declared twice (first at line 1)"),
            std::string::npos)
      << e;
}

TEST(WorkerSpec, UnknownDependencySuggestsAName) {
  std::string e = parse_error(R"([[worker]]
name = "planner"
argv = ["x"]
[[worker]]
name = "builder"
argv = ["y"]
depends_on = ["planer"]
)");
  EXPECT_EQ(e,
            "agentwatch.toml:7:15: error: 'depends_on': no worker named 'planer' is declared; "
            "did you mean 'planner'?");
}

TEST(WorkerSpec, DependencyCycleIsRefused) {
  std::string e = parse_error(R"([[worker]]
name = "a"
argv = ["x"]
depends_on = ["b"]
[[worker]]
name = "b"
argv = ["y"]
depends_on = ["a"]
)");
  EXPECT_NE(e.find("the dependencies form a cycle (a → b → a)"), std::string::npos) << e;
  std::string self =
      parse_error("[[worker]]\nname = \"a\"\nargv = [\"x\"]\ndepends_on = [\"a\"]\n");
  EXPECT_NE(self.find(":4:15: error: 'depends_on': worker 'a' cannot depend on itself"),
            std::string::npos)
      << self;
}

TEST(WorkerSpec, BackoffBounds) {
  std::string e = parse_error(R"([[worker]]
name = "a"
argv = ["x"]
backoff = { initial = "10s", max = "1s", jitter = 1.5, factor = 0.5 }
)");
  EXPECT_NE(e.find("'backoff.jitter': expected a fraction from 0 to 1"), std::string::npos) << e;
  EXPECT_NE(e.find("'backoff.factor': expected a number from 1 to 100"), std::string::npos) << e;
  EXPECT_NE(e.find("'backoff': 'max' (1s) is below 'initial' (10s)"), std::string::npos) << e;
  // "cap" is an alias of "max".
  auto specs = parse_ok("[[worker]]\nname = \"a\"\nargv = [\"x\"]\nbackoff = { cap = \"7s\" }\n");
  ASSERT_EQ(specs.size(), 1u);
  EXPECT_EQ(specs[0].restart.backoff.max, seconds(7));
}

TEST(WorkerSpec, TomlSyntaxErrorHasPosition) {
  std::string e = parse_error("[[worker]]\nname = \"a\nargv = [\"x\"]\n");
  EXPECT_EQ(e.rfind("agentwatch.toml:2:", 0), 0u) << e;
}

TEST(WorkerSpec, WorkerMustBeAnArrayOfTables) {
  std::string e = parse_error("worker = 3\n");
  EXPECT_NE(e.find("agentwatch.toml:1:10: error: 'worker': expected [[worker]] sections"),
            std::string::npos)
      << e;
  std::string e2 = parse_error("worker = [1]\n");
  EXPECT_NE(e2.find("agentwatch.toml:1:11: error: 'worker': expected tables"), std::string::npos)
      << e2;
}

TEST(WorkerSpec, ParseFromArrayDirectly) {
  toml::table root = toml::parse("[[worker]]\nname = \"w\"\nargv = [\"true\"]\n");
  auto r = parse_worker_specs(*root["worker"].as_array(), "x.toml");
  ASSERT_TRUE(r.ok());
  EXPECT_EQ((*r)[0].name, "w");
}

}  // namespace
}  // namespace aw
