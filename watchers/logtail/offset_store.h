// Where each tailed log was left, so a restarted daemon resumes instead of
// replaying or skipping lines (issue #4).
//
// OffsetStore is the small interface LogTailer talks to; MemoryOffsetStore
// keeps offsets for the life of the process (tests, or no state dir), and
// FileOffsetStore persists them in `<state_dir>/log-offsets`.
//
// What an offset means: the file is identified by (dev, inode); `offset` is the
// byte after the last line that was fully handled (a held partial line is not
// counted, so it is read again after a restart), or, when `skipping`, the byte
// after the last byte of a truncated over-long line that was already dropped,
// the rest of which must still be skipped up to its '\n'. `line_no` is the
// number of lines before `offset` when known (the file was read from its
// start), 0 when not.
//
// FileOffsetStore writes the whole (small) table as a new file: tmp + fsync +
// rename, on libuv's thread pool, at most once per `save_interval`, and only
// when something changed: a busy log costs one background write per interval,
// never an fsync per line on the loop. A crash loses at most the last interval
// of progress, so up to that many lines are emitted again after the restart
// (at least once, never lost). The destructor writes what is still unsaved
// synchronously (shutdown).
//
// Format: the state-file format (src/core/state_file.h, docs/state-files.md),
// kind "log-offsets", one record per log: name, dev, inode, offset, line_no,
// skipping (0|1). A damaged, torn or malformed record is skipped and counted
// (that log then starts as if new); a foreign header is an error. The older
// format ("agentwatch-log-offsets 1", tab-separated, the name percent-escaped)
// is still read, and open() rewrites such a file in the current one.
//
// Ownership and threads: one owner on the loop thread; not thread-safe. The
// loop and clock passed to open() must outlive the store; a store destroyed
// while a background save is in flight waits for it (bounded: one small file)
// before its own final write, so the newest table always wins.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>

#include <uv.h>

#include "src/core/clock.h"
#include "src/core/result.h"
#include "src/uvx/handle.h"

namespace aw {

struct LogOffset {
  std::int64_t dev = 0;
  std::int64_t inode = 0;
  std::int64_t offset = 0;
  std::int64_t line_no = 0;  // 0 = unknown
  bool skipping = false;
  friend bool operator==(const LogOffset&, const LogOffset&) = default;
};

class OffsetStore {
 public:
  virtual ~OffsetStore() = default;
  virtual std::optional<LogOffset> get(const std::string& log) const = 0;
  // Cheap (an in-memory update); persistence, if any, happens later.
  virtual void put(const std::string& log, const LogOffset& offset) = 0;
  virtual void erase(const std::string& log) = 0;
};

class MemoryOffsetStore final : public OffsetStore {
 public:
  std::optional<LogOffset> get(const std::string& log) const override;
  void put(const std::string& log, const LogOffset& offset) override { table_[log] = offset; }
  void erase(const std::string& log) override { table_.erase(log); }

 private:
  std::map<std::string, LogOffset> table_;
};

class FileOffsetStore final : public OffsetStore {
 public:
  struct Options {
    Duration save_interval = std::chrono::seconds(1);
  };
  struct Stats {
    std::size_t entries = 0;
    std::size_t corrupt_lines = 0;  // skipped at load
    std::uint64_t saves = 0;        // tables written (background and final)
    std::uint64_t save_errors = 0;  // the previous file was kept
    std::string last_error;         // names the file and the errno text
  };

  // Opens `path` (e.g. `<state_dir>/log-offsets`; its directory must exist)
  // and loads it; a missing file is an empty table. Errors name the file, the
  // line and what was expected.
  static Result<std::unique_ptr<FileOffsetStore>> open(uv_loop_t* loop, const Clock& clock,
                                                       std::string path, Options options);
  static Result<std::unique_ptr<FileOffsetStore>> open(uv_loop_t* loop, const Clock& clock,
                                                       std::string path) {
    return open(loop, clock, std::move(path), Options{});
  }
  ~FileOffsetStore() override;
  FileOffsetStore(const FileOffsetStore&) = delete;
  FileOffsetStore& operator=(const FileOffsetStore&) = delete;

  std::optional<LogOffset> get(const std::string& log) const override;
  void put(const std::string& log, const LogOffset& offset) override;
  void erase(const std::string& log) override;

  // Writes the table now, synchronously, if anything is unsaved (shutdown, tests).
  Status flush();
  // True while a save is due or in flight (tests: wait until false).
  bool saving() const { return dirty_ || in_flight_; }
  const Stats& stats() const { return stats_; }

  // The file format, exposed for tests (parse reads either format).
  static std::string serialize(const std::map<std::string, LogOffset>& table);
  static Result<std::map<std::string, LogOffset>> parse(std::string_view text,
                                                        const std::string& path,
                                                        std::size_t* corrupt_lines);

 private:
  struct Shared;
  FileOffsetStore(uv_loop_t* loop, const Clock& clock, std::string path, Options options);
  void changed();
  void on_timer();
  void start_save();

  uv_loop_t* loop_;
  const Clock& clock_;
  std::string path_;
  Options options_;
  std::map<std::string, LogOffset> table_;
  std::shared_ptr<Shared> shared_;  // with the background saves
  uvx::Timer timer_;
  bool dirty_ = false;
  bool in_flight_ = false;
  std::optional<MonoTime> last_save_;
  Stats stats_;
};

}  // namespace aw
