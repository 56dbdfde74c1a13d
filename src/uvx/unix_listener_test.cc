// Loop tests of UnixListener on real unix sockets in a temp dir: a fresh loop
// per test, clients on a thread (blocking, with timeouts) while the loop runs
// here, waits on the client thread's end or on counters, never sleeps.
#include "src/uvx/unix_listener.h"

#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <cerrno>
#include <csignal>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "src/os/unique_fd.h"
#include "src/uvx/handle.h"
#include "src/uvx/unix_listener_test_support.h"

namespace aw::uvx {
namespace {

using uvx_test::RawClient;

class UnixListenerTest : public uvx_test::LoopTest {
 protected:
  void SetUp() override {
    // Writing to a client that left raises SIGPIPE; the daemon ignores it too.
    std::signal(SIGPIPE, SIG_IGN);
    uvx_test::LoopTest::SetUp();
  }
  void release_handles() override {
    accepted_.clear();
    listener_.reset();
  }

  // Listens as "test" on sock(), greeting each client it accepts with "hi\n".
  Status listen_and_greet() {
    listener_ = std::make_unique<UnixListener>(
        &loop_, "test", [this](int status) { on_connection(*listener_, status); });
    return listener_->listen(sock(), 8);
  }

  void on_connection(UnixListener& l, int status) {
    ++connections_;
    if (status < 0) return;
    auto pipe = std::make_unique<Handle<uv_pipe_t>>();
    ASSERT_EQ(l.accept(*pipe, nullptr), 0);
    const std::optional<ucred> peer = peer_credentials(*pipe);
    ASSERT_TRUE(peer.has_value());
    peers_.push_back(*peer);
    char hi[] = "hi\n";
    uv_buf_t b = uv_buf_init(hi, 3);
    // Best effort: a probe by a second listener connects and leaves at once.
    (void)uv_try_write(reinterpret_cast<uv_stream_t*>(pipe->get()), &b, 1);
    accepted_.push_back(std::move(pipe));
  }

  // Connects once and returns the greeting ("" if none came).
  std::string greeting() {
    auto lines = exchange_on(sock(), "", 1);
    return lines.empty() ? "" : lines[0];
  }

  std::string sock() const { return dir_.path + "/test.sock"; }

  static ino_t inode_of(const std::string& path) {
    struct stat st {};
    return lstat(path.c_str(), &st) == 0 ? st.st_ino : 0;
  }

  uvx_test::TempDir dir_{"aw-uvx"};
  std::unique_ptr<UnixListener> listener_;
  std::vector<std::unique_ptr<Handle<uv_pipe_t>>> accepted_;
  int connections_ = 0;
  std::vector<ucred> peers_;
};

TEST_F(UnixListenerTest, ListensAndAccepts) {
  Status s = listen_and_greet();
  ASSERT_TRUE(s.ok()) << s.error().message;
  EXPECT_TRUE(listener_->listening());
  EXPECT_EQ(listener_->path(), sock());
  EXPECT_EQ(greeting(), "hi");
  EXPECT_EQ(greeting(), "hi");
  EXPECT_EQ(connections_, 2);
  ASSERT_EQ(peers_.size(), 2u);
  EXPECT_EQ(peers_[0].uid, geteuid());
  EXPECT_EQ(peers_[0].pid, getpid());  // the client thread is in this process
}

TEST_F(UnixListenerTest, SocketIsMode0600WhateverTheUmask) {
  // Without the fchmod before bind, umask 0 would leave the file 0777.
  const mode_t old = umask(0);
  Status s = listen_and_greet();
  umask(old);
  ASSERT_TRUE(s.ok()) << s.error().message;
  struct stat st {};
  ASSERT_EQ(lstat(sock().c_str(), &st), 0);
  EXPECT_TRUE(S_ISSOCK(st.st_mode));
  EXPECT_EQ(st.st_mode & 07777, 0600u);
}

TEST_F(UnixListenerTest, StaleSocketFileIsReplaced) {
  ASSERT_TRUE(uvx_test::make_stale_socket(sock())) << std::strerror(errno);
  Status s = listen_and_greet();
  ASSERT_TRUE(s.ok()) << s.error().message;
  // Nobody answers on the stale file: a greeting means it was replaced.
  EXPECT_EQ(greeting(), "hi");
}

TEST_F(UnixListenerTest, ALiveListenerIsNotStolen) {
  ASSERT_TRUE(listen_and_greet().ok());
  const ino_t first = inode_of(sock());

  int second_calls = 0;
  UnixListener second(&loop_, "test", [&](int) { ++second_calls; });
  Status s = second.listen(sock(), 8);
  ASSERT_FALSE(s.ok());
  EXPECT_EQ(s.error().message,
            "another process is listening on " + sock() + " (is another agentwatch running?)");
  EXPECT_FALSE(second.listening());
  second.close();  // must not remove the first listener's file
  EXPECT_EQ(inode_of(sock()), first);
  EXPECT_EQ(greeting(), "hi") << "the first listener stopped serving";
  EXPECT_EQ(second_calls, 0);

  // Once the first is gone, the same listener may try again and succeed.
  listener_->close();
  ASSERT_TRUE(second.listen(sock(), 8).ok());
  EXPECT_TRUE(second.listening());
  second.close();
}

TEST_F(UnixListenerTest, ANonSocketFileIsRefusedAndLeftAlone) {
  { std::ofstream(sock()) << "precious"; }
  UnixListener l(&loop_, "notify", [](int) {});
  Status s = l.listen(sock(), 8);
  ASSERT_FALSE(s.ok());
  EXPECT_EQ(
      s.error().message,
      sock() + " exists and is not a socket (expected the notify socket or nothing; remove it)");
  EXPECT_FALSE(l.listening());
  l.close();
  std::string content;
  std::ifstream(sock()) >> content;
  EXPECT_EQ(content, "precious");
}

TEST_F(UnixListenerTest, CloseRemovesOurSocketFile) {
  UnixListener l(&loop_, "test", [](int) {});
  ASSERT_TRUE(l.listen(sock(), 8).ok());
  ASSERT_EQ(access(sock().c_str(), F_OK), 0);
  l.close();
  EXPECT_FALSE(l.listening());
  EXPECT_NE(access(sock().c_str(), F_OK), 0) << "close() left the socket file behind";
  l.close();  // idempotent
}

TEST_F(UnixListenerTest, CloseKeepsAFileThatReplacedOurs) {
  UnixListener l(&loop_, "test", [](int) {});
  ASSERT_TRUE(l.listen(sock(), 8).ok());
  // A newer daemon removed ours and put its own there.
  const std::string newer = dir_.path + "/newer";
  ASSERT_TRUE(uvx_test::make_stale_socket(newer)) << std::strerror(errno);
  ASSERT_EQ(std::rename(newer.c_str(), sock().c_str()), 0);
  const ino_t theirs = inode_of(sock());
  l.close();
  EXPECT_EQ(inode_of(sock()), theirs) << "close() removed a socket file that is not ours";
}

TEST_F(UnixListenerTest, DestroyingTheListenerClosesIt) {
  {
    UnixListener l(&loop_, "test", [](int) {});
    ASSERT_TRUE(l.listen(sock(), 8).ok());
  }
  EXPECT_NE(access(sock().c_str(), F_OK), 0);
}

TEST_F(UnixListenerTest, ErrorsNameThePathAndWhatWasExpected) {
  UnixListener l(&loop_, "test", [](int) {});
  const std::string too_long = dir_.path + "/" + std::string(120, 'x');
  Status s = l.listen(too_long, 8);
  ASSERT_FALSE(s.ok());
  EXPECT_EQ(s.error().message, "socket path " + too_long + " is " +
                                   std::to_string(too_long.size()) +
                                   " bytes; expected 1..107 (use a shorter runtime dir)");

  const std::string nowhere = dir_.path + "/missing/test.sock";
  s = l.listen(nowhere, 8);
  ASSERT_FALSE(s.ok());
  EXPECT_EQ(s.error().message, "cannot bind " + nowhere + ": No such file or directory");
  EXPECT_EQ(s.error().code, -ENOENT);
  EXPECT_FALSE(l.listening());
}

TEST_F(UnixListenerTest, UnreadBytesCountsWhatTheLoopHasNotReadYet) {
  ASSERT_TRUE(listen_and_greet().ok());
  RawClient c(sock());
  ASSERT_TRUE(c.connected());
  ASSERT_TRUE(run_until([&] { return accepted_.size() == 1; }));
  EXPECT_EQ(unread_bytes(*accepted_[0]), 0u);
  // Nobody reads the accepted pipe (no uv_read_start): the bytes stay queued
  // in the kernel, which is what a server sees after a stall.
  ASSERT_TRUE(c.send_all("12345"));
  EXPECT_EQ(unread_bytes(*accepted_[0]), 5u);
  Handle<uv_pipe_t> never_initialised;
  EXPECT_EQ(unread_bytes(never_initialised), 0u);
}

// The eviction policy alone: pure, so time is whatever the test says.
const MonoTime kT0{std::chrono::seconds(100)};

TEST(PickConnectionToEvict, TheLongestIdlePastTheMinimumGoes) {
  const std::vector<IdleConnection> conns = {
      {1, kT0 + std::chrono::milliseconds(50)},
      {2, kT0},
      {3, kT0 + std::chrono::milliseconds(10)},
  };
  EXPECT_EQ(pick_connection_to_evict(conns, kT0 + std::chrono::milliseconds(300),
                                     std::chrono::milliseconds(200)),
            std::optional<std::uint64_t>(2));
}

TEST(PickConnectionToEvict, NobodyGoesWhileTheLongestIdleIsYoungerThanTheMinimum) {
  const std::vector<IdleConnection> conns = {{1, kT0}, {2, kT0 + std::chrono::milliseconds(5)}};
  // A burst of clients that connected a moment ago: they are about to send.
  EXPECT_EQ(pick_connection_to_evict(conns, kT0 + std::chrono::milliseconds(199),
                                     std::chrono::milliseconds(200)),
            std::nullopt);
  // Exactly at the minimum it may go.
  EXPECT_EQ(pick_connection_to_evict(conns, kT0 + std::chrono::milliseconds(200),
                                     std::chrono::milliseconds(200)),
            std::optional<std::uint64_t>(1));
}

TEST(PickConnectionToEvict, NoCandidateMeansRefuseTheNewcomer) {
  EXPECT_EQ(pick_connection_to_evict({}, kT0, Duration::zero()), std::nullopt);
}

TEST(PickConnectionToEvict, TiesGoToTheFirstCandidate) {
  const std::vector<IdleConnection> conns = {{7, kT0}, {3, kT0}};
  EXPECT_EQ(pick_connection_to_evict(conns, kT0 + std::chrono::seconds(1), Duration::zero()),
            std::optional<std::uint64_t>(7));
}

// Also what UnixListener::listen asks of a socket file it finds.
TEST(ProbeUnixSocket, TellsListeningMissingAndRefused) {
  uvx_test::TempDir dir{"aw-probe"};
  const std::string path = dir.path + "/s";
  EXPECT_EQ(probe_unix_socket(path).state, SocketProbe::kMissing);

  UniqueFd fd(::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0));
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  std::memcpy(addr.sun_path, path.c_str(), path.size() + 1);
  ASSERT_EQ(::bind(fd.get(), reinterpret_cast<const sockaddr*>(&addr), sizeof addr), 0);
  EXPECT_EQ(probe_unix_socket(path).state, SocketProbe::kRefused);  // bound, not listening
  ASSERT_EQ(::listen(fd.get(), 4), 0);
  EXPECT_EQ(probe_unix_socket(path).state, SocketProbe::kListening);
  fd.reset();
  EXPECT_EQ(probe_unix_socket(path).state, SocketProbe::kRefused);  // a stale socket file
  EXPECT_EQ(probe_unix_socket(std::string(200, 'x')).state, SocketProbe::kOther);
}

}  // namespace
}  // namespace aw::uvx
