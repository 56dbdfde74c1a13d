#include "watchers/beneath_path.h"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <utility>

#include "src/os/unique_fd.h"

namespace aw {

Result<std::string> normalize_root_path(std::string_view path) {
  if (path.empty() || path.front() != '/')
    return make_error("watch root \"" + std::string(path) + "\" is not an absolute path");
  std::string out;
  std::size_t i = 0;
  while (i < path.size()) {
    while (i < path.size() && path[i] == '/') ++i;
    std::size_t j = path.find('/', i);
    if (j == std::string_view::npos) j = path.size();
    std::string_view comp = path.substr(i, j - i);
    i = j;
    if (comp.empty() || comp == ".") continue;
    if (comp == "..")
      return make_error("watch root \"" + std::string(path) +
                        "\" contains \"..\" (expected a path without parent references)");
    out += '/';
    out += comp;
  }
  if (out.empty()) out = "/";
  return out;
}

std::string join_rel(std::string_view dir_rel, std::string_view name) {
  if (dir_rel.empty()) return std::string(name);
  std::string s;
  s.reserve(dir_rel.size() + 1 + name.size());
  s.append(dir_rel).append("/").append(name);
  return s;
}

std::string join_abs(std::string_view root, std::string_view rel) {
  if (rel.empty()) return std::string(root);
  std::string s(root);
  if (s.empty() || s.back() != '/') s += '/';
  s.append(rel);
  return s;
}

bool rel_is_under(std::string_view rel, std::string_view prefix) {
  if (prefix.empty()) return true;
  if (rel.size() < prefix.size() || rel.substr(0, prefix.size()) != prefix) return false;
  return rel.size() == prefix.size() || rel[prefix.size()] == '/';
}

std::string_view rel_basename(std::string_view rel) {
  auto slash = rel.rfind('/');
  return slash == std::string_view::npos ? rel : rel.substr(slash + 1);
}

std::string_view rel_dirname(std::string_view rel) {
  auto slash = rel.rfind('/');
  return slash == std::string_view::npos ? std::string_view() : rel.substr(0, slash);
}

int open_dir_beneath(int root_fd, std::string_view rel, int flags) {
  const int last_flags = flags | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC;
  if (rel.empty()) {
    int fd = openat(root_fd, ".", last_flags);
    return fd >= 0 ? fd : -errno;
  }
  UniqueFd owned;  // the last component opened; empty while at `root_fd`, which is borrowed
  std::size_t i = 0;
  while (true) {
    std::size_t j = rel.find('/', i);
    const bool last = j == std::string_view::npos;
    std::string comp(rel.substr(i, last ? std::string_view::npos : j - i));
    if (comp.empty() || comp == "." || comp == "..") return -EINVAL;
    const int cur = owned ? owned.get() : root_fd;
    UniqueFd next(openat(cur, comp.c_str(),
                         last ? last_flags : O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC));
    if (!next) return -errno;
    if (last) return next.release();
    owned = std::move(next);
    i = j + 1;
  }
}

int open_in_root(const std::string& root_path, std::string_view rel, int flags) {
  const UniqueFd root(open(root_path.c_str(), O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC));
  if (!root) return -errno;
  return open_dir_beneath(root.get(), rel, flags);
}

}  // namespace aw
