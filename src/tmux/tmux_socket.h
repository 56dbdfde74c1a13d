// Where a tmux server's socket is: what `agentwatch service install` checks
// (with uvx::probe_unix_socket) before it promises that the unit will see the
// agents' tmux server (docs/tmux.md, "The daemon must see the socket").
#pragma once

#include <sys/types.h>

#include <string>
#include <string_view>
#include <vector>

namespace aw {

// The socket path tmux 3.3 uses for `command` (the [tmux] command, e.g.
// {"tmux", "-L", "agents"}): the argument of -S; else TMUX_TMPDIR (or /tmp)
// + "/tmux-UID/" + the -L name (or "default"). Options are read the way tmux's
// getopt reads them, up to the first non-option; "-L" / "-S" may be joined to
// their value ("-Lagents"). `tmux_tmpdir`: the TMUX_TMPDIR value, or "" when unset.
std::string tmux_socket_path(const std::vector<std::string>& command, uid_t uid,
                             std::string_view tmux_tmpdir);

}  // namespace aw
