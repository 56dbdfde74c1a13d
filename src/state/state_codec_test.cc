#include "src/state/state_codec.h"

#include <gtest/gtest.h>

#include <chrono>
#include <string>

namespace aw {
namespace {

using S = LifecycleState;
using std::chrono::seconds;

const WallTime kT0 = WallTime(std::chrono::nanoseconds(1'700'000'000'123'456'789));

Mutation transition_mutation() {
  Mutation m;
  m.op = MutationOp::kTransition;
  m.id = "w1 \"quoted\"\n";
  m.kind = EntityKind::kSession;
  m.from = S::kProcessing;
  m.to = S::kFailed;
  m.reason = "exited: status 1";
  m.evidence = {{"pidfd", "pid 123 exited status 1", kT0}, {"tmux", "session w1 absent", kT0}};
  m.time = kT0 + seconds(3);
  m.run = 7;
  return m;
}

TEST(JournalRecord, EveryOpRoundTrips) {
  std::vector<Mutation> all;
  all.push_back(transition_mutation());
  Mutation create = transition_mutation();
  create.op = MutationOp::kCreate;
  create.from = create.to;  // a create has no "from"; decoding sets it to "to"
  all.push_back(create);
  Mutation reset = transition_mutation();
  reset.op = MutationOp::kReset;
  all.push_back(reset);
  Mutation set;
  set.op = MutationOp::kSetAttr;
  set.id = "w1";
  set.key = "restarts";
  set.value = "2";
  all.push_back(set);
  Mutation erase;
  erase.op = MutationOp::kEraseAttr;
  erase.id = "w1";
  erase.key = "pid";
  all.push_back(erase);
  Mutation remove;
  remove.op = MutationOp::kRemove;
  remove.id = "w1";
  all.push_back(remove);

  std::uint64_t seq = 41;
  for (const Mutation& m : all) {
    std::string line = encode_journal_record(++seq, m);
    ASSERT_EQ(line.back(), '\n');
    EXPECT_EQ(line.find('\n'), line.size() - 1) << "one record, one line";
    auto rec = decode_journal_record(std::string_view(line).substr(0, line.size() - 1));
    ASSERT_TRUE(rec) << rec.error().message << " in " << line;
    EXPECT_EQ(rec->seq, seq);
    // Attr/remove records carry only what they need; compare those fields.
    if (m.op == MutationOp::kSetAttr || m.op == MutationOp::kEraseAttr ||
        m.op == MutationOp::kRemove) {
      EXPECT_EQ(rec->mutation.op, m.op);
      EXPECT_EQ(rec->mutation.id, m.id);
      EXPECT_EQ(rec->mutation.key, m.key);
      EXPECT_EQ(rec->mutation.value, m.value);
    } else {
      EXPECT_EQ(rec->mutation, m) << line;
    }
  }
}

TEST(JournalRecord, TheLineIsReadable) {
  EXPECT_EQ(encode_journal_record(8,
                                  [] {
                                    Mutation m;
                                    m.op = MutationOp::kSetAttr;
                                    m.id = "w1";
                                    m.key = "restarts";
                                    m.value = "1";
                                    return m;
                                  }()),
            "{\"seq\":8,\"op\":\"set_attr\",\"id\":\"w1\",\"key\":\"restarts\",\"value\":\"1\"}\n");
}

TEST(JournalRecord, DecodeErrorsSayWhatWasExpected) {
  auto expect_error = [](std::string_view line, std::string_view want) {
    auto r = decode_journal_record(line);
    ASSERT_FALSE(r) << line;
    EXPECT_NE(r.error().message.find(want), std::string::npos)
        << "got: " << r.error().message << " want: " << want;
  };
  expect_error("{\"seq\":1,\"op\":\"transi", "not JSON");
  expect_error("[1,2]", "expected a JSON object");
  expect_error("{\"op\":\"remove\",\"id\":\"w\"}", "missing \"seq\"");
  expect_error("{\"seq\":-1,\"op\":\"remove\",\"id\":\"w\"}", "\"seq\": expected a non-negative");
  expect_error("{\"seq\":1,\"op\":\"explode\",\"id\":\"w\"}", "unknown operation \"explode\"");
  expect_error("{\"seq\":1,\"op\":\"remove\",\"id\":\"\"}", "\"id\": expected a non-empty");
  expect_error(
      "{\"seq\":1,\"op\":\"create\",\"id\":\"w\",\"kind\":\"robot\",\"to\":\"queued\","
      "\"reason\":\"r\",\"time_ns\":1,\"run\":0,\"evidence\":[]}",
      "unknown entity kind \"robot\"");
  expect_error(
      "{\"seq\":1,\"op\":\"transition\",\"id\":\"w\",\"kind\":\"worker\",\"from\":\"queued\","
      "\"to\":\"done\",\"reason\":\"r\",\"time_ns\":1,\"run\":0,\"evidence\":[]}",
      "unknown state \"done\"");
  expect_error(
      "{\"seq\":1,\"op\":\"create\",\"id\":\"w\",\"kind\":\"worker\",\"to\":\"queued\","
      "\"reason\":\"r\",\"time_ns\":1,\"run\":0,\"evidence\":[{\"signal\":1}]}",
      "\"evidence\": \"signal\": expected a string");
  expect_error("{\"seq\":1,\"op\":\"set_attr\",\"id\":\"w\",\"key\":\"k\"}", "missing \"value\"");
}

TEST(JournalRecord, UnknownKeysAreIgnored) {
  auto r = decode_journal_record(
      "{\"seq\":3,\"op\":\"remove\",\"id\":\"w\",\"added_by_a_newer_version\":[1]}");
  ASSERT_TRUE(r) << r.error().message;
  EXPECT_EQ(r->mutation.op, MutationOp::kRemove);
}

struct JournalRecorder {
  std::string text;
  std::uint64_t seq = 0;
  void attach(EntityTable& t) {
    t.set_observer([this](const Mutation& m) { text += encode_journal_record(++seq, m); });
  }
};

void fill(EntityTable& t) {
  ASSERT_TRUE(t.create("w1", EntityKind::kWorker, S::kQueued, kT0));
  ASSERT_TRUE(t.transition("w1", S::kProcessing, "spawned", {{"pidfd", "pid 9", kT0}}, kT0));
  ASSERT_TRUE(t.set_attr("w1", "pid", "9"));
  ASSERT_TRUE(t.create("s1", EntityKind::kSession, S::kProcessing, kT0));
  ASSERT_TRUE(t.transition("s1", S::kZombie, "session gone", {{"tmux", "absent", kT0}}, kT0));
}

TEST(ReplayJournal, AppliesEverythingAndCountsLines) {
  EntityTable live;
  JournalRecorder j;
  j.attach(live);
  fill(live);
  EntityTable replayed;
  auto report = replay_journal(j.text, 0, replayed);
  EXPECT_EQ(report.lines, 5u);
  EXPECT_EQ(report.applied, 5u);
  EXPECT_EQ(report.corrupt, 0u);
  EXPECT_EQ(report.last_seq, 5u);
  EXPECT_EQ(report.valid_bytes, j.text.size());
  EXPECT_EQ(report.torn_tail_bytes, 0u);
  EXPECT_EQ(*replayed.get("w1"), *live.get("w1"));
  EXPECT_EQ(*replayed.get("s1"), *live.get("s1"));
}

TEST(ReplayJournal, TornLastLineIsIgnored) {
  EntityTable live;
  JournalRecorder j;
  j.attach(live);
  fill(live);
  std::string full = j.text;
  std::size_t last_start = full.rfind('\n', full.size() - 2) + 1;
  for (std::size_t cut = last_start + 1; cut < full.size(); cut += 7) {
    EntityTable replayed;
    auto report = replay_journal(std::string_view(full).substr(0, cut), 0, replayed);
    EXPECT_EQ(report.applied, 4u) << cut;
    EXPECT_EQ(report.corrupt, 0u);
    EXPECT_EQ(report.valid_bytes, last_start);
    EXPECT_EQ(report.torn_tail_bytes, cut - last_start);
    EXPECT_EQ(replayed.get("s1")->state, S::kProcessing);  // the torn zombie transition is gone
  }
}

TEST(ReplayJournal, CorruptMiddleLineIsSkippedAndReported) {
  EntityTable live;
  JournalRecorder j;
  j.attach(live);
  fill(live);
  // Damage line 3 (the set_attr) in place.
  std::string text = j.text;
  std::size_t l3 = 0;
  for (int i = 0; i < 2; ++i) l3 = text.find('\n', l3) + 1;
  text[l3 + 2] = '#';
  EntityTable replayed;
  auto report = replay_journal(text, 0, replayed, "/state/lifecycle.journal");
  EXPECT_EQ(report.corrupt, 1u);
  EXPECT_EQ(report.applied, 4u);
  ASSERT_EQ(report.problems.size(), 1u);
  EXPECT_EQ(report.problems[0].rfind("/state/lifecycle.journal:3: corrupt record skipped: ", 0), 0u)
      << report.problems[0];
  EXPECT_TRUE(replayed.get("w1")->attrs.empty());
  EXPECT_EQ(replayed.get("s1")->state, S::kZombie);
}

TEST(ReplayJournal, GarbageEverywhereIsNeverFatal) {
  std::string text = "\n\n{}\nnot json at all\n\x01\x02\x03\n{\"seq\":\"x\"}\n";
  for (int i = 0; i < 30; ++i) text += "{\"seq\":" + std::to_string(i) + "}\n";
  EntityTable t;
  auto report = replay_journal(text, 0, t);
  EXPECT_EQ(report.applied, 0u);
  EXPECT_EQ(report.corrupt, 34u);
  EXPECT_EQ(report.problems.size(), JournalReplayReport::kMaxProblems);
  EXPECT_EQ(report.problem_count, 34u);
  EXPECT_EQ(t.size(), 0u);
}

TEST(ReplayJournal, SkipsWhatTheSnapshotHasAndOutOfOrderRecords) {
  EntityTable live;
  JournalRecorder j;
  j.attach(live);
  fill(live);
  EntityTable t;
  auto report = replay_journal(j.text, 3, t);
  EXPECT_EQ(report.skipped_old, 3u);
  EXPECT_EQ(report.applied, 2u);
  EXPECT_EQ(report.last_seq, 5u);
  // A record repeated after a later one is refused, not applied twice.
  std::string twice = j.text + encode_journal_record(4, [] {
                        Mutation m;
                        m.op = MutationOp::kRemove;
                        m.id = "w1";
                        return m;
                      }());
  EntityTable t2;
  auto r2 = replay_journal(twice, 0, t2);
  EXPECT_EQ(r2.out_of_order, 1u);
  EXPECT_NE(t2.get("w1"), nullptr);
}

TEST(ReplayJournal, RecordForAnUnknownEntityIsCountedNotApplied) {
  Mutation m;
  m.op = MutationOp::kSetAttr;
  m.id = "ghost";
  m.key = "k";
  EntityTable t;
  auto report = replay_journal(encode_journal_record(1, m), 0, t);
  EXPECT_EQ(report.unapplied, 1u);
  EXPECT_EQ(report.applied, 0u);
  ASSERT_EQ(report.problems.size(), 1u);
  EXPECT_NE(report.problems[0].find("unknown entity \"ghost\""), std::string::npos);
}

TEST(Snapshot, RoundTripsEveryField) {
  EntityTable t;
  fill(t);
  ASSERT_TRUE(t.set_attr("s1", "circuit", "open"));
  ASSERT_TRUE(t.set_attr("s1", "window_start", "1700000000"));
  std::string doc = encode_snapshot(99, t);
  auto snap = decode_snapshot(doc);
  ASSERT_TRUE(snap) << snap.error().message;
  EXPECT_EQ(snap->last_seq, 99u);
  EXPECT_TRUE(snap->problems.empty());
  ASSERT_EQ(snap->entities.size(), 2u);
  EntityTable restored;
  for (auto& e : snap->entities) restored.restore(e);
  for (const EntityRecord* r : t.list()) EXPECT_EQ(*restored.get(r->id), *r);
}

TEST(Snapshot, EmptyTable) {
  EntityTable t;
  auto snap = decode_snapshot(encode_snapshot(0, t));
  ASSERT_TRUE(snap) << snap.error().message;
  EXPECT_TRUE(snap->entities.empty());
}

TEST(Snapshot, WholeDocumentErrorsNameTheFile) {
  auto bad = decode_snapshot("{\"format\":\"agentwatch-lifecycle-snapshot\",\"ver", "/s/snap");
  ASSERT_FALSE(bad);
  EXPECT_EQ(bad.error().message.rfind("/s/snap: not JSON", 0), 0u) << bad.error().message;
  auto other = decode_snapshot("{\"format\":\"something-else\",\"version\":1}", "/s/snap");
  ASSERT_FALSE(other);
  EXPECT_NE(other.error().message.find("\"format\": expected \"agentwatch-lifecycle-snapshot\""),
            std::string::npos);
  auto newer = decode_snapshot(
      "{\"format\":\"agentwatch-lifecycle-snapshot\",\"version\":2,\"last_seq\":1,"
      "\"entities\":[]}");
  ASSERT_FALSE(newer);
  EXPECT_NE(newer.error().message.find("\"version\": expected 1, got 2"), std::string::npos);
}

TEST(Snapshot, MalformedEntityIsSkippedOthersKept) {
  EntityTable t;
  fill(t);
  std::string doc = encode_snapshot(5, t);
  // Break the first entity's state name ("s1" sorts first).
  auto pos = doc.find("\"state\":\"zombie\"");
  ASSERT_NE(pos, std::string::npos);
  doc.replace(pos, 16, "\"state\":\"zomby\"");
  auto snap = decode_snapshot(doc, "snap");
  ASSERT_TRUE(snap) << snap.error().message;
  ASSERT_EQ(snap->entities.size(), 1u);
  EXPECT_EQ(snap->entities[0].id, "w1");
  ASSERT_EQ(snap->problems.size(), 1u);
  EXPECT_EQ(snap->problems[0],
            "snap: entity #1 skipped: \"state\": unknown state \"zomby\" "
            "(expected queued, processing, timing_out, zombie, failed, "
            "completed)");
}

}  // namespace
}  // namespace aw
