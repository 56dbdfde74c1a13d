// Whole writes, durable replacement, directories and small reads: the file
// operations every layer repeats, written once. Each takes the Env it goes
// through (default: the real one), so a test can fail any of them.
//
// Blocking: call them on the thread pool, or at start-up and shutdown; never on
// the loop thread with a file that may be large or on slow storage.
// Thread safety: functions share nothing.
//
// Errors read "WHAT 'PATH': <errno text>" and carry the negative errno as code.
#pragma once

#include <sys/types.h>

#include <optional>
#include <string>
#include <string_view>

#include "src/core/result.h"
#include "src/os/env.h"

namespace aw {

// Writes all of `data` (retrying short writes and EINTR). "write failed: ...".
Status write_all(int fd, std::string_view data, Env& env = Env::real());

// write_all, then fsync ("fsync failed: ...").
Status write_all_and_sync(int fd, std::string_view data, Env& env = Env::real());

// mkdir -p with `mode` for each directory created. An error names the first
// directory that could not be made, or `path` if it exists and is not one.
Status make_dirs(const std::string& path, mode_t mode);

// The directory part of `path`: "." for a bare name, "/" for "/x".
std::string parent_dir(const std::string& path);

// The whole file; nullopt when it does not exist. For small files.
Result<std::optional<std::string>> read_file_if_exists(const std::string& path);

// Everything left to read from `fd`, up to `max_bytes` (more is an error,
// code -EFBIG). `shown` names the file in errors.
Result<std::string> read_fd(int fd, std::size_t max_bytes, std::string_view shown);

// The regular file `name` in the directory `dir_fd`, read whole: opened
// without following a symlink (O_NOFOLLOW; O_NONBLOCK, so a FIFO planted
// there cannot block), refused with -EINVAL when it is not a regular file,
// and at most `max_bytes` (-EFBIG beyond). `shown` names it in errors.
Result<std::string> read_regular_file_at(int dir_fd, const std::string& name, std::size_t max_bytes,
                                         std::string_view shown);

// The file's last `max_bytes` (all of it when shorter); nullopt when it does not
// exist. The text may begin inside a line.
Result<std::optional<std::string>> read_file_tail(const std::string& path, std::size_t max_bytes);

// Replaces `path` atomically and durably with `content` (temp file beside it,
// fsync, rename, fsync of the directory): readers and a crash see the old file
// or the new, never a part. The new file gets `mode`, whatever the umask.
Status write_file_durably(const std::string& path, std::string_view content, mode_t mode = 0644,
                          Env& env = Env::real());

// The two halves of write_file_durably, for a writer that appends to the new
// file between them. write_temp_beside writes and fsyncs a fresh temp file in
// `path`'s directory and returns its path. commit_temp renames it over `path`
// and, with `sync_dir`, fsyncs the directory; on failure the temp file is
// removed.
Result<std::string> write_temp_beside(const std::string& path, std::string_view content,
                                      mode_t mode = 0644, Env& env = Env::real());
Status commit_temp(const std::string& temp, const std::string& path, bool sync_dir,
                   Env& env = Env::real());

// fsync of a directory, so that a rename or create in it survives a crash.
Status sync_dir(const std::string& dir, Env& env = Env::real());

}  // namespace aw
