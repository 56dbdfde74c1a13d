#include "watchers/notify/notify_server.h"

#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <exception>
#include <vector>

#include "src/core/event_kinds.h"

namespace aw {

std::string notify_socket_path(const std::string& runtime_dir) {
  return runtime_dir + "/notify.sock";
}

// One accepted client. Owned by conns_; `line` calls back into the server
// only while it is alive.
struct NotifyServer::Connection {
  explicit Connection(const uvx::LineConnection::Options& o) : line(o) {}
  std::uint64_t id = 0;
  uvx::LineConnection line;
  Peer peer;
  // Accept time, the last complete line, or the stream's end; the idle
  // deadline counts from here.
  MonoTime last_line{};
  bool delivered = false;  // at least one line became an event
};

NotifyServer::NotifyServer(uv_loop_t* loop, const Clock& clock, std::function<void(Event)> emit,
                           Options options)
    : clock_(clock),
      emit_(std::move(emit)),
      options_(std::move(options)),
      allowed_uid_(options_.allowed_uid.value_or(geteuid())),
      listener_(loop, "notify",
                [this](int status) { uvx::guarded("notify", [&] { on_connection(status); }); }),
      alarm_(loop, [this] { on_alarm(); }) {}

NotifyServer::~NotifyServer() {
  stop();
}

Status NotifyServer::start(const std::string& runtime_dir) {
  if (listener_.listening() || stopped_) return make_error("notify server: start() called twice");
  socket_path_ = notify_socket_path(runtime_dir);
  return listener_.listen(socket_path_, options_.backlog);
}

void NotifyServer::stop() {
  if (stopped_) return;
  stopped_ = true;
  for (const auto& [id, c] : conns_)
    stats_.line_buffer_high_water =
        std::max(stats_.line_buffer_high_water, c->line.buffered_high_water());
  conns_.clear();  // each connection closes its pipe; no callback reaches us after this
  alarm_.stop();
  listener_.close();  // removes the socket file only if it is still ours
}

NotifyServerStats NotifyServer::stats() const {
  NotifyServerStats s = stats_;
  s.connections = conns_.size();
  for (const auto& [id, c] : conns_)
    s.line_buffer_high_water = std::max(s.line_buffer_high_water, c->line.buffered_high_water());
  return s;
}

void NotifyServer::on_connection(int status) {
  if (status < 0 || stopped_) return;
  uvx::LineConnection::Options lo;
  lo.name = "notify";
  lo.max_line_bytes = options_.max_line_bytes;
  // Replies are fire-and-forget: a client that does not read them is dropped.
  lo.max_write_queue_bytes = options_.max_pending_reply_bytes;
  lo.on_write_backlog = uvx::LineConnection::Options::WriteBacklog::kClose;
  lo.partial_line_at_eof = uvx::LineConnection::Options::PartialLineAtEof::kRefuse;
  auto conn = std::make_unique<Connection>(lo);
  conn->id = next_conn_id_++;
  if (conn->line.accept(listener_) != 0) return;

  const std::optional<ucred> cred = conn->line.peer();
  if (!cred)
    return refuse_at_accept(std::move(conn), NotifyRefusal::kForeignUid,
                            "cannot read the peer's credentials (SO_PEERCRED)");
  conn->peer.uid = cred->uid;
  conn->peer.pid = cred->pid;
  if (cred->uid != allowed_uid_)
    return refuse_at_accept(
        std::move(conn), NotifyRefusal::kForeignUid,
        "peer uid " + std::to_string(cred->uid) + " is not uid " + std::to_string(allowed_uid_));
  if (conns_.size() >= options_.max_connections && !evict_one())
    return refuse_at_accept(
        std::move(conn), NotifyRefusal::kTooManyConnections,
        "already " + std::to_string(conns_.size()) + " connections (the limit)");

  conn->last_line = clock_.mono();
  Connection* c = conn.get();
  uvx::LineConnection::Handlers h;
  h.on_line = [this, c](std::string_view line) { handle_line(*c, line); };
  h.on_refusal = [this, c](uvx::LineRefusal reason, std::size_t bytes) {
    on_refusal(*c, reason, bytes);
  };
  // The idle alarm ends a connection whose replies never drain.
  h.on_input_end = [this, c] { c->last_line = clock_.mono(); };
  h.on_closed = [this, c] { destroy(*c); };
  if (c->line.start(std::move(h)) != 0) return;  // conn dies here, closing the pipe
  ++stats_.connections_accepted;
  conns_.emplace(c->id, std::move(conn));
  if (!alarm_.active()) arm_alarm();
}

void NotifyServer::refuse_at_accept(std::unique_ptr<Connection> conn, NotifyRefusal reason,
                                    const std::string& detail) {
  emit_refused(conn->peer, reason, detail, 0);
  conn->line.try_write_now(notify_error_reply(reason, detail));
  // `conn` dies here: its pipe closes without reading a byte.
}

void NotifyServer::on_refusal(Connection& c, uvx::LineRefusal reason, std::size_t bytes) {
  switch (reason) {
    case uvx::LineRefusal::kLineTooLong:
      // Refused at once, whatever is still coming: the rest cannot be framed.
      return refuse_and_close(c, NotifyRefusal::kLineTooLong,
                              "a line is longer than " + std::to_string(options_.max_line_bytes) +
                                  " bytes (expected one compact JSON object per line)",
                              bytes);
    case uvx::LineRefusal::kTruncated: {
      const std::string detail =
          "the stream ended inside a line (" + std::to_string(bytes) + " bytes without '\\n')";
      emit_refused(c.peer, NotifyRefusal::kTruncated, detail, bytes);
      return c.line.reply(notify_error_reply(NotifyRefusal::kTruncated, detail));
    }
    case uvx::LineRefusal::kWriteBacklog:
      // The connection closes itself next (on_closed).
      return emit_refused(c.peer, NotifyRefusal::kReplyBacklog,
                          std::to_string(bytes) + " bytes of replies unread (limit " +
                              std::to_string(options_.max_pending_reply_bytes) + ")",
                          0);
  }
}

void NotifyServer::handle_line(Connection& c, std::string_view line) {
  c.last_line = clock_.mono();
  DecodedNotifyLine d = decode_notify_line(line, options_.kinds);
  if (!d.ok) {
    emit_refused(c.peer, d.refusal, d.detail, line.size());
    return c.line.reply(notify_error_reply(d.refusal, d.detail));
  }
  Event e;
  e.kind = std::move(d.message.kind);
  e.source = "notify";
  e.time = clock_.wall();
  e.entity = std::move(d.message.entity);
  e.fields = std::move(d.message.fields);
  e.fields.set("peer_pid", FieldValue(c.peer.pid));
  // The client may spool the same line as well when our reply is late: the
  // daemon delivers each id once (notify_ids.h).
  if (d.message.id) e.fields.set("notify_id", FieldValue(format_notify_id(d.message.id)));
  c.delivered = true;
  ++stats_.messages;
  emit_(std::move(e));
  c.line.reply(notify_ok_reply());
}

void NotifyServer::refuse_and_close(Connection& c, NotifyRefusal reason, const std::string& detail,
                                    std::size_t bytes) {
  emit_refused(c.peer, reason, detail, bytes);
  c.line.try_write_now(notify_error_reply(reason, detail));  // EAGAIN if replies are queued
  destroy(c);
}

void NotifyServer::destroy(Connection& c) {
  stats_.line_buffer_high_water =
      std::max(stats_.line_buffer_high_water, c.line.buffered_high_water());
  conns_.erase(c.id);                 // `c` is gone after this line
  if (conns_.empty()) alarm_.stop();  // idle means idle
}

bool NotifyServer::evict_one() {
  if (conns_.empty()) return false;  // a cap of 0 admits nobody
  const MonoTime now = clock_.mono();
  std::vector<uvx::IdleConnection> candidates;
  candidates.reserve(conns_.size());
  for (const auto& [id, c] : conns_)
    if (c->line.unread_bytes() == 0) candidates.push_back({id, c->last_line});
  const auto victim = uvx::pick_connection_to_evict(candidates, now, options_.evict_idle_after);
  if (!victim) return false;
  Connection& c = *conns_.at(*victim);
  ++stats_.evicted;
  if (c.delivered && c.line.buffered_bytes() == 0 && !c.line.finishing()) {
    destroy(c);  // it said what it had to say: nothing to report
  } else {
    refuse_and_close(c, NotifyRefusal::kEvicted,
                     "closed after " + std::to_string(to_ms(now - c.last_line)) +
                         " ms without a complete line, to admit a new connection (the limit is " +
                         std::to_string(options_.max_connections) + ")",
                     c.line.buffered_bytes());
  }
  return true;
}

void NotifyServer::emit_refused(const Peer& peer, NotifyRefusal reason, const std::string& detail,
                                std::size_t bytes) {
  Event e;
  e.kind = kind::kNotifyRefused;
  e.source = "notify";
  e.time = clock_.wall();
  e.fields.set("reason", refusal_reason(reason));
  e.fields.set("detail", FieldValue(detail));
  e.fields.set("peer_uid", FieldValue(peer.uid));
  e.fields.set("peer_pid", FieldValue(peer.pid));
  e.fields.set("bytes", FieldValue(static_cast<std::int64_t>(bytes)));
  ++stats_.refused;
  emit_(std::move(e));
}

void NotifyServer::arm_alarm() {
  if (conns_.empty()) {
    alarm_.stop();
    return;
  }
  MonoTime earliest = MonoTime::max();
  for (const auto& [id, c] : conns_) earliest = std::min(earliest, c->last_line);
  const Duration wait = earliest + options_.idle_timeout - clock_.mono();
  // Round up so the alarm never fires just before a deadline; at least 1 ms,
  // because libuv 1.44 runs a timer re-armed with 0 from its own callback again
  // in the same pass, before any read: a deferred connection (unread bytes)
  // would spin the loop.
  const std::int64_t ms =
      std::max<std::int64_t>(1, std::chrono::ceil<std::chrono::milliseconds>(wait).count());
  alarm_.start(static_cast<std::uint64_t>(ms));
}

void NotifyServer::on_alarm() {
  const MonoTime now = clock_.mono();
  std::vector<std::uint64_t> expired;
  for (const auto& [id, c] : conns_)
    if (now - c->last_line >= options_.idle_timeout && c->line.unread_bytes() == 0)
      expired.push_back(id);
  for (std::uint64_t id : expired) {
    auto it = conns_.find(id);
    if (it == conns_.end()) continue;
    Connection& c = *it->second;
    // A client that delivered its lines and merely stayed open is closed
    // quietly; one that never completed a line (or is stuck inside one) is
    // reported, since that is what a stuck or hostile client looks like.
    if (c.line.finishing() || (c.delivered && c.line.buffered_bytes() == 0)) {
      destroy(c);
    } else {
      refuse_and_close(
          c, NotifyRefusal::kIdleTimeout,
          "no complete line within " + std::to_string(to_ms(options_.idle_timeout)) + " ms",
          c.line.buffered_bytes());
    }
  }
  arm_alarm();
}

}  // namespace aw
