// InotifySource: one inotify fd read through a uvx::Poll and decoded into
// InotifyRecords (STYLE §3: the thin adaptor beside the pure InotifyDecoder).
//
// Shared by every inotify user (DirWatcher: one per watch root; LogTailer: one
// for all its logs), so the read loop, its bounds and its error handling exist
// once. It only reads and decodes; what a record means is the owner's business.
//
// Reading is eager, handling is sliced (watchman reads inotify on a thread of
// its own for the same reason). The kernel queue is small (16,384 events by
// default, fs.inotify.max_queued_events) and it overflows while the owner is
// busy handling what it already read: an overflow costs a rescan of the root,
// which in a storm is the most expensive thing the watcher does, and more
// overflows follow. So on every loop iteration the source first empties the
// kernel queue into a byte backlog of its own (bounded by
// `max_backlog_bytes`: past it, reading stops and the kernel's queue, and its
// overflow record, take over), then decodes and hands over at most
// `max_records_per_tick` records (`on_records`, in slices of one span), and
// then calls `on_drained` once. While a backlog is left, a uv_idle_t runs the
// next turn on the next iteration without blocking, so I/O and timers get in
// between and one busy fd never freezes the loop. The backlog buffer shrinks
// back once empty, so an idle daemon does not keep a storm's memory.
//
// Order: records are handed over in kernel order, from the backlog first.
//
// Names in a record are std::strings: short names (15 bytes) need no
// allocation, and a record may be kept past the callback.
//
// Errors: a malformed buffer (never from the kernel) means sync is lost: it is
// handed to `on_malformed` after the records before it, the backlog is
// dropped, and the owner treats it like an overflow. A poll or read error goes
// to `on_error` with the errno.
//
// Watches are added through the Env given at open() (src/os/env.h: a test's
// Env refuses one with ENOSPC, as a full fs.inotify.max_user_watches does).
//
// Ownership and threads: loop thread only. The loop and the Env must outlive
// the source.
// Callbacks may call close() (delivery then stops at once) but must not
// destroy the source. Destroying or closing it stops the poll and the idle
// handle (they close on the next loop iteration) and closes the fd, which
// removes every watch.
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <span>
#include <string>
#include <vector>

#include <uv.h>

#include "src/core/result.h"
#include "src/os/env.h"
#include "src/os/unique_fd.h"
#include "src/uvx/handle.h"
#include "watchers/inotify_decoder.h"

namespace aw {

class InotifySource {
 public:
  struct Callbacks {
    // Records in kernel order; the span lives until the callback returns.
    std::function<void(std::span<const InotifyRecord>)> on_records;
    // The bytes were malformed after the records already handed over.
    std::function<void(const std::string& error)> on_malformed;
    // A poll or read(2) error: `what` is "poll" or "read", `err` the errno.
    std::function<void(const char* what, int err)> on_error;
    // Once per turn (a readiness or a continuation), after its records.
    std::function<void()> on_drained;
  };
  struct Options {
    std::size_t read_buffer_bytes = 64 * 1024;  // per read(2): about 2,000 records
    // Reading stops while this much is waiting to be handled.
    std::size_t max_backlog_bytes = 16 * 1024 * 1024;
    // Records handed over per loop iteration.
    std::size_t max_records_per_tick = 1024;
  };

  // A new non-blocking, close-on-exec inotify fd and its (stopped) poll. The
  // error names the call and, for EMFILE, the sysctl to raise. `env` is what
  // add_watch() goes through.
  static Result<std::unique_ptr<InotifySource>> open(uv_loop_t* loop, Callbacks callbacks,
                                                     Options options, Env& env = Env::real());
  static Result<std::unique_ptr<InotifySource>> open(uv_loop_t* loop, Callbacks callbacks) {
    return open(loop, std::move(callbacks), Options{});
  }
  ~InotifySource();
  InotifySource(const InotifySource&) = delete;
  InotifySource& operator=(const InotifySource&) = delete;

  // Starts reading; 0 or a negative libuv error.
  int start();
  // Stops the poll and closes the fd; idempotent. Nothing is delivered after.
  void close();
  bool closed() const { return !fd_; }

  // The inotify fd, -1 once closed.
  int fd() const { return fd_.get(); }
  // inotify_add_watch through the Env: the wd, or a negative errno (EBADF once
  // closed; EINVAL when a test's Env failed without setting errno).
  int add_watch(const char* path, std::uint32_t mask) const;
  // inotify_rm_watch; errors (a watch the kernel already removed) are ignored.
  void rm_watch(int wd) const;

  std::uint64_t records_read() const { return records_read_; }
  std::uint64_t reads() const { return reads_; }
  // Bytes read from the kernel and not handed over yet.
  std::size_t backlog_bytes() const { return end_ - begin_; }
  // The most that was ever waiting (how far behind the owner fell).
  std::size_t backlog_peak_bytes() const { return backlog_peak_; }

 private:
  InotifySource(uv_loop_t* loop, UniqueFd fd, Callbacks callbacks, Options options, Env& env);
  void turn();
  void fill();
  void deliver();

  UniqueFd fd_;
  Env& env_;
  Callbacks cb_;
  Options options_;
  std::unique_ptr<uvx::Poll> poll_;
  std::unique_ptr<uvx::Idle> more_;  // active while a backlog is left
  // The backlog: bytes [begin_, end_) of buf_ are read and not yet handed over.
  std::vector<std::uint8_t> buf_;
  std::size_t begin_ = 0, end_ = 0;
  std::size_t backlog_peak_ = 0;
  std::vector<InotifyRecord> records_;
  std::uint64_t records_read_ = 0;
  std::uint64_t reads_ = 0;
};

}  // namespace aw
