// ProcessWatch: one process watched on the loop until it ends, whoever started it.
//
//   watch_child()  a process we spawn (src/os/child_process.h): its pidfd
//                  says when it ends; wait4 gives the status and the rusage.
//   adopt()        a process someone else started (a PID file, a notify
//                  message, a daemon restart): pidfd_open, then the identity
//                  check of process_identity.h (start time, exe), then the
//                  pidfd says when it ends — no polling. Its exit status comes
//                  from PIDFD_GET_INFO (Linux 6.15+) once its parent has reaped
//                  it; on older kernels, or when the parent does not reap it in
//                  time, the end is reported with status_known = false.
//
// The identity check is race-free: the pidfd is opened first and /proc read
// second; if the pidfd still says "running" afterwards, the /proc answers were
// about the process the pidfd holds (a PID is not reused while its process
// lives).
//
// Every verdict carries Evidence (which signal said what, when).
//
// Threading: loop thread only. Ownership: the caller owns the ProcessWatch
// (unique_ptr); it owns the pidfd (or the ChildProcess) and its handles.
// Lifetimes: loop, clock and Env must outlive it. `on_end` is called at most
// once, on the loop thread, from inside one of this object's handle callbacks,
// as the last thing that callback does: it may destroy the ProcessWatch (the
// uvx wrappers keep a running callback alive, src/uvx/handle.h, and neither
// this object nor its ChildProcess touches itself after delivering the end).
// Destroying an adopted watch just stops watching; destroying a child's watch
// before it ended kills and reaps the child (ChildProcess's rule).
#pragma once

#include <sys/types.h>
#include <uv.h>

#include <functional>
#include <memory>
#include <optional>
#include <string>

#include "src/core/clock.h"
#include "src/core/result.h"
#include "src/os/child_process.h"
#include "src/os/unique_fd.h"
#include "src/supervise/evidence.h"
#include "src/supervise/process_end.h"
#include "src/supervise/process_identity.h"
#include "src/uvx/handle.h"

namespace aw {

// ProcessEnd (how a watched process ended): process_end.h.

struct ProcessWatchOptions {
  // A non-child's status is published when its parent reaps it, which usually
  // follows its exit within microseconds; after this long without it, the end
  // is reported with status_known = false. Bounded retries after the end, not a
  // liveness poll.
  Duration exit_status_wait = std::chrono::milliseconds(100);
};

class ProcessWatch {
 public:
  using EndCallback = std::function<void(const ProcessEnd&)>;

  struct Adoption {
    // Set when the process is alive (or its liveness unknown but its pidfd
    // open): watching has begun. Null when it is absent or cannot be watched.
    std::unique_ptr<ProcessWatch> watch;
    LivenessVerdict verdict;
  };

  // Adopts `pid`. With `expected` (from the store, after a daemon restart), a
  // different start time or program means the PID was reused: kAbsent, no watch.
  // A /proc that cannot be read gives kUnknown with a watch (the pidfd is enough
  // to learn of the end; the identity is then partial).
  static Adoption adopt(uv_loop_t* loop, const Clock& clock, Env& env, pid_t pid,
                        const std::optional<ProcessIdentity>& expected, EndCallback on_end,
                        ProcessWatchOptions options = {});

  // Spawns `options` (ChildProcess::spawn) and watches it.
  static Result<std::unique_ptr<ProcessWatch>> watch_child(uv_loop_t* loop, const Clock& clock,
                                                           Env& env, SpawnOptions options,
                                                           EndCallback on_end);

  ~ProcessWatch();
  ProcessWatch(const ProcessWatch&) = delete;
  ProcessWatch& operator=(const ProcessWatch&) = delete;

  pid_t pid() const { return identity_.pid; }
  bool is_child() const { return child_ != nullptr; }
  bool ended() const { return ended_; }
  // As recorded when watching began (exe "" when unreadable).
  const ProcessIdentity& identity() const { return identity_; }

  // Liveness now. Ended → kAbsent (from the pidfd); otherwise /proc against the
  // recorded identity (kUnknown when /proc cannot answer).
  LivenessVerdict liveness() const;

  // Sends `sig` to the process and, when it leads its own process group, to the
  // group (a child always does). Returns 0 or -errno; -ESRCH once it ended.
  int signal(int sig);
  // Children: once a stop was asked, kill the rest of the group at exit.
  void kill_group_on_exit(bool on);
  // Stops watching and leaves the process running, unsignalled (a daemon that
  // stops without stopping its fleet): on_end is never called, and destroying
  // the watch afterwards touches nothing of the process.
  void release();

 private:
  ProcessWatch(uv_loop_t* loop, const Clock& clock, Env& env, EndCallback on_end,
               ProcessWatchOptions options);
  void on_pidfd_readable();
  void try_exit_info();
  void deliver(const ProcessEnd& end);

  uv_loop_t* loop_;
  const Clock& clock_;
  Env& env_;
  EndCallback on_end_;
  ProcessWatchOptions options_;
  ProcessIdentity identity_;
  MonoTime began_{};
  bool ended_ = false;
  MonoTime end_seen_{};
  EvidenceList end_evidence_;
  // Non-child.
  UniqueFd pidfd_;
  std::unique_ptr<uvx::Poll> pidfd_poll_;
  std::unique_ptr<uvx::Timer> info_timer_;
  int info_tries_ = 0;
  // Child.
  std::unique_ptr<ChildProcess> child_;
};

namespace detail {
// PIDFD_GET_INFO with PIDFD_INFO_EXIT on `pidfd`: 1 and the wait status in
// *status when the kernel has it; 0 when the process is not reaped yet (or the
// kernel gave no exit info); -errno on failure (-ENOTTY / -EINVAL: unsupported).
int pidfd_exit_status(int pidfd, int* status);
}  // namespace detail

}  // namespace aw
