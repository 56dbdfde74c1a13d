// StateStore: the EntityTable made crash-safe (docs/lifecycle.md, "Persistence").
//
// Files, in options.dir:
//   lifecycle.journal    append-only JSON lines, one per Mutation (state_codec.h)
//   lifecycle.snapshot   every entity + the seq of the last record it includes
//   lifecycle.snapshot.tmp              a snapshot being written (ignored at load)
//   lifecycle.snapshot.corrupt.<ns>     an unreadable snapshot, moved aside at open
//
// How a change becomes durable:
//   1. A live operation on table() applies at once in memory and appends one
//      journal line to the pending batch (the table's observer), with the next seq.
//   2. commit() hands the whole batch to the thread pool: ONE write() on the
//      O_APPEND journal fd, then fsync. Only one job (commit or snapshot) is in
//      flight at a time; a commit asked for meanwhile takes everything pending when
//      the job in flight finishes (group commit). Callbacks run on the loop thread
//      once the batch is on disk (Status ok) or could not be made so (error).
//   3. When the journal passes compact_after_records / compact_after_bytes (or an
//      fsync failed, or the load found damage), the next job is a snapshot of the
//      whole table at the last assigned seq S: written to .tmp, fsynced, renamed
//      over lifecycle.snapshot, directory fsynced — and only then the journal is
//      truncated. The snapshot also covers every pending record (seq <= S), so it
//      completes their callbacks and their bytes are never written.
//   Crash anywhere: load = snapshot (last_seq S) + journal records with seq > S. A
//   crash between the rename and the truncation leaves old records (seq <= S) in
//   the journal; replay skips them, so nothing is applied twice.
//
// Threading: one owner, the loop thread; every callback runs there. Pool jobs use
// only copies and the journal fd; they never touch the table.
//
// Without a loop (loop == nullptr: the CLI, tools) the store is synchronous:
// nothing is written until commit() or compact(), which block and run their
// callbacks before returning; schedule_commit() and auto_commit do nothing.
//
// Shutdown: the destructor writes what is pending (synchronously without a loop;
// as a last pool job with a loop — keep running the loop until it has no work, as
// for EventLogWriter). Callbacks not yet called are dropped, never called after
// the store is gone. A callback may destroy the store (loop mode).
#pragma once

#include <uv.h>

#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "src/core/result.h"
#include "src/os/env.h"
#include "src/state/entity_table.h"
#include "src/state/state_codec.h"
#include "src/uvx/handle.h"

namespace aw {

using DurableCallback = std::function<void(Status)>;

struct StateStoreOptions {
  std::string dir;  // created 0700 (with parents) if missing
  std::uint64_t compact_after_records = 10'000;
  std::uint64_t compact_after_bytes = 8ull * 1024 * 1024;
  EntityTableOptions table;
  // With a loop: the first change of a loop turn arms a zero-delay timer whose
  // commit() takes the whole turn's batch. Off: the owner calls commit() itself.
  bool auto_commit = true;
  // The OS calls the store's writes go through (open, write, fsync, rename,
  // ftruncate), also from pool threads: a test's Env must be thread-safe.
  // Borrowed, outlives the store; nullptr = Env::real().
  Env* env = nullptr;
  // Disk failures, on the loop thread, the error naming the file: a failing write
  // once per episode (until a write succeeds again), each fsync / snapshot failure.
  std::function<void(const Error&)> on_problem;
};

struct StateLoadReport {
  bool snapshot_found = false;
  std::uint64_t snapshot_last_seq = 0;
  std::size_t snapshot_entities = 0;
  // Set when lifecycle.snapshot exists but cannot be read as a whole. load_state()
  // then builds from the journal alone; StateStore::open() also moves the file to
  // `snapshot_moved_to` (never deletes it) and writes a fresh snapshot.
  std::string snapshot_error;
  std::string snapshot_moved_to;
  std::vector<std::string> snapshot_problems;  // malformed entities skipped
  bool journal_found = false;
  JournalReplayReport journal;
  // True when the files need rewriting: damage was found, or the journal holds
  // records the snapshot already has (a crash between snapshot and truncation).
  bool needs_compaction() const {
    return !snapshot_error.empty() || !snapshot_problems.empty() || journal.corrupt > 0 ||
           journal.unapplied > 0 || journal.out_of_order > 0 || journal.skipped_old > 0;
  }
  // One line for the daemon's log: "lifecycle state: 12 entities (snapshot seq 40,
  // journal 5 applied, 1 corrupt line skipped, torn tail 17 bytes dropped)".
  std::string summary(std::size_t entities) const;
};

struct LoadedState {
  EntityTable table;
  StateLoadReport report;
};

// Reads `dir`'s snapshot and journal into a table. Read-only (no file is changed:
// safe for `recover list-stuck` while the daemon runs) and blocking; any thread.
// Missing files are an empty state. Errors only for I/O that failed (EACCES, EIO),
// naming the file; damage inside the files is reported, never fatal.
Result<LoadedState> load_state(const std::string& dir, EntityTableOptions table_options = {});

struct StateStoreStats {
  std::uint64_t next_seq = 1;
  std::uint64_t journal_records = 0;  // lines in the live journal file
  std::uint64_t journal_bytes = 0;
  std::uint64_t pending_records = 0;  // appended, not yet handed to a job
  std::uint64_t commits = 0;          // batches made durable
  std::uint64_t snapshots = 0;        // snapshots that landed
  std::uint64_t write_errors = 0;
  std::uint64_t fsync_errors = 0;
  std::uint64_t snapshot_errors = 0;
  bool busy = false;  // a job is in flight
};

class StateStore {
 public:
  // Loads the state (load_state), repairs what it must — drops a torn journal tail
  // (ftruncate), moves an unreadable snapshot aside — and opens the journal for
  // appending. Blocking: call at startup, before the loop runs. A load that found
  // damage queues a compaction. Errors: the directory or a file cannot be created,
  // read or opened (the message names it).
  static Result<std::unique_ptr<StateStore>> open(uv_loop_t* loop, StateStoreOptions options);

  ~StateStore();
  StateStore(const StateStore&) = delete;
  StateStore& operator=(const StateStore&) = delete;

  // The live table. Its mutations are journaled; do not call replay/restore/clear
  // on it (they bypass the journal).
  EntityTable& table() { return table_; }
  const EntityTable& table() const { return table_; }
  const StateLoadReport& load_report() const { return load_report_; }

  // Arms a zero-delay timer (once per loop turn) that calls commit().
  void schedule_commit();
  // Hands everything appended so far to the pool now; `on_durable` runs when it is
  // on disk, after the callbacks of every earlier commit.
  void commit(DurableCallback on_durable = {});
  // Like commit(cb) but joins this turn's batch (schedule_commit) instead of
  // forcing a write now.
  void when_durable(DurableCallback on_durable);
  // Snapshot now (and truncate the journal); `on_done` as for commit().
  void compact(DurableCallback on_done = {});

  StateStoreStats stats() const;
  // Nothing pending and no job in flight.
  bool idle() const;

  const std::string& journal_path() const;
  const std::string& snapshot_path() const;

 private:
  struct Link;
  struct Job;
  StateStore(uv_loop_t* loop, StateStoreOptions options, LoadedState loaded);

  // Pool side (run_job) and the jobs of a destroyed store (orphans); static so
  // they never reach a store that may be gone.
  static void run_job(Link& link, Job& job);
  static void write_orphans(const std::shared_ptr<Link>& link);
  static void finish_orphan(const std::shared_ptr<Link>& link, Job& job);

  void on_mutation(const Mutation& m);
  void pump();
  void dispatch(const std::shared_ptr<Job>& job);
  void finish(Job& job);
  void problem(const Error& e);

  uv_loop_t* loop_;
  StateStoreOptions options_;
  Env& env_;
  EntityTable table_;
  StateLoadReport load_report_;
  std::shared_ptr<Link> link_;  // fd and paths; shared with the job in flight

  std::uint64_t next_seq_ = 1;
  std::string pending_;  // journal bytes not yet handed to a job, in seq order
  std::uint64_t pending_records_ = 0;
  std::vector<DurableCallback> pending_callbacks_;
  bool commit_requested_ = false;
  bool snapshot_requested_ = false;
  std::uint64_t compact_retry_at_records_ = 0;
  std::uint64_t retry_delay_ms_ = 0;
  StateStoreStats stats_;

  std::optional<uvx::Timer> commit_timer_;  // with a loop only
  std::optional<uvx::Timer> retry_timer_;   // after a failed write, with backoff
};

}  // namespace aw
