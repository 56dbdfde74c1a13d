// The notify socket as tmux hooks and hostile clients use it (scenarios 17, 21).
#include <fcntl.h>
#include <gtest/gtest.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstring>
#include <vector>

#include "tests/integration/harness.h"

namespace aw::testing {
namespace {

int connect_to(const std::string& path) {
  int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  std::strncpy(addr.sun_path, path.c_str(), sizeof addr.sun_path - 1);
  if (connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) {
    close(fd);
    return -1;
  }
  return fd;
}

class NotifyTest : public ::testing::Test {
 protected:
  void SetUp() override {
    d.write_config("[rules]\nshipped = false\n");
    d.write_rule("tmux.toml", R"(
[[rule]]
name = "session-closed"
on = "tmux.session-closed"
  [[rule.action]]
  do = "emit"
  kind = "user.session-gone"
  entity = "{fields.session}"
)");
  }
  std::string socket_path() const { return d.runtime_dir() + "/notify.sock"; }
  DaemonUnderTest d;
};

TEST_F(NotifyTest, HookNotificationBecomesAnEventThatRulesSee) {
  d.start();
  const auto t0 = std::chrono::steady_clock::now();
  auto r = d.cli({"notify", "tmux.session-closed", "session=w1", "pane_pid=4242"});
  const auto took = std::chrono::steady_clock::now() - t0;
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_TRUE(r.err.empty()) << "delivered, not spooled: " << r.err;
  EXPECT_LT(took, std::chrono::seconds(2));
  auto e = d.wait_for_kind("tmux.session-closed");
  ASSERT_TRUE(e);
  EXPECT_EQ(e->source, "notify");
  EXPECT_EQ(*e->fields.get_string("session"), "w1");
  EXPECT_EQ(*e->fields.get_int("pane_pid"), 4242);
  auto derived = d.wait_for_kind("user.session-gone");
  ASSERT_TRUE(derived);
  EXPECT_EQ(derived->entity, "w1");
  EXPECT_EQ(derived->cause, e->seq);
  EXPECT_EQ(d.stop(), 0);
}

TEST_F(NotifyTest, SentWhileDownIsSpooledAndDeliveredOnceAtStart) {
  auto r = d.cli({"notify", "tmux.session-closed", "session=w9"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.err.find("spooled"), std::string::npos) << r.err;
  d.start();
  auto e = d.wait_for_kind("tmux.session-closed");
  ASSERT_TRUE(e) << d.stderr_text();
  EXPECT_EQ(*e->fields.get_string("session"), "w9");
  EXPECT_EQ(e->fields.find("spooled") ? field_to_string(*e->fields.find("spooled")) : "", "true");
  ASSERT_TRUE(d.wait_for_kind("user.session-gone"));
  ASSERT_EQ(d.stop(), 0);
  d.start();  // a second start delivers nothing again
  ASSERT_EQ(d.stop(), 0);
  EXPECT_EQ(d.count([](const Event& x) { return x.kind == "tmux.session-closed"; }), 1u);
}

// Issue #8, as the operator saw it: 64 connections held open by idle
// same-user clients, then a hook. The hook's message must reach the event log
// within a second while the daemon runs, whichever way it gets there: the
// daemon evicts the longest-idle connection to serve it (once the idle ones
// are older than the eviction age), or refuses it, and then the hook spools
// and the running daemon takes the spool in at once.
TEST_F(NotifyTest, IdleClientsAtTheCapDoNotHoldAHookBack) {
  d.start();
  std::vector<int> idle;
  for (int i = 0; i < 80; ++i) {
    int fd = connect_to(socket_path());
    if (fd >= 0) idle.push_back(fd);
  }
  ASSERT_GE(idle.size(), 64u);
  // The daemon is at its cap: the connections past 64 were refused.
  ASSERT_TRUE(d.wait_for([](const Event& e) {
    return e.kind == "notify.refused" && e.fields.get_string("reason") == "too_many_connections";
  }));

  const auto t0 = std::chrono::steady_clock::now();
  auto r = d.cli({"notify", "user.test-kind", "x=1"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  auto e = d.wait_for([](const Event& x) { return x.kind == "user.test-kind"; }, 1s);
  const auto took = std::chrono::steady_clock::now() - t0;
  ASSERT_TRUE(e) << "not in the event log within a second; the CLI said: " << r.err
                 << d.stderr_text();
  EXPECT_LT(took, 1s);
  EXPECT_EQ(e->fields.get_int("x"), 1);
  RecordProperty("path", r.err.find("spooled") != std::string::npos ? "spooled" : "served");
  for (int fd : idle) close(fd);
  EXPECT_EQ(d.stop(), 0);
  EXPECT_EQ(d.count([](const Event& x) { return x.kind == "user.test-kind"; }), 1u);
}

// A message spooled while the daemon runs is taken in without a restart. The
// socket is moved aside, so the hook finds no daemon and spools, as it does
// at the connection cap or during a stall.
TEST_F(NotifyTest, SpooledWhileRunningIsTakenInWithoutARestart) {
  d.start();
  const std::string aside = socket_path() + ".aside";
  ASSERT_EQ(rename(socket_path().c_str(), aside.c_str()), 0);
  const auto t0 = std::chrono::steady_clock::now();
  auto r = d.cli({"notify", "tmux.session-closed", "session=w5"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.err.find("spooled"), std::string::npos) << r.err;
  auto e = d.wait_for([](const Event& x) { return x.kind == "tmux.session-closed"; }, 1s);
  const auto took = std::chrono::steady_clock::now() - t0;
  ASSERT_TRUE(e) << "the running daemon did not take the spool in: " << d.stderr_text();
  EXPECT_LT(took, 1s);
  EXPECT_EQ(e->fields.get_string("session"), "w5");
  EXPECT_EQ(e->fields.find("spooled") ? field_to_string(*e->fields.find("spooled")) : "", "true");
  EXPECT_TRUE(e->fields.get_string("notify_id").has_value());
  // It went through the rules like any other event.
  ASSERT_TRUE(d.wait_for_kind("user.session-gone"));
  // (The spool files are deleted just after the emit, on the thread pool: not
  // asserted here. The restart below shows nothing is delivered twice.)

  ASSERT_EQ(rename(aside.c_str(), socket_path().c_str()), 0);
  ASSERT_EQ(d.stop(), 0);
  d.start();  // a restart delivers nothing again
  ASSERT_EQ(d.stop(), 0);
  EXPECT_EQ(d.count([](const Event& x) { return x.kind == "tmux.session-closed"; }), 1u);
}

// Fault 3 of docs/crash-testing.md: a client whose reply is late spools its
// line as well, with the same id, since only the spool survives a daemon that
// died before reading it. Whichever copy comes first is delivered; the other
// is dropped, by the running daemon and, from the event log's tail, by the next.
TEST_F(NotifyTest, AMessageThatReachesTheDaemonTwiceIsDeliveredOnce) {
  const std::string line =
      R"({"id":"00000000000000a1","kind":"tmux.session-closed","fields":{"session":"w7"}})"
      "\n";
  const std::string spool = d.runtime_dir() + "/notify.spool";
  auto spool_the_line = [&] {
    int fd = open(spool.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
    ASSERT_GE(fd, 0);
    ASSERT_EQ(write(fd, line.data(), line.size()), static_cast<ssize_t>(line.size()));
    close(fd);
  };
  auto spool_taken_in = [&] {
    for (int i = 0; i < 200; ++i) {
      if (access(spool.c_str(), F_OK) != 0 && access((spool + ".ingesting").c_str(), F_OK) != 0)
        return true;
      usleep(10'000);
    }
    return false;
  };
  auto delivered = [&] {
    return d.count([](const Event& x) { return x.kind == "tmux.session-closed"; });
  };
  d.start();
  int fd = connect_to(socket_path());
  ASSERT_GE(fd, 0);
  ASSERT_EQ(write(fd, line.data(), line.size()), static_cast<ssize_t>(line.size()));
  char reply[256];
  ASSERT_GT(read(fd, reply, sizeof reply), 0);
  close(fd);
  EXPECT_EQ(std::string(reply, 11), R"({"ok":true})") << "the reply comes once it is logged";
  EXPECT_EQ(delivered(), 1u) << "{\"ok\":true} means: in the event log";
  auto e = d.wait_for_kind("tmux.session-closed");
  ASSERT_TRUE(e);
  EXPECT_EQ(e->fields.get_string("notify_id"), "00000000000000a1");

  spool_the_line();  // the late client's copy, while the daemon runs
  ASSERT_TRUE(spool_taken_in()) << d.stderr_text();
  ASSERT_EQ(d.stop(), 0);
  spool_the_line();  // and found by the next daemon
  d.start();
  ASSERT_TRUE(spool_taken_in()) << d.stderr_text();
  ASSERT_EQ(d.stop(), 0);
  EXPECT_EQ(delivered(), 1u);
  EXPECT_EQ(d.count([](const Event& x) { return x.kind == "user.session-gone"; }), 1u);
}

// A daemon SIGKILLed while posix_spawn had cloned a child that had not yet
// exec'd leaves its listening sockets open in that child for a moment (found
// by ./dev crash). The instance lock is free (it died with the daemon), so the
// next daemon takes the sockets' paths over instead of refusing to start.
TEST_F(NotifyTest, ASocketKeptOpenByADeadDaemonsChildDoesNotBlockTheNextStart) {
  make_dirs(d.runtime_dir());
  ASSERT_EQ(chmod(d.runtime_dir().c_str(), 0700), 0);
  int held = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  std::strncpy(addr.sun_path, socket_path().c_str(), sizeof addr.sun_path - 1);
  ASSERT_EQ(bind(held, reinterpret_cast<sockaddr*>(&addr), sizeof addr), 0);
  ASSERT_EQ(listen(held, 4), 0);
  d.start();
  auto r = d.cli({"notify", "tmux.session-closed", "session=w3"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_TRUE(d.wait_for_kind("tmux.session-closed")) << d.stderr_text();
  EXPECT_EQ(d.stop(), 0);
  close(held);
}

TEST_F(NotifyTest, HostileClientsAreRefusedAndTheDaemonKeepsServing) {
  d.start();
  // Garbage.
  int g = connect_to(socket_path());
  ASSERT_GE(g, 0);
  const std::string garbage = "this is not json\n";
  ASSERT_EQ(write(g, garbage.data(), garbage.size()), static_cast<ssize_t>(garbage.size()));
  auto refused = d.wait_for([](const Event& e) {
    return e.kind == "notify.refused" && e.fields.get_string("reason") == "invalid_json";
  });
  EXPECT_TRUE(refused);
  char reply[256] = {};
  ssize_t n = read(g, reply, sizeof reply - 1);
  EXPECT_GT(n, 0);
  EXPECT_NE(std::string(reply).find("\"ok\":false"), std::string::npos) << reply;
  close(g);

  // A 10 MB line: refused without being buffered, the connection closed.
  int big = connect_to(socket_path());
  ASSERT_GE(big, 0);
  fcntl(big, F_SETFL, O_NONBLOCK);
  std::string chunk(1 << 20, 'x');
  std::size_t sent = 0;
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
  while (sent < (10u << 20) && std::chrono::steady_clock::now() < deadline) {
    ssize_t w = write(big, chunk.data(), chunk.size());
    if (w > 0)
      sent += static_cast<std::size_t>(w);
    else if (errno == EPIPE || errno == ECONNRESET)
      break;
    else
      usleep(1000);
  }
  close(big);
  EXPECT_TRUE(d.wait_for([](const Event& e) {
    return e.kind == "notify.refused" && e.fields.get_string("reason") == "line_too_long";
  }));

  // Many idle connections: past the cap they are refused.
  std::vector<int> idle;
  for (int i = 0; i < 80; ++i) {
    int fd = connect_to(socket_path());
    if (fd >= 0) idle.push_back(fd);
  }
  EXPECT_TRUE(d.wait_for([](const Event& e) {
    return e.kind == "notify.refused" && e.fields.get_string("reason") == "too_many_connections";
  }));
  for (int fd : idle) close(fd);

  // A forged daemon kind is refused too.
  auto forged = d.cli({"notify", "notify.refused", "reason=fake"});
  EXPECT_NE(forged.exit_code, 0);

  // And a well-behaved hook still gets through.
  auto ok = d.cli({"notify", "tmux.session-closed", "session=after"});
  EXPECT_EQ(ok.exit_code, 0) << ok.err;
  EXPECT_TRUE(d.wait_for([](const Event& e) {
    return e.kind == "tmux.session-closed" && e.fields.get_string("session") == "after";
  }));
  EXPECT_EQ(d.stop(), 0);
}

}  // namespace
}  // namespace aw::testing

int main(int argc, char** argv) {
  signal(SIGPIPE, SIG_IGN);
  aw::testing::become_subreaper();
  ::testing::InitGoogleTest(&argc, argv);
  return RUN_ALL_TESTS();
}
