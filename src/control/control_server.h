// ControlServer: the unix socket <runtime_dir>/control.sock on which the CLI
// asks the running daemon things and tells it to do things (`agentwatch
// workers list`, `recover reset`, `status`, ...). Request/reply, one JSON
// object per line each way (control_protocol.h, docs/control.md). notify.sock
// stays the one-way, fire-and-forget socket for tmux hooks.
//
// The server only frames, checks and dispatches: a request goes to the Handler
// registered for its method, which answers through a ControlResponder, at
// once or later (a restart answers once the worker is up). Replies on one
// connection go out in request order, whatever order handlers answer in.
//
// Hostile or broken clients cannot hurt the loop:
//   - a peer whose uid (SO_PEERCRED) is not `allowed_uid` is refused (code
//     "refused", id null) and closed before anything it sent is read;
//   - at most `max_connections` at once. At the cap, the connection idle
//     longest among those owed no reply is closed (a best-effort "refused"
//     line says why) to admit the new one, if it has been idle for
//     `evict_idle_after` (uvx::pick_connection_to_evict says why): a CLI call
//     connects, sends one request at once and leaves, so clients that hold
//     connections open doing nothing must not lock the CLI out for the 30 s
//     idle timeout. Otherwise (every connection busy or younger) one more is
//     accepted (so the backlog drains), refused the same way and closed;
//   - bad JSON, a bad shape or an unknown method get an error reply and the
//     connection stays open; a line over `max_line_bytes` gets a bad_request
//     reply after the replies owed before it, and the connection is closed
//     (the rest of that line cannot be framed); at most one read (64 KiB)
//     past the limit is ever buffered;
//   - a connection that owes no reply closes after `idle_timeout` without a
//     request or a written reply (a client that stops reading its replies is
//     closed too). 30 s, not the notify socket's 1 s: people type requests
//     into socat here, and with eviction at the cap idle connections cost
//     only memory. Bytes in the socket the loop has not read yet (a stall)
//     count as activity;
//   - a client with `max_in_flight` unanswered requests, or more than
//     `max_queued_reply_bytes` of replies it has not read, is not read from
//     until that drains: back-pressure, not unbounded buffering.
//
// A client that leaves makes the next write to it fail with EPIPE: the process
// must ignore SIGPIPE (the daemon does; libuv writes with write(2)).
//
// Ownership and threads: everything runs on the loop thread, handlers and
// responders included. The loop and clock must outlive the server. A handler
// may call stop() but must not destroy the server. Destroying the server
// stops it (as stop()); its uv handles close on the next loop iteration.
#pragma once

#include <sys/types.h>

#include <cstddef>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>

#include <uv.h>

#include "src/control/control_protocol.h"
#include "src/core/clock.h"
#include "src/core/result.h"
#include "src/uvx/handle.h"
#include "src/uvx/line_connection.h"
#include "src/uvx/unix_listener.h"

namespace aw {

// <runtime_dir>/control.sock
std::string control_socket_path(const std::string& runtime_dir);

namespace control_internal {
struct PendingReply;
}

// The way a handler answers one request. Copyable and movable: keep a copy
// and answer later, from any loop callback. Only the first answer counts;
// later ones, and any answer after the connection closed or the server was
// stopped or destroyed, are no-ops. If every copy is destroyed without an
// answer, the client gets {"code":"failed"} ("the daemon dropped the request"),
// so a handler bug cannot hang a CLI. Loop thread only.
class ControlResponder {
 public:
  ControlResponder() = default;  // answers nowhere; for handlers under test

  // `result_json` is any JSON text (object, array, string, ...); it is checked
  // and compacted to one line. Empty sends null. Invalid JSON is a bug in the
  // handler: the client gets {"code":"failed"} saying so.
  void ok(std::string_view result_json = {}) const;
  void fail(ControlErrorCode code, std::string_view text) const;

  // True once ok() or fail() was called on any copy.
  bool answered() const;
  // False once the connection is gone (the answer would go nowhere): a slow
  // handler may skip work nobody waits for.
  bool connected() const;

 private:
  friend class ControlServer;
  explicit ControlResponder(std::shared_ptr<control_internal::PendingReply> p)
      : pending_(std::move(p)) {}
  std::shared_ptr<control_internal::PendingReply> pending_;
};

// A handler that answers at once may take `const ControlResponder&`; one that
// answers later keeps a copy. Exceptions it throws become {"code":"failed"}.
using ControlHandler = std::function<void(const ControlRequest&, ControlResponder)>;

struct ControlServerStats {
  std::size_t connections = 0;             // open now
  std::uint64_t connections_accepted = 0;  // served (not refused at accept)
  std::uint64_t connections_refused = 0;   // foreign uid or over max_connections
  std::uint64_t connections_evicted = 0;   // idle ones closed at the cap to admit a new one
  std::uint64_t requests = 0;              // lines read (blank lines aside)
  std::uint64_t error_replies = 0;         // ok:false replies, any code
  // The most bytes any connection ever held unread; never above
  // max_line_bytes plus one read (64 KiB) — tests check the bound.
  std::size_t input_high_water = 0;
};

class ControlServer {
 public:
  struct Options {
    // Peers with another uid are refused. nullopt: the daemon's own euid.
    std::optional<uid_t> allowed_uid;
    std::size_t max_connections = 32;
    std::size_t max_line_bytes = kControlMaxLineBytes;
    Duration idle_timeout = std::chrono::seconds(30);
    // At the cap, a connection owed no reply and idle this long may be closed
    // to admit a new one. A CLI sends its request right after connecting;
    // 1 s leaves a loaded machine room.
    Duration evict_idle_after = std::chrono::seconds(1);
    std::size_t max_in_flight = 64;
    std::size_t max_queued_reply_bytes = 4 * 1024 * 1024;
    int backlog = 64;
  };
  using Handler = ControlHandler;

  ControlServer(uv_loop_t* loop, const Clock& clock, const Options& options);
  ControlServer(uv_loop_t* loop, const Clock& clock) : ControlServer(loop, clock, Options{}) {}
  ~ControlServer();
  ControlServer(const ControlServer&) = delete;
  ControlServer& operator=(const ControlServer&) = delete;

  // Registers (or replaces) the handler for `method`, before or after start().
  // "ping" is built in — {"pid":<daemon pid>,"methods":[every method, sorted]}
  // — and may be replaced like any other.
  void handle(std::string method, Handler handler);

  // Listens on `socket_path`, created 0600. Its directory must be ours and
  // closed to others (0700, as the runtime dir is). A socket file already there
  // is removed only when nobody answers on it (a connect is refused); a live
  // one ("another agentwatch is running"), or a file that is not a socket, is
  // an error naming the path. Call once.
  Status start(const std::string& socket_path);
  // Closes the listener and every connection; unanswered requests' responders
  // become no-ops. Removes the socket file if it is still the one we created.
  void stop();

  const std::string& socket_path() const { return socket_path_; }
  ControlServerStats stats() const;
  // True while the idle alarm is armed (tests: no connection, no wake-ups).
  bool alarm_armed() const { return alarm_.active(); }

 private:
  friend struct control_internal::PendingReply;
  struct Connection;

  void on_connection(int status);
  void refuse_at_accept(uvx::LineConnection& conn, const std::string& why);
  // At the cap: closes the connection idle longest, if any may go. True when
  // there is room now.
  bool evict_one();
  void handle_line(Connection& c, std::string_view line);
  void dispatch(uvx::LineConnection::ReplySlot slot, const DecodedControlRequest& decoded);
  void refuse_line_too_long(Connection& c, std::size_t bytes);
  void on_reply_written(Connection& c);
  void destroy(Connection& c);

  void arm_alarm();
  void on_alarm();
  std::string ping_result() const;

  const Clock& clock_;
  Options options_;
  uid_t allowed_uid_;
  std::map<std::string, Handler, std::less<>> handlers_;
  std::string socket_path_;
  bool started_ = false;
  bool stopped_ = false;
  uvx::UnixListener listener_;
  std::uint64_t next_conn_id_ = 1;
  std::unordered_map<std::uint64_t, std::unique_ptr<Connection>> conns_;
  uvx::Timer alarm_;
  ControlServerStats stats_;
};

}  // namespace aw
