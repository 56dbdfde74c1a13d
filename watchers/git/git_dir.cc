#include "watchers/git/git_dir.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>

#include "src/os/errno_text.h"
#include "src/os/unique_fd.h"

namespace aw {
namespace {

bool is_dir(const std::string& path) {
  struct stat st {};
  return ::stat(path.c_str(), &st) == 0 && S_ISDIR(st.st_mode);
}

bool is_file(const std::string& path) {
  struct stat st {};
  return ::stat(path.c_str(), &st) == 0 && S_ISREG(st.st_mode);
}

bool looks_like_git_dir(const std::string& dir) {
  return is_file(dir + "/HEAD") && (is_dir(dir + "/objects") || is_file(dir + "/commondir"));
}

}  // namespace

std::string head_reflog_path(const std::string& git_dir) {
  return (git_dir == "/" ? "" : git_dir) + "/logs/HEAD";
}

Result<std::string> find_git_dir(const std::string& repo) {
  if (repo.empty() || repo[0] != '/')
    return make_error("git repo '" + repo + "': expected an absolute path", -EINVAL);
  std::string base = repo;
  while (base.size() > 1 && base.back() == '/') base.pop_back();
  const std::string dot_git = (base == "/" ? "" : base) + "/.git";
  struct stat st {};
  if (::stat(dot_git.c_str(), &st) == 0) {
    if (S_ISDIR(st.st_mode)) return dot_git;
    if (S_ISREG(st.st_mode)) {
      UniqueFd fd(::open(dot_git.c_str(), O_RDONLY | O_CLOEXEC | O_NONBLOCK));
      if (!fd) return errno_error("cannot read " + dot_git, errno);
      char buf[4096];
      const ssize_t n = ::read(fd.get(), buf, sizeof buf);
      if (n < 0) return errno_error("cannot read " + dot_git, errno);
      std::string text(buf, static_cast<std::size_t>(n));
      constexpr std::string_view kPrefix = "gitdir: ";
      if (text.rfind(kPrefix, 0) != 0)
        return make_error(dot_git + ": expected a line 'gitdir: <path>'", -EINVAL);
      std::string target = text.substr(kPrefix.size());
      while (!target.empty() && (target.back() == '\n' || target.back() == '\r')) target.pop_back();
      if (target.empty()) return make_error(dot_git + ": 'gitdir:' names no path", -EINVAL);
      if (target[0] != '/') target = base + "/" + target;
      if (!looks_like_git_dir(target))
        return make_error(dot_git + " points to " + target + ", which is not a git directory",
                          -ENOENT);
      return target;
    }
  }
  if (looks_like_git_dir(base)) return base;
  if (!is_dir(base)) return make_error("git repo " + base + ": no such directory", -ENOENT);
  return make_error("git repo " + base +
                        ": not a git work tree or git directory (expected .git, or HEAD and "
                        "objects/ in it)",
                    -ENOENT);
}

}  // namespace aw
