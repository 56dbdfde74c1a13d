// Carries out ActionRequests (src/plan/plan.h) on the loop, asynchronously, and
// reports exactly one ActionOutcome per request.
//
//   run         a child process (child_process.h), judged by run_outcome.h
//   move        file_move.h, on the thread pool
//   quarantine  file_move.h with a reason file, on the thread pool
//   repair_json json_repair_file.h, on the thread pool
//   complete_session  result_session.h, on the thread pool
//   fail_session      result_session.h, on the thread pool
//   integrate_session result_session.h's claim on the pool, then the command as
//                     a run (retried as the action says), then the marker and
//                     the move on the pool
//   ensure_file       ensure_file.h, on the thread pool
//   retain            retention.h, on the thread pool
//   mark        marker_file.h on the thread pool (or nothing, without a marker)
//   emit        refused (validation): derived events are the pipeline's job
//
// Each request is one of plan.h's typed bodies; the others (kill, restart,
// tmux, rotate, probe, check_disk) belong to the daemon and are refused as
// "validation".
//
// Retries: a failed attempt is retried up to request.retry.retries times, each
// after backoff_delay() (jittered from a seedable RNG) on a timer; never after a
// "validation" failure (it cannot fix itself) nor once shutdown began.
//
// Threading: loop thread only. Lifetimes: `loop` and `clock` must outlive the
// executor. Callbacks are called on the loop thread; on_done is never called
// from inside start() or interrupt_all() (an immediate result is delivered on
// the next loop iteration), so a caller may record the Id first; a callback may
// call start() again. Callbacks run inside the executor's own handle callbacks:
// do not destroy the executor from inside one (uvx rule). Destroying it with
// requests in flight kills their children (SIGKILL to the group, reaped) and
// drops their outcomes: on_done is not called for them.
#pragma once

#include <uv.h>

#include <sys/types.h>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <random>
#include <vector>

#include "src/actions/action_outcome.h"
#include "src/actions/run_outcome.h"
#include "src/core/clock.h"
#include "src/core/event.h"
#include "src/os/child_process.h"
#include "src/plan/plan.h"
#include "src/uvx/handle.h"

namespace aw {

// One attempt of one request is starting.
struct AttemptInfo {
  std::uint64_t id = 0;  // the request's Id, as start() returned it
  int attempt = 1;       // 1-based
  pid_t pid = 0;         // run: the child's pid (0 when the spawn failed); others: 0
};

class ActionExecutor {
 public:
  using Id = std::uint64_t;
  using AttemptCallback = std::function<void(const AttemptInfo&)>;
  using DoneCallback = std::function<void(ActionOutcome)>;

  static constexpr Duration kDefaultRunTimeout = std::chrono::minutes(10);

  // `jitter_seed` seeds the RNG that spreads retry delays (fixed in tests).
  ActionExecutor(uv_loop_t* loop, const Clock& clock, std::uint64_t jitter_seed);
  ~ActionExecutor();
  ActionExecutor(const ActionExecutor&) = delete;
  ActionExecutor& operator=(const ActionExecutor&) = delete;

  // Starts `request` now: a run's first spawn happens before start() returns;
  // a file action is queued on the pool. `cause` is the event that led to it
  // (its seq and the rule go into reason and marker files). `on_attempt` (may be
  // empty) is called as each attempt starts, the first one possibly before
  // start() returns. `on_done` is called exactly once (see above for the one
  // exception). After interrupt_all(), start() completes at once with
  // "interrupted".
  Id start(const ActionRequest& request, const Event& cause, AttemptCallback on_attempt,
           DoneCallback on_done);

  // Requests started and not yet reported.
  std::size_t in_flight() const { return jobs_.size(); }

  // Shutdown. Every running child's group gets SIGTERM now and SIGKILL after
  // `grace` (a child still running then); each completes as "interrupted" when
  // it exits. Requests waiting to retry complete as "interrupted" at once (on the
  // next loop iteration). A file action already on the thread pool cannot be
  // stopped half way (it is short): it completes with its real outcome but is
  // not retried. Keep running the loop until in_flight() is 0.
  void interrupt_all(Duration grace);

  // The run timeout used when a request says 0 (tests shorten it).
  void set_default_run_timeout(Duration d) { default_run_timeout_ = d; }

 private:
  struct Job;
  enum class Phase { kStarting, kRunning, kOnPool, kWaitingRetry, kFinishing };

  void begin_attempt(Job& job);
  void begin_run(Job& job);
  void begin_file_action(Job& job);
  void begin_integration(Job& job);
  void finish_integration_on_pool(Job& job);
  // Runs `work` on the thread pool, then `then(job)` on the loop, unless the
  // job or the executor is gone by then.
  void on_pool(Job& job, std::function<void()> work, std::function<void(Job&)> then);
  void on_stop_timer(Job& job);
  void on_wait_timer(Job& job);
  // An attempt ended: retry it, or finish the request.
  void attempt_ended(Job& job, ActionOutcome outcome);
  // Reports and forgets the request; deferred when inside start()/interrupt_all().
  void finish(Job& job, ActionOutcome outcome);
  void finish_now(Job& job);
  uvx::Timer& wait_timer(Job& job);

  uv_loop_t* loop_;
  const Clock& clock_;
  std::mt19937_64 rng_;
  Duration default_run_timeout_ = kDefaultRunTimeout;
  Id next_id_ = 1;
  bool stopping_ = false;
  int inside_call_ = 0;  // > 0 while in start() or interrupt_all()
  // A finished job is destroyed at once, possibly inside one of its own handle
  // callbacks: uvx wrappers and ChildProcess allow that (src/uvx/handle.h).
  std::map<Id, std::unique_ptr<Job>> jobs_;
  // Thread-pool completions hold a weak_ptr: a completion arriving after the
  // executor died is dropped.
  std::shared_ptr<char> alive_ = std::make_shared<char>();
};

}  // namespace aw
