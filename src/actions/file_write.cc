#include "src/actions/file_write.h"

#include <fcntl.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <climits>

#include "src/os/errno_text.h"
#include "src/os/files.h"
#include "src/os/unique_fd.h"

namespace aw {
namespace {
std::atomic<unsigned long> g_temp_counter{0};
}  // namespace

std::string temporary_name(std::string_view name) {
  std::string suffix = "." + std::to_string(::getpid()) + "." +
                       std::to_string(g_temp_counter.fetch_add(1)) + ".agentwatch-tmp";
  std::size_t room = NAME_MAX - 1 - suffix.size();
  return "." + std::string(name.substr(0, room)) + suffix;
}

int rename_noreplace(int olddir, const std::string& oldname, int newdir,
                     const std::string& newname) {
  if (::renameat2(olddir, oldname.c_str(), newdir, newname.c_str(), RENAME_NOREPLACE) == 0)
    return 0;
  if (errno != EINVAL) return -errno;
  if (::linkat(olddir, oldname.c_str(), newdir, newname.c_str(), 0) != 0)
    return errno == EPERM ? -EINVAL : -errno;
  ::unlinkat(olddir, oldname.c_str(), 0);
  return 0;
}

Status write_file_replacing(int dirfd, const std::string& name, std::string_view content,
                            std::string_view shown) {
  std::string tmp;
  UniqueFd fd;
  for (int tries = 0; tries < 100 && !fd; ++tries) {
    tmp = temporary_name(name);
    fd.reset(
        ::openat(dirfd, tmp.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600));
    if (!fd && errno != EEXIST)
      return errno_error("cannot create a temporary file for '" + std::string(shown) + "'", errno);
  }
  if (!fd)
    return errno_error("cannot create a temporary file for '" + std::string(shown) + "'", EEXIST);
  Status written = write_all_and_sync(fd.get(), content);
  fd.reset();
  if (!written.ok()) {
    ::unlinkat(dirfd, tmp.c_str(), 0);
    return make_error("cannot write '" + std::string(shown) + "': " + written.error().message,
                      written.error().code);
  }
  if (::renameat(dirfd, tmp.c_str(), dirfd, name.c_str()) != 0) {
    int err = errno;
    ::unlinkat(dirfd, tmp.c_str(), 0);
    return errno_error("cannot rename into '" + std::string(shown) + "'", err);
  }
  if (::fsync(dirfd) != 0)
    return errno_error("cannot fsync the directory of '" + std::string(shown) + "'", errno);
  return Status::Ok();
}

}  // namespace aw
