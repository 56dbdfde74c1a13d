// "Every element" JSON Pointers: { json = "/phases/*/status", equals = "done" }.
#include <gtest/gtest.h>

#include "src/rules/matcher.h"
#include "src/rules/rule_loader.h"

namespace aw {
namespace {

RuleSet with_condition(std::string_view condition) {
  RuleLoad l = load_rules_from_string("[[rule]]\nname = \"r\"\non = \"file.landed\"\nwhen = [ " +
                                          std::string(condition) +
                                          " ]\n[[rule.action]]\ndo = \"emit\"\nkind = \"x\"\n",
                                      "w.toml");
  EXPECT_TRUE(l.ok()) << l.error_text();
  return l.ok() ? std::move(l).rules() : RuleSet();
}

Event phase_file() {
  Event e;
  e.kind = "file.landed";
  e.path = "/p/phases.json";
  return e;
}

bool holds(std::string_view condition, const std::string& content) {
  RuleSet set = with_condition(condition);
  std::vector<const Rule*> out;
  matching_rules(set, phase_file(), MatchInput{&content, nullptr}, out);
  return !out.empty();
}

// explain_mismatch for the one rule, or "" when it matches.
std::string why(std::string_view condition, const std::string& content) {
  RuleSet set = with_condition(condition);
  if (set.size() != 1) return "no rule";
  return explain_mismatch(set.rules()[0], phase_file(), MatchInput{&content, nullptr}).value_or("");
}

constexpr std::string_view kDone = R"({ json = "/phases/*/status", equals = "done" })";

TEST(JsonWildcard, PointerIsCutAtItsWildcards) {
  auto parts = [](std::string_view pointer) {
    RuleSet set = with_condition("{ json = \"" + std::string(pointer) + "\", exists = true }");
    return set.size() == 1 ? set.rules()[0].when[0].json_parts : std::vector<std::string>{"?"};
  };
  EXPECT_EQ(parts("/status"), std::vector<std::string>{"/status"});
  EXPECT_EQ(parts(""), std::vector<std::string>{""});
  EXPECT_EQ(parts("/phases/*/status"), (std::vector<std::string>{"/phases", "/status"}));
  EXPECT_EQ(parts("/*"), (std::vector<std::string>{"", ""}));
  EXPECT_EQ(parts("/a/*/b/*"), (std::vector<std::string>{"/a", "/b", ""}));
  EXPECT_EQ(parts("/a/*/*/c"), (std::vector<std::string>{"/a", "", "/c"}));
  // ~2 is a literal '*'; ~0 and ~1 stay escaped for simdjson; "x*" is not a wildcard.
  EXPECT_EQ(parts("/~2/a~1b/~01/x*"), std::vector<std::string>{"/*/a~1b/~01/x*"});
}

TEST(JsonWildcard, BadEscapeNamesTheThreeEscapes) {
  RuleLoad l = load_rules_from_string(
      "[[rule]]\nname = \"r\"\non = \"x\"\nwhen = [ { json = \"/a~3\", exists = true } ]\n"
      "[[rule.action]]\ndo = \"emit\"\nkind = \"x\"\n",
      "w.toml");
  ASSERT_FALSE(l.ok());
  EXPECT_EQ(l.error_text(),
            "w.toml:4:19: error: invalid JSON Pointer \"/a~3\": '~' must be followed by 0 ('~'), "
            "1 ('/') or 2 ('*')\n");
}

TEST(JsonWildcard, EveryElementMustSatisfyTheOperator) {
  EXPECT_TRUE(holds(kDone, R"({"phases": [{"status": "done"}, {"status": "done"}]})"));
  EXPECT_FALSE(holds(kDone, R"({"phases": [{"status": "done"}, {"status": "running"}]})"));
  EXPECT_FALSE(holds(kDone, R"({"phases": [{"status": "running"}, {"status": "done"}]})"));
  EXPECT_TRUE(holds(kDone, R"({"phases": [{"status": "done"}]})"));
}

TEST(JsonWildcard, EveryElementMustHaveTheValue) {
  EXPECT_FALSE(holds(kDone, R"({"phases": [{"status": "done"}, {"name": "deploy"}]})"));
  EXPECT_FALSE(holds(kDone, R"({"phases": [{"status": "done"}, "done"]})"));
}

TEST(JsonWildcard, AnEmptyMissingOrScalarContainerNeverHolds) {
  EXPECT_FALSE(holds(kDone, R"({"phases": []})"));
  EXPECT_FALSE(holds(kDone, R"({"phases": {}})"));
  EXPECT_FALSE(holds(kDone, R"({"other": []})"));
  EXPECT_FALSE(holds(kDone, R"({"phases": "done"})"));
  EXPECT_FALSE(holds(R"({ json = "/phases/*/status", exists = false })", R"({"phases": []})"));
}

TEST(JsonWildcard, ObjectMembersAreElementsToo) {
  EXPECT_TRUE(
      holds(kDone, R"({"phases": {"build": {"status": "done"}, "test": {"status": "done"}}})"));
  EXPECT_FALSE(holds(kDone, R"({"phases": {"build": {"status": "done"}, "test": {"status": 1}}})"));
}

TEST(JsonWildcard, EveryOperatorWorksPerElement) {
  const std::string doc = R"({"n": [3, 5, 8], "s": ["a1", "a2"], "f": [{"x": 1}, {"y": 2}]})";
  EXPECT_TRUE(holds(R"({ json = "/n/*", gt = 2 })", doc));
  EXPECT_FALSE(holds(R"({ json = "/n/*", gt = 3 })", doc));
  EXPECT_TRUE(holds(R"({ json = "/n/*", in = [3, 5, 8, 13] })", doc));
  EXPECT_TRUE(holds(R"({ json = "/s/*", matches = "^a[0-9]$" })", doc));
  EXPECT_TRUE(holds(R"({ json = "/s/*", not_equals = "a3" })", doc));
  EXPECT_FALSE(holds(R"({ json = "/s/*", not_equals = "a2" })", doc));
  EXPECT_TRUE(holds(R"({ json = "/f/*/z", exists = false })", doc));
  EXPECT_FALSE(holds(R"({ json = "/f/*/x", exists = true })", doc));
  EXPECT_FALSE(holds(R"({ json = "/f/*/x", exists = false })", doc));
}

TEST(JsonWildcard, NestedAndRootWildcards) {
  const std::string doc = R"({"a": [{"b": [1, 1]}, {"b": [1]}]})";
  EXPECT_TRUE(holds(R"({ json = "/a/*/b/*", equals = 1 })", doc));
  EXPECT_FALSE(holds(R"({ json = "/a/*/b/*", equals = 1 })", R"({"a": [{"b": [1]}, {"b": []}]})"));
  EXPECT_TRUE(holds(R"({ json = "/*", equals = true })", "[true, true]"));
  EXPECT_FALSE(holds(R"({ json = "/*", equals = true })", "[true, false]"));
}

TEST(JsonWildcard, TildeTwoAddressesALiteralStarKey) {
  const std::string doc = R"({"*": {"status": "done"}, "x": {"status": "no"}})";
  EXPECT_TRUE(holds(R"({ json = "/~2/status", equals = "done" })", doc));
  EXPECT_FALSE(holds(R"({ json = "/*/status", equals = "done" })", doc));
}

TEST(JsonWildcard, InvalidJsonNeverHolds) {
  EXPECT_FALSE(holds(R"({ json = "/n/*", exists = false })", "{"));
}

TEST(JsonWildcard, ExplainNamesTheFailingElement) {
  EXPECT_EQ(why(kDone, R"({"phases": [{"status": "done"}, {"status": "running"}]})"),
            "condition 1 { json = \"/phases/*/status\", equals = \"done\" } does not hold: at "
            "/phases/1/status the value is \"running\"");
  EXPECT_EQ(why(kDone, R"({"phases": [{"status": "done"}, {}]})"),
            "condition 1 { json = \"/phases/*/status\", equals = \"done\" } does not hold: at "
            "/phases/1/status the value is absent");
  EXPECT_EQ(why(kDone, R"({"phases": []})"),
            "condition 1 { json = \"/phases/*/status\", equals = \"done\" } does not hold: "
            "/phases is an empty array (a \"*\" needs at least one element)");
  EXPECT_EQ(why(kDone, R"({"phases": {}})"),
            "condition 1 { json = \"/phases/*/status\", equals = \"done\" } does not hold: "
            "/phases is an empty object (a \"*\" needs at least one member)");
  EXPECT_EQ(why(kDone, R"({})"),
            "condition 1 { json = \"/phases/*/status\", equals = \"done\" } does not hold: "
            "/phases is absent");
  EXPECT_EQ(why(kDone, R"({"phases": 7})"),
            "condition 1 { json = \"/phases/*/status\", equals = \"done\" } does not hold: "
            "/phases is 7, not an array or object");
  EXPECT_EQ(why(kDone, R"({"phases": [{"status": "done"}]})"), "");
}

TEST(JsonWildcard, ExplainEscapesObjectKeysAndNests) {
  EXPECT_EQ(why(kDone, R"({"phases": {"a/b~*": {"status": "no"}}})"),
            "condition 1 { json = \"/phases/*/status\", equals = \"done\" } does not hold: at "
            "/phases/a~1b~0~2/status the value is \"no\"");
  EXPECT_EQ(why(R"({ json = "/a/*/b/*", equals = 1 })", R"({"a": [{"b": [1]}, {"b": [1, 2]}]})"),
            "condition 1 { json = \"/a/*/b/*\", equals = 1 } does not hold: at /a/1/b/1 the value "
            "is 2");
  EXPECT_EQ(why(R"({ json = "/a/*/b/*", equals = 1 })", R"({"a": [{"b": [1]}, {"c": 0}]})"),
            "condition 1 { json = \"/a/*/b/*\", equals = 1 } does not hold: /a/1/b is absent");
  EXPECT_EQ(why(R"({ json = "/*", equals = 1 })", "[]"),
            "condition 1 { json = \"/*\", equals = 1 } does not hold: the document is an empty "
            "array (a \"*\" needs at least one element)");
}

}  // namespace
}  // namespace aw
