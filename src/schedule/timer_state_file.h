// The timers' state file: when each periodic job last ran (and, for a job that
// never ran, when it was first seen), so a restarted daemon knows what it
// missed (docs/schedule.md, "Where the state is kept").
//
// Format: the state-file format (src/core/state_file.h, docs/state-files.md),
// kind "timers", one record per job: name, last run, first seen; times in
// RFC 3339 UTC with milliseconds, "-" for none. The older format
// ("agentwatch-timers 1", tab-separated columns, the name percent-escaped) is
// still read, and read_timer_state() rewrites such a file in the current one.
//
// Reading is small and done once at start; writing (tmp, fsync, rename, fsync
// of the directory) blocks, so the scheduler runs it on the thread pool.
// Thread safety: the functions share nothing; each may run on any thread.
#pragma once

#include <string>
#include <string_view>

#include "src/core/result.h"
#include "src/schedule/schedule_plan.h"

namespace aw {

std::string serialize_timer_state(const JobRecords& records);

// Either format. Any defect makes the whole file unusable (a torn or foreign
// file says nothing trustworthy about any job). Errors read "PATH:LINE: ..." and say what
// was expected.
Result<JobRecords> parse_timer_state(std::string_view text, const std::string& path);

// Reads `path`. A missing file is an empty table; one in the older format is
// rewritten in the current one (best effort: else the next write does it). An unreadable or corrupt
// one is an error; a corrupt one is also renamed to `<path>.corrupt` (replacing an older one) so
// the next write does not destroy the evidence, and the error says so. Blocking (one small file).
Result<JobRecords> read_timer_state(const std::string& path);

// Replaces `path` atomically with `content` (the parent directory is created,
// 0700, if missing). Readers see the old file or the new, never a part.
// Blocking: thread pool only.
Status write_timer_state(const std::string& path, std::string_view content);

}  // namespace aw
