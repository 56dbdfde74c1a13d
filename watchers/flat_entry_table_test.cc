#include "watchers/flat_entry_table.h"

#include <gtest/gtest.h>

#include <cstdint>
#include <map>
#include <random>
#include <string>
#include <string_view>

namespace aw {
namespace {

std::string name(int i) {
  return "watch" + std::string(1, '\0') + "file-" + std::to_string(i);
}

// Every key in one probe run.
struct ConstantHash {
  std::size_t operator()(std::string_view /*key*/) const { return 42; }
};
// Every key at the last slot, whatever the capacity: each run wraps around.
struct LastSlotHash {
  std::size_t operator()(std::string_view /*key*/) const { return UINT32_MAX; }
};
// A handful of homes: long runs that overlap one another.
struct FewHomesHash {
  std::size_t operator()(std::string_view key) const { return key.size() % 3 + key.back() % 2; }
};

// The value at `key`, or -1 when it is not found.
template <class Table>
int value_of(const Table& t, std::string_view key) {
  const auto* item = t.find(key);
  return item == nullptr ? -1 : item->value;
}

// The table's contents as a sorted map; fails when a key shows up twice.
template <class Table>
std::map<std::string, int> contents(const Table& t) {
  std::map<std::string, int> out;
  for (const auto& item : t) EXPECT_TRUE(out.emplace(item.key(), item.value).second) << item.key();
  return out;
}

TEST(FlatEntryTable, InsertFindErase) {
  FlatEntryTable<int> t;
  EXPECT_TRUE(t.empty());
  EXPECT_EQ(t.find("a"), nullptr) << "no slots yet";
  EXPECT_FALSE(t.erase("a"));
  auto [a, inserted] = t.try_emplace("a");
  ASSERT_TRUE(inserted);
  EXPECT_EQ(a->key(), "a");
  EXPECT_EQ(a->value, 0) << "value-initialised";
  a->value = 7;
  auto [again, inserted_again] = t.try_emplace("a");
  EXPECT_FALSE(inserted_again);
  EXPECT_EQ(again->value, 7);
  t.try_emplace("b").first->value = 8;
  EXPECT_EQ(value_of(t, "b"), 8);
  EXPECT_EQ(t.find("c"), nullptr);
  EXPECT_EQ(t.size(), 2u);
  EXPECT_TRUE(t.erase("a"));
  EXPECT_FALSE(t.erase("a"));
  EXPECT_EQ(t.find("a"), nullptr);
  EXPECT_EQ(value_of(t, "b"), 8) << "moved into the erased item's place, still found";
  t.erase(t.find("b"));
  EXPECT_TRUE(t.empty());
}

TEST(FlatEntryTable, KeysWithNulAndPrefixesAreDistinct) {
  FlatEntryTable<int> t;
  const std::string_view keys[] = {std::string_view("w\0a", 3), std::string_view("w\0", 2), "w",
                                   std::string_view("w\0ab", 4), ""};
  for (int i = 0; i < 5; ++i) t.try_emplace(keys[i]).first->value = i;
  for (int i = 0; i < 5; ++i) EXPECT_EQ(value_of(t, keys[i]), i);
}

template <class Hash>
void fill_find_erase_all(int n) {
  FlatEntryTable<int, Hash> t;
  for (int i = 0; i < n; ++i) t.try_emplace(name(i)).first->value = i;
  ASSERT_EQ(t.size(), static_cast<std::size_t>(n));
  for (int i = 0; i < n; ++i) EXPECT_EQ(value_of(t, name(i)), i);
  EXPECT_EQ(t.find(name(n)), nullptr);
  // Out of insertion order, so holes open in the middle of runs and the slots
  // behind them shift back.
  for (int i = 0; i < n; i += 2) ASSERT_TRUE(t.erase(name(i))) << i;
  for (int i = 0; i < n; ++i) EXPECT_EQ(value_of(t, name(i)), i % 2 == 0 ? -1 : i);
  for (int i = n - 1; i >= 0; --i) EXPECT_EQ(t.erase(name(i)), i % 2 == 1) << i;
  EXPECT_TRUE(t.empty());
}

TEST(FlatEntryTable, ManyCollisionsInOneRun) {
  fill_find_erase_all<ConstantHash>(300);
}
TEST(FlatEntryTable, CollidingRunsWrapAroundTheEnd) {
  fill_find_erase_all<LastSlotHash>(300);
}
TEST(FlatEntryTable, OverlappingRuns) {
  fill_find_erase_all<FewHomesHash>(300);
}
TEST(FlatEntryTable, DefaultHash) {
  fill_find_erase_all<StringViewHash>(5000);
}

TEST(FlatEntryTable, GrowsByDoublingAndKeepsTheLoadAtMostThreeQuarters) {
  FlatEntryTable<int> t;
  std::size_t last_capacity = 0;
  int growths = 0;
  for (int n = 1; n <= 100000; ++n) {
    t.try_emplace(name(n)).first->value = n;
    const std::size_t cap = t.capacity();
    ASSERT_EQ(cap & (cap - 1), 0u) << "a power of two";
    ASSERT_LE(4 * t.size(), 3 * cap) << n;
    if (cap != last_capacity) {
      ASSERT_TRUE(last_capacity == 0 || cap == 2 * last_capacity) << n;
      last_capacity = cap;
      ++growths;
      // Right after a growth, every item is where a lookup finds it.
      for (int i = 1; i <= n; ++i) ASSERT_EQ(value_of(t, name(i)), i) << n << " " << i;
    }
  }
  EXPECT_EQ(t.capacity(), 262144u);
  EXPECT_EQ(growths, 15) << "16, 32, ... 262144";
  // Sizes around each threshold.
  for (int n : {0, 1, 11, 12, 13, 24, 25, 767, 768, 769}) {
    FlatEntryTable<int> s;
    for (int i = 0; i < n; ++i) s.try_emplace(name(i)).first->value = i;
    EXPECT_EQ(s.size(), static_cast<std::size_t>(n));
    for (int i = 0; i < n; ++i) ASSERT_EQ(value_of(s, name(i)), i) << n;
    EXPECT_EQ(s.find(name(n)), nullptr);
  }
}

TEST(FlatEntryTable, ItemsStayPutWhileTheTableGrows) {
  FlatEntryTable<int> t;
  auto* first = t.try_emplace(name(0)).first;
  first->value = -7;
  for (int i = 1; i < 5000; ++i) t.try_emplace(name(i));
  EXPECT_EQ(t.find(name(0)), first);
  EXPECT_EQ(first->value, -7);
}

TEST(FlatEntryTable, ReserveMakesRoomWithoutAnotherGrowth) {
  FlatEntryTable<int> t;
  t.reserve(1000);
  const std::size_t cap = t.capacity();
  EXPECT_EQ(cap, 2048u);
  for (int i = 0; i < 1000; ++i) t.try_emplace(name(i));
  EXPECT_EQ(t.capacity(), cap);
  t.reserve(10);
  EXPECT_EQ(t.capacity(), cap) << "never shrinks";
}

TEST(FlatEntryTable, EraseThenReinsert) {
  FlatEntryTable<int, FewHomesHash> t;
  for (int round = 0; round < 5; ++round) {
    for (int i = 0; i < 200; ++i) {
      auto [item, inserted] = t.try_emplace(name(i));
      ASSERT_TRUE(inserted) << round << " " << i;
      item->value = round * 1000 + i;
    }
    for (int i = 0; i < 200; ++i) ASSERT_EQ(value_of(t, name(i)), round * 1000 + i);
    for (int i = 0; i < 200; ++i) ASSERT_TRUE(t.erase(name((i * 7) % 200))) << i;
    EXPECT_TRUE(t.empty());
    EXPECT_EQ(t.capacity(), 512u) << "churn at one size does not grow the table";
  }
}

TEST(FlatEntryTable, IterationAfterErasesVisitsEachLiveItemOnce) {
  FlatEntryTable<int> t;
  for (int i = 0; i < 1000; ++i) t.try_emplace(name(i)).first->value = i;
  for (int i = 0; i < 1000; i += 3) t.erase(name(i));
  auto seen = contents(t);
  EXPECT_EQ(seen.size(), t.size());
  for (int i = 0; i < 1000; ++i) EXPECT_EQ(seen.count(name(i)), i % 3 == 0 ? 0u : 1u) << i;
}

TEST(FlatEntryTable, IterationIsInsertionOrderUntilAnEraseMovesTheLastItem) {
  FlatEntryTable<int> t;
  for (int i = 0; i < 5; ++i) t.try_emplace(name(i)).first->value = i;
  auto values = [&] {
    std::string out;
    for (const auto& item : t) out += std::to_string(item.value);
    return out;
  };
  EXPECT_EQ(values(), "01234");
  t.erase(name(1));
  EXPECT_EQ(values(), "0423");
}

TEST(FlatEntryTable, EraseIfVisitsEachItemOnceAndRemovesTheMatches) {
  FlatEntryTable<int, FewHomesHash> t;
  for (int i = 0; i < 500; ++i) t.try_emplace(name(i)).first->value = i;
  std::map<int, int> visits;
  const std::size_t removed = t.erase_if([&](const auto& item) {
    ++visits[item.value];
    return item.value % 4 != 1;  // includes the last item and runs of neighbours
  });
  EXPECT_EQ(removed, 375u);
  EXPECT_EQ(visits.size(), 500u);
  for (const auto& [v, n] : visits) EXPECT_EQ(n, 1) << v;
  EXPECT_EQ(t.size(), 125u);
  for (int i = 0; i < 500; ++i) EXPECT_EQ(t.find(name(i)) != nullptr, i % 4 == 1) << i;
  EXPECT_EQ(t.erase_if([](const auto&) { return true; }), 125u);
  EXPECT_TRUE(t.empty());
}

// Random inserts, erases and lookups against std::map, with a hash of few
// values so every path (long runs, wrap-around, backward shift) is taken.
template <class Hash>
void matches_a_reference_map(std::uint32_t seed) {
  FlatEntryTable<int, Hash> t;
  std::map<std::string, int> ref;
  std::mt19937 rng(seed);
  for (int step = 0; step < 20000; ++step) {
    const std::string k = name(static_cast<int>(rng() % 300));
    switch (rng() % 4) {
      case 0:
      case 1: {
        auto [item, inserted] = t.try_emplace(k);
        ASSERT_EQ(inserted, ref.count(k) == 0) << step;
        item->value = step;
        ref[k] = step;
        break;
      }
      case 2:
        ASSERT_EQ(t.erase(k), ref.erase(k) == 1) << step;
        break;
      default: {
        const auto it = ref.find(k);
        ASSERT_EQ(value_of(t, k), it == ref.end() ? -1 : it->second) << step;
      }
    }
    ASSERT_EQ(t.size(), ref.size()) << step;
  }
  EXPECT_EQ(contents(t), ref);
}

TEST(FlatEntryTable, MatchesAReferenceMapUnderChurn) {
  for (std::uint32_t seed = 1; seed <= 3; ++seed) {
    matches_a_reference_map<FewHomesHash>(seed);
    matches_a_reference_map<LastSlotHash>(seed);
    matches_a_reference_map<StringViewHash>(seed);
  }
}

TEST(FlatEntryTable, ValuesOwningMemoryMoveWithTheirItems) {
  FlatEntryTable<std::string> t;
  for (int i = 0; i < 100; ++i) t.try_emplace(name(i)).first->value = std::string(40, 'a' + i % 26);
  for (int i = 0; i < 100; i += 2) t.erase(name(i));
  for (int i = 1; i < 100; i += 2) {
    ASSERT_NE(t.find(name(i)), nullptr) << i;
    EXPECT_EQ(t.find(name(i))->value, std::string(40, 'a' + i % 26));
  }
}

}  // namespace
}  // namespace aw
