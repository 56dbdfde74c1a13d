// The daemon's life: start, one instance per user, graceful stop, status,
// the systemd unit, readiness over NOTIFY_SOCKET.
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <cstring>

#include "tests/integration/harness.h"

namespace aw::testing {
namespace {

const char* kNoShippedRules = "[rules]\nshipped = false\n";

TEST(Daemon, StartsWithDefaultWorkspaceAndStopsGracefully) {
  DaemonUnderTest d;
  d.write_config(kNoShippedRules);
  d.start();
  auto started = d.wait_for_kind("daemon.started");
  ASSERT_TRUE(started);
  EXPECT_EQ(*started->fields.get_int("watches"), 4);  // results, pids, logs, hooks
  for (const char* dir : {"results", "pids", "logs", "hooks"}) {
    struct stat st {};
    ASSERT_EQ(::stat((d.state_dir() + "/workspace/" + dir).c_str(), &st), 0) << dir;
    EXPECT_EQ(st.st_mode & 0777, 0700u) << dir;
  }
  EXPECT_EQ(d.stop(), 0);
  auto events = d.events();
  ASSERT_GE(events.size(), 3u);
  EXPECT_EQ(events.back().kind, "daemon.stopped");
  EXPECT_TRUE(d.wait_for_kind("daemon.stopping", 0ms));
}

TEST(Daemon, SecondInstanceExitsNamingTheRunningPid) {
  DaemonUnderTest d;
  d.write_config(kNoShippedRules);
  d.start();
  auto second = d.cli({"run"});
  EXPECT_EQ(second.exit_code, 1);
  EXPECT_NE(second.err.find("already running (pid " + std::to_string(d.pid())), std::string::npos)
      << second.err;
  EXPECT_EQ(d.stop(), 0);
}

TEST(Daemon, SeqContinuesAcrossRestarts) {
  DaemonUnderTest d;
  d.write_config(kNoShippedRules);
  d.start();
  ASSERT_EQ(d.stop(), 0);
  const std::uint64_t last = d.events().back().seq;
  d.start();
  ASSERT_EQ(d.stop(), 0);
  auto events = d.events();
  for (std::size_t i = 1; i < events.size(); ++i) EXPECT_EQ(events[i].seq, events[i - 1].seq + 1);
  EXPECT_GT(events.back().seq, last);
}

TEST(Daemon, StatusReportsRunningAndStopped) {
  DaemonUnderTest d;
  d.write_config(kNoShippedRules);
  auto before = d.cli({"status"});
  EXPECT_EQ(before.exit_code, 3);
  EXPECT_NE(before.out.find("not running"), std::string::npos);
  d.start();
  auto running = d.cli({"status", "--json"});
  EXPECT_EQ(running.exit_code, 0);
  EXPECT_NE(running.out.find("\"state\":\"running\""), std::string::npos) << running.out;
  EXPECT_NE(running.out.find("\"pid\":" + std::to_string(d.pid())), std::string::npos);
  EXPECT_NE(running.out.find("workspace/results"), std::string::npos);
  ASSERT_EQ(d.stop(), 0);
  EXPECT_EQ(d.cli({"status"}).exit_code, 3);
}

TEST(Daemon, InvalidConfigRefusesToStartWithLocation) {
  DaemonUnderTest d;
  d.write_config("[[watch]]\npath = \"/tmp\"\nrecursve = true\n");
  auto r = d.cli({"run"});
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.err.find("agentwatch.toml:3:1"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("did you mean 'recursive'"), std::string::npos) << r.err;
}

TEST(Daemon, NotifiesReadyOverNotifySocket) {
  DaemonUnderTest d;
  d.write_config(kNoShippedRules);
  const std::string sock_path = d.home() + "/notify.sock";
  int fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  std::strncpy(addr.sun_path, sock_path.c_str(), sizeof addr.sun_path - 1);
  ASSERT_EQ(bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr), 0);
  setenv("NOTIFY_SOCKET", sock_path.c_str(), 1);
  setenv("WATCHDOG_USEC", "200000", 1);  // pings every 100 ms
  d.start();
  unsetenv("NOTIFY_SOCKET");
  unsetenv("WATCHDOG_USEC");
  timeval tv{5, 0};
  setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  char buf[512];
  ssize_t n = recv(fd, buf, sizeof buf, 0);
  ASSERT_GT(n, 0);
  EXPECT_EQ(std::string(buf, static_cast<std::size_t>(n)).rfind("READY=1", 0), 0u);
  n = recv(fd, buf, sizeof buf, 0);
  ASSERT_GT(n, 0);
  EXPECT_EQ(std::string(buf, static_cast<std::size_t>(n)), "WATCHDOG=1");
  ASSERT_EQ(d.stop(), 0);
  bool stopping = false;
  timeval short_tv{0, 200000};
  setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &short_tv, sizeof short_tv);
  while ((n = recv(fd, buf, sizeof buf, 0)) > 0)
    stopping = stopping || std::string(buf, static_cast<std::size_t>(n)) == "STOPPING=1";
  EXPECT_TRUE(stopping);
  close(fd);
}

TEST(Daemon, ServicePrintAndInstall) {
  DaemonUnderTest d;
  d.write_config(std::string(kNoShippedRules) + "[[watch]]\nname = \"r\"\npath = \"" + d.home() +
                 "/watched\"\n");
  auto printed = d.cli({"service", "print"});
  ASSERT_EQ(printed.exit_code, 0) << printed.err;
  EXPECT_NE(printed.out.find("Type=notify"), std::string::npos);
  EXPECT_NE(printed.out.find("WatchdogSec="), std::string::npos);
  EXPECT_NE(printed.out.find("ReadWritePaths=-" + d.state_dir()), std::string::npos) << printed.out;
  EXPECT_NE(printed.out.find("-" + d.home() + "/watched"), std::string::npos) << printed.out;

  setenv("XDG_CONFIG_HOME", (d.home() + "/xdg").c_str(), 1);
  auto installed = d.cli({"service", "install"});
  ASSERT_EQ(installed.exit_code, 0) << installed.err;
  const std::string unit = d.home() + "/xdg/systemd/user/agentwatch.service";
  EXPECT_EQ(read_file(unit), printed.out);
  if (system("command -v systemd-analyze >/dev/null 2>&1") == 0) {
    // systemd is not PID 1 here; verify the unit file's syntax offline.
    std::string cmd =
        "systemd-analyze verify --man=no '" + unit + "' 2>" + d.home() + "/verify.err";
    int rc = system(cmd.c_str());
    std::string err = read_file(d.home() + "/verify.err");
    EXPECT_EQ(err.find("Unknown key"), std::string::npos) << err;
    EXPECT_EQ(err.find("Invalid"), std::string::npos) << err;
    (void)rc;  // verify also complains about the missing user manager; the keys are what we check
  }
  auto removed = d.cli({"service", "uninstall"});
  EXPECT_EQ(removed.exit_code, 0);
  EXPECT_FALSE(exists(unit));
  unsetenv("XDG_CONFIG_HOME");
}

}  // namespace
}  // namespace aw::testing

int main(int argc, char** argv) {
  aw::testing::become_subreaper();
  ::testing::InitGoogleTest(&argc, argv);
  return RUN_ALL_TESTS();
}
