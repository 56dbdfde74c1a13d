// The fleet outlives the watcher (docs/workers.md "Across a daemon restart"):
// twenty live workers (spawned, adopted from PID files, adopted from tmux
// panes), the daemon stopped the way the shipped systemd unit stops it, then
// SIGKILLed; each new daemon re-adopts every one of them, loses none and
// restarts none.
#include <gtest/gtest.h>
#include <signal.h>
#include <spawn.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <fstream>
#include <map>

#include "tests/integration/harness.h"
#include "tests/integration/private_tmux.h"

namespace aw::testing {
namespace {

constexpr int kOwn = 12, kPidFile = 4, kTmux = 4;

std::int64_t pid_of(const Event& e) {
  return e.fields.get_int("pid").value_or(-1);
}

std::string named(const char* prefix, int i) {
  return prefix + std::to_string(i);
}

// A process "another tool" started: this test's child, so the test reaps it.
pid_t start_sleeper() {
  const char* argv[] = {"sleep", "1000", nullptr};
  pid_t pid = -1;
  EXPECT_EQ(posix_spawnp(&pid, "sleep", nullptr, nullptr, const_cast<char* const*>(argv), environ),
            0);
  return pid;
}

// The value of `key=` in the unit's text ("" when absent).
std::string unit_setting(const std::string& unit, const std::string& key) {
  const std::string at = "\n" + key + "=";
  const std::size_t pos = unit.find(at);
  if (pos == std::string::npos) return "";
  const std::size_t from = pos + at.size();
  return unit.substr(from, unit.find('\n', from) - from);
}

class FleetRestartTest : public ::testing::Test {
 protected:
  void SetUp() override {
    pids_dir = d.home() + "/pids";
    ASSERT_EQ(mkdir(pids_dir.c_str(), 0755), 0);
    ASSERT_EQ(tmux({"new-session", "-d", "-s", "keep"}).exit_code, 0);
    std::string config = "[rules]\nshipped = false\n" + tmux.config() +
                         "[[watch]]\nname = \"pids\"\npath = \"" + pids_dir + "\"\n";
    for (int i = 0; i < kOwn; ++i)
      config += "[[worker]]\nname = \"" + named("own-", i) + "\"\nargv = [\"sleep\", \"1000\"]\n";
    for (int i = 0; i < kPidFile; ++i)
      config += "[[worker]]\nname = \"" + named("pid-", i) + "\"\npid_file = \"" + pids_dir + "/" +
                named("pid-", i) + ".pid\"\n";
    for (int i = 0; i < kTmux; ++i) {
      ASSERT_EQ(tmux({"new-session", "-d", "-s", named("agent-", i), "sleep 1000"}).exit_code, 0);
      config += "[[worker]]\nname = \"" + named("tmux-", i) + "\"\ntmux_session = \"" +
                named("agent-", i) + "\"\n";
    }
    d.write_config(config);
  }
  void TearDown() override {
    for (pid_t p : sleepers) {
      kill(p, SIGKILL);
      waitpid(p, nullptr, 0);
    }
  }

  // Starts the fleet's first daemon and returns every worker's PID once the
  // lifecycle journal holds it.
  std::map<std::string, pid_t> start_fleet() {
    d.start();
    for (int i = 0; i < kPidFile; ++i) {
      const pid_t p = start_sleeper();
      sleepers.push_back(p);
      const std::string file = pids_dir + "/" + named("pid-", i) + ".pid";
      std::ofstream(file + ".tmp") << p << "\n";
      EXPECT_EQ(rename((file + ".tmp").c_str(), file.c_str()), 0);
    }
    std::map<std::string, pid_t> pids;
    const auto is_up = [](const Event& e) {
      return e.kind == "worker.started" || e.kind == "worker.adopted";
    };
    EXPECT_EQ(d.wait_for_count(is_up, kOwn + kPidFile + kTmux, 30s),
              static_cast<std::size_t>(kOwn + kPidFile + kTmux))
        << d.stderr_text();
    for (const Event& e : d.events())
      if (is_up(e)) pids[e.entity] = static_cast<pid_t>(pid_of(e));
    for (const auto& [name, pid] : pids) EXPECT_TRUE(d.wait_for_process_journaled(pid)) << name;
    return pids;
  }

  // After a restart: every worker adopted again with the PID it had, none
  // started, lost, exited or stopped since `from_seq`.
  void expect_readopted(const std::map<std::string, pid_t>& pids, std::uint64_t from_seq) {
    const auto readopted = [&](const Event& e) {
      return e.seq > from_seq && e.kind == "worker.adopted";
    };
    EXPECT_EQ(d.wait_for_count(readopted, pids.size(), 30s), pids.size()) << d.stderr_text();
    std::map<std::string, pid_t> again;
    for (const Event& e : d.events()) {
      if (e.seq <= from_seq) continue;
      if (readopted(e)) again[e.entity] = static_cast<pid_t>(pid_of(e));
      EXPECT_NE(e.kind, "worker.started") << e.entity;
      EXPECT_NE(e.kind, "worker.lost") << e.entity;
      EXPECT_NE(e.kind, "worker.exited") << e.entity;
      EXPECT_NE(e.kind, "worker.stopped") << e.entity;
    }
    EXPECT_EQ(again, pids);
    for (const auto& [name, pid] : pids) EXPECT_EQ(kill(pid, 0), 0) << name << " died";
  }

  std::uint64_t last_seq() const {
    const std::vector<Event> events = d.events();
    return events.empty() ? 0 : events.back().seq;
  }

  PrivateTmux tmux;
  DaemonUnderTest d;
  std::string pids_dir;
  std::vector<pid_t> sleepers;
};

TEST_F(FleetRestartTest, TwentyWorkersSurviveAUnitStopAndAKillOfTheDaemon) {
  // The shipped unit's stop: KillMode=process signals the daemon alone, with
  // KillSignal (SIGTERM unless set), and SIGKILL after TimeoutStopSec.
  const CommandResult unit = d.cli({"service", "print"});
  ASSERT_EQ(unit.exit_code, 0) << unit.err;
  ASSERT_EQ(unit_setting(unit.out, "KillMode"), "process") << unit.out;
  ASSERT_EQ(unit_setting(unit.out, "KillSignal"), "") << "the stop below sends SIGTERM";
  ASSERT_EQ(unit_setting(unit.out, "TimeoutStopSec"), "30s");

  const std::map<std::string, pid_t> pids = start_fleet();
  ASSERT_EQ(pids.size(), static_cast<std::size_t>(kOwn + kPidFile + kTmux));

  EXPECT_EQ(d.stop(30s), 0);  // SIGTERM to the main PID only, as the unit sends it
  EXPECT_EQ(d.count([](const Event& e) { return e.kind == "worker.released"; }), pids.size());
  std::uint64_t seq = last_seq();
  d.start();
  expect_readopted(pids, seq);

  seq = last_seq();
  d.kill9();  // a crash, or the unit's SIGKILL after TimeoutStopSec
  d.start();
  expect_readopted(pids, seq);
  EXPECT_EQ(d.stop(30s), 0);
}

}  // namespace
}  // namespace aw::testing

int main(int argc, char** argv) {
  aw::testing::become_subreaper();
  ::testing::InitGoogleTest(&argc, argv);
  return RUN_ALL_TESTS();
}
