// The live event stream of `GET /events` (docs/http.md, "Server-sent events"):
// every event the daemon logs goes to every connected EventSource as
//
//   id: <seq>
//   event: event
//   data: <the event's JSON line>
//
// A client that reconnects with Last-Event-ID (or asks ?since=SEQ) first gets
// exactly what it missed, then the live events, with no gap and no repeat:
//   - from memory (RecentEvents) when it still holds everything after that seq;
//   - else from the on-disk log, read on the thread pool (the loop never waits
//     on a file), starting where the writer's sparse seq index (seq_index.h)
//     puts the line after that seq, so a reconnect reads about one index
//     stride, not the whole history; meanwhile the client is held back from the live feed, and
//     what came live in between is sent from memory once the disk part is out;
//   - when the log no longer has the event after that seq (rotated away), an
//     `event: reset` (data: the first seq it can give) comes first.
// Every 15 s each stream gets a comment (": ping"), so proxies and idle timers
// see traffic; the first thing a stream gets is `retry: 2000`.
//
// A catch-up can be far more than a socket takes at once, and the server drops
// a client with more than 1 MiB unsent. So what a client is owed goes through
// its backlog: frames are written only while less than kHighWater is unsent,
// the rest waits for a flush a few milliseconds later; live events join the
// end of the backlog, so the order holds.
//
// Loop thread only. The reads on the pool hold no pointer into this object.
#pragma once

#include <uv.h>

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "src/eventlog/seq_index.h"
#include "src/http/http_server.h"
#include "src/metrics/recent_events.h"
#include "src/uvx/handle.h"

namespace aw {

class EventStreams {
 public:
  static constexpr std::uint64_t kPingMs = 15'000;
  static constexpr std::size_t kMaxReplay = 20'000;      // events one disk read sends, at most
  static constexpr std::size_t kHighWater = 256 * 1024;  // unsent bytes before the backlog
  static constexpr std::uint64_t kFlushMs = 5;

  // `index` (the event log writer's; may be null: read from the top) must
  // outlive this object.
  EventStreams(uv_loop_t* loop, const metrics::RecentEvents& recent, std::string event_log_dir,
               const SeqIndex* index = nullptr);
  ~EventStreams();
  EventStreams(const EventStreams&) = delete;
  EventStreams& operator=(const EventStreams&) = delete;

  // A client: `after` is the seq it has seen (Last-Event-ID), or nullopt for
  // "live from now on".
  void add(std::shared_ptr<http::HttpStream> stream, std::optional<std::uint64_t> after);
  // Every logged event, after RecentEvents took it.
  void publish(std::uint64_t seq, std::string_view line);
  // Streams connected now (catching up included).
  std::size_t size() const { return live_.size() + catching_up_; }
  struct ReplayStats {
    std::uint64_t from_memory = 0;  // catch-ups RecentEvents could answer
    std::uint64_t from_disk = 0;    // reads of the on-disk log (a long absence takes several)
    std::uint64_t bytes_read = 0;   // by those reads, uncompressed
  };
  const ReplayStats& replay_stats() const { return replays_; }
  void stop();

 private:
  struct Client {
    std::shared_ptr<http::HttpStream> stream;
    std::uint64_t sent = 0;  // the newest seq it was given (written or in its backlog)
    std::string backlog;     // frames not written yet
    std::size_t backlog_at = 0;
  };
  void go_live(Client client);
  void catch_up_from_disk(Client client);
  // Writes `frame` now, or queues it behind the client's backlog.
  void send(Client& c, std::string_view frame);
  // Writes what the socket takes of the client's backlog; true when it is empty.
  static bool flush(Client& c);
  void flush_all();
  void ping();

  uv_loop_t* loop_;
  const metrics::RecentEvents& recent_;
  std::string dir_;
  const SeqIndex* index_;
  std::vector<Client> live_;
  std::size_t catching_up_ = 0;
  ReplayStats replays_;
  std::unique_ptr<uvx::Timer> ping_timer_;
  std::unique_ptr<uvx::Timer> flush_timer_;
  uvx::WorkOwner work_owner_;  // last: dies first
};

// One logged event as a server-sent event.
std::string sse_for_event(std::uint64_t seq, std::string_view line);

}  // namespace aw
