#include "src/daemon/instance_lock.h"

#include <fcntl.h>
#include <sys/stat.h>
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

// The whole file, as one POSIX record lock (fcntl(2)), not flock(2): a record
// lock belongs to the process and is gone the moment it dies, while an flock
// belongs to the open file description, which a posix_spawn child shares for
// as long as it has not yet exec'd (O_CLOEXEC closes it only at the exec).
// A daemon SIGKILLed while spawning would leave its lock held by a child for a
// while, and the restart refused (docs/crash-testing.md, fault 5). The price of
// record locks: closing ANY fd of this file in the daemon drops the lock, so
// the daemon never opens its own lock file a second time.
struct flock whole_file(short type) {
  struct flock l {};
  l.l_type = type;
  l.l_whence = SEEK_SET;
  l.l_start = 0;
  l.l_len = 0;  // to the end, however long
  return l;
}

}  // namespace

Result<InstanceLock> InstanceLock::acquire(const std::string& path) {
  UniqueFd fd(open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600));
  if (!fd) return errno_error("cannot open lock file " + path, errno);
  struct flock lock = whole_file(F_WRLCK);
  if (fcntl(fd.get(), F_SETLK, &lock) != 0) {
    int err = errno;
    int pid = read_pid(fd.get());
    if (err == EAGAIN || err == EACCES)
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

bool InstanceLock::is_at(const std::string& path) const {
  struct stat held {};
  struct stat named {};
  return fstat(fd_.get(), &held) == 0 && lstat(path.c_str(), &named) == 0 &&
         held.st_dev == named.st_dev && held.st_ino == named.st_ino;
}

int InstanceLock::holder(const std::string& path) {
  const UniqueFd fd(open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NOFOLLOW));
  if (!fd) return 0;
  // F_GETLK names the process that holds a lock in our way (in our PID
  // namespace); none: no daemon.
  struct flock probe = whole_file(F_WRLCK);
  if (fcntl(fd.get(), F_GETLK, &probe) != 0 || probe.l_type == F_UNLCK) return 0;
  return probe.l_pid;
}

}  // namespace aw
