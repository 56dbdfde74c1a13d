// The notify spool: where `agentwatch notify` leaves a message when it cannot
// hand it to the daemon (down, or at its connection limit), and how the daemon
// takes it in (DESIGN scenario 17; docs/notify.md).
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
// daemon that crashes mid-ingestion finds .ingesting at the next claim, takes
// it in first and skips every id in .delivered, then deletes both. The one
// window left is a crash between the emit (whose event-log write has happened:
// Pipeline::submit logs synchronously) and the id's write: that message is
// delivered once more, with the same `notify_id` field, so a consumer can
// still tell. A line without an id (typed by hand) cannot be deduplicated and
// is delivered at least once. Ids also dedupe within one file (a client that
// retried).
//
// Appenders racing the ingester. The daemon ingests while it runs (the spool
// is watched, notify_spool_watch.h), so clients append while it claims:
//   appender: open(spool, O_APPEND|O_CREAT) → flock(LOCK_EX) → check that the
//             path still names the inode it locked → one write() → close
//   ingester: rename(spool → .ingesting) → flock(LOCK_EX) → LOCK_UN → read
// The spool is never truncated or rewritten in place, only renamed, so the
// question is only which file a line lands in:
//   - the appender checked before the rename: it holds the lock, so the
//     ingester's flock waits until its write is complete; the line is in
//     .ingesting and is read;
//   - the appender locks after the rename: its check fails (the path names a
//     new file, or nothing), it starts over and writes to a fresh spool, which
//     the next claim takes (the watch sees it closed, and the file is there at
//     the next start anyway);
//   - an appender that opened the old inode before the rename keeps that inode
//     alive, so a fresh spool can never get its inode number and fool the
//     check.
// Once the ingester has held the lock after its rename, no appender can
// write to .ingesting any more; so it drops the lock at once (an appender
// spinning on it must not wait out its own deadline and fail a hook) and then
// reads at leisure, in bounded chunks. No line is torn, interleaved, lost or
// read twice.
//
// Ingestion runs in steps (NotifySpoolIngestion) so that the blocking ones
// (rename, flock, read, unlink) can run on the thread pool and the emits on
// the loop thread; ingest_notify_spool() runs the same steps inline.
#pragma once

#include <sys/types.h>

#include <cstddef>
#include <cstdint>
#include <functional>
#include <string>
#include <string_view>
#include <unordered_set>

#include "src/core/clock.h"
#include "src/core/event.h"
#include "src/core/result.h"
#include "src/os/unique_fd.h"
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

  NotifySpoolStats& operator+=(const NotifySpoolStats& o) {
    delivered += o.delivered;
    duplicates += o.duplicates;
    refused += o.refused;
    return *this;
  }
};

// One spool file taken in, step by step:
//
//   claim() → { read_chunk() → deliver_chunk() } until at_end() → finish()
//
// Each line becomes an Event {source "notify", kind, entity, fields as spooled
// plus spooled=true and notify_id; time = when the client spooled it}; a line
// that fails decode_notify_line (or the line limit, or is torn at the end of
// the file) becomes notify.refused {reason, detail, bytes, spool_line, path}.
// Errors (a spool that is not our regular file, I/O failures, a lock that is
// never released) name the file; what was emitted before stays emitted and is
// not repeated. After an error, drop the object: .ingesting stays, and the
// next claim() (of a new object, or at the next start) resumes it.
//
// Threads: the object is used by one thread at a time; it may move between
// threads when the handover orders memory (uv_queue_work's work → done does).
// claim(), read_chunk() and finish() block (file I/O, a bounded flock wait);
// run them on the thread pool in the daemon. deliver_chunk() is for the
// thread that may emit (the loop): it decodes at most one chunk (64 KiB) and
// writes one short line per delivered id to .delivered (an O_APPEND write on
// the runtime dir's tmpfs, the same kind of write emit's event-log append
// makes anyway; it must follow the emit, so it cannot move to the pool).
// Nothing here touches shared state: several objects for one runtime dir at
// once are a caller bug (the daemon has one NotifySpoolWatch).
class NotifySpoolIngestion {
 public:
  static constexpr std::size_t kChunkBytes = 64 * 1024;

  explicit NotifySpoolIngestion(const std::string& runtime_dir,
                                std::size_t max_line_bytes = kNotifyMaxLineBytes,
                                Duration lock_timeout = std::chrono::seconds(2));

  enum class Claim {
    kNothing,   // no .ingesting, no spool: nothing to do
    kLeftover,  // .ingesting left by a crash (or an error): resumed, with .delivered's ids
    kFresh,     // notify.spool renamed to .ingesting
  };
  // [blocking] Takes the next file: a leftover .ingesting first, else the
  // spool (a stale .delivered without .ingesting is discarded first). Waits at
  // most `lock_timeout` for an appender that is mid-write (see above).
  Result<Claim> claim();
  // [blocking] Reads the next chunk of the claimed file (at most kChunkBytes).
  // At the end of the file, at_end() turns true and the chunk is empty.
  Status read_chunk();
  // Emits what the chunk completes (and, at_end(), refuses a torn last line).
  // `emit` is called synchronously, on the calling thread.
  Status deliver_chunk(const Clock& clock, const NotifyKindPolicy& policy,
                       const std::function<void(Event)>& emit);
  // [blocking] Deletes .ingesting, then .delivered (in that order: a crash in
  // between leaves a stale .delivered alone, which the next claim discards).
  Status finish();

  bool claimed() const { return file_.valid(); }
  bool at_end() const { return at_end_; }
  // Of the file claimed last.
  const NotifySpoolStats& stats() const { return stats_; }
  const std::string& ingesting_path() const { return ingesting_; }

 private:
  Status feed(std::string_view data, const Clock& clock, const NotifyKindPolicy& policy,
              const std::function<void(Event)>& emit);
  Status handle_line(std::string_view line, const Clock& clock, const NotifyKindPolicy& policy,
                     const std::function<void(Event)>& emit);
  void refuse(NotifyRefusal reason, const std::string& detail, std::size_t bytes,
              const Clock& clock, const std::function<void(Event)>& emit);
  std::string too_long_detail() const;
  void reset_file_state();

  std::string spool_;
  std::string ingesting_;
  std::string delivered_;
  std::size_t max_line_;
  Duration lock_timeout_;

  UniqueFd file_;                          // the claimed .ingesting
  UniqueFd delivered_fd_;                  // .delivered, O_APPEND
  uid_t owner_uid_ = 0;                    // for refusals: who wrote the spool
  std::unordered_set<std::uint64_t> ids_;  // delivered from this file (and before a crash)
  std::string chunk_;                      // read by read_chunk, consumed by deliver_chunk
  bool at_end_ = false;
  std::string buf_;        // the incomplete line so far; never above max_line_
  bool skipping_ = false;  // inside a line over the limit: skipped to its '\n'
  std::size_t skipped_bytes_ = 0;
  std::size_t line_no_ = 0;
  NotifySpoolStats stats_;
};

// Takes in .ingesting (left by a crash) and then notify.spool, in file order,
// and deletes them: the steps above, inline. Blocking file I/O: for tools and
// tests; the daemon uses NotifySpoolWatch, which runs the blocking steps on
// the thread pool. `emit` is called synchronously, on the calling thread.
Result<NotifySpoolStats> ingest_notify_spool(const std::string& runtime_dir, const Clock& clock,
                                             const NotifyKindPolicy& policy,
                                             const std::function<void(Event)>& emit,
                                             std::size_t max_line_bytes = kNotifyMaxLineBytes);

}  // namespace aw
