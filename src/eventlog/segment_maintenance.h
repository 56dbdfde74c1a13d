// The slow half of rotation: compressing a rotated segment and enforcing `keep`.
//
// Both functions block (read, gzip, fsync, unlink) and are meant for the thread pool
// (the EventLogWriter queues them with uvx::queue_work, one job at a time). They touch
// only the files of the segments they are given and are crash-safe:
//
//   compress: events.N.jsonl --gzip--> events.N.jsonl.gz.tmp --fsync, rename--> .gz,
//             fsync(dir), unlink(events.N.jsonl)
//
// A crash at any point leaves either the plain file (compress again: the .tmp is
// rewritten from scratch) or a complete .gz (the plain file, if still there, is
// simply unlinked). A reader can always read a segment from one of the two forms.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>

#include "src/core/result.h"

namespace aw {

struct CompressOutcome {
  bool compressed = false;  // false: nothing to do (already compressed, or pruned)
  std::uint64_t plain_bytes = 0;
  std::uint64_t gzip_bytes = 0;
};

// Compresses segment `number` in `dir` as above. An error names the file and leaves
// the plain segment in place (the .tmp is removed).
Result<CompressOutcome> compress_log_segment(const std::string& dir, std::uint64_t number);

// Deletes the oldest rotated segments (every form) so that at most `keep` remain, and
// removes stray .gz.tmp files of the segments it keeps. Must not run while a
// compression is in flight in the same dir (it would remove that job's .tmp); the
// writer serialises its jobs. Returns how many segments were deleted.
Result<std::size_t> prune_log_segments(const std::string& dir, std::size_t keep);

}  // namespace aw
