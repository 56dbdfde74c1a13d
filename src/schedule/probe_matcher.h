// ProbeMatcher: a probe's output line → the events its patterns make of it
// (pure; DESIGN §4: RE2, linear time whatever the line).
//
// All patterns of a probe are compiled into ONE RE2::Set (unanchored), so a
// line costs one pass whatever the number of patterns. Only the patterns that
// matched run their own RE2 again, and only when they have named groups, to
// extract the captures. Each matched pattern makes one Event:
//   kind   = the pattern's kind          source = "probe"
//   rule   = the probe's rule            time   = `now`
//   entity = the capture named `entity`, when the pattern has one and it took part
//   fields = rule, line, truncated (only when true: the line was cut at
//            max_line), then every other named capture that took part, in the
//            order the groups appear in the pattern.
// Unnamed groups capture nothing.
//
// If the Set's DFA runs out of memory on a line, the line is matched pattern by
// pattern instead: slower, never wrong.
//
// Thread safety: immutable once compiled; match() may run on any thread, also
// concurrently (scratch space is per call).
#pragma once

#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "src/core/clock.h"
#include "src/core/event.h"
#include "src/core/result.h"

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

  ProbeMatcher(ProbeMatcher&&) noexcept;
  ProbeMatcher& operator=(ProbeMatcher&&) noexcept;
  ~ProbeMatcher();

  // Appends one event per pattern `line` matches, in pattern order, to `out`;
  // returns how many. `truncated`: the line was cut (it is reported as a field).
  std::size_t match(std::string_view line, bool truncated, const std::string& rule, WallTime now,
                    std::vector<Event>& out) const;

  std::size_t size() const { return kinds_.size(); }

 private:
  struct Compiled;
  ProbeMatcher();

  std::vector<std::string> kinds_;
  std::unique_ptr<Compiled> c_;
};

}  // namespace aw
