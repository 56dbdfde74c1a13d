#include "src/rules/rule_files.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>

namespace aw {
namespace {

std::vector<std::string> errors_of(const RuleLoad& load) {
  std::vector<std::string> out;
  for (const RuleError& e : load.errors()) out.push_back(e.to_string());
  return out;
}

// Loads `text` as f.toml, expects exactly one error and returns it as text.
std::string one_error(std::string_view text) {
  RuleLoad load = load_rules_from_string(text, "f.toml");
  EXPECT_FALSE(load.ok());
  EXPECT_EQ(load.errors().size(), 1u) << load.error_text();
  return load.errors().empty() ? "" : load.errors()[0].to_string();
}

// A minimal valid rule with an extra line inserted at line 4.
std::string rule_with(std::string_view extra) {
  return "[[rule]]\n"
         "name = \"r\"\n"
         "on = \"file.landed\"\n" +
         std::string(extra) +
         "\n"
         "[[rule.action]]\n"
         "do = \"emit\"\n"
         "kind = \"x.y\"\n";
}

// A rule whose only action table is `action` (starting at line 4).
std::string rule_with_action(std::string_view action) {
  return "[[rule]]\n"
         "name = \"r\"\n"
         "on = \"file.landed\"\n"
         "[[rule.action]]\n" +
         std::string(action) + "\n";
}

constexpr std::string_view kFullExample = R"(# comment
[[rule]]
name = "result-valid"
description = "A valid result goes to completed/"
on = ["file.landed"]
enabled = true
debounce = "200ms"
cooldown = "10s"
when = [
  { path = "**/results/*.json" },
  { name = "*.json" },
  { field = "fields.via", equals = "close_write" },
  { field = "entity", matches = "^w[0-9]+$" },
  { field = "fields.size", gt = 0 },
  { json = "/status", equals = "done" },
  { json_valid = true },
]
[[rule.action]]
do = "move"
to = "{root}/completed"
timeout = "30s"
retries = 2
backoff = { initial = "500ms", factor = 2.0, max = "30s", jitter = 0.2 }

[[rule.action]]
do = "run"
argv = ["integrate", "--file", "{path}"]
cwd = "{root}"
env = { RESULT = "{name}" }
kill_grace = "2s"

[[rule.action]]
do = "quarantine"
to = "{root}/quarantine"
reason = "bad {name}"

[[rule.action]]
do = "mark"
entity = "{entity}"
marker = "{dir}/.done"

[[rule.action]]
do = "emit"
kind = "result.accepted"
entity = "{entity}"
fields = { file = "{name}" }
)";

TEST(RuleLoader, LoadsTheFullExample) {
  RuleLoad load = load_rules_from_string(kFullExample, "results.toml");
  ASSERT_TRUE(load.ok()) << load.error_text();
  const RuleSet& set = load.rules();
  ASSERT_EQ(set.size(), 1u);
  const Rule& r = set.rules()[0];
  EXPECT_EQ(r.name, "result-valid");
  EXPECT_EQ(r.description, "A valid result goes to completed/");
  ASSERT_EQ(r.on.size(), 1u);
  EXPECT_EQ(r.on[0].pattern(), "file.landed");
  EXPECT_TRUE(r.enabled);
  EXPECT_EQ(r.gate.debounce, std::chrono::milliseconds(200));
  EXPECT_EQ(r.gate.cooldown, std::chrono::seconds(10));
  EXPECT_EQ(r.file, "results.toml");
  EXPECT_EQ(r.line, 2u);
  ASSERT_EQ(r.when.size(), 7u);
  EXPECT_EQ(r.when[0].subject, ConditionSubject::kPath);
  EXPECT_EQ(r.when[1].subject, ConditionSubject::kName);
  EXPECT_EQ(r.when[2].subject, ConditionSubject::kField);
  EXPECT_EQ(r.when[2].key, "via");
  EXPECT_EQ(r.when[3].op, ConditionOp::kMatches);
  EXPECT_EQ(r.when[4].op, ConditionOp::kGt);
  EXPECT_EQ(r.when[5].subject, ConditionSubject::kJson);
  EXPECT_EQ(r.when[5].key, "/status");
  EXPECT_EQ(r.when[6].subject, ConditionSubject::kJsonValid);
  EXPECT_EQ(r.when[4].text, "{ field = \"fields.size\", gt = 0 }");
  EXPECT_EQ(r.when[4].line, 14u);
  EXPECT_TRUE(r.reads_content);

  ASSERT_EQ(r.actions.size(), 5u);
  const ActionSpec& move = r.actions[0];
  EXPECT_EQ(move.type(), ActionType::kMove);
  ASSERT_NE(move.as<MoveActionSpec>(), nullptr);
  EXPECT_EQ(move.as<MoveActionSpec>()->to.source(), "{root}/completed");
  EXPECT_EQ(move.as<MoveActionSpec>()->root.source(), "{root}");  // the default
  EXPECT_EQ(move.timeout, std::chrono::seconds(30));
  EXPECT_EQ(move.retry.retries, 2);
  EXPECT_EQ(move.retry.initial, std::chrono::milliseconds(500));
  EXPECT_EQ(move.retry.factor, 2.0);
  EXPECT_EQ(move.retry.max, std::chrono::seconds(30));
  EXPECT_EQ(move.retry.jitter, 0.2);
  ASSERT_EQ(r.actions[1].type(), ActionType::kRun);
  const RunActionSpec& run = std::get<RunActionSpec>(r.actions[1].body);
  ASSERT_EQ(run.argv.size(), 3u);
  EXPECT_EQ(run.argv[2].source(), "{path}");
  EXPECT_EQ(run.cwd->source(), "{root}");
  ASSERT_EQ(run.env.size(), 1u);
  EXPECT_EQ(run.env[0].first, "RESULT");
  EXPECT_EQ(run.kill_grace, std::chrono::seconds(2));
  EXPECT_FALSE(run.shell);
  ASSERT_NE(r.actions[2].as<QuarantineActionSpec>(), nullptr);
  EXPECT_EQ(r.actions[2].as<QuarantineActionSpec>()->reason.source(), "bad {name}");
  ASSERT_NE(r.actions[3].as<MarkActionSpec>(), nullptr);
  EXPECT_EQ(r.actions[3].as<MarkActionSpec>()->state.source(), "completed");  // the default
  EXPECT_EQ(r.actions[3].as<MarkActionSpec>()->marker->source(), "{dir}/.done");
  ASSERT_NE(r.actions[4].as<EmitActionSpec>(), nullptr);
  EXPECT_EQ(r.actions[4].as<EmitActionSpec>()->kind.source(), "result.accepted");
  ASSERT_EQ(r.actions[4].as<EmitActionSpec>()->fields.size(), 1u);
  EXPECT_EQ(set.files(), std::vector<std::string>{"results.toml"});
  EXPECT_EQ(set.hash().size(), 16u);
}

TEST(RuleLoader, WhenAsArrayOfTableBlocks) {
  RuleLoad load = load_rules_from_string(R"([[rule]]
name = "r"
on = "file.*"
[[rule.when]]
field = "kind"
equals = "file.landed"
[[rule.when]]
path = "*.json"
[[rule.action]]
do = "emit"
kind = "a.b"
)");
  ASSERT_TRUE(load.ok()) << load.error_text();
  EXPECT_EQ(load.rules().rules()[0].when.size(), 2u);
  EXPECT_FALSE(load.rules().rules()[0].reads_content);
}

TEST(RuleLoader, EmptyFileIsAnEmptySet) {
  RuleLoad load = load_rules_from_string("# nothing yet\n");
  ASSERT_TRUE(load.ok());
  EXPECT_EQ(load.rules().size(), 0u);
}

TEST(RuleLoader, TomlSyntaxErrorHasLineAndColumn) {
  std::string e = one_error("[[rule]]\nname = \"unterminated\non = \"x\"\n");
  EXPECT_EQ(e.rfind("f.toml:2:", 0), 0u) << e;
  EXPECT_NE(e.find("error: "), std::string::npos) << e;
}

TEST(RuleLoader, UnknownRuleKeySuggestsClosest) {
  EXPECT_EQ(one_error(rule_with("wen = []")),
            "f.toml:4:1: error: unknown key 'wen' in rule 'r'; did you mean 'when'?");
}

TEST(RuleLoader, UnknownTopLevelKeySuggestsClosest) {
  std::string e = one_error("disabel = [\"x\"]\n");
  EXPECT_EQ(
      e.rfind("f.toml:1:1: error: unknown top-level key 'disabel'; did you mean 'disable'?", 0), 0u)
      << e;
}

TEST(RuleLoader, RuleMustBeAnArrayOfTables) {
  std::string e = one_error("[rule]\nname = \"x\"\n");
  EXPECT_NE(e.find("write [[rule]]"), std::string::npos) << e;
}

TEST(RuleLoader, DurationOfWrongType) {
  EXPECT_EQ(one_error(rule_with("debounce = 200")),
            "f.toml:4:12: error: 'debounce' expects a duration string like \"30s\", not an "
            "integer");
}

TEST(RuleLoader, MalformedDuration) {
  std::string e = one_error(rule_with("cooldown = \"10 sec\""));
  EXPECT_EQ(e.rfind("f.toml:4:12: error: 'cooldown': invalid duration \"10 sec\"", 0), 0u) << e;
}

TEST(RuleLoader, PerAndBreaker) {
  RuleLoad load = load_rules_from_string(
      rule_with("debounce = \"30m\"\nper = \"directory\"\nbreaker = { failures = 5, "
                "cool_down = \"10m\" }"),
      "f.toml");
  ASSERT_TRUE(load.ok()) << load.error_text();
  const Rule& r = load.rules().rules()[0];
  EXPECT_EQ(r.gate.per, GateSubject::kDirectory);
  EXPECT_EQ(r.breaker.failures, 5);
  EXPECT_EQ(r.breaker.cool_down, std::chrono::minutes(10));
  EXPECT_EQ(one_error(rule_with("per = \"dir\"")),
            "f.toml:4:7: error: 'per': unknown value \"dir\" (expected path or directory)");
  EXPECT_EQ(one_error(rule_with("breaker = { failures = 5 }")),
            "f.toml:4:11: error: 'breaker' needs 'cool_down': how long it stays open, e.g. "
            "\"10m\"");
  EXPECT_EQ(one_error(rule_with("breaker = { failures = 0, cool_down = \"1m\" }"))
                .rfind("f.toml:4:24: error: 'breaker.failures'", 0),
            0u);
  RuleLoad typo =
      load_rules_from_string(rule_with("breaker = { failure = 5, cool_down = \"1m\" }"), "f.toml");
  ASSERT_EQ(typo.errors().size(), 2u) << typo.error_text();
  EXPECT_EQ(typo.errors()[0].to_string(),
            "f.toml:4:11: error: 'breaker' needs 'failures': how many failed runs in a row open "
            "it, e.g. 5");
  EXPECT_EQ(typo.errors()[1].to_string(),
            "f.toml:4:13: error: unknown key 'failure' in breaker; did you mean 'failures'?");
}

TEST(RuleLoader, WrongTypesSayWhatWasExpected) {
  EXPECT_EQ(one_error(rule_with("enabled = \"yes\"")),
            "f.toml:4:11: error: 'enabled' expects true or false, not a string");
  EXPECT_EQ(one_error(rule_with("description = 3")),
            "f.toml:4:15: error: 'description' expects a string, not an integer");
}

TEST(RuleLoader, BadRegexReportsRe2Message) {
  std::string e = one_error(rule_with("when = [ { field = \"entity\", matches = \"(w\" } ]"));
  EXPECT_EQ(
      e.rfind("f.toml:4:40: error: 'matches': invalid regular expression \"(w\": missing )", 0), 0u)
      << e;
}

TEST(RuleLoader, BadGlob) {
  std::string e = one_error(rule_with("when = [ { path = \"[abc\" } ]"));
  EXPECT_EQ(e.rfind("f.toml:4:19: error: 'path': unclosed '['", 0), 0u) << e;
}

TEST(RuleLoader, BadKindGlob) {
  std::string e = one_error(
      "[[rule]]\nname = \"r\"\non = [\"ok\", \"file.[x\"]\n[[rule.action]]\ndo = \"emit\"\n"
      "kind = \"a.b\"\n");
  EXPECT_EQ(e.rfind("f.toml:3:13: error: 'on': unclosed '['", 0), 0u) << e;
}

TEST(RuleLoader, TemplateErrorPointsInsideTheString) {
  std::string e = one_error(rule_with_action("do = \"move\"\nto = \"{root}/{nme}\""));
  EXPECT_EQ(
      e,
      "f.toml:6:14: error: 'to': unknown template variable {nme}; did you mean {name}? "
      "(known: path, name, stem, ext, dir, dir_name, root, rel, kind, source, entity, seq, rule, "
      "time, fields.KEY, env.NAME)");
}

TEST(RuleLoader, TemplateErrorColumnAccountsForEscapes) {
  std::string e = one_error(rule_with_action("do = \"move\"\nto = \"\\u00e9\\t/{x\""));
  EXPECT_EQ(e.rfind("f.toml:6:16: error: 'to': unclosed '{'", 0), 0u) << e;
}

TEST(RuleLoader, TemplateErrorInLiteralString) {
  std::string e = one_error(rule_with_action("do = \"run\"\nargv = ['echo', 'a}b']"));
  EXPECT_EQ(e.rfind("f.toml:6:19: error: 'argv': unmatched '}'", 0), 0u) << e;
}

TEST(RuleLoader, UnknownDoSuggestsClosest) {
  EXPECT_EQ(one_error(rule_with_action("do = \"mvoe\"\nto = \"x\"")),
            "f.toml:5:6: error: unknown action \"mvoe\"; did you mean 'move'? (expected run, "
            "move, quarantine, mark, emit, kill, restart, tmux, rotate, probe, repair_json, "
            "complete_session, fail_session, integrate_session, ensure_file, retain or "
            "check_disk)");
}

TEST(RuleLoader, MissingDo) {
  EXPECT_EQ(one_error(rule_with_action("to = \"x\"")),
            "f.toml:4:1: error: action 1 of rule 'r' has no 'do' (expected run, move, "
            "quarantine, mark, emit, kill, restart, tmux, rotate, probe, repair_json, "
            "complete_session, fail_session, integrate_session, ensure_file, retain or "
            "check_disk)");
}

TEST(RuleLoader, MissingRequiredActionKeys) {
  EXPECT_EQ(one_error(rule_with_action("do = \"move\"")),
            "f.toml:4:1: error: action 1 of rule 'r' (do = \"move\") needs 'to': the "
            "destination directory, e.g. \"{root}/completed\"");
  EXPECT_NE(one_error(rule_with_action("do = \"run\"")).find("needs 'argv'"), std::string::npos);
  EXPECT_NE(one_error(rule_with_action("do = \"mark\"")).find("needs 'entity'"), std::string::npos);
  EXPECT_NE(one_error(rule_with_action("do = \"emit\"")).find("needs 'kind'"), std::string::npos);
  RuleLoad load = load_rules_from_string(rule_with_action("do = \"quarantine\""), "f.toml");
  EXPECT_EQ(load.errors().size(), 2u) << load.error_text();  // 'to' and 'reason'
}

TEST(RuleLoader, KeyOfAnotherActionType) {
  EXPECT_EQ(one_error(rule_with_action("do = \"move\"\nto = \"x\"\nargv = [\"a\"]")),
            "f.toml:7:1: error: 'argv' does not apply to do = \"move\" (move takes to and root; "
            "common keys: timeout, retries, backoff, on_interrupt)");
}

TEST(RuleLoader, UnknownActionKeySuggests) {
  EXPECT_EQ(one_error(rule_with_action("do = \"run\"\nargv = [\"a\"]\ntimout = \"1s\"")),
            "f.toml:7:1: error: unknown key 'timout' in action 1 of rule 'r'; did you mean "
            "'timeout'?");
}

TEST(RuleLoader, ArgvMustBeAnArray) {
  std::string e = one_error(rule_with_action("do = \"run\"\nargv = \"integrate {path}\""));
  EXPECT_EQ(e.rfind("f.toml:6:8: error: 'argv' expects an array of strings", 0), 0u) << e;
  EXPECT_NE(e.find("nothing is split on spaces"), std::string::npos) << e;
}

TEST(RuleLoader, MissingNameOnAndAction) {
  RuleLoad load = load_rules_from_string("[[rule]]\ndescription = \"d\"\n", "f.toml");
  ASSERT_FALSE(load.ok());
  std::vector<std::string> e = errors_of(load);
  ASSERT_EQ(e.size(), 3u) << load.error_text();
  EXPECT_EQ(e[0], "f.toml:1:1: error: rule #1 in this file has no 'name'");
  EXPECT_EQ(e[1],
            "f.toml:1:1: error: rule #1 has no 'on' (the event kinds it reacts to, e.g. on = "
            "\"file.landed\") and no 'every' (a period, e.g. every = \"30m\")");
  EXPECT_NE(e[2].find("rule #1 has no action"), std::string::npos);
}

TEST(RuleLoader, InvalidRuleName) {
  std::string e = one_error(
      "[[rule]]\nname = \"Bad Name\"\non = \"x\"\n[[rule.action]]\ndo = \"emit\"\nkind = \"a\"\n");
  EXPECT_EQ(e.rfind("f.toml:2:8: error: rule name \"Bad Name\" must be lowercase", 0), 0u) << e;
}

TEST(RuleLoader, ConditionWithoutSubject) {
  EXPECT_EQ(one_error(rule_with("when = [ { equals = 1 } ]")),
            "f.toml:4:10: error: condition 1 of rule 'r' needs one of field, json, path, name or "
            "json_valid (what to test)");
}

TEST(RuleLoader, ConditionWithTwoSubjects) {
  EXPECT_EQ(one_error(rule_with("when = [ { field = \"kind\", json = \"/a\", equals = 1 } ]")),
            "f.toml:4:28: error: a condition tests one thing, but this one has both 'field' and "
            "'json': write two conditions");
}

TEST(RuleLoader, ConditionWithTwoOperators) {
  EXPECT_EQ(one_error(rule_with("when = [ { field = \"seq\", gt = 1, lt = 5 } ]")),
            "f.toml:4:35: error: a condition has one operator, but this one has both 'gt' and "
            "'lt': write two conditions");
}

TEST(RuleLoader, ConditionWithoutOperator) {
  std::string e = one_error(rule_with("when = [ { field = \"seq\" } ]"));
  EXPECT_EQ(e.rfind("f.toml:4:10: error: condition on \"seq\" needs an operator: equals, "
                    "not_equals, in, matches",
                    0),
            0u)
      << e;
}

TEST(RuleLoader, ShorthandTakesNoOperator) {
  std::string e = one_error(rule_with("when = [ { path = \"*\", equals = \"x\" } ]"));
  EXPECT_EQ(e.rfind("f.toml:4:24: error: 'path' is a glob shorthand and takes no operator", 0), 0u)
      << e;
}

TEST(RuleLoader, UnknownConditionKeySuggests) {
  EXPECT_EQ(one_error(rule_with("when = [ { field = \"seq\", equal = 1 } ]")),
            "f.toml:4:27: error: unknown key 'equal' in a condition of rule 'r'; did you mean "
            "'equals'?");
}

TEST(RuleLoader, UnknownFieldSuggests) {
  EXPECT_EQ(one_error(rule_with("when = [ { field = \"sorce\", equals = \"x\" } ]")),
            "f.toml:4:20: error: unknown field \"sorce\"; did you mean 'source'? (expected kind, "
            "source, path, name, dir, entity, rule or seq or fields.<key>)");
  std::string e = one_error(rule_with("when = [ { field = \"field.size\", gt = 1 } ]"));
  EXPECT_NE(e.find("did you mean 'fields.size'?"), std::string::npos) << e;
}

TEST(RuleLoader, BadJsonPointer) {
  std::string e = one_error(rule_with("when = [ { json = \"status\", exists = true } ]"));
  EXPECT_EQ(e.rfind("f.toml:4:19: error: invalid JSON Pointer \"status\": it must be empty", 0), 0u)
      << e;
  e = one_error(rule_with("when = [ { json = \"/a~3\", exists = true } ]"));
  EXPECT_NE(e.find("'~' must be followed by 0"), std::string::npos) << e;
}

TEST(RuleLoader, OperatorOperandTypes) {
  EXPECT_EQ(one_error(rule_with("when = [ { field = \"seq\", gt = \"5\" } ]")),
            "f.toml:4:32: error: 'gt' expects a number, not a string");
  EXPECT_EQ(one_error(rule_with("when = [ { field = \"seq\", in = 5 } ]")),
            "f.toml:4:32: error: 'in' expects a non-empty array of values, e.g. [\"a\", \"b\"], "
            "not an integer");
  EXPECT_EQ(one_error(rule_with("when = [ { field = \"seq\", exists = 1 } ]")),
            "f.toml:4:36: error: 'exists' expects true or false, not an integer");
  EXPECT_EQ(one_error(rule_with("when = [ { json_valid = \"yes\" } ]")),
            "f.toml:4:25: error: 'json_valid' expects true or false, not a string");
}

TEST(RuleLoader, WhenMustBeAnArray) {
  std::string e = one_error(rule_with("[rule.when]\npath = \"*\""));
  EXPECT_NE(e.find("'when' expects an array of conditions"), std::string::npos) << e;
}

TEST(RuleLoader, RetriesAndBackoffAreChecked) {
  RuleLoad load = load_rules_from_string(
      rule_with_action("do = \"run\"\nargv = [\"a\"]\nretries = -1\n"
                       "backoff = { initial = \"10s\", max = \"1s\", factor = 0.5, jitter = 2, "
                       "jiter = 1 }"),
      "f.toml");
  ASSERT_FALSE(load.ok());
  std::string text = load.error_text();
  EXPECT_NE(text.find("f.toml:7:11: error: 'retries' must be between 0 and 1000"),
            std::string::npos)
      << text;
  EXPECT_NE(text.find("'backoff.factor' must be at least 1.0"), std::string::npos) << text;
  EXPECT_NE(text.find("'backoff.jitter' must be between 0 and 1"), std::string::npos) << text;
  EXPECT_NE(text.find("unknown key 'jiter' in backoff; did you mean 'jitter'?"), std::string::npos)
      << text;
  EXPECT_NE(text.find("'backoff.max' (1s) is shorter than 'backoff.initial' (10s)"),
            std::string::npos)
      << text;
}

TEST(RuleLoader, TimeoutMustBePositive) {
  EXPECT_EQ(one_error(rule_with_action("do = \"run\"\nargv = [\"a\"]\ntimeout = \"0\"")),
            "f.toml:7:11: error: 'timeout' must be longer than 0");
}

TEST(RuleLoader, UnknownMarkStateSuggests) {
  std::string e =
      one_error(rule_with_action("do = \"mark\"\nentity = \"w\"\nstate = \"complted\""));
  EXPECT_EQ(e.rfind("f.toml:7:9: error: unknown state \"complted\"; did you mean 'completed'?", 0),
            0u)
      << e;
}

TEST(RuleLoader, EmitKindMustLookLikeAKind) {
  std::string e = one_error(rule_with_action("do = \"emit\"\nkind = \"Worker Stale\""));
  EXPECT_NE(e.find("must be lowercase dotted words"), std::string::npos) << e;
}

TEST(RuleLoader, EnvNamesAreChecked) {
  std::string e =
      one_error(rule_with_action("do = \"run\"\nargv = [\"a\"]\nenv = { \"A-B\" = \"x\" }"));
  EXPECT_EQ(e.rfind("f.toml:7:9: error: 'env': 'A-B' is not an environment variable name", 0), 0u)
      << e;
}

TEST(RuleLoader, CollectsAllErrorsInSourceOrder) {
  RuleLoad load = load_rules_from_string(R"([[rule]]
name = "a"
on = "x"
wen = []
debounce = 5
[[rule.action]]
do = "mvoe"

[[rule]]
name = "b"
on = "x"
[[rule.action]]
do = "run"
argv = ["{nope}"]
)",
                                         "f.toml");
  ASSERT_FALSE(load.ok());
  std::vector<std::string> e = errors_of(load);
  ASSERT_EQ(e.size(), 4u) << load.error_text();
  EXPECT_EQ(e[0].rfind("f.toml:4:1:", 0), 0u) << e[0];
  EXPECT_EQ(e[1].rfind("f.toml:5:12:", 0), 0u) << e[1];
  EXPECT_EQ(e[2].rfind("f.toml:7:6:", 0), 0u) << e[2];
  EXPECT_EQ(e[3].rfind("f.toml:14:10:", 0), 0u) << e[3];
}

TEST(RuleLoader, DuplicateNameInOneLayerNamesBothPlaces) {
  RuleLayer layer = {
      {"a.toml",
       "[[rule]]\nname = \"x\"\non = \"k\"\n[[rule.action]]\ndo = \"emit\"\nkind = \"e\"\n"},
      {"b.toml",
       "\n[[rule]]\nname = \"x\"\non = \"k\"\n[[rule.action]]\ndo = \"emit\"\nkind = \"e\"\n"},
  };
  RuleLoad load = load_rules({layer});
  ASSERT_FALSE(load.ok());
  ASSERT_EQ(load.errors().size(), 1u) << load.error_text();
  EXPECT_EQ(load.errors()[0].to_string(),
            "b.toml:3:8: error: duplicate rule name 'x' (also defined at a.toml:2:8); a later "
            "layer (rules.d) may replace a rule, one layer may not define it twice");
}

std::string simple_rule(std::string_view name, std::string_view kind) {
  return "[[rule]]\nname = \"" + std::string(name) + "\"\non = \"" + std::string(kind) +
         "\"\n[[rule.action]]\ndo = \"emit\"\nkind = \"e\"\n";
}

TEST(RuleLoader, LaterLayerReplacesRuleInPlace) {
  RuleLayer shipped = {
      {"shipped.toml", simple_rule("a", "k1") + simple_rule("b", "k1") + simple_rule("c", "k1")}};
  RuleLayer user = {{"user.toml", simple_rule("b", "k2") + simple_rule("d", "k2")}};
  RuleLoad load = load_rules({shipped, user});
  ASSERT_TRUE(load.ok()) << load.error_text();
  const auto& rules = load.rules().rules();
  ASSERT_EQ(rules.size(), 4u);
  EXPECT_EQ(rules[0].name, "a");
  EXPECT_EQ(rules[1].name, "b");
  EXPECT_EQ(rules[1].file, "user.toml");
  EXPECT_EQ(rules[1].on[0].pattern(), "k2");
  EXPECT_EQ(rules[2].name, "c");
  EXPECT_EQ(rules[3].name, "d");
  EXPECT_EQ(load.rules().files(), (std::vector<std::string>{"shipped.toml", "user.toml"}));
}

TEST(RuleLoader, DisableRemovesEarlierRules) {
  RuleLayer shipped = {{"shipped.toml", simple_rule("a", "k") + simple_rule("b", "k")}};
  RuleLayer user = {{"user.toml", "disable = [\"a\"]\n"}};
  RuleLoad load = load_rules({shipped, user});
  ASSERT_TRUE(load.ok()) << load.error_text();
  ASSERT_EQ(load.rules().size(), 1u);
  EXPECT_EQ(load.rules().rules()[0].name, "b");
}

TEST(RuleLoader, DisableUnknownNameIsAnErrorWithSuggestion) {
  RuleLayer shipped = {{"shipped.toml", simple_rule("result-valid", "k")}};
  RuleLayer user = {{"user.toml", "disable = [\"result-vaild\"]\n"}};
  RuleLoad load = load_rules({shipped, user});
  ASSERT_FALSE(load.ok());
  EXPECT_EQ(errors_of(load),
            std::vector<std::string>{
                "user.toml:1:12: error: cannot disable 'result-vaild': no rule of an earlier "
                "layer has that name; did you mean 'result-valid'?"});
}

TEST(RuleLoader, DisableInFirstLayerHasNothingToDisable) {
  RuleLoad load = load_rules_from_string("disable = [\"x\"]\n", "f.toml");
  ASSERT_FALSE(load.ok());
  EXPECT_NE(load.error_text().find("cannot disable 'x'"), std::string::npos);
}

TEST(RuleLoader, DisabledRuleIsKept) {
  RuleLoad load = load_rules_from_string(rule_with("enabled = false"));
  ASSERT_TRUE(load.ok()) << load.error_text();
  ASSERT_EQ(load.rules().size(), 1u);
  EXPECT_FALSE(load.rules().rules()[0].enabled);
}

TEST(RuleLoader, OneBadFileRejectsTheWholeSet) {
  RuleLayer layer = {{"good.toml", simple_rule("good", "k")},
                     {"bad.toml", simple_rule("bad", "k") + "oops = 1\n"}};
  RuleLoad load = load_rules({layer});
  ASSERT_FALSE(load.ok());
  ASSERT_EQ(load.errors().size(), 1u);
  EXPECT_EQ(load.errors()[0].file, "bad.toml");
  EXPECT_EQ(load.errors()[0].line, 7u);
}

TEST(RuleLoader, HashIsStableAndFollowsContent) {
  auto hash = [](std::string_view text) {
    RuleLoad l = load_rules_from_string(text, "f.toml");
    EXPECT_TRUE(l.ok()) << l.error_text();
    return l.ok() ? l.rules().hash() : std::string();
  };
  std::string a = hash(simple_rule("a", "k"));
  EXPECT_EQ(a, hash(simple_rule("a", "k")));
  EXPECT_NE(a, hash(simple_rule("a", "k2")));
  EXPECT_NE(a, load_rules_from_string(simple_rule("a", "k"), "g.toml").rules().hash());
}

TEST(RuleLoader, KindIndexKeepsLoadOrder) {
  RuleLoad load =
      load_rules_from_string(simple_rule("a", "file.landed") + simple_rule("b", "file.*") +
                             simple_rule("c", "file.landed") + simple_rule("d", "x"));
  ASSERT_TRUE(load.ok());
  const RuleSet& set = load.rules();
  ASSERT_NE(set.exact_candidates("file.landed"), nullptr);
  EXPECT_EQ(*set.exact_candidates("file.landed"), (std::vector<std::uint32_t>{0, 2}));
  EXPECT_EQ(set.wildcard_candidates(), (std::vector<std::uint32_t>{1}));
  EXPECT_EQ(set.exact_candidates("nope"), nullptr);
}

class RuleDirTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/aw-rules-test-XXXXXX";
    ASSERT_NE(mkdtemp(tmpl), nullptr);
    dir_ = tmpl;
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }
  void write(const std::string& rel, const std::string& text) {
    std::filesystem::create_directories(std::filesystem::path(dir_ / rel).parent_path());
    std::ofstream(dir_ / rel) << text;
  }
  std::filesystem::path dir_;
};

TEST_F(RuleDirTest, DirectoryFilesLoadSortedByName) {
  write("shipped/20-b.toml", simple_rule("b", "k"));
  write("shipped/10-a.toml", simple_rule("a", "k"));
  write("shipped/.#10-a.toml", "garbage");  // editor lock file
  write("shipped/notes.txt", "garbage");
  RuleLoad load = load_rules_from_paths({{{(dir_ / "shipped").string()}, false}});
  ASSERT_TRUE(load.ok()) << load.error_text();
  ASSERT_EQ(load.rules().size(), 2u);
  EXPECT_EQ(load.rules().rules()[0].name, "a");
  EXPECT_EQ(load.rules().rules()[0].file, (dir_ / "shipped/10-a.toml").string());
  EXPECT_EQ(load.rules().rules()[1].name, "b");
}

TEST_F(RuleDirTest, MissingUserDirectoryIsAnEmptyLayer) {
  write("shipped/a.toml", simple_rule("a", "k"));
  RuleLoad load = load_rules_from_paths(
      {{{(dir_ / "shipped").string()}, false}, {{(dir_ / "rules.d").string()}, true}});
  ASSERT_TRUE(load.ok()) << load.error_text();
  EXPECT_EQ(load.rules().size(), 1u);
}

TEST_F(RuleDirTest, MissingPathIsAnErrorUnlessSkipped) {
  std::string missing = (dir_ / "nope.toml").string();
  RuleLoad load = load_rules_from_paths({{{missing}, false}});
  ASSERT_FALSE(load.ok());
  EXPECT_EQ(load.errors()[0].to_string(),
            missing + ": error: cannot read: No such file or directory");
}

TEST_F(RuleDirTest, ErrorsNameTheRealFile) {
  write("rules.d/mine.toml", "\n\n\n\n\n\n\nwat = 1\n" + simple_rule("a", "k"));
  RuleLoad load = load_rules_from_paths({{{(dir_ / "rules.d").string()}, false}});
  ASSERT_FALSE(load.ok());
  EXPECT_EQ(load.errors()[0].to_string(),
            (dir_ / "rules.d/mine.toml").string() +
                ":8:1: error: unknown top-level key 'wat' (a rule file holds [[rule]] tables and "
                "an optional 'disable' list)");
}

}  // namespace
}  // namespace aw
