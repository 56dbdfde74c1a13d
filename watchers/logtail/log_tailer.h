// LogTailer: worker logs followed like `tail -F`, lines matching a log's
// patterns translated into Events (issue #4; DESIGN §6 scenarios 6 and 13).
//
// It only translates: a matching line becomes log.line, a log that stops
// growing log.stalled (then log.resumed), a rotation log.rotated, bad news
// log.error. What happens next is for the rules. docs/logs.md is the user's
// view (events and fields, rotation, stall detection, limits).
//
// How it follows a file: inotify on the file's DIRECTORY (one InotifySource for
// the tailer, the read loop it shares with DirWatcher; one watch per
// directory), so a rename away and a re-creation of the name are seen,
// not only writes. Every file of a log is read with pread() at our own offset:
//   - The name moved away (or deleted, or replaced): the old file stays open
//     and is read to its end; the new file at the name (when it appears) is
//     read from offset 0, but only after the old one is finished, so lines
//     come out in the order they were written. The old file is closed once a
//     newer file of the log holds data (checked BEFORE the last read of the
//     old one: a single writer that writes to the new file has finished with
//     the old, so nothing written to the old one is lost), or once it is
//     deleted and read to its end (an open deleted file pins its disk space
//     and its directory). While it is open, any event in the directory (its
//     writes show up under its new name there) triggers a read of it.
//   - Fell behind by more than one rotation (a new file appeared at the name
//     and was renamed away too before we looked): the rename's IN_MOVED_TO
//     names where that generation went, and it is read from there, in order.
//   - The file shrank below our offset (truncated, e.g. copytruncate): read
//     again from 0. Lines written between the copy and the truncation are
//     lost whoever reads; copytruncate is lossy by design (see docs/logs.md).
//   - Reads go in `read_chunk_bytes` pieces, at most `max_read_bytes_per_tick`
//     per loop iteration across all logs; the rest is read on the next
//     iteration, so a huge burst never freezes the loop. The continuation is
//     a uv_idle_t, active only while reads are deferred: libuv runs it once
//     per iteration after polling I/O without blocking. (Not a zero-delay
//     timer: libuv 1.44 runs a timer re-armed at 0 from its own callback again
//     in the same pass, which would never give the loop back.) Local files
//     only: a read of a local file costs microseconds.
//
// Where it starts: at the offset the OffsetStore holds for the log when the
// file is the same (dev, inode) and not shorter; from 0 when the file was
// replaced or truncated while we were away; otherwise (first sight) at the
// END, not replaying old logs, unless LogSpec::from_start. A file that appears
// after add_file() is read from 0.
//
// Matching: a LineScanner per log (the block prefilter over each chunk read,
// then one RE2::Set pass per candidate line; the pattern's own RE2 only for
// the captures of patterns that matched; see line_matcher.h). A line that
// matches several patterns gives one log.line per pattern, in pattern order.
//
// Stall detection: one timer for the whole tailer, armed at the earliest
// deadline (last growth + stall_after of every log not yet stalled); it is
// stopped when nothing is due, so an idle tailer causes no wake-ups. log.stalled is emitted once
// per stall; the next growth emits log.resumed. Before declaring a stall the file is read once
// more, so a lost inotify event never fakes one.
//
// Ownership and threads: everything runs on the loop thread. The loop, the
// clock and Options::offsets (when given) must outlive the LogTailer. `emit` is
// called synchronously from loop callbacks and from start() / add_file(); it
// must not destroy this LogTailer or call into it. Destroying the LogTailer
// stores each log's offset and stops it; its uv handles close on the next loop
// iteration.
#pragma once

#include <sys/stat.h>

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include <uv.h>

#include "src/core/clock.h"
#include "src/core/event.h"
#include "src/core/result.h"
#include "src/os/unique_fd.h"
#include "src/uvx/handle.h"
#include "watchers/inotify_decoder.h"
#include "watchers/inotify_source.h"
#include "watchers/logtail/line_matcher.h"
#include "watchers/logtail/offset_store.h"

namespace aw {

struct LogSpec {
  std::string name;  // the `log` field of every event; unique within the tailer
  std::string path;  // absolute; its directory must exist (the file need not)
  std::vector<LogPattern> patterns;
  Duration stall_after{0};                 // no growth for this long → log.stalled; 0 = off
  std::size_t max_line_bytes = 64 * 1024;  // longer lines are cut (truncated=true)
  bool from_start = false;  // first sight with no stored offset: read from 0, not the end
  std::string entity;       // Event::entity of every event (the worker), may be empty
};

struct LogTailStats {
  std::size_t logs = 0;
  std::size_t open_files = 0;  // current + rotated-away files still being read
  std::uint64_t bytes_read = 0;
  std::uint64_t lines = 0;  // lines handed to the matcher
  std::uint64_t matched_lines = 0;
  std::uint64_t events = 0;  // everything emitted
  std::uint64_t truncated_lines = 0;
  std::uint64_t rotations = 0;       // name moved away, deleted or replaced
  std::uint64_t truncations = 0;     // file shrank below our offset
  std::uint64_t deferred_reads = 0;  // wake-ups that hit max_read_bytes_per_tick
  std::uint64_t overflows = 0;       // inotify queue overflows (every log re-checked)
  std::uint64_t errors = 0;          // log.error events
  std::uint64_t set_fallbacks = 0;   // lines matched pattern by pattern (DFA out of memory)
};

class LogTailer {
 public:
  struct Options {
    // Borrowed; must outlive the tailer. Null: nothing is resumed or saved.
    OffsetStore* offsets = nullptr;
    std::size_t max_read_bytes_per_tick = 1024 * 1024;
    std::size_t read_chunk_bytes = 64 * 1024;
  };

  LogTailer(uv_loop_t* loop, const Clock& clock, std::function<void(Event)> emit, Options options);
  LogTailer(uv_loop_t* loop, const Clock& clock, std::function<void(Event)> emit)
      : LogTailer(loop, clock, std::move(emit), Options{}) {}
  ~LogTailer();
  LogTailer(const LogTailer&) = delete;
  LogTailer& operator=(const LogTailer&) = delete;

  // Registers a log and watches its directory. Errors (empty or duplicate
  // name, relative path, missing directory, bad pattern, no inotify watch
  // left) name the log and what was expected. After start() the log is opened
  // at once.
  Status add_file(LogSpec spec);
  // Stops tailing a log (its stored offset stays, for a later add_file).
  Status remove_file(std::string_view name);
  // Opens every log where it starts (see above) and begins reading.
  void start();
  // Stores every offset and stops; no event is emitted afterwards.
  void stop();

  LogTailStats stats() const;
  // Read offset in the file currently at the log's name, or nullopt when
  // there is none (tests, the throughput tool).
  std::optional<std::int64_t> position(std::string_view name) const;
  // True while reads are deferred to the next iteration (tests).
  bool reads_pending() const;
  // True while the stall timer or the read continuation is active; false
  // means nothing but the kernel will wake this tailer (tests: "idle means
  // idle").
  bool alarm_armed() const { return alarm_.active() || resume_active_; }

 private:
  struct OpenFile;
  struct Log;
  struct DirWatch {
    std::string path;
    std::vector<Log*> logs;
  };

  Status validate(const LogSpec& spec) const;
  Result<int> watch_dir(const std::string& dir);
  void unwatch_dir(Log& log);
  void activate(Log& log);

  // Opening and following the name.
  void open_initial(Log& log);
  void reconcile(Log& log);
  void rotate_away(Log& log);
  void adopt_moved(Log& log, const std::string& new_name);
  UniqueFd open_regular(Log& log, struct stat& st);

  // Reading.
  void handle(const InotifyRecord& rec);
  void read_wanted();
  void pump(Log& log, std::size_t& budget);
  bool later_file_has_data(const Log& log) const;
  void finish_front(Log& log);
  void on_truncated(Log& log, std::int64_t new_size);
  void on_line(Log& log, std::string_view line, bool truncated, bool unterminated,
               const std::vector<int>& hits);
  void save_offset(Log& log);

  // Stalls and the one alarm.
  void note_growth(Log& log, MonoTime now);
  void check_stalls(MonoTime now);
  void rearm();
  void on_alarm();
  void on_resume();

  Event make_event(std::string_view kind, const Log& log) const;
  void report_error(Log& log, const char* op, const std::string& error);
  void emit(Event e);

  uv_loop_t* loop_;
  const Clock& clock_;
  std::function<void(Event)> emit_;
  Options options_;
  bool started_ = false;
  bool stopped_ = false;

  std::unique_ptr<InotifySource> source_;   // created with the first log
  std::unordered_map<int, DirWatch> dirs_;  // by wd
  std::vector<std::unique_ptr<Log>> logs_;
  uvx::Timer alarm_;
  std::optional<MonoTime> alarm_due_;
  uvx::Handle<uv_idle_t> resume_;  // deferred reads: once per loop iteration
  bool resume_active_ = false;
  std::size_t next_reader_ = 0;  // round robin over logs when the budget runs out

  std::vector<char> read_buf_;
  LogTailStats stats_;
};

}  // namespace aw
