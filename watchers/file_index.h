// FileIndex: "every landed file is handled exactly once", across restarts
// (DESIGN §2 "level-triggered at start", scenarios 14 and 15).
//
// A file version is identified by Key = (watch name, rel path, dev, inode, size,
// mtime_ns). The index keeps at most one entry per (watch, rel): the newest
// version seen there, either *pending* (claimed in memory by the watcher, its
// handling not finished) or *handled* (completed and persisted). A rewritten
// file is a new version and may land again; the same version never does.
//
// Flow: DirWatcher calls claim() before emitting file.landed and skips the
// event when it returns false (a version the queue and a rescan both reported,
// or one handled before a restart). Whoever finishes handling the event (the
// daemon after its rules and actions ran) calls complete(); that appends one
// line to `<state_dir>/file-index` with O_APPEND: at once for a file something
// acted on, with the loop turn's others for one nothing acted on (Durability). A pending claim is
// not persisted: if the daemon dies first, the start scan lands the file again, which is the point.
// abandon() drops a pending claim so the next scan retries.
//
// Log format: the state-file format (src/core/state_file.h,
// docs/state-files.md), kind "file-index", appended to: one record per
// completion, fields H, dev, inode, size, mtime_ns, watch, rel, outcome. A
// torn last line (no '\n', e.g. after a crash mid-write) is cut off at load; a
// damaged or malformed line is skipped and counted. A log in the older format
// ("agentwatch-file-index 1", tab-separated, text fields percent-escaped) is
// read and at once rewritten in the current one. When the log holds more than
// twice as many lines as handled entries (and at least `compact_min_lines`),
// it is rewritten: temp file + fsync + rename. With a loop, the write and
// fsync run on the thread pool (the loop never blocks); records completed
// meanwhile are appended to the new file before it replaces the old one, so
// none is lost.
//
// Ownership and threads: one owner on the loop thread; not thread-safe. The
// loop passed to open() must outlive the index; an index destroyed while a
// compaction is in flight leaves the old log intact and removes the tmp file.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <uv.h>

#include "src/core/event.h"
#include "src/core/result.h"
#include "src/os/unique_fd.h"
#include "src/uvx/handle.h"
#include "watchers/flat_entry_table.h"

namespace aw {

class FileIndex {
 public:
  struct Key {
    std::string watch;
    std::string rel;
    std::int64_t dev = 0;
    std::int64_t inode = 0;
    std::int64_t size = 0;
    std::int64_t mtime_ns = 0;
    friend bool operator==(const Key&, const Key&) = default;
  };

  struct Options {
    // Below this many log lines the log is never compacted (not worth it).
    std::size_t compact_min_lines = 1024;
  };

  struct Stats {
    std::size_t entries = 0;  // live (watch, rel) entries, pending + handled
    std::size_t handled = 0;
    std::size_t pending = 0;
    std::size_t log_lines = 0;      // records in the current log file (header excluded)
    std::size_t corrupt_lines = 0;  // skipped at load (a torn last line included)
    std::uint64_t compactions = 0;
    std::uint64_t compaction_errors = 0;  // the old log was kept
    std::uint64_t append_errors = 0;      // write() failures (the entry stays handled in memory)
  };

  // Opens or creates `<state_dir>/file-index` (the directory must exist) and
  // loads it; compacts synchronously when the loaded log is over the limit (at
  // start, blocking is fine). `loop` may be null: later compactions then run
  // synchronously. Errors name the file and the errno text.
  static Result<std::unique_ptr<FileIndex>> open(const std::string& state_dir, uv_loop_t* loop,
                                                 Options options);
  static Result<std::unique_ptr<FileIndex>> open(const std::string& state_dir,
                                                 uv_loop_t* loop = nullptr) {
    return open(state_dir, loop, Options{});
  }
  // Same semantics, nothing persisted (tests; DirWatcher without an index).
  static std::unique_ptr<FileIndex> in_memory();

  ~FileIndex();
  FileIndex(const FileIndex&) = delete;
  FileIndex& operator=(const FileIndex&) = delete;

  // False when this exact version is already handled or pending; otherwise
  // records it as pending (replacing an older version at the same rel) and
  // returns true. Either way the entry counts as seen (see drop_unseen).
  bool claim(const Key& key);
  // Marks the version handled with a short outcome ("completed", "quarantined",
  // "no-rule", ...) and appends it to the log. A late complete() for a version
  // that was since replaced at its rel (a newer one is pending, or the handled
  // one has a later mtime) is ignored: the newer one still needs handling.
  //
  // `durability` says when the record reaches the file. kNow: before complete()
  // returns, for a file something acted on (a crash must not make the daemon
  // act on it again). kWithTurn: gathered with the loop turn's other such
  // records into one write() at the end of the turn, for a file nothing acted
  // on: a crash then costs at most a repeated file.landed, never a repeated
  // action. A kNow record writes what is gathered first, so the log keeps its
  // order. Without a loop, kWithTurn is kNow.
  enum class Durability { kNow, kWithTurn };
  void complete(const Key& key, std::string_view outcome, Durability durability = Durability::kNow);
  // Drops a pending claim (handling failed and should be retried on the next
  // scan). Handled entries are kept.
  void abandon(const Key& key);
  // The file at (watch, rel) is gone: drop its entry from memory. The log line
  // stays until the next compaction, which no longer writes it.
  void forget(std::string_view watch, std::string_view rel);
  // The file at (watch, rel) is still there but not claimed yet (a scan holds
  // it while it settles, see DirWatcher::Options::scan_settle): its entry,
  // whatever version it records, counts as seen, so a drop_unseen of the scan
  // that found it keeps it. A pending claim of the same version must survive
  // until the held file's own claim fails on it. No entry: nothing to do.
  void touch(std::string_view watch, std::string_view rel);

  bool is_handled(const Key& key) const;
  // Whether any version at (watch, rel) has an entry, pending or handled. None
  // after forget(): the file went, e.g. moved away by the rule handling it.
  bool tracks(const Key& key) const;
  std::optional<std::string> outcome(const Key& key) const;

  // The key of a file.landed event (fields watch, rel, dev, inode, size,
  // mtime_ns), or nullopt when one is missing.
  static std::optional<Key> key_from_event(const Event& e);

  // Sweep support for "entries whose files are gone": a full scan of a watch
  // takes an epoch before it starts and calls drop_unseen(watch, epoch) when it
  // finished; entries of that watch not claimed or completed since are dropped
  // (their files no longer exist or are now ignored).
  std::uint64_t begin_epoch() { return ++clock_; }
  void drop_unseen(std::string_view watch, std::uint64_t since_epoch);

  Stats stats() const;
  // Rewrites the log now, synchronously. For start-up and tests.
  Status compact_now();
  bool compaction_in_flight() const { return compaction_ != nullptr; }
  const std::string& path() const { return path_; }

 private:
  struct Entry {
    std::int64_t dev = 0, inode = 0, size = 0, mtime_ns = 0;
    bool handled = false;
    std::string outcome;
    std::uint64_t seen = 0;  // value of clock_ when last claimed/completed
  };
  struct Compaction;

  FileIndex() = default;
  // The table's key for (watch, rel): "watch\0rel", built in key_scratch_ so a
  // lookup allocates nothing (valid until the next call).
  const std::string& map_key(std::string_view watch, std::string_view rel) const;
  static bool same_version(const Entry& e, const Key& k);
  Status load();
  std::string render_log() const;
  // Renders the record of `key` into gathered_ and writes it now or with the turn.
  void append_record_line(const Key& key, std::string_view outcome, Durability durability);
  // Writes the gathered kWithTurn records (and stops the turn timer).
  void write_gathered();
  void maybe_compact();
  void start_async_compaction();
  // `tmp`: the new log written and synced, or "" when that failed.
  void finish_async_compaction(const std::string& tmp, std::size_t snapshot_lines);

  std::string path_;  // empty: in memory
  uv_loop_t* loop_ = nullptr;
  Options options_;
  UniqueFd fd_;
  std::string gathered_;                    // kWithTurn records not written yet
  std::unique_ptr<uvx::Timer> turn_timer_;  // zero-delay: writes gathered_
  // Open addressing, not std::unordered_map: claim() runs once per landed file
  // (see flat_entry_table.h for what the nodes cost in a storm).
  FlatEntryTable<Entry> entries_;
  mutable std::string key_scratch_;  // see map_key()
  std::size_t handled_count_ = 0;
  std::uint64_t clock_ = 0;
  Stats counters_;
  std::unique_ptr<Compaction> compaction_;
  std::shared_ptr<bool> alive_ = std::make_shared<bool>(true);
};

}  // namespace aw
