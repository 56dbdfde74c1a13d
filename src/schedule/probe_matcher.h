// ProbeMatcher: a probe's output line → the events its patterns make of it
// (pure; DESIGN §4: RE2, linear time whatever the line).
//
// Matching is PatternSet's (src/match/pattern_set.h): one RE2::Set per
// probe, the named captures of each pattern that matched, the DFA fallback.
// Each matched pattern makes one Event:
//   kind   = the pattern's kind          source = "probe"
//   rule   = the probe's rule            time   = `now`
//   entity = the capture named `entity`, when the pattern has one and it took part
//   fields = rule, line, truncated (only when true: the line was cut at
//            max_line), then every other named capture that took part, in the
//            order the groups appear in the pattern.
//
// Thread safety: immutable once compiled; match() may run on any thread, also
// concurrently (as PatternSet).
#pragma once

#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "src/core/clock.h"
#include "src/core/event.h"
#include "src/core/result.h"
#include "src/match/pattern_set.h"

namespace aw {

struct ProbeLinePattern {
  std::string match;  // RE2 syntax, unanchored (write ^ / $ yourself)
  std::string kind;   // the kind of the events this pattern makes, e.g. "queue.failed"
  friend bool operator==(const ProbeLinePattern&, const ProbeLinePattern&) = default;
};

class ProbeMatcher {
 public:
  // Names a capture group may not take: fields every probe event has.
  static bool is_reserved_field(std::string_view name);

  // Errors name `where` (e.g. "rule 'queue-check'"), the pattern's number and
  // what was expected (RE2's own message for a bad expression). An empty list is
  // valid and matches nothing.
  static Result<ProbeMatcher> compile(const std::vector<ProbeLinePattern>& patterns,
                                      std::string_view where);

  // Appends one event per pattern `line` matches, in pattern order, to `out`;
  // returns how many. `truncated`: the line was cut (it is reported as a field).
  std::size_t match(std::string_view line, bool truncated, const std::string& rule, WallTime now,
                    std::vector<Event>& out) const;

  std::size_t size() const { return kinds_.size(); }

 private:
  ProbeMatcher(std::vector<std::string> kinds, PatternSet set)
      : kinds_(std::move(kinds)), set_(std::move(set)) {}

  std::vector<std::string> kinds_;
  PatternSet set_;
};

}  // namespace aw
