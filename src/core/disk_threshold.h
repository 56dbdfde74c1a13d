// Free disk space and the thresholds rules and [[watch]] min_free write
// ("5%", "2GiB"): pure values and parsing, so the config reader and the
// actions share them (src/actions/retention.h reads the space: statvfs).
#pragma once

#include <cstdint>
#include <string_view>

#include "src/core/result.h"

namespace aw {

struct DiskSpace {
  std::uint64_t total_bytes = 0;
  // f_bavail * f_frsize: what an unprivileged writer can still use (the
  // blocks reserved for root do not count).
  std::uint64_t free_bytes = 0;
  std::uint64_t total_inodes = 0;
  std::uint64_t free_inodes = 0;  // f_favail: likewise for an unprivileged writer
};

// A threshold as a rule writes it: "10%" (of the filesystem's size) or a size
// ("5GiB", "500MB": byte_size.h, powers of 1024, so "500MB" is 500 MiB).
// Exactly one member is set: bytes > 0, or percent in (0, 100].
struct DiskThreshold {
  std::uint64_t bytes = 0;
  double percent = 0;
};

// Errors say what was expected. A percentage is a plain decimal number
// followed by '%' ("10", "2.5"); 0 (either kind) is refused: free space is
// never below nothing, so the rule could never fire.
Result<DiskThreshold> parse_disk_threshold(std::string_view text);

// Whether the free space (free_bytes, as an unprivileged writer sees it) is
// strictly below the threshold. A filesystem that reports no size (total 0,
// e.g. a pseudo filesystem) is never below a percentage. Inodes are not
// judged here.
bool below_threshold(const DiskSpace& d, const DiskThreshold& t);

}  // namespace aw
