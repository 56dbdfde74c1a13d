#include "src/control/control_server.h"

#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <deque>
#include <exception>
#include <vector>

#include "src/core/json_writer.h"
#include "src/core/suggest.h"

namespace aw {

namespace {

constexpr std::size_t kReadChunk = 64 * 1024;

uv_stream_t* as_stream(uv_pipe_t* p) {
  return reinterpret_cast<uv_stream_t*>(p);
}

std::string errno_text(int err) {
  return std::strerror(err);
}

std::string quoted(std::string_view s) {
  std::string out;
  append_json_string(out, s.substr(0, 64));
  if (s.size() > 64) out.insert(out.size() - 1, "...");
  return out;
}

// A queued reply: the request and the bytes it points at live and die together.
struct WriteRequest {
  uv_write_t req{};
  std::string text;
};

// The socket's directory must be ours and closed to others, or someone else
// could replace the socket under us.
Status check_socket_dir(const std::string& socket_path) {
  const std::size_t slash = socket_path.rfind('/');
  const std::string dir = slash == std::string::npos ? "." : socket_path.substr(0, slash + 1);
  struct stat st {};
  if (stat(dir.c_str(), &st) != 0)
    return make_error("control socket directory " + dir + ": " + errno_text(errno), -errno);
  if (!S_ISDIR(st.st_mode))
    return make_error("control socket directory " + dir + " is not a directory");
  if (st.st_uid != geteuid())
    return make_error("control socket directory " + dir + " belongs to uid " +
                      std::to_string(st.st_uid) + ", not to us (uid " + std::to_string(geteuid()) +
                      ")");
  if ((st.st_mode & 077) != 0) {
    char mode[8];
    std::snprintf(mode, sizeof mode, "%04o", static_cast<unsigned>(st.st_mode & 07777));
    return make_error("control socket directory " + dir + " is open to others (mode " + mode +
                      "; expected 0700)");
  }
  return Status::Ok();
}

}  // namespace

std::string control_socket_path(const std::string& runtime_dir) {
  return runtime_dir + "/control.sock";
}

// One accepted client. Owned by conns_ (shared so that a callback working on
// it can keep it alive while something it calls closes it); its uv handle
// points back here through `data` until destroy().
struct ControlServer::Connection : std::enable_shared_from_this<Connection> {
  ControlServer* server = nullptr;
  std::uint64_t id = 0;
  uvx::Handle<uv_pipe_t> pipe;
  ControlPeer peer;
  std::string input;  // bytes read and not yet handled
  // Replies owed, in request order: nullopt until the handler answers. Only
  // the front ones that are filled can be written.
  std::deque<std::optional<std::string>> slots;
  std::uint64_t first_slot = 0;  // the slot number of slots.front()
  std::uint64_t next_slot = 0;
  // Accept, last request or last reply written; the idle deadline counts from here.
  MonoTime last_activity{};
  std::size_t pending_writes = 0;
  bool reading = false;
  bool read_eof = false;    // the client will send nothing more
  bool closing = false;     // a line was too long: read nothing more, close once flushed
  bool processing = false;  // process_input is on the stack (no re-entry)
  bool dead = false;        // destroyed; only a keep-alive reference remains
};

namespace control_internal {

// What every copy of one ControlResponder shares.
struct PendingReply {
  std::weak_ptr<ControlServer::Connection> conn;
  std::uint64_t slot = 0;
  std::optional<std::uint64_t> id;
  std::string method;
  bool answered = false;

  void deliver(std::string line, bool is_error) {
    if (answered) return;
    answered = true;
    std::shared_ptr<ControlServer::Connection> c = conn.lock();
    if (!c || c->dead) return;
    if (is_error) ++c->server->stats_.error_replies;
    c->server->answer(*c, slot, std::move(line));
  }

  ~PendingReply() {
    if (answered) return;
    uvx::guarded("control", [&] {
      deliver(encode_control_error(
                  id, ControlErrorCode::kFailed,
                  "the daemon dropped the request (method \"" + method + "\") without a reply"),
              true);
    });
  }
};

}  // namespace control_internal

void ControlResponder::ok(std::string_view result_json) const {
  if (!pending_ || pending_->answered) return;
  if (result_json.empty()) {
    pending_->deliver(encode_control_ok(pending_->id, "null"), false);
    return;
  }
  auto compact = compact_json(result_json);
  if (!compact) {
    pending_->deliver(encode_control_error(pending_->id, ControlErrorCode::kFailed,
                                           "the daemon's handler for \"" + pending_->method +
                                               "\" produced " + compact.error().message),
                      true);
    return;
  }
  pending_->deliver(encode_control_ok(pending_->id, *compact), false);
}

void ControlResponder::fail(ControlErrorCode code, std::string_view text) const {
  if (!pending_ || pending_->answered) return;
  pending_->deliver(encode_control_error(pending_->id, code, text), true);
}

bool ControlResponder::answered() const {
  return pending_ && pending_->answered;
}

bool ControlResponder::connected() const {
  if (!pending_) return false;
  auto c = pending_->conn.lock();
  return c && !c->dead;
}

ControlServer::ControlServer(uv_loop_t* loop, const Clock& clock, const Options& options)
    : clock_(clock),
      options_(options),
      allowed_uid_(options_.allowed_uid.value_or(geteuid())),
      listener_(loop, "control",
                [this](int status) { uvx::guarded("control", [&] { on_connection(status); }); }),
      alarm_(loop, [this] { on_alarm(); }),
      read_buf_(new char[kReadChunk]) {
  handle("ping", [this](const ControlRequest&, const ControlResponder& r) { r.ok(ping_result()); });
}

ControlServer::~ControlServer() {
  stop();
}

void ControlServer::handle(std::string method, Handler handler) {
  handlers_[std::move(method)] = std::move(handler);
}

std::string ControlServer::ping_result() const {
  std::string methods = "[";
  for (const auto& [name, h] : handlers_) {
    if (methods.size() > 1) methods.push_back(',');
    append_json_string(methods, name);
  }
  methods.push_back(']');
  std::string out;
  JsonObjectWriter w(out);
  w.num("pid", getpid()).raw("methods", methods);
  w.close();
  return out;
}

Status ControlServer::start(const std::string& socket_path) {
  if (started_ || stopped_) return make_error("control server: start() called twice");
  started_ = true;
  socket_path_ = socket_path;
  // A path too long to be a socket address is reported before its directory.
  if (auto addr = uvx::make_unix_address(socket_path_); !addr) return addr.error();
  if (Status s = check_socket_dir(socket_path_); !s) return s;
  return listener_.listen(socket_path_, options_.backlog);
}

void ControlServer::stop() {
  if (stopped_) return;
  stopped_ = true;
  // A handler may call stop() while its connection is being served: mark
  // every connection dead before dropping it, so code up the stack sees it.
  for (auto& [id, c] : conns_) {
    c->dead = true;
    c->pipe.reset();
  }
  conns_.clear();
  alarm_.stop();
  listener_.close();  // removes the socket file only if it is still ours
}

ControlServerStats ControlServer::stats() const {
  ControlServerStats s = stats_;
  s.connections = conns_.size();
  return s;
}

void ControlServer::on_connection(int status) {
  if (status < 0 || stopped_) return;
  auto conn = std::make_shared<Connection>();
  conn->server = this;
  conn->id = next_conn_id_++;
  if (listener_.accept(conn->pipe, conn.get()) != 0) return;

  const std::optional<ucred> cred = uvx::peer_credentials(conn->pipe);
  if (!cred) return refuse_at_accept(conn, "cannot read the peer's credentials (SO_PEERCRED)");
  conn->peer.uid = cred->uid;
  conn->peer.pid = cred->pid;
  if (cred->uid != allowed_uid_)
    return refuse_at_accept(conn, "peer uid " + std::to_string(cred->uid) + " is not uid " +
                                      std::to_string(allowed_uid_));
  if (conns_.size() >= options_.max_connections && !evict_one())
    return refuse_at_accept(conn, "the daemon already serves " + std::to_string(conns_.size()) +
                                      " control connections (the limit); try again");

  conn->last_activity = clock_.mono();
  if (start_reading(*conn) != 0) return;  // conn dies here, closing the pipe
  ++stats_.connections_accepted;
  const std::uint64_t id = conn->id;
  conns_.emplace(id, std::move(conn));
  if (!alarm_.active()) arm_alarm();
}

bool ControlServer::evict_one() {
  if (conns_.empty()) return false;  // a cap of 0 admits nobody
  const MonoTime now = clock_.mono();
  // Only connections owed no reply (a pending answer is work in progress, not
  // idleness) and with nothing unread in their socket.
  std::vector<uvx::IdleConnection> candidates;
  for (const auto& [id, c] : conns_)
    if (c->slots.empty() && uvx::unread_bytes(c->pipe) == 0)
      candidates.push_back({id, c->last_activity});
  const auto victim = uvx::pick_connection_to_evict(candidates, now, options_.evict_idle_after);
  if (!victim) return false;
  std::shared_ptr<Connection> c = conns_.at(*victim);
  ++stats_.connections_evicted;
  if (c->pending_writes == 0) {
    // Best effort, and only when no reply is queued (it would interleave): a
    // person on socat learns why the line went dead.
    std::string text =
        encode_control_error(std::nullopt, ControlErrorCode::kRefused,
                             "closed after " + std::to_string(to_ms(now - c->last_activity)) +
                                 " ms idle, to admit a new connection (the limit is " +
                                 std::to_string(options_.max_connections) + ")");
    uv_buf_t b = uv_buf_init(text.data(), static_cast<unsigned>(text.size()));
    (void)uv_try_write(as_stream(c->pipe.get()), &b, 1);
  }
  destroy(*c);
  return true;
}

void ControlServer::refuse_at_accept(const std::shared_ptr<Connection>& conn,
                                     const std::string& why) {
  ++stats_.connections_refused;
  ++stats_.error_replies;
  std::string text = encode_control_error(std::nullopt, ControlErrorCode::kRefused, why);
  uv_buf_t b = uv_buf_init(text.data(), static_cast<unsigned>(text.size()));
  (void)uv_try_write(as_stream(conn->pipe.get()), &b, 1);  // best effort
  // The caller drops `conn` next: its pipe closes without reading a byte.
}

int ControlServer::start_reading(Connection& c) {
  int rc = uv_read_start(
      as_stream(c.pipe.get()),
      [](uv_handle_t* h, std::size_t, uv_buf_t* buf) noexcept {
        auto* c = static_cast<Connection*>(h->data);
        // A null buffer makes libuv report UV_ENOBUFS; only a closing handle gets one.
        *buf = c ? uv_buf_init(c->server->read_buf_.get(), kReadChunk) : uv_buf_init(nullptr, 0);
      },
      [](uv_stream_t* s, ssize_t nread, const uv_buf_t*) noexcept {
        auto* c = static_cast<Connection*>(s->data);
        if (!c) return;
        uvx::guarded("control", [&] {
          auto keep = c->shared_from_this();  // alive until this callback returns
          c->server->on_read(*c, nread);
        });
      });
  if (rc == 0) c.reading = true;
  return rc;
}

void ControlServer::on_read(Connection& c, ssize_t nread) {
  if (c.dead) return;
  if (nread > 0) {
    c.input.append(read_buf_.get(), static_cast<std::size_t>(nread));
    if (c.input.size() > stats_.input_high_water) stats_.input_high_water = c.input.size();
    process_input(c);
  } else if (nread == UV_EOF) {
    // Half-close: the client sent everything; what it asked is still answered.
    c.read_eof = true;
    c.reading = false;
    uv_read_stop(as_stream(c.pipe.get()));
    process_input(c);
  } else if (nread < 0) {
    destroy(c);  // ECONNRESET and friends: nobody left to answer
  }
}

bool ControlServer::paused(const Connection& c) const {
  if (c.closing || c.slots.size() >= options_.max_in_flight) return true;
  return uv_stream_get_write_queue_size(as_stream(c.pipe.get())) > options_.max_queued_reply_bytes;
}

void ControlServer::process_input(Connection& c) {
  if (c.processing || c.dead) return;
  const std::size_t max = options_.max_line_bytes;
  c.processing = true;
  std::size_t pos = 0;
  // Handlers may answer (and close the connection) synchronously: `line`
  // points into c.input, which nothing else changes while we are here.
  while (!c.dead && !paused(c)) {
    const std::size_t nl = c.input.find('\n', pos);
    if (nl == std::string::npos) break;
    if (nl - pos > max) {
      refuse_line_too_long(c, nl - pos);
      break;
    }
    const std::string_view line(c.input.data() + pos, nl - pos);
    pos = nl + 1;
    handle_line(c, line);
  }
  c.processing = false;
  if (c.dead) return;
  if (c.closing) {
    c.input.clear();
  } else {
    c.input.erase(0, pos);
    const bool partial_only = c.input.find('\n') == std::string::npos;
    if (partial_only && c.input.size() > max) {
      // Refused as soon as it is over the limit, not once its '\n' arrives.
      const std::size_t bytes = c.input.size();
      c.input.clear();
      refuse_line_too_long(c, bytes);
      if (c.dead) return;
    } else if (partial_only && c.read_eof && !c.input.empty() && !paused(c)) {
      // The last request may lack its '\n' (printf ... | socat): still one line.
      std::string last = std::move(c.input);
      c.input.clear();
      c.processing = true;
      handle_line(c, last);
      c.processing = false;
      if (c.dead) return;
    }
  }
  if (paused(c) && c.reading) {
    uv_read_stop(as_stream(c.pipe.get()));
    c.reading = false;
  }
  close_if_done(c);
}

void ControlServer::refuse_line_too_long(Connection& c, std::size_t bytes) {
  c.closing = true;
  if (c.reading) {
    uv_read_stop(as_stream(c.pipe.get()));
    c.reading = false;
  }
  const std::uint64_t slot = open_slot(c);
  ++stats_.requests;
  ++stats_.error_replies;
  answer(c, slot,
         encode_control_error(std::nullopt, ControlErrorCode::kBadRequest,
                              "a line is longer than " + std::to_string(options_.max_line_bytes) +
                                  " bytes (at least " + std::to_string(bytes) +
                                  "; expected one compact JSON object per line); closing"));
}

void ControlServer::handle_line(Connection& c, std::string_view line) {
  if (line.empty() || line == "\r") return;  // blank lines are ignored
  ++stats_.requests;
  c.last_activity = clock_.mono();
  const std::uint64_t slot = open_slot(c);
  DecodedControlRequest d = decode_control_request(line);
  if (!d.ok) {
    ++stats_.error_replies;
    answer(c, slot, encode_control_error(d.id, ControlErrorCode::kBadRequest, d.error));
    return;
  }
  d.request.peer = c.peer;
  dispatch(c, slot, d);
}

void ControlServer::dispatch(Connection& c, std::uint64_t slot, const DecodedControlRequest& d) {
  const ControlRequest& request = d.request;
  auto it = handlers_.find(request.method);
  if (it == handlers_.end()) {
    std::vector<std::string_view> known;
    for (const auto& [name, h] : handlers_) known.push_back(name);
    ++stats_.error_replies;
    answer(c, slot,
           encode_control_error(d.id, ControlErrorCode::kUnknownMethod,
                                "unknown method " + quoted(request.method) +
                                    did_you_mean(request.method, known) +
                                    " (\"ping\" lists the methods this daemon knows)"));
    return;
  }
  auto pending = std::make_shared<control_internal::PendingReply>();
  pending->conn = c.weak_from_this();
  pending->slot = slot;
  pending->id = d.id;
  pending->method = request.method;
  // A copy: the handler may register another handler for its own method.
  Handler handler = it->second;
  try {
    handler(request, ControlResponder(pending));
  } catch (const std::exception& e) {
    ControlResponder(pending).fail(
        ControlErrorCode::kFailed,
        "the daemon's handler for \"" + request.method + "\" failed: " + e.what());
  } catch (...) {
    ControlResponder(pending).fail(ControlErrorCode::kFailed,
                                   "the daemon's handler for \"" + request.method + "\" failed");
  }
  // If no copy of the responder was kept, `pending` dies here and answers
  // "failed": an unanswered request never leaves its client waiting.
}

std::uint64_t ControlServer::open_slot(Connection& c) {
  c.slots.emplace_back();
  return c.next_slot++;
}

void ControlServer::answer(Connection& c, std::uint64_t slot, std::string line) {
  if (c.dead || slot < c.first_slot || slot - c.first_slot >= c.slots.size()) return;
  c.slots[slot - c.first_slot] = std::move(line);
  flush(c);
  if (c.dead) return;
  resume(c);
  if (c.dead) return;
  close_if_done(c);
}

void ControlServer::flush(Connection& c) {
  bool wrote = false;
  while (!c.dead && !c.slots.empty() && c.slots.front().has_value()) {
    std::string line = std::move(*c.slots.front());
    c.slots.pop_front();
    ++c.first_slot;
    write(c, std::move(line));
    wrote = true;
  }
  if (c.dead || !wrote) return;
  c.last_activity = clock_.mono();
  if (c.slots.empty() && !alarm_.active()) arm_alarm();
}

void ControlServer::write(Connection& c, std::string line) {
  auto* w = new WriteRequest{};
  w->text = std::move(line);
  uv_buf_t b = uv_buf_init(w->text.data(), static_cast<unsigned>(w->text.size()));
  int rc =
      uv_write(&w->req, as_stream(c.pipe.get()), &b, 1, [](uv_write_t* req, int status) noexcept {
        auto* w = reinterpret_cast<WriteRequest*>(req);
        auto* conn = static_cast<Connection*>(req->handle->data);  // null once destroyed
        delete w;
        if (!conn) return;
        uvx::guarded("control", [&] {
          auto keep = conn->shared_from_this();
          conn->server->on_write_done(*conn, status);
        });
      });
  if (rc != 0) {
    delete w;
    destroy(c);
    return;
  }
  ++c.pending_writes;
}

void ControlServer::on_write_done(Connection& c, int status) {
  if (c.dead) return;
  if (c.pending_writes > 0) --c.pending_writes;
  if (status < 0) return destroy(c);  // EPIPE: the client left
  c.last_activity = clock_.mono();
  resume(c);
  if (c.dead) return;
  close_if_done(c);
}

void ControlServer::resume(Connection& c) {
  if (c.processing || c.dead || paused(c)) return;
  process_input(c);  // lines read before back-pressure set in
  if (c.dead || paused(c) || c.reading || c.read_eof || c.closing) return;
  if (start_reading(c) != 0) destroy(c);
}

void ControlServer::close_if_done(Connection& c) {
  if (c.dead || c.processing) return;
  if ((c.read_eof || c.closing) && c.slots.empty() && c.pending_writes == 0 &&
      (c.closing || c.input.empty()))
    destroy(c);
}

void ControlServer::destroy(Connection& c) {
  if (c.dead) return;
  c.dead = true;
  c.pipe.reset();
  const std::uint64_t id = c.id;
  conns_.erase(id);                   // the caller's keep-alive (if any) is the last reference
  if (conns_.empty()) alarm_.stop();  // idle means idle
}

void ControlServer::arm_alarm() {
  MonoTime earliest = MonoTime::max();
  for (const auto& [id, c] : conns_)
    if (c->slots.empty()) earliest = std::min(earliest, c->last_activity);
  if (earliest == MonoTime::max()) {
    alarm_.stop();
    return;
  }
  const Duration wait = earliest + options_.idle_timeout - clock_.mono();
  // Round up so the alarm never fires just before a deadline; at least 1 ms,
  // because libuv 1.44 runs a timer re-armed with 0 from its own callback again
  // in the same pass, before any read: a deferred connection (unread bytes)
  // would spin the loop.
  const std::int64_t ms =
      std::max<std::int64_t>(1, std::chrono::ceil<std::chrono::milliseconds>(wait).count());
  alarm_.start(static_cast<std::uint64_t>(ms));
}

void ControlServer::on_alarm() {
  const MonoTime now = clock_.mono();
  std::vector<std::shared_ptr<Connection>> expired;
  for (const auto& [id, c] : conns_)
    if (c->slots.empty() && now - c->last_activity >= options_.idle_timeout &&
        uvx::unread_bytes(c->pipe) == 0)  // a request the loop has not read yet is not idleness
      expired.push_back(c);
  // Quietly: a client that is done and merely stayed open did nothing wrong.
  for (auto& c : expired) destroy(*c);
  arm_alarm();
}

}  // namespace aw
