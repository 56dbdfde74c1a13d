// NotifyServer: the unix socket <runtime_dir>/notify.sock on which tmux hooks
// (through `agentwatch notify`) report what happened, translated into Events
// (DESIGN §1, §5; scenario 21; docs/notify.md).
//
// It only translates: an accepted line becomes an Event {source "notify", kind
// and entity as sent, fields as sent plus peer_pid}; anything refused becomes a
// notify.refused Event {reason, detail, peer_uid, peer_pid, bytes}. Which kinds
// are allowed is policy (NotifyKindPolicy); what they mean is for the rules.
//
// Hostile or broken clients cannot hurt the loop:
//   - a peer whose uid (SO_PEERCRED) is not `allowed_uid` is refused and closed
//     at once, before anything it sent is read;
//   - at most `max_connections` at once. At the cap, the connection idle
//     longest is closed to admit the new one, if it has been idle for
//     `evict_idle_after` (uvx::pick_connection_to_evict, which says why);
//     otherwise the new one is accepted (so the backlog drains), refused
//     (too_many_connections) and closed, and its client spools. An evicted
//     connection that never completed a line, or is inside one, is refused
//     (evicted); one that delivered its lines and lingers is closed quietly.
//     So idle clients cannot lock hooks out: a hook is served at once, or
//     spools and its message is taken in at once (notify_spool_watch.h);
//   - a line is buffered up to `max_line_bytes` and no further: a longer one is
//     refused and the connection closed, whatever is still coming;
//   - a connection that completes no line within `idle_timeout` of opening or
//     of its last line is closed (a drip of bytes does not keep it open). A
//     hook sends its one line right after connecting and gives up after its
//     own 200 ms budget (notify_client.h), so a connection silent for much
//     longer serves nobody: the default is 1 s, five times that budget, to
//     absorb a loaded machine, and short enough that idle clients hold little.
//     Bytes already in the socket that the loop has not read (a stall: timers
//     run before the reads of the same loop turn) count as activity: such a
//     connection is never closed, nor evicted, before they are read, so a
//     line a hook handed over is never lost to the timeout. (Each deferral
//     needs new bytes, which go into the bounded line buffer: it ends.)
//   - writes never block: replies are queued by libuv, and a client whose unsent
//     replies exceed `max_pending_reply_bytes` (it does not read) is dropped.
// Invalid JSON, a bad message shape or a kind that is not allowed gets an
// error reply and the connection stays open for the next line. A message
// counts only once its '\n' arrived: a stream that ends inside a line is
// refused (truncated), so a client that timed out mid-write and spooled the
// message is never delivered twice.
//
// A reply is written after `emit` returns, so {"ok":true} means the event has
// entered the pipeline. The seq is not in the reply (the pipeline assigns it
// later).
//
// Ownership and threads: everything runs on the loop thread. The loop and
// clock must outlive the server. `emit` is called synchronously from loop
// callbacks; it must not destroy the server or call into it. Destroying the
// server stops it (as stop()); its uv handles close on the next loop iteration.
#pragma once

#include <sys/types.h>

#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>

#include <uv.h>

#include "src/core/clock.h"
#include "src/core/event.h"
#include "src/core/result.h"
#include "src/uvx/handle.h"
#include "src/uvx/line_connection.h"
#include "src/uvx/unix_listener.h"
#include "watchers/notify/notify_protocol.h"

namespace aw {

// <runtime_dir>/notify.sock
std::string notify_socket_path(const std::string& runtime_dir);

struct NotifyServerStats {
  std::size_t connections = 0;             // open now
  std::uint64_t connections_accepted = 0;  // served (not refused at accept)
  std::uint64_t messages = 0;              // lines that became events
  std::uint64_t refused = 0;               // notify.refused events emitted
  std::uint64_t evicted = 0;               // closed at the cap to admit a new connection
  // The most bytes any connection ever held while waiting for a '\n'. Never
  // above Options::max_line_bytes (tests check the bound).
  std::size_t line_buffer_high_water = 0;
};

class NotifyServer {
 public:
  struct Options {
    // Peers with another uid are refused. nullopt: the daemon's own euid.
    std::optional<uid_t> allowed_uid;
    std::size_t max_line_bytes = kNotifyMaxLineBytes;
    std::size_t max_connections = 64;
    // No complete line for this long after connecting or after the last line:
    // closed (see above for why 1 s).
    Duration idle_timeout = std::chrono::seconds(1);
    // At the cap, a connection idle (no complete line) for this long may be
    // closed to admit a new one: the client's whole budget, after which a hook
    // that has not completed its line has given up and spooled it.
    Duration evict_idle_after = std::chrono::milliseconds(200);
    std::size_t max_pending_reply_bytes = 64 * 1024;
    int backlog = 128;
    NotifyKindPolicy kinds;
  };

  NotifyServer(uv_loop_t* loop, const Clock& clock, std::function<void(Event)> emit,
               Options options);
  NotifyServer(uv_loop_t* loop, const Clock& clock, std::function<void(Event)> emit)
      : NotifyServer(loop, clock, std::move(emit), Options{}) {}
  ~NotifyServer();
  NotifyServer(const NotifyServer&) = delete;
  NotifyServer& operator=(const NotifyServer&) = delete;

  // Listens on <runtime_dir>/notify.sock, created 0600 (the runtime dir itself
  // is the daemon's, 0700). A socket file already there is removed only when
  // nobody is listening on it (a connect is refused); a live one, or a file
  // that is not a socket, is an error naming the path. Call once.
  Status start(const std::string& runtime_dir);
  // Closes the listener and every connection (no more events) and removes the
  // socket file if it is still the one we created, so clients spool at once.
  void stop();

  // Replaces the kind policy (e.g. when rules are reloaded); applies to the
  // next line read.
  void set_kind_policy(NotifyKindPolicy kinds) { options_.kinds = std::move(kinds); }

  const std::string& socket_path() const { return socket_path_; }
  NotifyServerStats stats() const;
  // True while the idle alarm is armed (tests: with no connection open, the
  // server causes no wake-ups).
  bool alarm_armed() const { return alarm_.active(); }

 private:
  struct Connection;
  struct Peer {
    std::int64_t uid = -1;
    std::int64_t pid = -1;
  };

  void on_connection(int status);
  // Best-effort error reply to a connection not served, which then closes.
  void refuse_at_accept(std::unique_ptr<Connection> conn, NotifyRefusal reason,
                        const std::string& detail);
  void handle_line(Connection& c, std::string_view line);
  void on_refusal(Connection& c, uvx::LineRefusal reason, std::size_t bytes);
  // Best-effort final reply without queueing, then close at once.
  void refuse_and_close(Connection& c, NotifyRefusal reason, const std::string& detail,
                        std::size_t bytes);
  void destroy(Connection& c);
  // At the cap: closes the connection idle longest, if any may go. True when
  // there is room now.
  bool evict_one();

  void emit_refused(const Peer& peer, NotifyRefusal reason, const std::string& detail,
                    std::size_t bytes);
  void arm_alarm();
  void on_alarm();

  const Clock& clock_;
  std::function<void(Event)> emit_;
  Options options_;
  uid_t allowed_uid_;
  std::string socket_path_;
  bool stopped_ = false;
  uvx::UnixListener listener_;
  std::uint64_t next_conn_id_ = 1;
  std::unordered_map<std::uint64_t, std::unique_ptr<Connection>> conns_;
  uvx::Timer alarm_;
  NotifyServerStats stats_;
};

}  // namespace aw
