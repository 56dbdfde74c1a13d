// Names and discovery of the files that make up the event log in a state dir.
//
//   events.jsonl              the live file, appended to by the one EventLogWriter
//   events.000042.jsonl       a rotated segment not compressed yet (or mid-compression)
//   events.000042.jsonl.gz    a rotated, compressed segment
//   events.000042.jsonl.gz.tmp  a compression in progress (never read; removed on recovery)
//
// Segment numbers only grow: the writer continues from the highest number on disk, so
// "older" means "smaller number". Numbers are zero-padded to six digits and simply grow
// wider past 999999; parsing accepts any width and sorting is numeric.
//
// Plain blocking functions: the writer calls them at open (start-up) and on the thread
// pool; the reader (CLI) calls them anywhere.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "src/core/result.h"

namespace aw {

inline constexpr std::string_view kLiveLogFileName = "events.jsonl";

enum class SegmentForm { kPlain, kGzip, kGzipTmp };

// "events.000042.jsonl" / ".jsonl.gz" / ".jsonl.gz.tmp"
std::string log_segment_file_name(std::uint64_t number, SegmentForm form);
std::string log_segment_path(const std::string& dir, std::uint64_t number, SegmentForm form);
std::string live_log_path(const std::string& dir);

struct ParsedLogSegmentName {
  std::uint64_t number = 0;
  SegmentForm form = SegmentForm::kPlain;
};
// Recognises the three segment spellings above; anything else (including the live
// file) is not a segment.
bool parse_log_segment_file_name(std::string_view name, ParsedLogSegmentName& out);

// One rotated segment and the forms in which it currently exists. Both plain and
// gzip can exist at once for a moment (after the .gz is renamed into place and
// before the plain file is unlinked); then either holds the same complete data.
struct LogSegment {
  std::uint64_t number = 0;
  bool has_plain = false;
  bool has_gzip = false;
  bool has_gzip_tmp = false;
};

// The segments in `dir`, oldest (smallest number) first. A missing dir is an empty
// list, not an error; other failures to read the dir are errors naming it.
Result<std::vector<LogSegment>> list_log_segments(const std::string& dir);

// Highest segment number present in `segments` (0 when none).
std::uint64_t highest_log_segment_number(const std::vector<LogSegment>& segments);

}  // namespace aw
