// Pure tests of PatternSet: hits, captures, errors, the block prefilter.
#include "src/match/pattern_set.h"

#include <gtest/gtest.h>

#include <string>
#include <thread>
#include <utility>
#include <vector>

namespace aw {
namespace {

std::vector<PatternSpec> specs(const std::vector<std::string>& regexes) {
  std::vector<PatternSpec> out;
  for (std::size_t i = 0; i < regexes.size(); ++i)
    out.push_back({"p" + std::to_string(i + 1), regexes[i]});
  return out;
}

PatternSet compile_ok(const std::vector<std::string>& regexes, const PatternSet::Options& o = {}) {
  auto s = PatternSet::compile(specs(regexes), "test", o);
  EXPECT_TRUE(s.ok()) << s.error().message;
  return std::move(s).value();
}

std::vector<std::pair<std::string, std::string>> captures_of(const PatternSet& s, int index,
                                                             std::string_view line) {
  std::vector<std::pair<std::string, std::string>> out;
  s.captures(index, line, [&](const std::string& name, std::string_view value) {
    out.emplace_back(name, std::string(value));
  });
  return out;
}

TEST(PatternSet, EveryMatchingPatternIsAHitInPatternOrder) {
  PatternSet s = compile_ok({"error", "^never", "err", "o+r"});
  std::vector<int> hits{42};
  EXPECT_TRUE(s.match("an error here", hits));
  EXPECT_EQ(hits, (std::vector<int>{0, 2, 3}));
  EXPECT_FALSE(s.match("fine", hits));
  EXPECT_TRUE(hits.empty());
  EXPECT_EQ(s.size(), 4u);
  EXPECT_EQ(s.fallbacks(), 0u);
}

TEST(PatternSet, NamedGroupsInGroupOrderAndOptionalOnesOnlyWhenTheyTookPart) {
  PatternSet s = compile_ok({R"((?P<z>\w+)-(?P<a>\w+)(?:-(?P<m>\w+))?)", "(plain) (groups)"});
  EXPECT_TRUE(s.has_captures(0));
  EXPECT_FALSE(s.has_captures(1)) << "unnamed groups capture nothing";
  using P = std::pair<std::string, std::string>;
  EXPECT_EQ(captures_of(s, 0, "x y-b-c"), (std::vector<P>{{"z", "y"}, {"a", "b"}, {"m", "c"}}));
  EXPECT_EQ(captures_of(s, 0, "y-b"), (std::vector<P>{{"z", "y"}, {"a", "b"}}));
  EXPECT_TRUE(captures_of(s, 0, "no dash").empty()) << "a line the pattern misses adds nothing";
  EXPECT_TRUE(captures_of(s, 1, "plain groups").empty());
}

TEST(PatternSet, EmptyListMatchesNothing) {
  PatternSet s = compile_ok({});
  std::vector<int> hits;
  EXPECT_FALSE(s.match("anything", hits));
  EXPECT_EQ(s.next_candidate("a\nb\n", 0), 4u);
}

TEST(PatternSet, BadExpressionNamesTheLabelAndRe2sComplaint) {
  auto s = PatternSet::compile({{"log 'w': pattern #2 'x'", "task (\\d+"}}, "log 'w'", {});
  ASSERT_FALSE(s.ok());
  EXPECT_NE(s.error().message.find("log 'w': pattern #2 'x': invalid regular expression /task "),
            std::string::npos)
      << s.error().message;
  EXPECT_NE(s.error().message.find("missing )"), std::string::npos) << s.error().message;
  EXPECT_NE(s.error().message.find("expected RE2 syntax"), std::string::npos);
}

TEST(PatternSet, ReservedCaptureNamesAreRefusedWithTheCallersReason) {
  PatternSet::Options o;
  o.is_reserved = [](std::string_view n) { return n == "line"; };
  o.reserved_why = "line is every event's";
  auto s = PatternSet::compile(specs({"ok", "(?P<line>.*)"}), "test", o);
  ASSERT_FALSE(s.ok());
  EXPECT_EQ(s.error().message, "p2: capture group name 'line' is reserved (line is every event's)");
}

TEST(PatternSet, BackreferencesAreNotRE2) {
  EXPECT_FALSE(PatternSet::compile(specs({R"((a)\1)"}), "test", {}).ok());
}

TEST(PatternSet, PrefilterOnlyWhenAskedFor) {
  EXPECT_FALSE(compile_ok({"x"}).has_prefilter());
  PatternSet::Options o;
  o.block_prefilter = true;
  EXPECT_TRUE(compile_ok({"x"}, o).has_prefilter());
}

TEST(PatternSet, PrefilterSkipsToTheLineOfTheFirstPossibleMatch) {
  PatternSet::Options o;
  o.block_prefilter = true;
  PatternSet s = compile_ok({"^ERROR", "panic$"}, o);
  const std::string block = "ok\nfine ERROR\nall good\nERROR one\nkernel panic\n";
  const std::size_t first = s.next_candidate(block, 0);
  EXPECT_EQ(block.substr(first, 9), "ERROR one");
  const std::size_t second = s.next_candidate(block, block.find('\n', first) + 1);
  EXPECT_EQ(block.substr(second, 12), "kernel panic");
  EXPECT_EQ(s.next_candidate(block, block.size()), block.size());
  EXPECT_EQ(s.next_candidate("a\nb\n", 0), 4u) << "no line can match";
}

TEST(PatternSet, PatternsThatChangeMeaningInABlockSwitchThePrefilterOff) {
  PatternSet::Options o;
  o.block_prefilter = true;
  EXPECT_FALSE(compile_ok({R"(\Afoo)"}, o).has_prefilter());
  EXPECT_FALSE(compile_ok({R"((?-m)^x)"}, o).has_prefilter());
  EXPECT_TRUE(compile_ok({R"(\\A)"}, o).has_prefilter()) << "an escaped backslash then A";
}

TEST(PatternSet, MayBeUsedFromSeveralThreadsAtOnce) {
  const PatternSet s = compile_ok({R"(id=(?P<id>\d+))", "id"});
  std::vector<std::thread> threads;
  threads.reserve(4);
  std::vector<int> ok(4, 0);
  for (int t = 0; t < 4; ++t)
    threads.emplace_back([&, t] {
      std::vector<int> hits;
      for (int i = 0; i < 2000; ++i) {
        const std::string line = "x id=" + std::to_string(i);
        if (!s.match(line, hits) || hits.size() != 2) return;
        std::string got;
        s.captures(0, line, [&](const std::string&, std::string_view v) { got = v; });
        if (got != std::to_string(i)) return;
      }
      ok[static_cast<std::size_t>(t)] = 1;
    });
  for (auto& th : threads) th.join();
  EXPECT_EQ(ok, (std::vector<int>{1, 1, 1, 1}));
}

}  // namespace
}  // namespace aw
