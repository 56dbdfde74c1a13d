// The client side of the control socket: one request, one reply, for the CLI
// (`agentwatch workers list`, `status`, ...). docs/control.md.
//
// Blocking (poll with one deadline for connect, write and reply): for the CLI
// process, never for the daemon's loop. Thread-safe (no shared state).
#pragma once

#include <string>
#include <string_view>

#include "src/control/control_protocol.h"
#include "src/core/clock.h"
#include "src/core/result.h"

namespace aw {

// Sends {"id":1,"method":method,"params":params_json} on a fresh connection to
// `socket_path` and waits, until `timeout` from the call, for its reply.
//
// A reply with ok:false (unknown_method, not_found, refused — e.g. the daemon
// is at its connection limit —, ...) is a ControlReply, not an Error: the
// daemon answered. Errors are for when it did not:
//   - no daemon: the socket file is missing (ENOENT) or nobody listens on it
//     (ECONNREFUSED). is_control_unavailable() is true for exactly these, so
//     the CLI can fall back to reading the state files offline;
//   - `params_json` is not a JSON object, or `method` is empty (the caller's
//     bug: nothing is sent);
//   - the socket's owner (SO_PEERCRED) is not our uid;
//   - no reply before the deadline (code -ETIMEDOUT), the connection closed
//     without one, or a reply that is not the protocol's.
// `params_json` may be empty (no params) and may be pretty-printed: it is
// compacted before sending.
Result<ControlReply> control_call(const std::string& socket_path, std::string_view method,
                                  std::string_view params_json, Duration timeout);

// True when `e` (from control_call) means no daemon is running.
bool is_control_unavailable(const Error& e);

}  // namespace aw
