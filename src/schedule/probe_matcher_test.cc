#include "src/schedule/probe_matcher.h"

#include <gtest/gtest.h>

namespace aw {
namespace {

const WallTime kNow(std::chrono::seconds(1'700'000'000));

ProbeMatcher compile_ok(const std::vector<ProbeLinePattern>& patterns) {
  auto m = ProbeMatcher::compile(patterns, "rule 'q'");
  EXPECT_TRUE(m.ok()) << m.error().message;
  return std::move(m).value();
}

std::string compile_error(const std::vector<ProbeLinePattern>& patterns) {
  auto m = ProbeMatcher::compile(patterns, "rule 'q'");
  return m.ok() ? "(compiled)" : m.error().message;
}

const std::vector<ProbeLinePattern> kQueue = {
    {R"(^project (?P<entity>\S+) FAILED: (?P<reason>.*)$)", "queue.failed"},
    {R"(^project (?P<entity>\S+) OK(?: in (?P<secs>\d+)s)?$)", "queue.ok"},
    {R"(^project )", "queue.line"},
};

TEST(ProbeMatcherTest, OneEventPerMatchedPatternInPatternOrder) {
  ProbeMatcher m = compile_ok(kQueue);
  std::vector<Event> out;
  EXPECT_EQ(m.match("project alpha FAILED: tests red", false, "q", kNow, out), 2u);
  ASSERT_EQ(out.size(), 2u);
  const Event& failed = out[0];
  EXPECT_EQ(failed.kind, "queue.failed");
  EXPECT_EQ(failed.source, "probe");
  EXPECT_EQ(failed.rule, "q");
  EXPECT_EQ(failed.time, kNow);
  EXPECT_EQ(failed.entity, "alpha");
  Fields expected;
  expected.set("rule", "q");
  expected.set("line", "project alpha FAILED: tests red");
  expected.set("reason", "tests red");
  EXPECT_EQ(failed.fields, expected) << "entity is the event's entity, not a field";
  EXPECT_EQ(out[1].kind, "queue.line");
  EXPECT_EQ(out[1].entity, "");
}

TEST(ProbeMatcherTest, OptionalGroupThatDidNotTakePartAddsNothing) {
  ProbeMatcher m = compile_ok(kQueue);
  std::vector<Event> out;
  m.match("project beta OK", false, "q", kNow, out);
  ASSERT_EQ(out.size(), 2u);
  EXPECT_EQ(out[0].kind, "queue.ok");
  EXPECT_EQ(out[0].fields.find("secs"), nullptr);
  out.clear();
  m.match("project beta OK in 12s", false, "q", kNow, out);
  ASSERT_EQ(out.size(), 2u);
  EXPECT_EQ(out[0].fields.get_string("secs"), "12");
}

TEST(ProbeMatcherTest, NoMatchNoEvent) {
  ProbeMatcher m = compile_ok(kQueue);
  std::vector<Event> out;
  EXPECT_EQ(m.match("queue status at noon", false, "q", kNow, out), 0u);
  EXPECT_TRUE(out.empty());
  EXPECT_EQ(m.match("", false, "q", kNow, out), 0u);
}

TEST(ProbeMatcherTest, TruncatedLineSaysSo) {
  ProbeMatcher m = compile_ok({{"FAIL", "x.fail"}});
  std::vector<Event> out;
  m.match("FAIL and then some", true, "q", kNow, out);
  ASSERT_EQ(out.size(), 1u);
  EXPECT_EQ(out[0].fields.find("truncated") != nullptr, true);
  EXPECT_EQ(*out[0].fields.find("truncated"), FieldValue(true));
  out.clear();
  m.match("FAIL", false, "q", kNow, out);
  EXPECT_EQ(out[0].fields.find("truncated"), nullptr) << "only when true";
}

TEST(ProbeMatcherTest, CapturesInGroupOrder) {
  ProbeMatcher m = compile_ok({{R"((?P<z>\w+)-(?P<a>\w+)-(?P<m>\w+))", "k"}});
  std::vector<Event> out;
  m.match("one-two-three", false, "q", kNow, out);
  ASSERT_EQ(out.size(), 1u);
  std::vector<std::string> keys;
  for (const auto& f : out[0].fields) keys.push_back(f.key);
  EXPECT_EQ(keys, (std::vector<std::string>{"rule", "line", "z", "a", "m"}));
}

TEST(ProbeMatcherTest, EmptyListMatchesNothing) {
  ProbeMatcher m = compile_ok({});
  std::vector<Event> out;
  EXPECT_EQ(m.match("anything", false, "q", kNow, out), 0u);
  EXPECT_EQ(m.size(), 0u);
}

TEST(ProbeMatcherTest, BadExpressionNamesRuleAndPattern) {
  EXPECT_EQ(compile_error({{"ok", "a"}, {"(unclosed", "b"}}),
            "rule 'q': pattern #2: invalid regular expression /(unclosed/: missing ): (unclosed "
            "(expected RE2 syntax)");
}

TEST(ProbeMatcherTest, ReservedCaptureNamesAreRefused) {
  for (const char* name : {"rule", "line", "truncated"}) {
    EXPECT_EQ(compile_error({{std::string("(?P<") + name + ">x)", "a"}}),
              std::string("rule 'q': pattern #1: capture group name '") + name +
                  "' is reserved (rule, line and truncated are fields of every probe event; "
                  "expected another name)");
  }
}

TEST(ProbeMatcherTest, EmptyKindIsRefused) {
  EXPECT_EQ(compile_error({{"x", ""}}),
            "rule 'q': pattern #1: empty kind (expected the kind of the events it makes, e.g. "
            "\"queue.failed\")");
}

TEST(ProbeMatcherTest, BackreferencesAreNotRE2) {
  // RE2 is linear time: no backreferences, so a hostile line cannot stall us.
  EXPECT_NE(compile_error({{R"((a+)\1)", "a"}}).find("invalid regular expression"),
            std::string::npos);
}

}  // namespace
}  // namespace aw
