#include "src/tmux/tmux_socket.h"

#include <gtest/gtest.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <cstring>

#include "src/core/unique_fd.h"
#include "src/tmux/tmux_test_support.h"

namespace aw {
namespace {

TEST(TmuxSocketPath, DefaultServerLivesUnderTmpByUid) {
  EXPECT_EQ(tmux_socket_path({"tmux"}, 1000, ""), "/tmp/tmux-1000/default");
  EXPECT_EQ(tmux_socket_path({"tmux"}, 0, "/run/user/0/"), "/run/user/0/tmux-0/default");
}

TEST(TmuxSocketPath, NamedAndExplicitSockets) {
  EXPECT_EQ(tmux_socket_path({"tmux", "-L", "agents"}, 7, ""), "/tmp/tmux-7/agents");
  EXPECT_EQ(tmux_socket_path({"tmux", "-Lagents"}, 7, ""), "/tmp/tmux-7/agents");
  EXPECT_EQ(tmux_socket_path({"tmux", "-f", "/dev/null", "-L", "x"}, 7, ""), "/tmp/tmux-7/x");
  EXPECT_EQ(tmux_socket_path({"tmux", "-S", "/run/a.sock", "-L", "x"}, 7, ""), "/run/a.sock");
  EXPECT_EQ(tmux_socket_path({"/usr/bin/tmux", "-2", "-S", "/s"}, 7, ""), "/s");
  // Options end at the first non-option: a -L after it is not tmux's.
  EXPECT_EQ(tmux_socket_path({"tmux", "ls", "-L", "x"}, 7, ""), "/tmp/tmux-7/default");
}

TEST(ProbeUnixSocket, TellsListeningMissingAndRefused) {
  tmux_testing::TempDir dir;
  const std::string path = dir / "s";
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
}  // namespace aw
