#include "src/control/control_server.h"

#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <exception>
#include <vector>

#include "src/core/json_writer.h"
#include "src/core/suggest.h"
#include "src/os/errno_text.h"

namespace aw {

namespace {

std::string quoted(std::string_view s) {
  std::string out;
  append_json_string(out, s.substr(0, 64));
  if (s.size() > 64) out.insert(out.size() - 1, "...");
  return out;
}

// The socket's directory must be ours and closed to others, or someone else
// could replace the socket under us.
Status check_socket_dir(const std::string& socket_path) {
  const std::size_t slash = socket_path.rfind('/');
  const std::string dir = slash == std::string::npos ? "." : socket_path.substr(0, slash + 1);
  struct stat st {};
  if (stat(dir.c_str(), &st) != 0) return errno_error("control socket directory " + dir, errno);
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

// One accepted client. Owned by conns_; `line` calls back into the server
// only while it is alive, and responders reach it only through their slot.
struct ControlServer::Connection {
  explicit Connection(const uvx::LineConnection::Options& o) : line(o) {}
  std::uint64_t id = 0;
  uvx::LineConnection line;
  ControlPeer peer;
  // Accept, last request or last reply written; the idle deadline counts from here.
  MonoTime last_activity{};
};

namespace control_internal {

// What every copy of one ControlResponder shares.
struct PendingReply {
  ControlServer* server = nullptr;  // used only while the slot is connected
  uvx::LineConnection::ReplySlot slot;
  std::optional<std::uint64_t> id;
  std::string method;
  bool answered = false;

  void deliver(std::string line, bool is_error) {
    if (answered) return;
    answered = true;
    // A connected slot means a live connection, hence a live server.
    if (!slot.connected()) return;
    if (is_error) ++server->stats_.error_replies;
    slot.send(std::move(line));
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
  return pending_ && pending_->slot.connected();
}

ControlServer::ControlServer(uv_loop_t* loop, const Clock& clock, const Options& options)
    : clock_(clock),
      options_(options),
      allowed_uid_(options_.allowed_uid.value_or(geteuid())),
      listener_(loop, "control",
                [this](int status) { uvx::guarded("control", [&] { on_connection(status); }); }),
      alarm_(loop, [this] { on_alarm(); }) {
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
  // A handler may call stop() while its connection is being served: the
  // connection outlives its owner until its callback returns (line_connection.h).
  for (const auto& [id, c] : conns_)
    stats_.input_high_water = std::max(stats_.input_high_water, c->line.buffered_high_water());
  conns_.clear();
  alarm_.stop();
  listener_.close();  // removes the socket file only if it is still ours
}

ControlServerStats ControlServer::stats() const {
  ControlServerStats s = stats_;
  s.connections = conns_.size();
  for (const auto& [id, c] : conns_)
    s.input_high_water = std::max(s.input_high_water, c->line.buffered_high_water());
  return s;
}

void ControlServer::on_connection(int status) {
  if (status < 0 || stopped_) return;
  uvx::LineConnection::Options lo;
  lo.name = "control";
  lo.max_line_bytes = options_.max_line_bytes;
  lo.max_pending_replies = options_.max_in_flight;
  lo.max_write_queue_bytes = options_.max_queued_reply_bytes;
  lo.on_write_backlog = uvx::LineConnection::Options::WriteBacklog::kStopReading;
  // The last request may lack its '\n' (printf ... | socat): still one line.
  lo.partial_line_at_eof = uvx::LineConnection::Options::PartialLineAtEof::kDeliver;
  auto conn = std::make_unique<Connection>(lo);
  conn->id = next_conn_id_++;
  if (conn->line.accept(listener_) != 0) return;

  const std::optional<ucred> cred = conn->line.peer();
  if (!cred)
    return refuse_at_accept(conn->line, "cannot read the peer's credentials (SO_PEERCRED)");
  conn->peer.uid = cred->uid;
  conn->peer.pid = cred->pid;
  if (cred->uid != allowed_uid_)
    return refuse_at_accept(conn->line, "peer uid " + std::to_string(cred->uid) + " is not uid " +
                                            std::to_string(allowed_uid_));
  if (conns_.size() >= options_.max_connections && !evict_one())
    return refuse_at_accept(conn->line, "the daemon already serves " +
                                            std::to_string(conns_.size()) +
                                            " control connections (the limit); try again");

  conn->last_activity = clock_.mono();
  Connection* c = conn.get();
  uvx::LineConnection::Handlers h;
  h.on_line = [this, c](std::string_view line) { handle_line(*c, line); };
  h.on_refusal = [this, c](uvx::LineRefusal, std::size_t bytes) {
    // kLineTooLong: the only refusal under these options.
    refuse_line_too_long(*c, bytes);
  };
  h.on_reply_written = [this, c] { on_reply_written(*c); };
  h.on_closed = [this, c] { destroy(*c); };
  if (c->line.start(std::move(h)) != 0) return;  // conn dies here, closing the pipe
  ++stats_.connections_accepted;
  conns_.emplace(c->id, std::move(conn));
  if (!alarm_.active()) arm_alarm();
}

bool ControlServer::evict_one() {
  if (conns_.empty()) return false;  // a cap of 0 admits nobody
  const MonoTime now = clock_.mono();
  // Only connections owed no reply (a pending answer is work in progress, not
  // idleness) and with nothing unread in their socket.
  std::vector<uvx::IdleConnection> candidates;
  for (const auto& [id, c] : conns_)
    if (c->line.pending_replies() == 0 && c->line.unread_bytes() == 0)
      candidates.push_back({id, c->last_activity});
  const auto victim = uvx::pick_connection_to_evict(candidates, now, options_.evict_idle_after);
  if (!victim) return false;
  Connection& c = *conns_.at(*victim);
  ++stats_.connections_evicted;
  if (c.line.writes_in_flight() == 0) {
    // Best effort, and only when no reply is queued (it would interleave): a
    // person on socat learns why the line went dead.
    c.line.try_write_now(
        encode_control_error(std::nullopt, ControlErrorCode::kRefused,
                             "closed after " + std::to_string(to_ms(now - c.last_activity)) +
                                 " ms idle, to admit a new connection (the limit is " +
                                 std::to_string(options_.max_connections) + ")"));
  }
  destroy(c);
  return true;
}

void ControlServer::refuse_at_accept(uvx::LineConnection& conn, const std::string& why) {
  ++stats_.connections_refused;
  ++stats_.error_replies;
  conn.try_write_now(encode_control_error(std::nullopt, ControlErrorCode::kRefused, why));
  // The caller drops the connection next: its pipe closes without reading a byte.
}

void ControlServer::refuse_line_too_long(Connection& c, std::size_t bytes) {
  // The connection reads nothing more and closes once this reply, after the
  // ones owed before it, is written.
  ++stats_.requests;
  ++stats_.error_replies;
  c.line.reply(encode_control_error(
      std::nullopt, ControlErrorCode::kBadRequest,
      "a line is longer than " + std::to_string(options_.max_line_bytes) + " bytes (at least " +
          std::to_string(bytes) + "; expected one compact JSON object per line); closing"));
}

void ControlServer::handle_line(Connection& c, std::string_view line) {
  ++stats_.requests;
  c.last_activity = clock_.mono();
  uvx::LineConnection::ReplySlot slot = c.line.reserve();
  DecodedControlRequest d = decode_control_request(line);
  if (!d.ok) {
    ++stats_.error_replies;
    slot.send(encode_control_error(d.id, ControlErrorCode::kBadRequest, d.error));
    return;
  }
  d.request.peer = c.peer;
  dispatch(std::move(slot), d);
}

void ControlServer::dispatch(uvx::LineConnection::ReplySlot slot, const DecodedControlRequest& d) {
  const ControlRequest& request = d.request;
  auto it = handlers_.find(request.method);
  if (it == handlers_.end()) {
    std::vector<std::string_view> known;
    for (const auto& [name, h] : handlers_) known.push_back(name);
    ++stats_.error_replies;
    slot.send(encode_control_error(d.id, ControlErrorCode::kUnknownMethod,
                                   "unknown method " + quoted(request.method) +
                                       did_you_mean(request.method, known) +
                                       " (\"ping\" lists the methods this daemon knows)"));
    return;
  }
  auto pending = std::make_shared<control_internal::PendingReply>();
  pending->server = this;
  pending->slot = std::move(slot);
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

void ControlServer::on_reply_written(Connection& c) {
  c.last_activity = clock_.mono();
  if (c.line.pending_replies() == 0 && !alarm_.active()) arm_alarm();
}

void ControlServer::destroy(Connection& c) {
  stats_.input_high_water = std::max(stats_.input_high_water, c.line.buffered_high_water());
  conns_.erase(c.id);                 // `c` is gone after this line
  if (conns_.empty()) alarm_.stop();  // idle means idle
}

void ControlServer::arm_alarm() {
  MonoTime earliest = MonoTime::max();
  for (const auto& [id, c] : conns_)
    if (c->line.pending_replies() == 0) earliest = std::min(earliest, c->last_activity);
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
  std::vector<std::uint64_t> expired;
  for (const auto& [id, c] : conns_)
    if (c->line.pending_replies() == 0 && now - c->last_activity >= options_.idle_timeout &&
        c->line.unread_bytes() == 0)  // a request the loop has not read yet is not idleness
      expired.push_back(id);
  // Quietly: a client that is done and merely stayed open did nothing wrong.
  for (std::uint64_t id : expired)
    if (auto it = conns_.find(id); it != conns_.end()) destroy(*it->second);
  arm_alarm();
}

}  // namespace aw
