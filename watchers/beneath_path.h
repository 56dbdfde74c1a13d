// Path arithmetic and symlink-proof opening inside a watch root.
//
// Paths inside a root are handled as "rel" strings: relative to the root, '/'
// separated, no leading or trailing '/', "" for the root itself. Opening goes
// component by component from a descriptor of the root with O_NOFOLLOW, so a
// symlink planted anywhere below the root (even one swapped in while we look) is
// never followed out of it (DESIGN §6 scenario 22).
//
// Thread safety: plain functions over their arguments; safe from any thread.
#pragma once

#include <string>
#include <string_view>

#include "src/core/result.h"

namespace aw {

// An absolute root path with "//", "/./" and a trailing '/' removed. Relative
// paths and ".." components are refused (a root must name one place).
Result<std::string> normalize_root_path(std::string_view path);

// "a/b" + "c" -> "a/b/c"; "" + "c" -> "c".
std::string join_rel(std::string_view dir_rel, std::string_view name);

// The absolute path of `rel` under `root` ("" -> root itself).
std::string join_abs(std::string_view root, std::string_view rel);

// True when `rel` is `prefix` or lies below it ("" is above everything).
bool rel_is_under(std::string_view rel, std::string_view prefix);

// The part of `rel` after the last '/' (all of it when there is none).
std::string_view rel_basename(std::string_view rel);
// The part before the last '/' ("" when there is none).
std::string_view rel_dirname(std::string_view rel);

// Opens directory `rel` below `root_fd` without following any symlink on the
// way: each component is opened with O_NOFOLLOW|O_DIRECTORY relative to the
// previous one. `flags` applies to the last component (e.g. O_RDONLY for
// fdopendir, O_PATH for a base to fstatat against); O_CLOEXEC is always added.
// Returns the new fd (caller closes) or a negative errno: -ELOOP / -ENOTDIR
// when a component is a symlink or not a directory, -ENOENT when it is gone.
int open_dir_beneath(int root_fd, std::string_view rel, int flags);

// Opens directory `rel` of the root at `root_path` the same way, starting from
// the root itself opened with O_NOFOLLOW (so a root swapped for a symlink is
// refused too). The root is opened per call, not held: an open descriptor would
// keep the kernel from reporting IN_DELETE_SELF when the root is deleted.
int open_in_root(const std::string& root_path, std::string_view rel, int flags);

}  // namespace aw
