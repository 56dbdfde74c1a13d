#include "src/stats/time_window.h"

#include <chrono>

#include "src/core/event.h"

namespace aw {
namespace {

WallTime floor_ms(WallTime t) {
  return std::chrono::floor<std::chrono::milliseconds>(t);
}

}  // namespace

TimeWindow::TimeWindow(std::optional<WallTime> since, std::optional<WallTime> until) {
  // Bounds are compared at the log's precision, like the logged times themselves.
  if (since) {
    since_ = floor_ms(*since);
    since_text_ = format_time_utc(*since_);
  }
  if (until) {
    until_ = floor_ms(*until);
    until_text_ = format_time_utc(*until_);
  }
}

bool TimeWindow::contains(std::string_view t) const {
  if (!since_ && !until_) return true;
  if (is_canonical_time_utc(t)) {
    if (since_ && t < std::string_view(since_text_)) return false;
    if (until_ && t >= std::string_view(until_text_)) return false;
    return true;
  }
  const auto parsed = parse_time_utc(t);
  if (!parsed) return false;
  const WallTime at = floor_ms(*parsed);
  if (since_ && at < *since_) return false;
  if (until_ && at >= *until_) return false;
  return true;
}

}  // namespace aw
