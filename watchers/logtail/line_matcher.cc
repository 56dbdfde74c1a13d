#include "watchers/logtail/line_matcher.h"

#include <re2/re2.h>
#include <re2/set.h>

#include <algorithm>
#include <cstring>
#include <set>
#include <utility>

namespace aw {
namespace {

// The Set's DFA budget. RE2's default (8 MiB, shared by the forward and
// reverse DFAs) is tight for a hundred patterns; a DFA that runs out of memory
// makes Match() fail and costs a pattern-by-pattern fallback for that line.
constexpr std::int64_t kSetMaxMem = 64 << 20;

RE2::Options pattern_options() {
  RE2::Options o;
  o.set_log_errors(false);  // errors come back as values, not on stderr
  return o;
}

// Whether `pattern` means the same on one line as on a block of lines under
// (?m). \A and \z are the block's ends, not the line's; `(?-m)` (any flag
// group that clears a flag, conservatively) brings them back. Conservative: a
// false "no" only costs speed.
bool same_in_a_block(const std::string& pattern) {
  for (std::size_t i = 0; i + 1 < pattern.size(); ++i) {
    if (pattern[i] == '\\') {
      if (pattern[i + 1] == 'A' || pattern[i + 1] == 'z') return false;
      ++i;  // skip the escaped character
      continue;
    }
    if (pattern[i] == '(' && pattern[i + 1] == '?') {
      for (std::size_t j = i + 2; j < pattern.size() && pattern[j] != ')' && pattern[j] != ':'; ++j)
        if (pattern[j] == '-') return false;
    }
  }
  return true;
}

std::unique_ptr<RE2> compile_prefilter(const std::vector<LogPattern>& patterns) {
  if (patterns.empty()) return nullptr;
  std::string alternation = "(?m)";
  for (std::size_t i = 0; i < patterns.size(); ++i) {
    if (!same_in_a_block(patterns[i].pattern)) return nullptr;
    if (i > 0) alternation += '|';
    alternation += "(?:" + patterns[i].pattern + ")";
  }
  RE2::Options o = pattern_options();
  o.set_never_nl(true);       // a match never spans two lines
  o.set_never_capture(true);  // groups (and duplicate group names) cost nothing
  o.set_max_mem(kSetMaxMem);
  auto re = std::make_unique<RE2>(alternation, o);
  if (!re->ok()) return nullptr;  // e.g. too big: lines are then matched one by one
  return re;
}

}  // namespace

struct LineMatcher::Compiled {
  Compiled() : set(set_options(), RE2::UNANCHORED) {}
  static RE2::Options set_options() {
    RE2::Options o = pattern_options();
    o.set_max_mem(kSetMaxMem);
    return o;
  }

  RE2::Set set;
  std::vector<std::unique_ptr<RE2>> res;
  // Per pattern: (field name, group index) of each named group.
  std::vector<std::vector<std::pair<std::string, int>>> named;
  std::unique_ptr<RE2> prefilter;  // null: every line is a candidate
  mutable std::vector<re2::StringPiece> subs;
  mutable std::uint64_t fallbacks = 0;
};

LineMatcher::LineMatcher() : c_(std::make_unique<Compiled>()) {}
LineMatcher::LineMatcher(LineMatcher&&) noexcept = default;
LineMatcher& LineMatcher::operator=(LineMatcher&&) noexcept = default;
LineMatcher::~LineMatcher() = default;

bool LineMatcher::is_reserved_field(std::string_view name) {
  return name == "log" || name == "pattern" || name == "line" || name == "line_no" ||
         name == "truncated" || name == "unterminated";
}

Result<LineMatcher> LineMatcher::compile(const std::vector<LogPattern>& patterns,
                                         std::string_view where) {
  LineMatcher m;
  std::set<std::string> seen;
  for (std::size_t i = 0; i < patterns.size(); ++i) {
    const LogPattern& p = patterns[i];
    const std::string what =
        std::string(where) + ": pattern #" + std::to_string(i + 1) + " '" + p.id + "'";
    if (p.id.empty())
      return make_error(std::string(where) + ": pattern #" + std::to_string(i + 1) +
                        ": empty id (expected a name for the `pattern` field)");
    if (!seen.insert(p.id).second)
      return make_error(what + ": duplicate pattern id (expected ids unique within the log)");
    auto re = std::make_unique<RE2>(p.pattern, pattern_options());
    if (!re->ok())
      return make_error(what + ": invalid regular expression /" + p.pattern + "/: " + re->error() +
                        " (expected RE2 syntax)");
    std::vector<std::pair<std::string, int>> named;
    for (const auto& [name, index] : re->NamedCapturingGroups()) {
      if (is_reserved_field(name))
        return make_error(what + ": capture group name '" + name +
                          "' is reserved (log, pattern, line, line_no, truncated and "
                          "unterminated are fields of every log.line event)");
      named.emplace_back(name, index);
    }
    // Fields in the order the groups appear in the pattern, not by name.
    std::sort(named.begin(), named.end(),
              [](const auto& a, const auto& b) { return a.second < b.second; });
    std::string error;
    if (m.c_->set.Add(p.pattern, &error) < 0)
      return make_error(what + ": invalid regular expression /" + p.pattern + "/: " + error);
    m.ids_.push_back(p.id);
    m.c_->res.push_back(std::move(re));
    m.c_->named.push_back(std::move(named));
  }
  if (!patterns.empty() && !m.c_->set.Compile())
    return make_error(std::string(where) + ": the " + std::to_string(patterns.size()) +
                      " patterns together exceed RE2's memory budget (expected fewer or "
                      "simpler patterns)");
  m.c_->prefilter = compile_prefilter(patterns);
  return m;
}

bool LineMatcher::match(std::string_view line, std::vector<int>& hits) const {
  hits.clear();
  if (ids_.empty()) return false;
  const re2::StringPiece text(line.data(), line.size());
  RE2::Set::ErrorInfo info{RE2::Set::kNoError};
  if (c_->set.Match(text, &hits, &info)) {
    std::sort(hits.begin(), hits.end());
    return true;
  }
  if (info.kind == RE2::Set::kNoError) return false;
  // The DFA gave up (out of memory): the NFA of each pattern is still linear.
  ++c_->fallbacks;
  hits.clear();
  for (std::size_t i = 0; i < c_->res.size(); ++i)
    if (c_->res[i]->Match(text, 0, text.size(), RE2::UNANCHORED, nullptr, 0))
      hits.push_back(static_cast<int>(i));
  return !hits.empty();
}

bool LineMatcher::has_captures(int index) const {
  return !c_->named[static_cast<std::size_t>(index)].empty();
}

void LineMatcher::add_captures(int index, std::string_view line, Fields& fields) const {
  const auto& named = c_->named[static_cast<std::size_t>(index)];
  if (named.empty()) return;
  const RE2& re = *c_->res[static_cast<std::size_t>(index)];
  const int n = 1 + re.NumberOfCapturingGroups();
  c_->subs.assign(static_cast<std::size_t>(n), re2::StringPiece());
  const re2::StringPiece text(line.data(), line.size());
  if (!re.Match(text, 0, text.size(), RE2::UNANCHORED, c_->subs.data(), n)) return;
  for (const auto& [name, group] : named) {
    const re2::StringPiece& s = c_->subs[static_cast<std::size_t>(group)];
    if (s.data() == nullptr) continue;  // an optional group that did not take part
    fields.set(name, std::string(s.data(), s.size()));
  }
}

bool LineMatcher::has_prefilter() const {
  return c_->prefilter != nullptr;
}

std::size_t LineMatcher::next_candidate(std::string_view block, std::size_t from) const {
  if (ids_.empty()) return block.size();
  if (!c_->prefilter || from >= block.size()) return from;
  const re2::StringPiece text(block.data(), block.size());
  re2::StringPiece m;
  if (!c_->prefilter->Match(text, from, text.size(), RE2::UNANCHORED, &m, 1)) return block.size();
  // The start of the line holding the match. An empty match just before a
  // '\n' belongs to the line that '\n' ends.
  const std::size_t at = static_cast<std::size_t>(m.data() - block.data());
  const void* nl = at > from ? memrchr(block.data() + from, '\n', at - from) : nullptr;
  return nl ? static_cast<std::size_t>(static_cast<const char*>(nl) - block.data()) + 1 : from;
}

std::uint64_t LineMatcher::set_fallbacks() const {
  return c_->fallbacks;
}

}  // namespace aw
