// Internal to the rule loader (rule_loader.h): what its parts share. Not for
// other modules.
//
//   rule_file_parser.cc  one file: the top level, [[rule]] tables, on/every
//   rule_conditions.cc   [[rule.when]] conditions
//   rule_actions.cc      [[rule.action]] tables, one key table per action type
//   rule_layers.cc       layers: overrides, `disable`, duplicates, the hash
//
// Every part reads through one TomlReader (src/config/toml_reader.h), so every
// mistake is reported as FILE:LINE:COLUMN with what was expected, and parsing
// goes on after a mistake so one run reports all of them.
#pragma once

#include <algorithm>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "src/config/toml_reader.h"
#include "src/rules/rule.h"
#include "src/rules/rule_loader.h"

namespace aw::rule_parse {

using Keys = KeyList;

inline bool contains(const Keys& keys, std::string_view k) {
  return std::find(keys.begin(), keys.end(), k) != keys.end();
}

// Environment variable names: letters, digits and '_', not starting with a digit.
bool is_env_name(std::string_view s);
// Field keys: letters, digits, '_', '-', '.'.
bool is_field_key(std::string_view s);
// Event kinds: lowercase letters, digits, '.', '_', '-'.
bool is_kind_name(std::string_view s);

// The getters every part uses, forwarded to the file's TomlReader so that the
// parsers read like the grammar they implement.
class RuleReader {
 protected:
  explicit RuleReader(TomlReader& r) : r_(r) {}

  static ConfigPos pos(const toml::node& n) { return TomlReader::pos(n); }
  static ConfigPos pos(const toml::key& k) { return TomlReader::pos(k); }
  ConfigPos pos_in_string(const toml::node& v, std::size_t offset) const {
    return r_.pos_in_string(v, offset);
  }
  void error(ConfigPos p, std::string message) { r_.error(p, std::move(message)); }
  void unknown_key(const toml::key& k, std::string_view where, const Keys& known) {
    r_.unknown_key(k, where, known);
  }
  void wrong_type(const toml::node& v, std::string_view key, std::string_view expected) {
    r_.wrong_type(v, key, expected);
  }
  std::optional<std::string> get_string(const toml::node& v, std::string_view key) {
    return r_.get_string(v, key);
  }
  std::optional<bool> get_bool(const toml::node& v, std::string_view key) {
    return r_.get_bool(v, key);
  }
  std::optional<double> get_number(const toml::node& v, std::string_view key) {
    return r_.get_number(v, key);
  }
  std::optional<Duration> get_duration(const toml::node& v, std::string_view key, bool positive) {
    return r_.get_duration(v, key, positive);
  }
  std::optional<std::uint64_t> get_byte_size(const toml::node& v, std::string_view key) {
    return r_.get_byte_size(v, key);
  }
  std::optional<std::int64_t> get_int(const toml::node& v, std::string_view key, std::int64_t min,
                                      std::int64_t max, std::string_view expected) {
    return r_.get_int(v, key, min, max, expected);
  }
  std::optional<std::size_t> get_choice(const toml::node& v, std::string_view key,
                                        const Keys& choices) {
    return r_.get_choice(v, key, choices);
  }

  TomlReader& r_;
};

// [[rule.when]]: the conditions of rule `label` ("'name'" or "#3"), appended to rule.when.
void parse_when(TomlReader& r, const toml::node& v, Rule& rule, const std::string& label);

// [[rule.action]]: the actions of rule `label`, appended to rule.actions.
void parse_actions(TomlReader& r, const toml::node& v, Rule& rule, const std::string& label);
// The action types, in ActionType order ("run", "move" ...), for messages.
const Keys& action_type_names();

struct ParsedRule {
  Rule rule;
  ConfigPos name_pos;
};

struct Disable {
  std::string name;
  std::string file;
  ConfigPos pos;
};

// Parses one file: its rules and its `disable` list; every problem goes to `errors`.
void parse_rule_file(const RuleFile& file, std::vector<RuleError>& errors,
                     std::vector<ParsedRule>& rules, std::vector<Disable>& disables);

// Parses the files of every layer and applies the layers in order (see
// rule_loader.h); `errors` holds problems found before (files not read).
RuleLoad load_layers(const std::vector<RuleLayer>& layers, std::vector<RuleError> errors);

}  // namespace aw::rule_parse
