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
// The format is documented in docs/rules.md. Pure apart from reading the files
// it is given (load_rules_from_paths); may be called on any thread.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "src/rules/rule.h"

namespace aw {

struct RuleError {
  std::string file;
  std::uint32_t line = 0;  // 0 when the error concerns the whole file (e.g. unreadable)
  std::uint32_t column = 0;
  std::string message;

  // "FILE:LINE:COLUMN: error: MESSAGE" (or "FILE: error: MESSAGE" without a line).
  std::string to_string() const;
};

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

// One layer on disk: rule files and/or directories of *.toml files.
struct RuleLayerPaths {
  std::vector<std::string> paths;
  // When true a path that does not exist is an empty layer (the user's rules.d
  // before they create it); otherwise it is an error.
  bool skip_missing = false;
};

// Reads and loads layers from disk. Unreadable files and directories are errors
// of the set like any other.
RuleLoad load_rules_from_paths(const std::vector<RuleLayerPaths>& layers);

// Reads one layer from disk (what load_rules_from_paths does per layer);
// problems are appended to `errors`.
RuleLayer read_rule_layer(const RuleLayerPaths& layer, std::vector<RuleError>& errors);

}  // namespace aw
