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
  int dup_fd = fcntl(fd, F_DUPFD_CLOEXEC, 0);
  if (dup_fd < 0) return names;
  DIR* d = fdopendir(dup_fd);
  if (d == nullptr) {
    close(dup_fd);
    return names;
  }
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

DirCrawl::~DirCrawl() {
  if (dir_fd_ >= 0) close(dir_fd_);
}

bool DirCrawl::step(std::size_t& budget, Visitor& visitor) {
  while (budget > 0) {
    if (!visitor.live()) return false;
    if (dir_fd_ < 0) {
      if (dirs_.empty()) return true;
      dir_rel_ = std::move(dirs_.back());
      dirs_.pop_back();
      --budget;
      dir_fd_ = open_in_root(root_path_, dir_rel_, O_RDONLY);
      if (dir_fd_ < 0) continue;  // gone or swapped for a symlink: events tell
      names_ = list_names(dir_fd_);
      next_ = 0;
      subdirs_.clear();
      continue;
    }
    if (next_ == names_.size()) {
      close(dir_fd_);
      dir_fd_ = -1;
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
    if (fstatat(dir_fd_, name.c_str(), &st, AT_SYMLINK_NOFOLLOW) != 0) continue;
    if (S_ISREG(st.st_mode)) {
      visitor.file(rel, st);
    } else if (S_ISDIR(st.st_mode)) {
      if (visitor.dir(dir_fd_, rel)) subdirs_.push_back(std::move(rel));
    } else if (S_ISLNK(st.st_mode)) {
      visitor.symlink(dir_fd_, rel);
    }
  }
  return false;
}

}  // namespace aw
