// Where a tmux server's socket is, and whether something listens on it: what
// `agentwatch service install` checks before it promises that the unit will see
// the agents' tmux server (docs/tmux.md, "The daemon must see the socket").
#pragma once

#include <sys/types.h>

#include <string>
#include <string_view>
#include <vector>

#include "src/core/result.h"

namespace aw {

// The socket path tmux 3.3 uses for `command` (the [tmux] command, e.g.
// {"tmux", "-L", "agents"}): the argument of -S; else TMUX_TMPDIR (or /tmp)
// + "/tmux-UID/" + the -L name (or "default"). Options are read the way tmux's
// getopt reads them, up to the first non-option; "-L" / "-S" may be joined to
// their value ("-Lagents"). `tmux_tmpdir`: the TMUX_TMPDIR value, or "" when unset.
std::string tmux_socket_path(const std::vector<std::string>& command, uid_t uid,
                             std::string_view tmux_tmpdir);

// What connect() says about a unix socket path, in words an operator can act
// on. Blocking (one connect): for the CLI, never for the daemon's loop.
enum class SocketProbe { kListening, kMissing, kRefused, kDenied, kOther };
struct SocketProbeResult {
  SocketProbe state = SocketProbe::kOther;
  std::string detail;  // strerror of the failure ("" when listening)
};
SocketProbeResult probe_unix_socket(const std::string& path);

}  // namespace aw
