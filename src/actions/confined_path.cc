#include "src/actions/confined_path.h"

#include <fcntl.h>
#include <linux/openat2.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <climits>
#include <vector>

#include "src/os/errno_text.h"

namespace aw {
namespace {

std::atomic<bool> g_force_fallback{false};
std::atomic<bool> g_openat2_missing{false};

std::vector<std::string_view> split_components(std::string_view path) {
  std::vector<std::string_view> out;
  std::size_t i = 0;
  while (i < path.size()) {
    std::size_t j = path.find('/', i);
    if (j == std::string_view::npos) j = path.size();
    if (j > i) out.push_back(path.substr(i, j - i));
    i = j + 1;
  }
  return out;
}

std::string join_display(std::string_view base, std::string_view rel) {
  if (rel.empty()) return std::string(base);
  if (base.empty() || base.back() == '/') return std::string(base) + std::string(rel);
  return std::string(base) + "/" + std::string(rel);
}

// -1 with errno set, as openat.
int openat2_beneath(int dirfd, const char* path, int flags) {
  open_how how{};
  how.flags = static_cast<std::uint64_t>(flags);
  how.resolve = RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS | RESOLVE_NO_MAGICLINKS;
  return static_cast<int>(::syscall(SYS_openat2, dirfd, path, &how, sizeof how));
}

bool use_openat2() {
  return !g_force_fallback.load() && !g_openat2_missing.load();
}

// Why opening `comp` under `parent` failed with `err`, in words naming the path.
Error describe_failure(int parent, std::string_view comp, const std::string& shown, int err) {
  struct stat st {};
  std::string name(comp);
  if (::fstatat(parent, name.c_str(), &st, AT_SYMLINK_NOFOLLOW) == 0) {
    if (S_ISLNK(st.st_mode))
      return make_error("'" + shown + "' is a symlink; symlinks are never followed", -ELOOP);
    if (!S_ISDIR(st.st_mode)) return make_error("'" + shown + "' is not a directory", -ENOTDIR);
  }
  if (err == ENOENT) return make_error("'" + shown + "' does not exist", -ENOENT);
  if (err == EXDEV) return make_error("'" + shown + "' leads outside the root", -EXDEV);
  return errno_error("cannot open '" + shown + "'", err);
}

// The fallback walk; also what names the culprit when the one-call openat2 failed.
Result<UniqueFd> walk(int dirfd, std::string_view display_base, std::string_view rel,
                      const OpenDirOptions& options) {
  std::vector<std::string_view> comps = split_components(rel);
  UniqueFd owned;  // the current directory when it is not `dirfd`
  int cur = dirfd;
  std::string shown_rel;
  for (std::size_t i = 0; i < comps.size(); ++i) {
    std::string comp(comps[i]);
    shown_rel += (shown_rel.empty() ? "" : "/") + comp;
    std::string shown = join_display(display_base, shown_rel);
    if (comp == ".") continue;
    if (comp == "..") return make_error("'" + shown + "' would leave the root", -EXDEV);
    const bool last = i + 1 == comps.size();
    const int flags =
        (last && options.for_sync ? O_RDONLY : O_PATH) | O_DIRECTORY | O_CLOEXEC | O_NOFOLLOW;
    auto open_once = [&]() -> int {
      if (use_openat2()) {
        int fd = openat2_beneath(cur, comp.c_str(), flags & ~O_NOFOLLOW);
        if (fd >= 0 || errno != ENOSYS) return fd;
        g_openat2_missing.store(true);
      }
      return ::openat(cur, comp.c_str(), flags);
    };
    int fd = open_once();
    if (fd < 0 && errno == ENOENT && options.create) {
      if (::mkdirat(cur, comp.c_str(), 0700) != 0 && errno != EEXIST) {
        int err = errno;
        return errno_error("cannot create directory '" + shown + "'", err);
      }
      fd = open_once();
    }
    if (fd < 0) return describe_failure(cur, comp, shown, errno);
    owned.reset(fd);
    cur = fd;
  }
  if (!owned) {
    // `rel` named `dirfd` itself: hand back a new descriptor of the right kind.
    int fd = ::openat(dirfd, ".", (options.for_sync ? O_RDONLY : O_PATH) | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0) {
      int err = errno;
      return errno_error("cannot open '" + std::string(display_base) + "'", err);
    }
    owned.reset(fd);
  }
  return owned;
}

}  // namespace

std::string normalize_path(std::string_view path) {
  const bool absolute = !path.empty() && path.front() == '/';
  std::vector<std::string_view> stack;
  for (std::string_view c : split_components(path)) {
    if (c == ".") continue;
    if (c == "..") {
      if (!stack.empty() && stack.back() != "..") {
        stack.pop_back();
      } else if (!absolute) {
        stack.push_back(c);
      }
      continue;
    }
    stack.push_back(c);
  }
  std::string out = absolute ? "/" : "";
  for (std::size_t i = 0; i < stack.size(); ++i) {
    if (i) out.push_back('/');
    out.append(stack[i]);
  }
  if (out.empty() && !path.empty()) out = ".";
  return out;
}

std::string absolute_path(std::string_view path, std::string_view base) {
  if (!path.empty() && path.front() == '/') return normalize_path(path);
  return normalize_path(std::string(base) + "/" + std::string(path));
}

std::optional<std::string> path_below(std::string_view root, std::string_view path) {
  if (root == "/") {
    if (path.empty() || path.front() != '/') return std::nullopt;
    return std::string(path.substr(1));
  }
  if (path == root) return std::string();
  if (path.size() > root.size() && path.substr(0, root.size()) == root && path[root.size()] == '/')
    return std::string(path.substr(root.size() + 1));
  return std::nullopt;
}

std::pair<std::string, std::string> split_parent(std::string_view rel) {
  std::size_t slash = rel.rfind('/');
  if (slash == std::string_view::npos) return {std::string(), std::string(rel)};
  return {std::string(rel.substr(0, slash)), std::string(rel.substr(slash + 1))};
}

Result<UniqueFd> open_dir_beneath(int dirfd, std::string_view display_base, std::string_view rel,
                                  const OpenDirOptions& options) {
  if (!rel.empty() && rel.front() == '/')
    return make_error("'" + std::string(rel) + "' must be relative to the root", -EINVAL);
  // One syscall in the common case: the whole path, confined by the kernel.
  if (!rel.empty() && use_openat2()) {
    std::string r(rel);
    int flags = (options.for_sync ? O_RDONLY : O_PATH) | O_DIRECTORY | O_CLOEXEC;
    int fd = openat2_beneath(dirfd, r.c_str(), flags);
    if (fd >= 0) return UniqueFd(fd);
    if (errno == ENOSYS) g_openat2_missing.store(true);
    // Anything else: walk, which creates what is missing or names the culprit.
  }
  return walk(dirfd, display_base, rel, options);
}

void force_openat2_fallback_for_testing(bool on) {
  g_force_fallback.store(on);
}

std::string current_directory() {
  char buf[PATH_MAX];
  if (::getcwd(buf, sizeof buf)) return buf;
  return "/";
}

std::string join_path(const std::string& dir, const std::string& name) {
  return dir == "/" ? "/" + name : dir + "/" + name;
}

std::optional<ConfinedPath> confine_below(const std::string& root, const std::string& path) {
  if (root.empty()) return ConfinedPath{"/", path.substr(1)};
  std::optional<std::string> rel = path_below(root, path);
  if (!rel) return std::nullopt;
  return ConfinedPath{root, *rel};
}

ActionRoot::ActionRoot(const std::string& root) {
  const std::string cwd = current_directory();
  root_ = root.empty() ? std::string() : absolute_path(root, cwd);
  base_ = root.empty() ? cwd : root_;
}

}  // namespace aw
