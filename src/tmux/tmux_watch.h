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
// When tmux cannot be asked (not installed, timed out, unreadable output) the
// picture is UNKNOWN, not empty: the old snapshot is kept, on_snapshot gets
// known = false, a tmux.reconcile.failed event says why, and the query is
// retried a few times with backoff (first_retry, doubling, at most max_retries
// in a row; a hint resets nothing but runs at once). A tmux that says "no
// server running" is a known answer: no sessions.
//
// Events (source "tmux"): those of diff_snapshots (pane_snapshot.h), each with
// an extra field `reason` (what asked for the query: "start", a notify kind,
// "retry"); the first successful query diffs against an unknown snapshot, so
// it reports tmux.session.seen rather than appeared. And:
//   tmux.reconcile.failed  reason, error, failures (in a row), retry_ms (when a
//                          retry is scheduled)
//
// Threading: loop thread only. Lifetimes: `loop`, `clock` and `client` must
// outlive the watch. Callbacks run on the loop thread, never inside
// reconcile(); they may call reconcile() (it is queued) and may destroy the
// watch. Destroying it with a query in flight drops the answer.
#pragma once

#include <uv.h>

#include <cstdint>
#include <functional>
#include <memory>
#include <string>

#include "src/core/clock.h"
#include "src/core/event.h"
#include "src/tmux/pane_snapshot.h"
#include "src/tmux/tmux_client.h"
#include "src/uvx/handle.h"

namespace aw {

struct TmuxWatchOptions {
  Duration first_retry = std::chrono::seconds(1);
  Duration max_retry = std::chrono::seconds(30);
  int max_retries = 5;  // 0: never retry on its own
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

 private:
  void start(std::string reason);
  void on_reply(const std::string& reason, Result<TmuxReply> reply);

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
  std::uint64_t queries_ = 0;
  uvx::Timer retry_;
  std::shared_ptr<char> alive_ = std::make_shared<char>();
};

}  // namespace aw
