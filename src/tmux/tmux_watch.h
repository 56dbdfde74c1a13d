// Keeps the daemon's picture of tmux true: on request, asks tmux for every pane
// (list-panes -a), diffs that against the last picture, emits the differences
// as events and hands the new picture to the owner.
//
// tmux hooks are HINTS, not facts: pane-exited names the wrong pane,
// session-closed the wrong session_name, pane-died gets coalesced. So a hook
// never says what happened; it only makes the daemon call reconcile(), and
// reconcile() finds out. Hints are coalesced: at most one query is in flight
// and at most one more is queued, however many hints arrive meanwhile (a burst
// of 50 hooks costs two queries). There is no periodic polling: idle means
// idle. The daemon calls reconcile("start") at start and reconcile(kind) on
// every `tmux.*` notify event.
//
// When tmux cannot be asked (not installed, timed out, unreadable output) or
// cannot reach its server (socket deleted by a /tmp cleaner, hidden by a
// private /tmp, refused, a frozen server) the picture is UNKNOWN, not empty:
// the old snapshot is kept, on_snapshot gets known = false, a
// tmux.reconcile.failed event says why, and the query is retried with backoff
// (first_retry, doubling, at most max_retries in a row; a hint resets nothing
// but runs at once). While the server is known to be alive (below) the retries
// go on at max_retry: an unknown picture of a live server must come back. When
// no server was ever seen and none can be reached, there is no retry: nothing
// would change until a server starts, and its hooks are the hint (a machine
// without tmux stays idle).
//
// Sessions are confirmed absent only by a server that answers (its listing
// lacks them) or by the server's own exit. Every listing names the answering
// server's PID; the watch holds a pidfd on it, so a server that crashes or is
// killed is noticed within milliseconds (a dead server runs no hooks). On that
// exit, the next listing, whatever tmux says, is "no sessions" (that server's
// sessions died with it), reported after tmux.server.exited; a listing the
// dead server answered before it died is stale and counts as empty too. Until
// some server answers again, "cannot reach a server" stays confirmed absence.
//
// Events (source "tmux"): those of diff_snapshots (pane_snapshot.h), each with
// an extra field `reason` (what asked for the query: "start", a notify kind,
// "retry", "tmux.server.exited"); the first successful query diffs against an
// unknown snapshot, so it reports tmux.session.seen rather than appeared. And:
//   tmux.reconcile.failed  reason, error, failures (in a row), unreachable
//                          (true: no server could be reached), server_pid (the
//                          live server we could not read, when known), retry_ms
//                          (when a retry is scheduled)
//   tmux.reconcile.recovered  reason, failures (how many failed in a row before):
//                          the picture is known again (before its diff's events)
//   tmux.server.exited     pid: the watched server ended (first of its batch)
//
// Threading: loop thread only. Lifetimes: `loop`, `clock` and `client` must
// outlive the watch. Callbacks run on the loop thread, never inside
// reconcile(); they may call reconcile() (it is queued) and may destroy the
// watch. Destroying it with a query in flight drops the answer.
#pragma once

#include <sys/types.h>
#include <uv.h>

#include <cstdint>
#include <functional>
#include <memory>
#include <string>

#include "src/core/clock.h"
#include "src/core/event.h"
#include "src/os/unique_fd.h"
#include "src/tmux/pane_snapshot.h"
#include "src/tmux/tmux_client.h"
#include "src/uvx/handle.h"

namespace aw {

struct TmuxWatchOptions {
  Duration first_retry = std::chrono::seconds(1);
  Duration max_retry = std::chrono::seconds(30);
  // In a row, then it waits for a hint (0: never retry on its own) — unless
  // the server is known alive: then it keeps asking every max_retry.
  int max_retries = 5;
};

// What the watch knows of the server, for `status` and `recover diagnose`.
struct TmuxServerView {
  bool known = false;          // the last query gave a picture (an answer or a confirmed exit)
  pid_t server_pid = 0;        // the server being watched (0: none named yet)
  bool server_exited = false;  // its exit was seen and no server answered since
  int failures = 0;            // queries failed in a row
  std::string error;           // the last failure ("" when known)
};

class TmuxWatch {
 public:
  using EmitFn = std::function<void(Event)>;
  // `snapshot` is the new picture (known) or the last known one (known = false;
  // TmuxSnapshot::unknown() if there never was one).
  using SnapshotFn = std::function<void(const TmuxSnapshot& snapshot, bool known)>;

  TmuxWatch(uv_loop_t* loop, const Clock& clock, TmuxClient& client, EmitFn emit,
            SnapshotFn on_snapshot, TmuxWatchOptions options = {});
  ~TmuxWatch();
  TmuxWatch(const TmuxWatch&) = delete;
  TmuxWatch& operator=(const TmuxWatch&) = delete;

  // Asks tmux now, or, if a query is in flight, once more after it (one
  // follow-up however many calls; it carries the first waiting reason).
  void reconcile(std::string reason);

  // The last known picture (TmuxSnapshot::unknown() before the first success).
  const TmuxSnapshot& snapshot() const { return last_; }
  bool in_flight() const { return in_flight_; }
  bool queued() const { return queued_; }
  // Queries started so far (for tests and status).
  std::uint64_t queries() const { return queries_; }
  TmuxServerView server_view() const;

 private:
  enum class Server { kUnnamed, kAlive, kExited };
  void start(std::string reason);
  void on_reply(const std::string& asked_for, Result<TmuxReply> reply);
  // A listing answered by `pid`: watch it (again) unless it is watched already.
  void watch_server(pid_t pid);
  // The watched server's pidfd became readable (or it was gone at pidfd_open).
  void on_server_exit();
  void stop_watching_server();

  const Clock& clock_;
  TmuxClient& client_;
  EmitFn emit_;
  SnapshotFn on_snapshot_;
  TmuxWatchOptions options_;
  TmuxSnapshot last_ = TmuxSnapshot::unknown();
  bool in_flight_ = false;
  bool queued_ = false;
  std::string queued_reason_;
  int failures_ = 0;  // in a row
  std::string last_error_;
  std::uint64_t queries_ = 0;
  Server server_ = Server::kUnnamed;
  pid_t server_pid_ = 0;
  bool exit_unreported_ = false;  // tmux.server.exited waits for the next reply
  // The pidfd of server_pid_ and its poll (destroyed first: libuv must stop
  // polling an fd before it is closed). Stopped, never destroyed, inside its
  // own callback.
  UniqueFd server_fd_;
  std::unique_ptr<uvx::Poll> server_poll_;
  uv_loop_t* loop_;
  uvx::Timer retry_;
  std::shared_ptr<char> alive_ = std::make_shared<char>();
};

}  // namespace aw
