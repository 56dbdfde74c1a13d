// SeqIndex: a sparse map from an event's seq to where its line starts in the
// event log, so that a reader who wants "everything after seq N" (an SSE client
// reconnecting with Last-Event-ID, docs/http.md) starts near N instead of at
// the oldest segment: a reconnect costs at most one stride of reading, not the
// whole history.
//
// The writer keeps it (EventLogWriter::seq_index): it sees every byte it
// appends, and marks the first line that starts at or after every `stride`
// bytes of a file. Files written before the writer opened are sampled once, on
// the thread pool (sample_log_file): plain files every stride, gzip segments
// only at their first line, because a gzip stream cannot be entered in the
// middle anyway (reading from an offset in one decompresses up to it, which is
// still far cheaper than parsing the lines).
//
// A position names the file by its segment number: the live events.jsonl has
// the number it will get when rotated (the highest number on disk + 1). That
// way an entry stays true across a rotation, which only renames the file.
//
// An index can be wrong only if the log was edited by hand; readers check the
// seq of the first line they read at a position and fall back to reading from
// the start when it differs (EventStreams does).
//
// Pure data; loop thread only (the writer's thread).
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "src/core/result.h"

namespace aw {

struct LogPosition {
  std::uint64_t segment = 0;  // the file's segment number (the live file's future one)
  std::uint64_t offset = 0;   // of the line's first byte, in the uncompressed bytes
  std::uint64_t seq = 0;      // of the event on that line
  bool operator==(const LogPosition&) const = default;
};

class SeqIndex {
 public:
  static constexpr std::uint64_t kDefaultStride = 256 * 1024;

  explicit SeqIndex(std::uint64_t stride = kDefaultStride) : stride_(stride ? stride : 1) {}

  // `bytes` were appended to segment `segment` at `offset`. Consecutive calls
  // for one segment must be contiguous; a call for another segment starts
  // that segment afresh (a rotation, or a reopened live file).
  void note_appended(std::uint64_t segment, std::uint64_t offset, std::string_view bytes);
  // The live file was (re)opened at `size` bytes: its entries are forgotten
  // (it may be another file), and marking starts again at the next line start
  // (at `size` itself when the caller knows the file ends with a '\n').
  void restart_segment(std::uint64_t segment, std::uint64_t size, bool at_line_start);
  // Positions found by sampling files written before this index began; any
  // that lie in a forgotten segment are dropped.
  void add_sampled(const std::vector<LogPosition>& positions);
  // Segments below `segment` were (or are about to be) pruned.
  void forget_segments_below(std::uint64_t segment);

  // Where a reader should start to see every event after `after`: the last
  // entry whose seq is at most after + 1. nullopt: read from the start.
  std::optional<LogPosition> start_for(std::uint64_t after) const;

  std::size_t size() const { return entries_.size(); }
  const std::vector<LogPosition>& entries() const { return entries_; }

 private:
  void mark(std::uint64_t segment, std::uint64_t offset, std::uint64_t seq);

  std::uint64_t stride_;
  std::vector<LogPosition> entries_;      // ascending by (segment, offset)
  std::uint64_t floor_ = 0;               // segments below this are forgotten
  std::optional<std::uint64_t> segment_;  // the one note_appended last saw
  std::uint64_t end_ = 0;                 // its byte count so far
  std::uint64_t next_mark_ = 0;           // the next line start at or after this is marked
  bool at_line_start_ = true;             // the byte at end_ starts a line
  std::string head_;                      // a line to mark whose head an append cut off
  std::uint64_t head_at_ = 0;             // where that line starts
};

// The seq at the head of a logged line, `{"seq":123,...` (the writer always
// puts it first: to_json_line). nullopt when the bytes do not start that way.
std::optional<std::uint64_t> leading_seq(std::string_view line);

// Samples one file of the log for SeqIndex::add_sampled: plain files every
// `stride` bytes (up to `limit` bytes when given: the live file's size when
// the writer opened it), gzip files only at their first line. Errors name the
// file; a file that is gone is an empty list.
Result<std::vector<LogPosition>> sample_log_file(const std::string& path, std::uint64_t segment,
                                                 bool gzip, std::uint64_t stride,
                                                 std::optional<std::uint64_t> limit = {});

}  // namespace aw
