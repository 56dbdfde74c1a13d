// Issue #8: unknown never acts. A live worker whose tmux session cannot be
// SEEN (socket deleted, its directory made unusable, the server frozen, the
// daemon sandboxed away from it) is left alone, its session reported unknown,
// and present again once the server answers. Only the server's own exit
// confirms its sessions gone, within a second and without any hook, and only
// then does the zombie check act. Everything runs against a real, private tmux
// server whose socket directory is this test's own (TMUX_TMPDIR), so breaking
// it breaks no other test.
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <filesystem>

#include "tests/integration/harness.h"
#include "tests/integration/private_tmux.h"

namespace aw::testing {
namespace {

bool contains(const std::string& hay, const std::string& needle) {
  return hay.find(needle) != std::string::npos;
}

bool alive(pid_t pid) {
  return pid > 0 && kill(pid, 0) == 0;
}

// TMUX_TMPDIR for the test's own server and daemon, restored afterwards.
class TmuxTmpdir {
 public:
  TmuxTmpdir() {
    const char* old = std::getenv("TMUX_TMPDIR");
    had_ = old != nullptr;
    if (had_) old_ = old;
    setenv("TMUX_TMPDIR", dir_.path().c_str(), 1);
  }
  ~TmuxTmpdir() {
    if (had_)
      setenv("TMUX_TMPDIR", old_.c_str(), 1);
    else
      unsetenv("TMUX_TMPDIR");
  }
  TmuxTmpdir(const TmuxTmpdir&) = delete;
  TmuxTmpdir& operator=(const TmuxTmpdir&) = delete;
  // tmux's own directory for this user's sockets.
  std::string socket_dir() const { return dir_ / ("tmux-" + std::to_string(getuid())); }

 private:
  TempDir dir_;
  bool had_ = false;
  std::string old_;
};

const char* kWorker = R"(
[[worker]]
name = "w1"
argv = ["sleep", "1000"]
tmux_session = "w1"
restart = "never"
start_grace = "50ms"
kill_grace = "300ms"
)";

std::function<bool(const Event&)> kind_is(const std::string& kind) {
  return [kind](const Event& e) { return e.kind == kind; };
}

class TmuxUnknownTest : public ::testing::Test {
 protected:
  // Destroyed in reverse: the daemon, then the server, then TMUX_TMPDIR.
  TmuxTmpdir tmpdir_;
  PrivateTmux tmux;
  std::unique_ptr<DaemonUnderTest> d = std::make_unique<DaemonUnderTest>();

  // Session w1 with its worker running and seen by the daemon. Returns the
  // worker's PID. `launcher`: see DaemonUnderTest::start.
  pid_t start_worker_in_session(const std::vector<std::string>& launcher = {},
                                bool expect_seen = true) {
    EXPECT_EQ(tmux({"new-session", "-d", "-s", "w1"}).exit_code, 0);
    EXPECT_EQ(tmux({"new-session", "-d", "-s", "keep"}).exit_code, 0);
    d->write_config("[rules]\nshipped = false\n" + tmux.config() + kWorker);
    d->start({}, launcher);
    auto started = d->wait_for([](const Event& e) { return e.kind == "worker.started"; });
    EXPECT_TRUE(started) << d->stderr_text();
    if (expect_seen) {
      EXPECT_TRUE(d->wait_for([](const Event& e) {
        return e.kind == "tmux.session.seen" && e.entity == "w1";
      })) << d->stderr_text();
    }
    return started ? static_cast<pid_t>(started->fields.get_int("pid").value_or(0)) : 0;
  }

  // What an installed tmux hook would send: a hint that makes the daemon look.
  void hint() {
    auto r = d->cli({"notify", "tmux.session-closed", "entity=w1", "session=w1"});
    ASSERT_EQ(r.exit_code, 0) << r.err;
  }

  std::string health_session() const {
    auto r = d->cli({"health", "w1", "--json"});
    const auto at = r.out.find("\"session\":\"");
    if (at == std::string::npos) return "(no session in: " + r.out + r.err + ")";
    const auto from = at + 11;
    return r.out.substr(from, r.out.find('"', from) - from);
  }

  // The failed listing after a hint: unknown, never absent; nothing acted.
  void expect_unknown_and_left_alone(pid_t worker, const std::string& error_part) {
    const std::size_t failed_before = d->count(kind_is("tmux.reconcile.failed"));
    hint();
    ASSERT_EQ(d->wait_for_count(kind_is("tmux.reconcile.failed"), failed_before + 1, 15s),
              failed_before + 1)
        << d->stderr_text();
    auto failed = d->events();
    const Event* last = nullptr;
    for (const Event& e : failed)
      if (e.kind == "tmux.reconcile.failed") last = &e;
    ASSERT_NE(last, nullptr);
    EXPECT_TRUE(contains(last->fields.get_string("error").value_or(""), error_part))
        << last->fields.get_string("error").value_or("");
    EXPECT_EQ(health_session(), "unknown");
    EXPECT_EQ(d->count([](const Event& e) {
      return e.kind == "tmux.session.vanished" || e.kind == "worker.zombie" ||
             e.kind == "worker.killing";
    }),
              0u);
    EXPECT_TRUE(alive(worker)) << "a live worker was killed on an unknown session";
    auto diagnosis = d->cli({"recover", "diagnose"});
    EXPECT_EQ(diagnosis.exit_code, 1);
    EXPECT_TRUE(contains(diagnosis.out, "tmux")) << diagnosis.out;
    EXPECT_TRUE(contains(diagnosis.out, "unknown")) << diagnosis.out;
  }

  // The server answers again: a hint makes the daemon look, and the session
  // is present again. Nothing was ever reported gone.
  void expect_present_again() {
    hint();
    ASSERT_TRUE(d->wait_for(kind_is("tmux.reconcile.recovered"), 15s)) << d->stderr_text();
    EXPECT_EQ(health_session(), "present");
    EXPECT_EQ(d->count(kind_is("tmux.session.vanished")), 0u);
    auto diagnosis = d->cli({"recover", "diagnose"});
    EXPECT_FALSE(contains(diagnosis.out, "tmux")) << diagnosis.out;
  }
};

// A /tmp cleaner deletes the socket while the server and its sessions live.
TEST_F(TmuxUnknownTest, ADeletedSocketKillsNobody) {
  const pid_t worker = start_worker_in_session();
  ASSERT_TRUE(alive(worker));
  const std::string socket = tmux.socket_path();
  const pid_t server = tmux.server_pid();
  ASSERT_FALSE(socket.empty());
  ASSERT_EQ(unlink(socket.c_str()), 0);

  expect_unknown_and_left_alone(worker, "No such file or directory");
  EXPECT_TRUE(tmux({"has-session"}).exit_code != 0) << "the socket is really gone";

  ASSERT_EQ(kill(server, SIGUSR1), 0);  // tmux re-creates its socket
  // Watches the socket's directory (a socket cannot be read as a file).
  const std::string dir = socket.substr(0, socket.rfind('/'));
  (void)wait_for_file(
      dir + "/.not-a-file", [&](const std::string&) { return exists(socket); }, 5s);
  ASSERT_TRUE(exists(socket));
  expect_present_again();
  EXPECT_TRUE(alive(worker));
  EXPECT_EQ(d->stop(), 0);
}

// The socket's directory becomes unusable: tmux refuses a directory others
// may write to ("has unsafe permissions"), which root cannot bypass.
TEST_F(TmuxUnknownTest, AnUnusableSocketDirectoryKillsNobody) {
  const pid_t worker = start_worker_in_session();
  ASSERT_EQ(chmod(tmpdir_.socket_dir().c_str(), 0777), 0);
  expect_unknown_and_left_alone(worker, "unsafe permissions");
  ASSERT_EQ(chmod(tmpdir_.socket_dir().c_str(), 0700), 0);
  expect_present_again();
  EXPECT_TRUE(alive(worker));
  EXPECT_EQ(d->stop(), 0);
}

// A frozen server accepts the connection and never answers: the listing
// times out (2 s), which is unknown.
TEST_F(TmuxUnknownTest, AFrozenServerKillsNobody) {
  const pid_t worker = start_worker_in_session();
  const pid_t server = tmux.server_pid();
  ASSERT_GT(server, 0);
  ASSERT_EQ(kill(server, SIGSTOP), 0);
  expect_unknown_and_left_alone(worker, "timed out");
  ASSERT_EQ(kill(server, SIGCONT), 0);
  expect_present_again();
  EXPECT_TRUE(alive(worker));
  EXPECT_EQ(d->stop(), 0);
}

// A killed server runs no hook. Its exit (a pidfd) confirms its sessions gone
// within a second, with no hint at all; only then is the worker a zombie.
TEST_F(TmuxUnknownTest, AKilledServerConfirmsItsSessionsGoneAndOnlyThenZombiesAct) {
  const pid_t worker = start_worker_in_session();
  const pid_t server = tmux.server_pid();
  ASSERT_GT(server, 0);
  const WallTime killed_at =
      std::chrono::time_point_cast<Duration>(std::chrono::system_clock::now());
  ASSERT_EQ(kill(server, SIGKILL), 0);

  auto exited = d->wait_for(kind_is("tmux.server.exited"), 5s);
  ASSERT_TRUE(exited) << d->stderr_text();
  EXPECT_EQ(exited->fields.get_int("pid"), server);
  auto vanished = d->wait_for(
      [](const Event& e) { return e.kind == "tmux.session.vanished" && e.entity == "w1"; });
  ASSERT_TRUE(vanished) << d->stderr_text();
  EXPECT_EQ(vanished->fields.get_string("reason"), "tmux.server.exited");
  EXPECT_LT(vanished->time - killed_at, std::chrono::seconds(1));
  EXPECT_EQ(d->count([](const Event& e) { return e.source == "notify"; }), 0u)
      << "no hint was needed";

  auto zombie =
      d->wait_for([](const Event& e) { return e.kind == "worker.zombie" && e.entity == "w1"; });
  ASSERT_TRUE(zombie) << d->stderr_text();
  EXPECT_GT(zombie->seq, vanished->seq);
  EXPECT_GT(vanished->seq, exited->seq);
  ASSERT_TRUE(
      d->wait_for([](const Event& e) { return e.kind == "worker.exited" && e.entity == "w1"; }));
  EXPECT_FALSE(alive(worker));
  EXPECT_EQ(d->stop(), 0);
}

// `service install` says which socket the unit will use and whether a server
// answers there; with none, it says so too.
TEST_F(TmuxUnknownTest, ServiceInstallSaysWhetherTheAgentsServerIsReachable) {
  ASSERT_EQ(tmux({"new-session", "-d", "-s", "w1"}).exit_code, 0);
  d->write_config("[rules]\nshipped = false\n" + tmux.config());
  setenv("XDG_CONFIG_HOME", (d->home() + "/xdg").c_str(), 1);
  auto installed = d->cli({"service", "install"});
  ASSERT_EQ(installed.exit_code, 0) << installed.err;
  EXPECT_TRUE(contains(installed.out, "tmux: the agents' server socket is " + tmux.socket_path()))
      << installed.out;
  EXPECT_TRUE(contains(installed.out, "a server answers there, and the unit leaves it visible"))
      << installed.out;
  ASSERT_EQ(tmux({"kill-server"}).exit_code, 0);
  // kill-server returns before the server is gone: wait until it answers no more.
  for (int i = 0; i < 200 && tmux({"list-sessions"}).exit_code == 0; ++i) usleep(10'000);
  auto again = d->cli({"service", "install"});
  EXPECT_TRUE(contains(again.out, "no server runs there yet") ||
              contains(again.out, "the socket does not answer"))
      << again.out;
  unsetenv("XDG_CONFIG_HOME");
}

// The shipped unit's sandboxing, applied with unshare as far as this machine
// allows: ProtectSystem=strict (/ read-only, the unit's ReadWritePaths
// writable) and PrivateTmp when the unit asks for it. `extra_private_tmp`
// adds a private /tmp whatever the unit says: the old unit's mistake.
std::vector<std::string> sandbox_launcher(const std::string& unit, bool extra_private_tmp) {
  const bool private_tmp = extra_private_tmp || contains(unit, "\nPrivateTmp=yes\n");
  const bool strict = contains(unit, "\nProtectSystem=strict\n");
  // Arguments, never templated text: the script reads them as "$@".
  std::vector<std::string> argv{
      "unshare",
      "-m",
      "--propagation",
      "private",
      "sh",
      "-c",
      "set -e; tmp=$1; strict=$2; shift 2\n"
      "while [ \"$1\" != -- ]; do [ -e \"$1\" ] && mount --bind \"$1\" \"$1\"; shift; done\n"
      "shift\n"
      "[ \"$strict\" = yes ] && mount -o remount,bind,ro /\n"
      "[ \"$tmp\" = yes ] && mount -t tmpfs tmpfs /tmp\n"
      "exec \"$@\"",
      "sandbox",
      private_tmp ? "yes" : "no",
      strict ? "yes" : "no"};
  const auto at = unit.find("\nReadWritePaths=");
  if (at != std::string::npos) {
    const auto from = at + 16;
    std::string line = unit.substr(from, unit.find('\n', from) - from);
    std::size_t start = 0;
    while (start < line.size()) {
      std::size_t sp = line.find(' ', start);
      std::string p = line.substr(start, sp == std::string::npos ? sp : sp - start);
      if (!p.empty() && p[0] == '-') p.erase(0, 1);
      if (!p.empty()) argv.push_back(p);
      start = sp == std::string::npos ? line.size() : sp + 1;
    }
  }
  argv.emplace_back("--");
  return argv;
}

class TmuxSandboxTest : public TmuxUnknownTest {
 protected:
  void SetUp() override {
    // The suite runs as root (README, "Tests"), as CI does: this must work.
    ASSERT_EQ(run_command({"unshare", "-m", "true"}).exit_code, 0)
        << "cannot unshare a mount namespace: the sandbox test needs root";
    // Outside /tmp, which the sandbox may hide: the daemon's dirs, and the
    // binary itself (a checkout, its build dir with it, may well be under
    // /tmp). /var/tmp is kept: the sandbox makes only /tmp private. The dirs
    // must exist before / turns read-only.
    d = std::make_unique<DaemonUnderTest>("/var/tmp");
    make_dirs(d->runtime_dir());
    const std::string bin = d->home() + "/agentwatch";
    std::filesystem::copy_file(agentwatch_bin(), bin);
    const char* old = std::getenv("AGENTWATCH_BIN");
    old_bin_ = old ? old : "";
    setenv("AGENTWATCH_BIN", bin.c_str(), 1);
  }
  void TearDown() override {
    d.reset();  // stops the daemon before its binary goes
    if (!old_bin_.empty()) setenv("AGENTWATCH_BIN", old_bin_.c_str(), 1);
  }
  std::string old_bin_;

  std::string unit() {
    d->write_config("[rules]\nshipped = false\n" + tmux.config() + kWorker);
    auto printed = d->cli({"service", "print"});
    EXPECT_EQ(printed.exit_code, 0) << printed.err;
    return printed.out;
  }
};

// Installed as shipped, the daemon sees the server the agents run in: its
// sessions are seen and present, and the worker in one is left alone.
TEST_F(TmuxSandboxTest, TheShippedUnitSeesTheAgentsServer) {
  const std::string u = unit();
  EXPECT_FALSE(contains(u, "PrivateTmp=yes")) << u;
  EXPECT_TRUE(contains(u, "\nProtectSystem=strict\n")) << u;
  const pid_t worker = start_worker_in_session(sandbox_launcher(u, false));
  EXPECT_EQ(health_session(), "present");
  EXPECT_EQ(d->count(kind_is("tmux.reconcile.failed")), 0u) << d->stderr_text();
  EXPECT_TRUE(alive(worker));
  EXPECT_EQ(d->count(kind_is("worker.zombie")), 0u);
  EXPECT_EQ(d->stop(), 0);
}

// The old unit's PrivateTmp hid the socket and got live workers zombie-killed.
// Now the sessions are unknown and nobody is killed.
TEST_F(TmuxSandboxTest, APrivateTmpHidesTheServerAndKillsNobody) {
  const pid_t worker = start_worker_in_session(sandbox_launcher(unit(), true), false);
  ASSERT_TRUE(d->wait_for(kind_is("tmux.reconcile.failed"))) << d->stderr_text();
  expect_unknown_and_left_alone(worker, "error connecting");
  EXPECT_EQ(d->count(kind_is("tmux.session.seen")), 0u);
  EXPECT_EQ(d->stop(), 0);
}

}  // namespace
}  // namespace aw::testing
