// Loop tests on real files and real inotify in mkdtemp directories: a fresh
// loop per test, a guard timer, and waits on events or on the tailer's state
// after each loop iteration (never sleeps to synchronise). The one thread is
// the writer of the rotation test, which paces itself like a real logger.
#include "watchers/logtail/log_tailer.h"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <chrono>
#include <cstring>
#include <filesystem>
#include <functional>
#include <memory>
#include <string>
#include <thread>
#include <vector>

namespace aw {
namespace {

namespace fs = std::filesystem;
using std::chrono::milliseconds;

void write_all(int fd, std::string_view s) {
  while (!s.empty()) {
    ssize_t n = write(fd, s.data(), s.size());
    ASSERT_GT(n, 0) << std::strerror(errno);
    s.remove_prefix(static_cast<std::size_t>(n));
  }
}

void append(const std::string& path, std::string_view text) {
  int fd = open(path.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
  ASSERT_GE(fd, 0) << path << ": " << std::strerror(errno);
  write_all(fd, text);
  ASSERT_EQ(close(fd), 0);
}

std::int64_t file_size(const std::string& path) {
  struct stat st {};
  return stat(path.c_str(), &st) == 0 ? static_cast<std::int64_t>(st.st_size) : -1;
}

std::string field(const Event& e, const char* key) {
  return e.fields.get_string(key).value_or("<absent>");
}

class LogTailerTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_EQ(uv_loop_init(&loop_), 0);
    char tmpl[] = "/tmp/aw-logtail-XXXXXX";
    ASSERT_NE(mkdtemp(tmpl), nullptr);
    dir_ = tmpl;
    log_ = dir_ + "/worker.log";
  }
  void TearDown() override {
    tailer_.reset();
    store_.reset();
    uv_run(&loop_, UV_RUN_DEFAULT);  // close callbacks, background saves
    EXPECT_EQ(uv_loop_close(&loop_), 0) << "a handle was left open";
    fs::remove_all(dir_);
  }

  void make_tailer(LogTailer::Options options = {}) {
    tailer_ = std::make_unique<LogTailer>(
        &loop_, clock_, [this](Event e) { events_.push_back(std::move(e)); }, options);
  }
  LogSpec spec(std::vector<LogPattern> patterns = {{"any", "."}}) {
    LogSpec s;
    s.name = "w1";
    s.path = log_;
    s.patterns = std::move(patterns);
    s.entity = "worker-1";
    return s;
  }
  void start_with(LogSpec s, LogTailer::Options options = {}) {
    make_tailer(options);
    Status st = tailer_->add_file(std::move(s));
    ASSERT_TRUE(st.ok()) << st.error().message;
    tailer_->start();
  }

  // Runs the loop one iteration at a time until `pred` holds or the guard
  // fires; the loop blocks in between, so this waits on events, not time.
  bool run_until(const std::function<bool()>& pred, std::uint64_t guard_ms = 10000) {
    bool timed_out = false;
    uvx::Timer guard(&loop_, [&] { timed_out = true; });
    guard.start(guard_ms);
    // Not blocking while reads are deferred: the iteration that does the last
    // deferred read would otherwise block in poll afterwards.
    while (!pred() && !timed_out)
      uv_run(&loop_, tailer_ && tailer_->reads_pending() ? UV_RUN_NOWAIT : UV_RUN_ONCE);
    return pred();
  }
  std::size_t count(std::string_view kind) const {
    std::size_t n = 0;
    for (const auto& e : events_)
      if (e.kind == kind) ++n;
    return n;
  }
  std::vector<std::string> lines() const {
    std::vector<std::string> out;
    for (const auto& e : events_)
      if (e.kind == "log.line") out.push_back(field(e, "line"));
    return out;
  }
  const Event* last(std::string_view kind) const {
    for (auto it = events_.rbegin(); it != events_.rend(); ++it)
      if (it->kind == kind) return &*it;
    return nullptr;
  }
  bool caught_up_with(const std::string& path) {
    return tailer_->position("w1").value_or(-1) == file_size(path) && !tailer_->reads_pending();
  }

  uv_loop_t loop_;
  SystemClock clock_;
  std::string dir_, log_;
  MemoryOffsetStore memory_store_;  // outlives tailer_ (declared before it)
  std::unique_ptr<FileOffsetStore> store_;
  std::unique_ptr<LogTailer> tailer_;
  std::vector<Event> events_;
};

TEST_F(LogTailerTest, MatchingLinesBecomeEventsWithCaptures) {
  append(log_, "");
  start_with(spec(
      {{"failed", R"(task (?P<task>\d+) failed: (?P<reason>\w+))"}, {"oom", "out of memory"}}));
  append(log_, "12:00 task 42 failed: timeout\n12:01 killed: out of memory\n");
  ASSERT_TRUE(run_until([&] { return count("log.line") >= 2; }));
  const Event& a = events_[0];
  EXPECT_EQ(a.kind, "log.line");
  EXPECT_EQ(a.source, "logtail");
  EXPECT_EQ(a.path, log_);
  EXPECT_EQ(a.entity, "worker-1");
  EXPECT_EQ(field(a, "log"), "w1");
  EXPECT_EQ(field(a, "pattern"), "failed");
  EXPECT_EQ(field(a, "line"), "12:00 task 42 failed: timeout");
  EXPECT_EQ(a.fields.get_int("line_no"), 1) << "an empty file was read from its start";
  EXPECT_EQ(field(a, "task"), "42");
  EXPECT_EQ(field(a, "reason"), "timeout");
  EXPECT_EQ(a.fields.find("truncated"), nullptr);
  const Event& b = events_[1];
  EXPECT_EQ(field(b, "pattern"), "oom");
  EXPECT_EQ(b.fields.get_int("line_no"), 2);
}

TEST_F(LogTailerTest, NonMatchingLinesEmitNothing) {
  append(log_, "");
  start_with(spec({{"err", "ERROR"}}));
  append(log_, "INFO all good\nDEBUG still good\nWARN nearly\nERROR marker\n");
  ASSERT_TRUE(run_until([&] { return count("log.line") >= 1; }));
  ASSERT_TRUE(run_until([&] { return caught_up_with(log_); }));
  EXPECT_EQ(lines(), (std::vector<std::string>{"ERROR marker"}));
  EXPECT_EQ(events_.size(), 1u);
  EXPECT_EQ(tailer_->stats().lines, 4u);
  EXPECT_EQ(tailer_->stats().matched_lines, 1u);
}

TEST_F(LogTailerTest, LineMatchingSeveralPatternsGivesOneEventPerPattern) {
  append(log_, "");
  start_with(spec({{"a", "alpha"}, {"b", "beta"}, {"c", "gamma"}}));
  append(log_, "alpha and beta\n");
  ASSERT_TRUE(run_until([&] { return count("log.line") >= 2; }));
  ASSERT_TRUE(run_until([&] { return caught_up_with(log_); }));
  ASSERT_EQ(events_.size(), 2u);
  EXPECT_EQ(field(events_[0], "pattern"), "a");
  EXPECT_EQ(field(events_[1], "pattern"), "b");
}

TEST_F(LogTailerTest, PartialLineIsHeldUntilItsNewline) {
  append(log_, "");
  start_with(spec());
  append(log_, "half a li");
  ASSERT_TRUE(run_until([&] { return caught_up_with(log_); }));
  EXPECT_EQ(count("log.line"), 0u) << "no line before its '\\n'";
  append(log_, "ne, and the rest\n");
  ASSERT_TRUE(run_until([&] { return count("log.line") >= 1; }));
  EXPECT_EQ(lines(), (std::vector<std::string>{"half a line, and the rest"}));
}

TEST_F(LogTailerTest, LongLineIsTruncatedAndItsRestSkipped) {
  append(log_, "");
  LogSpec s = spec({{"x", "x"}, {"after", "after"}});
  s.max_line_bytes = 16;
  start_with(s);
  append(log_, std::string(10, 'x'));
  ASSERT_TRUE(run_until([&] { return caught_up_with(log_); }));
  append(log_, std::string(40, 'x'));  // over the limit: cut now
  ASSERT_TRUE(run_until([&] { return count("log.line") >= 1; }));
  append(log_, std::string(30, 'x') + "\nafter\n");
  ASSERT_TRUE(run_until([&] { return count("log.line") >= 2; }));
  ASSERT_TRUE(run_until([&] { return caught_up_with(log_); }));
  ASSERT_EQ(events_.size(), 2u) << "the rest of the long line is skipped, not a new line";
  EXPECT_EQ(field(events_[0], "line"), std::string(16, 'x'));
  EXPECT_EQ(events_[0].fields.find("truncated") != nullptr, true);
  EXPECT_EQ(field(events_[0], "truncated"), "true");
  EXPECT_EQ(field(events_[1], "line"), "after");
  EXPECT_EQ(events_[1].fields.get_int("line_no"), 2);
  EXPECT_EQ(tailer_->stats().truncated_lines, 1u);
}

TEST_F(LogTailerTest, StartsAtTheEndOfAnExistingFileByDefault) {
  append(log_, "old 1\nold 2\nhalf of an old li");
  start_with(spec());
  append(log_, "ne\nnew\n");
  ASSERT_TRUE(run_until([&] { return count("log.line") >= 1; }));
  ASSERT_TRUE(run_until([&] { return caught_up_with(log_); }));
  EXPECT_EQ(lines(), (std::vector<std::string>{"new"}))
      << "neither old lines nor the tail of the line being written at start";
  EXPECT_EQ(events_[0].fields.find("line_no"), nullptr) << "unknown when not read from the start";
}

TEST_F(LogTailerTest, FromStartReplaysAnExistingFile) {
  append(log_, "old 1\nold 2\n");
  LogSpec s = spec();
  s.from_start = true;
  start_with(s);
  ASSERT_TRUE(run_until([&] { return count("log.line") >= 2; }));
  EXPECT_EQ(lines(), (std::vector<std::string>{"old 1", "old 2"}));
  EXPECT_EQ(events_[1].fields.get_int("line_no"), 2);
}

TEST_F(LogTailerTest, FileCreatedAfterStartIsReadFromItsStart) {
  start_with(spec());
  EXPECT_FALSE(tailer_->position("w1").has_value());
  append(log_, "first\nsecond\n");
  ASSERT_TRUE(run_until([&] { return count("log.line") >= 2; }));
  EXPECT_EQ(lines(), (std::vector<std::string>{"first", "second"}));
  EXPECT_EQ(count("log.rotated"), 0u);
}

TEST_F(LogTailerTest, RenameRotationReadsTheOldFileToItsEndThenTheNewOne) {
  int fd = open(log_.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
  ASSERT_GE(fd, 0);
  start_with(spec());
  write_all(fd, "a\n");
  ASSERT_TRUE(run_until([&] { return count("log.line") >= 1; }));
  const std::string rotated = log_ + ".1";
  ASSERT_EQ(rename(log_.c_str(), rotated.c_str()), 0);
  ASSERT_TRUE(run_until([&] { return count("log.rotated") >= 1; }));
  EXPECT_EQ(field(*last("log.rotated"), "how"), "rename");
  EXPECT_EQ(last("log.rotated")->fields.get_int("old_size"), 2);
  // The writer has not reopened yet: what it writes to the old file still counts.
  write_all(fd, "b\n");
  ASSERT_TRUE(run_until([&] { return count("log.line") >= 2; }));
  ASSERT_EQ(close(fd), 0);
  append(log_, "c\n");
  ASSERT_TRUE(run_until([&] { return count("log.line") >= 3; }));
  EXPECT_EQ(lines(), (std::vector<std::string>{"a", "b", "c"}));
  EXPECT_EQ(last("log.line")->fields.get_int("line_no"), 1) << "the new file counts from 1";
  ASSERT_TRUE(run_until([&] { return tailer_->stats().open_files == 1; }))
      << "the old file is closed once the new one has data";
}

TEST_F(LogTailerTest, LastUnterminatedLineOfARotatedFileIsNotLost) {
  append(log_, "");
  start_with(spec());
  append(log_, "complete\nno newline at the end");
  ASSERT_TRUE(run_until([&] { return count("log.line") >= 1; }));
  ASSERT_EQ(rename(log_.c_str(), (log_ + ".1").c_str()), 0);
  append(log_, "new file\n");
  ASSERT_TRUE(run_until([&] { return count("log.line") >= 3; }));
  EXPECT_EQ(lines(), (std::vector<std::string>{"complete", "no newline at the end", "new file"}));
  for (const auto& e : events_) {
    if (e.kind != "log.line") continue;
    EXPECT_EQ(e.fields.find("unterminated") != nullptr, field(e, "line") == "no newline at the end")
        << field(e, "line");
  }
}

TEST_F(LogTailerTest, GenerationRotatedAwayBeforeWeLookedIsStillRead) {
  append(log_, "");
  start_with(spec());
  append(log_, "gen 1\n");
  ASSERT_TRUE(run_until([&] { return count("log.line") >= 1; }));
  // Two rotations while the loop does not run (a daemon that fell behind):
  // generation 2 is created, written and renamed away before any event of
  // the first rename is handled.
  ASSERT_EQ(rename(log_.c_str(), (log_ + ".1").c_str()), 0);
  append(log_, "gen 2\n");
  ASSERT_EQ(rename(log_.c_str(), (log_ + ".2").c_str()), 0);
  append(log_, "gen 3\n");
  ASSERT_TRUE(run_until([&] { return count("log.line") >= 3; }));
  ASSERT_TRUE(run_until([&] { return caught_up_with(log_); }));
  EXPECT_EQ(lines(), (std::vector<std::string>{"gen 1", "gen 2", "gen 3"}));
  EXPECT_EQ(count("log.rotated"), 2u);
  EXPECT_EQ(count("log.line"), 3u) << "no generation read twice";
}

TEST_F(LogTailerTest, DeletedLogIsLetGoOnceReadToItsEnd) {
  append(log_, "");
  start_with(spec());
  append(log_, "last words\n");
  ASSERT_TRUE(run_until([&] { return count("log.line") >= 1; }));
  ASSERT_EQ(unlink(log_.c_str()), 0);
  ASSERT_TRUE(run_until([&] { return count("log.rotated") >= 1; }));
  ASSERT_TRUE(run_until([&] { return tailer_->stats().open_files == 0; }))
      << "a deleted file held open would pin its disk space";
}

// Scenario 13: a writer at 10,000 lines/s, rotated by rename + reopen every
// 1,000 lines, writing a few more lines to the old file after each rename
// (as a logger does until it learns of the rotation). Every line arrives
// exactly once, in order.
TEST_F(LogTailerTest, RenameRotationUnderAFastWriterLosesNoLine) {
  constexpr int kLines = 20000;
  constexpr int kRotateEvery = 1000;
  constexpr int kLagLines = 5;  // written to the old file after its rename
  append(log_, "");
  start_with(spec({{"seq", R"(seq=(?P<n>\d+) )"}}));

  std::atomic<bool> writer_failed{false};
  std::thread writer([&] {
    int fd = open(log_.c_str(), O_WRONLY | O_APPEND | O_CLOEXEC);
    if (fd < 0) {
      writer_failed = true;
      return;
    }
    int rotations = 0, lag = -1;
    auto next = std::chrono::steady_clock::now();
    for (int i = 0; i < kLines; ++i) {
      if (i > 0 && i % kRotateEvery == 0) {
        const std::string to = log_ + "." + std::to_string(++rotations);
        if (rename(log_.c_str(), to.c_str()) != 0) writer_failed = true;
        lag = kLagLines;
      }
      if (lag == 0) {  // the logger reopens its file
        close(fd);
        fd = open(log_.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
        if (fd < 0) {
          writer_failed = true;
          return;
        }
      }
      if (lag >= 0) --lag;
      char line[96];
      const int n =
          std::snprintf(line, sizeof line, "2026-11-22T11:20:39Z INFO seq=%d payload\n", i);
      if (write(fd, line, static_cast<std::size_t>(n)) != n) writer_failed = true;
      if (i % 10 == 9) {  // 10 lines per millisecond: 10,000 lines/s
        next += milliseconds(1);
        std::this_thread::sleep_until(next);
      }
    }
    close(fd);
  });
  const bool all = run_until([&] { return count("log.line") >= kLines; }, 60000);
  writer.join();
  ASSERT_FALSE(writer_failed);
  ASSERT_TRUE(all) << "got " << count("log.line") << " of " << kLines << " lines";
  ASSERT_TRUE(run_until([&] { return caught_up_with(log_); }));
  std::vector<int> seq;
  for (const auto& e : events_)
    if (e.kind == "log.line") seq.push_back(static_cast<int>(std::stol(field(e, "n"))));
  ASSERT_EQ(seq.size(), static_cast<std::size_t>(kLines)) << "no line twice";
  for (int i = 0; i < kLines; ++i)
    ASSERT_EQ(seq[static_cast<std::size_t>(i)], i) << "at index " << i;
  EXPECT_EQ(count("log.rotated"), static_cast<std::size_t>(kLines / kRotateEvery - 1));
  EXPECT_EQ(tailer_->stats().truncations, 0u);
}

TEST_F(LogTailerTest, TruncationRestartsFromTheStart) {
  append(log_, "");
  start_with(spec());
  append(log_, "a1\na2\n");
  ASSERT_TRUE(run_until([&] { return count("log.line") >= 2; }));
  ASSERT_EQ(truncate(log_.c_str(), 0), 0);
  ASSERT_TRUE(run_until([&] { return count("log.rotated") >= 1; }));
  const Event& r = *last("log.rotated");
  EXPECT_EQ(field(r, "how"), "truncate");
  EXPECT_EQ(r.fields.get_int("old_size"), 6);
  append(log_, "b1\n");
  ASSERT_TRUE(run_until([&] { return count("log.line") >= 3; }));
  EXPECT_EQ(lines(), (std::vector<std::string>{"a1", "a2", "b1"}));
  EXPECT_EQ(last("log.line")->fields.get_int("line_no"), 1);
}

TEST_F(LogTailerTest, StallAfterSilenceThenResume) {
  append(log_, "");
  LogSpec s = spec();
  s.stall_after = milliseconds(100);
  start_with(s);
  const auto t0 = clock_.mono();
  append(log_, "beat\n");
  ASSERT_TRUE(run_until([&] { return count("log.line") >= 1; }));
  ASSERT_TRUE(run_until([&] { return count("log.stalled") >= 1; }));
  EXPECT_GE(clock_.mono() - t0, milliseconds(100));
  const Event& st = *last("log.stalled");
  EXPECT_GE(st.fields.get_int("since_ms").value_or(0), 100);
  EXPECT_EQ(st.fields.get_int("size"), 5);
  EXPECT_EQ(st.entity, "worker-1");
  EXPECT_FALSE(tailer_->alarm_armed()) << "stalled once: nothing more is due, idle means idle";

  append(log_, "beat again\n");
  ASSERT_TRUE(run_until([&] { return count("log.line") >= 2; }));
  ASSERT_EQ(count("log.resumed"), 1u);
  std::size_t resumed_at = 0, line_at = 0;
  for (std::size_t i = 0; i < events_.size(); ++i) {
    if (events_[i].kind == "log.resumed") resumed_at = i;
    if (events_[i].kind == "log.line") line_at = i;
  }
  EXPECT_LT(resumed_at, line_at) << "log.resumed comes before the lines that ended the stall";
  EXPECT_GE(events_[resumed_at].fields.get_int("since_ms").value_or(0), 100);
  EXPECT_TRUE(tailer_->alarm_armed()) << "watching for the next stall";
  ASSERT_TRUE(run_until([&] { return count("log.stalled") >= 2; }));
  EXPECT_EQ(count("log.stalled"), 2u) << "one per stall";
}

TEST_F(LogTailerTest, IdleTailerWithoutStallDetectionArmsNoTimer) {
  append(log_, "");
  start_with(spec());
  append(log_, "x\n");
  ASSERT_TRUE(run_until([&] { return count("log.line") >= 1; }));
  ASSERT_TRUE(run_until([&] { return caught_up_with(log_); }));
  EXPECT_FALSE(tailer_->alarm_armed());
}

TEST_F(LogTailerTest, OffsetIsPersistedAndResumedAfterARestart) {
  const std::string offsets = dir_ + "/log-offsets";
  auto open_store = [&] {
    auto s = FileOffsetStore::open(&loop_, clock_, offsets);
    ASSERT_TRUE(s.ok()) << s.error().message;
    store_ = std::move(s.value());
  };
  append(log_, "");
  open_store();
  LogTailer::Options o;
  o.offsets = store_.get();
  start_with(spec(), o);
  append(log_, "line 1\nline 2\nline 3\nline 4\nline 5\nline 6 par");
  ASSERT_TRUE(run_until([&] { return count("log.line") >= 5; }));
  ASSERT_TRUE(run_until([&] { return caught_up_with(log_); }));
  tailer_.reset();  // stores the offset (before the partial line 6)
  store_.reset();   // writes it
  uv_run(&loop_, UV_RUN_DEFAULT);

  // Written while the daemon is down.
  append(log_, "tial\nline 7\nline 8\n");
  events_.clear();
  open_store();
  o.offsets = store_.get();
  start_with(spec(), o);
  append(log_, "line 9\n");
  ASSERT_TRUE(run_until([&] { return count("log.line") >= 4; }));
  ASSERT_TRUE(run_until([&] { return caught_up_with(log_); }));
  EXPECT_EQ(lines(), (std::vector<std::string>{"line 6 partial", "line 7", "line 8", "line 9"}))
      << "no line twice, none lost";
  EXPECT_EQ(events_[0].fields.get_int("line_no"), 6) << "line numbers continue";
}

TEST_F(LogTailerTest, FileReplacedWhileDownIsReadFromItsStart) {
  LogTailer::Options o;
  o.offsets = &memory_store_;
  append(log_, "");
  start_with(spec(), o);
  append(log_, "before\n");
  ASSERT_TRUE(run_until([&] { return count("log.line") >= 1; }));
  tailer_.reset();
  uv_run(&loop_, UV_RUN_DEFAULT);
  ASSERT_EQ(rename(log_.c_str(), (log_ + ".1").c_str()), 0);
  append(log_, "after rotation 1\nafter rotation 2\n");
  events_.clear();
  start_with(spec(), o);
  ASSERT_TRUE(run_until([&] { return count("log.line") >= 2; }));
  EXPECT_EQ(lines(), (std::vector<std::string>{"after rotation 1", "after rotation 2"}));
}

TEST_F(LogTailerTest, BurstBiggerThanTheTickBudgetIsReadOverSeveralTicks) {
  append(log_, "");
  LogTailer::Options o;
  o.max_read_bytes_per_tick = 64 * 1024;
  o.read_chunk_bytes = 16 * 1024;
  start_with(spec({{"n", R"(^n=(?P<n>\d+)$)"}}), o);
  std::string burst;
  constexpr int kLines = 100000;  // ~1 MB in one write
  for (int i = 0; i < kLines; ++i) burst += "n=" + std::to_string(i) + "\n";
  append(log_, burst);
  ASSERT_TRUE(run_until([&] { return count("log.line") >= kLines; }));
  EXPECT_GE(tailer_->stats().deferred_reads, burst.size() / o.max_read_bytes_per_tick - 1)
      << "the loop got control back between slices";
  EXPECT_EQ(field(events_.back(), "n"), std::to_string(kLines - 1));
}

TEST_F(LogTailerTest, TwoLogsInOneDirectoryAreKeptApart) {
  const std::string other = dir_ + "/other.log";
  append(log_, "");
  append(other, "");
  make_tailer();
  ASSERT_TRUE(tailer_->add_file(spec()).ok());
  LogSpec s2 = spec();
  s2.name = "w2";
  s2.path = other;
  ASSERT_TRUE(tailer_->add_file(s2).ok());
  tailer_->start();
  append(other, "to w2\n");
  append(log_, "to w1\n");
  ASSERT_TRUE(run_until([&] { return count("log.line") >= 2; }));
  for (const auto& e : events_)
    EXPECT_EQ(field(e, "log"), field(e, "line") == "to w1" ? "w1" : "w2");
  ASSERT_TRUE(tailer_->remove_file("w2").ok());
  append(other, "ignored now\n");
  append(log_, "still w1\n");
  ASSERT_TRUE(run_until([&] { return count("log.line") >= 3; }));
  EXPECT_EQ(field(events_.back(), "line"), "still w1");
  EXPECT_EQ(count("log.line"), 3u);
}

TEST_F(LogTailerTest, DeletedDirectoryIsReportedNotSilent) {
  const std::string sub = dir_ + "/sub";
  fs::create_directories(sub);
  log_ = sub + "/worker.log";
  append(log_, "");
  start_with(spec());
  ASSERT_EQ(unlink(log_.c_str()), 0);
  ASSERT_EQ(rmdir(sub.c_str()), 0);
  ASSERT_TRUE(run_until([&] { return count("log.error") >= 1; }));
  const Event& e = *last("log.error");
  EXPECT_EQ(field(e, "op"), "watch");
  EXPECT_NE(field(e, "error").find(sub), std::string::npos) << field(e, "error");
  EXPECT_EQ(count("log.rotated"), 1u) << "the file's deletion came first";
}

TEST_F(LogTailerTest, AddFileErrorsNameTheLogAndWhatWasExpected) {
  make_tailer();
  auto message = [&](LogSpec s) {
    Status st = tailer_->add_file(std::move(s));
    return st.ok() ? std::string("<ok>") : st.error().message;
  };
  LogSpec rel = spec();
  rel.path = "logs/w1.log";
  EXPECT_NE(message(rel).find("is not absolute"), std::string::npos) << message(rel);
  LogSpec missing = spec();
  missing.path = dir_ + "/no-such-dir/w1.log";
  EXPECT_NE(message(missing).find("expected the log's directory to exist"), std::string::npos)
      << message(missing);
  LogSpec bad = spec({{"broken", "a(b"}});
  EXPECT_NE(message(bad).find("log 'w1': pattern #1 'broken'"), std::string::npos) << message(bad);
  LogSpec unnamed = spec();
  unnamed.name = "";
  EXPECT_NE(message(unnamed).find("empty name"), std::string::npos);
  ASSERT_EQ(message(spec()), "<ok>");
  EXPECT_NE(message(spec()).find("duplicate log name"), std::string::npos);
  EXPECT_FALSE(tailer_->remove_file("nope").ok());
}

}  // namespace
}  // namespace aw
