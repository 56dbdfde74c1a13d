// Opening directories beneath a root without ever following a symlink.
//
// File actions act on paths that come from events (a file that landed in a
// watched directory), so anyone who can write there can plant a symlink. Every
// directory on the way from the root to the target is therefore opened relative
// to its parent with symlinks refused: openat2(RESOLVE_BENEATH |
// RESOLVE_NO_SYMLINKS | RESOLVE_NO_MAGICLINKS) on kernels that have it (5.6+), a
// component-by-component openat(O_NOFOLLOW) walk otherwise. `..` can never
// climb out of the root. The root itself is trusted configuration and is opened
// as written.
//
// Blocking (syscalls on the filesystem): call these on the thread pool. Thread
// safe: no shared state except the test switch below.
#pragma once

#include <optional>
#include <string>
#include <string_view>

#include "src/core/result.h"
#include "src/os/unique_fd.h"

namespace aw {

// Lexical normalisation: collapses "//" and ".", resolves ".." against the
// preceding component (never above "/"); no trailing slash except for "/".
// A relative path stays relative (a leading ".." is kept).
std::string normalize_path(std::string_view path);

// `path` made absolute against `base` (when relative) and normalised.
std::string absolute_path(std::string_view path, std::string_view base);

// The part of `path` below `root` ("" when they are the same), both normalised
// absolute paths; nullopt when `path` is not inside `root`.
std::optional<std::string> path_below(std::string_view root, std::string_view path);

struct OpenDirOptions {
  bool create = false;   // mkdirat(0700) missing components
  bool for_sync = true;  // O_RDONLY (fsync-able) rather than O_PATH for the last one
};

// Opens the directory `rel` (relative, normalised; "" = `dirfd` itself) beneath
// `dirfd` and returns an fd to it. `display_base` is the absolute path of dirfd,
// used only to name the offending component in errors. Errors carry a negative
// errno: -ELOOP (a symlink on the path; the message names it), -EXDEV (it would
// leave the root), -ENOENT (missing and !create), -ENOTDIR, -EACCES ...
Result<UniqueFd> open_dir_beneath(int dirfd, std::string_view display_base, std::string_view rel,
                                  const OpenDirOptions& options);

// The daemon's working directory ("/" when it cannot be read).
std::string current_directory();

// "dir/name", without doubling the slash of "/".
std::string join_path(const std::string& dir, const std::string& name);

// Where an action's walk starts and the path below it: `root` (normalised,
// absolute) and the part of `path` under it, or "/" and `path` without its
// slash when there is no root. nullopt when `path` is not under `root`.
struct ConfinedPath {
  std::string base;
  std::string rel;
};
std::optional<ConfinedPath> confine_below(const std::string& root, const std::string& path);

// A file action's root and how the action's paths resolve against it: `root`
// made absolute against the daemon's working directory ("" = no
// confinement); a relative path is relative to the root (or to the working
// directory without one); every walk starts at the root (or at "/").
class ActionRoot {
 public:
  explicit ActionRoot(const std::string& root);
  const std::string& root() const { return root_; }
  std::string absolute(std::string_view path) const { return absolute_path(path, base_); }
  std::optional<ConfinedPath> confine(const std::string& path) const {
    return confine_below(root_, path);
  }
  std::string walk_base() const { return root_.empty() ? "/" : root_; }

 private:
  std::string root_;
  std::string base_;
};

// Splits "a/b/c" into {"a/b", "c"} and "c" into {"", "c"}.
std::pair<std::string, std::string> split_parent(std::string_view rel);

// Tests only: pretend openat2 is missing (ENOSYS) so the fallback walk is used.
void force_openat2_fallback_for_testing(bool on);

}  // namespace aw
