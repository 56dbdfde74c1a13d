#include "src/schedule/probe_matcher.h"

#include <optional>

namespace aw {

bool ProbeMatcher::is_reserved_field(std::string_view name) {
  return name == "rule" || name == "line" || name == "truncated";
}

Result<ProbeMatcher> ProbeMatcher::compile(const std::vector<ProbeLinePattern>& patterns,
                                           std::string_view where) {
  std::vector<std::string> kinds;
  std::vector<PatternSpec> specs;
  // Errors come in pattern order: a bad expression before the first empty kind
  // is the one reported.
  std::optional<Error> kind_error;
  for (std::size_t i = 0; i < patterns.size(); ++i) {
    const ProbeLinePattern& p = patterns[i];
    std::string label = std::string(where) + ": pattern #" + std::to_string(i + 1);
    if (p.kind.empty()) {
      kind_error = make_error(label +
                              ": empty kind (expected the kind of the events it makes, e.g. "
                              "\"queue.failed\")");
      break;
    }
    kinds.push_back(p.kind);
    specs.push_back({std::move(label), p.match});
  }
  PatternSet::Options o;
  o.is_reserved = &ProbeMatcher::is_reserved_field;
  o.reserved_why =
      "rule, line and truncated are fields of every probe event; expected another name";
  auto set = PatternSet::compile(specs, where, o);
  if (!set) return set.error();
  if (kind_error) return *kind_error;
  return ProbeMatcher(std::move(kinds), std::move(set).value());
}

std::size_t ProbeMatcher::match(std::string_view line, bool truncated, const std::string& rule,
                                WallTime now, std::vector<Event>& out) const {
  std::vector<int> hits;
  if (!set_.match(line, hits)) return 0;
  for (int hit : hits) {
    Event e;
    e.kind = kinds_[static_cast<std::size_t>(hit)];
    e.source = "probe";
    e.time = now;
    e.rule = rule;
    e.fields.set("rule", rule);
    e.fields.set("line", std::string(line));
    if (truncated) e.fields.set("truncated", true);
    set_.captures(hit, line, [&](const std::string& name, std::string_view value) {
      if (name == "entity")
        e.entity.assign(value);
      else
        e.fields.set(name, std::string(value));
    });
    out.push_back(std::move(e));
  }
  return hits.size();
}

}  // namespace aw
