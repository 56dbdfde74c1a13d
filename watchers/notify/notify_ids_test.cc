#include "watchers/notify/notify_ids.h"

#include <gtest/gtest.h>

#include <cstdio>
#include <fstream>
#include <string>

#include "src/core/event.h"
#include "watchers/notify/notify_protocol.h"
#include "watchers/notify/notify_test_support.h"

namespace aw {
namespace {

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

}  // namespace
}  // namespace aw
