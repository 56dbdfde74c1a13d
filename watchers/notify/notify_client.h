// The client side of the notify socket: what `agentwatch notify KIND key=value…`
// runs inside a tmux hook (docs/notify.md).
//
// tmux runs hooks synchronously, so a send must return fast whatever state the
// daemon is in: one connect and one write within `timeout` (200 ms by default,
// in total), then a short look for the reply within what is left. When the
// daemon is down (no socket, connection refused, backlog full), at its
// connection limit, or the write cannot finish in time, the message goes to
// the spool (notify_spool.h) and the send still succeeds, marked `spooled`; a
// running daemon takes it in within milliseconds (notify_spool_watch.h), a
// stopped one at its next start. A message whose line was written but got no
// reply in time is spooled as well, with the same id: the daemon may have died
// before logging it, and it delivers an id only once (notify_ids.h). A line cut
// short is never counted by the daemon (only a whole line is: notify_server.h).
//
// Blocking calls (poll with a deadline, flock with a deadline): for the client
// process, never for the daemon's loop. Thread-safe (no shared state).
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "src/core/clock.h"
#include "src/core/event.h"
#include "src/core/result.h"

namespace aw {

struct NotifyClientOptions {
  // Connect + write, and the wait for the reply within what is left.
  Duration timeout = std::chrono::milliseconds(200);
  // How long to wait for the spool lock when spooling.
  Duration spool_lock_timeout = std::chrono::seconds(1);
};

struct NotifyDelivery {
  bool spooled = false;      // the daemon was not reachable: the message is in the spool
  bool confirmed = false;    // the daemon replied {"ok":true} in time: it is in the event log
  std::string spool_reason;  // why it was spooled ("no daemon listening (…)", …)
};

// Sends e.kind, e.entity and e.fields (source, seq, path and the rest are the
// daemon's to set) with a fresh random id and the current time. Errors: a
// message the daemon refused (its reason and error), a message that cannot be
// valid (bad kind syntax, reserved or bad field key, over 64 KiB), a runtime
// dir that is not ours, or a spool that cannot be written. A missing runtime
// dir is created 0700 (the daemon may never have run since boot).
Result<NotifyDelivery> send_notification(const std::string& runtime_dir, const Event& e,
                                         const NotifyClientOptions& options);
inline Result<NotifyDelivery> send_notification(const std::string& runtime_dir, const Event& e,
                                                Duration timeout = std::chrono::milliseconds(200)) {
  NotifyClientOptions o;
  o.timeout = timeout;
  return send_notification(runtime_dir, e, o);
}

// Builds the Event for `agentwatch notify KIND key=value…`:
//   agentwatch notify tmux.session-closed session=w1 pane_pid=123 entity=w1
// `entity=` sets Event::entity; every other argument is a field. A value that is
// clearly an integer (an optional '-', then digits without a leading zero,
// within int64) becomes an integer field; everything else stays a string
// ("007", "1.5", "true", "" and "12abc" are strings). Errors name the argument
// (1-based, after the kind) and what was expected: no '=', a bad or reserved
// key, a key given twice, a bad kind.
Result<Event> parse_notify_args(std::string_view kind, const std::vector<std::string>& args);

}  // namespace aw
