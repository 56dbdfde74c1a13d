// The supervisor's health detectors through the real daemon, with short limits
// (DESIGN §6 scenarios 4 phantom, 5 hung, 6 heartbeat lost). Zombie needs tmux:
// tmux_itest.cc.
#include <gtest/gtest.h>
#include <signal.h>
#include <spawn.h>
#include <sys/stat.h>
#include <sys/wait.h>

#include <fstream>

#include "tests/integration/harness.h"

namespace aw::testing {
namespace {

std::string config(const std::string& body) {
  return "[rules]\nshipped = false\n" + body;
}

bool changed(const Event& e, const std::string& entity, const std::string& to) {
  return e.kind == "state.changed" && e.entity == entity && e.fields.get_string("to") == to;
}

bool is(const Event& e, const std::string& kind, const std::string& entity) {
  return e.kind == kind && e.entity == entity;
}

TEST(Detectors, HungWorkerTimesOutThenIsKilledAndFailed) {
  DaemonUnderTest d;
  d.write_config(config(R"(
[[worker]]
name = "stuck"
argv = ["sleep", "1000"]
restart = "never"
start_grace = "50ms"
runtime_limit = "300ms"
timeout_grace = "200ms"
kill_grace = "200ms"
)"));
  d.start();
  auto started = d.wait_for([](const Event& e) { return is(e, "worker.started", "stuck"); });
  ASSERT_TRUE(started) << d.stderr_text();
  const auto pid = static_cast<pid_t>(*started->fields.get_int("pid"));
  auto timing_out = d.wait_for([](const Event& e) { return is(e, "worker.timing_out", "stuck"); });
  ASSERT_TRUE(timing_out) << d.stderr_text();
  EXPECT_EQ(timing_out->fields.get_string("heartbeat"), "none");
  ASSERT_TRUE(d.wait_for([](const Event& e) { return changed(e, "stuck", "timing_out"); }));
  auto killing = d.wait_for([](const Event& e) { return is(e, "worker.killing", "stuck"); });
  ASSERT_TRUE(killing) << d.stderr_text();
  EXPECT_EQ(killing->fields.get_string("reason"), "hung");
  auto failed = d.wait_for([](const Event& e) { return changed(e, "stuck", "failed"); });
  ASSERT_TRUE(failed) << d.stderr_text();
  EXPECT_EQ(failed->fields.get_string("from"), "timing_out");
  EXPECT_GT(failed->seq, killing->seq);
  EXPECT_NE(kill(pid, 0), 0) << "the hung process still runs";
  EXPECT_EQ(d.count([](const Event& e) { return is(e, "worker.extended", "stuck"); }), 0u);
  EXPECT_EQ(d.stop(), 0);
}

TEST(Detectors, ProgressEarnsAtMostMaxExtensions) {
  DaemonUnderTest d;
  const std::string heartbeat = d.home() + "/busy.log";
  d.write_config(config(R"(
[[worker]]
name = "busy"
argv = ["sh", "-c", "while :; do echo tick >> ')" +
                        heartbeat + R"('; sleep 0.05; done"]
restart = "never"
start_grace = "50ms"
heartbeat = ")" + heartbeat +
                        R"("
runtime_limit = "300ms"
timeout_grace = "200ms"
max_extensions = 2
kill_grace = "200ms"
)"));
  d.start();
  const auto extended = [](const Event& e) { return is(e, "worker.extended", "busy"); };
  ASSERT_EQ(d.wait_for_count(extended, 2, 15s), 2u) << d.stderr_text();
  // Progress all along, but the extensions are spent: the next limit kills.
  auto failed = d.wait_for([](const Event& e) { return changed(e, "busy", "failed"); }, 15s);
  ASSERT_TRUE(failed) << d.stderr_text();
  EXPECT_EQ(d.count(extended), 2u);
  EXPECT_EQ(d.count([](const Event& e) { return changed(e, "busy", "processing"); }), 3u)
      << "started, then back to processing after each extension";
  EXPECT_EQ(d.stop(), 0);
}

TEST(Detectors, HeartbeatLostThenResumed) {
  DaemonUnderTest d;
  const std::string heartbeat = d.home() + "/quiet.log";
  std::ofstream(heartbeat) << "hello\n";
  d.write_config(config(R"(
[[worker]]
name = "quiet"
argv = ["sleep", "1000"]
heartbeat = ")" + heartbeat +
                        R"("
heartbeat_timeout = "300ms"
)"));
  d.start();
  auto lost = d.wait_for([](const Event& e) { return is(e, "worker.heartbeat_lost", "quiet"); });
  ASSERT_TRUE(lost) << d.stderr_text();
  EXPECT_EQ(lost->fields.get_string("file"), heartbeat);
  std::ofstream(heartbeat, std::ios::app) << "alive again\n";
  auto resumed =
      d.wait_for([](const Event& e) { return is(e, "worker.heartbeat_resumed", "quiet"); });
  ASSERT_TRUE(resumed) << d.stderr_text();
  // Once per episode: no second loss before it resumed (after, silence is a new episode).
  EXPECT_EQ(d.count([&](const Event& e) {
    return is(e, "worker.heartbeat_lost", "quiet") && e.seq < resumed->seq;
  }),
            1u);
  // A lost heartbeat is news for the rules, not a verdict: nothing was killed.
  EXPECT_EQ(d.count([](const Event& e) { return is(e, "worker.killing", "quiet"); }), 0u);
  EXPECT_EQ(d.stop(), 0);
}

// An adopted worker whose process ended while the daemon was down: at start it
// is `processing` with neither process nor session; after phantom_grace it is
// failed, so nothing waits for it for ever.
TEST(Detectors, PhantomIsFailedAfterItsGrace) {
  DaemonUnderTest d;
  const std::string pids = d.home() + "/pids";
  ASSERT_EQ(mkdir(pids.c_str(), 0755), 0);
  d.write_config(config(R"(
[[watch]]
name = "pids"
path = ")" + pids + R"("

[[worker]]
name = "ghost"
pid_file = ")" + pids + R"(/ghost.pid"
start_grace = "50ms"
phantom_grace = "500ms"
)"));
  d.start();
  const char* argv[] = {"sleep", "1000", nullptr};
  pid_t pid = -1;
  ASSERT_EQ(posix_spawnp(&pid, "sleep", nullptr, nullptr, const_cast<char* const*>(argv), environ),
            0);
  std::ofstream(pids + "/ghost.tmp") << pid << "\n";
  ASSERT_EQ(rename((pids + "/ghost.tmp").c_str(), (pids + "/ghost.pid").c_str()), 0);
  ASSERT_TRUE(d.wait_for([](const Event& e) { return is(e, "worker.adopted", "ghost"); }))
      << d.stderr_text();
  ASSERT_TRUE(d.wait_for([](const Event& e) { return changed(e, "ghost", "processing"); }));
  ASSERT_TRUE(d.wait_for_process_journaled(pid)) << d.stderr_text();

  d.kill9();
  ASSERT_EQ(kill(pid, SIGKILL), 0);
  ASSERT_EQ(waitpid(pid, nullptr, 0), pid);
  d.start();
  ASSERT_TRUE(d.wait_for([](const Event& e) { return is(e, "worker.lost", "ghost"); }))
      << d.stderr_text();
  auto phantom = d.wait_for([](const Event& e) { return is(e, "worker.phantom", "ghost"); });
  ASSERT_TRUE(phantom) << d.stderr_text();
  EXPECT_EQ(phantom->fields.get_string("session"), "none");
  auto failed = d.wait_for([](const Event& e) { return changed(e, "ghost", "failed"); });
  ASSERT_TRUE(failed) << d.stderr_text();
  EXPECT_NE(failed->fields.get_string("reason")->find("phantom"), std::string::npos);
  EXPECT_EQ(d.stop(), 0);
}

}  // namespace
}  // namespace aw::testing

int main(int argc, char** argv) {
  aw::testing::become_subreaper();
  ::testing::InitGoogleTest(&argc, argv);
  return RUN_ALL_TESTS();
}
