#include "src/eventlog/file_ops.h"

#include <fcntl.h>
#include <unistd.h>

#include <cstdio>

namespace aw {

ssize_t FileOps::write(int fd, const void* data, std::size_t len) {
  return ::write(fd, data, len);
}
int FileOps::open(const char* path, int flags, mode_t mode) {
  return ::open(path, flags, mode);
}
int FileOps::rename(const char* from, const char* to) {
  return ::rename(from, to);
}

FileOps& FileOps::real() {
  static FileOps ops;
  return ops;
}

}  // namespace aw
