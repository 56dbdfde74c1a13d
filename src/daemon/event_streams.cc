#include "src/daemon/event_streams.h"

#include <algorithm>

#include "src/eventlog/event_log_reader.h"

namespace aw {

std::string sse_for_event(std::uint64_t seq, std::string_view line) {
  return http::sse_event(line, "event", std::to_string(seq));
}

EventStreams::EventStreams(uv_loop_t* loop, const metrics::RecentEvents& recent,
                           std::string event_log_dir, const SeqIndex* index)
    : loop_(loop), recent_(recent), dir_(std::move(event_log_dir)), index_(index) {
  ping_timer_ = std::make_unique<uvx::Timer>(loop_, [this] { ping(); });
  ping_timer_->start(kPingMs, kPingMs);
  ping_timer_->unref();
  flush_timer_ = std::make_unique<uvx::Timer>(loop_, [this] { flush_all(); });
}

EventStreams::~EventStreams() {
  stop();
}

void EventStreams::stop() {
  for (Client& c : live_) c.stream->close();
  live_.clear();
  ping_timer_.reset();
  flush_timer_.reset();
}

void EventStreams::add(std::shared_ptr<http::HttpStream> stream,
                       std::optional<std::uint64_t> after) {
  if (!stream->open()) return;
  stream->write("retry: 2000\n\n");
  Client c;
  c.stream = std::move(stream);
  c.sent = after.value_or(recent_.last_seq());
  if (after && !recent_.covers_after(*after)) {
    catch_up_from_disk(std::move(c));
  } else {
    if (after) ++replays_.from_memory;
    go_live(std::move(c));
  }
}

void EventStreams::go_live(Client c) {
  // What memory holds after what it was sent, then the live feed: both run on
  // the loop thread, so nothing can come in between.
  for (const auto* e : recent_.after(c.sent, kMaxReplay)) {
    send(c, sse_for_event(e->seq, e->line));
    c.sent = e->seq;
  }
  if (c.stream->open()) live_.push_back(std::move(c));
}

void EventStreams::catch_up_from_disk(Client c) {
  ++catching_up_;
  struct Read {
    std::string text;  // the SSE frames, ready to write
    std::uint64_t first = 0;
    std::uint64_t last = 0;
    std::size_t count = 0;
    std::uint64_t scanned = 0;  // records read, sent or not
    std::uint64_t head = 0;     // the seq of the first of them
    std::uint64_t bytes_read = 0;
  };
  auto read = std::make_shared<Read>();
  auto client = std::make_shared<Client>(std::move(c));
  const std::uint64_t after = client->sent;
  // Near `after` when the writer's index knows where that is; else from the top.
  std::optional<LogPosition> from;
  if (index_) from = index_->start_for(after);
  uvx::queue_work(
      loop_, work_owner_,
      [read, after, from, dir = dir_] {
        auto visit = [&](const LogRecord& r) {
          std::uint64_t seq = 0;
          if (r.object["seq"].get_uint64().get(seq)) return true;
          if (read->scanned++ == 0) read->head = seq;
          if (seq <= after) return true;
          if (read->first == 0) read->first = seq;
          read->last = seq;
          read->text += sse_for_event(seq, r.line);
          return ++read->count < kMaxReplay;
        };
        if (from) {
          EventLogReader reader(dir);
          (void)reader.read_history_from(*from, visit);
          const std::uint64_t bytes = reader.stats().bytes_read;
          // The line there is not the one indexed (the log was edited by
          // hand?): trust the whole log instead.
          if (read->scanned > 0 && read->head == from->seq) {
            read->bytes_read = bytes;
            return;
          }
          *read = Read{};
          read->bytes_read = bytes;
        }
        EventLogReader reader(dir);
        (void)reader.read_history(visit);
        read->bytes_read += reader.stats().bytes_read;
      },
      [this, read, client, after] {
        --catching_up_;
        ++replays_.from_disk;
        replays_.bytes_read += read->bytes_read;
        // The log has nothing right after `after`: rotated away.
        if (read->first == 0 || read->first > after + 1) {
          std::uint64_t from = read->first ? read->first : after + 1;
          send(*client, http::sse_event(std::to_string(from), "reset"));
        }
        send(*client, read->text);
        client->sent = std::max(after, read->last);
        // A long absence: the disk part stopped at kMaxReplay and memory
        // does not reach back to it yet. Another round (the client reads on).
        if (read->count == kMaxReplay && !recent_.covers_after(client->sent) &&
            client->stream->open())
          catch_up_from_disk(std::move(*client));
        else
          go_live(std::move(*client));
      });
}

void EventStreams::publish(std::uint64_t seq, std::string_view line) {
  if (live_.empty()) return;
  const std::string frame = sse_for_event(seq, line);
  for (Client& c : live_) {
    if (seq <= c.sent) continue;
    send(c, frame);
    c.sent = seq;
  }
  std::erase_if(live_, [](const Client& c) { return !c.stream->open(); });
}

void EventStreams::send(Client& c, std::string_view frame) {
  if (c.backlog.size() == c.backlog_at && c.stream->queued_bytes() < kHighWater) {
    c.stream->write(frame);
    return;
  }
  c.backlog.append(frame);
  if (!flush_timer_->active()) flush_timer_->start(kFlushMs);
}

bool EventStreams::flush(Client& c) {
  constexpr std::size_t kSlice = 64 * 1024;
  while (c.backlog_at < c.backlog.size() && c.stream->open() &&
         c.stream->queued_bytes() < kHighWater) {
    std::size_t n = std::min(kSlice, c.backlog.size() - c.backlog_at);
    c.stream->write(std::string_view(c.backlog).substr(c.backlog_at, n));
    c.backlog_at += n;
  }
  if (c.backlog_at == c.backlog.size() || !c.stream->open()) {
    std::string().swap(c.backlog);
    c.backlog_at = 0;
    return true;
  }
  return false;
}

void EventStreams::flush_all() {
  bool more = false;
  for (Client& c : live_) more |= !flush(c);
  std::erase_if(live_, [](const Client& c) { return !c.stream->open(); });
  if (more) flush_timer_->start(kFlushMs);
}

void EventStreams::ping() {
  const std::string comment = http::sse_comment("ping");
  for (Client& c : live_) send(c, comment);
  std::erase_if(live_, [](const Client& c) { return !c.stream->open(); });
}

}  // namespace aw
