// The `ensure_file` action (DESIGN scenario 11): a file that must exist with
// given content and mode, typically an agent's hook script, is put back from
// its source copy when it has been deleted, replaced or made non-executable.
// A rule runs it on every change in the watched directory; the daemon's own
// restore makes a new event, which runs it again and finds the file intact:
// that second, cheap run (one read of each file, no write) is what ends the
// loop.
//
// Guarantees:
// - `path` and `keep` lie under `root` (when given); every directory on the
//   way is opened beneath it without following a symlink (confined_path.h),
//   and missing ones are created 0700.
// - The source is trusted configuration (it may lie outside the root), but is
//   read only as a regular file, never through a symlink at its last
//   component, and at most `max_bytes`. A source that cannot be read is a
//   failure and nothing at `path` changes: never a half-restored file, never
//   a loop of restores.
// - Nothing is deleted or overwritten. Whatever stands at `path` with other
//   content (a file, a symlink, a FIFO...) is first moved into `keep` under a
//   free numbered name (renameat2 NOREPLACE); a directory there is refused,
//   never moved. The restored file is written to a temporary file beside
//   `path` (O_EXCL|O_NOFOLLOW, exactly `mode` whatever the umask), fsynced,
//   renamed into place without replacing anything, and the directory fsynced:
//   readers see no file or the whole file, never a part.
// - Only the permission bits wrong: fixed with fchmod on the open file (same
//   inode, content untouched).
// - Idempotent and race-tolerant: when something appears at `path` while the
//   copy is being put in place (another run, the agent itself), the file is
//   judged once more instead of being overwritten; a second run finds it
//   intact.
//
// Blocking (reads, writes, fsync): call on the thread pool, never on the loop.
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <string>

#include "src/actions/action_outcome.h"

namespace aw {

struct EnsureFileSpec {
  std::string path;    // the file that must exist; relative = relative to root (or cwd)
  std::string source;  // where its content comes from; relative = as `path`; may be outside root
  std::string root;    // `path` and `keep` must lie under it; "" = no confinement (symlinks
                       // are still refused on the way)
  mode_t mode = 0700;  // the permission bits the file must have (at most 07777)
  std::string keep;    // where an entry with other content is moved before the restore;
                       // "" = "<dir of path>/.agentwatch-replaced"
  std::uint64_t max_bytes = std::uint64_t{1} << 20;  // a larger source is a failure
};

// Outcome fields, always: path, source (absolute), mode (wanted, "0755"),
// state: "intact" (nothing done), "mode_fixed" (with old_mode), "restored" (it
// was missing), "replaced" (with kept: where the old entry went) or "failed".
// bytes when the file was written. Failures: validation (no path or source,
// mode above 07777), permission (outside the root, a symlink on the way or as
// the source), not_found / resource / ... for the source (the message names
// it and says the file was not restored), execution for a directory at `path`.
ActionOutcome ensure_file(const EnsureFileSpec& spec);

}  // namespace aw
