// The loader's entry points; the work is in rule_file_parser.cc,
// rule_conditions.cc, rule_actions.cc and rule_layers.cc (rule_parse.h).
#include "src/rules/rule_loader.h"

#include "src/rules/rule_parse.h"

namespace aw {

std::string RuleLoad::error_text() const {
  std::string out;
  for (const RuleError& e : errors_) out += e.to_string() + "\n";
  return out;
}

RuleLoad load_rules(const std::vector<RuleLayer>& layers) {
  return rule_parse::load_layers(layers, {});
}

RuleLoad load_rules(const std::vector<RuleLayer>& layers, std::vector<RuleError> errors) {
  return rule_parse::load_layers(layers, std::move(errors));
}

RuleLoad load_rules_from_string(std::string_view text, std::string_view path) {
  return load_rules({RuleLayer{RuleFile{std::string(path), std::string(text)}}});
}

}  // namespace aw
