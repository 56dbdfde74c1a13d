#include "src/rules/rule.h"

#include "src/core/event_kinds.h"

namespace aw {

bool is_exact_kind_pattern(std::string_view pattern) {
  return pattern.find_first_of("*?[\\") == std::string_view::npos;
}

bool Rule::listens_to(std::string_view kind) const {
  if (schedule && kind == kind::kTimerFired) return true;
  for (const Glob& g : on)
    if (g.matches(kind)) return true;
  return false;
}

bool Rule::listens_to_event(const Event& e) const {
  if (schedule && e.kind == kind::kTimerFired) {
    const FieldValue* f = e.fields.find("rule");
    const auto* s = f ? std::get_if<std::string>(f) : nullptr;
    return s && *s == name;
  }
  return listens_to(e.kind);
}

bool can_trigger(const Rule& rule) {
  if (!rule.enabled) return false;
  if (rule.schedule) return true;
  for (const Glob& g : rule.on)
    if (g.pattern() == kind::kTimerFired) return true;
  return false;
}

RuleSet::RuleSet(std::vector<Rule> rules, std::vector<std::string> files, std::string hash)
    : rules_(std::move(rules)), files_(std::move(files)), hash_(std::move(hash)) {
  for (std::uint32_t i = 0; i < rules_.size(); ++i) {
    const Rule& r = rules_[i];
    bool exact = true;
    for (const Glob& g : r.on) exact = exact && is_exact_kind_pattern(g.pattern());
    if (!exact) {
      wildcard_.push_back(i);
      continue;
    }
    auto add = [&](std::string_view kind) {
      auto& bucket = by_kind_[std::string(kind)];
      if (bucket.empty() || bucket.back() != i) bucket.push_back(i);
    };
    for (const Glob& g : r.on) add(g.pattern());
    if (r.schedule) add(kind::kTimerFired);
  }
}

const Rule* RuleSet::find(std::string_view name) const {
  for (const Rule& r : rules_)
    if (r.name == name) return &r;
  return nullptr;
}

const std::vector<std::uint32_t>* RuleSet::exact_candidates(std::string_view kind) const {
  auto it = by_kind_.find(kind);
  return it == by_kind_.end() ? nullptr : &it->second;
}

}  // namespace aw
