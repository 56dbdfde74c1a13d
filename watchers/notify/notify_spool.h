// The notify spool: where `agentwatch notify` leaves a message when the daemon
// is down, and how the daemon takes them in at start (DESIGN scenario 17;
// docs/notify.md).
//
// Files, all in the runtime dir, all 0600:
//   notify.spool            appended by clients: one encode_notify_line() per
//                           message (with id and time), one write() under flock
//   notify.spool.ingesting  the spool being taken in (renamed away, so new hooks
//                           start a fresh spool meanwhile)
//   notify.spool.delivered  ids already emitted from .ingesting, one per line
//
// Exactly once, by id: every spooled line carries a random 64-bit id made by
// the client. Ingestion emits a line, then appends its id to .delivered; a
// daemon that crashes mid-ingestion finds .ingesting at the next start, takes it
// in first and skips every id in .delivered, then deletes both. The one window
// left is a crash between the emit (whose event-log write has happened) and
// the id's write: that message is delivered once more, with the same
// `notify_id` field, so a consumer can still tell. A line without an id (typed
// by hand) cannot be deduplicated and is delivered at least once.
//
// Appenders and the ingester coordinate with flock on the spool file: an
// appender locks, then checks the path still names the inode it locked (it may
// have been renamed to .ingesting meanwhile) and starts over if not; the
// ingester renames, then locks, which waits out an appender mid-write. So no
// line is torn, interleaved or lost.
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <string>
#include <string_view>

#include "src/core/clock.h"
#include "src/core/event.h"
#include "src/core/result.h"
#include "watchers/notify/notify_protocol.h"

namespace aw {

std::string notify_spool_path(const std::string& runtime_dir);  // <runtime_dir>/notify.spool

// Appends `line` (one encoded message ending in '\n') to the spool, creating it
// 0600. Waits at most `lock_timeout` for the lock (another hook appending).
// Blocking file I/O: for the client (a short-lived process), not the loop.
Status append_to_notify_spool(const std::string& runtime_dir, std::string_view line,
                              Duration lock_timeout = std::chrono::seconds(1));

struct NotifySpoolStats {
  std::size_t delivered = 0;   // lines emitted as events
  std::size_t duplicates = 0;  // lines skipped: their id was already delivered
  std::size_t refused = 0;     // lines emitted as notify.refused instead
};

// Takes in .ingesting (left by a crash) and then notify.spool, in file order,
// and deletes them. Each line becomes an Event {source "notify", kind, entity,
// fields as spooled plus spooled=true and notify_id; time = when the client
// spooled it}; a line that fails decode_notify_line (or the line limit, or is
// torn at the end of the file) becomes notify.refused {reason, detail, bytes,
// spool_line}. Errors (a spool that is not our regular file, I/O failures) name
// the file; what was emitted before stays emitted and is not repeated.
//
// Blocking file I/O and a short flock wait: call it at daemon start, after the
// NotifyServer listens (so hooks firing meanwhile go to the socket, not into a
// spool nobody reads until the next start) and before the loop runs. `emit` is
// called synchronously, on the calling thread.
Result<NotifySpoolStats> ingest_notify_spool(const std::string& runtime_dir, const Clock& clock,
                                             const NotifyKindPolicy& policy,
                                             const std::function<void(Event)>& emit,
                                             std::size_t max_line_bytes = kNotifyMaxLineBytes);

}  // namespace aw
