#include "src/os/files.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cstdint>

#include "src/os/errno_text.h"
#include "src/os/unique_fd.h"

namespace aw {

Status write_all(int fd, std::string_view data, Env& env) {
  while (!data.empty()) {
    const ssize_t n = env.write(fd, data.data(), data.size());
    if (n < 0 && errno == EINTR) continue;
    // 0 for a non-empty buffer is not progress: no file does it, but a device or
    // a test's Env might, and looping on it would never end.
    if (n <= 0) return errno_error("write failed", n < 0 ? errno : EIO);
    data.remove_prefix(static_cast<std::size_t>(n));
  }
  return Status::Ok();
}

Status write_all_and_sync(int fd, std::string_view data, Env& env) {
  if (Status s = write_all(fd, data, env); !s.ok()) return s;
  if (env.fsync(fd) != 0) return errno_error("fsync failed", errno);
  return Status::Ok();
}

Status make_dirs(const std::string& path, mode_t mode) {
  if (path.empty()) return make_error("empty directory path");
  std::size_t pos = 0;
  while (pos != std::string::npos) {
    pos = path.find('/', pos + 1);
    const std::string partial = path.substr(0, pos);
    if (partial.empty()) continue;
    if (::mkdir(partial.c_str(), mode) != 0 && errno != EEXIST)
      return errno_error("cannot create directory '" + partial + "'", errno);
  }
  struct stat st {};
  if (::stat(path.c_str(), &st) != 0) return errno_error("cannot stat '" + path + "'", errno);
  if (!S_ISDIR(st.st_mode)) return make_error("'" + path + "' exists and is not a directory");
  return Status::Ok();
}

std::string parent_dir(const std::string& path) {
  const std::size_t slash = path.rfind('/');
  if (slash == std::string::npos) return ".";
  return slash == 0 ? "/" : path.substr(0, slash);
}

Result<std::optional<std::string>> read_file_if_exists(const std::string& path) {
  UniqueFd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
  if (!fd) {
    if (errno == ENOENT) return std::optional<std::string>();
    return errno_error("cannot open '" + path + "'", errno);
  }
  Result<std::string> text = read_fd(fd.get(), SIZE_MAX, path);
  if (!text.ok()) return text.error();
  return std::optional<std::string>(std::move(*text));
}

Result<std::string> read_fd(int fd, std::size_t max_bytes, std::string_view shown) {
  std::string text;
  char buf[16384];
  while (true) {
    const ssize_t n = ::read(fd, buf, sizeof buf);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return errno_error("cannot read '" + std::string(shown) + "'", errno);
    if (n == 0) break;
    if (static_cast<std::size_t>(n) > max_bytes - text.size())
      return make_error(
          "'" + std::string(shown) + "' is larger than " + std::to_string(max_bytes) + " bytes",
          -EFBIG);
    text.append(buf, static_cast<std::size_t>(n));
  }
  return text;
}

Result<std::string> read_regular_file_at(int dir_fd, const std::string& name, std::size_t max_bytes,
                                         std::string_view shown) {
  UniqueFd fd(::openat(dir_fd, name.c_str(), O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC));
  if (!fd) return errno_error("cannot open '" + std::string(shown) + "'", errno);
  struct stat st {};
  if (::fstat(fd.get(), &st) != 0)
    return errno_error("cannot stat '" + std::string(shown) + "'", errno);
  if (!S_ISREG(st.st_mode))
    return make_error("'" + std::string(shown) + "' is not a regular file", -EINVAL);
  return read_fd(fd.get(), max_bytes, shown);
}

Result<std::optional<std::string>> read_file_tail(const std::string& path, std::size_t max_bytes) {
  UniqueFd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
  if (!fd) {
    if (errno == ENOENT) return std::optional<std::string>();
    return errno_error("cannot open '" + path + "'", errno);
  }
  struct stat st {};
  if (::fstat(fd.get(), &st) != 0) return errno_error("cannot stat '" + path + "'", errno);
  const auto size = static_cast<std::size_t>(st.st_size);
  const std::size_t from = size > max_bytes ? size - max_bytes : 0;
  std::string text(size - from, '\0');
  std::size_t got = 0;
  while (got < text.size()) {
    const ssize_t n =
        ::pread(fd.get(), text.data() + got, text.size() - got, static_cast<off_t>(from + got));
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return errno_error("cannot read '" + path + "'", errno);
    if (n == 0) break;  // cut short meanwhile
    got += static_cast<std::size_t>(n);
  }
  text.resize(got);
  return std::optional<std::string>(std::move(text));
}

Result<std::string> write_temp_beside(const std::string& path, std::string_view content,
                                      mode_t mode, Env& env) {
  // Unique within the process; O_EXCL settles races with other processes.
  static std::atomic<unsigned> counter{0};
  const std::string temp =
      path + "." + std::to_string(::getpid()) + "." + std::to_string(counter.fetch_add(1)) + ".tmp";
  UniqueFd fd(env.open(temp.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, mode));
  if (!fd) return errno_error("cannot create '" + temp + "'", errno);
  // The mode asked for, whatever the umask.
  if (::fchmod(fd.get(), mode) != 0) {
    const int err = errno;
    ::unlink(temp.c_str());
    return errno_error("cannot set the mode of '" + temp + "'", err);
  }
  if (Status s = write_all_and_sync(fd.get(), content, env); !s.ok()) {
    ::unlink(temp.c_str());
    return make_error("cannot write '" + temp + "': " + s.error().message, s.error().code);
  }
  return temp;
}

Status sync_dir(const std::string& dir, Env& env) {
  UniqueFd dfd(env.open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC, 0));
  if (!dfd) return errno_error("cannot open the directory '" + dir + "'", errno);
  if (env.fsync(dfd.get()) != 0)
    return errno_error("cannot fsync the directory '" + dir + "'", errno);
  return Status::Ok();
}

Status commit_temp(const std::string& temp, const std::string& path, bool sync_directory,
                   Env& env) {
  // rename() replaces a symlink at `path`, never follows it.
  if (env.rename(temp.c_str(), path.c_str()) != 0) {
    const int err = errno;
    ::unlink(temp.c_str());
    return errno_error("cannot rename '" + temp + "' to '" + path + "'", err);
  }
  if (!sync_directory) return Status::Ok();
  return sync_dir(parent_dir(path), env);  // the rename itself must survive a crash too
}

Status write_file_durably(const std::string& path, std::string_view content, mode_t mode,
                          Env& env) {
  auto temp = write_temp_beside(path, content, mode, env);
  if (!temp) return temp.error();
  return commit_temp(*temp, path, true, env);
}

}  // namespace aw
