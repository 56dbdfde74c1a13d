#include "src/match/pattern_set.h"

#include <re2/re2.h>
#include <re2/set.h>

#include <algorithm>
#include <atomic>
#include <cstring>
#include <utility>

namespace aw {
namespace {

// RE2's default (8 MiB for the forward and reverse DFAs together) is tight for
// many patterns; a DFA that runs out only costs a pattern-by-pattern fallback.
constexpr std::int64_t kMaxMem = 64 << 20;

RE2::Options pattern_options() {
  RE2::Options o;
  o.set_log_errors(false);  // errors come back as values, not on stderr
  o.set_max_mem(kMaxMem);
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

std::unique_ptr<RE2> compile_prefilter(const std::vector<PatternSpec>& patterns) {
  if (patterns.empty()) return nullptr;
  std::string alternation = "(?m)";
  for (std::size_t i = 0; i < patterns.size(); ++i) {
    if (!same_in_a_block(patterns[i].regex)) return nullptr;
    if (i > 0) alternation += '|';
    alternation += "(?:" + patterns[i].regex + ")";
  }
  RE2::Options o = pattern_options();
  o.set_never_nl(true);       // a match never spans two lines
  o.set_never_capture(true);  // groups (and duplicate group names) cost nothing
  auto re = std::make_unique<RE2>(alternation, o);
  if (!re->ok()) return nullptr;  // e.g. too big: lines are then matched one by one
  return re;
}

}  // namespace

struct PatternSet::Compiled {
  Compiled() : set(pattern_options(), RE2::UNANCHORED) {}
  RE2::Set set;
  std::vector<std::unique_ptr<RE2>> res;
  // Per pattern: (name, group index) of each named group, in pattern order.
  std::vector<std::vector<std::pair<std::string, int>>> named;
  std::unique_ptr<RE2> prefilter;  // null: every line is a candidate
  mutable std::atomic<std::uint64_t> fallbacks{0};
};

PatternSet::PatternSet() : c_(std::make_unique<Compiled>()) {}
PatternSet::PatternSet(PatternSet&&) noexcept = default;
PatternSet& PatternSet::operator=(PatternSet&&) noexcept = default;
PatternSet::~PatternSet() = default;

Result<PatternSet> PatternSet::compile(const std::vector<PatternSpec>& patterns,
                                       std::string_view where, const Options& options) {
  PatternSet m;
  for (const PatternSpec& p : patterns) {
    auto re = std::make_unique<RE2>(p.regex, pattern_options());
    if (!re->ok())
      return make_error(p.label + ": invalid regular expression /" + p.regex + "/: " + re->error() +
                        " (expected RE2 syntax)");
    std::vector<std::pair<std::string, int>> named;
    for (const auto& [name, index] : re->NamedCapturingGroups()) {
      if (options.is_reserved && options.is_reserved(name))
        return make_error(p.label + ": capture group name '" + name + "' is reserved (" +
                          options.reserved_why + ")");
      named.emplace_back(name, index);
    }
    // In the order the groups appear in the pattern, not by name.
    std::sort(named.begin(), named.end(),
              [](const auto& a, const auto& b) { return a.second < b.second; });
    std::string error;
    if (m.c_->set.Add(p.regex, &error) < 0)
      return make_error(p.label + ": invalid regular expression /" + p.regex + "/: " + error);
    m.c_->res.push_back(std::move(re));
    m.c_->named.push_back(std::move(named));
  }
  if (!patterns.empty() && !m.c_->set.Compile())
    return make_error(std::string(where) + ": the " + std::to_string(patterns.size()) +
                      " patterns together exceed RE2's memory budget (expected fewer or "
                      "simpler patterns)");
  if (options.block_prefilter) m.c_->prefilter = compile_prefilter(patterns);
  return m;
}

bool PatternSet::match(std::string_view line, std::vector<int>& hits) const {
  hits.clear();
  if (c_->res.empty()) return false;
  const re2::StringPiece text(line.data(), line.size());
  RE2::Set::ErrorInfo info{RE2::Set::kNoError};
  if (c_->set.Match(text, &hits, &info)) {
    std::sort(hits.begin(), hits.end());
    return true;
  }
  if (info.kind == RE2::Set::kNoError) return false;
  // The DFA gave up (out of memory): the NFA of each pattern is still linear.
  c_->fallbacks.fetch_add(1, std::memory_order_relaxed);
  hits.clear();
  for (std::size_t i = 0; i < c_->res.size(); ++i)
    if (c_->res[i]->Match(text, 0, text.size(), RE2::UNANCHORED, nullptr, 0))
      hits.push_back(static_cast<int>(i));
  return !hits.empty();
}

bool PatternSet::has_captures(int index) const {
  return !c_->named[static_cast<std::size_t>(index)].empty();
}

void PatternSet::captures(
    int index, std::string_view line,
    const std::function<void(const std::string& name, std::string_view value)>& fn) const {
  const auto& named = c_->named[static_cast<std::size_t>(index)];
  if (named.empty()) return;
  const RE2& re = *c_->res[static_cast<std::size_t>(index)];
  const int n = 1 + re.NumberOfCapturingGroups();
  // Scratch per thread: no allocation per line once warm, and concurrent
  // callers do not share it.
  thread_local std::vector<re2::StringPiece> subs;
  subs.assign(static_cast<std::size_t>(n), re2::StringPiece());
  const re2::StringPiece text(line.data(), line.size());
  if (!re.Match(text, 0, text.size(), RE2::UNANCHORED, subs.data(), n)) return;
  for (const auto& [name, group] : named) {
    const re2::StringPiece& s = subs[static_cast<std::size_t>(group)];
    if (s.data() == nullptr) continue;  // an optional group that did not take part
    fn(name, std::string_view(s.data(), s.size()));
  }
}

bool PatternSet::has_prefilter() const {
  return c_->prefilter != nullptr;
}

std::size_t PatternSet::next_candidate(std::string_view block, std::size_t from) const {
  if (c_->res.empty()) return block.size();
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

std::size_t PatternSet::size() const {
  return c_->res.size();
}

std::uint64_t PatternSet::fallbacks() const {
  return c_->fallbacks.load(std::memory_order_relaxed);
}

}  // namespace aw
