// gzip_copy: compress what one open file holds into another, with zlib.
//
// Both log rotation (src/actions/rotate_file) and the event log's segment
// maintenance (src/eventlog) keep gzip'd copies; they differ in how they name,
// fsync and rename the result, not in how the bytes are compressed.
//
// Blocking I/O: call it on the thread pool, never on the loop thread.
// Thread safety: reentrant; the fds belong to the caller.
#pragma once

#include <cstdint>
#include <string>

#include "src/core/result.h"

namespace aw {

// Reads `in_fd` from its current offset to its end and writes it gzip'd
// (level 6) to `out_fd`, which stays open and is not fsynced: durability and
// the final rename are the caller's. Returns the number of bytes read. The
// names only go into error messages ("cannot read IN_NAME: ...", "cannot write
// OUT_NAME: ..."); an error's code is -errno (-EIO for a zlib failure).
Result<std::uint64_t> gzip_copy(int in_fd, int out_fd, const std::string& in_name,
                                const std::string& out_name);

}  // namespace aw
