// Loop tests of the shared inotify read loop: a fresh loop per test, a guard
// timer, waits on callbacks (never sleeps), and every handle closed at the end.
#include "watchers/inotify_source.h"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <sys/inotify.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include <cerrno>
#include <filesystem>
#include <functional>
#include <string>
#include <string_view>
#include <vector>

namespace aw {
namespace {

namespace fs = std::filesystem;

void touch(const std::string& path) {
  const int fd = open(path.c_str(), O_WRONLY | O_CREAT | O_CLOEXEC, 0644);
  ASSERT_GE(fd, 0);
  ASSERT_EQ(close(fd), 0);
}

class InotifySourceTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_EQ(uv_loop_init(&loop_), 0);
    char tmpl[] = "/tmp/aw-isrc-XXXXXX";
    ASSERT_NE(mkdtemp(tmpl), nullptr);
    dir_ = tmpl;
  }
  void TearDown() override {
    source_.reset();
    uv_run(&loop_, UV_RUN_DEFAULT);  // close callbacks
    EXPECT_EQ(uv_loop_close(&loop_), 0) << "a handle was left open";
    fs::remove_all(dir_);
  }
  void open_source(InotifySource::Options options = {}, Env& env = Env::real()) {
    InotifySource::Callbacks cb;
    cb.on_records = [this](std::span<const InotifyRecord> recs) {
      ++batches_;
      for (const auto& r : recs) {
        records_.push_back(r);
        if (close_on_first_) source_->close();
        if (source_->closed()) return;
      }
    };
    cb.on_error = [this](const char*, int) { ++errors_; };
    cb.on_drained = [this] { ++drained_; };
    auto s = InotifySource::open(&loop_, std::move(cb), options, env);
    ASSERT_TRUE(s.ok()) << s.error().message;
    source_ = std::move(s.value());
  }
  bool run_until(const std::function<bool()>& pred) {
    bool timed_out = false;
    uvx::Timer guard(&loop_, [&] {
      timed_out = true;
      uv_stop(&loop_);
    });
    // The loop's clock stopped at its last run: without this, time the test spent
    // creating files before the call is taken off the guard.
    uv_update_time(&loop_);
    guard.start(5000);
    while (!pred() && !timed_out) uv_run(&loop_, UV_RUN_ONCE);
    return pred();
  }
  int count(std::uint32_t mask) const {
    int n = 0;
    for (const auto& r : records_) n += (r.mask & mask) != 0;
    return n;
  }

  uv_loop_t loop_{};
  std::string dir_;
  std::unique_ptr<InotifySource> source_;
  std::vector<InotifyRecord> records_;
  int batches_ = 0, drained_ = 0, errors_ = 0;
  bool close_on_first_ = false;
};

TEST_F(InotifySourceTest, DeliversDecodedRecordsThenDrainedOncePerReadiness) {
  open_source();
  const int wd = source_->add_watch(dir_.c_str(), IN_CLOSE_WRITE | IN_ONLYDIR);
  ASSERT_GE(wd, 0);
  ASSERT_EQ(source_->start(), 0);
  for (int i = 0; i < 100; ++i) touch(dir_ + "/f" + std::to_string(i));
  ASSERT_TRUE(run_until([&] { return count(IN_CLOSE_WRITE) == 100; }));
  EXPECT_EQ(records_.front().wd, wd);
  EXPECT_EQ(records_.front().name, "f0");
  EXPECT_EQ(records_.back().name, "f99");
  EXPECT_GE(drained_, 1);
  EXPECT_LE(drained_, batches_) << "one drained per readiness, not per record";
  EXPECT_EQ(source_->records_read(), 100u);
  EXPECT_EQ(errors_, 0);
}

TEST_F(InotifySourceTest, HandingOverIsBoundedPerLoopIterationAndKeepsOrder) {
  // 100 records per iteration: a backlog of 1,000 takes ten turns or more
  // (the rest goes on the next iteration), in order, nothing lost.
  open_source(InotifySource::Options{4096, 1 << 20, 100});
  ASSERT_GE(source_->add_watch(dir_.c_str(), IN_CLOSE_WRITE | IN_ONLYDIR), 0);
  ASSERT_EQ(source_->start(), 0);
  for (int i = 0; i < 1000; ++i) touch(dir_ + "/file-" + std::to_string(i));
  ASSERT_TRUE(run_until([&] { return count(IN_CLOSE_WRITE) == 1000; }));
  EXPECT_GE(drained_, 10);
  for (int i = 0; i < 1000; ++i) ASSERT_EQ(records_[i].name, "file-" + std::to_string(i));
  EXPECT_EQ(source_->backlog_bytes(), 0u);
}

TEST_F(InotifySourceTest, TheKernelQueueIsEmptiedBeforeRecordsAreHandled) {
  // One turn reads everything the kernel holds into the backlog and hands
  // over only 10 records: the kernel's queue (which overflows) is empty while
  // the owner is still busy with the rest.
  open_source(InotifySource::Options{4096, 1 << 20, 10});
  ASSERT_GE(source_->add_watch(dir_.c_str(), IN_CLOSE_WRITE | IN_ONLYDIR), 0);
  ASSERT_EQ(source_->start(), 0);
  for (int i = 0; i < 500; ++i) touch(dir_ + "/f" + std::to_string(i));
  ASSERT_TRUE(run_until([&] { return !records_.empty(); }));
  EXPECT_EQ(records_.size(), 10u);
  int queued = -1;
  ASSERT_EQ(ioctl(source_->fd(), FIONREAD, &queued), 0);
  EXPECT_EQ(queued, 0) << "the kernel queue was read out";
  EXPECT_GT(source_->backlog_bytes(), 0u);
  EXPECT_GE(source_->backlog_peak_bytes(), 500u * sizeof(struct inotify_event));
  ASSERT_TRUE(run_until([&] { return count(IN_CLOSE_WRITE) == 500; }));
  EXPECT_EQ(source_->backlog_bytes(), 0u);
}

TEST_F(InotifySourceTest, AFullBacklogStopsReadingAndLeavesTheRestToTheKernel) {
  // A backlog bound of one read: the rest stays in the kernel's queue and is
  // read as the backlog drains; nothing is lost.
  open_source(InotifySource::Options{4096, 4096, 5});
  ASSERT_GE(source_->add_watch(dir_.c_str(), IN_CLOSE_WRITE | IN_ONLYDIR), 0);
  ASSERT_EQ(source_->start(), 0);
  for (int i = 0; i < 600; ++i) touch(dir_ + "/f" + std::to_string(i));
  ASSERT_TRUE(run_until([&] { return count(IN_CLOSE_WRITE) == 600; }));
  EXPECT_LE(source_->backlog_peak_bytes(), 4096u + 4096u);
  EXPECT_EQ(count(IN_Q_OVERFLOW), 0);
}

TEST_F(InotifySourceTest, CloseInsideTheCallbackStopsDelivery) {
  open_source();
  close_on_first_ = true;
  ASSERT_GE(source_->add_watch(dir_.c_str(), IN_CLOSE_WRITE | IN_ONLYDIR), 0);
  ASSERT_EQ(source_->start(), 0);
  for (int i = 0; i < 10; ++i) touch(dir_ + "/f" + std::to_string(i));
  ASSERT_TRUE(run_until([&] { return !records_.empty(); }));
  uv_run(&loop_, UV_RUN_NOWAIT);
  EXPECT_EQ(records_.size(), 1u);
  EXPECT_TRUE(source_->closed());
  EXPECT_EQ(drained_, 0) << "nothing after close()";
  EXPECT_EQ(source_->fd(), -1);
}

TEST_F(InotifySourceTest, AddWatchReturnsNegativeErrno) {
  open_source();
  EXPECT_EQ(source_->add_watch((dir_ + "/missing").c_str(), IN_CLOSE_WRITE), -ENOENT);
}

// The Env given at open() is what add_watch goes through: its refusal comes
// back as the negative errno, and what it lets through is a real watch.
TEST_F(InotifySourceTest, AddWatchGoesThroughTheEnv) {
  struct Refusing final : Env {
    int add_watch(int inotify_fd, const char* path, std::uint32_t mask) override {
      seen_fd = inotify_fd;
      seen.emplace_back(path);
      if (std::string_view(path).ends_with("/full")) {
        errno = ENOSPC;
        return -1;
      }
      if (std::string_view(path).ends_with("/silent")) {
        errno = 0;
        return -1;  // failed without saying why
      }
      return Env::add_watch(inotify_fd, path, mask);
    }
    int seen_fd = -1;
    std::vector<std::string> seen;
  } env;
  open_source({}, env);
  EXPECT_EQ(source_->add_watch((dir_ + "/full").c_str(), IN_CLOSE_WRITE), -ENOSPC);
  EXPECT_EQ(env.seen_fd, source_->fd());
  EXPECT_EQ(source_->add_watch((dir_ + "/silent").c_str(), IN_CLOSE_WRITE), -EINVAL);
  ASSERT_GE(source_->add_watch(dir_.c_str(), IN_CLOSE_WRITE | IN_ONLYDIR), 0);
  EXPECT_EQ(env.seen, (std::vector<std::string>{dir_ + "/full", dir_ + "/silent", dir_}));
  ASSERT_EQ(source_->start(), 0);
  touch(dir_ + "/a");
  ASSERT_TRUE(run_until([&] { return count(IN_CLOSE_WRITE) == 1; }));
  source_.reset();  // before `env`
}

TEST_F(InotifySourceTest, OverflowIsARecord) {
  // A queue of max_queued_events + more records overflows; the overflow
  // record comes through like any other (the owner rescans).
  int max_queued = 16384;
  if (FILE* f = fopen("/proc/sys/fs/inotify/max_queued_events", "r")) {
    if (fscanf(f, "%d", &max_queued) != 1) max_queued = 16384;
    fclose(f);
  }
  if (max_queued > 100'000) GTEST_SKIP() << "max_queued_events too large to overflow";
  open_source();
  ASSERT_GE(source_->add_watch(dir_.c_str(), IN_CREATE | IN_CLOSE_WRITE | IN_ONLYDIR), 0);
  for (int i = 0; i < max_queued / 2 + 100; ++i) touch(dir_ + "/f" + std::to_string(i));
  ASSERT_EQ(source_->start(), 0);
  ASSERT_TRUE(run_until([&] {
    for (const auto& r : records_)
      if (r.overflow) return true;
    return false;
  })) << records_.size()
      << " records, " << source_->backlog_bytes() << " bytes waiting";
}

}  // namespace
}  // namespace aw
