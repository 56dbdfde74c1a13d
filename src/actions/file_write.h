// Durable small writes relative to a directory fd. Blocking: thread pool only.
#pragma once

#include <string>
#include <string_view>

#include "src/core/result.h"
#include "src/os/files.h"  // write_all_and_sync

namespace aw {

// A fresh name for a temporary file in the same directory as `name`:
// ".<name>.<pid>.<counter>.agentwatch-tmp", shortened so it fits NAME_MAX.
// Unique within this process; O_EXCL settles races with other processes.
std::string temporary_name(std::string_view name);

// renameat2(RENAME_NOREPLACE), or link + unlink on filesystems without it
// (link fails with EEXIST just the same, so nothing is ever replaced). 0 or a
// negative errno.
int rename_noreplace(int olddir, const std::string& oldname, int newdir,
                     const std::string& newname);

// Replaces `name` in `dirfd` atomically: a temporary file (O_EXCL|O_NOFOLLOW,
// mode 0600) is written and fsynced, renamed over `name` (a symlink at `name`
// is replaced, never followed), then the directory is fsynced. Readers see the
// old content or the new, never a part. `shown` is the path used in errors.
Status write_file_replacing(int dirfd, const std::string& name, std::string_view content,
                            std::string_view shown);

}  // namespace aw
