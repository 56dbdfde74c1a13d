// `agentwatch top` through the real daemon (issue #12): the --text report
// shows the execution the daemon ran, and the ncurses screen, run in a real
// tmux pane, redraws when a new execution is logged and exits on `q`.
#include <gtest/gtest.h>

#include <chrono>
#include <functional>
#include <thread>

#include "tests/integration/harness.h"
#include "tests/integration/private_tmux.h"

namespace aw::testing {
namespace {

using namespace std::chrono_literals;

bool succeeded(const Event& e) {
  return e.kind == "action.succeeded" && e.rule == "work";
}
// The file's own execution. (Its hidden temp name may land and run too, just
// before it: counts are taken from the log, not assumed.)
std::function<bool(const Event&)> succeeded_on(const std::string& path) {
  return [path](const Event& e) { return succeeded(e) && e.path == path; };
}

class TopTest : public ::testing::Test {
 protected:
  void SetUp() override {
    inbox = d.home() + "/inbox";
    make_dirs(inbox);
    d.write_config("[rules]\nshipped = false\n[[watch]]\nname = \"inbox\"\npath = \"" + inbox +
                   "\"\n");
    d.write_rule("work.toml", R"(
[[rule]]
name = "work"
on = "file.landed"
when = [ { field = "fields.watch", equals = "inbox" } ]
  [[rule.action]]
  do = "run"
  argv = ["/bin/true"]
)");
  }
  void land(const std::string& name) { write_file_atomically(inbox + "/" + name, "x"); }

  DaemonUnderTest d;
  std::string inbox;
};

// The screen is another process's: there is nothing to wait on but its
// content, so this polls capture-pane until `want` shows up or time is out.
std::string wait_for_screen(const PrivateTmux& tmux, const std::string& want,
                            std::chrono::milliseconds timeout = 10s) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  std::string screen;
  while (std::chrono::steady_clock::now() < deadline) {
    screen = tmux({"capture-pane", "-p", "-t", "=top:"}).out;
    if (screen.find(want) != std::string::npos) break;
    std::this_thread::sleep_for(50ms);
  }
  return screen;
}

TEST_F(TopTest, TextReportShowsTheExecution) {
  EXPECT_EQ(d.cli({"top", "--text"}).exit_code, 3) << "no daemon yet";
  d.start();
  land("a");
  ASSERT_TRUE(d.wait_for(succeeded_on(inbox + "/a"))) << d.stderr_text();
  const std::string n = std::to_string(d.count(succeeded));
  CommandResult r = d.cli({"top", "--text"});
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.out.find("executions " + n + "  failed 0  success 100.0%"), std::string::npos)
      << r.out;
  EXPECT_NE(r.out.find(" work run"), std::string::npos) << "the feed names the rule\n" << r.out;
  EXPECT_NE(r.out.find("rules 1 rules"), std::string::npos) << r.out;
}

TEST_F(TopTest, ScreenRedrawsOnEventsAndQuitsOnQ) {
  PrivateTmux tmux;
  d.start();
  land("a");
  ASSERT_TRUE(d.wait_for(succeeded_on(inbox + "/a"))) << d.stderr_text();
  const std::string before = "executions " + std::to_string(d.count(succeeded)) + " ";

  // A session that outlives `top`, so the server stays up, and a dead pane
  // that stays. `top` runs under a small sh that writes its exit status to a
  // file: tmux's #{pane_dead_status} is filled only once tmux has reaped the
  // process, a moment after the pane died (long under ASan), or not at all.
  ASSERT_EQ(tmux({"new-session", "-d", "-s", "keep"}).exit_code, 0);
  ASSERT_EQ(tmux({"set-option", "-g", "remain-on-exit", "on"}).exit_code, 0);
  const std::string status_file = d.home() + "/top.status";
  std::vector<std::string> argv = {"new-session",
                                   "-d",
                                   "-s",
                                   "top",
                                   "-x",
                                   "120",
                                   "-y",
                                   "40",
                                   "-e",
                                   "LC_ALL=C.UTF-8",
                                   "/bin/sh",
                                   "-c",
                                   "status_file=$1; shift; \"$@\"; echo $? > \"$status_file\"",
                                   "sh",
                                   status_file,
                                   agentwatch_bin()};
  for (const std::string& f : d.path_flags()) argv.push_back(f);
  argv.emplace_back("top");
  ASSERT_EQ(tmux(argv).exit_code, 0);

  std::string screen = wait_for_screen(tmux, before);
  ASSERT_NE(screen.find(before), std::string::npos) << screen;
  EXPECT_NE(screen.find("work run"), std::string::npos) << screen;

  // Nothing but the event log tells `top` that something happened.
  land("b");
  ASSERT_TRUE(d.wait_for(succeeded_on(inbox + "/b"))) << d.stderr_text();
  const std::string after = "executions " + std::to_string(d.count(succeeded)) + " ";
  ASSERT_NE(after, before);
  screen = wait_for_screen(tmux, after);
  ASSERT_NE(screen.find(after), std::string::npos) << screen;

  ASSERT_EQ(tmux({"send-keys", "-t", "=top:", "2"}).exit_code, 0);
  screen = wait_for_screen(tmux, "newest first");
  EXPECT_NE(screen.find("executions, newest first"), std::string::npos) << screen;

  ASSERT_EQ(tmux({"send-keys", "-t", "=top:", "q"}).exit_code, 0);
  std::string status = wait_for_file(
      status_file, [](const std::string& t) { return !t.empty() && t.back() == '\n'; });
  EXPECT_EQ(status, "0\n") << "top did not exit 0 on q";
}

}  // namespace
}  // namespace aw::testing
