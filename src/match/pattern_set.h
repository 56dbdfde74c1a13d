// PatternSet: which of a list of regular expressions a line matches, and the
// named captures of one that did (pure; DESIGN §4: RE2, linear time on
// untrusted lines). Log tailing (LineMatcher) and probes (ProbeMatcher) each
// wrap one and decide what a hit means; this is the part they share.
//
// All patterns are compiled into ONE RE2::Set (unanchored), so a line costs
// one DFA pass whatever the number of patterns. Only for a pattern that
// matched, and only when it has named groups, is its own RE2 run again to
// extract them: `(?P<code>[0-9]+)` gives ("code", "404"). Unnamed groups
// capture nothing (and cost nothing). Every pattern that matches is a hit, in
// pattern order: no pattern "wins" over another here.
//
// If the Set's DFA runs out of memory on a line (a huge pattern set), the line
// is matched pattern by pattern instead: slower, never wrong; fallbacks()
// counts such lines. The memory budget is 64 MiB for the Set and for each
// pattern (RE2's 8 MiB default is tight for a hundred patterns).
//
// Block prefilter (grep's trick; Options::block_prefilter): most log lines
// match nothing, and calling the Set once per short line costs more than its
// DFA pass. So the patterns are also compiled into one multi-line alternation,
// `(?m)(?:p1)|(?:p2)|...` (never_nl, never_capture), that next_candidate()
// runs over a whole block of lines at once; only the lines where it stops go
// through match(). It is a filter, not the judge: a line it finds may still
// match nothing, and no line it skips can match, because RE2 finds the
// leftmost match, `^`/`$` match at line boundaries under (?m), and a block
// holds whole lines. Patterns whose meaning would change in a multi-line block
// (\A, \z, or an inline flag group that turns a flag off, like `(?-m)`)
// switch the prefilter off: every line is then a candidate.
//
// Thread safety: immutable once compiled; match(), captures() and
// next_candidate() may run on any thread, also concurrently.
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "src/core/result.h"

namespace aw {

struct PatternSpec {
  // How errors name the pattern, e.g. "log 'w1': pattern #2 'oom'".
  std::string label;
  std::string regex;  // RE2 syntax, unanchored (add ^ or $ yourself)
};

class PatternSet {
 public:
  struct Options {
    // Capture names a pattern may not use (the caller's own fields), and why,
    // for the error: "capture group name 'line' is reserved (<reserved_why>)".
    std::function<bool(std::string_view)> is_reserved;
    std::string reserved_why;
    bool block_prefilter = false;  // build the prefilter next_candidate() uses
  };

  // Compiles `patterns`. An error names the pattern's label and what RE2 said,
  // or `where` when the patterns together are too big. An empty list is valid
  // and matches nothing.
  static Result<PatternSet> compile(const std::vector<PatternSpec>& patterns,
                                    std::string_view where, const Options& options);

  PatternSet(PatternSet&&) noexcept;
  PatternSet& operator=(PatternSet&&) noexcept;
  ~PatternSet();

  // Fills `hits` (cleared first) with the indices of the patterns `line`
  // matches, in ascending order. Returns whether there is any.
  bool match(std::string_view line, std::vector<int>& hits) const;

  // True when pattern `index` has named groups.
  bool has_captures(int index) const;
  // Calls `fn(name, value)` for each named group of pattern `index` that took
  // part in its match on `line`, in the order the groups appear in the
  // pattern (an optional group that did not take part is skipped). `line`
  // should match pattern `index`; if it does not, nothing is called.
  void captures(
      int index, std::string_view line,
      const std::function<void(const std::string& name, std::string_view value)>& fn) const;

  // `block` is a run of whole lines, each ending in '\n'; `from` is the start
  // of one of them. Returns the start of the first line at or after `from`
  // that some pattern may match, or block.size() when none can: the lines in
  // between match nothing. Without a prefilter, returns `from`.
  std::size_t next_candidate(std::string_view block, std::size_t from) const;
  bool has_prefilter() const;

  std::size_t size() const;
  // Lines matched pattern by pattern because the Set's DFA gave up.
  std::uint64_t fallbacks() const;

 private:
  struct Compiled;
  PatternSet();
  std::unique_ptr<Compiled> c_;
};

}  // namespace aw
