#include "src/daemon/instance_lock.h"

#include <fcntl.h>
#include <sys/file.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <string>
#include <utility>

#include "src/os/errno_text.h"

namespace aw {
namespace {

int read_pid(int fd) {
  char buf[32] = {};
  ssize_t n = pread(fd, buf, sizeof buf - 1, 0);
  if (n <= 0) return 0;
  return std::atoi(buf);
}

}  // namespace

Result<InstanceLock> InstanceLock::acquire(const std::string& path) {
  UniqueFd fd(open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600));
  if (!fd) return errno_error("cannot open lock file " + path, errno);
  if (flock(fd.get(), LOCK_EX | LOCK_NB) != 0) {
    int err = errno;
    int pid = read_pid(fd.get());
    if (err == EWOULDBLOCK)
      return make_error("agentwatch is already running (pid " + std::to_string(pid) + ", lock " +
                        path + ")");
    return errno_error("cannot lock " + path, err);
  }
  std::string pid = std::to_string(getpid()) + "\n";
  if (ftruncate(fd.get(), 0) != 0 ||
      pwrite(fd.get(), pid.data(), pid.size(), 0) != static_cast<ssize_t>(pid.size())) {
    int err = errno;
    return errno_error("cannot write pid to " + path, err);
  }
  return InstanceLock(std::move(fd));
}

int InstanceLock::holder(const std::string& path) {
  const UniqueFd fd(open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NOFOLLOW));
  if (!fd) return 0;
  int pid = 0;
  // If we can take a shared lock, nobody holds the exclusive one: no daemon.
  if (flock(fd.get(), LOCK_SH | LOCK_NB) != 0 && errno == EWOULDBLOCK) pid = read_pid(fd.get());
  return pid;
}

}  // namespace aw
