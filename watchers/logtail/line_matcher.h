// LineMatcher: which of a log's patterns a line matches, and their captures
// (pure; DESIGN §4: RE2, linear time on untrusted lines).
//
// All patterns of a log are compiled into ONE RE2::Set (unanchored), so a line
// costs one DFA pass whatever the number of patterns. Only for the patterns
// that matched, and only when they have named groups, is the pattern's own RE2
// run again to extract the captures: `(?P<code>[0-9]+)` becomes field `code`.
// Unnamed groups capture nothing (they cost nothing either).
//
// If the Set's DFA runs out of memory on a line (a huge pattern set), the line
// is matched pattern by pattern instead: slower, never wrong. `set_fallbacks()`
// counts such lines.
//
// Block prefilter (grep's trick): most log lines match nothing, and calling
// the Set once per short line costs more than its DFA pass. So the patterns
// are also compiled into one multi-line alternation, `(?m)(?:p1)|(?:p2)|...`
// (never_nl, never_capture), that next_candidate() runs over a whole block of
// lines at once; only the lines where it stops go through match(). It is a
// filter, not the judge: a line it finds may still match nothing, and no line
// it skips can match, because RE2 finds the leftmost match, `^`/`$` match at
// line boundaries under (?m), and a block holds whole lines. Patterns whose
// meaning would change in a multi-line block (\A, \z, or an inline flag group
// that turns a flag off, like `(?-m)`) switch the prefilter off: every line is
// then a candidate.
//
// Thread safety: none; one owner (match() keeps scratch space and a counter).
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "src/core/event.h"
#include "src/core/result.h"

namespace re2 {
class RE2;
}

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

  LineMatcher(LineMatcher&&) noexcept;
  LineMatcher& operator=(LineMatcher&&) noexcept;
  ~LineMatcher();

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
  bool has_prefilter() const;

  std::size_t size() const { return ids_.size(); }
  const std::string& id(int index) const { return ids_[static_cast<std::size_t>(index)]; }
  std::uint64_t set_fallbacks() const;

 private:
  struct Compiled;
  LineMatcher();

  std::vector<std::string> ids_;
  std::unique_ptr<Compiled> c_;
};

}  // namespace aw
