// Pure decoding of the bytes read(2) returns from an inotify fd (STYLE §3).
//
// The kernel hands out whole `struct inotify_event` records, each followed by a
// NUL-padded name of `len` bytes. This decoder turns a buffer of them into plain
// records without touching the fd, the loop or the file system, so every corner
// (several records per buffer, overflow, IN_IGNORED, a truncated or lying
// buffer) is unit-tested on hand-built bytes.
//
// Thread safety: stateless; call from any thread.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>
#include <string>
#include <vector>

namespace aw {

struct InotifyRecord {
  int wd = -1;               // watch descriptor; -1 for IN_Q_OVERFLOW
  std::uint32_t mask = 0;    // raw IN_* bits
  std::uint32_t cookie = 0;  // pairs IN_MOVED_FROM with IN_MOVED_TO; 0 otherwise
  std::string name;          // entry name inside the watched dir; empty for the dir itself
  bool is_dir = false;       // IN_ISDIR: the subject is a directory
  bool overflow = false;     // IN_Q_OVERFLOW: the kernel dropped events; rescan
  bool ignored = false;      // IN_IGNORED: the watch `wd` no longer exists
  bool unmount = false;      // IN_UNMOUNT: the file system under `wd` went away

  friend bool operator==(const InotifyRecord&, const InotifyRecord&) = default;
};

struct InotifyDecodeResult {
  // Bytes covered by the whole, valid records that were appended. Equal to the
  // buffer size unless `malformed`.
  std::size_t consumed = 0;
  // The buffer ended inside a record or a record lied about its length. The
  // kernel never does this, so the caller has lost sync with the queue and must
  // treat it like an overflow (rescan), not guess.
  bool malformed = false;
  std::string error;  // what was wrong and at which offset, when malformed
};

class InotifyDecoder {
 public:
  // Longest `len` accepted: NAME_MAX + 1 rounded up to the kernel's 16-byte
  // padding, with headroom. Anything larger is a corrupt buffer, not a name.
  static constexpr std::uint32_t kMaxNameLen = 4096;

  // Appends one record per whole event in `bytes` to `out` (which is not
  // cleared, so a caller can reuse its capacity). Stops at the first malformed
  // record; records before it are kept. Stops after `max_records` records too
  // (not malformed: `consumed` says where the next one starts), so a caller
  // holding a backlog decodes it in slices.
  static InotifyDecodeResult decode(std::span<const std::uint8_t> bytes,
                                    std::vector<InotifyRecord>& out,
                                    std::size_t max_records = SIZE_MAX);
};

}  // namespace aw
