#include "src/os/env.h"

#include <dirent.h>
#include <fcntl.h>
#include <sys/inotify.h>
#include <time.h>
#include <unistd.h>

#include <cerrno>
#include <charconv>
#include <cstring>
#include <memory>

#include "src/os/errno_text.h"
#include "src/os/files.h"
#include "src/os/unique_fd.h"

namespace aw {

int Env::open(const char* path, int flags, mode_t mode) {
  return ::open(path, flags, mode);
}

ssize_t Env::write(int fd, const void* data, std::size_t len) {
  return ::write(fd, data, len);
}

int Env::fsync(int fd) {
  return ::fsync(fd);
}

int Env::rename(const char* from, const char* to) {
  return ::rename(from, to);
}

int Env::ftruncate(int fd, off_t length) {
  return ::ftruncate(fd, length);
}

int Env::add_watch(int inotify_fd, const char* path, std::uint32_t mask) {
  return ::inotify_add_watch(inotify_fd, path, mask);
}

Result<std::string> Env::read_proc_stat(pid_t pid) {
  const std::string path = "/proc/" + std::to_string(pid) + "/stat";
  UniqueFd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
  if (!fd) return errno_error(path, errno);
  char buf[1024];  // a stat line is a few hundred bytes; comm is at most 64
  ssize_t n;
  do {
    n = ::read(fd.get(), buf, sizeof buf);
  } while (n < 0 && errno == EINTR);
  if (n < 0) return errno_error(path, errno);
  return std::string(buf, static_cast<std::size_t>(n));
}

Result<std::string> Env::read_proc_environ(pid_t pid) {
  const std::string path = "/proc/" + std::to_string(pid) + "/environ";
  auto text = read_file_if_exists(path);
  if (!text) return text.error();
  if (!*text) return errno_error(path, ENOENT);  // no such process
  return std::move(**text);
}

Result<std::vector<pid_t>> Env::list_pids() {
  std::unique_ptr<DIR, int (*)(DIR*)> dir(::opendir("/proc"), ::closedir);
  if (!dir) return errno_error("/proc", errno);
  std::vector<pid_t> pids;
  while (const dirent* e = ::readdir(dir.get())) {
    pid_t pid = 0;
    const char* name = e->d_name;
    const char* end = name + std::strlen(name);
    auto [p, ec] = std::from_chars(name, end, pid);
    if (ec == std::errc() && p == end && pid > 0) pids.push_back(pid);
  }
  return pids;
}

Result<std::string> Env::read_proc_exe(pid_t pid) {
  const std::string path = "/proc/" + std::to_string(pid) + "/exe";
  char buf[4096];
  const ssize_t n = ::readlink(path.c_str(), buf, sizeof buf);
  if (n < 0) return errno_error(path, errno);
  return std::string(buf, static_cast<std::size_t>(n));
}

Result<WallTime> Env::boot_time() {
  timespec real{};
  timespec boot{};
  if (::clock_gettime(CLOCK_REALTIME, &real) != 0 || ::clock_gettime(CLOCK_BOOTTIME, &boot) != 0)
    return errno_error("clock_gettime", errno);
  auto ns = [](const timespec& t) {
    return std::chrono::seconds(t.tv_sec) + std::chrono::nanoseconds(t.tv_nsec);
  };
  return WallTime(std::chrono::duration_cast<Duration>(ns(real) - ns(boot)));
}

Env& Env::real() {
  static Env env;  // stateless: every call goes straight to the kernel
  return env;
}

}  // namespace aw
