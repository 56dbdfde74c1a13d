// Where a repository keeps its HEAD reflog. Small blocking reads of local
// files (a `.git` file of a few bytes): fine at configuration time on the loop.
#pragma once

#include <string>

#include "src/core/result.h"

namespace aw {

// The git directory of `repo` (absolute): `repo/.git` when it is a directory;
// the target of `repo/.git` when it is a file saying "gitdir: <path>" (linked
// worktrees and submodules; a relative path is taken from `repo`); `repo`
// itself when it holds HEAD and objects/ (or commondir, for a worktree's own
// git dir). Errors name the path and what was expected.
Result<std::string> find_git_dir(const std::string& repo);

// `<git_dir>/logs/HEAD`.
std::string head_reflog_path(const std::string& git_dir);

}  // namespace aw
