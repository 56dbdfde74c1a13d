// Reading rule files from disk for the loader (rule_loader.h): the only I/O of
// rule loading, kept out of the pure rules library (its own library,
// aw_rule_files). Blocking: call it from the thread pool, or at start-up.
#pragma once

#include <string>
#include <vector>

#include "src/rules/rule_loader.h"

namespace aw {

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

// Reads one layer from disk (what load_rules_from_paths does per layer): a
// directory contributes its *.toml files sorted by name, dotfiles skipped;
// files over 1 MiB are refused. Problems are appended to `errors`.
RuleLayer read_rule_layer(const RuleLayerPaths& layer, std::vector<RuleError>& errors);

}  // namespace aw
