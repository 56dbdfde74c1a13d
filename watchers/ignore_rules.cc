#include "watchers/ignore_rules.h"

#include "watchers/beneath_path.h"

namespace aw {

Result<IgnoreRules> IgnoreRules::compile(const std::vector<std::string>& patterns) {
  IgnoreRules rules;
  for (const auto& p : patterns) {
    if (p.empty()) return make_error("empty ignore pattern (expected a glob such as \"*.tmp\")");
    auto g = Glob::compile(p, GlobMode::kPath);
    if (!g.ok()) return make_error("ignore pattern: " + g.error().message);
    (p.find('/') == std::string::npos ? rules.basename_ : rules.whole_path_)
        .push_back(std::move(g.value()));
  }
  return rules;
}

bool IgnoreRules::ignores_file(std::string_view rel) const {
  const std::string_view base = rel_basename(rel);
  for (const auto& g : basename_)
    if (g.matches(base)) return true;
  for (const auto& g : whole_path_)
    if (g.matches(rel)) return true;
  return false;
}

bool IgnoreRules::ignores_dir(std::string_view rel) const {
  if (ignores_file(rel)) return true;
  // "dir/**" matches "dir/" (** may be empty): everything below is ignored, so
  // the directory itself is not worth a watch.
  std::string with_slash(rel);
  with_slash += '/';
  for (const auto& g : whole_path_)
    if (g.matches(with_slash)) return true;
  return false;
}

}  // namespace aw
