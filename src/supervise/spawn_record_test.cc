#include "src/supervise/spawn_record.h"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <map>

#include "src/supervise/supervise_test_support.h"

namespace aw {
namespace {

using testing::TempDir;

TEST(SpawnToken, IsThirtyTwoHexDigitsAndFresh) {
  const std::string a = new_spawn_token();
  const std::string b = new_spawn_token();
  EXPECT_EQ(a.size(), 32u);
  EXPECT_EQ(a.find_first_not_of("0123456789abcdef"), std::string::npos) << a;
  EXPECT_NE(a, b);
}

TEST(SpawnRecords, RecordedTokenAndPidReadBackUntilForgotten) {
  TempDir dir;
  SpawnRecords records(Env::real(), dir.path());
  EXPECT_EQ(records.read("w"), std::nullopt);
  const std::string token = new_spawn_token();
  ASSERT_TRUE(records.record("w", token).ok());
  auto r = records.read("w");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->token, token);
  EXPECT_EQ(r->pid, std::nullopt) << "before the spawn";
  ASSERT_TRUE(records.record_pid("w", 4242).ok());
  r = records.read("w");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->token, token);
  EXPECT_EQ(r->pid, 4242);
  const std::string next = new_spawn_token();
  ASSERT_TRUE(records.record("w", next).ok());
  r = records.read("w");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->token, next) << "each spawn replaces the record";
  EXPECT_EQ(r->pid, std::nullopt);
  records.forget("w");
  EXPECT_EQ(records.read("w"), std::nullopt);
  EXPECT_FALSE(std::filesystem::exists(dir.path() + "/w.spawn"));
}

// A kill between O_TRUNC and the write leaves an empty file; a foreign or cut
// file is no token either. None of them may name a process. A PID line cut
// short is no PID.
TEST(SpawnRecords, ACutOrForeignFileHoldsNoTokenAndACutPidLineNoPid) {
  TempDir dir;
  SpawnRecords records(Env::real(), dir.path());
  for (const char* text :
       {"", "0123456789abcdef", "0123456789abcdef0123456789abcdeX\n",
        "0123456789abcdef0123456789abcdef", "x0123456789abcdef0123456789abcdef\n"}) {
    std::ofstream(dir.path() + "/w.spawn", std::ios::trunc) << text;
    EXPECT_EQ(records.read("w"), std::nullopt) << '"' << text << '"';
  }
  for (const char* text :
       {"0123456789abcdef0123456789abcdef\n42", "0123456789abcdef0123456789abcdef\n0\n",
        "0123456789abcdef0123456789abcdef\n4x2\n"}) {
    std::ofstream(dir.path() + "/w.spawn", std::ios::trunc) << text;
    auto r = records.read("w");
    ASSERT_TRUE(r) << '"' << text << '"';
    EXPECT_EQ(r->pid, std::nullopt) << '"' << text << '"';
  }
}

TEST(SpawnRecords, OffWithoutADirectory) {
  SpawnRecords records(Env::real(), "");
  EXPECT_FALSE(records.enabled());
  EXPECT_EQ(records.read("w"), std::nullopt);
}

TEST(SpawnRecords, AFailedWriteNamesTheFile) {
  TempDir dir;
  SpawnRecords records(Env::real(), dir.path() + "/missing");
  auto s = records.record("w", new_spawn_token());
  ASSERT_FALSE(s.ok());
  EXPECT_NE(s.error().message.find(dir.path() + "/missing/w.spawn"), std::string::npos)
      << s.error().message;
}

// /proc as a test says: which processes exist, their environ and stat.
class ProcEnv final : public Env {
 public:
  struct Process {
    std::string environ;
    pid_t group = 0;
    std::uint64_t start = 0;
    char state = 'S';
  };
  Result<std::vector<pid_t>> list_pids() override {
    std::vector<pid_t> pids;
    for (const auto& [pid, p] : processes) pids.push_back(pid);
    return pids;
  }
  Result<std::string> read_proc_environ(pid_t pid) override {
    auto it = processes.find(pid);
    if (it == processes.end()) return make_error("no such process", -ESRCH);
    return it->second.environ;
  }
  Result<std::string> read_proc_stat(pid_t pid) override {
    auto it = processes.find(pid);
    if (it == processes.end()) return make_error("no such process", -ESRCH);
    std::string s = std::to_string(pid) + " (a (b) c) " + it->second.state + " 1 " +
                    std::to_string(it->second.group) + " 0";
    for (int field = 7; field < 22; ++field) s += " 0";
    return s + " " + std::to_string(it->second.start) + " 0 0\n";
  }
  std::map<pid_t, Process> processes;
};

std::string environ_with(const std::string& token) {
  using namespace std::string_literals;
  return "PATH=/bin\0AGENTWATCH_WORKER=w\0"s + kSpawnTokenVar + "=" + token + "\0HOME=/\0"s;
}

TEST(FindSpawned, TheWorkerIsTheGroupLeaderAmongItsChildren) {
  const std::string t = new_spawn_token();
  const std::string other = new_spawn_token();
  ProcEnv env;
  env.processes[90] = {environ_with(t), 80, 5};     // a child it forked, earlier pid
  env.processes[100] = {environ_with(t), 100, 10};  // the worker: leads its group
  env.processes[101] = {environ_with(t), 100, 11};  // its child
  env.processes[200] = {environ_with(other), 200, 20};
  env.processes[300] = {"PATH=/bin", 300, 1};
  auto found = find_spawned(env, {t, "0123456789abcdef0123456789abcdef"});
  ASSERT_EQ(found.size(), 1u);
  EXPECT_EQ(found.at(t), 100);
}

TEST(FindSpawned, WithoutAGroupLeaderTheFirstStartedWinsAndZombiesNeverDo) {
  const std::string t = new_spawn_token();
  ProcEnv env;
  env.processes[50] = {environ_with(t), 50, 1, 'Z'};  // ended: not adoptable
  env.processes[120] = {environ_with(t), 7, 30};
  env.processes[110] = {environ_with(t), 7, 40};
  auto found = find_spawned(env, {t});
  ASSERT_EQ(found.count(t), 1u);
  EXPECT_EQ(found.at(t), 120);
}

TEST(FindSpawned, ATokenOnlyAsAPrefixOrInAnotherVariableDoesNotCount) {
  using namespace std::string_literals;
  const std::string t = new_spawn_token();
  ProcEnv env;
  env.processes[10] = {"X_"s + kSpawnTokenVar + "=" + t + "\0"s, 10, 1};
  env.processes[11] = {std::string(kSpawnTokenVar) + "=" + t + "0\0"s, 11, 1};
  env.processes[12] = {"OTHER="s + kSpawnTokenVar + "=" + t, 12, 1};
  EXPECT_TRUE(find_spawned(env, {t}).empty());
}

TEST(CarriesToken, OnlyALiveProcessStartedWithThatToken) {
  const std::string t = new_spawn_token();
  ProcEnv env;
  env.processes[10] = {environ_with(t), 10, 1};
  env.processes[11] = {environ_with(t), 11, 1, 'Z'};
  env.processes[12] = {environ_with(new_spawn_token()), 12, 1};
  EXPECT_TRUE(carries_token(env, 10, t));
  EXPECT_FALSE(carries_token(env, 11, t)) << "ended";
  EXPECT_FALSE(carries_token(env, 12, t)) << "another spawn's";
  EXPECT_FALSE(carries_token(env, 13, t)) << "gone";
}

// The real /proc: a process started with a token is found by it.
TEST(FindSpawned, FindsARealProcessByTheTokenInItsEnvironment) {
  const std::string token = new_spawn_token();
  std::string var = std::string(kSpawnTokenVar) + "=" + token;
  char* argv[] = {const_cast<char*>("sleep"), const_cast<char*>("30"), nullptr};
  char* envp[] = {var.data(), nullptr};
  posix_spawnattr_t attr;
  posix_spawnattr_init(&attr);
  posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETPGROUP);  // a group of its own, as workers
  posix_spawnattr_setpgroup(&attr, 0);
  pid_t pid = 0;
  ASSERT_EQ(posix_spawnp(&pid, "sleep", nullptr, &attr, argv, envp), 0);
  posix_spawnattr_destroy(&attr);
  ASSERT_TRUE(testing::wait_for_environ(pid));
  auto found = find_spawned(Env::real(), {token, new_spawn_token()});
  ::kill(pid, SIGKILL);
  ::waitpid(pid, nullptr, 0);
  ASSERT_EQ(found.size(), 1u);
  EXPECT_EQ(found.at(token), pid);
}

}  // namespace
}  // namespace aw
