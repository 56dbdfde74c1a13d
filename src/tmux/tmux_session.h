// The `tmux` action's operations: open a session running an agent and hand it a
// brief, type a brief or keys into a session, kill a session. Asynchronous, on the loop;
// every tmux call goes through TmuxClient (an argv, never a shell).
//
// open_session, step by step:
//   1. validate the request (session name, env keys) — on the thread pool with
//      step 2, so the callback is never called from inside open_session;
//   2. check that cwd is a directory and write the brief to a temporary file
//      (mode 0600, in TmuxSessionOptions::temp_dir) on the thread pool;
//   3. `new-session -d -s NAME [-c CWD] [-e K=V]... [-- ARGV...]`: refused with
//      a clear error when the session exists (tmux's own check: no race);
//   4. wait until ready: `list-panes` (is the command still alive?) and
//      `capture-pane -p -J` (is `wait_for` on the screen?) after 10, 20, 40 ms
//      … (capped at max_poll), until ready_timeout. An empty `wait_for` is ready
//      as soon as the pane exists and its command has not exited — it may still
//      be starting (tmux forks it before new-session returns); what is typed
//      meanwhile waits in the terminal. A TUI agent that switches the terminal
//      to raw mode should get a `wait_for` prompt instead;
//   5. the brief through a tmux buffer: `load-buffer -b aw-<pid>-<n> FILE ;
//      paste-buffer -d -p -b … -t =NAME:` (bracketed paste when the program
//      asked for it; newlines arrive as Enter presses otherwise), then the file
//      is deleted (thread pool);
//   6. `send-keys Enter` when `submit` and the brief is not empty;
//   7. `send-keys KEYS...` when `keys` is not empty.
// Any failure stops the sequence and reports an Error naming the session; the
// temporary file is deleted on every path. A session created before a later
// step failed is left running (nothing is ever killed by surprise: a rule may
// kill it).
//
// A one-element argv is run as a program, not as shell text: tmux would give a
// single argument to `default-shell -c`, so it is wrapped as {"/bin/sh", "-c",
// "exec \"$0\"", PROGRAM}, which runs PROGRAM without interpreting it.
//
// Sessions are always targeted as "=NAME" (exact match: tmux otherwise
// accepts a prefix or a pattern, and "-t w1" could hit "w10").
//
// Threading: loop thread only. Lifetimes: `loop`, `clock` and `client` must
// outlive this object. Callbacks are called exactly once on the loop thread,
// never from inside the call that started the operation; they may start other
// operations or destroy this object. Destroying it with operations in flight
// drops their callbacks (tmux commands already running finish on their own)
// and deletes their temporary files.
#pragma once

#include <uv.h>

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "src/core/clock.h"
#include "src/core/result.h"
#include "src/tmux/tmux_client.h"
#include "src/uvx/handle.h"

namespace aw {

struct OpenSession {
  std::string session;            // name; see check_session_name
  std::string cwd;                // "" = tmux's default (the server's cwd)
  std::vector<std::string> argv;  // command in the session; empty = the default shell
  std::vector<std::pair<std::string, std::string>> env;  // new-session -e K=V
  std::string brief;              // pasted once ready; may be multi-line; "" = none
  bool submit = true;             // press Enter after a non-empty brief
  std::vector<std::string> keys;  // send-keys arguments after the brief ("C-c", "Enter", text)
  std::string wait_for;           // text that must be on the screen before the brief
  Duration ready_timeout = std::chrono::seconds(10);
};

// Typing into an existing session: the brief (pasted as in open_session),
// Enter when `submit` and the brief is not empty, then `keys`. At least one of
// brief and keys.
struct SendToSession {
  std::string session;
  std::string brief;
  bool submit = true;
  std::vector<std::string> keys;
};

struct TmuxSessionOptions {
  std::string temp_dir;  // for brief files; "" = $TMPDIR, or /tmp
  Duration first_poll = std::chrono::milliseconds(10);
  Duration max_poll = std::chrono::milliseconds(500);
};

// A name tmux keeps as given and "=NAME" targets exactly: not empty, no ':' or
// '.' (tmux would silently turn them into '_'), no control characters or '\'
// (tmux would escape them), valid UTF-8, not starting with '$' (read as a
// session id).
Status check_session_name(std::string_view name);

// The new-session argv (after the server command) for `request`. Pure.
std::vector<std::string> new_session_args(const OpenSession& request);

class TmuxSessionControl {
 public:
  using Callback = std::function<void(Status)>;

  TmuxSessionControl(uv_loop_t* loop, const Clock& clock, TmuxClient& client,
                     TmuxSessionOptions options = {});
  ~TmuxSessionControl();
  TmuxSessionControl(const TmuxSessionControl&) = delete;
  TmuxSessionControl& operator=(const TmuxSessionControl&) = delete;

  void open_session(OpenSession request, Callback on_done);
  // Steps 2 and 5-7 of open_session on an existing session. A missing session
  // is the error "no such tmux session: NAME"; nothing to send is an error too.
  void send(SendToSession request, Callback on_done);
  // send() with keys only: `send-keys -t =SESSION: KEYS...`.
  void send_keys(std::string session, std::vector<std::string> keys, Callback on_done);
  // `kill-session -t =SESSION`. A missing session is "no such tmux session: NAME".
  void kill_session(std::string session, Callback on_done);

  std::size_t in_flight() const { return ops_.size(); }

 private:
  struct Op;
  std::uint64_t add(Callback on_done);
  Op* find(std::uint64_t id);
  // Runs a tmux command for op `id`; `next` gets the reply only while both this
  // object and the op are alive.
  void run(std::uint64_t id, std::vector<std::string> args,
           std::function<void(Op&, Result<TmuxReply>)> next);
  // Validation errors, the cwd check and the brief file, on the thread pool.
  void start_prepare(Op& op);
  void after_prepare(std::uint64_t id, const std::string& error, std::string file);
  // A step's reply as a Status naming the session (a missing session: "no
  // such tmux session" for send, "vanished" for open).
  Status step_status(const Op& op, const Result<TmuxReply>& r, std::string_view what) const;
  void create(Op& op);
  void poll_ready(Op& op);
  void on_ready_reply(Op& op, Result<TmuxReply> reply);
  void paste(Op& op);
  void remove_brief_then(Op& op, const std::function<void(Op&)>& next);
  void submit(Op& op);
  void send_final_keys(Op& op);
  // Ends op `id`: deletes its brief file (if still there) then calls back.
  void finish(std::uint64_t id, Status status);
  void run_simple(std::string session, std::vector<std::string> args, std::string what,
                  Callback on_done);

  uv_loop_t* loop_;
  const Clock& clock_;
  TmuxClient& client_;
  TmuxSessionOptions options_;
  std::uint64_t next_id_ = 1;
  std::uint64_t next_buffer_ = 1;
  std::map<std::uint64_t, std::unique_ptr<Op>> ops_;
  // tmux replies that come after we are gone are ignored (TmuxClient::run).
  std::shared_ptr<char> alive_ = std::make_shared<char>();
  uvx::WorkOwner work_owner_;  // pool completions (brief files) likewise
};

}  // namespace aw
