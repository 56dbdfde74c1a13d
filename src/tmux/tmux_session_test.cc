#include "src/tmux/tmux_session.h"

#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <optional>

#include "src/tmux/tmux_test_support.h"

namespace aw {
namespace {

using tmux_testing::exists;
using tmux_testing::list_dir;
using tmux_testing::read_file;
using tmux_testing::TempDir;
using tmux_testing::TmuxLoopTest;
using tmux_testing::write_file;

TEST(CheckSessionName, RefusesWhatTmuxWouldChangeOrMisread) {
  EXPECT_TRUE(check_session_name("w1").ok());
  EXPECT_TRUE(check_session_name("agent x; $(id) #{q} 'é'").ok());
  EXPECT_EQ(check_session_name("").error().message, "tmux session name is empty; expected a name");
  EXPECT_EQ(check_session_name("a:b").error().message,
            "tmux session name 'a:b': contains ':' or '.', which tmux would turn into '_'");
  EXPECT_FALSE(check_session_name("a.b").ok());
  EXPECT_FALSE(check_session_name("a\tb").ok());
  EXPECT_FALSE(check_session_name("a\nb").ok());
  EXPECT_FALSE(check_session_name("a\x7f").ok());
  EXPECT_FALSE(check_session_name("\xff\xfe").ok());
  EXPECT_FALSE(check_session_name("$1").ok());
  EXPECT_EQ(check_session_name("a\\b").error().message,
            "tmux session name 'a\\b': contains '\\', which tmux would double");
}

TEST(NewSessionArgs, BuildsAnArgvAndRunsOneProgramWithoutAShell) {
  OpenSession r;
  r.session = "w#1";
  EXPECT_EQ(new_session_args(r), (std::vector<std::string>{"new-session", "-d", "-s", "w##1"}));
  r.cwd = "/tmp/#x";
  r.env = {{"A", "1 2"}};
  r.argv = {"/opt/my agent", "--flag"};
  EXPECT_EQ(new_session_args(r),
            (std::vector<std::string>{"new-session", "-d", "-s", "w##1", "-c", "/tmp/##x", "-e",
                                      "A=1 2", "--", "/opt/my agent", "--flag"}));
  r.argv = {"/opt/my agent"};
  EXPECT_EQ(
      new_session_args(r),
      (std::vector<std::string>{"new-session", "-d", "-s", "w##1", "-c", "/tmp/##x", "-e", "A=1 2",
                                "--", "/bin/sh", "-c", "exec \"$0\"", "/opt/my agent"}));
}

class TmuxSessionTest : public TmuxLoopTest {
 protected:
  void SetUp() override {
    TmuxLoopTest::SetUp();
    temp_ = dir_ / "briefs";
    ASSERT_EQ(::mkdir(temp_.c_str(), 0700), 0);
    TmuxSessionOptions o;
    o.temp_dir = temp_;
    control_ = std::make_unique<TmuxSessionControl>(&loop_, clock_, *client_, o);
  }
  void TearDown() override {
    control_.reset();
    TmuxLoopTest::TearDown();
  }

  // Starts an operation through `start` and waits for its status.
  Status wait(const std::function<void(TmuxSessionControl::Callback)>& start) {
    std::optional<Status> status;
    start([&](Status s) { status = std::move(s); });
    EXPECT_FALSE(status.has_value()) << "called back from inside the call";
    if (!run_until([&] { return status.has_value(); })) return make_error("no reply");
    return *status;
  }
  Status open(OpenSession r) {
    return wait([&](auto cb) { control_->open_session(std::move(r), std::move(cb)); });
  }

  // A stub agent: appends every line it reads to `out`, and signals the tmux
  // channel `channel` once it has read `lines` lines.
  std::vector<std::string> stub_agent(const std::string& out, int lines, const std::string& channel,
                                      const std::string& prompt = "") {
    std::string script;
    if (!prompt.empty())
      script += "tmux -L " + server_name_ + " wait-for go; printf '%s' '" + prompt + "'; ";
    script += "n=0; while IFS= read -r l; do printf '%s\\n' \"$l\" >> '" + out +
              "'; n=$((n+1)); [ $n -eq " + std::to_string(lines) + " ] && tmux -L " + server_name_ +
              " wait-for -S " + channel + "; done";
    return {"/bin/sh", "-c", script};
  }

  // The working directory of the session's pane process, from /proc (tmux's
  // pane_current_path follows the terminal's foreground process, which may
  // not be set yet right after the start).
  std::string pane_cwd(const std::string& session) {
    auto pid = tmux({"display-message", "-p", "-t", "=" + session + ":", "#{pane_pid}"});
    if (!pid.ok() || pid->out.empty()) return "?";
    char buf[4096];
    std::string link = "/proc/" + pid->out.substr(0, pid->out.size() - 1) + "/cwd";
    ssize_t n = ::readlink(link.c_str(), buf, sizeof buf);
    return n > 0 ? std::string(buf, static_cast<std::size_t>(n)) : "?";
  }

  TempDir dir_;
  std::string temp_;
  std::unique_ptr<TmuxSessionControl> control_;
};

TEST_F(TmuxSessionTest, OpensASessionAndPastesAMultiLineBrief) {
  const std::string out = dir_ / "agent.out";
  OpenSession r;
  r.session = "agent-1";
  r.cwd = dir_.path();
  r.argv = stub_agent(out, 3, "got3");
  r.brief = "line one\nline \"two\" $HOME `id` #{pane_id} #(id)\nthree";
  Status s = open(r);
  ASSERT_TRUE(s.ok()) << s.error().message;
  ASSERT_TRUE(tmux({"wait-for", "got3"})->ok());
  EXPECT_EQ(read_file(out), r.brief + "\n");
  auto screen = tmux({"capture-pane", "-p", "-t", "=agent-1:"});
  EXPECT_NE(screen->out.find("line \"two\" $HOME `id` #{pane_id} #(id)\nthree"), std::string::npos)
      << screen->out;
  EXPECT_TRUE(list_dir(temp_).empty());        // the brief file is gone
  EXPECT_EQ(tmux({"list-buffers"})->out, "");  // and so is the buffer
  EXPECT_EQ(pane_cwd("agent-1"), dir_.path());
}

TEST_F(TmuxSessionTest, WaitsForTheTextBeforePasting) {
  const std::string out = dir_ / "agent.out";
  OpenSession r;
  r.session = "agent-2";
  r.argv = stub_agent(out, 1, "got1", "READY>");
  r.brief = "the brief";
  r.wait_for = "READY>";
  ASSERT_TRUE(tmux({"new-session", "-d", "-s", "keep", "sleep 60"})->ok());
  std::optional<Status> status;
  control_->open_session(r, [&](Status s) { status = std::move(s); });
  // The agent prints its prompt only when told (the server must exist for the
  // signal to be kept: the session above may not be there yet); the brief
  // must come after the prompt.
  ASSERT_TRUE(tmux({"wait-for", "-S", "go"})->ok());
  ASSERT_TRUE(run_until([&] { return status.has_value(); }));
  ASSERT_TRUE(status->ok()) << status->error().message;
  ASSERT_TRUE(tmux({"wait-for", "got1"})->ok());
  EXPECT_EQ(read_file(out), "the brief\n");
  // Typed after the prompt: the terminal echoed it after READY>.
  auto screen = tmux({"capture-pane", "-p", "-t", "=agent-2:"})->out;
  EXPECT_NE(screen.find("READY>the brief"), std::string::npos) << screen;
}

TEST_F(TmuxSessionTest, TextThatNeverAppearsTimesOut) {
  OpenSession r;
  r.session = "slow";
  r.argv = {"sleep", "60"};
  r.brief = "never pasted";
  r.wait_for = "PROMPT";
  r.ready_timeout = std::chrono::milliseconds(150);
  Status s = open(r);
  ASSERT_FALSE(s.ok());
  EXPECT_EQ(s.error().message, "tmux session 'slow': \"PROMPT\" did not appear within 150 ms");
  EXPECT_TRUE(list_dir(temp_).empty());
  EXPECT_EQ(tmux({"has-session", "-t", "=slow"})->exit_code, 0);  // left running
}

TEST_F(TmuxSessionTest, AnExistingSessionIsRefused) {
  ASSERT_TRUE(tmux({"new-session", "-d", "-s", "w1", "sleep 60"})->ok());
  OpenSession r;
  r.session = "w1";
  r.brief = "x";
  Status s = open(r);
  ASSERT_FALSE(s.ok());
  EXPECT_EQ(s.error().message, "tmux session 'w1' already exists; refusing to open it again");
  EXPECT_TRUE(list_dir(temp_).empty());
}

TEST_F(TmuxSessionTest, ACommandThatExitsBeforeReadyIsAnError) {
  OpenSession r;
  r.session = "quitter";
  r.argv = {"false"};
  r.wait_for = "never";
  Status s = open(r);
  ASSERT_FALSE(s.ok());
  EXPECT_EQ(s.error().message,
            "tmux session 'quitter' ended before it was ready (its command exited?)");

  // With remain-on-exit the pane stays, dead, with its status. (The server
  // may still be exiting after the last session ended: open_session copes.)
  OpenSession keep;
  keep.session = "keep";
  keep.argv = {"sleep", "60"};
  ASSERT_TRUE(open(keep).ok());
  ASSERT_TRUE(tmux({"set", "-g", "remain-on-exit", "on"})->ok());
  r.session = "quitter2";
  s = open(r);
  ASSERT_FALSE(s.ok());
  // tmux usually knows the status by then, but not always.
  EXPECT_TRUE(s.error().message ==
                  "tmux session 'quitter2': its command exited with status 1 before it was ready" ||
              s.error().message ==
                  "tmux session 'quitter2': its command exited before it was ready")
      << s.error().message;
}

TEST_F(TmuxSessionTest, OneElementArgvIsAProgramNotShellTextAndEnvIsPassed) {
  const std::string agent = dir_ / "my agent #1";
  const std::string out = dir_ / "ran";
  write_file(agent,
             "#!/bin/sh\nprintf '%s' \"$AW_TOKEN\" > '" + out + "'\ntmux -L " + server_name_ +
                 " wait-for -S ran\nexec sleep 60\n",
             0755);
  OpenSession r;
  r.session = "prog";
  r.argv = {agent};
  r.env = {{"AW_TOKEN", "a b $(id)"}};
  ASSERT_TRUE(open(r).ok());
  ASSERT_TRUE(tmux({"wait-for", "ran"})->ok());
  EXPECT_EQ(read_file(out), "a b $(id)");
}

TEST_F(TmuxSessionTest, HostileNameAndCwdAreNeitherRunNorMangled) {
  const std::string pwned = dir_ / "pwned";
  const std::string cwd = dir_ / "#(touch pwned-cwd) d";
  ASSERT_EQ(::mkdir(cwd.c_str(), 0755), 0);
  OpenSession r;
  r.session = "x #(touch " + pwned + ") #{pane_id} ## $(id)";
  r.cwd = cwd;
  const std::string out = dir_ / "pwd";
  r.argv = {"/bin/sh", "-c",
            "pwd > '" + out + "'; tmux -L " + server_name_ + " wait-for -S started; exec sleep 60"};
  ASSERT_TRUE(open(r).ok());
  EXPECT_EQ(tmux({"list-sessions", "-F", "#{session_name}"})->out, r.session + "\n");
  ASSERT_TRUE(tmux({"wait-for", "started"})->ok());
  EXPECT_EQ(read_file(out), cwd + "\n");
  EXPECT_FALSE(exists(pwned));
  EXPECT_FALSE(exists(dir_ / "pwned-cwd"));
  ASSERT_TRUE(wait([&](auto cb) { control_->kill_session(r.session, cb); }).ok());
}

TEST_F(TmuxSessionTest, BadRequestsAreRefusedWithClearErrors) {
  OpenSession r;
  r.session = "a:b";
  EXPECT_EQ(open(r).error().message,
            "tmux session name 'a:b': contains ':' or '.', which tmux would turn into '_'");
  r.session = "ok";
  r.env = {{"A=B", "x"}};
  EXPECT_EQ(open(r).error().message,
            "tmux session 'ok': environment name 'A=B' is empty or contains '='");
  r.env.clear();
  r.cwd = dir_ / "missing";
  EXPECT_EQ(open(r).error().message,
            "tmux session 'ok': cwd " + dir_ / "missing" + ": No such file or directory");
  EXPECT_EQ(tmux({"has-session", "-t", "=ok"})->exit_code, 1);  // nothing was started
  EXPECT_EQ(wait([&](auto cb) { control_->send_keys("ok", {}, cb); }).error().message,
            "tmux session 'ok': nothing to send (no brief, no keys)");
  EXPECT_FALSE(wait([&](auto cb) { control_->kill_session("", cb); }).ok());
}

TEST_F(TmuxSessionTest, SendKeysAndKillSession) {
  const std::string out = dir_ / "agent.out";
  OpenSession r;
  r.session = "w";
  r.argv = stub_agent(out, 2, "got2");
  r.brief = "first";
  r.keys = {"-l", "second"};  // literal text after the brief...
  ASSERT_TRUE(open(r).ok());
  // ...and Enter sent separately.
  ASSERT_TRUE(wait([&](auto cb) { control_->send_keys("w", {"Enter"}, cb); }).ok());
  ASSERT_TRUE(tmux({"wait-for", "got2"})->ok());
  EXPECT_EQ(read_file(out), "first\nsecond\n");

  ASSERT_TRUE(tmux({"new-session", "-d", "-s", "keep"})->ok());  // the server stays up
  ASSERT_TRUE(wait([&](auto cb) { control_->kill_session("w", cb); }).ok());
  EXPECT_EQ(tmux({"has-session", "-t", "=w"})->exit_code, 1);
  // Absent, says a server that answers: a clear error, for every operation.
  EXPECT_EQ(wait([&](auto cb) { control_->kill_session("w", cb); }).error().message,
            "no such tmux session: w");
  EXPECT_EQ(wait([&](auto cb) { control_->send_keys("w", {"x"}, cb); }).error().message,
            "no such tmux session: w");
  EXPECT_EQ(wait([&](auto cb) {
              control_->send(SendToSession{"w", "brief", true, {}}, cb);
            })
                .error()
                .message,
            "no such tmux session: w");
  // No server to ask: that is not "no such session", it is tmux's own words.
  ASSERT_TRUE(tmux({"kill-server"})->ok());
  const std::string unreachable =
      wait([&](auto cb) { control_->kill_session("w", cb); }).error().message;
  EXPECT_TRUE(unreachable.starts_with("tmux kill-session 'w': ")) << unreachable;
  EXPECT_TRUE(is_unreachable_message(unreachable.substr(23))) << unreachable;
  EXPECT_TRUE(list_dir(temp_).empty());
}

TEST_F(TmuxSessionTest, SendPastesABriefIntoARunningSession) {
  const std::string out = dir_ / "agent.out";
  OpenSession r;
  r.session = "w";
  r.argv = stub_agent(out, 3, "got3");
  ASSERT_TRUE(open(r).ok());
  SendToSession s{"w", "one\ntwo", true, {"-l", "three"}};
  ASSERT_TRUE(wait([&](auto cb) { control_->send(s, cb); }).ok());
  ASSERT_TRUE(wait([&](auto cb) { control_->send_keys("w", {"Enter"}, cb); }).ok());
  ASSERT_TRUE(tmux({"wait-for", "got3"})->ok());
  EXPECT_EQ(read_file(out), "one\ntwo\nthree\n");
  EXPECT_TRUE(list_dir(temp_).empty());
}

TEST_F(TmuxSessionTest, KillTargetsTheExactNameNotAPrefix) {
  ASSERT_TRUE(tmux({"new-session", "-d", "-s", "w10", "sleep 60"})->ok());
  EXPECT_EQ(wait([&](auto cb) { control_->kill_session("w1", cb); }).error().message,
            "no such tmux session: w1");
  EXPECT_EQ(tmux({"has-session", "-t", "=w10"})->exit_code, 0);
}

TEST_F(TmuxSessionTest, DestroyingTheControlDropsCallbacksAndDeletesBriefFiles) {
  OpenSession r;
  r.session = "gone";
  r.argv = {"sleep", "60"};
  r.brief = "text";
  r.wait_for = "never";
  int called = 0;
  control_->open_session(r, [&](const Status&) { ++called; });
  // Destroyed once the brief file was written (the session may be starting).
  ASSERT_TRUE(run_until([&] { return !list_dir(temp_).empty(); }));
  control_.reset();
  // Deleted by the destructor, or by the pool's completion if the file was
  // written but not yet handed over.
  ASSERT_TRUE(run_until([&] { return client_->in_flight() == 0 && list_dir(temp_).empty(); }));
  EXPECT_EQ(called, 0);
}

}  // namespace
}  // namespace aw
