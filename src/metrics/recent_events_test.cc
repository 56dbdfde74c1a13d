#include "src/metrics/recent_events.h"

#include <gtest/gtest.h>

#include "src/core/event_kinds.h"

namespace aw::metrics {
namespace {

Event event(std::uint64_t seq, std::string kind = "file.landed") {
  Event e;
  e.seq = seq;
  e.kind = std::move(kind);
  return e;
}

std::vector<std::uint64_t> seqs(const std::vector<const RecentEvents::Entry*>& v) {
  std::vector<std::uint64_t> out;
  for (const auto* e : v) out.push_back(e->seq);
  return out;
}

TEST(RecentEvents, AnswersWhatCameAfterASeqOldestFirst) {
  RecentEvents r;
  for (std::uint64_t s = 1; s <= 5; ++s) r.add(event(s), "line" + std::to_string(s));
  EXPECT_EQ(seqs(r.after(2, 100)), (std::vector<std::uint64_t>{3, 4, 5}));
  EXPECT_EQ(seqs(r.after(0, 2)), (std::vector<std::uint64_t>{1, 2}));
  EXPECT_TRUE(r.after(5, 100).empty());
  EXPECT_EQ(r.after(3, 1)[0]->line, "line4");
  EXPECT_TRUE(r.covers_after(0));
  EXPECT_EQ(r.last_seq(), 5u);
}

TEST(RecentEvents, KnowsWhenItNoLongerHoldsEverythingAfterASeq) {
  RecentEventsLimits limits;
  limits.events = 3;
  RecentEvents r(limits);
  for (std::uint64_t s = 1; s <= 5; ++s) r.add(event(s), "x");
  // 1 and 2 were dropped: after 2 it has all (3, 4, 5), after 1 it does not.
  EXPECT_TRUE(r.covers_after(2));
  EXPECT_FALSE(r.covers_after(1));
  EXPECT_EQ(seqs(r.after(0, 100)), (std::vector<std::uint64_t>{3, 4, 5}));
}

TEST(RecentEvents, DoesNotClaimWhatCameBeforeItsFirstEvent) {
  RecentEvents r;
  EXPECT_FALSE(r.covers_after(0));
  r.add(event(6), "x");  // a daemon that started after seq 5
  EXPECT_TRUE(r.covers_after(5));
  EXPECT_FALSE(r.covers_after(3));
  EXPECT_FALSE(r.covers_after(0));
}

TEST(RecentEvents, IsBoundedByBytesToo) {
  RecentEventsLimits limits;
  limits.bytes = 10;
  RecentEvents r(limits);
  r.add(event(1), "123456");
  r.add(event(2), "123456");
  EXPECT_EQ(r.size(), 1u);
  EXPECT_EQ(r.bytes(), 6u);
  EXPECT_FALSE(r.covers_after(0));
}

TEST(RecentEvents, KeepsExecutionsAndFailuresApart) {
  RecentEventsLimits limits;
  limits.failures = 2;
  RecentEvents r(limits);
  r.add(event(1), "a");
  r.add(event(2, std::string(kind::kActionSucceeded)), "b");
  r.add(event(3, std::string(kind::kActionFailed)), "c");
  r.add(event(4, "rules.rejected"), "d");
  Event not_ok = event(5, "probe.result");
  not_ok.fields.set("ok", false);
  r.add(not_ok, "e");
  EXPECT_EQ(seqs(r.executions_after(0, 100)), (std::vector<std::uint64_t>{2, 3}));
  ASSERT_EQ(r.failures().size(), 2u);
  EXPECT_EQ(r.failures()[0].seq, 4u);
  EXPECT_EQ(r.failures()[1].seq, 5u);
}

}  // namespace
}  // namespace aw::metrics
