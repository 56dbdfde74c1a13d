// The `move` and `quarantine` actions: move one file (or directory) into a
// directory, confined to a root, never overwriting, never following a symlink.
//
// Guarantees (docs/actions.md, "Safety"):
// - Both the source and the destination directory must lie under `root` (when
//   given). Every directory on both paths, from the root (or from "/" when
//   there is none) down, is opened without following symlinks
//   (confined_path.h), and a source that is itself a symlink is refused.
// - Nothing is overwritten: renameat2(RENAME_NOREPLACE); when the name is taken,
//   the first free `name.1.ext`, `name.2.ext`, ... is used.
// - Nothing is deleted, except the source of a cross-device move once its copy
//   is durable (copied to a temporary file, fsynced, renamed into place, the
//   directory fsynced).
//
// Blocking: call on the thread pool (uvx::queue_work), never on the loop.
#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <string>

#include "src/actions/action_outcome.h"
#include "src/core/clock.h"
#include "src/core/result.h"

namespace aw {

// Why a file was quarantined; written as JSON to "<final-name>.reason" beside it.
struct QuarantineNote {
  std::string reason;
  WallTime time{};
  std::string rule;
  std::uint64_t cause_seq = 0;
  // For a file quarantined because it is not valid JSON: the parser's error and
  // the byte offset it points at (written only when `error` is set).
  std::string error;
  std::uint64_t error_offset = 0;
};

struct MoveSpec {
  std::string source;  // file or directory to move; relative = relative to root (or cwd)
  std::string to;      // destination directory; relative = relative to root (or cwd)
  std::string root;    // "" = no confinement (symlinks are still refused everywhere)
  std::optional<QuarantineNote> quarantine;  // set for the quarantine action
  // Run again by a resumed plan (docs/intents.md): a source that is gone while
  // its name is in `to` was moved by the attempt the daemon died in, and counts
  // as moved.
  bool resumed = false;
};

// Carries out the move. Outcome fields: from, to (absolute paths), and for a
// quarantine reason_file. Categories: ok, validation (empty or bad paths),
// not_found (source missing), permission (symlink, outside the root, EACCES),
// resource (ENOSPC, EMFILE, ...), execution (anything else). With `resumed`,
// a source gone from its place and present in `to` is ok ("already moved").
ActionOutcome move_file(const MoveSpec& spec);

namespace detail {

// "a.json", 2 → "a.2.json"; "a", 1 → "a.1"; ".env", 1 → ".env.1";
// "a.tar.gz", 1 → "a.1.tar.gz". n = 0 gives the name unchanged.
std::string numbered_name(const std::string& name, int n);

// Claims a companion name for a candidate (the quarantine's ".reason" file)
// before the move, so the pair is always free together. Returns 0, -EEXIST to
// make the mover try the next candidate, or another -errno to fail.
struct Companion {
  std::function<int(const std::string& candidate)> claim;
  std::function<void(const std::string& candidate)> release;  // undo a claim
};

struct Placement {
  std::string final_name;
  bool copied = false;  // took the cross-device path
};

// Moves `name` from `src_dir` into `dst_dir` under the first free numbered name
// (see numbered_name) for which the companion (if any) can be claimed too.
// Same filesystem: renameat2(NOREPLACE). EXDEV, or `force_copy`: regular files
// only, copied to a temporary file in dst_dir (O_EXCL|O_NOFOLLOW, mode and
// mtime kept), fsynced, renamed NOREPLACE into place, dst_dir fsynced, then the
// source unlinked. Error codes are negative errno.
Result<Placement> place(int src_dir, const std::string& name, int dst_dir, bool force_copy,
                        const Companion* companion);

}  // namespace detail
}  // namespace aw
