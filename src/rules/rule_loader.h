// Loading rule files (TOML) into a RuleSet, all or nothing.
//
// Rules come in LAYERS, loaded in order: the shipped rules, then the user's
// rules.d/. Within a layer, files load in the order given (a directory
// contributes its *.toml files sorted by name; dotfiles are skipped). A rule in a
// later layer with the name of an earlier rule replaces it in place; a layer's
// top-level `disable = ["name", ...]` removes earlier rules by name. Two rules
// with one name in one layer is an error naming both places.
//
// Every problem of the whole set is collected (not just the first) and reported
// as "FILE:LINE:COLUMN: error: MESSAGE". The result is a RuleSet only when there
// are no errors: a rule file saved with a mistake never yields a partial set, so
// the daemon keeps running the old rules (DESIGN §6.16).
//
// The format is documented in docs/rules.md. Pure: the loader takes file
// contents; reading them from disk is rule_files.h. May be called on any thread.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "src/config/toml_reader.h"
#include "src/rules/rule.h"

namespace aw {

// A mistake in a rule file, positioned: "FILE:LINE:COLUMN: error: MESSAGE".
using RuleError = ConfigError;

// Either a RuleSet or the complete list of errors; never both.
class RuleLoad {
 public:
  explicit RuleLoad(RuleSet rules) : rules_(std::move(rules)) {}
  explicit RuleLoad(std::vector<RuleError> errors) : errors_(std::move(errors)) {}

  bool ok() const { return rules_.has_value(); }
  const RuleSet& rules() const& { return *rules_; }  // precondition: ok()
  RuleSet&& rules() && { return std::move(*rules_); }
  const std::vector<RuleError>& errors() const { return errors_; }
  // All errors, one "FILE:LINE:COLUMN: error: MESSAGE" per line.
  std::string error_text() const;

 private:
  std::optional<RuleSet> rules_;
  std::vector<RuleError> errors_;
};

// One rule file's content; `path` is what errors name.
struct RuleFile {
  std::string path;
  std::string text;
};
using RuleLayer = std::vector<RuleFile>;

// Loads layers already read into memory (tests, `rules test` with inline rules).
RuleLoad load_rules(const std::vector<RuleLayer>& layers);

// One file in one layer: the common case for tests.
RuleLoad load_rules_from_string(std::string_view text, std::string_view path = "<string>");

// Like load_rules(layers), with `errors` found before (files that could not be
// read): the load fails when there are any.
RuleLoad load_rules(const std::vector<RuleLayer>& layers, std::vector<RuleError> errors);

// Reading the layers from disk is in rule_files.h (a library of its own).

}  // namespace aw
