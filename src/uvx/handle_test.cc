#include "src/uvx/handle.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <atomic>
#include <memory>
#include <thread>

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

}  // namespace
}  // namespace aw::uvx
