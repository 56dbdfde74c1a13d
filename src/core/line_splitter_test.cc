#include "src/core/line_splitter.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

namespace aw {
namespace {

struct Line {
  std::string text;
  bool truncated;
  friend bool operator==(const Line&, const Line&) = default;
};

std::ostream& operator<<(std::ostream& os, const Line& l) {
  return os << '"' << l.text << '"' << (l.truncated ? " (truncated)" : "");
}

class Collector {
 public:
  explicit Collector(std::size_t max) : splitter(max) {}
  void feed(std::string_view bytes) {
    splitter.feed(bytes, [&](std::string_view l, bool t) { lines.push_back({std::string(l), t}); });
  }
  LineSplitter splitter;
  std::vector<Line> lines;
};

TEST(LineSplitter, WholeLinesComeOutWithoutTheirNewline) {
  Collector c(100);
  c.feed("alpha\nbeta\n\ngamma\n");
  EXPECT_EQ(c.lines,
            (std::vector<Line>{{"alpha", false}, {"beta", false}, {"", false}, {"gamma", false}}));
  EXPECT_EQ(c.splitter.held(), 0u);
}

TEST(LineSplitter, PartialLineIsHeldUntilItsNewline) {
  Collector c(100);
  c.feed("one\ntw");
  EXPECT_EQ(c.lines, (std::vector<Line>{{"one", false}}));
  EXPECT_EQ(c.splitter.held(), 2u);
  c.feed("o and");
  EXPECT_EQ(c.lines.size(), 1u);
  c.feed(" more\nthree");
  EXPECT_EQ(c.lines, (std::vector<Line>{{"one", false}, {"two and more", false}}));
  EXPECT_EQ(c.splitter.held(), 5u);
}

TEST(LineSplitter, ByteByByteFeedsGiveTheSameLines) {
  Collector c(100);
  const std::string text = "first line\nsecond\n\nthird\n";
  for (char ch : text) c.feed(std::string_view(&ch, 1));
  EXPECT_EQ(c.lines, (std::vector<Line>{
                         {"first line", false}, {"second", false}, {"", false}, {"third", false}}));
}

TEST(LineSplitter, CarriageReturnsAreKeptAsGrepKeepsThem) {
  Collector c(100);
  c.feed("dos\r\n");
  EXPECT_EQ(c.lines, (std::vector<Line>{{"dos\r", false}}));
}

TEST(LineSplitter, LineOfExactlyTheLimitIsNotTruncated) {
  Collector c(5);
  c.feed("12345\n");
  c.feed("123");
  c.feed("45\n");
  EXPECT_EQ(c.lines, (std::vector<Line>{{"12345", false}, {"12345", false}}));
}

TEST(LineSplitter, LongLineInOneFeedIsCutAndItsRestSkipped) {
  Collector c(4);
  c.feed("abcdefgh\nok\n");
  EXPECT_EQ(c.lines, (std::vector<Line>{{"abcd", true}, {"ok", false}}));
}

TEST(LineSplitter, LongLineAcrossFeedsIsCutOnceAndSkippedToItsNewline) {
  Collector c(4);
  c.feed("ab");
  c.feed("cdef");  // over the limit without a newline: cut now, not later
  EXPECT_EQ(c.lines, (std::vector<Line>{{"abcd", true}}));
  EXPECT_TRUE(c.splitter.skipping());
  EXPECT_EQ(c.splitter.held(), 0u);
  c.feed("ghijklmnop");  // still the same line
  c.feed("qr\nnext\n");
  EXPECT_EQ(c.lines, (std::vector<Line>{{"abcd", true}, {"next", false}}));
  EXPECT_FALSE(c.splitter.skipping());
}

TEST(LineSplitter, HeldPartPlusNewBytesOverTheLimitIsCut) {
  Collector c(4);
  c.feed("abc");
  c.feed("defg\nz\n");
  EXPECT_EQ(c.lines, (std::vector<Line>{{"abcd", true}, {"z", false}}));
}

TEST(LineSplitter, SkipToNewlineDropsTheRestOfTheCurrentLine) {
  Collector c(100);
  c.splitter.skip_to_newline();
  c.feed("tail of an old line");
  c.feed(" still\nfresh\n");
  EXPECT_EQ(c.lines, (std::vector<Line>{{"fresh", false}}));
}

TEST(LineSplitter, FlushHandsOutTheHeldTail) {
  Collector c(100);
  c.feed("done\nunterminated");
  bool flushed = c.splitter.flush([&](std::string_view l, bool t) {
    c.lines.push_back({std::string(l), t});
  });
  EXPECT_TRUE(flushed);
  EXPECT_EQ(c.lines, (std::vector<Line>{{"done", false}, {"unterminated", false}}));
  EXPECT_FALSE(c.splitter.flush([&](std::string_view, bool) { ADD_FAILURE(); }));
}

}  // namespace
}  // namespace aw
