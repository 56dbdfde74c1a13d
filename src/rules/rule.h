// A loaded rule set: rules as the loader compiled them (globs, regexes and
// templates already checked), indexed by event kind for the matcher.
//
// Built only by the loader (rule_loader.h) or by tests; immutable afterwards, so
// a RuleSet may be shared read-only. Copyable (regexes are shared, immutable).
#pragma once

#include <csignal>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <utility>
#include <variant>
#include <vector>

#include "src/core/clock.h"
#include "src/core/event.h"
#include "src/core/glob.h"
#include "src/plan/plan.h"
#include "src/rules/rule_breaker.h"
#include "src/rules/rule_gate.h"
#include "src/rules/template.h"

namespace re2 {
class RE2;
}

namespace aw {

// A constant from a rule file that a condition compares with.
struct Operand {
  FieldValue value;        // as written: string, integer, float or boolean
  std::string text;        // the value as text, for text comparisons
  bool is_number = false;  // written as a TOML integer or float
  double number = 0;       // when is_number
};

// Where a condition reads its value.
enum class ConditionSubject : std::uint8_t {
  kKind,
  kSource,
  kPath,
  kName,
  kDir,
  kEntity,
  kRule,
  kSeq,        // event members
  kField,      // fields.<key>
  kJson,       // a JSON Pointer into the file content
  kJsonValid,  // whether the file content is valid JSON
};

enum class ConditionOp : std::uint8_t {
  kEquals,
  kNotEquals,
  kIn,
  kMatches,
  kNotMatches,
  kGlob,
  kGt,
  kGe,
  kLt,
  kLe,
  kExists,
  kJsonValid,  // the only "operator" of a json_valid condition
};

struct Condition {
  ConditionSubject subject = ConditionSubject::kKind;
  std::string key;  // kField: the field key; kJson: the JSON Pointer as written
  // kJson: the pointer cut at its "*" segments, each part a plain RFC 6901
  // pointer ("~2" already turned into "*"). One part: no wildcard. With n > 1
  // parts, parts[0] leads to an array or object whose every element must have
  // parts[1] (recursively) and satisfy the operator: "/phases/*/status" →
  // {"/phases", "/status"}; "/*" → {"", ""}.
  std::vector<std::string> json_parts;
  ConditionOp op = ConditionOp::kEquals;
  Operand operand;                        // equals, not_equals, gt, ge, lt, le
  std::vector<Operand> any_of;            // in
  std::shared_ptr<const re2::RE2> regex;  // matches, not_matches
  std::optional<Glob> glob;               // glob (and the path/name shorthands)
  bool flag = true;                       // exists, json_valid
  std::string text;  // the condition as written, for `rules test`: { field = "x", gt = 0 }
  std::uint32_t line = 0, column = 0;

  bool has_wildcard() const { return json_parts.size() > 1; }
  bool reads_content() const {
    return subject == ConditionSubject::kJson || subject == ConditionSubject::kJsonValid;
  }
};

using TemplateTable = std::vector<std::pair<std::string, Template>>;

// One struct per action type, with its templates compiled; rendered into the
// matching request of plan.h per event. An optional template is unset when its
// key was absent; the loader fills the documented defaults of the others.

struct RunActionSpec {
  std::vector<Template> argv;
  std::optional<Template> cwd;
  TemplateTable env;
  bool shell = false;
  Duration kill_grace = std::chrono::seconds(5);
};

struct MoveActionSpec {
  Template to;
  Template root;  // default "{root}"
};

struct QuarantineActionSpec {
  Template to;
  Template root;  // default "{root}"
  Template reason;
};

struct MarkActionSpec {
  std::optional<Template> marker;
  Template entity;
  Template state;  // default "completed"
};

struct EmitActionSpec {
  Template kind;
  std::optional<Template> entity;
  TemplateTable fields;
};

struct KillActionSpec {
  Template worker;  // default "{entity}"
  int signal = SIGTERM;
  Duration grace = std::chrono::seconds(10);
  std::optional<Template> reason;
};

struct RestartActionSpec {
  Template worker;  // default "{entity}"
  std::optional<Template> reason;
};

struct TmuxActionSpec {
  TmuxOp op = TmuxOp::kOpen;
  Template session;
  std::vector<Template> argv;   // open
  std::optional<Template> cwd;  // open
  TemplateTable env;            // open
  std::optional<Template> brief;
  bool submit = true;
  std::vector<Template> keys;
  std::optional<Template> wait_for;  // open
  Duration ready_timeout{0};         // open
};

struct RotateActionSpec {
  Template path;  // default "{path}"
  std::uint64_t max_size = 0;
  Duration max_age{0};
  int keep = 5;
  bool compress = true;
  RotateMethod method = RotateMethod::kRename;
};

struct ProbeActionSpec {
  std::vector<Template> argv;
  std::optional<Template> cwd;
  TemplateTable env;
  std::vector<ProbePattern> patterns;
  std::uint64_t max_output = 1 << 20;
};

struct RepairJsonActionSpec {
  Template path;                       // default "{path}"
  std::optional<Template> to;          // unset: beside the original
  Template root;                       // default "{root}"
  std::optional<Template> quarantine;  // unset: the original stays where it is
};

struct CompleteSessionActionSpec {
  Template session;   // default "{dir}"
  Template to;        // required
  Template root;      // default "{root}"
  Template manifest;  // default "session.json"
  Template marker;    // default "session.done"
};

struct FailSessionActionSpec {
  Template session;   // default "{dir}"
  Template to;        // required
  Template root;      // default "{root}"
  Template manifest;  // default "session.json"
  Template marker;    // default "session.done"
  Template reason;    // default: "no completion for as long as the rule waits"
};

struct IntegrateSessionActionSpec {
  Template session;       // default "{dir}"
  Template to;            // required
  Template root;          // default "{root}"
  RunActionSpec command;  // argv (required), cwd, env, shell, kill_grace
  Template marker;        // default "session.integrated"
  Template claim;         // default "session.integrating"
};

struct EnsureFileActionSpec {
  Template path;    // default "{path}"
  Template source;  // required
  Template root;    // default "{root}"
  std::optional<Template> keep;
  std::uint32_t mode = 0700;
};

struct RetainActionSpec {
  Template dir;   // required
  Template root;  // default "{root}"
  std::optional<Template> glob;
  Duration max_age{0};  // required, > 0
  std::uint64_t max_entries = 10000;
};

struct CheckDiskActionSpec {};

// In ActionType order, like ActionBody: body.index() is the type.
using ActionSpecBody =
    std::variant<RunActionSpec, MoveActionSpec, QuarantineActionSpec, MarkActionSpec,
                 EmitActionSpec, KillActionSpec, RestartActionSpec, TmuxActionSpec,
                 RotateActionSpec, ProbeActionSpec, RepairJsonActionSpec, CompleteSessionActionSpec,
                 FailSessionActionSpec, IntegrateSessionActionSpec, EnsureFileActionSpec,
                 RetainActionSpec, CheckDiskActionSpec>;

// One [[rule.action]]: the common header (rule, index, position, timeout,
// retry; render_error stays empty) and exactly the fields of its type.
struct ActionSpec : ActionHeader {
  ActionSpecBody body;

  ActionType type() const { return static_cast<ActionType>(body.index()); }
  // The body as T, or null when the action is of another type.
  template <class T>
  const T* as() const {
    return std::get_if<T>(&body);
  }
};

// A rule with `every`: the daemon fires timer.fired (kind::kTimerFired; source "timer"; fields:
// rule = the rule's name, reason = "due" | "catch_up" | "trigger") for it every `every`, each
// time shifted by a uniform random offset in [-jitter, +jitter] (src/schedule). When `persistent`,
// a run that fell due while the daemon was down happens once at start (reason "catch_up") instead
// of being skipped.
struct RuleSchedule {
  Duration every{0};   // > 0
  Duration jitter{0};  // >= 0 and < every
  bool persistent = true;
};

struct Rule {
  std::string name;
  std::string description;
  std::vector<Glob> on;  // event kind globs (GlobMode::kPlain); may be empty with a schedule
  bool enabled = true;   // a disabled rule is kept (listed) but never matches
  GatePolicy gate;
  BreakerPolicy breaker;        // `breaker`: none unless set (rule_breaker.h)
  std::vector<Condition> when;  // all must hold
  std::vector<ActionSpec> actions;
  std::string file;  // the rule file it came from
  std::uint32_t line = 0;
  bool reads_content = false;  // some condition is json / json_valid
  // Set when the rule has `every`. A scheduled rule also listens to
  // timer.fired, and then only to the timer.fired whose fields.rule is its own
  // name, even when its `on` matches timer.fired too (so a rule on "timer.*"
  // does not fire on every other rule's timer).
  std::optional<RuleSchedule> schedule;

  // Whether an event of this kind can reach the rule: `on` matches it, or it is
  // timer.fired and the rule has a schedule. Says nothing about fields.rule.
  bool listens_to(std::string_view kind) const;
  // listens_to(e.kind), and for a scheduled rule and a timer.fired event, that
  // the event is for this rule (fields.rule == name).
  bool listens_to_event(const Event& e) const;
};

// Whether `agentwatch trigger RULE` can run `rule` now: the daemon submits
// timer.fired with fields rule = RULE and reason = "trigger", so the rule must
// be enabled and either have a schedule, or list "timer.fired" literally in its
// `on` (a rule on "*" or "timer.*" is not meant to be triggered by hand). A
// rule that lists timer.fired without a schedule sees every rule's timer.fired;
// it should test fields.rule itself. Callers refuse the others with a message.
bool can_trigger(const Rule& rule);

class RuleSet {
 public:
  RuleSet() = default;  // empty: matches nothing
  // `files` are the rule files read, in load order (to watch them for changes);
  // `hash` identifies the content (logged on load, shown by `rules check`).
  RuleSet(std::vector<Rule> rules, std::vector<std::string> files, std::string hash);

  const std::vector<Rule>& rules() const { return rules_; }
  std::size_t size() const { return rules_.size(); }
  const Rule* find(std::string_view name) const;
  const std::vector<std::string>& files() const { return files_; }
  const std::string& hash() const { return hash_; }

  // Candidate rules for a kind, for the matcher: the indices of rules listening
  // to exactly `kind` (or null), and of rules whose `on` has a wildcard. Both
  // ascending; the matcher merges them to keep load order.
  const std::vector<std::uint32_t>* exact_candidates(std::string_view kind) const;
  const std::vector<std::uint32_t>& wildcard_candidates() const { return wildcard_; }

 private:
  struct StringHash {
    using is_transparent = void;
    std::size_t operator()(std::string_view s) const { return std::hash<std::string_view>{}(s); }
  };
  std::vector<Rule> rules_;
  std::vector<std::string> files_;
  std::string hash_;
  std::unordered_map<std::string, std::vector<std::uint32_t>, StringHash, std::equal_to<>> by_kind_;
  std::vector<std::uint32_t> wildcard_;
};

// True when a kind glob has no wildcard, so it matches exactly one kind.
bool is_exact_kind_pattern(std::string_view pattern);

}  // namespace aw
