#include "watchers/logtail/line_matcher.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "watchers/logtail/log_corpus.h"

namespace aw {
namespace {

LineMatcher compile_ok(const std::vector<LogPattern>& patterns) {
  auto m = LineMatcher::compile(patterns, "log 'w1'");
  EXPECT_TRUE(m.ok()) << (m.ok() ? "" : m.error().message);
  return std::move(m.value());
}

TEST(LineMatcher, ReportsEveryMatchingPatternInOrder) {
  auto m = compile_ok({{"error", "ERROR"}, {"oom", "out of memory"}, {"never", "^zzz$"}});
  std::vector<int> hits;
  EXPECT_TRUE(m.match("ERROR: out of memory", hits));
  EXPECT_EQ(hits, (std::vector<int>{0, 1}));
  EXPECT_EQ(m.id(1), "oom");
  EXPECT_FALSE(m.match("all fine", hits));
  EXPECT_TRUE(hits.empty());
}

TEST(LineMatcher, NamedGroupsBecomeFieldsInPatternOrder) {
  auto m = compile_ok(
      {{"fail", R"(task (?P<task>\d+) failed: (?P<reason>\w+)(?: code=(?P<code>\d+))?)"}});
  std::vector<int> hits;
  ASSERT_TRUE(m.match("12:00 task 42 failed: timeout", hits));
  ASSERT_TRUE(m.has_captures(0));
  Fields f;
  m.add_captures(0, "12:00 task 42 failed: timeout", f);
  EXPECT_EQ(f.get_string("task"), "42");
  EXPECT_EQ(f.get_string("reason"), "timeout");
  EXPECT_EQ(f.find("code"), nullptr) << "an optional group that did not take part adds nothing";
  ASSERT_EQ(f.size(), 2u);
  EXPECT_EQ(f.begin()->key, "task");
}

TEST(LineMatcher, UnnamedGroupsCaptureNothing) {
  auto m = compile_ok({{"p", R"((\d+) items)"}});
  EXPECT_FALSE(m.has_captures(0));
  Fields f;
  m.add_captures(0, "7 items", f);
  EXPECT_TRUE(f.empty());
}

TEST(LineMatcher, EmptyPatternListMatchesNothing) {
  auto m = compile_ok({});
  std::vector<int> hits;
  EXPECT_FALSE(m.match("anything", hits));
  EXPECT_EQ(m.size(), 0u);
}

TEST(LineMatcher, BadRegexNamesTheLogThePatternAndRe2sComplaint) {
  auto m = LineMatcher::compile({{"ok", "fine"}, {"broken", "task (\\d+"}}, "log 'w1'");
  ASSERT_FALSE(m.ok());
  const std::string& msg = m.error().message;
  EXPECT_NE(msg.find("log 'w1'"), std::string::npos) << msg;
  EXPECT_NE(msg.find("#2 'broken'"), std::string::npos) << msg;
  EXPECT_NE(msg.find("missing )"), std::string::npos) << msg;
}

TEST(LineMatcher, ReservedCaptureNamesAreRefused) {
  auto m = LineMatcher::compile({{"p", "(?P<line>.*)"}}, "log 'w1'");
  ASSERT_FALSE(m.ok());
  EXPECT_NE(m.error().message.find("'line' is reserved"), std::string::npos) << m.error().message;
}

TEST(LineMatcher, DuplicateAndEmptyIdsAreRefused) {
  auto dup = LineMatcher::compile({{"a", "x"}, {"a", "y"}}, "log 'w1'");
  ASSERT_FALSE(dup.ok());
  EXPECT_NE(dup.error().message.find("duplicate pattern id"), std::string::npos);
  auto empty = LineMatcher::compile({{"", "x"}}, "log 'w1'");
  ASSERT_FALSE(empty.ok());
  EXPECT_NE(empty.error().message.find("empty id"), std::string::npos);
}

TEST(LineMatcher, SetAgreesWithEachPatternOnTheBenchCorpus) {
  // The Set is an optimisation: on every line it must say what running each
  // pattern alone says.
  std::vector<LogPattern> patterns;
  for (const auto& p : log_corpus::patterns(100))
    patterns.push_back({"p" + std::to_string(patterns.size()), p});
  auto set = compile_ok(patterns);
  std::vector<LineMatcher> singles;
  singles.reserve(patterns.size());
  for (const auto& p : patterns) singles.push_back(compile_ok({p}));
  const std::string text = log_corpus::log_text(5000, 100);
  std::vector<int> hits, one;
  std::size_t matched = 0;
  for (std::size_t pos = 0; pos < text.size();) {
    const std::size_t nl = text.find('\n', pos);
    const std::string_view line = std::string_view(text).substr(pos, nl - pos);
    pos = nl + 1;
    set.match(line, hits);
    std::vector<int> expected;
    for (std::size_t i = 0; i < singles.size(); ++i)
      if (singles[i].match(line, one)) expected.push_back(static_cast<int>(i));
    ASSERT_EQ(hits, expected) << line;
    if (!hits.empty()) ++matched;
  }
  EXPECT_GT(matched, 10u) << "the corpus should exercise matches";
  EXPECT_EQ(set.set_fallbacks(), 0u);
}

TEST(LineMatcherPrefilter, FindsTheLineOfTheFirstPossibleMatch) {
  auto m = compile_ok({{"err", "ERROR"}, {"start", "^E[0-9]"}, {"end", "done$"}});
  ASSERT_TRUE(m.has_prefilter());
  const std::string block = "ok\nok\nan ERROR here\nok\nE7 x\nall done\nok\n";
  EXPECT_EQ(m.next_candidate(block, 0), 6u);
  EXPECT_EQ(m.next_candidate(block, 6), 6u);
  EXPECT_EQ(m.next_candidate(block, 20), 23u) << "^ matches at a line start";
  EXPECT_EQ(m.next_candidate(block, 28), 28u) << "$ matches at a line end";
  EXPECT_EQ(m.next_candidate(block, 37), block.size()) << "nothing further";
}

TEST(LineMatcherPrefilter, NoMatchSpansTwoLines) {
  auto m = compile_ok({{"p", R"(id=3[^0-9])"}, {"q", R"(foo\s+bar)"}, {"r", "(?s)a.b"}});
  ASSERT_TRUE(m.has_prefilter());
  const std::string block = "id=3\nfoo\nbar\na\nb\n";
  EXPECT_EQ(m.next_candidate(block, 0), block.size());
}

TEST(LineMatcherPrefilter, EmptyMatchAtALineEndBelongsToThatLine) {
  auto m = compile_ok({{"empty-last", "x*$"}});
  const std::string block = "abc\ndef\n";
  EXPECT_EQ(m.next_candidate(block, 0), 0u);
  EXPECT_EQ(m.next_candidate(block, 4), 4u);
}

TEST(LineMatcherPrefilter, PatternsThatChangeMeaningInABlockSwitchItOff) {
  EXPECT_FALSE(compile_ok({{"a", R"(\Astart)"}}).has_prefilter());
  EXPECT_FALSE(compile_ok({{"z", R"(end\z)"}}).has_prefilter());
  EXPECT_FALSE(compile_ok({{"m", "(?-m)^x"}}).has_prefilter());
  EXPECT_TRUE(compile_ok({{"i", "(?i)error"}, {"esc", R"(\\A)"}}).has_prefilter());
  auto off = compile_ok({{"a", R"(\Astart)"}});
  EXPECT_EQ(off.next_candidate("x\nstart\n", 2), 2u) << "every line is a candidate";
}

TEST(LineMatcherPrefilter, SameNamedGroupsInSeveralPatternsAreFine) {
  auto m = compile_ok({{"a", R"(task (?P<id>\d+))"}, {"b", R"(job (?P<id>\d+))"}});
  EXPECT_TRUE(m.has_prefilter());
  EXPECT_EQ(m.next_candidate("x\njob 4\n", 0), 2u);
}

}  // namespace
}  // namespace aw
