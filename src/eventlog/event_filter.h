// EventFilter: which records `agentwatch events` (and later `stats`) shows.
//
// All conditions must hold (AND); several kind globs are alternatives (OR). It
// matches a LogRecord straight from the reader's DOM, cheapest test first (kind,
// then time, entity, failure), so non-matching lines are never turned into Events.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "src/core/clock.h"
#include "src/core/event.h"
#include "src/core/glob.h"
#include "src/core/result.h"
#include "src/eventlog/log_record.h"

namespace aw {

struct EventFilterSpec {
  std::vector<std::string> kinds;     // GlobMode::kPlain patterns, OR; empty = any kind
  std::optional<WallTime> since;      // time >= since (millisecond precision, as logged)
  std::optional<std::string> entity;  // exact name or a kPlain glob
  bool failed_only = false;           // see is_failure_kind / is_failure (event.h)
};

class EventFilter {
 public:
  // Errors name the offending option and pattern column (from Glob::compile).
  static Result<EventFilter> compile(const EventFilterSpec& spec);

  bool matches(const LogRecord& record) const;
  bool matches(const Event& e) const;

 private:
  EventFilter() = default;
  bool time_ok(std::string_view logged_time) const;

  std::vector<Glob> kinds_;
  std::optional<WallTime> since_;
  std::string since_text_;  // since_, formatted as the log writes times
  std::optional<Glob> entity_;
  bool failed_only_ = false;
};

}  // namespace aw
