#include "src/uvx/handle.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <atomic>
#include <memory>
#include <optional>
#include <string>
#include <thread>
#include <vector>

namespace aw::uvx {
namespace {

// Every loop test ends by closing all handles and checking uv_loop_close()==0.
class LoopTest : public ::testing::Test {
 protected:
  void SetUp() override { ASSERT_EQ(uv_loop_init(&loop_), 0); }
  void TearDown() override {
    uv_run(&loop_, UV_RUN_DEFAULT);  // let close callbacks run
    EXPECT_EQ(uv_loop_close(&loop_), 0) << "a handle was left open";
  }
  uv_loop_t loop_{};
};

TEST_F(LoopTest, TimerFiresOnce) {
  int fired = 0;
  {
    Timer t(&loop_, [&] { ++fired; });
    t.start(1);
    uv_run(&loop_, UV_RUN_DEFAULT);
  }
  EXPECT_EQ(fired, 1);
}

TEST_F(LoopTest, DestroyingOwnerBeforeFireCancelsCallback) {
  int fired = 0;
  auto t = std::make_unique<Timer>(&loop_, [&] { ++fired; });
  t->start(1);
  t.reset();
  uv_run(&loop_, UV_RUN_DEFAULT);
  EXPECT_EQ(fired, 0);
}

// Issue #9: a moved wrapper used to leave `data` pointing at the moved-from
// object (a heap-use-after-free under ASan when it fired). `data` now points
// at the callback's box, which moves with the wrapper.
TEST_F(LoopTest, AMovedTimerFiresItsOwnCallbackOnce) {
  int fired = 0;
  std::vector<Timer> timers;
  timers.emplace_back(&loop_, [&] { ++fired; });
  timers.front().start(1);
  for (int i = 0; i < 16; ++i) timers.emplace_back(&loop_, [] {});  // reallocations move it
  auto moved = std::make_unique<Timer>(std::move(timers.front()));
  timers.clear();  // destroys the moved-from one, and the 16 idle ones
  uv_run(&loop_, UV_RUN_DEFAULT);
  EXPECT_EQ(fired, 1);
  moved.reset();
}

TEST_F(LoopTest, AMovedPollSeesItsFd) {
  int fds[2];
  ASSERT_EQ(pipe(fds), 0);
  int seen = 0;
  std::optional<Poll> first;
  first.emplace(&loop_, fds[0], [&](int status, int) {
    EXPECT_EQ(status, 0);
    ++seen;
  });
  Poll moved(std::move(*first));
  first.reset();
  ASSERT_EQ(moved.start(UV_READABLE), 0);
  ASSERT_EQ(write(fds[1], "x", 1), 1);
  uv_run(&loop_, UV_RUN_NOWAIT);
  moved.stop();
  EXPECT_EQ(seen, 1);
  close(fds[0]);
  close(fds[1]);
}

// A wrapper destroyed from inside its own callback: the callback, and what it
// captured, live until it returns (under ASan this read would be a
// use-after-free otherwise), and it is never called again.
TEST_F(LoopTest, ATimerDestroyedInsideItsOwnCallbackIsSafe) {
  std::unique_ptr<Timer> t;
  std::string seen;
  int calls = 0;
  const std::string captured(64, 'x');  // heap-allocated, owned by the lambda's copy
  t = std::make_unique<Timer>(&loop_, [&t, &seen, &calls, captured] {
    ++calls;
    t.reset();        // destroys the Timer, its handle and its reference to the box
    seen = captured;  // the capture is still alive
  });
  t->start(1, 1);  // repeating: a second call would follow if it were not closed
  uv_run(&loop_, UV_RUN_DEFAULT);
  EXPECT_EQ(calls, 1);
  EXPECT_EQ(seen, captured);
}

TEST_F(LoopTest, APollDestroyedInsideItsOwnCallbackIsSafe) {
  int fds[2];
  ASSERT_EQ(pipe(fds), 0);
  ASSERT_EQ(write(fds[1], "x", 1), 1);  // stays readable: level-triggered
  int calls = 0;
  std::unique_ptr<Poll> p;
  p = std::make_unique<Poll>(&loop_, fds[0], [&, tag = std::string(64, 'p')](int, int) {
    ++calls;
    p.reset();
    EXPECT_EQ(tag.size(), 64u);
  });
  ASSERT_EQ(p->start(UV_READABLE), 0);
  uv_run(&loop_, UV_RUN_DEFAULT);
  EXPECT_EQ(calls, 1);
  close(fds[0]);
  close(fds[1]);
}

TEST_F(LoopTest, PollSeesReadablePipe) {
  int fds[2];
  ASSERT_EQ(pipe(fds), 0);
  int seen = 0;
  {
    std::unique_ptr<Poll> p;
    p = std::make_unique<Poll>(&loop_, fds[0], [&](int status, int events) {
      EXPECT_EQ(status, 0);
      if (events & UV_READABLE) ++seen;
      p->stop();
    });
    ASSERT_EQ(p->start(UV_READABLE), 0);
    ASSERT_EQ(write(fds[1], "x", 1), 1);
    uv_run(&loop_, UV_RUN_DEFAULT);
  }
  close(fds[0]);
  close(fds[1]);
  EXPECT_EQ(seen, 1);
}

// The reason Idle exists: slices must let I/O in between. A pipe made readable
// before the first slice is seen while slices are still pending.
TEST_F(LoopTest, IdleSlicesYieldToIo) {
  int fds[2];
  ASSERT_EQ(pipe(fds), 0);
  int slices = 0;
  int slices_when_readable = -1;
  {
    std::unique_ptr<Idle> idle;
    std::unique_ptr<Poll> poll;
    idle = std::make_unique<Idle>(&loop_, [&] {
      if (++slices == 100) idle->stop();
    });
    poll = std::make_unique<Poll>(&loop_, fds[0], [&](int, int) {
      slices_when_readable = slices;
      poll->stop();
    });
    ASSERT_EQ(poll->start(UV_READABLE), 0);
    ASSERT_EQ(write(fds[1], "x", 1), 1);
    idle->start();
    uv_run(&loop_, UV_RUN_DEFAULT);
  }
  close(fds[0]);
  close(fds[1]);
  EXPECT_EQ(slices, 100);
  EXPECT_GE(slices_when_readable, 0);
  EXPECT_LT(slices_when_readable, 5) << "I/O waited for the slices";
}

TEST_F(LoopTest, QueueWorkRunsOffLoopThenDoneOnLoop) {
  const auto loop_thread = std::this_thread::get_id();
  std::atomic<bool> off_loop{false};
  bool done_on_loop = false;
  ASSERT_EQ(queue_work(
                &loop_, [&] { off_loop = std::this_thread::get_id() != loop_thread; },
                [&] { done_on_loop = std::this_thread::get_id() == loop_thread; }),
            0);
  uv_run(&loop_, UV_RUN_DEFAULT);
  EXPECT_TRUE(off_loop);
  EXPECT_TRUE(done_on_loop);
}

TEST_F(LoopTest, OwnedWorkCompletesWhileItsOwnerLives) {
  WorkOwner owner;
  int done = 0, orphaned = 0;
  ASSERT_EQ(queue_work(
                &loop_, owner, [] {}, [&] { ++done; }, [&] { ++orphaned; }),
            0);
  uv_run(&loop_, UV_RUN_DEFAULT);
  EXPECT_EQ(done, 1);
  EXPECT_EQ(orphaned, 0);
}

TEST_F(LoopTest, OwnedWorkOutlivingItsOwnerRunsOnlyItsOrphanedPart) {
  std::atomic<bool> worked{false};
  int done = 0, orphaned = 0;
  {
    WorkOwner owner;
    ASSERT_EQ(queue_work(
                  &loop_, owner, [&] { worked = true; }, [&] { ++done; }, [&] { ++orphaned; }),
              0);
    ASSERT_EQ(queue_work(
                  &loop_, owner, [] {}, [&] { ++done; }),
              0);  // no orphaned part
  }                // destroyed before the loop ran the completions
  uv_run(&loop_, UV_RUN_DEFAULT);
  EXPECT_TRUE(worked) << "started work is never cancelled";
  EXPECT_EQ(done, 0);
  EXPECT_EQ(orphaned, 1);
}

}  // namespace
}  // namespace aw::uvx
