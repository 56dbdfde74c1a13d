// How much disk a directory tree takes, as du(1) counts it: allocated blocks
// (st_blocks × 512, so sparse files count what they use), every inode once
// (hard links), directories included. For the `disk_used_bytes` alert
// measure (docs/alerts.md).
//
// Never follows a symlink (a link counts as itself), never crosses into
// another filesystem (a mount inside the tree is not part of it), and stops
// after `max_entries` entries, saying so, so a huge tree costs a bounded walk.
// Blocking: the thread pool only.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "src/core/result.h"

namespace aw {

struct DiskUsage {
  std::uint64_t bytes = 0;
  std::uint64_t entries = 0;
  bool truncated = false;  // max_entries reached: `bytes` is a lower bound
};

// A missing `root` is 0 bytes, not an error; a root that cannot be read is.
// Entries below it that cannot be read are skipped.
Result<DiskUsage> disk_usage(const std::string& root, std::uint64_t max_entries = 1'000'000);

// `roots` without those inside another (or repeated), sorted: what to measure
// so that nothing is counted twice.
std::vector<std::string> outermost_roots(std::vector<std::string> roots);

}  // namespace aw
