#include "watchers/logtail/line_scanner.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "watchers/logtail/log_corpus.h"

namespace aw {
namespace {

struct Seen {
  std::string line;
  bool truncated;
  std::vector<int> hits;
  friend bool operator==(const Seen&, const Seen&) = default;
};

// What the scanner must say: every line through the Set, no prefilter.
std::vector<Seen> one_by_one(const LineMatcher& m, const std::string& text, std::size_t max) {
  std::vector<Seen> out;
  LineSplitter splitter(max);
  std::vector<int> hits;
  splitter.feed(text, [&](std::string_view line, bool truncated) {
    m.match(line, hits);
    out.push_back({std::string(line), truncated, hits});
  });
  return out;
}

std::vector<Seen> scanned(const LineMatcher& m, const std::string& text, std::size_t max,
                          std::size_t chunk, std::uint64_t* set_runs = nullptr) {
  std::vector<Seen> out;
  LineScanner scanner(m, max);
  for (std::size_t off = 0; off < text.size(); off += chunk)
    scanner.feed(std::string_view(text).substr(off, chunk),
                 [&](std::string_view line, bool truncated, const std::vector<int>& hits) {
                   out.push_back({std::string(line), truncated, hits});
                 });
  if (set_runs) *set_runs = scanner.lines_matched_one_by_one();
  return out;
}

LineMatcher compile_ok(const std::vector<LogPattern>& patterns) {
  auto m = LineMatcher::compile(patterns, "log 'w1'");
  EXPECT_TRUE(m.ok()) << (m.ok() ? "" : m.error().message);
  return std::move(m.value());
}

TEST(LineScanner, AgreesWithTheSetOnEveryLineWhateverTheChunking) {
  auto m = compile_ok(
      {{"err", "ERROR"}, {"tail", "tail$"}, {"head", "^head"}, {"id", R"(id=(?P<id>\d+))"}});
  ASSERT_TRUE(m.has_prefilter());
  std::string text;
  for (int i = 0; i < 200; ++i) {
    text += "plain line " + std::to_string(i) + "\n";
    if (i % 7 == 0) text += "an ERROR id=" + std::to_string(i) + "\n";
    if (i % 11 == 0) text += "head of a line\n";
    if (i % 13 == 0) text += "ends in tail\n";
    if (i % 17 == 0) text += std::string(50, 'x') + "tail\n";        // cut before its match at 40
    if (i % 19 == 0) text += "ERROR" + std::string(60, 'y') + "\n";  // match inside the cut
    if (i % 23 == 0) text += "dos ends in tail\r\n";
    if (i % 29 == 0) text += "\n";
  }
  const auto expected = one_by_one(m, text, 40);
  ASSERT_GT(expected.size(), 300u);
  for (std::size_t chunk : {1u, 3u, 17u, 41u, 64u, 1000u, 100000u}) {
    SCOPED_TRACE("chunk " + std::to_string(chunk));
    EXPECT_EQ(scanned(m, text, 40, chunk), expected);
  }
}

TEST(LineScanner, MostLinesOfAQuietLogSkipTheSet) {
  std::vector<LogPattern> patterns;
  for (const auto& p : log_corpus::patterns(100))
    patterns.push_back({"p" + std::to_string(patterns.size()), p});
  auto m = compile_ok(patterns);
  const std::string text = log_corpus::log_text(20000, 100);
  std::uint64_t set_runs = 0;
  const auto got = scanned(m, text, 64 * 1024, 64 * 1024, &set_runs);
  EXPECT_EQ(got, one_by_one(m, text, 64 * 1024));
  std::size_t matched = 0;
  for (const auto& s : got) matched += s.hits.empty() ? 0 : 1;
  EXPECT_GT(matched, 100u);
  EXPECT_LT(set_runs, matched * 2 + 20)
      << "the Set ran on candidate lines, not on all " << got.size();
}

TEST(LineScanner, WithoutAPrefilterEveryLineGoesThroughTheSet) {
  auto m = compile_ok({{"a", R"(\Astart)"}});
  ASSERT_FALSE(m.has_prefilter());
  const std::string text = "start 1\nno\nstart 2\n";
  std::uint64_t set_runs = 0;
  EXPECT_EQ(scanned(m, text, 100, 5, &set_runs), one_by_one(m, text, 100));
  EXPECT_EQ(set_runs, 3u);
}

TEST(LineScanner, FlushMatchesTheHeldTail) {
  auto m = compile_ok({{"err", "ERROR"}});
  LineScanner scanner(m, 100);
  scanner.feed(
      "ok\nan ERROR without newline",
      [](std::string_view, bool, const std::vector<int>& hits) { EXPECT_TRUE(hits.empty()); });
  std::vector<int> got;
  EXPECT_TRUE(
      scanner.flush([&](std::string_view, bool, const std::vector<int>& hits) { got = hits; }));
  EXPECT_EQ(got, (std::vector<int>{0}));
}

}  // namespace
}  // namespace aw
