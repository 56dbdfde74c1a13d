// The `agentwatch rules ...` subcommands, as functions the CLI layer calls with
// its streams. They may read files (this is the CLI, not the loop).
#pragma once

#include <functional>
#include <iosfwd>
#include <optional>
#include <string>
#include <vector>

#include "src/core/event.h"
#include "src/rules/rule.h"
#include "src/rules/rule_files.h"
#include "src/rules/template.h"

namespace aw {

// `rules check FILE|DIR...`: validates the paths as ONE layer (one set). Prints
// every error to `err` ("FILE:LINE:COLUMN: error: MESSAGE") followed by a count,
// or "ok: N rules, hash H" to `out`, after the self_loop_warnings and the
// unknown_kind_warnings on `err`.
// Returns 0 when valid (warnings or not), 1 otherwise.
int rules_check(const std::vector<std::string>& paths, std::ostream& out, std::ostream& err);
// The same over explicit layers (the default: shipped rules, then rules.d).
int rules_check(const std::vector<RuleLayerPaths>& layers, std::ostream& out, std::ostream& err);

// Rules whose `on` can match an event their own actions produce (every action
// logs action.started and action.succeeded / action.failed; a mark logs
// state.changed / state.refused; an emit, its kind), with no condition on the
// event's `rule` to tell their own outcomes apart. Such a rule feeds itself: the
// daemon cuts the chain and throttles it (docs/rules.md, "Loops"), but it is
// almost always a mistake. One line per rule: "FILE:LINE: warning: ...".
std::vector<std::string> self_loop_warnings(const RuleSet& rules);

// Rules whose `on` names an exact kind that is a near miss (suggest.h) of a
// known one and is not known itself: not one the daemon emits
// (kind::kAllKinds), nor an `emit` or probe kind of the set, nor under `user.`
// or `agent.` (notify clients' own). A kind close to none is taken for a custom
// one and never warned of. "FILE:LINE: warning: rule 'R': on = "file.landd":
// no event of this kind is emitted; did you mean "file.landed"?"
std::vector<std::string> unknown_kind_warnings(const RuleSet& rules);

// `rules list`: one row per rule in load order: name, on, enabled, file:line, actions.
int rules_list(const RuleSet& rules, std::ostream& out);

// Reads the file at a path for json conditions; nullopt when unreadable.
using ContentLoader = std::function<std::optional<std::string>(const std::string& path)>;

// Reads a whole file (the default ContentLoader).
std::optional<std::string> read_file_content(const std::string& path);

// The process environment, for {env.NAME} (env_var).
EnvLookup process_env();

// `rules test --event JSON`: a dry run. Prints which rules match `e` with the
// exact actions they would run (argv and parameters JSON-quoted, so spaces and
// odd characters are visible), and why each rule listening to e.kind does not
// match. The file at e.path is read through `load` only when a json condition
// needs it. Debounce/cooldown are shown but not applied. Returns 0 when at least
// one rule matches, 1 when none does (like grep).
int rules_test(const RuleSet& rules, const Event& e, std::ostream& out, const ContentLoader& load,
               const EnvLookup& env = process_env());

}  // namespace aw
