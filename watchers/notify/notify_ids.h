// NotifyIds: which notification ids the daemon has already logged, so that a
// message is delivered once even when it reaches the daemon twice.
//
// A client (`agentwatch notify`) that wrote its line to the socket but got no
// reply within its budget cannot tell a busy daemon from one that died before
// reading or logging the line. It spools the same line, with the same id, as
// well (notify_client.h): losing the message is worse than sending it twice.
// Every delivery, from the socket or the spool, then goes through
// first_delivery(): an id seen before is dropped. The daemon seeds the set at
// start from the tail of its event log, where every delivered message's
// `notify_id` is, so a message logged by a daemon that was then killed is not
// delivered again by the next one from the spool (nor is a spooled one whose
// id the killed daemon had logged but not yet written to notify.spool.delivered).
//
// Bounded: the newest `capacity` ids are kept (a message is spooled a fraction
// of a second after it was sent, so the set only has to reach back that far,
// plus a restart). Loop thread only.
#pragma once

#include <cstddef>
#include <cstdint>
#include <deque>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_set>

#include "src/core/result.h"

namespace aw {

class NotifyIds {
 public:
  explicit NotifyIds(std::size_t capacity = 65536) : capacity_(capacity) {}

  // True the first time `id` is offered (it is then remembered); false after.
  bool first_delivery(std::uint64_t id);
  bool contains(std::uint64_t id) const { return ids_.count(id) != 0; }
  std::size_t size() const { return ids_.size(); }

  // Remembers every `"notify_id":"<16 hex digits>"` in `text` (event-log lines),
  // in order. Returns how many it found.
  std::size_t seed_from_log_text(std::string_view text);
  // The same over the last `max_bytes` of the file at `path` (the live event
  // log); a missing file seeds nothing. Blocking: at start, before the loop.
  Result<std::size_t> seed_from_log_file(const std::string& path, std::size_t max_bytes);

 private:
  void remember(std::uint64_t id);
  std::size_t capacity_;
  std::unordered_set<std::uint64_t> ids_;
  std::deque<std::uint64_t> order_;  // oldest first, for eviction
};

}  // namespace aw
