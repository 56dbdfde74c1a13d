// The writer's seam to the OS, LevelDB-Env style (STYLE: "all OS access goes through
// an Env"): tests derive from FileOps to fail a write with ENOSPC, cut it short, or
// refuse a rename, which a real filesystem will not do on demand.
//
// Only the calls whose failures the writer must survive go through here; the thread
// pool's compression job uses the real calls directly. Methods follow the syscall
// conventions: -1 and errno on failure.
#pragma once

#include <sys/types.h>

#include <cstddef>

namespace aw {

class FileOps {
 public:
  virtual ~FileOps() = default;
  virtual ssize_t write(int fd, const void* data, std::size_t len);
  virtual int open(const char* path, int flags, mode_t mode);
  virtual int rename(const char* from, const char* to);

  // The process-wide pass-through to the real syscalls. Thread-safe; lives forever.
  static FileOps& real();
};

}  // namespace aw
