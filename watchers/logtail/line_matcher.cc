#include "watchers/logtail/line_matcher.h"

#include <optional>
#include <set>

namespace aw {

bool LineMatcher::is_reserved_field(std::string_view name) {
  return name == "log" || name == "pattern" || name == "line" || name == "line_no" ||
         name == "truncated" || name == "unterminated";
}

Result<LineMatcher> LineMatcher::compile(const std::vector<LogPattern>& patterns,
                                         std::string_view where) {
  std::vector<std::string> ids;
  std::vector<PatternSpec> specs;
  std::set<std::string> seen;
  // Errors come in pattern order: a bad expression before the first bad id is
  // the one reported.
  std::optional<Error> id_error;
  for (std::size_t i = 0; i < patterns.size() && !id_error; ++i) {
    const LogPattern& p = patterns[i];
    std::string label =
        std::string(where) + ": pattern #" + std::to_string(i + 1) + " '" + p.id + "'";
    if (p.id.empty())
      id_error = make_error(std::string(where) + ": pattern #" + std::to_string(i + 1) +
                            ": empty id (expected a name for the `pattern` field)");
    else if (!seen.insert(p.id).second)
      id_error = make_error(label + ": duplicate pattern id (expected ids unique within the log)");
    if (id_error) break;
    ids.push_back(p.id);
    specs.push_back({std::move(label), p.pattern});
  }
  PatternSet::Options o;
  o.is_reserved = &LineMatcher::is_reserved_field;
  o.reserved_why =
      "log, pattern, line, line_no, truncated and unterminated are fields of every log.line "
      "event";
  o.block_prefilter = true;
  auto set = PatternSet::compile(specs, where, o);
  if (!set) return set.error();
  if (id_error) return *id_error;
  return LineMatcher(std::move(ids), std::move(set).value());
}

bool LineMatcher::match(std::string_view line, std::vector<int>& hits) const {
  return set_.match(line, hits);
}

bool LineMatcher::has_captures(int index) const {
  return set_.has_captures(index);
}

void LineMatcher::add_captures(int index, std::string_view line, Fields& fields) const {
  set_.captures(index, line, [&](const std::string& name, std::string_view value) {
    fields.set(name, std::string(value));
  });
}

std::size_t LineMatcher::next_candidate(std::string_view block, std::size_t from) const {
  return set_.next_candidate(block, from);
}

}  // namespace aw
