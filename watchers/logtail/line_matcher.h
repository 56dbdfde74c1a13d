// LineMatcher: which of a log's patterns a line matches, and their captures
// (pure; DESIGN §4: RE2, linear time on untrusted lines).
//
// A thin wrapper over PatternSet (src/match/pattern_set.h), which holds the
// whole matching story: one RE2::Set per log, named captures, the DFA
// fallback and the block prefilter (always built here). What is the log's
// own: pattern ids (unique, non-empty) and the fields every log.line has,
// which no capture may take.
//
// Thread safety: immutable once compiled (as PatternSet).
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "src/core/event.h"
#include "src/core/result.h"
#include "src/match/pattern_set.h"

namespace aw {

struct LogPattern {
  std::string id;       // the `pattern` field of log.line events; unique within a log
  std::string pattern;  // RE2 syntax, unanchored (add ^ or $ yourself)
};

class LineMatcher {
 public:
  // Field names a capture group may not take: the fields every log.line has.
  static bool is_reserved_field(std::string_view name);

  // Compiles `patterns`. Errors name `where` (e.g. "log 'worker-3'"), the
  // pattern's id and position, and what RE2 said. An empty list is valid and
  // matches nothing.
  static Result<LineMatcher> compile(const std::vector<LogPattern>& patterns,
                                     std::string_view where);

  // Fills `hits` (cleared first) with the indices of the patterns `line`
  // matches, in ascending order. Returns whether there is any.
  bool match(std::string_view line, std::vector<int>& hits) const;
  // Adds the named captures of pattern `index` on `line` to `fields` (an
  // unmatched optional group adds nothing). `line` must match pattern `index`.
  void add_captures(int index, std::string_view line, Fields& fields) const;
  // True when pattern `index` has named groups (add_captures would add fields).
  bool has_captures(int index) const;

  // `block` is a run of whole lines, each ending in '\n'; `from` is the start
  // of one of them. Returns the start of the first line at or after `from`
  // that some pattern may match, or block.size() when none can: the lines in
  // between match nothing. Without a prefilter, returns `from`.
  std::size_t next_candidate(std::string_view block, std::size_t from) const;
  bool has_prefilter() const { return set_.has_prefilter(); }

  std::size_t size() const { return ids_.size(); }
  const std::string& id(int index) const { return ids_[static_cast<std::size_t>(index)]; }
  std::uint64_t set_fallbacks() const { return set_.fallbacks(); }

 private:
  LineMatcher(std::vector<std::string> ids, PatternSet set)
      : ids_(std::move(ids)), set_(std::move(set)) {}

  std::vector<std::string> ids_;
  PatternSet set_;
};

}  // namespace aw
