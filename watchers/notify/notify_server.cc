#include "watchers/notify/notify_server.h"

#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <exception>
#include <vector>

namespace aw {

namespace {

constexpr std::size_t kReadChunk = 64 * 1024;

uv_stream_t* as_stream(uv_pipe_t* p) {
  return reinterpret_cast<uv_stream_t*>(p);
}

}  // namespace

std::string notify_socket_path(const std::string& runtime_dir) {
  return runtime_dir + "/notify.sock";
}

// One accepted client. Owned by conns_; its uv handle points back here through
// `data` until destroy() (the Handle clears it before uv_close).
struct NotifyServer::Connection {
  NotifyServer* server = nullptr;
  std::uint64_t id = 0;
  uvx::Handle<uv_pipe_t> pipe;
  Peer peer;
  std::string buf;  // the incomplete line so far; never above max_line_bytes
  // Accept time or the last complete line; the idle deadline counts from here.
  MonoTime last_line{};
  std::size_t pending_writes = 0;
  bool delivered = false;  // at least one line became an event
  bool closing = false;    // reading stopped; closes when replies are written
};

namespace {

// A queued reply: the request and the bytes it points at live and die together.
struct WriteRequest {
  uv_write_t req{};
  std::string text;
};

}  // namespace

NotifyServer::NotifyServer(uv_loop_t* loop, const Clock& clock, std::function<void(Event)> emit,
                           Options options)
    : clock_(clock),
      emit_(std::move(emit)),
      options_(std::move(options)),
      allowed_uid_(options_.allowed_uid.value_or(geteuid())),
      listener_(loop, "notify",
                [this](int status) { uvx::guarded("notify", [&] { on_connection(status); }); }),
      alarm_(loop, [this] { on_alarm(); }),
      read_buf_(new char[kReadChunk]) {}

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
  conns_.clear();  // each Handle closes its pipe; no callback reaches us after this
  alarm_.stop();
  listener_.close();  // removes the socket file only if it is still ours
}

NotifyServerStats NotifyServer::stats() const {
  NotifyServerStats s = stats_;
  s.connections = conns_.size();
  return s;
}

void NotifyServer::on_connection(int status) {
  if (status < 0 || stopped_) return;
  auto conn = std::make_unique<Connection>();
  conn->server = this;
  conn->id = next_conn_id_++;
  if (listener_.accept(conn->pipe, conn.get()) != 0) return;

  const std::optional<ucred> cred = uvx::peer_credentials(conn->pipe);
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
  int rc = uv_read_start(
      as_stream(conn->pipe.get()),
      [](uv_handle_t* h, std::size_t, uv_buf_t* buf) noexcept {
        auto* c = static_cast<Connection*>(h->data);
        // A null buffer makes libuv report UV_ENOBUFS; only a closing handle gets one.
        *buf = c ? uv_buf_init(c->server->read_buf_.get(), kReadChunk) : uv_buf_init(nullptr, 0);
      },
      [](uv_stream_t* s, ssize_t nread, const uv_buf_t*) noexcept {
        auto* c = static_cast<Connection*>(s->data);
        if (c) uvx::guarded("notify", [&] { c->server->on_read(*c, nread); });
      });
  if (rc != 0) return;  // conn dies here, closing the pipe
  ++stats_.connections_accepted;
  Connection& c = *conn;
  conns_.emplace(c.id, std::move(conn));
  if (!alarm_.active()) arm_alarm();
}

void NotifyServer::refuse_at_accept(std::unique_ptr<Connection> conn, NotifyRefusal reason,
                                    const std::string& detail) {
  emit_refused(conn->peer, reason, detail, 0);
  std::string text = notify_error_reply(reason, detail);
  uv_buf_t b = uv_buf_init(text.data(), static_cast<unsigned>(text.size()));
  (void)uv_try_write(as_stream(conn->pipe.get()), &b, 1);  // best effort
  // `conn` dies here: its pipe closes without reading a byte.
}

void NotifyServer::on_read(Connection& c, ssize_t nread) {
  if (nread > 0) {
    on_data(c, std::string_view(read_buf_.get(), static_cast<std::size_t>(nread)));
  } else if (nread == UV_EOF) {
    if (!c.buf.empty()) {
      const std::string detail = "the stream ended inside a line (" + std::to_string(c.buf.size()) +
                                 " bytes without '\\n')";
      emit_refused(c.peer, NotifyRefusal::kTruncated, detail, c.buf.size());
      c.buf.clear();
      if (!reply(c, notify_error_reply(NotifyRefusal::kTruncated, detail))) return;
    }
    close_after_flush(c);
  } else if (nread < 0) {
    destroy(c);  // ECONNRESET and friends: nobody left to answer
  }
}

bool NotifyServer::on_data(Connection& c, std::string_view data) {
  if (c.closing) return true;
  const std::size_t max = options_.max_line_bytes;
  while (!data.empty()) {
    const std::size_t nl = data.find('\n');
    const std::string_view piece = data.substr(0, nl);  // whole rest when npos
    // Checked before buffering: a 10 MB line costs at most max_line_bytes.
    if (c.buf.size() + piece.size() > max) {
      refuse_and_close(c, NotifyRefusal::kLineTooLong,
                       "a line is longer than " + std::to_string(max) +
                           " bytes (expected one compact JSON object per line)",
                       c.buf.size() + piece.size());
      return false;
    }
    if (nl == std::string_view::npos) {
      c.buf.append(piece);
      if (c.buf.size() > stats_.line_buffer_high_water)
        stats_.line_buffer_high_water = c.buf.size();
      return true;
    }
    data.remove_prefix(nl + 1);
    bool alive;
    if (c.buf.empty()) {
      alive = handle_line(c, piece);
    } else {
      c.buf.append(piece);
      if (c.buf.size() > stats_.line_buffer_high_water)
        stats_.line_buffer_high_water = c.buf.size();
      alive = handle_line(c, c.buf);
      if (alive) c.buf.clear();
    }
    if (!alive) return false;
  }
  return true;
}

bool NotifyServer::handle_line(Connection& c, std::string_view line) {
  if (line.empty() || line == "\r") return true;  // blank lines are ignored
  c.last_line = clock_.mono();
  DecodedNotifyLine d = decode_notify_line(line, options_.kinds);
  if (!d.ok) {
    emit_refused(c.peer, d.refusal, d.detail, line.size());
    return reply(c, notify_error_reply(d.refusal, d.detail));
  }
  Event e;
  e.kind = std::move(d.message.kind);
  e.source = "notify";
  e.time = clock_.wall();
  e.entity = std::move(d.message.entity);
  e.fields = std::move(d.message.fields);
  e.fields.set("peer_pid", FieldValue(c.peer.pid));
  c.delivered = true;
  ++stats_.messages;
  emit_(std::move(e));
  return reply(c, notify_ok_reply());
}

bool NotifyServer::reply(Connection& c, std::string text) {
  auto* w = new WriteRequest{};
  w->text = std::move(text);
  uv_buf_t b = uv_buf_init(w->text.data(), static_cast<unsigned>(w->text.size()));
  int rc =
      uv_write(&w->req, as_stream(c.pipe.get()), &b, 1, [](uv_write_t* req, int status) noexcept {
        auto* w = reinterpret_cast<WriteRequest*>(req);
        auto* conn = static_cast<Connection*>(req->handle->data);  // null once destroyed
        delete w;
        if (!conn) return;
        uvx::guarded("notify", [&] {
          if (status < 0) {
            conn->server->destroy(*conn);
          } else {
            conn->server->on_write_done(*conn);
          }
        });
      });
  if (rc != 0) {
    delete w;
    destroy(c);
    return false;
  }
  ++c.pending_writes;
  // libuv writes at once what the socket takes and queues the rest; a client
  // that never reads makes the queue grow, and is dropped rather than buffered.
  const std::size_t queued = uv_stream_get_write_queue_size(as_stream(c.pipe.get()));
  if (queued > options_.max_pending_reply_bytes) {
    emit_refused(c.peer, NotifyRefusal::kReplyBacklog,
                 std::to_string(queued) + " bytes of replies unread (limit " +
                     std::to_string(options_.max_pending_reply_bytes) + ")",
                 0);
    destroy(c);
    return false;
  }
  return true;
}

void NotifyServer::on_write_done(Connection& c) {
  if (c.pending_writes > 0) --c.pending_writes;
  if (c.closing && c.pending_writes == 0) destroy(c);
}

void NotifyServer::refuse_and_close(Connection& c, NotifyRefusal reason, const std::string& detail,
                                    std::size_t bytes) {
  emit_refused(c.peer, reason, detail, bytes);
  std::string text = notify_error_reply(reason, detail);
  uv_buf_t b = uv_buf_init(text.data(), static_cast<unsigned>(text.size()));
  (void)uv_try_write(as_stream(c.pipe.get()), &b, 1);  // best effort; EAGAIN if replies are queued
  destroy(c);
}

void NotifyServer::close_after_flush(Connection& c) {
  if (c.pending_writes == 0) return destroy(c);
  c.closing = true;
  uv_read_stop(as_stream(c.pipe.get()));
  // The idle alarm ends a connection whose replies never drain.
  c.last_line = clock_.mono();
}

void NotifyServer::destroy(Connection& c) {
  conns_.erase(c.id);                 // `c` is gone after this line
  if (conns_.empty()) alarm_.stop();  // idle means idle
}

bool NotifyServer::evict_one() {
  if (conns_.empty()) return false;  // a cap of 0 admits nobody
  const MonoTime now = clock_.mono();
  std::vector<uvx::IdleConnection> candidates;
  candidates.reserve(conns_.size());
  for (const auto& [id, c] : conns_)
    if (uvx::unread_bytes(c->pipe) == 0) candidates.push_back({id, c->last_line});
  const auto victim = uvx::pick_connection_to_evict(candidates, now, options_.evict_idle_after);
  if (!victim) return false;
  Connection& c = *conns_.at(*victim);
  ++stats_.evicted;
  if (c.delivered && c.buf.empty() && !c.closing) {
    destroy(c);  // it said what it had to say: nothing to report
  } else {
    refuse_and_close(c, NotifyRefusal::kEvicted,
                     "closed after " + std::to_string(to_ms(now - c.last_line)) +
                         " ms without a complete line, to admit a new connection (the limit is " +
                         std::to_string(options_.max_connections) + ")",
                     c.buf.size());
  }
  return true;
}

void NotifyServer::emit_refused(const Peer& peer, NotifyRefusal reason, const std::string& detail,
                                std::size_t bytes) {
  Event e;
  e.kind = "notify.refused";
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
    if (now - c->last_line >= options_.idle_timeout && uvx::unread_bytes(c->pipe) == 0)
      expired.push_back(id);
  for (std::uint64_t id : expired) {
    auto it = conns_.find(id);
    if (it == conns_.end()) continue;
    Connection& c = *it->second;
    // A client that delivered its lines and merely stayed open is closed
    // quietly; one that never completed a line (or is stuck inside one) is
    // reported, since that is what a stuck or hostile client looks like.
    if (c.closing || (c.delivered && c.buf.empty())) {
      destroy(c);
    } else {
      refuse_and_close(
          c, NotifyRefusal::kIdleTimeout,
          "no complete line within " + std::to_string(to_ms(options_.idle_timeout)) + " ms",
          c.buf.size());
    }
  }
  arm_alarm();
}

}  // namespace aw
