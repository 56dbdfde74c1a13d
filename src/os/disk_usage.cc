#include "src/os/disk_usage.h"

#include <fcntl.h>
#include <ftw.h>
#include <sys/stat.h>

#include <algorithm>
#include <cerrno>
#include <unordered_set>

#include "src/os/errno_text.h"

namespace aw {
namespace {

struct InodeKey {
  dev_t dev;
  ino_t ino;
  bool operator==(const InodeKey&) const = default;
};
struct InodeHash {
  std::size_t operator()(const InodeKey& k) const {
    return std::hash<std::uint64_t>()(static_cast<std::uint64_t>(k.ino) * 31 +
                                      static_cast<std::uint64_t>(k.dev));
  }
};

// nftw's callback has no user pointer: the walk's state is per thread.
struct Walk {
  DiskUsage usage;
  std::uint64_t max_entries = 0;
  std::unordered_set<InodeKey, InodeHash> linked;  // inodes with more than one link, seen
};
thread_local Walk* t_walk = nullptr;

int visit(const char* /*path*/, const struct stat* st, int type, struct FTW* /*ftw*/) {
  Walk& w = *t_walk;
  if (w.usage.entries >= w.max_entries) {
    w.usage.truncated = true;
    return FTW_STOP;
  }
  ++w.usage.entries;
  if (type == FTW_NS || type == FTW_DNR) return FTW_CONTINUE;  // unreadable: skipped
  if (st->st_nlink > 1 && type != FTW_D && type != FTW_DP &&
      !w.linked.insert(InodeKey{st->st_dev, st->st_ino}).second)
    return FTW_CONTINUE;  // another name of an inode already counted
  w.usage.bytes += static_cast<std::uint64_t>(st->st_blocks) * 512;
  return FTW_CONTINUE;
}

}  // namespace

Result<DiskUsage> disk_usage(const std::string& root, std::uint64_t max_entries) {
  struct stat st {};
  if (::lstat(root.c_str(), &st) != 0) {
    if (errno == ENOENT) return DiskUsage{};
    return errno_error("cannot measure " + root, errno);
  }
  Walk walk;
  walk.max_entries = max_entries;
  t_walk = &walk;
  // FTW_PHYS: symlinks are not followed; FTW_MOUNT: stay on root's filesystem.
  const int rc = ::nftw(root.c_str(), visit, 32, FTW_PHYS | FTW_MOUNT | FTW_ACTIONRETVAL);
  t_walk = nullptr;
  if (rc == -1) return errno_error("cannot measure " + root, errno);
  return walk.usage;
}

std::vector<std::string> outermost_roots(std::vector<std::string> roots) {
  std::sort(roots.begin(), roots.end());
  std::vector<std::string> outer;
  for (std::string& r : roots)
    if (outer.empty() || !(r == outer.back() || r.starts_with(outer.back() + "/")))
      outer.push_back(std::move(r));
  return outer;
}

}  // namespace aw
