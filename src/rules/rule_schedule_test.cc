// Scheduled rules (`every`): loading, which timer.fired events they take, and
// whether `agentwatch trigger` may fire them. How `rules list` and `rules test`
// show them: src/cli/rules_commands_test.cc.
#include <gtest/gtest.h>

#include "src/rules/matcher.h"
#include "src/rules/rule_loader.h"

namespace aw {
namespace {

RuleSet load(std::string_view text) {
  RuleLoad l = load_rules_from_string(text, "s.toml");
  EXPECT_TRUE(l.ok()) << l.error_text();
  return l.ok() ? std::move(l).rules() : RuleSet();
}

std::vector<std::string> errors_of(std::string_view text) {
  RuleLoad l = load_rules_from_string(text, "s.toml");
  EXPECT_FALSE(l.ok());
  std::vector<std::string> out;
  for (const RuleError& e : l.errors()) out.push_back(e.to_string());
  return out;
}

// A rule "r" with `keys` inserted at line 3, and one emit action.
std::string rule_with(std::string_view keys) {
  return "[[rule]]\nname = \"r\"\n" + std::string(keys) +
         "\n[[rule.action]]\ndo = \"emit\"\nkind = \"check.done\"\n";
}

Event timer_fired(std::string_view rule, std::string_view reason = "due") {
  Event e;
  e.kind = "timer.fired";
  e.source = "timer";
  e.fields.set("rule", std::string(rule));
  e.fields.set("reason", std::string(reason));
  return e;
}

std::vector<std::string> matching_names(const RuleSet& set, const Event& e) {
  std::vector<const Rule*> out;
  matching_rules(set, e, MatchInput{}, out);
  std::vector<std::string> names;
  names.reserve(out.size());
  for (const Rule* r : out) names.push_back(r->name);
  return names;
}

TEST(RuleSchedule, EveryAloneMakesAScheduledRule) {
  RuleSet set = load(rule_with("every = \"30m\""));
  const Rule& r = set.rules()[0];
  ASSERT_TRUE(r.schedule.has_value());
  EXPECT_EQ(r.schedule->every, std::chrono::minutes(30));
  EXPECT_EQ(r.schedule->jitter, Duration::zero());
  EXPECT_TRUE(r.schedule->persistent);
  EXPECT_TRUE(r.on.empty());
  EXPECT_TRUE(r.listens_to("timer.fired"));
  EXPECT_FALSE(r.listens_to("file.landed"));
}

TEST(RuleSchedule, JitterPersistentAndOn) {
  RuleSet set = load(
      rule_with("every = \"30m\"\njitter = \"60s\"\npersistent = false\non = \"queue.changed\""));
  const Rule& r = set.rules()[0];
  ASSERT_TRUE(r.schedule.has_value());
  EXPECT_EQ(r.schedule->jitter, std::chrono::seconds(60));
  EXPECT_FALSE(r.schedule->persistent);
  EXPECT_TRUE(r.listens_to("queue.changed"));
  EXPECT_TRUE(r.listens_to("timer.fired"));
}

TEST(RuleSchedule, RulesWithoutEveryHaveNoSchedule) {
  RuleSet set = load(rule_with("on = \"file.landed\""));
  EXPECT_FALSE(set.rules()[0].schedule.has_value());
  EXPECT_FALSE(set.rules()[0].listens_to("timer.fired"));
}

TEST(RuleSchedule, NeedsOnOrEvery) {
  EXPECT_EQ(errors_of(rule_with("description = \"nothing to react to\"")),
            std::vector<std::string>{
                "s.toml:1:1: error: rule 'r' has no 'on' (the event kinds it reacts to, e.g. on = "
                "\"file.landed\") and no 'every' (a period, e.g. every = \"30m\")"});
}

TEST(RuleSchedule, EveryMustBeAPositiveDuration) {
  EXPECT_EQ(errors_of(rule_with("every = \"0\"")),
            std::vector<std::string>{"s.toml:3:9: error: 'every' must be longer than 0"});
  EXPECT_EQ(errors_of(rule_with("every = 1800")),
            std::vector<std::string>{
                "s.toml:3:9: error: 'every' expects a duration string like \"30s\", not an "
                "integer"});
  std::vector<std::string> e = errors_of(rule_with("every = \"30 min\""));
  ASSERT_EQ(e.size(), 1u);
  EXPECT_EQ(e[0].rfind("s.toml:3:9: error: 'every': invalid duration \"30 min\"", 0), 0u) << e[0];
}

TEST(RuleSchedule, JitterMustBeShorterThanEvery) {
  EXPECT_EQ(errors_of(rule_with("every = \"1m\"\njitter = \"1m\"")),
            std::vector<std::string>{
                "s.toml:4:10: error: 'jitter' (1m) must be shorter than 'every' (1m)"});
  EXPECT_EQ(errors_of(rule_with("every = \"1m\"\njitter = \"-\"")).size(), 1u);
}

TEST(RuleSchedule, JitterAndPersistentNeedEvery) {
  EXPECT_EQ(errors_of(rule_with("on = \"x\"\njitter = \"1s\"\npersistent = true")),
            (std::vector<std::string>{
                "s.toml:4:10: error: 'jitter' applies only to a scheduled rule: add every = "
                "\"30m\" (or remove it)",
                "s.toml:5:14: error: 'persistent' applies only to a scheduled rule: add every = "
                "\"30m\" (or remove it)"}));
  EXPECT_EQ(errors_of(rule_with("every = \"1m\"\npersistent = \"yes\"")),
            std::vector<std::string>{
                "s.toml:4:14: error: 'persistent' expects true or false, not a string"});
}

TEST(RuleSchedule, ATimerFiredMatchesOnlyItsOwnRule) {
  RuleSet set = load(R"([[rule]]
name = "a"
every = "30m"
[[rule.action]]
do = "emit"
kind = "a.ran"
[[rule]]
name = "b"
every = "1h"
on = "timer.*"
[[rule.action]]
do = "emit"
kind = "b.ran"
[[rule]]
name = "audit"
on = "timer.fired"
[[rule.action]]
do = "emit"
kind = "audit.seen"
)");
  EXPECT_EQ(matching_names(set, timer_fired("a")), (std::vector<std::string>{"a", "audit"}));
  // b listens to timer.* too, yet takes only its own timer.fired.
  EXPECT_EQ(matching_names(set, timer_fired("b", "trigger")),
            (std::vector<std::string>{"b", "audit"}));
  EXPECT_EQ(matching_names(set, timer_fired("nobody")), (std::vector<std::string>{"audit"}));
  Event no_rule = timer_fired("a");
  no_rule.fields.erase("rule");
  EXPECT_EQ(matching_names(set, no_rule), (std::vector<std::string>{"audit"}));
  Event numeric = timer_fired("a");
  numeric.fields.set("rule", FieldValue(std::int64_t{1}));
  EXPECT_EQ(matching_names(set, numeric), (std::vector<std::string>{"audit"}));
  // Its other kinds reach b as usual.
  Event other;
  other.kind = "timer.other";
  EXPECT_EQ(matching_names(set, other), (std::vector<std::string>{"b"}));
}

TEST(RuleSchedule, ConditionsApplyToTheTimerEvent) {
  RuleSet set = load(rule_with(
      "every = \"5m\"\nwhen = [ { field = \"fields.reason\", in = [\"due\", \"trigger\"] } ]"));
  EXPECT_EQ(matching_names(set, timer_fired("r", "due")), std::vector<std::string>{"r"});
  EXPECT_TRUE(matching_names(set, timer_fired("r", "catch_up")).empty());
}

TEST(RuleSchedule, DisabledScheduledRuleNeverMatches) {
  RuleSet set = load(rule_with("every = \"5m\"\nenabled = false"));
  EXPECT_TRUE(matching_names(set, timer_fired("r")).empty());
  EXPECT_FALSE(can_trigger(set.rules()[0]));
}

TEST(RuleSchedule, ExplainSaysWhoseTimerItIs) {
  RuleSet set = load(rule_with("every = \"5m\""));
  const Rule& r = set.rules()[0];
  EXPECT_EQ(explain_mismatch(r, timer_fired("r"), MatchInput{}), std::nullopt);
  EXPECT_EQ(explain_mismatch(r, timer_fired("other"), MatchInput{}),
            "this timer.fired is for rule \"other\" (fields.rule); a scheduled rule takes only "
            "its own");
  Event file;
  file.kind = "file.landed";
  EXPECT_EQ(explain_mismatch(r, file, MatchInput{}),
            "kind \"file.landed\" is not in on = [] (nor the rule's own timer.fired)");
}

TEST(RuleSchedule, CanTrigger) {
  RuleSet set = load(R"([[rule]]
name = "scheduled"
every = "1h"
[[rule.action]]
do = "emit"
kind = "x"
[[rule]]
name = "by-hand"
on = ["file.landed", "timer.fired"]
[[rule.action]]
do = "emit"
kind = "x"
[[rule]]
name = "everything"
on = "*"
[[rule.action]]
do = "emit"
kind = "x"
[[rule]]
name = "timers"
on = "timer.*"
[[rule.action]]
do = "emit"
kind = "x"
[[rule]]
name = "files"
on = "file.landed"
[[rule.action]]
do = "emit"
kind = "x"
)");
  EXPECT_TRUE(can_trigger(*set.find("scheduled")));
  EXPECT_TRUE(can_trigger(*set.find("by-hand")));
  EXPECT_FALSE(can_trigger(*set.find("everything")));
  EXPECT_FALSE(can_trigger(*set.find("timers")));
  EXPECT_FALSE(can_trigger(*set.find("files")));
}

// Another rule's timer.fired is not for this rule at all: `rules test` counts
// it among the rules that do not listen to the kind.
TEST(RuleSchedule, ListensOnlyToItsOwnTimer) {
  RuleSet set = load(rule_with("every = \"30m\""));
  const Rule& r = set.rules()[0];
  EXPECT_FALSE(r.listens_to_event(timer_fired("other")));
  EXPECT_TRUE(r.listens_to_event(timer_fired("r")));
  Event other_kind;
  other_kind.kind = "queue.changed";
  EXPECT_FALSE(r.listens_to_event(other_kind));
}

}  // namespace
}  // namespace aw
