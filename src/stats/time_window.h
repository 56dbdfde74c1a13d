// TimeWindow: which logged times `agentwatch stats --since/--until` keeps.
//
// Half-open, [since, until), at the log's millisecond precision: two adjacent
// windows (`--until T` then `--since T`) count every record exactly once.
//
// Pure. The daemon writes every time in one fixed shape (2026-11-22T11:20:39.123Z),
// in which string order is time order, so the common case is one string
// compare per bound, no parsing; other spellings (a hand-written line) are parsed.
#pragma once

#include <optional>
#include <string>
#include <string_view>

#include "src/core/clock.h"

namespace aw {

class TimeWindow {
 public:
  TimeWindow() = default;
  TimeWindow(std::optional<WallTime> since, std::optional<WallTime> until);

  bool bounded() const { return since_ || until_; }
  // A record without a readable time is outside every bounded window.
  bool contains(std::string_view logged_time) const;

  // The bounds as the log writes times, or empty when unbounded (for reports).
  const std::string& since_text() const { return since_text_; }
  const std::string& until_text() const { return until_text_; }

 private:
  std::optional<WallTime> since_;
  std::optional<WallTime> until_;
  std::string since_text_;
  std::string until_text_;
};

}  // namespace aw
