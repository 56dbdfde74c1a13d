#include "src/eventlog/event_log_reader.h"

#include <gtest/gtest.h>

#include <atomic>
#include <condition_variable>
#include <mutex>
#include <thread>

#include "src/eventlog/event_log_writer.h"
#include "src/eventlog/test_util.h"

namespace aw {
namespace {

using testing::append_file;
using testing::numbered_event;
using testing::numbered_line;
using testing::TempDir;
using testing::write_file;
using testing::write_gzip_file;

std::uint64_t seq_of(const LogRecord& r) {
  std::uint64_t seq = 0;
  EXPECT_FALSE(r.object["seq"].get_uint64().get(seq)) << r.line;
  return seq;
}

std::vector<std::uint64_t> seqs(std::initializer_list<std::uint64_t> l) {
  return l;
}

class EventLogReaderTest : public ::testing::Test {
 protected:
  std::string live() { return dir_ / "events.jsonl"; }

  // The history, as record seqs; checks every line handed out is unchanged JSON.
  std::vector<std::uint64_t> history(EventLogReader& reader) {
    std::vector<std::uint64_t> out;
    Status s = reader.read_history([&](const LogRecord& r) {
      out.push_back(seq_of(r));
      EXPECT_EQ(std::string(r.line) + "\n", numbered_line(out.back(), std::string(r.kind)));
      return true;
    });
    EXPECT_TRUE(s) << s.error().message;
    return out;
  }
  std::vector<std::uint64_t> history() {
    EventLogReader reader(dir_.path());
    return history(reader);
  }

  // Follows with `hook(call)` run each time the reader checks for stop (between
  // batches), so a test can change the files at exact points. Stops once `want`
  // records arrived.
  std::vector<std::uint64_t> follow(EventLogReader& reader, std::size_t want,
                                    const std::function<void(int call)>& hook) {
    std::vector<std::uint64_t> out;
    int calls = 0;
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
    FollowControl control;
    control.wake_interval = std::chrono::milliseconds(5);
    control.stop = [&] {
      hook(++calls);
      EXPECT_LT(std::chrono::steady_clock::now(), deadline) << "follow never got there";
      return out.size() >= want || std::chrono::steady_clock::now() > deadline;
    };
    Status s = reader.follow(
        [&](const LogRecord& r) {
          out.push_back(seq_of(r));
          return true;
        },
        control);
    EXPECT_TRUE(s) << s.error().message;
    return out;
  }

  TempDir dir_;
};

TEST_F(EventLogReaderTest, MissingDirIsAnEmptyHistory) {
  EventLogReader reader(dir_ / "nope");
  EXPECT_TRUE(history(reader).empty());
}

TEST_F(EventLogReaderTest, EmptyDirIsAnEmptyHistory) {
  EXPECT_TRUE(history().empty());
}

TEST_F(EventLogReaderTest, ReadsTheLiveFileInOrder) {
  write_file(live(), numbered_line(1) + numbered_line(2) + numbered_line(3, "file.landed"));
  EventLogReader reader(dir_.path());
  std::vector<std::string> kinds, where;
  ASSERT_TRUE(reader.read_history([&](const LogRecord& r) {
    kinds.emplace_back(r.kind);
    where.push_back(std::string(r.file) + ":" + std::to_string(r.line_number));
    return true;
  }));
  EXPECT_EQ(kinds, (std::vector<std::string>{"test.tick", "test.tick", "file.landed"}));
  EXPECT_EQ(where, (std::vector<std::string>{live() + ":1", live() + ":2", live() + ":3"}));
  EXPECT_EQ(reader.stats().records, 3u);
  EXPECT_EQ(reader.stats().bytes_read, testing::read_file(live()).size());
}

TEST_F(EventLogReaderTest, TornLastLineIsIgnoredInHistory) {
  write_file(live(), numbered_line(1) + numbered_line(2) + numbered_line(3).substr(0, 30));
  EventLogReader reader(dir_.path());
  EXPECT_EQ(history(reader), seqs({1, 2}));
  EXPECT_EQ(reader.stats().corrupt_lines, 0u);
  EXPECT_EQ(reader.stats().torn_tails, 0u);  // not torn yet: maybe still being written
}

TEST_F(EventLogReaderTest, CorruptMiddleLineIsSkippedAndCounted) {
  write_file(live(), numbered_line(1) + "{\"seq\":2,\"ki\n" + numbered_line(3));
  EventLogReader reader(dir_.path());
  EXPECT_EQ(history(reader), seqs({1, 3}));
  EXPECT_EQ(reader.stats().corrupt_lines, 1u);
  EXPECT_EQ(reader.stats().first_corrupt, live() + ":2");
}

TEST_F(EventLogReaderTest, AKindFilterSkipsTheWritersOtherLinesUnparsed) {
  // Written lines of three kinds; a hand-written line (keys in another order)
  // and one whose head is the writer's but whose body is broken.
  write_file(live(), numbered_line(1, "action.failed") + numbered_line(2, "file.landed") +
                         R"({"kind":"file.landed","seq":3,"fields":{"kind":"action.x"}})"
                         "\n" +
                         R"({"kind":"action.succeeded","seq":4})"
                         "\n" +
                         R"({"seq":5,"time":"2026-01-01T00:00:00Z","kind":"file.x",BROKEN)"
                         "\n" +
                         numbered_line(6, "action.succeeded"));
  EventLogReader reader(dir_.path());
  reader.set_kind_filter([](std::string_view kind) { return kind.starts_with("action."); });
  std::vector<std::uint64_t> got;
  ASSERT_TRUE(reader.read_history([&](const LogRecord& r) {
    got.push_back(seq_of(r));
    return true;
  }));
  // The hand-written lines are parsed, so judged by their real top-level kind.
  EXPECT_EQ(got, seqs({1, 4, 6}));
  EXPECT_EQ(reader.stats().records, 3u);
  // The broken line's head said file.x: skipped without a look.
  EXPECT_EQ(reader.stats().corrupt_lines, 0u);
}

TEST_F(EventLogReaderTest, JsonThatIsNotAnEventIsCorrupt) {
  write_file(live(), "[1,2]\n{\"seq\":2}\n{\"kind\":5}\n\"text\"\n" + numbered_line(5));
  EventLogReader reader(dir_.path());
  EXPECT_EQ(history(reader), seqs({5}));
  EXPECT_EQ(reader.stats().corrupt_lines, 4u);
  EXPECT_EQ(reader.stats().first_corrupt, live() + ":1");
}

TEST_F(EventLogReaderTest, GluedRecordsAreOneCorruptLine) {
  // What a crash mid-line followed by a writer that did not repair would produce.
  write_file(live(), numbered_line(1).substr(0, 25) + numbered_line(2) + numbered_line(3));
  EventLogReader reader(dir_.path());
  EXPECT_EQ(history(reader), seqs({3}));
  EXPECT_EQ(reader.stats().corrupt_lines, 1u);
}

TEST_F(EventLogReaderTest, BlankLinesAreSkippedSilently) {
  write_file(live(), "\n" + numbered_line(1) + "  \r\n\n" + numbered_line(2));
  EventLogReader reader(dir_.path());
  EXPECT_EQ(history(reader), seqs({1, 2}));
  EXPECT_EQ(reader.stats().corrupt_lines, 0u);
}

TEST_F(EventLogReaderTest, HistoryRunsAcrossGzipPlainAndLiveOldestFirst) {
  write_gzip_file(dir_ / "events.000001.jsonl.gz", numbered_line(1) + numbered_line(2));
  write_file(dir_ / "events.000002.jsonl", numbered_line(3) + numbered_line(4));
  write_gzip_file(dir_ / "events.000010.jsonl.gz", numbered_line(5));
  write_file(dir_ / "events.000011.jsonl.gz.tmp", "compression in progress");
  write_file(live(), numbered_line(6));
  EventLogReader reader(dir_.path());
  EXPECT_EQ(history(reader), seqs({1, 2, 3, 4, 5, 6}));
  EXPECT_EQ(reader.stats().segments_read, 3u);
  EXPECT_EQ(reader.stats().corrupt_lines, 0u);
}

TEST_F(EventLogReaderTest, SegmentInBothFormsIsReadOnce) {
  write_file(dir_ / "events.000001.jsonl", numbered_line(1));
  write_gzip_file(dir_ / "events.000001.jsonl.gz", numbered_line(1));
  write_file(live(), numbered_line(2));
  EXPECT_EQ(history(), seqs({1, 2}));
}

TEST_F(EventLogReaderTest, TornTailOfARotatedSegmentIsDroppedAndCounted) {
  write_file(dir_ / "events.000001.jsonl", numbered_line(1) + numbered_line(2).substr(0, 9));
  write_file(live(), numbered_line(3));
  EventLogReader reader(dir_.path());
  EXPECT_EQ(history(reader), seqs({1, 3}));
  EXPECT_EQ(reader.stats().torn_tails, 1u);
  EXPECT_EQ(reader.stats().corrupt_lines, 0u);
}

TEST_F(EventLogReaderTest, TruncatedGzipSegmentIsCountedNotFatal) {
  std::string lines;
  for (int i = 1; i <= 2000; ++i) lines += numbered_line(static_cast<std::uint64_t>(i));
  write_gzip_file(dir_ / "events.000001.jsonl.gz", lines);
  const std::string gz = testing::read_file(dir_ / "events.000001.jsonl.gz");
  write_file(dir_ / "events.000001.jsonl.gz", gz.substr(0, gz.size() / 2));
  write_file(live(), numbered_line(5000));
  EventLogReader reader(dir_.path());
  const auto got = history(reader);
  ASSERT_GE(got.size(), 2u);
  EXPECT_EQ(got.back(), 5000u);
  for (std::size_t i = 0; i + 1 < got.size(); ++i) EXPECT_EQ(got[i], i + 1);
  EXPECT_EQ(reader.stats().corrupt_lines, 1u);
  EXPECT_NE(reader.stats().first_corrupt.find("events.000001.jsonl.gz"), std::string::npos)
      << reader.stats().first_corrupt;
}

TEST_F(EventLogReaderTest, RotationDuringHistoryIsNotSkipped) {
  write_file(dir_ / "events.000001.jsonl", numbered_line(1));
  write_file(live(), numbered_line(2));
  EventLogReader reader(dir_.path());
  std::vector<std::uint64_t> got;
  // The writer rotates while the reader is still in the old segments: the live
  // file it then opens is a newer one, and segment 2 must still be read.
  ASSERT_TRUE(reader.read_history([&](const LogRecord& r) {
    got.push_back(seq_of(r));
    if (got.back() == 1) {
      EXPECT_EQ(::rename(live().c_str(), (dir_ / "events.000002.jsonl").c_str()), 0);
      write_file(live(), numbered_line(3));
    }
    return true;
  }));
  EXPECT_EQ(got, seqs({1, 2, 3}));
}

TEST_F(EventLogReaderTest, VisitorCanStopTheRead) {
  write_file(dir_ / "events.000001.jsonl", numbered_line(1) + numbered_line(2));
  write_file(live(), numbered_line(3));
  EventLogReader reader(dir_.path());
  int calls = 0;
  ASSERT_TRUE(reader.read_history([&](const LogRecord&) { return ++calls < 2; }));
  EXPECT_EQ(calls, 2);
}

TEST_F(EventLogReaderTest, LineLongerThanTheReadBuffer) {
  Event big = numbered_event(2);
  big.fields.set("blob", std::string(3 << 20, 'x'));
  write_file(live(), numbered_line(1) + to_json_line(big) + numbered_line(3));
  EventLogReader reader(dir_.path());
  std::vector<std::size_t> sizes;
  ASSERT_TRUE(reader.read_history([&](const LogRecord& r) {
    sizes.push_back(r.line.size());
    return true;
  }));
  ASSERT_EQ(sizes.size(), 3u);
  EXPECT_EQ(sizes[1], to_json_line(big).size() - 1);
}

TEST_F(EventLogReaderTest, ReaderCanBeReused) {
  write_file(live(), numbered_line(1));
  EventLogReader reader(dir_.path());
  EXPECT_EQ(history(reader), seqs({1}));
  append_file(live(), numbered_line(2));
  EXPECT_EQ(history(reader), seqs({1, 2}));
}

// ---- follow ----------------------------------------------------------------

TEST_F(EventLogReaderTest, FollowDeliversHistoryThenNewLines) {
  write_file(dir_ / "events.000001.jsonl", numbered_line(1));
  write_file(live(), numbered_line(2));
  EventLogReader reader(dir_.path());
  const auto got = follow(reader, 4, [&](int call) {
    if (call == 2) append_file(live(), numbered_line(3));
    if (call == 4) append_file(live(), numbered_line(4));
  });
  EXPECT_EQ(got, seqs({1, 2, 3, 4}));
}

TEST_F(EventLogReaderTest, FollowHoldsATornLineUntilItIsComplete) {
  const std::string l2 = numbered_line(2);
  write_file(live(), numbered_line(1) + l2.substr(0, 30));
  EventLogReader reader(dir_.path());
  const auto got = follow(reader, 3, [&](int call) {
    if (call == 3) append_file(live(), l2.substr(30) + numbered_line(3));
  });
  EXPECT_EQ(got, seqs({1, 2, 3}));
  EXPECT_EQ(reader.stats().corrupt_lines, 0u);
}

TEST_F(EventLogReaderTest, FollowRestartsWhenTheFileIsTruncated) {
  write_file(live(), numbered_line(1) + numbered_line(2));
  EventLogReader reader(dir_.path());
  const auto got = follow(reader, 3, [&](int call) {
    if (call == 2) write_file(live(), numbered_line(3));  // O_TRUNC: same inode, smaller
  });
  EXPECT_EQ(got, seqs({1, 2, 3}));
}

TEST_F(EventLogReaderTest, FollowSwitchesFilesOnRotation) {
  write_file(live(), numbered_line(1));
  EventLogReader reader(dir_.path());
  const auto got = follow(reader, 3, [&](int call) {
    if (call == 2) {
      append_file(live(), numbered_line(2));  // unread when the rename happens
      ASSERT_EQ(::rename(live().c_str(), (dir_ / "events.000001.jsonl").c_str()), 0);
      write_file(live(), numbered_line(3));
    }
  });
  EXPECT_EQ(got, seqs({1, 2, 3}));
  EXPECT_EQ(reader.stats().rotations_followed, 1u);
}

TEST_F(EventLogReaderTest, FollowReadsRotationsItMissed) {
  write_file(live(), numbered_line(1));
  EventLogReader reader(dir_.path());
  const auto got = follow(reader, 5, [&](int call) {
    if (call != 2) return;
    // Three rotations between two looks: the held file, one compressed already,
    // one still plain, then the new live file.
    append_file(live(), numbered_line(2));
    ASSERT_EQ(::rename(live().c_str(), (dir_ / "events.000001.jsonl").c_str()), 0);
    write_gzip_file(dir_ / "events.000002.jsonl.gz", numbered_line(3));
    write_file(dir_ / "events.000003.jsonl", numbered_line(4));
    write_file(live(), numbered_line(5));
  });
  EXPECT_EQ(got, seqs({1, 2, 3, 4, 5}));
}

TEST_F(EventLogReaderTest, FollowWaitsForTheLiveFileToAppear) {
  EventLogReader reader(dir_.path());
  const auto got = follow(reader, 1, [&](int call) {
    if (call == 3) write_file(live(), numbered_line(1));
  });
  EXPECT_EQ(got, seqs({1}));
}

TEST_F(EventLogReaderTest, FollowOfAMissingDirIsAnError) {
  EventLogReader reader(dir_ / "nope");
  Status s = reader.follow([](const LogRecord&) { return true; }, FollowControl{});
  ASSERT_FALSE(s);
  EXPECT_NE(s.error().message.find(dir_ / "nope"), std::string::npos) << s.error().message;
}

TEST_F(EventLogReaderTest, FollowEndsWithAnErrorWhenTheDirIsRemoved) {
  const std::string sub = dir_ / "state";
  ASSERT_EQ(::mkdir(sub.c_str(), 0700), 0);
  write_file(sub + "/events.jsonl", numbered_line(1));
  EventLogReader reader(sub);
  int calls = 0;
  FollowControl control;
  control.wake_interval = std::chrono::milliseconds(5);
  control.stop = [&] {
    if (++calls == 2) TempDir::remove_tree(sub);
    return calls > 2000;
  };
  Status s = reader.follow([](const LogRecord&) { return true; }, control);
  ASSERT_FALSE(s);
  EXPECT_NE(s.error().message.find("was removed"), std::string::npos) << s.error().message;
}

TEST_F(EventLogReaderTest, FollowIsWokenByInotifyNotByTimeouts) {
  write_file(live(), "");
  EventLogReader reader(dir_.path());
  std::mutex mu;
  std::condition_variable cv;
  std::vector<std::uint64_t> got;
  FollowControl control;
  control.wake_interval = std::chrono::seconds(30);  // far beyond the test's patience
  std::thread follower([&] {
    Status s = reader.follow(
        [&](const LogRecord& r) {
          std::lock_guard lock(mu);
          got.push_back(seq_of(r));
          cv.notify_all();
          return got.back() != 2;
        },
        control);
    EXPECT_TRUE(s);
  });
  const auto start = std::chrono::steady_clock::now();
  append_file(live(), numbered_line(1));
  {
    std::unique_lock lock(mu);
    EXPECT_TRUE(cv.wait_for(lock, std::chrono::seconds(5), [&] { return !got.empty(); }));
  }
  append_file(live(), numbered_line(2));
  follower.join();
  EXPECT_LT(std::chrono::steady_clock::now() - start, std::chrono::seconds(5));
  EXPECT_EQ(got, seqs({1, 2}));
}

// The end-to-end case: a real EventLogWriter on a real loop rotates every ~100 KB
// (and compresses on the pool) while another thread follows. Every record arrives
// exactly once, in order.
TEST_F(EventLogReaderTest, FollowAcrossRotationsByARealWriterLosesNothing) {
  constexpr std::uint64_t kEvents = 10'000;
  uv_loop_t loop;
  ASSERT_EQ(uv_loop_init(&loop), 0);
  EventLogWriterOptions options;
  options.dir = dir_.path();
  options.max_bytes = 100 * 1024;
  options.keep = 1000;  // this test is about following, not pruning
  auto writer = EventLogWriter::open(&loop, options);
  ASSERT_TRUE(writer.ok()) << writer.error().message;

  EventLogReader reader(dir_.path());
  std::mutex mu;
  std::condition_variable cv;
  std::vector<std::uint64_t> got;
  std::atomic<bool> give_up{false};
  FollowControl control;
  control.wake_interval = std::chrono::milliseconds(50);
  control.stop = [&] { return give_up.load(); };
  std::thread follower([&] {
    Status s = reader.follow(
        [&](const LogRecord& r) {
          std::lock_guard lock(mu);
          got.push_back(seq_of(r));
          cv.notify_all();
          return got.size() < kEvents;
        },
        control);
    EXPECT_TRUE(s) << s.error().message;
  });

  // Make sure the follower holds the live file before the first rotation.
  ASSERT_TRUE((*writer)->append(numbered_event(1)));
  {
    std::unique_lock lock(mu);
    ASSERT_TRUE(cv.wait_for(lock, std::chrono::seconds(10), [&] { return !got.empty(); }));
  }
  std::uint64_t next = 2;
  while (next <= kEvents) {
    if (next % 3 == 0) {
      std::vector<Event> batch;
      for (int i = 0; i < 7 && next <= kEvents; ++i) batch.push_back(numbered_event(next++));
      ASSERT_TRUE((*writer)->append_many(batch));
    } else {
      ASSERT_TRUE((*writer)->append(numbered_event(next++)));
    }
    uv_run(&loop, UV_RUN_NOWAIT);  // let finished compressions report back
  }
  const auto writer_stats = (*writer)->stats();
  writer->reset();
  uv_run(&loop, UV_RUN_DEFAULT);  // the remaining compressions
  EXPECT_EQ(uv_loop_close(&loop), 0);

  {
    std::unique_lock lock(mu);
    const bool all =
        cv.wait_for(lock, std::chrono::seconds(20), [&] { return got.size() >= kEvents; });
    EXPECT_TRUE(all) << "follower got " << got.size() << " of " << kEvents;
  }
  give_up = true;
  follower.join();

  EXPECT_GE(writer_stats.rotations, 10u);
  EXPECT_EQ(writer_stats.lines_written, kEvents);
  ASSERT_EQ(got.size(), kEvents);
  for (std::uint64_t i = 0; i < kEvents; ++i) ASSERT_EQ(got[i], i + 1) << "at index " << i;
  EXPECT_GE(reader.stats().rotations_followed, 1u);
  EXPECT_EQ(reader.stats().corrupt_lines, 0u);
  EXPECT_EQ(reader.stats().torn_tails, 0u);
}

}  // namespace
}  // namespace aw
