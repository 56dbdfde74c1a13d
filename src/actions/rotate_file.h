// The `rotate` action: size/age rotation of one log file, logrotate style
// (DESIGN §6 scenario 13: keep N, gzip; writer unaffected; tailing continues;
// no line lost).
//
// What one rotation does, in this order (N counts from 1; `.gz` where compressed):
//   1. Delete every generation that would fall beyond `keep` (path.keep and up),
//      and stray `path.N.gz.tmp` files (an earlier compression cut short).
//   2. Shift the rest up by one, oldest first: path.N(.gz) → path.N+1(.gz).
//   3. Move the live file away:
//      - kRename: rename path → path.1. The writer keeps writing to the renamed
//        inode until it reopens the name (logpipe does before its next write;
//        a writer that never reopens must use kCopyTruncate). The log tailer
//        reads that inode to its end, then the new file at the name.
//      - kCopyTruncate: copy path → path.1 (through path.1.tmp, fsynced), then
//        truncate path to 0 in place. For foreign writers that cannot reopen.
//        LOSSY BY DESIGN: what the writer appends between the end of the copy
//        and the truncation is in neither file (the copy is topped up once just
//        before truncating, which narrows the window but cannot close it).
//   4. If `compress`: gzip every plain generation from path.2 up (normally just
//      the one that became .2) into path.N.gz via path.N.gz.tmp, fsync, rename,
//      fsync the directory, unlink the plain file. path.1 is never compressed
//      (logrotate's delaycompress): right after a rename rotation a writer that
//      has not reopened yet, or a tailer draining it, may still be on it. By the
//      next rotation both have moved on: the new file at the name only exists
//      once the writer reopened (or something else created it).
//   5. fsync the directory.
// A crash anywhere leaves every byte in some generation (plain or .gz; a
// complete .gz beside its plain file is resolved in favour of the .gz by the
// next rotation). Nothing outside the log's own generations is touched.
//
// When a rotation is due (either trigger; a trigger set to 0 is off; with both
// off every call rotates, for "rotate now" rules):
//   - size: st_size >= max_size.
//   - age: now - start >= max_age, where `start`, the beginning of the current
//     generation, is the LATER of the file's birth time (statx; kept by the
//     kRename scheme, since the writer creates each generation) and the mtime of
//     path.1 (when the previous generation stopped being written; the only
//     reference after a kCopyTruncate rotation, which keeps the inode and so its
//     birth time). ctime is no use: every write moves it. With neither (a
//     filesystem without birth times and no previous rotation) the age is
//     unknown and the age trigger does not fire; the reason says so.
// An empty file is never rotated.
//
// Symlinks are never followed: a symlink at `path` is refused (ELOOP), and
// every generation is opened, renamed and deleted relative to the directory fd
// by name only, with O_NOFOLLOW where opened; a symlink planted as a generation
// is moved or deleted as a link, never read through. The directory is opened as
// written (trusted configuration), or, when `root` is set, beneath the root
// without following any symlink (confined_path.h), like the file actions.
//
// Concurrency: one rotation per directory at a time, by a non-blocking flock()
// on the directory; a second one finds it busy and returns rotated=false.
//
// Blocking (rename, copy, gzip, fsync): call on the thread pool
// (uvx::queue_work), never on the loop. Thread safe: no shared state.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "src/actions/action_outcome.h"
#include "src/core/clock.h"
#include "src/core/result.h"

namespace aw {

struct RotatePolicy {
  std::uint64_t max_size = 0;  // bytes; 0 = no size trigger
  Duration max_age{0};         // 0 = no age trigger
  int keep = 5;                // generations kept: path.1 .. path.keep; at least 1
  bool compress = true;        // gzip path.2 and up
  enum Method { kRename, kCopyTruncate } method = kRename;
  std::string root;  // "" = the directory is trusted as written; else path must lie under it
};

struct RotateResult {
  bool rotated = false;
  // Why it was due ("size 2048 >= max_size 1024", "age 2h >= max_age 1h",
  // "forced") or why not ("not due: size 10 < max_size 1024", "empty", "busy").
  std::string reason;
  std::uint64_t bytes = 0;              // size of the generation rotated (what went to path.1)
  std::string rotated_to;               // path.1 when rotated
  std::vector<std::string> renamed;     // "from -> to", paths
  std::vector<std::string> compressed;  // .gz files written
  std::vector<std::string> deleted;     // generations (and stray .tmp files) removed
  std::uint64_t plain_bytes = 0;        // bytes gzipped
  std::uint64_t gzip_bytes = 0;         // bytes written as .gz
  // Set when step 4 failed (names the file and the system's message). The
  // rotation itself stands, so this is not an error: the plain generation stays
  // and the next rotation compresses it.
  std::string compress_error;
};

// Rotates `path` (absolute) if due under `policy` at `now`, as described above. Errors
// (negative errno in Error::code) name the file and what was expected:
// -EINVAL a bad policy (keep < 1) or path; -ENOENT no file at path; -ELOOP a
// symlink; -EXDEV outside the root; others from the system. An error in step 4
// is not an error of the call (see RotateResult::compress_error).
Result<RotateResult> rotate_file(const std::string& path, const RotatePolicy& policy, WallTime now);

// The action's outcome: success (also when not due: `rotated` = false says so)
// with fields path, rotated, reason, bytes and to (when rotated), renamed,
// compressed, deleted (counts), plain_bytes, gzip_bytes, compress_error (when
// set); or the failure categorised by errno (fs_failure.h) with field path.
ActionOutcome rotate_outcome(const std::string& path, const Result<RotateResult>& result);

}  // namespace aw
