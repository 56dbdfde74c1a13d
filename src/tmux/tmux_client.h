// Talks to a tmux server by running the tmux client as a child process, one
// per command, asynchronously on the loop (the loop never waits for tmux).
//
// Each command is an argv (never a shell): the server command (e.g. {"tmux",
// "-L", "x"}) followed by the command's own arguments. Several commands may be
// in flight at once; each is bounded by a timeout (SIGKILL to the client's
// process group; a tmux server the client started has its own session and is
// not touched) and by an output limit.
//
// What a reply means is the caller's business, with one rule for queries: a
// client that could not reach a server (TmuxReply::unreachable()) knows
// NOTHING about sessions. "no server running" and "error connecting … (No such
// file or directory)" are what tmux says when its socket is missing or refuses
// connections, and a /tmp cleaner that deletes the socket, a private /tmp
// (systemd's PrivateTmp) or a stale socket file left by another server all say
// the same while the real server and its sessions live on. Only the server's
// own exit proves its sessions gone (TmuxWatch watches its PID for that). A
// tmux that cannot be run, times out, dies by a signal or floods its output is
// an Error. Either way the caller must treat what it asked about as UNKNOWN,
// never as absent.
//
// Threading: loop thread only. Lifetimes: `loop` and `clock` must outlive the
// client. Callbacks are called on the loop thread, never from inside run(),
// always from the client's own timer; a callback may call run() again, and may
// destroy the client (the remaining callbacks of that turn are then dropped).
// Destroying the client with commands in flight kills each tmux client
// (SIGKILL to its process group, reaped at once) and drops their callbacks.
#pragma once

#include <uv.h>

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "src/core/clock.h"
#include "src/core/result.h"
#include "src/uvx/handle.h"

namespace aw {

// How to reach one tmux server: the argv prefix of every command. Tests use
// {"tmux", "-L", "<private name>", "-f", "/dev/null"}; the daemon's config gives
// e.g. {"tmux", "-L", "x"} or {"tmux", "-S", "/path/to/socket"}.
struct TmuxServer {
  std::vector<std::string> command = {"tmux"};
};

struct TmuxClientOptions {
  Duration timeout = std::chrono::seconds(2);  // per command, from spawn to exit
  std::size_t max_output = 1 << 20;            // stdout + stderr bytes, then it is killed
};

// A tmux client that ran to completion (it exited; whatever its exit code).
struct TmuxReply {
  int exit_code = 0;
  std::string out;  // stdout, whole
  std::string err;  // stderr, whole

  bool ok() const { return exit_code == 0; }
  // The client reached no server (socket missing, refused, not permitted, or
  // the server exiting under it). This is not "no sessions": see above.
  bool unreachable() const;
  // stderr without its trailing newline, for messages.
  std::string error_text() const;
};

// True for tmux 3.x's words for "could not reach the server": "no server
// running on PATH" (connect refused), "error connecting to PATH (REASON)" (any
// errno: missing socket, permission denied, ...), "server exited
// unexpectedly" (it went away between connect and reply) and "... has unsafe
// permissions" (tmux refused the socket directory). tmux prints these with
// LC_MESSAGES left at "C", so the English text is reliable.
bool is_unreachable_message(std::string_view stderr_text);

// `what` (e.g. "tmux kill-session") and the reply as a Status: ok for exit 0;
// otherwise an error naming `what` and tmux's own message or the failure.
Status reply_status(const Result<TmuxReply>& reply, std::string_view what);

// `s` with every '#' doubled, so that tmux's format expansion gives back `s`.
// Needed wherever tmux expands formats in an argument: new-session's -s and
// -c, load-buffer's path, run-shell's command. There "#(cmd)" would RUN cmd
// through the shell (tmux 3.3a, checked by the tests) and "#{...}" be replaced.
// Targets (-t), send-keys keys, -e values and a command's argv are literal.
std::string escape_tmux_format(std::string_view s);

class TmuxClient {
 public:
  using Callback = std::function<void(Result<TmuxReply>)>;

  TmuxClient(uv_loop_t* loop, const Clock& clock, TmuxServer server,
             TmuxClientOptions options = {});
  ~TmuxClient();
  TmuxClient(const TmuxClient&) = delete;
  TmuxClient& operator=(const TmuxClient&) = delete;

  // Runs server.command + args. `on_done` is called exactly once (unless the
  // client is destroyed first) with the reply, or with an Error when tmux could
  // not be spawned (Error::code = -errno), timed out (-ETIMEDOUT), died by a
  // signal (-EINTR) or wrote more than max_output (-EMSGSIZE). Error messages
  // start with "tmux <first arg>".
  void run(std::vector<std::string> args, Callback on_done);

  // Commands started and not yet reported.
  std::size_t in_flight() const { return running_.size(); }
  const TmuxServer& server() const { return server_; }

 private:
  struct Command;
  void on_child_exit(std::uint64_t id, int exit_code, int term_signal);
  void on_timeout(std::uint64_t id);
  void finish(std::uint64_t id, Result<TmuxReply> result);

  uv_loop_t* loop_;
  const Clock& clock_;
  TmuxServer server_;
  TmuxClientOptions options_;
  std::uint64_t next_id_ = 1;
  std::map<std::uint64_t, std::unique_ptr<Command>> running_;
};

}  // namespace aw
