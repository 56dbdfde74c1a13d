// The newest events as the log wrote them (one JSON line each, by seq): what
// `GET /api/events?since=SEQ` answers and what a server-sent-events client that
// reconnects with Last-Event-ID is replayed from, without touching the disk.
//
// Bounded by count and by bytes; a `since` older than what it holds is for the
// on-disk log (docs/http.md). Executions (action outcomes) and failures are
// also kept on their own, shorter rings: the dashboard's feed and `status`'s
// last errors (aw::is_failure, event.h).
#pragma once

#include <cstdint>
#include <deque>
#include <string>
#include <string_view>
#include <vector>

#include "src/core/event.h"

namespace aw::metrics {

struct RecentEventsLimits {
  std::size_t events = 10'000;
  std::size_t bytes = 8u << 20;
  std::size_t executions = 500;
  std::size_t failures = 20;
};

class RecentEvents {
 public:
  struct Entry {
    std::uint64_t seq = 0;
    std::string line;  // the event's JSON, without its newline
  };

  explicit RecentEvents(RecentEventsLimits limits = {}) : limits_(limits) {}

  // `line` is to_json_line(e) without the '\n' (the caller made it once).
  void add(const Event& e, std::string line);

  // Whether every event after `seq` is here: false when one was dropped, or
  // came before the first it was given (then the caller reads the disk).
  bool covers_after(std::uint64_t seq) const;
  // The held events after `seq`, oldest first, at most `limit`.
  std::vector<const Entry*> after(std::uint64_t seq, std::size_t limit) const;
  std::vector<const Entry*> executions_after(std::uint64_t seq, std::size_t limit) const;
  const std::deque<Entry>& failures() const { return failures_; }
  // The newest seq added (0: none).
  std::uint64_t last_seq() const { return last_seq_; }
  std::size_t size() const { return events_.size(); }
  std::size_t bytes() const { return bytes_; }

 private:
  static std::vector<const Entry*> after_in(const std::deque<Entry>& ring, std::uint64_t seq,
                                            std::size_t limit);

  RecentEventsLimits limits_;
  std::deque<Entry> events_;
  std::deque<Entry> executions_;
  std::deque<Entry> failures_;
  std::size_t bytes_ = 0;
  std::uint64_t last_seq_ = 0;
};

}  // namespace aw::metrics
