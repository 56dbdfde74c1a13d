// Completion detection by the shipped rules (DESIGN §6 scenario 7: a git commit,
// a phase file) and log rotation under a fast writer (scenario 13), through the
// real daemon: a real git repository, real files, `agentwatch logpipe`.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <signal.h>
#include <spawn.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>
#include <zlib.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <map>
#include <sstream>
#include <thread>

#include "tests/integration/harness.h"

namespace aw::testing {
namespace {

bool completed(const Event& e, const std::string& entity) {
  return e.kind == "state.changed" && e.entity == entity &&
         e.fields.get_string("to") == "completed";
}

// `git -C REPO ARGS...` as the test user "t"; its exit code.
int git(const std::string& repo, const std::vector<std::string>& args) {
  std::vector<std::string> argv{"git", "-C", repo, "-c", "user.name=t", "-c", "user.email=t@x"};
  argv.insert(argv.end(), args.begin(), args.end());
  return run_command(argv).exit_code;
}

void write_atomically(const std::string& path, const std::string& text) {
  std::ofstream(path + ".tmp") << text;
  ASSERT_EQ(rename((path + ".tmp").c_str(), path.c_str()), 0);
}

TEST(Completion, GitCommitSayingAllPhasesCompleteCompletesTheEntity) {
  DaemonUnderTest d;
  const std::string repo = d.home() + "/alpha";
  ASSERT_EQ(mkdir(repo.c_str(), 0755), 0);
  ASSERT_EQ(git(repo, {"init", "-q"}), 0);
  // The daemon follows logs/HEAD from its end: an existing history is not news.
  ASSERT_EQ(
      git(repo, {"commit", "-q", "--allow-empty", "-m", "all phases complete (an old commit)"}), 0);
  d.write_config("[[git]]\nrepo = \"" + repo + "\"\nentity = \"alpha\"\n");
  d.start();
  ASSERT_TRUE(d.wait_for_kind("daemon.started")) << d.stderr_text();
  auto commit = [&](const std::string& message) {
    return git(repo, {"commit", "-q", "--allow-empty", "-m", message});
  };
  ASSERT_EQ(commit("phase 1 of 3 done"), 0);
  auto first = d.wait_for([](const Event& e) { return e.kind == "git.commit"; });
  ASSERT_TRUE(first) << d.stderr_text();
  EXPECT_EQ(first->fields.get_string("message"), "phase 1 of 3 done");
  EXPECT_EQ(first->entity, "alpha");
  EXPECT_EQ(d.count([](const Event& e) { return completed(e, "alpha"); }), 0u);

  ASSERT_EQ(commit("All phases complete"), 0);
  auto done = d.wait_for([](const Event& e) { return completed(e, "alpha"); });
  ASSERT_TRUE(done) << d.stderr_text();
  EXPECT_NE(done->fields.get_string("reason")->find("completion-git-commit"), std::string::npos)
      << "the event names the method: " << *done->fields.get_string("reason");
  EXPECT_EQ(d.count([](const Event& e) { return e.kind == "git.commit"; }), 2u)
      << "history before the start is not replayed";
  EXPECT_EQ(d.stop(), 0);
}

TEST(Completion, PhaseFileCompletesOnlyWhenEveryPhaseIsDone) {
  DaemonUnderTest d;
  d.write_config("");
  d.start();
  ASSERT_TRUE(d.wait_for_kind("daemon.started")) << d.stderr_text();
  const std::string results = d.state_dir() + "/workspace/results";
  write_atomically(
      results + "/beta.phases",
      R"({"phases":[{"name":"plan","status":"done"},{"name":"build","status":"running"}]})");
  ASSERT_TRUE(d.wait_for([](const Event& e) {
    return e.kind == "file.landed" && e.path.find("beta.phases") != std::string::npos;
  })) << d.stderr_text();
  write_atomically(
      results + "/beta.phases",
      R"({"phases":[{"name":"plan","status":"done"},{"name":"build","status":"done"}]})");
  auto done = d.wait_for([](const Event& e) { return completed(e, "beta"); });
  ASSERT_TRUE(done) << d.stderr_text();
  EXPECT_NE(done->fields.get_string("reason")->find("completion-phase-file"), std::string::npos);
  // The half-done version completed nothing: exactly one completion.
  EXPECT_EQ(d.count([](const Event& e) { return completed(e, "beta"); }), 1u);
  EXPECT_EQ(d.stop(), 0);
}

// Reads every "line N" of a log's generations (plain and gzipped) into counts.
void count_lines_in(const std::string& path, std::map<long, int>& seen) {
  gzFile gz = gzopen(path.c_str(), "rb");  // reads plain files as they are
  ASSERT_NE(gz, nullptr) << path;
  std::string text;
  char buf[1 << 16];
  int n;
  while ((n = gzread(gz, buf, sizeof buf)) > 0) text.append(buf, static_cast<std::size_t>(n));
  gzclose(gz);
  std::istringstream in(text);
  for (std::string line; std::getline(in, line);)
    if (line.rfind("line ", 0) == 0) ++seen[std::stol(line.substr(5))];
}

// Scenario 13: a writer at ~10,000 lines/s through `agentwatch logpipe`, the
// `rotate` action rotating its file many times meanwhile, the tailer following.
// Every line is in the files exactly once, and reached the rules exactly once.
TEST(Completion, LogRotatedUnderAFastWriterLosesNoLine) {
  DaemonUnderTest d;
  const std::string logs = d.home() + "/logs";
  ASSERT_EQ(mkdir(logs.c_str(), 0755), 0);
  const std::string file = logs + "/pane.log";
  d.write_config(R"([rules]
shipped = false
[[log]]
name = "pane"
path = ")" + file +
                 R"("
from_start = true
patterns = [ { id = "line", regex = '^line (?P<n>\d+)$' } ]
)");
  d.write_rule("rotate.toml", R"(
[[rule]]
name = "rotate-pane"
every = "200ms"
  [[rule.action]]
  do = "rotate"
  path = ")" + file + R"("
  max_size = "32KiB"
  keep = 100
)");
  d.start();
  ASSERT_TRUE(d.wait_for_kind("daemon.started")) << d.stderr_text();

  int fds[2];
  ASSERT_EQ(pipe(fds), 0);
  posix_spawn_file_actions_t fa;
  posix_spawn_file_actions_init(&fa);
  posix_spawn_file_actions_adddup2(&fa, fds[0], 0);
  posix_spawn_file_actions_addclose(&fa, fds[1]);
  const std::string bin = std::getenv("AGENTWATCH_BIN");
  std::vector<std::string> argv{bin, "logpipe", "--file", file};
  std::vector<char*> args;
  args.reserve(argv.size() + 1);
  for (auto& a : argv) args.push_back(a.data());
  args.push_back(nullptr);
  pid_t writer = -1;
  ASSERT_EQ(posix_spawn(&writer, bin.c_str(), &fa, nullptr, args.data(), environ), 0);
  posix_spawn_file_actions_destroy(&fa);
  close(fds[0]);

  constexpr long kLines = 25000;
  // 100 lines every 10 ms: 10,000 lines/s.
  for (long i = 0; i < kLines; i += 100) {
    std::string batch;
    for (long k = i; k < i + 100; ++k) batch += "line " + std::to_string(k) + "\n";
    ASSERT_EQ(write(fds[1], batch.data(), batch.size()), static_cast<ssize_t>(batch.size()));
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  close(fds[1]);
  int status = 0;
  ASSERT_EQ(waitpid(writer, &status, 0), writer);
  EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0);

  const auto is_line = [](const Event& e) { return e.kind == "log.line"; };
  EXPECT_EQ(d.wait_for_count(is_line, kLines, 30s), static_cast<std::size_t>(kLines))
      << d.stderr_text();
  std::map<long, int> reached;
  for (const auto& e : d.events())
    if (is_line(e)) ++reached[std::stol(*e.fields.get_string("n"))];
  EXPECT_EQ(reached.size(), static_cast<std::size_t>(kLines));
  for (const auto& [n, times] : reached) ASSERT_EQ(times, 1) << "line " << n;

  std::size_t rotations = 0;
  for (const auto& e : d.events())
    if (e.kind == "action.succeeded" && e.fields.get_string("action") == "rotate") {
      const FieldValue* r = e.fields.find("rotated");
      if (r && std::holds_alternative<bool>(*r) && std::get<bool>(*r)) ++rotations;
    }
  EXPECT_GE(rotations, 3u) << "the test did not exercise rotation";
  EXPECT_EQ(d.stop(), 0);

  std::map<long, int> stored;
  for (const auto& entry : std::filesystem::directory_iterator(logs)) {
    const std::string name = entry.path().filename();
    if (name.rfind("pane.log", 0) == 0 && name.find(".tmp") == std::string::npos)
      count_lines_in(entry.path(), stored);
  }
  EXPECT_EQ(stored.size(), static_cast<std::size_t>(kLines));
  for (const auto& [n, times] : stored) ASSERT_EQ(times, 1) << "line " << n << " in the files";
}

// The shipped rotation rule: a log landing over 64 MiB in the logs root is
// rotated. (A sparse file: the size is what the rule reads.)
TEST(Completion, ShippedRuleRotatesALargeLandedLog) {
  DaemonUnderTest d;
  d.write_config("");
  d.start();
  ASSERT_TRUE(d.wait_for_kind("daemon.started")) << d.stderr_text();
  const std::string logs = d.state_dir() + "/workspace/logs";
  {
    const std::string tmp = logs + "/.big.log.tmp";
    const int fd = open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
    ASSERT_GE(fd, 0);
    ASSERT_EQ(write(fd, "first line\n", 11), 11);
    ASSERT_EQ(ftruncate(fd, off_t{65} << 20), 0);
    close(fd);
    ASSERT_EQ(rename(tmp.c_str(), (logs + "/big.log").c_str()), 0);
  }
  auto rotated = d.wait_for(
      [](const Event& e) { return e.kind == "action.succeeded" && e.rule == "rotate-large-logs"; });
  ASSERT_TRUE(rotated) << d.stderr_text();
  struct stat st {};
  EXPECT_EQ(stat((logs + "/big.log.1").c_str(), &st), 0);
  EXPECT_EQ(st.st_size, off_t{65} << 20);
  EXPECT_NE(stat((logs + "/big.log").c_str(), &st), 0) << "renamed, not copied";
  // The rotated generation is not rotated again.
  EXPECT_EQ(d.count([](const Event& e) {
    return e.kind == "action.started" && e.rule == "rotate-large-logs";
  }),
            1u);
  EXPECT_EQ(d.stop(), 0);
}

}  // namespace
}  // namespace aw::testing
