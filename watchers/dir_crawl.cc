#include "watchers/dir_crawl.h"

#include <dirent.h>
#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <cstring>

#include "watchers/beneath_path.h"

namespace aw {
namespace {

// Directory entry names of an open directory, sorted. `fd` stays open and owned
// by the caller.
std::vector<std::string> list_names(int fd) {
  std::vector<std::string> names;
  UniqueFd dup_fd(fcntl(fd, F_DUPFD_CLOEXEC, 0));
  if (!dup_fd) return names;
  DIR* d = fdopendir(dup_fd.get());
  if (d == nullptr) return names;
  dup_fd.release();  // the DIR owns it now: closedir() closes it
  while (struct dirent* de = readdir(d)) {
    if (std::strcmp(de->d_name, ".") == 0 || std::strcmp(de->d_name, "..") == 0) continue;
    names.emplace_back(de->d_name);
  }
  closedir(d);
  std::sort(names.begin(), names.end());
  return names;
}

}  // namespace

DirCrawl::DirCrawl(std::string root_path, std::string start_rel)
    : root_path_(std::move(root_path)) {
  dirs_.push_back(std::move(start_rel));
}

bool DirCrawl::step(std::size_t& budget, Visitor& visitor) {
  while (budget > 0) {
    if (!visitor.live()) return false;
    if (!dir_fd_) {
      if (dirs_.empty()) return true;
      dir_rel_ = std::move(dirs_.back());
      dirs_.pop_back();
      --budget;
      const int fd = open_in_root(root_path_, dir_rel_, O_RDONLY);
      if (fd < 0) continue;  // gone or swapped for a symlink: events tell
      dir_fd_.reset(fd);
      names_ = list_names(dir_fd_.get());
      next_ = 0;
      subdirs_.clear();
      continue;
    }
    if (next_ == names_.size()) {
      dir_fd_.reset();
      // Depth first, in name order.
      for (auto it = subdirs_.rbegin(); it != subdirs_.rend(); ++it)
        dirs_.push_back(std::move(*it));
      subdirs_.clear();
      continue;
    }
    const std::string& name = names_[next_++];
    --budget;
    std::string rel = join_rel(dir_rel_, name);
    struct stat st;
    if (fstatat(dir_fd_.get(), name.c_str(), &st, AT_SYMLINK_NOFOLLOW) != 0) continue;
    if (S_ISREG(st.st_mode)) {
      visitor.file(rel, st);
    } else if (S_ISDIR(st.st_mode)) {
      if (visitor.dir(dir_fd_.get(), rel)) subdirs_.push_back(std::move(rel));
    } else if (S_ISLNK(st.st_mode)) {
      visitor.symlink(dir_fd_.get(), rel);
    }
  }
  return false;
}

}  // namespace aw
