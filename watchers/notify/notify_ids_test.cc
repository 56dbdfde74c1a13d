#include "watchers/notify/notify_ids.h"

#include <gtest/gtest.h>

#include <cstdio>
#include <fstream>
#include <iterator>
#include <string>

#include "src/core/event.h"
#include "watchers/notify/notify_protocol.h"
#include "watchers/notify/notify_test_support.h"

namespace aw {
namespace {

std::string read_file_text(const std::string& path) {
  std::ifstream in(path);
  return std::string(std::istreambuf_iterator<char>(in), {});
}

TEST(NotifyIds, AnIdIsDeliveredOnce) {
  NotifyIds ids;
  EXPECT_TRUE(ids.first_delivery(7));
  EXPECT_FALSE(ids.first_delivery(7));
  EXPECT_TRUE(ids.first_delivery(8));
  EXPECT_EQ(ids.size(), 2u);
}

TEST(NotifyIds, KeepsTheNewestUpToItsCapacity) {
  NotifyIds ids(3);
  for (std::uint64_t id = 1; id <= 5; ++id) EXPECT_TRUE(ids.first_delivery(id));
  EXPECT_EQ(ids.size(), 3u);
  EXPECT_FALSE(ids.contains(1));
  EXPECT_FALSE(ids.contains(2));
  EXPECT_TRUE(ids.contains(3));
  EXPECT_TRUE(ids.contains(5));
}

Event notify_event(std::uint64_t id, bool spooled) {
  Event e;
  e.seq = id;
  e.kind = "user.ping";
  e.source = "notify";
  e.fields.set("n", FieldValue(std::int64_t{1}));
  if (spooled) e.fields.set("spooled", FieldValue(true));
  e.fields.set("notify_id", FieldValue(format_notify_id(id)));
  return e;
}

// The ids as the event log writes them, socket and spool deliveries alike; a
// notify_id that is not 16 hex digits, or the text in another field, is not one.
TEST(NotifyIds, SeedsFromEventLogLines) {
  std::string log =
      to_json_line(notify_event(0xabc, false)) + to_json_line(notify_event(0xdef, true));
  Event other;
  other.seq = 9;
  other.kind = "user.note";
  other.source = "notify";
  other.fields.set("text", FieldValue(std::string("\"notify_id\":\"00000000000000ff\"")));
  other.fields.set("notify_id", FieldValue(std::string("xyz")));
  log += to_json_line(other);
  NotifyIds ids;
  EXPECT_EQ(ids.seed_from_log_text(log), 2u);
  EXPECT_FALSE(ids.first_delivery(0xabc));
  EXPECT_FALSE(ids.first_delivery(0xdef));
  EXPECT_FALSE(ids.contains(0xff)) << "an escaped quote inside a value is not a key";
}

TEST(NotifyIds, SeedsFromTheTailOfAFileOnly) {
  notify_test::TempDir dir;
  const std::string path = dir.path + "/events.jsonl";
  std::string head = to_json_line(notify_event(1, false));
  std::string tail = to_json_line(notify_event(2, false));
  std::ofstream(path) << head << tail;
  NotifyIds ids;
  auto n = ids.seed_from_log_file(path, tail.size());
  ASSERT_TRUE(n.ok()) << n.error().message;
  EXPECT_EQ(*n, 1u);
  EXPECT_TRUE(ids.contains(2));
  EXPECT_FALSE(ids.contains(1));
  NotifyIds none;
  auto missing = none.seed_from_log_file(dir.path + "/absent.jsonl", 1 << 20);
  ASSERT_TRUE(missing.ok());
  EXPECT_EQ(*missing, 0u);
}

// Found by the 500-kill crash run: a spooled copy taken in 158,000 events after
// its socket copy, far past the log's tail. The ids in the state file reach
// back as far as the capacity does.
TEST(NotifyIds, PersistedIdsAreKnownToTheNextDaemon) {
  notify_test::TempDir dir;
  const std::string path = dir.path + "/notify-ids";
  {
    NotifyIds first;
    auto problems = first.persist_to(path);
    ASSERT_TRUE(problems.ok()) << problems.error().message;
    EXPECT_TRUE(problems->empty());
    EXPECT_TRUE(first.first_delivery(0x11));
    EXPECT_EQ(first.seed_from_log_text(to_json_line(notify_event(0x22, false))), 1u);
  }
  NotifyIds next;
  ASSERT_TRUE(next.persist_to(path).ok());
  EXPECT_FALSE(next.first_delivery(0x11)) << "delivered by the daemon before";
  EXPECT_FALSE(next.first_delivery(0x22)) << "seeded from the log, and written down then";
  EXPECT_TRUE(next.first_delivery(0x33));
  EXPECT_EQ(next.write_errors(), 0u);
}

TEST(NotifyIds, TheFileIsRewrittenWithTheNewestIdsWhenItHoldsTwiceTheCapacity) {
  notify_test::TempDir dir;
  const std::string path = dir.path + "/notify-ids";
  {
    NotifyIds ids(4);
    ASSERT_TRUE(ids.persist_to(path).ok());
    for (std::uint64_t id = 1; id <= 20; ++id) ASSERT_TRUE(ids.first_delivery(id));
  }
  const std::string text = read_file_text(path);
  std::size_t records = 0;
  for (char c : text) records += c == '\n';
  EXPECT_LE(records - 1, 8u) << text;  // the header, then at most twice the capacity
  NotifyIds next(4);
  ASSERT_TRUE(next.persist_to(path).ok());
  EXPECT_FALSE(next.first_delivery(20));
  EXPECT_FALSE(next.first_delivery(17));
  EXPECT_TRUE(next.first_delivery(1)) << "older than the capacity: forgotten";
}

TEST(NotifyIds, ADamagedFileLosesOnlyItsDamagedLinesAndIsWrittenWholeAgain) {
  notify_test::TempDir dir;
  const std::string path = dir.path + "/notify-ids";
  {
    NotifyIds ids;
    ASSERT_TRUE(ids.persist_to(path).ok());
    ids.first_delivery(0xa);
    ids.first_delivery(0xb);
  }
  std::string text = read_file_text(path);
  text += "garbage\n0000";  // a damaged line, then a torn tail
  std::ofstream(path, std::ios::trunc) << text;
  NotifyIds next;
  auto problems = next.persist_to(path);
  ASSERT_TRUE(problems.ok()) << problems.error().message;
  EXPECT_EQ(problems->size(), 2u);
  EXPECT_FALSE(next.first_delivery(0xa));
  EXPECT_FALSE(next.first_delivery(0xb));
  NotifyIds again;
  problems = again.persist_to(path);
  ASSERT_TRUE(problems.ok());
  EXPECT_TRUE(problems->empty()) << "rewritten whole: " << problems->front();
}

TEST(NotifyIds, AnotherKindsFileIsRefused) {
  notify_test::TempDir dir;
  const std::string path = dir.path + "/notify-ids";
  std::ofstream(path) << "agentwatch-state 2 timers\n";
  NotifyIds ids;
  auto r = ids.persist_to(path);
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.error().message.find(path), std::string::npos) << r.error().message;
}

}  // namespace
}  // namespace aw
