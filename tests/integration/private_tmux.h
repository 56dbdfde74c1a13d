// A private tmux server for integration tests: `tmux -L aw-it-<random>`, never
// the user's server, killed with everything in it when the guard goes, its
// socket removed. The daemon under test reaches it through config().
#pragma once

#include <sys/types.h>

#include <string>
#include <vector>

#include "tests/integration/harness.h"

namespace aw::testing {

class PrivateTmux {
 public:
  PrivateTmux();
  ~PrivateTmux();
  PrivateTmux(const PrivateTmux&) = delete;
  PrivateTmux& operator=(const PrivateTmux&) = delete;

  const std::string& name() const { return name_; }
  // `tmux -L NAME ARGS...`.
  CommandResult operator()(const std::vector<std::string>& args) const;
  // The [tmux] section naming this server.
  std::string config() const;
  bool has_session(const std::string& s) const;
  // The server's PID and socket path, as the server itself reports them (it
  // must hold at least one session); 0 / "" when it does not answer.
  pid_t server_pid() const;
  std::string socket_path() const;

 private:
  std::string first_session_format(const std::string& format) const;
  std::string name_;
};

}  // namespace aw::testing
