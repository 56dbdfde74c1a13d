// Matching events against rules and rendering the actions to run: pure, and the
// hot path of the daemon (every event goes through it).
//
// How the daemon uses it, per event (on the loop thread):
//   1. if (needs_content(rules, e)) read the file at e.path on the thread pool, then
//      continue on the loop with `content` set (nullptr when unreadable);
//   2. matching_rules(rules, e, input, matched)  — the rules whose kind and
//      conditions hold, in load order;
//   3. for each matched rule, pass it through the RuleGate (rule_gate.h), and for
//      those that fire now run render(*rule, e, input); deferred (debounced)
//      firings come back later from RuleGate::take_due and are rendered then with
//      the held event — their conditions were checked when the event arrived.
// match() does 2 and 3 without the gate, for tests and `rules test`.
//
// Thread safety: functions are reentrant; each thread has its own JSON parser.
// Lifetimes: the returned Rule pointers point into the RuleSet and live as long
// as it does.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "src/core/event.h"
#include "src/plan/plan.h"
#include "src/rules/rule.h"
#include "src/rules/template.h"

namespace aw {

// Everything besides the event that matching and rendering may read. Borrowed.
struct MatchInput {
  // The content of the file at event.path, or nullptr when it was not read or is
  // unreadable. A json / json_valid condition never holds without content.
  const std::string* content = nullptr;
  // For {env.NAME} in templates; null or empty = no environment.
  const EnvLookup* env = nullptr;
};

// Appends to `out` the enabled rules whose `on` matches e.kind and whose
// conditions all hold, in load order. Allocates nothing unless a rule matches
// (and `out` has no room). The content is parsed as JSON at most once per call.
void matching_rules(const RuleSet& rules, const Event& e, const MatchInput& input,
                    std::vector<const Rule*>& out);

// The actions of `rule` rendered for `e`. A template whose value is missing
// (e.g. {fields.x} absent) leaves that ActionRequest with render_error set; the
// other actions are rendered normally.
Plan render(const Rule& rule, const Event& e, const MatchInput& input);

// matching_rules + render, ignoring debounce/cooldown.
std::vector<Plan> match(const RuleSet& rules, const Event& e, const MatchInput& input);

// True when some enabled rule listening to e.kind has a json / json_valid
// condition and its other conditions hold, i.e. reading the file could change the
// outcome. False when e.path is empty.
bool needs_content(const RuleSet& rules, const Event& e);

// Why `rule` does not match `e` ("disabled", "kind ... is not in on = [...]",
// "condition 2 { field = ..., gt = 0 } does not hold: fields.size is 0"), or
// nullopt when it matches. For `rules test`; not on the hot path.
std::optional<std::string> explain_mismatch(const Rule& rule, const Event& e,
                                            const MatchInput& input);

}  // namespace aw
