// EventLogReader: reads the event log of a state dir in order (rotated segments,
// oldest first, gzip or plain, then the live events.jsonl) and optionally follows
// the live file across rotations, like `tail -F` that knows our rotation scheme.
//
// For the CLI side (`agentwatch events`, `agentwatch stats`): it blocks on reads and
// on inotify. Never use it on the daemon's loop thread. Not thread-safe; one
// reader per thread.
//
// Tolerance (each case has a named test):
//   - Bytes after the last '\n' of a file are not a record yet. In history mode they
//     are ignored; when following the live file they are held until the rest of the
//     line arrives. At the end of a rotated segment they can only be debris (the
//     writer never splits a line across files): dropped and counted as a torn tail.
//   - A line in the middle that is not a JSON object with a string "kind" is skipped
//     and counted (stats().corrupt_lines; first_corrupt names file:line). Blank lines
//     are skipped silently.
//   - A segment deleted (pruned) between listing and opening is skipped and counted.
//
// Following: the reader watches the directory with inotify (IN_MODIFY, IN_CREATE,
// IN_MOVED_FROM/TO, IN_CLOSE_WRITE) and blocks in poll() with a timeout only so
// that FollowControl::stop is noticed. When the name events.jsonl points at another
// inode than the fd it holds (or is gone), the log was rotated: it reads the old fd
// to its end, reads any segment rotated after that one which it never saw as live
// (a reader that fell behind by several rotations), then opens the new live file
// at offset 0. If the live file shrinks (truncated by hand) it restarts at offset 0.
// No record is lost or repeated as long as segments are not pruned before the
// reader gets to them (keep >= 1).
#pragma once

#include <simdjson.h>
#include <sys/types.h>

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "src/core/result.h"
#include "src/eventlog/log_record.h"
#include "src/eventlog/log_segments.h"
#include "src/eventlog/seq_index.h"
#include "src/os/unique_fd.h"

namespace aw {

struct EventLogReaderStats {
  std::uint64_t records = 0;        // records handed to the visitor
  std::uint64_t corrupt_lines = 0;  // skipped: not a JSON object with a "kind"
  std::uint64_t torn_tails = 0;     // unterminated ends of rotated files, dropped
  std::uint64_t bytes_read = 0;     // uncompressed bytes
  std::uint64_t segments_read = 0;
  std::uint64_t segments_missing = 0;  // listed, then gone before we could open them
  std::uint64_t rotations_followed = 0;
  std::string first_corrupt;  // "file:line" of the first corrupt line, or empty
};

struct FollowControl {
  // Polled after every batch of records and at least every `wake_interval`; return
  // true to end follow() (it then returns Ok).
  std::function<bool()> stop;
  std::chrono::milliseconds wake_interval{200};
};

class EventLogReader {
 public:
  // Return false to stop reading (read_history/follow then return Ok at once).
  using Visitor = std::function<bool(const LogRecord&)>;

  explicit EventLogReader(std::string dir);
  ~EventLogReader();
  EventLogReader(const EventLogReader&) = delete;
  EventLogReader& operator=(const EventLogReader&) = delete;

  // Every record now in the log, oldest first. A missing dir or log is empty, not
  // an error; errors are I/O failures naming the file.
  Status read_history(const Visitor& visit);
  // The same, starting at `from` (SeqIndex::start_for): segments before its
  // file are skipped, and its file is entered at its offset (a gzip segment
  // is decompressed up to it). A position whose file is gone is read as if
  // from the oldest file left; the caller checks the first seq it gets.
  Status read_history_from(const LogPosition& from, const Visitor& visit);
  // The history, then new records as they are appended, until the visitor or
  // control.stop says stop. The dir must exist (error otherwise).
  Status follow(const Visitor& visit, const FollowControl& control);

  // Only records whose kind `wanted` accepts reach the visitor. The writer's
  // own lines are judged by their head (`{"seq":N,"time":"…","kind":"…"`)
  // before they are parsed, so a reader after a few kinds (`stats`: action
  // outcomes) parses only those; any other line is parsed and judged by its
  // "kind". Lines skipped unparsed are neither records nor checked for
  // corruption.
  void set_kind_filter(std::function<bool(std::string_view kind)> wanted) {
    kind_filter_ = std::move(wanted);
  }

  const EventLogReaderStats& stats() const { return stats_; }

 private:
  class LineBuffer;
  enum class Tail { kIgnore, kDropAsTorn, kHold };

  Status catch_up_and_open_live();
  Status read_segment(const LogSegment& seg);
  Status read_plain_fd(int fd, const std::string& name, Tail tail);
  Status read_gzip_fd(UniqueFd fd, const std::string& name, std::uint64_t skip = 0);
  Status read_live_available();
  void finish_file(Tail tail);
  // Consumes the complete lines in the buffer; returns false once the visitor
  // asked to stop.
  bool deliver_lines();
  bool deliver(std::string_view line);
  void close_live();
  Status wait_for_change(int inotify_fd, const FollowControl& control, bool& dir_gone);

  std::string dir_;
  std::string live_path_;
  simdjson::dom::parser parser_;
  std::unique_ptr<LineBuffer> buffer_;
  const Visitor* visit_ = nullptr;
  bool stopped_ = false;
  std::string current_file_;
  std::uint64_t current_line_ = 0;
  std::uint64_t last_segment_ = 0;   // every segment <= this has been delivered
  std::optional<LogPosition> seek_;  // read_history_from's start, until it is used
  std::function<bool(std::string_view)> kind_filter_;
  UniqueFd live_fd_;
  std::uint64_t live_offset_ = 0;
  dev_t live_dev_ = 0;
  ino_t live_ino_ = 0;
  EventLogReaderStats stats_;
};

}  // namespace aw
