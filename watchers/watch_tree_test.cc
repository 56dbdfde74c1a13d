#include "watchers/watch_tree.h"

#include <algorithm>
#include <set>

#include <gtest/gtest.h>

namespace aw {
namespace {

std::vector<int> sorted(std::vector<int> v) {
  std::sort(v.begin(), v.end());
  return v;
}

TEST(WatchTreeTest, MapsBothWays) {
  WatchTree t;
  t.map(1, "");
  t.map(2, "a");
  ASSERT_NE(t.rel_of(2), nullptr);
  EXPECT_EQ(*t.rel_of(2), "a");
  EXPECT_TRUE(t.watches("a"));
  EXPECT_FALSE(t.watches("b"));
  EXPECT_EQ(t.rel_of(3), nullptr);
  EXPECT_EQ(t.size(), 2u);
}

TEST(WatchTreeTest, SameWdUnderANewPathMovesIt) {
  // A rename whose events were lost: the kernel hands out the same wd again.
  WatchTree t;
  t.map(2, "a");
  t.map(2, "b");
  EXPECT_EQ(*t.rel_of(2), "b");
  EXPECT_FALSE(t.watches("a"));
  EXPECT_EQ(t.size(), 1u);
}

TEST(WatchTreeTest, UnmapForgetsOnlyThatWd) {
  WatchTree t;
  t.map(2, "a");
  t.map(3, "a");  // a new directory at the same path; wd 2 is about to be ignored
  t.unmap(2);
  EXPECT_TRUE(t.watches("a")) << "the newer watch of the path stays";
  EXPECT_EQ(*t.rel_of(3), "a");
  t.unmap(42);  // unknown: nothing happens
  EXPECT_EQ(t.size(), 1u);
}

TEST(WatchTreeTest, DropSubtreeTakesThePathAndBelowButNotItsSiblings) {
  WatchTree t;
  t.map(1, "");
  t.map(2, "a");
  t.map(3, "a/b");
  t.map(4, "a-c");  // sorts between "a" and "a/..." in byte order
  t.map(5, "ab");
  EXPECT_EQ(sorted(t.drop_subtree("a", 1)), (std::vector<int>{2, 3}));
  EXPECT_TRUE(t.watches("a-c"));
  EXPECT_TRUE(t.watches("ab"));
  EXPECT_EQ(t.size(), 3u);
}

TEST(WatchTreeTest, DropSubtreeOfTheRootKeepsTheRootWatch) {
  WatchTree t;
  t.map(1, "");
  t.map(2, "a");
  EXPECT_EQ(t.drop_subtree("", 1), (std::vector<int>{2}));
  EXPECT_EQ(*t.rel_of(1), "");
}

TEST(WatchTreeTest, RenameSubtreeKeepsTheWatchesUnderNewPaths) {
  WatchTree t;
  t.map(2, "stage");
  t.map(3, "stage/x");
  t.map(4, "stage-other");
  t.rename_subtree("stage", "done/run1");
  EXPECT_EQ(*t.rel_of(2), "done/run1");
  EXPECT_EQ(*t.rel_of(3), "done/run1/x");
  EXPECT_EQ(*t.rel_of(4), "stage-other");
  EXPECT_FALSE(t.watches("stage"));
  EXPECT_TRUE(t.watches("done/run1/x"));
}

TEST(WatchTreeTest, SweepListsWatchesNotReAddedSinceItBegan) {
  WatchTree t;
  t.map(1, "");
  t.map(2, "a");
  t.map(3, "b");
  const auto gen = t.begin_sweep(1);
  t.map(2, "a");  // the scan found a again
  EXPECT_EQ(t.unconfirmed(gen, 1), (std::vector<int>{3}));
}

TEST(WatchTreeTest, ClearReturnsEveryWd) {
  WatchTree t;
  t.map(1, "");
  t.map(2, "a");
  EXPECT_EQ(sorted(t.clear()), (std::vector<int>{1, 2}));
  EXPECT_EQ(t.size(), 0u);
  EXPECT_FALSE(t.watches(""));
}

TEST(WatchTreeTest, RelKeysUnderASet) {
  const std::set<std::string> s{"a", "a-b", "a/x", "a/y/z", "b"};
  const auto id = [](const std::string& k) { return k; };
  EXPECT_EQ(rel_keys_under(s, "a", id), (std::vector<std::string>{"a", "a/x", "a/y/z"}));
  EXPECT_EQ(rel_keys_under(s, "", id).size(), 5u);
  EXPECT_TRUE(rel_keys_under(s, "c", id).empty());
}

}  // namespace
}  // namespace aw
