// NotifySpoolWatch: takes the notify spool in while the daemon runs, not only
// at its start (issue #8). A hook spools its message when it cannot hand it to
// the daemon in time: the daemon is down, or at its connection limit, or
// stalled. In the last two cases the daemon is running, and the message must
// not wait for the next restart: it reaches the pipeline within milliseconds
// of being spooled.
//
// How:
//   - inotify on the runtime dir (an InotifySource, as every watcher here:
//     uv_fs_event_t would do for "something changed" but drops
//     IN_CLOSE_WRITE), for IN_CLOSE_WRITE and IN_MOVED_TO of "notify.spool":
//     an appender's close() (its line is whole and its lock released) or a
//     spool moved into place. Anything else in the dir (sockets, the status
//     file, our own .ingesting / .delivered) is ignored, so ingesting never
//     wakes the watch itself. A queue overflow counts as a change.
//   - level at start, edge after: start() adds the watch, then takes in what
//     is there already; a spool written between the two is seen by one or the
//     other (both, at worst: the second finds nothing).
//   - the blocking steps of NotifySpoolIngestion (rename, a bounded flock
//     wait, reads of 64 KiB, unlink) run on the thread pool, one job at a time;
//     each job's chunk is decoded and emitted on the loop thread when it comes
//     back, so a spool of any size never blocks the loop, and no more than one
//     chunk is in memory. A change seen while a job runs is remembered and
//     causes one more pass when the chain of jobs ends, so an append racing
//     the end of an ingestion is never stranded.
//   - exactly once across crashes, restarts and concurrent appenders: the
//     protocol of notify_spool.h. A stop() or destruction mid-file leaves
//     .ingesting and .delivered behind, and the next start resumes them.
//   - an error (a spool that is not our regular file, a lock held for ever by
//     a stuck process) is reported through `on_round` and retried after
//     Options::retry_after, or at the next change, whichever comes first.
//
// Ownership and threads: everything but the pool jobs runs on the loop
// thread; the jobs touch only the NotifySpoolIngestion they own a share of.
// The loop and clock must outlive the watch. `emit` and `on_round` are called
// from loop callbacks; they must not destroy the watch (stop() is fine).
// Destroying the watch stops it (as stop()); a job still on the pool finishes
// there and its result is dropped (its uv handles close on the next loop
// iteration; the loop's uv_run waits for the job).
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <span>
#include <string>

#include <uv.h>

#include "src/core/clock.h"
#include "src/core/event.h"
#include "src/core/result.h"
#include "src/os/unique_fd.h"
#include "src/uvx/handle.h"
#include "watchers/inotify_source.h"
#include "watchers/notify/notify_protocol.h"
#include "watchers/notify/notify_spool.h"

namespace aw {

class NotifySpoolWatch {
 public:
  struct Options {
    NotifyKindPolicy kinds;
    std::size_t max_line_bytes = kNotifyMaxLineBytes;
    // How long a job waits for an appender that is mid-write (microseconds,
    // normally) before giving up until the retry.
    Duration lock_timeout = std::chrono::seconds(2);
    // After a failed pass: the next try, if no change comes first.
    Duration retry_after = std::chrono::seconds(5);
  };

  // `emit`: each spooled message (or its notify.refused) as an Event, in spool
  // order. `on_round` (may be empty): after each spool file taken in, its
  // stats; after each failed pass, the error.
  NotifySpoolWatch(uv_loop_t* loop, const Clock& clock, std::function<void(Event)> emit,
                   std::function<void(const Result<NotifySpoolStats>&)> on_round, Options options);
  NotifySpoolWatch(uv_loop_t* loop, const Clock& clock, std::function<void(Event)> emit,
                   std::function<void(const Result<NotifySpoolStats>&)> on_round)
      : NotifySpoolWatch(loop, clock, std::move(emit), std::move(on_round), Options{}) {}
  ~NotifySpoolWatch();
  NotifySpoolWatch(const NotifySpoolWatch&) = delete;
  NotifySpoolWatch& operator=(const NotifySpoolWatch&) = delete;

  // Watches <runtime_dir> (which must exist: the daemon made it) and starts
  // taking in what is already spooled. An error (inotify limits, a missing
  // dir) names the dir and means there is no watch: what is spooled already
  // is still taken in, what comes later waits for the next start. Call once.
  Status start(const std::string& runtime_dir);
  // No more jobs, emits or callbacks. Idempotent.
  void stop();

  // Replaces the kind policy; applies to the next chunk decoded.
  void set_kind_policy(NotifyKindPolicy kinds) { options_.kinds = std::move(kinds); }

  // Totals since start().
  const NotifySpoolStats& stats() const { return totals_; }
  // Passes that ended (found nothing, or took files in, or failed).
  std::uint64_t passes() const { return passes_; }
  // True when no job is queued or running and no pass is owed (tests).
  bool idle() const { return !busy_ && !again_; }

 private:
  struct Job;

  Status watch_dir();
  void on_records(std::span<const InotifyRecord> records);
  // Something may have been spooled: start a pass, or owe one.
  void kick();
  void queue(bool finish_first);
  void on_job_done(Job& job);
  void end_pass();
  // Ends the pass in progress with `error` and arms the retry.
  void fail(const Error& error);
  // Tells on_round_ about an error that does not end a pass (the watch's own).
  void report(const Error& error);

  uv_loop_t* loop_;
  const Clock& clock_;
  std::function<void(Event)> emit_;
  std::function<void(const Result<NotifySpoolStats>&)> on_round_;
  Options options_;
  std::string runtime_dir_;
  bool started_ = false;
  bool stopped_ = false;

  std::unique_ptr<InotifySource> inotify_;  // the one inotify read loop (watchers/)
  bool spool_changed_ = false;              // seen in this turn's records: kick() once
  uvx::Timer retry_;

  // The pass in progress: null between passes. Shared with the job on the pool.
  std::shared_ptr<NotifySpoolIngestion> ingestion_;
  // A pass is in progress: a job is on the pool, or its chunk is being
  // emitted. Cleared only with no job on the pool, so jobs never overlap.
  bool busy_ = false;
  bool again_ = false;  // a change came during the pass: one more when it ends
  std::uint64_t passes_ = 0;
  NotifySpoolStats totals_;
  // A job that outlives the watch drops its result.
  uvx::WorkOwner work_owner_;
};

}  // namespace aw
