#include "src/core/suggest.h"

#include <gtest/gtest.h>

namespace aw {
namespace {

TEST(EditDistance, CountsInsertDeleteSubstitute) {
  EXPECT_EQ(edit_distance("", ""), 0u);
  EXPECT_EQ(edit_distance("when", "when"), 0u);
  EXPECT_EQ(edit_distance("wen", "when"), 1u);
  EXPECT_EQ(edit_distance("whne", "when"), 2u);
  EXPECT_EQ(edit_distance("kitten", "sitting"), 3u);
  EXPECT_EQ(edit_distance("", "abc"), 3u);
}

TEST(ClosestWord, SuggestsPlausibleTypos) {
  std::vector<std::string_view> keys = {"name", "on", "when", "action", "debounce", "cooldown"};
  EXPECT_EQ(closest_word("wen", keys), "when");
  EXPECT_EQ(closest_word("actoin", keys), "action");
  EXPECT_EQ(closest_word("debonuce", keys), "debounce");
  EXPECT_EQ(closest_word("colldown", keys), "cooldown");
}

TEST(ClosestWord, StaysQuietForUnrelatedWords) {
  std::vector<std::string_view> keys = {"name", "on", "when", "action"};
  EXPECT_EQ(closest_word("frobnicate", keys), "");
  EXPECT_EQ(closest_word("xy", keys), "");  // "on" is 2 edits away but shares nothing
  EXPECT_EQ(did_you_mean("frobnicate", keys), "");
  EXPECT_EQ(did_you_mean("nmae", keys), "; did you mean 'name'?");
}

}  // namespace
}  // namespace aw
