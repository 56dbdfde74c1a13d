#include "watchers/move_pairer.h"

#include <gtest/gtest.h>

namespace aw {
namespace {

using std::chrono::milliseconds;

PendingMove move(std::string rel, bool is_dir = false, bool hides = false, std::size_t root = 0,
                 std::uint64_t gen = 0) {
  PendingMove m;
  m.root = root;
  m.root_gen = gen;
  m.rel = std::move(rel);
  m.is_dir = is_dir;
  m.hides_subtree = hides;
  return m;
}

TEST(MovePairerTest, PairsByCookie) {
  MovePairer p(milliseconds(100));
  const MonoTime t0{};
  p.moved_from(7, move("a.tmp"), t0);
  p.moved_from(8, move("b.tmp"), t0);
  auto m = p.moved_to(7);
  ASSERT_TRUE(m);
  EXPECT_EQ(m->rel, "a.tmp");
  EXPECT_FALSE(p.moved_to(7)) << "taken out";
  EXPECT_EQ(p.size(), 1u);
}

TEST(MovePairerTest, CookieZeroAndUnknownCookiesAreMovesIn) {
  MovePairer p(milliseconds(100));
  p.moved_from(0, move("x"), MonoTime{});
  EXPECT_FALSE(p.moved_to(0));
  EXPECT_FALSE(p.moved_to(99));
}

TEST(MovePairerTest, DeadlineIsTheWindowAfterTheFirstHalf) {
  MovePairer p(milliseconds(100));
  EXPECT_FALSE(p.next_deadline());
  p.moved_from(1, move("a"), MonoTime(milliseconds(50)));
  p.moved_from(2, move("b"), MonoTime(milliseconds(20)));
  EXPECT_EQ(p.next_deadline(), MonoTime(milliseconds(120)));
  EXPECT_TRUE(p.expire(MonoTime(milliseconds(119))).empty());
  auto out = p.expire(MonoTime(milliseconds(120)));
  ASSERT_EQ(out.size(), 1u);
  EXPECT_EQ(out[0].rel, "b");
  EXPECT_EQ(p.next_deadline(), MonoTime(milliseconds(150)));
}

TEST(MovePairerTest, ExpireIsOrderedByDeadlineThenPath) {
  MovePairer p(milliseconds(10));
  p.moved_from(1, move("c"), MonoTime(milliseconds(5)));
  p.moved_from(2, move("b"), MonoTime(milliseconds(0)));
  p.moved_from(3, move("a"), MonoTime(milliseconds(0)));
  auto out = p.expire(MonoTime(milliseconds(1000)));
  ASSERT_EQ(out.size(), 3u);
  EXPECT_EQ(out[0].rel, "a");
  EXPECT_EQ(out[1].rel, "b");
  EXPECT_EQ(out[2].rel, "c");
  EXPECT_TRUE(p.empty());
  EXPECT_FALSE(p.next_deadline()) << "nothing pending: no alarm";
}

TEST(MovePairerTest, AnUnresolvedDirectoryMoveHidesItsSubtreeUntilPairedOrExpired) {
  MovePairer p(milliseconds(100));
  p.moved_from(5, move("stage", true, true, /*root=*/1, /*gen=*/3), MonoTime{});
  EXPECT_TRUE(p.hides(1, 3, "stage"));
  EXPECT_TRUE(p.hides(1, 3, "stage/sub"));
  EXPECT_FALSE(p.hides(1, 3, "stage-2"));
  EXPECT_FALSE(p.hides(1, 3, "")) << "the root itself is not inside the moved directory";
  EXPECT_FALSE(p.hides(0, 3, "stage")) << "another root";
  EXPECT_FALSE(p.hides(1, 4, "stage")) << "the root's tree was dropped since";
  ASSERT_TRUE(p.moved_to(5));
  EXPECT_FALSE(p.hides(1, 3, "stage/sub"));
  p.moved_from(6, move("stage", true, true, 1, 3), MonoTime{});
  p.expire(MonoTime(milliseconds(100)));
  EXPECT_FALSE(p.hides(1, 3, "stage/sub"));
}

TEST(MovePairerTest, FilesAndIgnoredDirectoriesHideNothing) {
  MovePairer p(milliseconds(100));
  p.moved_from(1, move("f", false, false), MonoTime{});
  p.moved_from(2, move("ignored", true, false), MonoTime{});
  EXPECT_FALSE(p.hides(0, 0, "f"));
  EXPECT_FALSE(p.hides(0, 0, "ignored/x"));
}

TEST(MovePairerTest, SameCookieAgainReplacesTheOlderHalf) {
  MovePairer p(milliseconds(100));
  p.moved_from(1, move("d", true, true), MonoTime{});
  p.moved_from(1, move("f"), MonoTime{});
  EXPECT_FALSE(p.hides(0, 0, "d/x"));
  EXPECT_EQ(p.moved_to(1)->rel, "f");
}

TEST(MovePairerTest, HoursOfUnpairedMovesStayBounded) {
  // One first half every 10 ms for an hour, never paired: each ages out after
  // the window, so at most window/period + 1 are ever pending.
  MovePairer p(milliseconds(100));
  std::size_t expired = 0, most = 0;
  for (int i = 0; i < 360'000; ++i) {
    const MonoTime now(milliseconds(10) * i);
    expired += p.expire(now).size();
    p.moved_from(static_cast<std::uint32_t>(i + 1), move("f"), now);
    most = std::max(most, p.size());
  }
  EXPECT_LE(most, 11u);
  EXPECT_EQ(expired + p.size(), 360'000u);
}

}  // namespace
}  // namespace aw
