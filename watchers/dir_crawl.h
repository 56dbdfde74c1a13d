// DirCrawl: one depth-first crawl of a directory tree inside a watch root, in
// bounded steps (the scanner of DirWatcher, issue #9; watchman's crawler).
//
// DirWatcher runs one for every start scan, overflow rescan, restored root and
// directory that appears or is renamed. The crawl only walks and classifies;
// the Visitor decides (ignore globs, the settle hold, the claim, the watch):
//   - regular file → file(rel, st), in name order;
//   - directory    → dir(parent_fd, rel); true descends into it after the
//                    current directory is done (depth first, name order). The
//                    visitor adds the watch there, before the directory is
//                    listed, so nothing created in between is missed;
//   - symlink      → symlink(parent_fd, rel); never followed;
//   - anything else is skipped.
// Directories are opened with open_in_root() (no symlink followed on the way),
// listed whole (names sorted: deterministic lands), then each entry is
// fstatat'd with AT_SYMLINK_NOFOLLOW. A directory that is gone or was swapped
// for a symlink is skipped: the inotify queue reports that on its own.
//
// Why on the loop thread, in slices, not on the thread pool: every entry needs
// the watch tree (add the watch before listing a new directory) and a claim in
// the FileIndex, both loop-thread state; an fstatat of a local directory costs
// about a microsecond, so a slice of 1,000 entries is about a millisecond.
//
// Thread safety: none; one owner. `parent_fd` is borrowed for the call only.
#pragma once

#include <sys/stat.h>

#include <cstddef>
#include <string>
#include <vector>

#include "src/os/unique_fd.h"

namespace aw {

class DirCrawl {
 public:
  class Visitor {
   public:
    virtual ~Visitor() = default;
    // False stops the step at once (the watcher stopped, the root went away).
    virtual bool live() const = 0;
    virtual void file(const std::string& rel, const struct stat& st) = 0;
    virtual bool dir(int parent_fd, const std::string& rel) = 0;
    virtual void symlink(int parent_fd, const std::string& rel) = 0;
  };

  // Crawls `start_rel` ("" for the whole root) of the root at `root_path`.
  DirCrawl(std::string root_path, std::string start_rel);
  DirCrawl(const DirCrawl&) = delete;
  DirCrawl& operator=(const DirCrawl&) = delete;

  // Visits up to `budget` entries (each directory opened counts as one) and
  // takes them off `budget`. True when the crawl is complete.
  bool step(std::size_t& budget, Visitor& visitor);

 private:
  std::string root_path_;
  std::vector<std::string> dirs_;  // still to list (a stack: depth first)
  UniqueFd dir_fd_;                // the directory being walked
  std::string dir_rel_;
  std::vector<std::string> names_;
  std::size_t next_ = 0;
  std::vector<std::string> subdirs_;  // found in the current dir, pushed when it is done
};

}  // namespace aw
