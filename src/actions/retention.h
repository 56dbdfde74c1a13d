// Retention (DESIGN scenario 12: "disk space low → retention cleanup,
// completed 7 days, failed 30 days"): the thread-pool half of the `retain`
// action, which deletes the entries of one directory (result files, whole
// session directories) older than a maximum age, and the disk-space reading
// and thresholds that a rule uses to decide when to run it.
//
// This module deletes data, so its guarantees are about what it never touches:
// - `dir` lies under `root` and is opened beneath it without following a
//   symlink anywhere on the way (confined_path.h); a symlink as `dir` itself
//   is refused (-ELOOP). `dir` is never "/" and is never deleted itself: only
//   its entries are candidates.
// - Nothing is ever followed: an entry's age comes from fstatat
//   (AT_SYMLINK_NOFOLLOW); a symlink, as an entry or anywhere inside a
//   directory being deleted, is unlinked as a link and its target is never
//   looked at. A directory is deleted through descriptors only (openat
//   O_DIRECTORY|O_NOFOLLOW, readdir, unlinkat relative to the opened fd),
//   never by walking a path string, so a directory swapped for a symlink
//   while we work cannot redirect the delete.
// - A directory entry (a session) is as old as the NEWEST mtime of anything
//   in it, itself included: a session with one young file is kept whole. An
//   entry is looked at again just before it is deleted, so one that was
//   written to since the listing is kept.
// - Refused (reported in `skipped`, nothing of them deleted): trees deeper
//   than kRetentionMaxDepth levels; any tree a part of which cannot be read
//   (its age is then unknown); and old entries that are neither files,
//   symlinks nor directories (FIFOs, sockets, devices; inside a directory
//   being deleted such nodes are unlinked, never opened). Temporaries of
//   other actions in flight (".<name>...agentwatch-tmp", file_write.h) are
//   not touched, however old.
// - One entry that cannot be deleted (or only partly) is reported in
//   `skipped` with the system's reason; the run goes on with the next one.
//   Only a failure to open `dir` itself fails the call.
// - Bounded work: at most `max_entries` deletions per call, oldest first;
//   `more` says that due entries were left for the next call.
// Deletions are not fsynced: after a crash an entry may come back, and the
// next run deletes it again.
//
// Blocking: call apply_retention and disk_space on the thread pool, never on
// the loop. Thread safe: no shared state. Two runs on one directory at once
// are safe (each deletes what it finds; one that loses a race sees ENOENT and
// moves on) but wasteful.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "src/actions/action_outcome.h"
#include "src/core/clock.h"
#include "src/core/disk_threshold.h"
#include "src/core/result.h"

namespace aw {

// Directories nested deeper than this below an entry (the entry being level
// 1) make the entry refused: bounded recursion and bounded open descriptors.
inline constexpr int kRetentionMaxDepth = 64;

struct RetentionSpec {
  // The directory whose ENTRIES are candidates (e.g. <root>/completed);
  // relative = relative to root (or to the working directory without one).
  std::string dir;
  std::string root;     // "" = no confinement (symlinks are still refused on the way)
  Duration max_age{0};  // entries strictly older than this are deleted; must be > 0
  WallTime now{};       // age = now - the entry's newest mtime; must be set
  // Only entries whose name matches (glob.h, path mode); "" = every entry.
  std::string glob;
  std::size_t max_entries = 10000;  // at most this many deletions per call; at least 1
};

struct RetainedDeletion {
  std::string path;  // absolute
  // Sum of st_size of the regular files removed (the apparent size; a file
  // with other hard links frees nothing, a sparse one frees less).
  std::uint64_t bytes = 0;
  Duration age{0};
  bool directory = false;
};

struct RetentionResult {
  std::vector<RetainedDeletion> deleted;  // in the order deleted: oldest first
  // What deletions freed, including the parts of entries that could only be
  // partly deleted (so it may exceed the sum of deleted[].bytes).
  std::uint64_t bytes_freed = 0;
  std::size_t kept = 0;  // candidates (glob matched) not older than max_age
  bool more = false;     // due entries left over because of max_entries
  // "path: why" for each entry that could not be judged or deleted, or was
  // only partly deleted ("partly deleted (N files, B bytes removed): ...").
  std::vector<std::string> skipped;
};

// Deletes the entries of spec.dir older than spec.max_age, as described at
// the top. Errors (negative errno in Error::code): -EINVAL a bad spec (empty
// dir, dir "/", max_age <= 0, now unset, max_entries 0, a bad glob); -EXDEV
// dir outside root; -ELOOP a symlink on the way to dir or as dir; -ENOENT,
// -ENOTDIR, -EACCES, ... opening or listing dir.
Result<RetentionResult> apply_retention(const RetentionSpec& spec);

// The action's outcome: success (also with entries skipped: `skipped` counts
// them and the message quotes the first) with fields dir (absolute), deleted
// (count), bytes_freed, kept, more (bool: true/false), skipped (count); or the
// failure categorised by errno (fs_failure.h; a bad spec is `validation`)
// with field dir.
ActionOutcome retention_outcome(const RetentionSpec& spec, const Result<RetentionResult>& r);

// ---- disk space ----

// statvfs of the filesystem holding `path` (followed as written: only
// numbers are read). Errors: "cannot read the disk space of 'PATH': ...".
Result<DiskSpace> disk_space(const std::string& path);

}  // namespace aw
