// EventLogWriter: appends Events to <dir>/events.jsonl, one whole JSON line per
// record (STYLE §10: the event log is data, not logging), and rotates it by size.
//
// Threading: everything here runs on the loop thread. An append is ONE write() of
// the whole line on an O_APPEND fd (a local-file append is our accepted cost on the
// loop); a rotation is two metadata calls (rename, open). The slow half of rotation
// (gzip, fsync, deleting old segments) runs on libuv's thread pool, one job at a
// time, and reports back on the loop thread.
//
// Durability model (docs/events.md has the reader's side):
//   - The writer is the only writer and rotates only between whole lines, so no
//     line is torn or split across files. A reader sees a torn line only at EOF,
//     while a write is in flight.
//   - A failed or short write (ENOSPC, EIO) never loses the line silently: the
//     unwritten bytes go to an in-memory backlog (bounded by max_backlog_bytes)
//     that is retried before the next line and by flush_backlog(). Lines that do not
//     fit are dropped and counted (stats().dropped_lines). An unfinished line at
//     the head of the backlog is always kept, so the file never gets a torn line.
//   - If the live file ends without '\n' at open (a previous process died mid-write),
//     the writer terminates that line first, so the torn bytes become one corrupt
//     line a reader skips instead of swallowing the next good record.
//   - A crash mid-compression leaves the plain events.N.jsonl; open() queues every
//     such leftover for compression, so nothing stays half-done.
//
// Shutdown: the destructor flushes the backlog once (best effort) and closes the
// file. Queued compression jobs keep running after the writer is gone; they hold no
// reference to it. The daemon must keep running the loop until they finish
// (uv_run(loop, UV_RUN_DEFAULT) returns once the pool work is done), or before
// destroying the writer wait until pending_work() == 0.
#pragma once

#include <uv.h>

#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "src/core/event.h"
#include "src/core/result.h"
#include "src/eventlog/seq_index.h"
#include "src/os/env.h"
#include "src/os/unique_fd.h"
#include "src/uvx/handle.h"

namespace aw {

// Something went wrong that the daemon should turn into a diagnostic. Reported on
// the loop thread, once per episode (the first failure, then the recovery), not
// once per line, so a full disk does not flood the daemon's own log.
struct EventLogProblem {
  enum class Kind {
    kWriteFailed,        // a write failed; lines are held in the backlog
    kWriteRecovered,     // the backlog drained; writes work again
    kLinesDropped,       // the backlog overflowed; lines were dropped (first drop per episode)
    kRotateFailed,       // renaming the full live file failed; appends go on, retried
    kMaintenanceFailed,  // gzip/pruning of a segment failed (each time; plain file kept)
  };
  Kind kind;
  Error error;  // says which file and why
};

struct EventLogWriterOptions {
  std::string dir;                                // created 0700 (with parents) if missing
  std::uint64_t max_bytes = 64ull * 1024 * 1024;  // rotate once the live file reaches this
  std::size_t keep = 5;                           // rotated segments kept (0 = none)
  std::size_t max_backlog_bytes = std::size_t{4} * 1024 * 1024;  // bytes held while writes fail
  std::size_t max_staged_bytes = std::size_t{256} * 1024;        // stage(): commit at this size
  std::uint64_t index_stride = SeqIndex::kDefaultStride;         // seq_index(): a mark per stride
  // Borrowed; must outlive the writer. nullptr means Env::real().
  Env* env = nullptr;
  // Called on the loop thread, after the writer's state is consistent, so it may
  // append to the writer again (a failing writer does not report twice).
  std::function<void(const EventLogProblem&)> on_problem;
};

struct EventLogWriterStats {
  std::uint64_t bytes_written = 0;
  std::uint64_t lines_written = 0;  // whole lines now on disk
  std::uint64_t rotations = 0;
  std::uint64_t write_errors = 0;   // failed write() calls (a short write's retry fails)
  std::uint64_t dropped_lines = 0;  // lines lost because the backlog was full
  std::uint64_t backlog_bytes = 0;  // bytes waiting to be written
  std::uint64_t compressed_segments = 0;
  std::uint64_t pruned_segments = 0;
  std::uint64_t maintenance_errors = 0;
  bool repaired_torn_tail = false;  // open() terminated a torn last line
};

class EventLogWriter {
 public:
  // Creates the dir if needed, opens (or creates, 0600) events.jsonl for appending,
  // continues segment numbering after the highest events.N.* on disk, and queues
  // compression of leftover plain segments. `loop` must outlive the writer and any
  // queued work. Errors name the file.
  static Result<std::unique_ptr<EventLogWriter>> open(uv_loop_t* loop,
                                                      EventLogWriterOptions options);
  ~EventLogWriter();
  EventLogWriter(const EventLogWriter&) = delete;
  EventLogWriter& operator=(const EventLogWriter&) = delete;

  // Appends to_json_line(e) with one write(). A non-ok Status means the line is not
  // on disk yet: it waits in the backlog (or was dropped, see stats()).
  Status append(const Event& e);
  // Appends several events as whole lines in one write().
  Status append_many(std::span<const Event> events);

  // Group commit: stage() keeps the event's line in memory and commit() writes
  // every staged line with one write(). The first stage() of a loop turn arms a
  // zero-delay timer that commits the turn's lines, so a storm of events costs
  // one write() per turn, not one per event. append() commits what is staged
  // first (the file keeps seq order), as does the destructor. A caller that
  // needs the lines in the file before it acts (the pipeline, before an action
  // starts) calls commit() itself. Staged bytes past `max_staged_bytes` are
  // committed at once. Failures are reported as for append(), through
  // on_problem; the lines then wait in the backlog.
  void stage(const Event& e);
  Status commit();
  std::size_t staged_bytes() const { return staged_.size(); }
  // Retries the backlog now (e.g. from a timer while no events arrive).
  Status flush_backlog();

  EventLogWriterStats stats() const;
  // Where each stride of the log starts (seq_index.h): what this writer
  // appended, and what it found on disk at open once the thread pool has
  // sampled it (counted in pending_work() until then).
  const SeqIndex& seq_index() const { return *index_; }
  // Compression/pruning/sampling jobs queued or running on the thread pool.
  std::size_t pending_work() const;
  const std::string& dir() const { return options_.dir; }

 private:
  struct Maintenance;
  EventLogWriter(uv_loop_t* loop, EventLogWriterOptions options);

  Status write_lines(std::string_view data);
  // Writes [data, data+len) with as few write() calls as the kernel allows. Returns 0
  // or an errno; `written` says how far it got either way.
  int write_fully(const char* data, std::size_t len, std::size_t& written);
  Status drain_backlog();
  void hold_in_backlog(std::string_view unwritten);
  void note_written(std::string_view bytes);
  void note_recovered();
  Status ensure_open();
  void maybe_rotate();
  void report(EventLogProblem::Kind kind, Error error);
  void emit_reports();

  uv_loop_t* loop_;
  EventLogWriterOptions options_;
  Env& ops_;
  UniqueFd fd_;  // the live file; invalid while it cannot be opened
  std::uint64_t file_size_ = 0;
  std::uint64_t next_segment_ = 1;
  std::string backlog_;
  std::string staged_;                        // lines stage()d, not yet written
  std::unique_ptr<uvx::Timer> commit_timer_;  // zero-delay: commits the turn's lines
  bool write_failing_ = false;
  bool dropped_this_episode_ = false;
  bool rotate_failing_ = false;
  EventLogWriterStats stats_;
  std::shared_ptr<SeqIndex> index_;  // shared with the sampling job, which may outlive us
  std::shared_ptr<Maintenance> maintenance_;
  std::vector<EventLogProblem> reports_;
};

}  // namespace aw
