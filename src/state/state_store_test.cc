#include "src/state/state_store.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include <atomic>
#include <cerrno>
#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <mutex>
#include <random>
#include <sstream>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "src/uvx/run_until.h"

namespace aw {
namespace {

using S = LifecycleState;
using std::chrono::seconds;
namespace fs = std::filesystem;

const WallTime kT0 = WallTime(seconds(1'700'000'000));

std::string read_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

void write_file(const std::string& path, const std::string& text) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out << text;
}

std::size_t count_lines(const std::string& s) {
  return static_cast<std::size_t>(std::count(s.begin(), s.end(), '\n'));
}

void expect_same(const EntityTable& a, const EntityTable& b) {
  ASSERT_EQ(a.size(), b.size());
  for (const EntityRecord* r : a.list()) {
    const EntityRecord* other = b.get(r->id);
    ASSERT_NE(other, nullptr) << r->id;
    EXPECT_EQ(*other, *r) << r->id;
  }
}

// Records the order of OS calls and fails them on demand. Called from pool
// threads, hence the mutex.
class ScriptedOps : public Env {
 public:
  int open(const char* path, int flags, mode_t mode) override {
    std::lock_guard<std::mutex> lock(mu_);
    if (fail_opens_of_ != nullptr && std::string_view(path).ends_with(fail_opens_of_)) {
      log_.emplace_back("open-fail");
      errno = EACCES;
      return -1;
    }
    return ::open(path, flags, mode);
  }
  ssize_t write(int fd, const void* data, std::size_t len) override {
    std::lock_guard<std::mutex> lock(mu_);
    if (fail_writes_) {
      errno = ENOSPC;
      log_.emplace_back("write-fail");
      return -1;
    }
    if (short_writes_ > 0) {
      --short_writes_;
      std::size_t half = len / 2;
      log_.push_back("write-short:" + std::to_string(half));
      ssize_t n = ::write(fd, data, half);
      fail_writes_ = true;  // the rest fails with ENOSPC, as a filling disk does
      return n;
    }
    log_.push_back("write:" + std::to_string(len));
    return ::write(fd, data, len);
  }
  int fsync(int fd) override {
    std::lock_guard<std::mutex> lock(mu_);
    if (fail_fsyncs_ > 0) {
      --fail_fsyncs_;
      log_.emplace_back("fsync-fail");
      errno = EIO;
      return -1;
    }
    log_.emplace_back("fsync");
    return ::fsync(fd);
  }
  int rename(const char* from, const char* to) override {
    std::lock_guard<std::mutex> lock(mu_);
    if (fail_renames_ > 0) {
      --fail_renames_;
      log_.emplace_back("rename-fail");
      errno = EXDEV;
      return -1;
    }
    log_.emplace_back("rename");
    return ::rename(from, to);
  }
  int ftruncate(int fd, off_t length) override {
    std::lock_guard<std::mutex> lock(mu_);
    log_.emplace_back("truncate");
    return ::ftruncate(fd, length);
  }

  std::vector<std::string> log() {
    std::lock_guard<std::mutex> lock(mu_);
    return log_;
  }
  void clear_log() {
    std::lock_guard<std::mutex> lock(mu_);
    log_.clear();
  }
  void fail_writes(bool on) {
    std::lock_guard<std::mutex> lock(mu_);
    fail_writes_ = on;
  }
  void short_write_then_fail() {
    std::lock_guard<std::mutex> lock(mu_);
    short_writes_ = 1;
  }
  void fail_next_fsync() {
    std::lock_guard<std::mutex> lock(mu_);
    fail_fsyncs_ = 1;
  }
  void fail_next_rename() {
    std::lock_guard<std::mutex> lock(mu_);
    fail_renames_ = 1;
  }
  // Every open of a path ending in `suffix` fails with EACCES; nullptr: none.
  void fail_opens_of(const char* suffix) {
    std::lock_guard<std::mutex> lock(mu_);
    fail_opens_of_ = suffix;
  }

 private:
  std::mutex mu_;
  std::vector<std::string> log_;
  bool fail_writes_ = false;
  int short_writes_ = 0;
  int fail_fsyncs_ = 0;
  int fail_renames_ = 0;
  const char* fail_opens_of_ = nullptr;
};

class StateStoreTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/aw-state-test-XXXXXX";
    ASSERT_NE(::mkdtemp(tmpl), nullptr);
    root_ = tmpl;
    dir_ = root_ + "/state/sub";
    ASSERT_EQ(uv_loop_init(&loop_), 0);
    // A guard: a test that waits for a callback that never comes fails instead of hanging.
    guard_.emplace(&loop_, [this] {
      timed_out_ = true;
      uv_stop(&loop_);
    });
    guard_->start(20'000);
    guard_->unref();
  }

  void TearDown() override {
    store_.reset();
    guard_.reset();
    uv_run(&loop_, UV_RUN_DEFAULT);
    EXPECT_EQ(uv_loop_close(&loop_), 0);
    fs::remove_all(root_);
    EXPECT_FALSE(timed_out_);
  }

  StateStoreOptions options() {
    StateStoreOptions o;
    o.dir = dir_;
    o.env = &ops_;
    o.on_problem = [this](const Error& e) { problems_.push_back(e.message); };
    return o;
  }

  std::unique_ptr<StateStore> open(uv_loop_t* loop, StateStoreOptions o) {
    auto s = StateStore::open(loop, std::move(o));
    EXPECT_TRUE(s) << (s ? "" : s.error().message);
    return s ? std::move(*s) : nullptr;
  }

  // Runs the loop until nothing is left to do (pool jobs and timers).
  void drain() { uv_run(&loop_, UV_RUN_DEFAULT); }

  // Reads the files the way a restarted daemon would.
  LoadedState reload(EntityTableOptions table = {}) {
    auto loaded = load_state(dir_, table);
    EXPECT_TRUE(loaded) << (loaded ? "" : loaded.error().message);
    return std::move(*loaded);
  }

  std::string journal() { return read_file(dir_ + "/lifecycle.journal"); }

  uv_loop_t loop_{};
  std::optional<uvx::Timer> guard_;
  bool timed_out_ = false;
  std::string root_, dir_;
  ScriptedOps ops_;
  std::vector<std::string> problems_;
  std::unique_ptr<StateStore> store_;
};

void some_history(EntityTable& t, const std::string& id, WallTime now) {
  ASSERT_TRUE(t.create(id, EntityKind::kWorker, S::kQueued, now));
  ASSERT_TRUE(t.transition(id, S::kProcessing, "spawned", {{"pidfd", "pid 7", now}}, now));
  ASSERT_TRUE(t.set_attr(id, "pid", "7"));
  ASSERT_TRUE(t.transition(id, S::kFailed, "exited 1", {{"pidfd", "status 1", now}}, now));
  ASSERT_TRUE(t.transition(id, S::kQueued, "restart", {}, now));
  ASSERT_TRUE(t.set_attr(id, "restarts", "1"));
}

TEST_F(StateStoreTest, WithoutALoopNothingIsWrittenUntilCommit) {
  store_ = open(nullptr, options());
  ASSERT_TRUE(store_);
  struct stat st {};
  ASSERT_EQ(::stat(root_.c_str(), &st), 0);
  ASSERT_EQ(::stat(dir_.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0700u);
  some_history(store_->table(), "w1", kT0);
  EXPECT_EQ(journal(), "");
  EXPECT_EQ(store_->stats().pending_records, 6u);
  int called = 0;
  store_->commit([&](const Status& s) {
    EXPECT_TRUE(s) << s.error().message;
    ++called;
  });
  EXPECT_EQ(called, 1);  // synchronous without a loop
  EXPECT_EQ(count_lines(journal()), 6u);
  EXPECT_TRUE(store_->idle());
  auto loaded = reload();
  expect_same(store_->table(), loaded.table);
  EXPECT_EQ(loaded.table.get("w1")->run, 1u);
}

TEST_F(StateStoreTest, OneTurnIsOneWriteAndTheCallbackComesAfterTheFsync) {
  store_ = open(&loop_, options());
  ASSERT_TRUE(store_);
  ops_.clear_log();
  for (int i = 0; i < 50; ++i)
    ASSERT_TRUE(
        store_->table().create("w" + std::to_string(i), EntityKind::kWorker, S::kQueued, kT0));
  int durable = 0;
  store_->when_durable([&](const Status& s) {
    EXPECT_TRUE(s);
    ++durable;
    // Durable means: on disk, and fsynced, before we are told.
    EXPECT_EQ(count_lines(journal()), 50u);
    auto log = ops_.log();
    ASSERT_FALSE(log.empty());
    EXPECT_EQ(log.back(), "fsync");
  });
  EXPECT_EQ(durable, 0);  // never synchronous with a loop
  drain();
  EXPECT_EQ(durable, 1);
  auto log = ops_.log();
  // One write of the whole batch, its fsync, and the directory fsync (new journal).
  ASSERT_EQ(log.size(), 3u) << ::testing::PrintToString(log);
  EXPECT_EQ(log[0].rfind("write:", 0), 0u);
  EXPECT_EQ(log[1], "fsync");
  EXPECT_EQ(log[2], "fsync");
  EXPECT_EQ(store_->stats().commits, 1u);
}

TEST_F(StateStoreTest, CallbacksRunInCommitOrder) {
  store_ = open(&loop_, options());
  ASSERT_TRUE(store_);
  std::vector<int> order;
  ASSERT_TRUE(store_->table().create("a", EntityKind::kWorker, S::kQueued, kT0));
  store_->commit([&](const Status& s) {
    EXPECT_TRUE(s);
    order.push_back(1);
  });
  ASSERT_TRUE(store_->table().create("b", EntityKind::kWorker, S::kQueued, kT0));
  store_->commit([&](const Status& s) {
    EXPECT_TRUE(s);
    order.push_back(2);
    EXPECT_EQ(count_lines(journal()), 2u);
  });
  store_->commit([&](const Status& s) {  // nothing new: still after the earlier ones
    EXPECT_TRUE(s);
    order.push_back(3);
  });
  drain();
  EXPECT_EQ(order, (std::vector<int>{1, 2, 3}));
}

TEST_F(StateStoreTest, AutoCommitWritesEachTurnWithoutBeingAsked) {
  store_ = open(&loop_, options());
  ASSERT_TRUE(store_);
  some_history(store_->table(), "w1", kT0);
  drain();
  EXPECT_EQ(count_lines(journal()), 6u);
  EXPECT_TRUE(store_->idle());
  // Idle means idle: with nothing pending the store keeps no timer alive.
  EXPECT_EQ(uv_loop_alive(&loop_), 0);
}

TEST_F(StateStoreTest, ReplayEqualsMemoryAfterALongRandomHistory) {
  StateStoreOptions o = options();
  o.compact_after_records = 1'000'000;  // journal only
  store_ = open(&loop_, o);
  ASSERT_TRUE(store_);
  EntityTable& t = store_->table();
  std::mt19937 rng(1234);
  WallTime now = kT0;
  int changes = 0;
  for (int turn = 0; turn < 40; ++turn) {
    for (int i = 0; i < 50; ++i) {
      now += std::chrono::milliseconds(rng() % 5000);
      std::string id = "e" + std::to_string(rng() % 60);
      if (!t.get(id)) {
        ASSERT_TRUE(t.create(id, static_cast<EntityKind>(rng() % 3), S::kQueued, now));
        continue;
      }
      switch (rng() % 8) {
        case 0:
          (void)t.set_attr(id, "k" + std::to_string(rng() % 3), std::to_string(rng()));
          break;
        case 1:
          (void)t.erase_attr(id, "k" + std::to_string(rng() % 3));
          break;
        case 2:
          if (rng() % 10 == 0) (void)t.remove(id);
          break;
        case 3:
          (void)t.reset(id, kAllLifecycleStates[rng() % 6], "by hand", now);
          break;
        default: {
          S to = kAllLifecycleStates[rng() % 6];
          auto c = t.transition(id, to, "random", {{"rng", std::to_string(rng()), now}}, now);
          changes += c.ok();
        }
      }
    }
    drain();  // one batch per turn
  }
  EXPECT_GT(changes, 100);
  auto loaded = reload();
  EXPECT_EQ(loaded.report.journal.corrupt, 0u);
  EXPECT_EQ(loaded.report.journal.applied, store_->stats().next_seq - 1);
  expect_same(t, loaded.table);
}

TEST_F(StateStoreTest, TornTailIsDroppedAtOpenAndTheNextRecordIsClean) {
  {
    auto s = open(nullptr, options());
    ASSERT_TRUE(s);
    some_history(s->table(), "w1", kT0);
    s->commit();
  }
  std::string good = journal();
  // A crash in the middle of the next batch's write.
  std::string torn = "{\"seq\":7,\"op\":\"transition\",\"id\":\"w1\",\"kind\":\"wor";
  write_file(dir_ + "/lifecycle.journal", good + torn);
  store_ = open(nullptr, options());
  ASSERT_TRUE(store_);
  const auto& report = store_->load_report();
  EXPECT_EQ(report.journal.torn_tail_bytes, torn.size());
  EXPECT_EQ(report.journal.applied, 6u);
  EXPECT_EQ(report.journal.corrupt, 0u);
  EXPECT_NE(report.summary(store_->table().size()).find("torn tail"), std::string::npos);
  EXPECT_EQ(journal(), good);  // truncated back to the last whole line
  EXPECT_EQ(store_->stats().next_seq, 7u);
  ASSERT_TRUE(store_->table().transition("w1", S::kProcessing, "spawned", {}, kT0));
  store_->commit();
  auto loaded = reload();
  EXPECT_EQ(loaded.report.journal.corrupt, 0u);
  EXPECT_EQ(loaded.report.journal.torn_tail_bytes, 0u);
  expect_same(store_->table(), loaded.table);
}

TEST_F(StateStoreTest, CorruptMiddleLineIsSkippedCountedAndCompactedAway) {
  {
    auto s = open(nullptr, options());
    ASSERT_TRUE(s);
    some_history(s->table(), "w1", kT0);
    some_history(s->table(), "w2", kT0);
    s->commit();
  }
  std::string text = journal();
  // Damage line 3 (w1's set_attr pid) without changing the line count.
  std::size_t l3 = 0;
  for (int i = 0; i < 2; ++i) l3 = text.find('\n', l3) + 1;
  text.replace(l3, 5, "#####");
  write_file(dir_ + "/lifecycle.journal", text);

  store_ = open(&loop_, options());
  ASSERT_TRUE(store_);
  const auto& report = store_->load_report();
  EXPECT_EQ(report.journal.corrupt, 1u);
  EXPECT_EQ(report.journal.applied, 11u);
  ASSERT_EQ(report.journal.problems.size(), 1u);
  EXPECT_NE(report.journal.problems[0].find("lifecycle.journal:3: corrupt record skipped"),
            std::string::npos);
  EXPECT_TRUE(report.needs_compaction());
  EXPECT_EQ(store_->table().get("w1")->attrs.count("pid"), 0u);
  EXPECT_EQ(store_->table().get("w2")->attrs.at("pid"), "7");
  drain();  // the compaction queued at open
  EXPECT_EQ(store_->stats().snapshots, 1u);
  EXPECT_EQ(journal(), "");
  auto loaded = reload();
  EXPECT_EQ(loaded.report.journal.corrupt, 0u);
  EXPECT_FALSE(loaded.report.needs_compaction());
  expect_same(store_->table(), loaded.table);
}

TEST_F(StateStoreTest, CrashBetweenSnapshotAndTruncationAppliesNothingTwice) {
  std::string old_journal;
  {
    auto s = open(nullptr, options());
    ASSERT_TRUE(s);
    some_history(s->table(), "w1", kT0);
    s->commit();
    old_journal = journal();
    s->compact();  // snapshot at seq 6, journal truncated
    ASSERT_EQ(journal(), "");
    ASSERT_TRUE(s->table().transition("w1", S::kProcessing, "spawned again",
                                      {{"pidfd", "pid 8", kT0}}, kT0 + seconds(9)));
    ASSERT_TRUE(s->table().set_attr("w1", "pid", "8"));
    s->commit();
  }
  auto expected = reload();
  // The crash: the snapshot was renamed into place but the journal never truncated,
  // so it still holds seq 1..6 ahead of what came after.
  write_file(dir_ + "/lifecycle.journal", old_journal + journal());
  auto loaded = reload();
  EXPECT_EQ(loaded.report.snapshot_last_seq, 6u);
  EXPECT_EQ(loaded.report.journal.skipped_old, 6u);
  EXPECT_EQ(loaded.report.journal.applied, 2u);
  EXPECT_TRUE(loaded.report.needs_compaction());
  expect_same(expected.table, loaded.table);
  // Evidence would show a double application: exactly one "pid 8" after two "pid 7" era items.
  const auto& ev = loaded.table.get("w1")->evidence;
  EXPECT_EQ(
      std::count_if(ev.begin(), ev.end(), [](const Evidence& e) { return e.detail == "pid 7"; }),
      1);
  // And the next open tidies it up: seq continues after 8.
  store_ = open(nullptr, options());
  ASSERT_TRUE(store_);
  EXPECT_EQ(store_->stats().next_seq, 9u);
  EXPECT_EQ(journal(), "");  // compacted at open (synchronously, no loop)
  expect_same(expected.table, store_->table());
}

TEST_F(StateStoreTest, CompactionKeepsEverythingAndReloads) {
  StateStoreOptions o = options();
  o.compact_after_records = 25;
  store_ = open(&loop_, o);
  ASSERT_TRUE(store_);
  for (int turn = 0; turn < 20; ++turn) {
    some_history(store_->table(), "w" + std::to_string(turn), kT0 + seconds(turn));
    drain();
  }
  EXPECT_GE(store_->stats().snapshots, 4u);
  EXPECT_LT(store_->stats().journal_records, 25u + 6u);
  EXPECT_EQ(store_->stats().journal_records, count_lines(journal()));
  auto loaded = reload();
  EXPECT_TRUE(loaded.report.snapshot_found);
  EXPECT_EQ(loaded.report.journal.corrupt, 0u);
  EXPECT_EQ(loaded.report.journal.skipped_old, 0u);
  expect_same(store_->table(), loaded.table);
  // Reload after compaction, then keep going from the right seq.
  std::uint64_t next = store_->stats().next_seq;
  store_.reset();
  drain();
  store_ = open(&loop_, o);
  ASSERT_TRUE(store_);
  EXPECT_EQ(store_->stats().next_seq, next);
  expect_same(loaded.table, store_->table());
  ASSERT_TRUE(store_->table().transition("w3", S::kProcessing, "spawned", {}, kT0));
  drain();
  expect_same(store_->table(), reload().table);
}

TEST_F(StateStoreTest, AJournalOverTheThresholdAtOpenIsCompacted) {
  {
    auto s = open(nullptr, options());
    ASSERT_TRUE(s);
    for (int i = 0; i < 5; ++i) some_history(s->table(), "w" + std::to_string(i), kT0);
    s->commit();
  }
  ASSERT_EQ(count_lines(journal()), 30u);
  StateStoreOptions o = options();
  o.compact_after_records = 10;
  store_ = open(nullptr, o);
  ASSERT_TRUE(store_);
  EXPECT_EQ(store_->stats().snapshots, 1u);
  EXPECT_EQ(journal(), "");
  expect_same(store_->table(), reload().table);
}

TEST_F(StateStoreTest, ByteThresholdAlsoCompacts) {
  StateStoreOptions o = options();
  o.compact_after_bytes = 2000;
  store_ = open(&loop_, o);
  ASSERT_TRUE(store_);
  for (int turn = 0; turn < 5; ++turn) {
    some_history(store_->table(), "w" + std::to_string(turn), kT0);
    drain();
  }
  EXPECT_GE(store_->stats().snapshots, 1u);
  expect_same(store_->table(), reload().table);
}

TEST_F(StateStoreTest, ChangesDuringASnapshotAreKept) {
  store_ = open(&loop_, options());
  ASSERT_TRUE(store_);
  some_history(store_->table(), "w1", kT0);
  int compacted = 0, committed = 0;
  store_->compact([&](const Status& s) {
    EXPECT_TRUE(s);
    ++compacted;
  });
  // The snapshot is in flight; these wait for it and land in the fresh journal.
  some_history(store_->table(), "w2", kT0);
  store_->commit([&](const Status& s) {
    EXPECT_TRUE(s);
    EXPECT_EQ(compacted, 1);
    ++committed;
  });
  drain();
  EXPECT_EQ(committed, 1);
  EXPECT_EQ(count_lines(journal()), 6u);
  auto loaded = reload();
  EXPECT_EQ(loaded.report.snapshot_last_seq, 6u);
  EXPECT_EQ(loaded.report.journal.applied, 6u);
  expect_same(store_->table(), loaded.table);
}

TEST_F(StateStoreTest, FailedWriteIsReportedRetriedAndNeverTearsALine) {
  store_ = open(&loop_, options());
  ASSERT_TRUE(store_);
  some_history(store_->table(), "w1", kT0);
  drain();
  ops_.short_write_then_fail();  // half the batch lands, then ENOSPC
  some_history(store_->table(), "w2", kT0);
  Status first;
  int calls = 0;
  store_->commit([&](Status s) {
    first = std::move(s);
    ++calls;
  });
  uvx::run_until(&loop_, [&] { return calls != 0 || timed_out_; });
  ASSERT_FALSE(first);
  EXPECT_NE(first.error().message.find("lifecycle.journal"), std::string::npos);
  EXPECT_NE(first.error().message.find("No space left"), std::string::npos);
  ASSERT_EQ(problems_.size(), 1u);
  EXPECT_EQ(store_->stats().write_errors, 1u);
  EXPECT_FALSE(store_->idle());  // the unwritten rest is pending or being retried
  // The disk frees up; the retry completes the cut line and the rest.
  ops_.fail_writes(false);
  Status second = make_error("not called");
  store_->commit([&](Status s) { second = std::move(s); });
  drain();
  EXPECT_TRUE(second);
  auto loaded = reload();
  EXPECT_EQ(loaded.report.journal.corrupt, 0u);
  EXPECT_EQ(loaded.report.journal.applied, 12u);
  expect_same(store_->table(), loaded.table);
}

TEST_F(StateStoreTest, RetryTimerWritesAfterAFailureWithoutNewChanges) {
  StateStoreOptions o = options();
  store_ = open(&loop_, o);
  ASSERT_TRUE(store_);
  // Keeps the loop waiting while the (unref'd) retry timer runs.
  uvx::Timer keepalive(&loop_, [] {});
  keepalive.start(10'000);
  ops_.fail_writes(true);
  some_history(store_->table(), "w1", kT0);
  uvx::run_until(&loop_, [&] { return store_->stats().write_errors != 0 || timed_out_; });
  ops_.fail_writes(false);
  // Nothing else happens; the backoff timer (1 s) retries by itself.
  uvx::run_until(&loop_, [&] { return store_->stats().commits != 0 || timed_out_; });
  keepalive.stop();
  EXPECT_EQ(count_lines(journal()), 6u);
  expect_same(store_->table(), reload().table);
}

TEST_F(StateStoreTest, FailedFsyncIsAnErrorAndForcesASnapshot) {
  store_ = open(&loop_, options());
  ASSERT_TRUE(store_);
  some_history(store_->table(), "w1", kT0);
  drain();
  ops_.fail_next_fsync();
  ASSERT_TRUE(store_->table().transition("w1", S::kProcessing, "spawned", {}, kT0));
  Status result;
  store_->commit([&](Status s) { result = std::move(s); });
  drain();
  ASSERT_FALSE(result);
  EXPECT_NE(result.error().message.find("fsync of"), std::string::npos);
  EXPECT_EQ(store_->stats().fsync_errors, 1u);
  EXPECT_EQ(store_->stats().snapshots, 1u);
  EXPECT_EQ(journal(), "");
  expect_same(store_->table(), reload().table);
}

TEST_F(StateStoreTest, FailedSnapshotKeepsTheJournalAndThePendingRecords) {
  store_ = open(&loop_, options());
  ASSERT_TRUE(store_);
  some_history(store_->table(), "w1", kT0);
  drain();
  ops_.fail_next_rename();
  some_history(store_->table(), "w2", kT0);  // pending: absorbed by the snapshot attempt
  Status result;
  store_->compact([&](Status s) { result = std::move(s); });
  drain();
  ASSERT_FALSE(result);
  EXPECT_NE(result.error().message.find("renaming"), std::string::npos);
  EXPECT_FALSE(fs::exists(dir_ + "/lifecycle.snapshot.tmp"));
  EXPECT_FALSE(fs::exists(dir_ + "/lifecycle.snapshot"));
  EXPECT_EQ(store_->stats().snapshot_errors, 1u);
  EXPECT_EQ(count_lines(journal()), 12u);  // the absorbed records were written after all
  expect_same(store_->table(), reload().table);
}

// The snapshot's temp file is opened through the Env too: refused, the snapshot
// fails like a failed write, and the records it would have absorbed go to the
// journal.
TEST_F(StateStoreTest, RefusedSnapshotFileIsASnapshotErrorAndTheJournalKeepsTheRecords) {
  store_ = open(&loop_, options());
  ASSERT_TRUE(store_);
  some_history(store_->table(), "w1", kT0);
  drain();
  ops_.fail_opens_of("lifecycle.snapshot.tmp");
  some_history(store_->table(), "w2", kT0);
  Status result;
  store_->compact([&](Status s) { result = std::move(s); });
  drain();
  ops_.fail_opens_of(nullptr);
  ASSERT_FALSE(result);
  EXPECT_NE(result.error().message.find("cannot create"), std::string::npos)
      << result.error().message;
  EXPECT_NE(result.error().message.find("Permission denied"), std::string::npos);
  EXPECT_EQ(store_->stats().snapshot_errors, 1u);
  EXPECT_FALSE(fs::exists(dir_ + "/lifecycle.snapshot"));
  EXPECT_EQ(count_lines(journal()), 12u);
  expect_same(store_->table(), reload().table);
}

// So is the journal at open: the error names it and keeps the errno.
TEST_F(StateStoreTest, RefusedJournalOpenFailsTheOpenNamingTheFile) {
  ops_.fail_opens_of("lifecycle.journal");
  auto s = StateStore::open(nullptr, options());
  ops_.fail_opens_of(nullptr);
  ASSERT_FALSE(s);
  EXPECT_NE(s.error().message.find("lifecycle.journal"), std::string::npos) << s.error().message;
  EXPECT_NE(s.error().message.find("Permission denied"), std::string::npos);
  EXPECT_EQ(s.error().code, -EACCES);
}

TEST_F(StateStoreTest, UnreadableSnapshotIsMovedAsideAndRewritten) {
  {
    auto s = open(nullptr, options());
    ASSERT_TRUE(s);
    some_history(s->table(), "w1", kT0);
    s->compact();
    some_history(s->table(), "w2", kT0);
    s->commit();
  }
  write_file(dir_ + "/lifecycle.snapshot", "{\"format\":\"agentwatch-lifecycle-snap");
  store_ = open(&loop_, options());
  ASSERT_TRUE(store_);
  const auto& report = store_->load_report();
  EXPECT_NE(report.snapshot_error.find("lifecycle.snapshot: not JSON"), std::string::npos);
  ASSERT_FALSE(report.snapshot_moved_to.empty());
  EXPECT_EQ(read_file(report.snapshot_moved_to), "{\"format\":\"agentwatch-lifecycle-snap");
  // What only the snapshot knew is gone (reconciliation at start rebuilds it);
  // the journal's records are all there.
  EXPECT_EQ(store_->table().get("w1"), nullptr);
  ASSERT_NE(store_->table().get("w2"), nullptr);
  drain();
  auto loaded = reload();
  EXPECT_TRUE(loaded.report.snapshot_error.empty());
  expect_same(store_->table(), loaded.table);
}

TEST_F(StateStoreTest, DestroyedStoreStillWritesWhatWasPending) {
  store_ = open(&loop_, options());
  ASSERT_TRUE(store_);
  some_history(store_->table(), "w1", kT0);
  store_->commit();  // in flight when the store goes
  some_history(store_->table(), "w2", kT0);
  int never = 0;
  store_->when_durable([&](const Status&) { ++never; });
  EntityTable expected;
  for (const EntityRecord* r : store_->table().list()) expected.restore(*r);
  store_.reset();
  drain();
  EXPECT_EQ(never, 0);  // callbacks are dropped, never called after the store is gone
  expect_same(expected, reload().table);
}

TEST_F(StateStoreTest, ACallbackMayDestroyTheStore) {
  store_ = open(&loop_, options());
  ASSERT_TRUE(store_);
  some_history(store_->table(), "w1", kT0);
  bool called = false;
  store_->commit([&](const Status& s) {
    EXPECT_TRUE(s);
    called = true;
    store_.reset();
  });
  drain();
  EXPECT_TRUE(called);
  EXPECT_EQ(store_, nullptr);
  EXPECT_EQ(reload().table.size(), 1u);
}

TEST_F(StateStoreTest, LargeTableSurvivesCompactionAndReload) {
  StateStoreOptions o = options();
  o.compact_after_records = 20'000;
  store_ = open(&loop_, o);
  ASSERT_TRUE(store_);
  EntityTable& t = store_->table();
  constexpr int kEntities = 20'000;
  for (int i = 0; i < kEntities; ++i) {
    std::string id = "worker-" + std::to_string(i);
    ASSERT_TRUE(t.create(id, EntityKind::kWorker, S::kQueued, kT0));
    ASSERT_TRUE(t.transition(id, S::kProcessing, "spawned", {{"pidfd", "pid", kT0}}, kT0));
    ASSERT_TRUE(t.set_attr(id, "pid", std::to_string(1000 + i)));
    if (i % 1000 == 999) drain();
  }
  drain();
  EXPECT_GE(store_->stats().snapshots, 2u);
  auto loaded = reload();
  EXPECT_EQ(loaded.table.size(), static_cast<std::size_t>(kEntities));
  EXPECT_EQ(loaded.report.journal.corrupt, 0u);
  expect_same(t, loaded.table);
}

// The recovery CLI's reset is journalled like a transition: after a crash the
// entity is still queued, in its new run, with the audit evidence.
TEST_F(StateStoreTest, RecoverResetSurvivesAReload) {
  store_ = open(nullptr, options());
  ASSERT_TRUE(store_);
  some_history(store_->table(), "w1", kT0);
  ASSERT_TRUE(store_->table().transition("w1", S::kProcessing, "spawned", {}, kT0));
  ASSERT_TRUE(store_->table().transition("w1", S::kTimingOut, "runtime over 30m", {}, kT0));
  ASSERT_TRUE(store_->table().recover_reset("w1", {.uid = 1000}, kT0 + std::chrono::seconds(1)));
  store_->commit();
  EXPECT_NE(journal().find("\"op\":\"reset\""), std::string::npos);
  auto loaded = reload();
  expect_same(store_->table(), loaded.table);
  const EntityRecord* r = loaded.table.get("w1");
  ASSERT_NE(r, nullptr);
  EXPECT_EQ(r->state, S::kQueued);
  EXPECT_EQ(r->run, 2u);
  EXPECT_EQ(r->reason, "reset");
  EXPECT_EQ(r->evidence.back().detail, "reset by uid 1000");
}

TEST_F(StateStoreTest, LoadStateIsReadOnlyAndMissingDirIsEmpty) {
  auto empty = load_state(root_ + "/nothing-here");
  ASSERT_TRUE(empty);
  EXPECT_EQ(empty->table.size(), 0u);
  EXPECT_FALSE(empty->report.snapshot_found);
  EXPECT_FALSE(empty->report.journal_found);
  EXPECT_FALSE(fs::exists(root_ + "/nothing-here"));
}

TEST_F(StateStoreTest, UnreadableJournalIsAnErrorNamingTheFile) {
  fs::create_directories(dir_ + "/lifecycle.journal");  // a directory: read fails with EISDIR
  auto s = StateStore::open(nullptr, options());
  ASSERT_FALSE(s);
  EXPECT_NE(s.error().message.find("lifecycle.journal"), std::string::npos) << s.error().message;
}

}  // namespace
}  // namespace aw
