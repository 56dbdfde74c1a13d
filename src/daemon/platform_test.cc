// Tests of the daemon's small OS-facing pieces: paths, the instance lock,
// sd_notify datagrams and the systemd unit.
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <functional>

#include "src/daemon/instance_lock.h"
#include "src/daemon/paths.h"
#include "src/daemon/sd_notify.h"
#include "src/daemon/systemd_unit.h"

namespace aw {
namespace {

class TempDir {
 public:
  TempDir() {
    char t[] = "/tmp/aw-daemon-test-XXXXXX";
    path = mkdtemp(t);
  }
  ~TempDir() { std::filesystem::remove_all(path); }
  std::string path;
};

TEST(Paths, XdgVariablesAndOverrides) {
  setenv("XDG_CONFIG_HOME", "/cfg", 1);
  setenv("XDG_STATE_HOME", "/st", 1);
  setenv("XDG_RUNTIME_DIR", "/run/user/4242", 1);
  Paths p = resolve_paths({});
  EXPECT_EQ(p.config_file, "/cfg/agentwatch/agentwatch.toml");
  EXPECT_EQ(p.rules_dir, "/cfg/agentwatch/rules.d");
  EXPECT_EQ(p.state_dir, "/st/agentwatch");
  EXPECT_EQ(p.runtime_dir, "/run/user/4242/agentwatch");
  Paths o = resolve_paths({"/x/aw.toml", "/y", "/z", "/rules"});
  EXPECT_EQ(o.config_dir, "/x");
  EXPECT_EQ(o.rules_dir, "/x/rules.d");
  EXPECT_EQ(o.state_dir, "/y");
  EXPECT_EQ(o.runtime_dir, "/z");
  EXPECT_EQ(o.shipped_rules_dir, "/rules");
  setenv("XDG_STATE_HOME", "relative/ignored", 1);  // XDG: relative values are ignored
  setenv("HOME", "/home/u", 1);
  EXPECT_EQ(resolve_paths({}).state_dir, "/home/u/.local/state/agentwatch");
}

TEST(Paths, RuntimeDirIsPrivate) {
  TempDir t;
  std::string rt = t.path + "/rt";
  ASSERT_TRUE(prepare_runtime_dir(rt).ok());
  struct stat st {};
  ASSERT_EQ(stat(rt.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0700u);
  chmod(rt.c_str(), 0755);
  ASSERT_TRUE(prepare_runtime_dir(rt).ok());
  ASSERT_EQ(stat(rt.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0700u) << "a group/world-accessible runtime dir is tightened";
}

// Runs `body` in a forked child; its return value is the child's exit status.
// Record locks never conflict within one process, so a second claimant must be
// another process.
int in_child(const std::function<int()>& body) {
  const pid_t pid = fork();
  if (pid == 0) _exit(body());
  int status = 0;
  if (pid < 0 || waitpid(pid, &status, 0) != pid || !WIFEXITED(status)) return -1;
  return WEXITSTATUS(status);
}

TEST(InstanceLock, SecondHolderIsRefusedWithPid) {
  TempDir t;
  std::string path = t.path + "/agentwatch.lock";
  auto first = InstanceLock::acquire(path);
  ASSERT_TRUE(first.ok()) << first.error().message;
  const pid_t daemon = getpid();
  EXPECT_EQ(in_child([&] {
              auto second = InstanceLock::acquire(path);
              if (second.ok()) return 1;
              if (second.error().message.find("already running (pid " + std::to_string(daemon)) ==
                  std::string::npos)
                return 2;
              return InstanceLock::holder(path) == daemon ? 0 : 3;
            }),
            0);
  EXPECT_TRUE(first->is_at(path));
}

TEST(InstanceLock, ReleasedOnDestruction) {
  TempDir t;
  std::string path = t.path + "/agentwatch.lock";
  {
    auto first = InstanceLock::acquire(path);
    ASSERT_TRUE(first.ok());
  }
  EXPECT_EQ(in_child([&] { return InstanceLock::holder(path) == 0 ? 0 : 1; }), 0);
  EXPECT_EQ(in_child([&] { return InstanceLock::acquire(path).ok() ? 0 : 1; }), 0);
}

// Fault 5 of docs/crash-testing.md: a daemon SIGKILLed while a child it forked
// had not yet exec'd. The child still has the lock file's fd; the lock must
// still be gone with the daemon.
TEST(InstanceLock, DiesWithItsProcessEvenWhenAChildKeepsTheFd) {
  TempDir t;
  std::string path = t.path + "/agentwatch.lock";
  // We reap the grandchild ourselves (PID 1 reaps orphans late here).
  ASSERT_EQ(prctl(PR_SET_CHILD_SUBREAPER, 1), 0);
  int ready[2];
  ASSERT_EQ(pipe(ready), 0);
  const pid_t daemon = fork();
  ASSERT_GE(daemon, 0);
  if (daemon == 0) {
    auto lock = InstanceLock::acquire(path);
    if (!lock.ok()) _exit(1);
    const pid_t spawned = fork();  // inherits every fd and never execs
    if (spawned == 0) {
      pause();
      _exit(0);
    }
    (void)!write(ready[1], &spawned, sizeof spawned);
    pause();  // SIGKILLed below
    _exit(0);
  }
  close(ready[1]);
  pid_t spawned = 0;
  ASSERT_EQ(read(ready[0], &spawned, sizeof spawned), static_cast<ssize_t>(sizeof spawned));
  close(ready[0]);
  EXPECT_EQ(InstanceLock::holder(path), daemon);
  ASSERT_EQ(kill(daemon, SIGKILL), 0);
  int status = 0;
  ASSERT_EQ(waitpid(daemon, &status, 0), daemon);
  ASSERT_EQ(kill(spawned, 0), 0) << "the spawned child still runs, with the lock file's fd";
  EXPECT_EQ(InstanceLock::holder(path), 0) << "a record lock dies with its process";
  auto next = InstanceLock::acquire(path);
  EXPECT_TRUE(next.ok()) << (next.ok() ? "" : next.error().message);
  kill(spawned, SIGKILL);
  EXPECT_EQ(waitpid(spawned, &status, 0), spawned);
  prctl(PR_SET_CHILD_SUBREAPER, 0);
}

TEST(SdNotify, SendsDatagramToSocket) {
  TempDir t;
  std::string path = t.path + "/notify.sock";
  int fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  std::strcpy(addr.sun_path, path.c_str());
  ASSERT_EQ(bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr), 0);
  SdNotifier n(path, 10'000'000);
  ASSERT_TRUE(n.send("READY=1\nSTATUS=ok").ok());
  char buf[128] = {};
  ssize_t got = recv(fd, buf, sizeof buf - 1, 0);
  EXPECT_EQ(std::string(buf, got > 0 ? got : 0), "READY=1\nSTATUS=ok");
  EXPECT_EQ(n.watchdog_interval_ms(), 5000u);
  close(fd);
}

TEST(SdNotify, DisabledWithoutSocketAndReadsEnvironment) {
  unsetenv("NOTIFY_SOCKET");
  unsetenv("WATCHDOG_USEC");
  SdNotifier off = SdNotifier::from_environment();
  EXPECT_FALSE(off.enabled());
  EXPECT_TRUE(off.send("READY=1").ok());
  EXPECT_FALSE(off.watchdog_interval_ms());
  setenv("NOTIFY_SOCKET", "@abstract", 1);
  setenv("WATCHDOG_USEC", "2000000", 1);
  setenv("WATCHDOG_PID", std::to_string(getpid()).c_str(), 1);
  SdNotifier on = SdNotifier::from_environment();
  EXPECT_TRUE(on.enabled());
  EXPECT_EQ(on.watchdog_interval_ms(), 1000u);
  setenv("WATCHDOG_PID", "1", 1);  // meant for another process
  EXPECT_FALSE(SdNotifier::from_environment().watchdog_interval_ms());
  unsetenv("NOTIFY_SOCKET");
  unsetenv("WATCHDOG_USEC");
  unsetenv("WATCHDOG_PID");
}

TEST(SystemdUnit, RendersNotifyWatchdogAndHardening) {
  UnitParams p{"/usr/bin/agentwatch",
               {"--config", "/home/u/my cfg.toml"},
               {"/home/u/.local/state/agentwatch", "/srv/results"},
               30};
  std::string u = render_unit(p);
  EXPECT_NE(u.find("Type=notify\n"), std::string::npos);
  EXPECT_NE(u.find("WatchdogSec=30\n"), std::string::npos);
  EXPECT_NE(u.find("NoNewPrivileges=yes\n"), std::string::npos);
  // A stop signals the daemon alone: the workers in its cgroup keep running.
  EXPECT_NE(u.find("\nKillMode=process\n"), std::string::npos) << u;
  // A private /tmp would hide the agents' tmux socket (/tmp/tmux-UID/).
  EXPECT_EQ(u.find("PrivateTmp="), std::string::npos);
  EXPECT_EQ(unit_hides(u, "/tmp/tmux-1000/default"), std::nullopt);
  EXPECT_NE(u.find("ProtectSystem=strict\n"), std::string::npos);
  EXPECT_NE(u.find("ExecStart=\"/usr/bin/agentwatch\" run \"--config\" \"/home/u/my cfg.toml\"\n"),
            std::string::npos)
      << u;
  EXPECT_NE(u.find("ReadWritePaths=-/home/u/.local/state/agentwatch -/srv/results\n"),
            std::string::npos)
      << u;
}

TEST(SystemdUnit, UnitHidesNamesTheSettingThatHidesAPath) {
  const std::string unit = "[Service]\n# PrivateTmp=yes is a comment\nProtectSystem=strict\n";
  EXPECT_EQ(unit_hides(unit, "/tmp/tmux-0/default"), std::nullopt);
  const std::string priv = unit + "PrivateTmp=yes\nProtectHome=tmpfs\n";
  EXPECT_EQ(unit_hides(priv, "/tmp/tmux-0/default"), "PrivateTmp=yes");
  EXPECT_EQ(unit_hides(priv, "/var/tmp/x"), "PrivateTmp=yes");
  EXPECT_EQ(unit_hides(priv, "/tmpfoo/x"), std::nullopt);
  EXPECT_EQ(unit_hides(priv, "/home/u/agents.sock"), "ProtectHome=tmpfs");
  EXPECT_EQ(unit_hides(priv, "/run/user/1000/tmux-1000/default"), "ProtectHome=tmpfs");
  EXPECT_EQ(unit_hides(priv, "/srv/tmux.sock"), std::nullopt);
  EXPECT_EQ(unit_hides("ProtectHome=read-only\n", "/home/u/s"), std::nullopt);
}

TEST(SystemdUnit, InstallAndUninstall) {
  TempDir t;
  std::string dir = t.path + "/systemd/user";
  auto path = install_unit(dir, "[Unit]\n");
  ASSERT_TRUE(path.ok()) << path.error().message;
  std::ifstream in(*path);
  std::string content((std::istreambuf_iterator<char>(in)), {});
  EXPECT_EQ(content, "[Unit]\n");
  auto removed = uninstall_unit(dir);
  ASSERT_TRUE(removed.ok());
  EXPECT_TRUE(*removed);
  EXPECT_FALSE(*uninstall_unit(dir));
}

}  // namespace
}  // namespace aw
