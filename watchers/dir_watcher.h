// DirWatcher: inotify on watch roots, translated into Events (DESIGN §2).
//
// It only translates: kernel signals and scan results become Events handed to
// `emit`; it never decides what happens to a file. See docs/watching.md for the
// user's view (event kinds and fields, overflow, degraded mode, symlinks).
//
// How it is split (issue #9, "watchers only translate"; watchman's backend
// versus crawler): this class is the shell that wires
//   - InotifySource (inotify_source.h): the fd, its uvx::Poll, read + decode;
//   - WatchTree (watch_tree.h, pure): wd <-> directory bookkeeping per root;
//   - MovePairer (move_pairer.h, pure): IN_MOVED_FROM/TO cookie pairing and
//     its deadline;
//   - SettleQueue (settle_queue.h, pure): scanned files held until quiet;
//   - DirCrawl (dir_crawl.h): the directory crawl of start-up and rescans.
// The pure parts take `now` and return deadlines; the shell does the system
// calls, emits the events and arms the one alarm.
//
// How it reads the kernel: raw inotify read through a uvx::Poll, decoded by
// InotifyDecoder (libuv's uv_fs_event_t drops IN_CLOSE_WRITE, rename cookies
// and IN_Q_OVERFLOW). Each root has its own inotify fd: watch descriptors are
// per fd, so nested or overlapping roots and the parent-directory watch of a
// missing root never share a wd, and a queue overflow (which is per fd) costs a
// rescan of the root that overflowed only.
//
// Level-triggered at start, edge-triggered after: start() scans every root and
// lands what is there (via=scan); an overflow rescans; claims in the FileIndex
// make every file version land exactly once whichever of the queue and a scan
// reports it first.
//
// Settling (Options::scan_settle, like watchman's settle): a scan cannot tell
// a finished file from one whose writer is still writing, so a regular file it
// finds with a recent mtime is held, not landed. It lands via=scan once it has
// been quiet for the settle period (same size, mtime and inode), unless the
// queue reports it first (its close_write or rename lands it and ends the
// hold, since the watch on its directory now exists). A held file that is gone
// at the re-check is dropped silently: its removal has its own event. Old
// files land at once, so a start scan of a quiet tree is not delayed.
//
// Scans run on the loop thread in bounded slices (`Options::slice_entries`
// directory entries per loop iteration, resumed by an idle handle); why not on
// the thread pool is in dir_crawl.h. The pool's few threads stay free for the
// actions that really block (copies, fsync, gzip).
//
// Per-record cost (a storm is hundreds of thousands of records): the source
// reads the kernel queue out before records are handled, so a storm queues in
// our backlog instead of overflowing the kernel's (inotify_source.h). The
// root's directory (and the last subdirectory a record needed) is opened once
// per slice of records the source hands over, not per record, and closed at the
// end of the slice (held while idle it would delay IN_DELETE_SELF). A file's
// IN_CREATE needs no symlink check when the same slice shows its IN_CLOSE_WRITE
// next: only a regular file opened for writing has one.
//
// Ownership and threads: everything runs on the loop thread. The loop, clock
// and index (when given) must outlive the DirWatcher. `emit` is called
// synchronously from loop callbacks and from start()/add_root(); it must not
// destroy this DirWatcher or call into it (queue the work instead). Destroying
// the DirWatcher stops it; its uv handles close on the next loop iteration.
#pragma once

#include <sys/stat.h>
#include <sys/types.h>

#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include <uv.h>

#include "src/core/clock.h"
#include "src/core/event.h"
#include "src/core/result.h"
#include "src/os/env.h"
#include "src/os/unique_fd.h"
#include "src/uvx/handle.h"
#include "watchers/file_index.h"
#include "watchers/ignore_rules.h"
#include "watchers/inotify_decoder.h"
#include "watchers/move_pairer.h"

namespace aw {

struct WatchRoot {
  std::string name;  // the `watch` field of every event from this root; unique
  std::string path;  // absolute; must be a real directory, not a symlink
  bool recursive = true;
  // Globs on the path relative to the root ("*.tmp", ".*", "completed/**"); a
  // pattern without '/' matches the last component at any depth (IgnoreRules).
  std::vector<std::string> ignore;
};

struct WatchStats {
  std::size_t roots = 0;
  std::size_t roots_missing = 0;
  std::size_t watches = 0;        // directories currently watched
  std::uint64_t events_read = 0;  // inotify records decoded
  std::uint64_t overflows = 0;
  std::uint64_t rescans = 0;  // full root scans completed (start scans included)
  std::uint64_t landed = 0;
  std::uint64_t deduped = 0;  // lands skipped because the FileIndex already had them
  std::uint64_t symlinks_refused = 0;
  std::uint64_t unwatched_dirs = 0;  // directories inotify_add_watch refused
  std::size_t settling = 0;          // files found by a scan, held until quiet
  bool degraded = false;
  std::string degraded_reason;
};

class DirWatcher {
 public:
  struct Options {
    // How long an IN_MOVED_FROM waits for its IN_MOVED_TO before it counts as
    // moved out of the roots.
    Duration move_pair_window = std::chrono::milliseconds(100);
    std::size_t slice_entries = 1000;  // scan entries per loop iteration
    // The inotify source's bounds (inotify_source.h): records handled per
    // loop iteration, and how much it reads ahead of them.
    std::size_t max_records_per_tick = 1024;
    std::size_t max_backlog_bytes = 16 * 1024 * 1024;
    // Overflow rescans: the first runs on the next iteration; another overflow
    // within `overflow_window` of the previous one waits 100ms, 200ms, ... up
    // to `rescan_backoff_max`.
    Duration rescan_backoff_first = std::chrono::milliseconds(100);
    Duration rescan_backoff_max = std::chrono::seconds(5);
    Duration overflow_window = std::chrono::seconds(10);
    // A regular file found by a scan whose mtime is less than this old (by
    // the clock's wall time; a future mtime counts as recent) is held until
    // it has been unchanged for this long (see "Settling" above). Zero lands
    // every scanned file at once. Re-checks share `slice_entries` per tick.
    Duration scan_settle = std::chrono::milliseconds(250);
    // What every inotify watch (the roots, their subdirectories, a missing
    // root's ancestor) is added through (src/os/env.h): a test's Env refuses
    // one as a full fs.inotify.max_user_watches would. Borrowed, outlives the
    // watcher; nullptr = Env::real().
    Env* env = nullptr;
  };

  DirWatcher(uv_loop_t* loop, const Clock& clock, FileIndex* index, std::function<void(Event)> emit,
             Options options);
  DirWatcher(uv_loop_t* loop, const Clock& clock, FileIndex* index, std::function<void(Event)> emit)
      : DirWatcher(loop, clock, index, std::move(emit), Options{}) {}
  ~DirWatcher();
  DirWatcher(const DirWatcher&) = delete;
  DirWatcher& operator=(const DirWatcher&) = delete;

  // Registers a root. Errors (relative path, "..", duplicate name, bad glob, a
  // root that is a symlink, no inotify instance left) name the root and what
  // was expected. A root that does not exist yet is fine: watch.root_missing
  // is emitted once started, and it is watched when it appears. After start()
  // the root is activated and scanned at once.
  Status add_root(const WatchRoot& root);
  // Activates every root and starts their initial scans (level-triggered).
  void start();
  // Stops reading and scanning; no event is emitted afterwards.
  void stop();
  // Schedules a full rescan of every root now (e.g. on SIGHUP); each finished
  // scan emits watch.rescanned with this reason.
  void rescan(std::string_view reason);

  WatchStats stats() const;
  // True when no scan is running or scheduled (tests; "start scan finished").
  // Files a finished scan still holds are counted by stats().settling.
  bool scans_idle() const;
  // True while the one alarm (scan slices, move age-outs, delayed rescans,
  // settle re-checks) is armed; false means nothing will wake this watcher
  // but the kernel (tests: "idle means idle").
  bool alarm_armed() const { return alarm_.active() || scan_idle_.active(); }

 private:
  struct Root;
  struct ScanJob;
  class ScanVisitor;
  // A directory of a root opened for one use: borrowed from the batch cache or
  // owned (closed on destruction). fd < 0 is -errno. Move-only.
  struct DirFd {
    int fd = -1;
    UniqueFd owned;  // holds `fd` when this DirFd closes it
    DirFd() = default;
    DirFd(int f, bool own) : fd(f), owned(own && f >= 0 ? f : -1) {}
  };

  // Root lifecycle.
  void activate(Root& r);
  void try_restore(Root& r);
  void set_missing(Root& r, const char* reason);
  void drop_all_watches(Root& r);

  // Reading and translating (records come from the root's InotifySource).
  void on_records(Root& r, std::span<const InotifyRecord> records);
  void handle(Root& r, const InotifyRecord& rec, std::span<const InotifyRecord> after);
  void handle_missing_parent(Root& r, const InotifyRecord& rec);
  void on_dir_appeared(Root& r, const std::string& rel, const char* via, const std::string* from);
  void on_dir_gone(Root& r, const std::string& rel, const char* via);
  void on_moved_to(Root& r, const InotifyRecord& rec, const std::string& rel);
  void settle_moved_out(const PendingMove& m);
  void on_overflow(Root& r, const char* reason);

  // Watches. add_watch returns the wd or a negative errno.
  int add_watch(Root& r, int parent_fd, const std::string& rel);
  void drop_subtree(Root& r, const std::string& rel, bool rm_watches);
  void rename_subtree(Root& r, const std::string& from, const std::string& to);
  void report_add_watch_failure(Root& r, const std::string& rel, int err);
  // Never silent: sets the stats' degraded flag and emits watch.degraded.
  void report_degraded(Root& r, const std::string& reason, const std::string& path, int err);

  // Scanning.
  void queue_scan(Root& r, std::string rel, bool full, std::string reason);
  void run_scan_slice();
  void finish_scan(ScanJob& job);

  // Settling of scanned files (settle_queue.h); re-checks are served by on_alarm.
  bool hold_if_recent(Root& r, const std::string& rel, const struct stat& st);
  void unhold(Root& r, const std::string& rel);
  void unhold_under(Root& r, const std::string& rel);
  void recheck_due_files(MonoTime now);

  // Directory `dir_rel` of the root, opened without following symlinks (O_PATH
  // unless the batch cache has it): fd < 0 is -errno.
  DirFd open_dir(Root& r, std::string_view dir_rel);
  void close_batch_fds(Root& r);

  // Events.
  Event make_event(std::string_view kind, const Root& r, const std::string& rel,
                   const char* source);
  void land(Root& r, const std::string& rel, const char* via, const std::string* from,
            const char* source);
  // Claims and emits the version `st` (a regular file's stat).
  void land_stat(Root& r, const std::string& rel, const struct stat& st, const char* via,
                 const std::string* from, const char* source);
  void refuse_symlink(Root& r, int dir_fd, const std::string& rel, const char* source);
  void emit(Event e);

  // The one alarm: move age-outs, delayed rescans, scan slices and settle
  // re-checks.
  void rearm();
  void on_alarm();

  uv_loop_t* loop_;
  const Clock& clock_;
  std::unique_ptr<FileIndex> owned_index_;
  FileIndex* index_;
  std::function<void(Event)> emit_;
  Options options_;
  Env& env_;  // options_.env or the real one
  bool started_ = false;
  bool stopped_ = false;
  bool proc_fd_usable_ = false;

  std::vector<std::unique_ptr<Root>> roots_;
  std::deque<std::unique_ptr<ScanJob>> scans_;
  MovePairer moves_;
  uvx::Timer alarm_;
  // Scan slices run on this, one per loop iteration, so I/O gets in between.
  uvx::Idle scan_idle_;
  WatchStats stats_;
};

}  // namespace aw
