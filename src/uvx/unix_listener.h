// UnixListener: a libuv listener on a filesystem unix stream socket that only
// this user may connect to. The daemon's notify and control servers each own
// one; everything about the socket *file* (a stale one left by a crash, a live
// one that belongs to another daemon, its mode, removing it at the end) lives
// here, and what a connection means stays with the server.
//
// listen(path):
//   - a socket file already at `path` is removed only when nobody answers on
//     it (a connect is refused: its daemon died); a live one is not stolen
//     ("another process is listening on <path> (is another agentwatch
//     running?)"), and anything that is not a socket is left alone and is an
//     error naming the path;
//   - the socket is made 0600 before bind(): Linux gives the new file the
//     socket inode's mode, so there is no window in which others could
//     connect, and no process-wide umask change (the thread pool creates files
//     too);
//   - the file's device and inode are remembered, so that close() removes the
//     file only while it is still ours: a newer daemon may have replaced it.
// The directory's own safety (ours, 0700) is the caller's business.
//
// Error messages name the socket after `name` ("notify" gives "notify socket:
// ...", "cannot set mode 0600 on the notify socket: ...", "expected the notify
// socket or nothing; remove it").
//
// Ownership and threads: loop thread only. The loop must outlive the listener.
// `on_connection` is called from the loop for each pending connection until
// close(); it may call accept() and close(), but must not destroy the
// listener. Destroying the listener closes it (as close()); its uv handle
// closes on the next loop iteration.
#pragma once

#include <sys/socket.h>
#include <sys/types.h>
#include <sys/un.h>

#include <cstddef>
#include <cstdint>
#include <functional>
#include <optional>
#include <span>
#include <string>

#include <uv.h>

#include "src/core/clock.h"
#include "src/core/result.h"
#include "src/uvx/handle.h"

namespace aw::uvx {

struct UnixAddress {
  sockaddr_un addr{};
  socklen_t len = 0;
  const sockaddr* get() const { return reinterpret_cast<const sockaddr*>(&addr); }
};

// A filesystem (not abstract) unix address; an error names the path when it
// does not fit sun_path (108 bytes on Linux).
Result<UnixAddress> make_unix_address(const std::string& path);

// What a connect() to a unix socket path says, in words an operator can act
// on: a process listens there (also when its backlog is full), nothing is
// there, a socket file nobody listens on (left by a process that died), or
// the path may not be used. One non-blocking connect: it never waits.
enum class SocketProbe { kListening, kMissing, kRefused, kDenied, kOther };
struct SocketProbeResult {
  SocketProbe state = SocketProbe::kOther;
  int error = 0;       // errno of the failure (0 when listening)
  std::string detail;  // its text, or why the path is no socket address
};
SocketProbeResult probe_unix_socket(const std::string& path);

// Who is at the other end of a connected unix socket (SO_PEERCRED): nullopt
// when the kernel does not say.
std::optional<ucred> peer_credentials(const Handle<uv_pipe_t>& pipe);

// Bytes the kernel holds for us on a connected socket that the loop has not
// read yet (FIONREAD; 0 when it cannot tell). A connection with some is not
// idle: the loop has not got to it, e.g. after a stall, when timers run before
// the reads of the same iteration. A server must not time out or evict it.
std::size_t unread_bytes(const Handle<uv_pipe_t>& pipe);

// The connection cap both servers (notify, control) share, and what happens
// at it. Each serves clients that connect, send one line at once and leave
// within milliseconds (a tmux hook, a CLI call); a cap held by clients that
// connected and then sent nothing must not lock those out for a whole idle
// timeout. So a server at its cap does not refuse the newcomer outright: it
// closes the connection idle longest to admit it, if that one has been idle
// for at least `min_idle`. Below that age a connection is presumably a client
// about to send (evicting it would trade one refusal for another, and churn
// under a genuine burst), so when every connection is younger, or busy, the
// newcomer is refused as before (a hook then spools its message, which the
// daemon takes in at once: notify_spool_watch.h).
//
// Pure: the server says which connections may go (owing nothing, no unread
// bytes) and since when each has been idle.
struct IdleConnection {
  std::uint64_t id = 0;
  MonoTime idle_since{};  // accept, or the last complete request (or reply)
};
// The candidate idle longest, if idle for at least `min_idle` at `now`; ties
// go to the first. nullopt: refuse the newcomer.
std::optional<std::uint64_t> pick_connection_to_evict(std::span<const IdleConnection> candidates,
                                                      MonoTime now, Duration min_idle);

class UnixListener {
 public:
  // `on_connection(status)` is libuv's connection callback: status < 0 is an
  // error, else one connection waits for accept(). It should catch its own
  // exceptions; one that escapes is printed to stderr and dropped.
  UnixListener(uv_loop_t* loop, std::string name, std::function<void(int status)> on_connection);
  ~UnixListener();
  UnixListener(const UnixListener&) = delete;
  UnixListener& operator=(const UnixListener&) = delete;

  // Listens on `path` with a `backlog` of pending connections. On failure
  // nothing is left listening and no socket file of ours is left behind; it
  // may be called again then. While listening() it is an error.
  Status listen(const std::string& path, int backlog);

  // Initialises `client` on the listener's loop (its `data` = `data`) and
  // accepts one pending connection into it. Returns 0, or a negative errno
  // when nothing was accepted (a `client` already initialised closes when it
  // is destroyed, as any Handle).
  int accept(Handle<uv_pipe_t>& client, void* data);

  // Stops listening and removes the socket file if it is still the one
  // listen() created. Idempotent.
  void close();

  bool listening() const { return handle_ && handle_->live(); }
  // The path given to the last listen() (empty before).
  const std::string& path() const { return path_; }

 private:
  uv_loop_t* loop_;
  std::string name_;
  std::function<void(int)> on_connection_;
  std::string path_;
  dev_t dev_ = 0;
  ino_t ino_ = 0;
  // A fresh handle per listen(): a closed Handle cannot be initialised again.
  std::optional<Handle<uv_pipe_t>> handle_;
};

}  // namespace aw::uvx
