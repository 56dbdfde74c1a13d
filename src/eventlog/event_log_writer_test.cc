#include "src/eventlog/event_log_writer.h"

#include <gtest/gtest.h>
#include <sys/stat.h>

#include <cerrno>

#include "src/eventlog/log_segments.h"
#include "src/eventlog/test_util.h"

namespace aw {
namespace {

using testing::file_exists;
using testing::gunzip_file;
using testing::list_dir;
using testing::numbered_event;
using testing::numbered_line;
using testing::read_file;
using testing::split_lines;
using testing::TempDir;
using testing::write_file;

// Fault injection (STYLE: LevelDB's Env): fail, cut short or interrupt the next
// calls; record every write() the writer makes.
class FakeEnv : public Env {
 public:
  ssize_t write(int fd, const void* data, std::size_t len) override {
    ++write_calls;
    if (eintr_writes > 0) {
      --eintr_writes;
      errno = EINTR;
      return -1;
    }
    if (short_write > 0) {  // this call succeeds partly; failing_writes apply after it
      len = std::min(len, short_write);
      short_write = 0;
    } else if (failing_writes > 0) {
      --failing_writes;
      errno = write_errno;
      return -1;
    }
    const ssize_t n = Env::write(fd, data, len);
    if (n > 0) writes.emplace_back(static_cast<const char*>(data), static_cast<std::size_t>(n));
    return n;
  }
  int open(const char* path, int flags, mode_t mode) override {
    if (failing_opens > 0) {
      --failing_opens;
      errno = EACCES;
      return -1;
    }
    return Env::open(path, flags, mode);
  }
  int rename(const char* from, const char* to) override {
    if (failing_renames > 0) {
      --failing_renames;
      errno = EXDEV;
      return -1;
    }
    return Env::rename(from, to);
  }

  int write_calls = 0;
  int eintr_writes = 0;
  int failing_writes = 0;
  int write_errno = ENOSPC;
  std::size_t short_write = 0;
  int failing_opens = 0;
  int failing_renames = 0;
  std::vector<std::string> writes;
};

class EventLogWriterTest : public testing::LoopTest {
 protected:
  EventLogWriterOptions options() {
    EventLogWriterOptions o;
    o.dir = dir_.path() + "/state";
    o.env = &ops_;
    o.on_problem = [this](const EventLogProblem& p) { problems_.push_back(p); };
    return o;
  }
  std::unique_ptr<EventLogWriter> open_writer(EventLogWriterOptions o) {
    auto w = EventLogWriter::open(&loop_, std::move(o));
    EXPECT_TRUE(w.ok()) << (w.ok() ? "" : w.error().message);
    return w.ok() ? std::move(*w) : nullptr;
  }
  std::string state(const std::string& name) { return dir_.path() + "/state/" + name; }
  std::string live() { return state("events.jsonl"); }
  void finish_work(EventLogWriter& w) {
    run_until([&] { return w.pending_work() == 0; });
  }
  std::vector<EventLogProblem::Kind> problem_kinds() {
    std::vector<EventLogProblem::Kind> kinds;
    for (const auto& p : problems_) kinds.push_back(p.kind);
    return kinds;
  }

  TempDir dir_;
  FakeEnv ops_;
  std::vector<EventLogProblem> problems_;
};

TEST_F(EventLogWriterTest, CreatesDirAndFilePrivately) {
  auto w = open_writer(options());
  ASSERT_TRUE(w);
  struct stat st;
  ASSERT_EQ(::stat(state("").c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0700u);
  ASSERT_EQ(::stat(live().c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600u);
  EXPECT_EQ(st.st_size, 0);
}

TEST_F(EventLogWriterTest, EachAppendIsOneWriteOfOneWholeLine) {
  auto w = open_writer(options());
  ASSERT_TRUE(w);
  for (int i = 1; i <= 3; ++i) ASSERT_TRUE(w->append(numbered_event(i)));
  ASSERT_EQ(ops_.writes.size(), 3u);
  for (int i = 1; i <= 3; ++i) EXPECT_EQ(ops_.writes[i - 1], numbered_line(i));
  EXPECT_EQ(ops_.write_calls, 3);
}

TEST_F(EventLogWriterTest, AppendManyIsOneWriteOfWholeLines) {
  auto w = open_writer(options());
  ASSERT_TRUE(w);
  const std::vector<Event> events = {numbered_event(1), numbered_event(2), numbered_event(3)};
  ASSERT_TRUE(w->append_many(events));
  ASSERT_EQ(ops_.writes.size(), 1u);
  EXPECT_EQ(ops_.writes[0], numbered_line(1) + numbered_line(2) + numbered_line(3));
  EXPECT_TRUE(w->append_many({}));
  EXPECT_EQ(ops_.write_calls, 1);
}

TEST_F(EventLogWriterTest, StagedLinesGoOutInOneWriteAtTheEndOfTheTurn) {
  auto w = open_writer(options());
  ASSERT_TRUE(w);
  for (int i = 1; i <= 3; ++i) w->stage(numbered_event(i));
  EXPECT_EQ(ops_.write_calls, 0) << "nothing is written while the turn goes on";
  EXPECT_EQ(w->staged_bytes(), 3 * numbered_line(1).size());
  uv_run(&loop_, UV_RUN_NOWAIT);  // the next turn: the zero-delay commit timer fires
  ASSERT_EQ(ops_.writes.size(), 1u);
  EXPECT_EQ(ops_.writes[0], numbered_line(1) + numbered_line(2) + numbered_line(3));
  EXPECT_EQ(w->staged_bytes(), 0u);
  w->stage(numbered_event(4));
  ASSERT_TRUE(w->commit());  // asked for before an action: at once
  ASSERT_EQ(ops_.writes.size(), 2u);
  EXPECT_EQ(ops_.writes[1], numbered_line(4));
  uv_run(&loop_, UV_RUN_NOWAIT);
  EXPECT_EQ(ops_.write_calls, 2) << "the commit stopped the timer; nothing left to write";
}

TEST_F(EventLogWriterTest, AppendWritesWhatIsStagedFirstInOrder) {
  auto w = open_writer(options());
  ASSERT_TRUE(w);
  w->stage(numbered_event(1));
  w->stage(numbered_event(2));
  ASSERT_TRUE(w->append(numbered_event(3)));
  ASSERT_EQ(ops_.writes.size(), 1u);
  EXPECT_EQ(ops_.writes[0], numbered_line(1) + numbered_line(2) + numbered_line(3));
  w->stage(numbered_event(4));
  ASSERT_TRUE(w->append_many(std::vector<Event>{numbered_event(5)}));
  EXPECT_EQ(ops_.writes.back(), numbered_line(4) + numbered_line(5));
}

TEST_F(EventLogWriterTest, StagingPastTheCapCommitsAtOnce) {
  EventLogWriterOptions o = options();
  o.max_staged_bytes = 2 * numbered_line(1).size();
  auto w = open_writer(o);
  ASSERT_TRUE(w);
  w->stage(numbered_event(1));
  EXPECT_EQ(ops_.write_calls, 0);
  w->stage(numbered_event(2));
  ASSERT_EQ(ops_.writes.size(), 1u);
  EXPECT_EQ(ops_.writes[0], numbered_line(1) + numbered_line(2));
}

TEST_F(EventLogWriterTest, StagedLinesAreWrittenWhenTheWriterCloses) {
  auto w = open_writer(options());
  ASSERT_TRUE(w);
  w->stage(numbered_event(1));
  w.reset();
  EXPECT_EQ(testing::read_file(live()), numbered_line(1));
}

TEST_F(EventLogWriterTest, AFailedCommitKeepsTheLinesForTheNextWrite) {
  auto w = open_writer(options());
  ASSERT_TRUE(w);
  ops_.failing_writes = 1;
  w->stage(numbered_event(1));
  EXPECT_FALSE(w->commit());
  EXPECT_EQ(problem_kinds(),
            std::vector<EventLogProblem::Kind>{EventLogProblem::Kind::kWriteFailed});
  w->stage(numbered_event(2));
  ASSERT_TRUE(w->commit());
  EXPECT_EQ(testing::read_file(live()), numbered_line(1) + numbered_line(2));
}

TEST_F(EventLogWriterTest, LinesParseBackToTheSameEvents) {
  auto w = open_writer(options());
  ASSERT_TRUE(w);
  Event e = numbered_event(7, "action.failed");
  e.cause = 3;
  e.rule = "restart \"w\"";
  e.depth = 2;
  e.fields.set("ok", false);
  e.fields.set("msg", "line one\nline two");
  ASSERT_TRUE(w->append(e));
  const auto lines = split_lines(read_file(live()));
  ASSERT_EQ(lines.size(), 1u);
  auto back = parse_event_json(lines[0]);
  ASSERT_TRUE(back.ok()) << back.error().message;
  EXPECT_EQ(*back, e);
}

TEST_F(EventLogWriterTest, StatsCountBytesAndLines) {
  auto w = open_writer(options());
  ASSERT_TRUE(w);
  ASSERT_TRUE(w->append(numbered_event(1)));
  ASSERT_TRUE(w->append_many(std::vector<Event>{numbered_event(2), numbered_event(3)}));
  const auto s = w->stats();
  EXPECT_EQ(s.lines_written, 3u);
  EXPECT_EQ(s.bytes_written,
            numbered_line(1).size() + numbered_line(2).size() + numbered_line(3).size());
  EXPECT_EQ(s.write_errors, 0u);
  EXPECT_EQ(s.rotations, 0u);
  EXPECT_EQ(s.dropped_lines, 0u);
  EXPECT_EQ(s.backlog_bytes, 0u);
}

TEST_F(EventLogWriterTest, RetriesInterruptedWrite) {
  auto w = open_writer(options());
  ASSERT_TRUE(w);
  ops_.eintr_writes = 2;
  ASSERT_TRUE(w->append(numbered_event(1)));
  EXPECT_EQ(read_file(live()), numbered_line(1));
  EXPECT_EQ(w->stats().write_errors, 0u);
  EXPECT_TRUE(problems_.empty());
}

TEST_F(EventLogWriterTest, RotatesAtMaxBytesBetweenWholeLines) {
  auto o = options();
  o.max_bytes = 3 * numbered_line(1).size();  // all numbered lines below 10 have one size
  auto w = open_writer(o);
  ASSERT_TRUE(w);
  for (int i = 1; i <= 7; ++i) ASSERT_TRUE(w->append(numbered_event(i)));
  EXPECT_EQ(w->stats().rotations, 2u);
  // Rotation renames on the loop thread right away; compression is still queued.
  EXPECT_EQ(w->pending_work(), 2u);
  finish_work(*w);
  EXPECT_EQ(w->stats().compressed_segments, 2u);
  EXPECT_EQ(list_dir(state("")), (std::set<std::string>{"events.000001.jsonl.gz",
                                                        "events.000002.jsonl.gz", "events.jsonl"}));
  EXPECT_EQ(gunzip_file(state("events.000001.jsonl.gz")),
            numbered_line(1) + numbered_line(2) + numbered_line(3));
  EXPECT_EQ(gunzip_file(state("events.000002.jsonl.gz")),
            numbered_line(4) + numbered_line(5) + numbered_line(6));
  EXPECT_EQ(read_file(live()), numbered_line(7));
}

TEST_F(EventLogWriterTest, CompressionRunsOnThePoolAndRemovesPlainFile) {
  auto o = options();
  o.max_bytes = 1;  // every line rotates
  auto w = open_writer(o);
  ASSERT_TRUE(w);
  ASSERT_TRUE(w->append(numbered_event(1)));
  // Nothing compressed until the loop runs the pool's completion.
  EXPECT_TRUE(file_exists(state("events.000001.jsonl")));
  EXPECT_EQ(w->pending_work(), 1u);
  finish_work(*w);
  EXPECT_FALSE(file_exists(state("events.000001.jsonl")));
  EXPECT_FALSE(file_exists(state("events.000001.jsonl.gz.tmp")));
  EXPECT_EQ(gunzip_file(state("events.000001.jsonl.gz")), numbered_line(1));
  EXPECT_EQ(read_file(live()), "");
}

TEST_F(EventLogWriterTest, KeepDeletesTheOldestSegments) {
  auto o = options();
  o.max_bytes = 1;
  o.keep = 2;
  auto w = open_writer(o);
  ASSERT_TRUE(w);
  for (int i = 1; i <= 5; ++i) ASSERT_TRUE(w->append(numbered_event(i)));
  finish_work(*w);
  EXPECT_EQ(list_dir(state("")), (std::set<std::string>{"events.000004.jsonl.gz",
                                                        "events.000005.jsonl.gz", "events.jsonl"}));
  EXPECT_EQ(w->stats().pruned_segments, 3u);
}

TEST_F(EventLogWriterTest, KeepZeroDeletesEverySegment) {
  auto o = options();
  o.max_bytes = 1;
  o.keep = 0;
  auto w = open_writer(o);
  ASSERT_TRUE(w);
  for (int i = 1; i <= 3; ++i) ASSERT_TRUE(w->append(numbered_event(i)));
  finish_work(*w);
  EXPECT_EQ(list_dir(state("")), (std::set<std::string>{"events.jsonl"}));
}

TEST_F(EventLogWriterTest, NumberingContinuesAfterReopen) {
  auto o = options();
  o.max_bytes = 1;
  {
    auto w = open_writer(o);
    ASSERT_TRUE(w);
    ASSERT_TRUE(w->append(numbered_event(1)));
    ASSERT_TRUE(w->append(numbered_event(2)));
    finish_work(*w);
  }
  auto w = open_writer(o);
  ASSERT_TRUE(w);
  ASSERT_TRUE(w->append(numbered_event(3)));
  finish_work(*w);
  EXPECT_EQ(gunzip_file(state("events.000003.jsonl.gz")), numbered_line(3));
}

TEST_F(EventLogWriterTest, ReopenAppendsToTheExistingLiveFile) {
  {
    auto w = open_writer(options());
    ASSERT_TRUE(w);
    ASSERT_TRUE(w->append(numbered_event(1)));
  }
  auto w = open_writer(options());
  ASSERT_TRUE(w);
  ASSERT_TRUE(w->append(numbered_event(2)));
  EXPECT_EQ(read_file(live()), numbered_line(1) + numbered_line(2));
  EXPECT_FALSE(w->stats().repaired_torn_tail);
}

TEST_F(EventLogWriterTest, LeftoverPlainSegmentIsCompressedOnOpen) {
  ASSERT_EQ(::mkdir(state("").c_str(), 0700), 0);
  write_file(state("events.000007.jsonl"), numbered_line(1) + numbered_line(2));
  write_file(state("events.000007.jsonl.gz.tmp"), "half a gzip stream");  // crash debris
  write_file(state("events.000006.jsonl.gz"), "");                        // already done; untouched
  auto w = open_writer(options());
  ASSERT_TRUE(w);
  EXPECT_EQ(w->pending_work(), 2u);  // its compression, and indexing what is on disk
  finish_work(*w);
  EXPECT_EQ(list_dir(state("")), (std::set<std::string>{"events.000006.jsonl.gz",
                                                        "events.000007.jsonl.gz", "events.jsonl"}));
  EXPECT_EQ(gunzip_file(state("events.000007.jsonl.gz")), numbered_line(1) + numbered_line(2));
  EXPECT_TRUE(problems_.empty());
}

TEST_F(EventLogWriterTest, LeftoverWithFinishedGzipOnlyLosesThePlainCopy) {
  ASSERT_EQ(::mkdir(state("").c_str(), 0700), 0);
  write_file(state("events.000003.jsonl"), numbered_line(1));
  testing::write_gzip_file(state("events.000003.jsonl.gz"), numbered_line(1));
  auto w = open_writer(options());
  ASSERT_TRUE(w);
  finish_work(*w);
  EXPECT_EQ(list_dir(state("")), (std::set<std::string>{"events.000003.jsonl.gz", "events.jsonl"}));
  EXPECT_EQ(gunzip_file(state("events.000003.jsonl.gz")), numbered_line(1));
}

TEST_F(EventLogWriterTest, TornLastLineFromACrashIsTerminatedOnOpen) {
  ASSERT_EQ(::mkdir(state("").c_str(), 0700), 0);
  const std::string torn = numbered_line(2).substr(0, 20);
  write_file(live(), numbered_line(1) + torn);
  auto w = open_writer(options());
  ASSERT_TRUE(w);
  EXPECT_TRUE(w->stats().repaired_torn_tail);
  ASSERT_TRUE(w->append(numbered_event(3)));
  // The torn bytes become one corrupt line of their own; record 3 stays intact.
  EXPECT_EQ(read_file(live()), numbered_line(1) + torn + "\n" + numbered_line(3));
}

TEST_F(EventLogWriterTest, FailedWriteKeepsTheLineInTheBacklogAndReportsOnce) {
  auto w = open_writer(options());
  ASSERT_TRUE(w);
  ops_.failing_writes = 2;
  Status s = w->append(numbered_event(1));
  EXPECT_FALSE(s);
  EXPECT_NE(s.error().message.find("No space left on device"), std::string::npos)
      << s.error().message;
  EXPECT_NE(s.error().message.find("events.jsonl"), std::string::npos);
  EXPECT_FALSE(w->append(numbered_event(2)));  // the backlog retry fails too
  EXPECT_EQ(read_file(live()), "");
  auto st = w->stats();
  EXPECT_EQ(st.write_errors, 2u);
  EXPECT_EQ(st.backlog_bytes, numbered_line(1).size() + numbered_line(2).size());
  EXPECT_EQ(st.dropped_lines, 0u);
  EXPECT_EQ(problem_kinds(), std::vector{EventLogProblem::Kind::kWriteFailed});

  // The disk has room again: the backlog goes first, in order, then the new line.
  ASSERT_TRUE(w->append(numbered_event(3)));
  EXPECT_EQ(read_file(live()), numbered_line(1) + numbered_line(2) + numbered_line(3));
  st = w->stats();
  EXPECT_EQ(st.backlog_bytes, 0u);
  EXPECT_EQ(st.lines_written, 3u);
  EXPECT_EQ(problem_kinds(), (std::vector{EventLogProblem::Kind::kWriteFailed,
                                          EventLogProblem::Kind::kWriteRecovered}));
}

TEST_F(EventLogWriterTest, ShortWriteKeepsTheRestOfTheLine) {
  auto w = open_writer(options());
  ASSERT_TRUE(w);
  ops_.short_write = 10;
  ops_.failing_writes = 1;  // the retry of the remainder hits ENOSPC
  EXPECT_FALSE(w->append(numbered_event(1)));
  EXPECT_EQ(read_file(live()), numbered_line(1).substr(0, 10));
  EXPECT_EQ(w->stats().backlog_bytes, numbered_line(1).size() - 10);
  EXPECT_EQ(w->stats().lines_written, 0u);
  ASSERT_TRUE(w->flush_backlog());
  EXPECT_EQ(read_file(live()), numbered_line(1));
  EXPECT_EQ(w->stats().lines_written, 1u);
}

TEST_F(EventLogWriterTest, ShortWriteFollowedBySuccessIsNotAnError) {
  auto w = open_writer(options());
  ASSERT_TRUE(w);
  ops_.short_write = 5;
  ASSERT_TRUE(w->append(numbered_event(1)));
  EXPECT_EQ(read_file(live()), numbered_line(1));
  EXPECT_EQ(w->stats().write_errors, 0u);
}

TEST_F(EventLogWriterTest, BacklogOverflowDropsWholeLinesAndCountsThem) {
  auto o = options();
  const std::size_t line = numbered_line(1).size();
  o.max_backlog_bytes = 3 * line + line / 2;  // room for three lines
  auto w = open_writer(o);
  ASSERT_TRUE(w);
  ops_.failing_writes = 1000;
  for (int i = 1; i <= 6; ++i) EXPECT_FALSE(w->append(numbered_event(i)));
  auto st = w->stats();
  EXPECT_EQ(st.dropped_lines, 3u);
  EXPECT_EQ(st.backlog_bytes, 3 * line);
  EXPECT_EQ(problem_kinds(), (std::vector{EventLogProblem::Kind::kWriteFailed,
                                          EventLogProblem::Kind::kLinesDropped}));
  ops_.failing_writes = 0;
  ASSERT_TRUE(w->append(numbered_event(7)));
  EXPECT_EQ(read_file(live()),
            numbered_line(1) + numbered_line(2) + numbered_line(3) + numbered_line(7));
  ASSERT_EQ(problems_.size(), 3u);
  EXPECT_EQ(problems_[2].kind, EventLogProblem::Kind::kWriteRecovered);
  EXPECT_NE(problems_[2].error.message.find("3 line(s) dropped"), std::string::npos)
      << problems_[2].error.message;
}

TEST_F(EventLogWriterTest, UnfinishedLineIsKeptEvenWhenTheBacklogIsFull) {
  auto o = options();
  o.max_backlog_bytes = 8;  // smaller than one line
  auto w = open_writer(o);
  ASSERT_TRUE(w);
  ops_.short_write = 10;
  ops_.failing_writes = 1;
  EXPECT_FALSE(w->append(numbered_event(1)));
  EXPECT_EQ(w->stats().backlog_bytes, numbered_line(1).size() - 10);
  ops_.failing_writes = 1;
  EXPECT_FALSE(w->append(numbered_event(2)));  // dropped: no room
  EXPECT_EQ(w->stats().dropped_lines, 1u);
  ASSERT_TRUE(w->append(numbered_event(3)));
  // No glued records: line 1 was completed before line 3 started.
  EXPECT_EQ(read_file(live()), numbered_line(1) + numbered_line(3));
}

TEST_F(EventLogWriterTest, NoRotationWhileALineIsUnfinished) {
  auto o = options();
  o.max_bytes = 10;
  auto w = open_writer(o);
  ASSERT_TRUE(w);
  ops_.short_write = 12;  // past max_bytes, mid-line
  ops_.failing_writes = 1;
  EXPECT_FALSE(w->append(numbered_event(1)));
  EXPECT_EQ(w->stats().rotations, 0u);
  ASSERT_TRUE(w->flush_backlog());
  EXPECT_EQ(w->stats().rotations, 1u);
  finish_work(*w);
  EXPECT_EQ(gunzip_file(state("events.000001.jsonl.gz")), numbered_line(1));
}

TEST_F(EventLogWriterTest, FailedRotationKeepsAppendingAndRetries) {
  auto o = options();
  o.max_bytes = 1;
  auto w = open_writer(o);
  ASSERT_TRUE(w);
  ops_.failing_renames = 2;
  ASSERT_TRUE(w->append(numbered_event(1)));
  ASSERT_TRUE(w->append(numbered_event(2)));
  EXPECT_EQ(read_file(live()), numbered_line(1) + numbered_line(2));
  EXPECT_EQ(w->stats().rotations, 0u);
  ASSERT_EQ(problems_.size(), 1u);
  EXPECT_EQ(problems_[0].kind, EventLogProblem::Kind::kRotateFailed);
  EXPECT_NE(problems_[0].error.message.find("events.000001.jsonl"), std::string::npos);
  ASSERT_TRUE(w->append(numbered_event(3)));
  EXPECT_EQ(w->stats().rotations, 1u);
  finish_work(*w);
  EXPECT_EQ(gunzip_file(state("events.000001.jsonl.gz")),
            numbered_line(1) + numbered_line(2) + numbered_line(3));
}

TEST_F(EventLogWriterTest, FailedReopenAfterRotationHoldsLinesUntilItWorks) {
  auto o = options();
  o.max_bytes = 1;
  auto w = open_writer(o);
  ASSERT_TRUE(w);
  ops_.failing_opens = 2;  // the reopen after rotation, then the next append's retry
  ASSERT_TRUE(w->append(numbered_event(1)));
  EXPECT_FALSE(w->append(numbered_event(2)));
  EXPECT_EQ(w->stats().backlog_bytes, numbered_line(2).size());
  ASSERT_TRUE(w->append(numbered_event(3)));
  finish_work(*w);
  EXPECT_EQ(gunzip_file(state("events.000001.jsonl.gz")), numbered_line(1));
  EXPECT_EQ(gunzip_file(state("events.000002.jsonl.gz")), numbered_line(2) + numbered_line(3));
  EXPECT_EQ(problem_kinds(), (std::vector{EventLogProblem::Kind::kWriteFailed,
                                          EventLogProblem::Kind::kWriteRecovered}));
  EXPECT_NE(problems_[0].error.message.find("cannot open " + live()), std::string::npos)
      << problems_[0].error.message;
}

TEST_F(EventLogWriterTest, DestructorFlushesTheBacklog) {
  {
    auto w = open_writer(options());
    ASSERT_TRUE(w);
    ops_.failing_writes = 1;
    EXPECT_FALSE(w->append(numbered_event(1)));
  }
  EXPECT_EQ(read_file(live()), numbered_line(1));
}

TEST_F(EventLogWriterTest, QueuedCompressionFinishesAfterTheWriterIsGone) {
  auto o = options();
  o.max_bytes = 1;
  {
    auto w = open_writer(o);
    ASSERT_TRUE(w);
    for (int i = 1; i <= 3; ++i) ASSERT_TRUE(w->append(numbered_event(i)));
    EXPECT_EQ(w->pending_work(), 3u);
  }
  uv_run(&loop_, UV_RUN_DEFAULT);
  EXPECT_EQ(list_dir(state("")),
            (std::set<std::string>{"events.000001.jsonl.gz", "events.000002.jsonl.gz",
                                   "events.000003.jsonl.gz", "events.jsonl"}));
  EXPECT_TRUE(problems_.empty());
}

TEST_F(EventLogWriterTest, ProblemCallbackMayAppendAgain) {
  std::unique_ptr<EventLogWriter> w;
  auto o = options();
  int calls = 0;
  o.on_problem = [&](const EventLogProblem& p) {
    ++calls;
    if (p.kind == EventLogProblem::Kind::kWriteFailed) {
      EXPECT_FALSE(w->append(numbered_event(100)));  // still failing: queued, not reported
    }
  };
  w = open_writer(o);
  ASSERT_TRUE(w);
  ops_.failing_writes = 2;
  EXPECT_FALSE(w->append(numbered_event(1)));
  EXPECT_EQ(calls, 1);
  ASSERT_TRUE(w->flush_backlog());
  EXPECT_EQ(calls, 2);  // and the recovery
  EXPECT_EQ(read_file(live()), numbered_line(1) + numbered_line(100));
}

TEST_F(EventLogWriterTest, OpenFailureNamesTheFile) {
  ops_.failing_opens = 1;
  auto w = EventLogWriter::open(&loop_, options());
  ASSERT_FALSE(w.ok());
  EXPECT_NE(w.error().message.find(live()), std::string::npos) << w.error().message;
}

TEST_F(EventLogWriterTest, DirThatIsAFileIsAnError) {
  write_file(dir_.path() + "/state", "not a dir");
  auto w = EventLogWriter::open(&loop_, options());
  ASSERT_FALSE(w.ok());
  EXPECT_NE(w.error().message.find("/state"), std::string::npos) << w.error().message;
}

}  // namespace
}  // namespace aw
