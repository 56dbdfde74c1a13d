#include "src/tmux/tmux_socket.h"

#include <gtest/gtest.h>

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

}  // namespace
}  // namespace aw
