#include "src/schedule/probe_matcher.h"

#include <re2/re2.h>
#include <re2/set.h>

#include <algorithm>
#include <utility>

namespace aw {
namespace {

// RE2's default (8 MiB for the forward and reverse DFAs together) is tight for
// many patterns; running out only costs a pattern-by-pattern fallback.
constexpr std::int64_t kMaxMem = 64 << 20;

RE2::Options pattern_options() {
  RE2::Options o;
  o.set_log_errors(false);  // errors come back as values, not on stderr
  o.set_max_mem(kMaxMem);
  return o;
}

}  // namespace

struct ProbeMatcher::Compiled {
  Compiled() : set(pattern_options(), RE2::UNANCHORED) {}
  RE2::Set set;
  std::vector<std::unique_ptr<RE2>> res;
  // Per pattern: (name, group index) of each named group, in pattern order.
  std::vector<std::vector<std::pair<std::string, int>>> named;
};

ProbeMatcher::ProbeMatcher() : c_(std::make_unique<Compiled>()) {}
ProbeMatcher::ProbeMatcher(ProbeMatcher&&) noexcept = default;
ProbeMatcher& ProbeMatcher::operator=(ProbeMatcher&&) noexcept = default;
ProbeMatcher::~ProbeMatcher() = default;

bool ProbeMatcher::is_reserved_field(std::string_view name) {
  return name == "rule" || name == "line" || name == "truncated";
}

Result<ProbeMatcher> ProbeMatcher::compile(const std::vector<ProbeLinePattern>& patterns,
                                           std::string_view where) {
  ProbeMatcher m;
  for (std::size_t i = 0; i < patterns.size(); ++i) {
    const ProbeLinePattern& p = patterns[i];
    const std::string what = std::string(where) + ": pattern #" + std::to_string(i + 1);
    if (p.kind.empty())
      return make_error(what +
                        ": empty kind (expected the kind of the events it makes, e.g. "
                        "\"queue.failed\")");
    auto re = std::make_unique<RE2>(p.match, pattern_options());
    if (!re->ok())
      return make_error(what + ": invalid regular expression /" + p.match + "/: " + re->error() +
                        " (expected RE2 syntax)");
    std::vector<std::pair<std::string, int>> named;
    for (const auto& [name, index] : re->NamedCapturingGroups()) {
      if (is_reserved_field(name))
        return make_error(what + ": capture group name '" + name +
                          "' is reserved (rule, line and truncated are fields of every probe "
                          "event; expected another name)");
      named.emplace_back(name, index);
    }
    std::sort(named.begin(), named.end(),
              [](const auto& a, const auto& b) { return a.second < b.second; });
    std::string error;
    if (m.c_->set.Add(p.match, &error) < 0)
      return make_error(what + ": invalid regular expression /" + p.match + "/: " + error);
    m.kinds_.push_back(p.kind);
    m.c_->res.push_back(std::move(re));
    m.c_->named.push_back(std::move(named));
  }
  if (!patterns.empty() && !m.c_->set.Compile())
    return make_error(std::string(where) + ": the " + std::to_string(patterns.size()) +
                      " patterns together exceed RE2's memory budget (expected fewer or simpler "
                      "patterns)");
  return m;
}

std::size_t ProbeMatcher::match(std::string_view line, bool truncated, const std::string& rule,
                                WallTime now, std::vector<Event>& out) const {
  if (kinds_.empty()) return 0;
  const re2::StringPiece text(line.data(), line.size());
  std::vector<int> hits;
  RE2::Set::ErrorInfo info{RE2::Set::kNoError};
  if (!c_->set.Match(text, &hits, &info)) {
    if (info.kind == RE2::Set::kNoError) return 0;
    // The DFA gave up (out of memory): each pattern's own match is still linear.
    hits.clear();
    for (std::size_t i = 0; i < c_->res.size(); ++i)
      if (c_->res[i]->Match(text, 0, text.size(), RE2::UNANCHORED, nullptr, 0))
        hits.push_back(static_cast<int>(i));
  }
  std::sort(hits.begin(), hits.end());
  std::vector<re2::StringPiece> subs;
  for (int hit : hits) {
    const auto index = static_cast<std::size_t>(hit);
    Event e;
    e.kind = kinds_[index];
    e.source = "probe";
    e.time = now;
    e.rule = rule;
    e.fields.set("rule", rule);
    e.fields.set("line", std::string(line));
    if (truncated) e.fields.set("truncated", true);
    const auto& named = c_->named[index];
    if (!named.empty()) {
      const RE2& re = *c_->res[index];
      const int n = 1 + re.NumberOfCapturingGroups();
      subs.assign(static_cast<std::size_t>(n), re2::StringPiece());
      if (re.Match(text, 0, text.size(), RE2::UNANCHORED, subs.data(), n)) {
        for (const auto& [name, group] : named) {
          const re2::StringPiece& s = subs[static_cast<std::size_t>(group)];
          if (s.data() == nullptr) continue;  // an optional group that did not take part
          if (name == "entity")
            e.entity.assign(s.data(), s.size());
          else
            e.fields.set(name, std::string(s.data(), s.size()));
        }
      }
    }
    out.push_back(std::move(e));
  }
  return hits.size();
}

}  // namespace aw
