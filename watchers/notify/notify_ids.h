// NotifyIds: which notification ids the daemon has already logged, so that a
// message is delivered once even when it reaches the daemon twice.
//
// A client (`agentwatch notify`) that wrote its line to the socket but got no
// reply within its budget cannot tell a busy daemon from one that died before
// reading or logging the line. It spools the same line, with the same id, as
// well (notify_client.h): losing the message is worse than sending it twice.
// Every delivery, from the socket or the spool, then goes through
// first_delivery(): an id seen before is dropped.
//
// Across restarts. The ids are kept in a state file (persist_to: kind
// "notify-ids", one id per record, appended after the event log's write), and
// at start the daemon also reads them back from the tail of its event log,
// where every delivered message's `notify_id` is: a daemon killed between the
// two writes left its last ids only there. So the copy of a message a killed
// daemon had logged is not delivered again by the next one, however long the
// spooled copy waits (a spool taken in only after many more restarts: found by
// the 500-kill crash run, when the ids came from the log's tail alone), nor is
// a spooled message whose id a killed daemon logged but had not yet written to
// notify.spool.delivered.
//
// Bounded: the newest `capacity` ids are kept, in memory and in the file (it
// is rewritten with them when it holds twice as many). Loop thread only.
#pragma once

#include <cstddef>
#include <cstdint>
#include <deque>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_set>
#include <vector>

#include "src/core/result.h"
#include "src/os/unique_fd.h"

namespace aw {

class NotifyIds {
 public:
  explicit NotifyIds(std::size_t capacity = 65536) : capacity_(capacity) {}

  // True the first time `id` is offered (it is then recorded); false after.
  bool first_delivery(std::uint64_t id);
  bool contains(std::uint64_t id) const { return ids_.count(id) != 0; }
  // Remembers `id` as delivered, and appends it to the file when persisted.
  // The daemon calls it once the message's line is in the event log.
  void record(std::uint64_t id);
  std::size_t size() const { return ids_.size(); }

  // Remembers every `"notify_id":"<16 hex digits>"` in `text` (event-log lines),
  // in order. Returns how many it found.
  std::size_t seed_from_log_text(std::string_view text);
  // The same over the last `max_bytes` of the file at `path` (the live event
  // log); a missing file seeds nothing. Blocking: at start, before the loop.
  Result<std::size_t> seed_from_log_file(const std::string& path, std::size_t max_bytes);

  // Keeps the ids in the state file at `path` as well: the ids already there
  // are remembered now (call it before seeding), and every id remembered from
  // then on is appended (one write() per delivery; seeding writes its new ids
  // at once). Blocking: at start. Returns the file's problems ("PATH:LINE:
  // what": damaged lines are skipped); errors: the file cannot be read or
  // opened, or is another kind's.
  Result<std::vector<std::string>> persist_to(const std::string& path);
  // Appends that failed (a full disk): those ids are known to this daemon
  // only, and to the next through the event log's tail.
  std::uint64_t write_errors() const { return write_errors_; }

 private:
  // True when `id` is new (then it is kept, and the oldest dropped past capacity).
  bool remember(std::uint64_t id);
  // Appends records for `ids` to the file (one write), rewriting it first
  // when it would pass twice the capacity.
  void write_ids(const std::vector<std::uint64_t>& ids);
  void rewrite_file();

  std::size_t capacity_;
  std::unordered_set<std::uint64_t> ids_;
  std::deque<std::uint64_t> order_;  // oldest first, for eviction
  std::string path_;                 // "" = not persisted
  UniqueFd fd_;                      // O_APPEND, when persisted
  std::size_t records_in_file_ = 0;
  std::uint64_t write_errors_ = 0;
};

}  // namespace aw
