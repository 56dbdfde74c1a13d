#include "src/uvx/run_until.h"

#include <gtest/gtest.h>

#include "src/uvx/handle.h"

namespace aw::uvx {
namespace {

class RunUntilTest : public ::testing::Test {
 protected:
  void SetUp() override { ASSERT_EQ(uv_loop_init(&loop_), 0); }
  void TearDown() override {
    uv_run(&loop_, UV_RUN_DEFAULT);  // close callbacks
    EXPECT_EQ(uv_loop_close(&loop_), 0) << "a handle was left open";
  }
  uv_loop_t loop_{};
};

// The case that hung ProcessWatchTest about once in 300 runs: the condition is
// met by a timer that runs at the start of an iteration, while the only other
// handle is due much later. `while (!done) uv_run(ONCE)` then sleeps in poll
// until that other handle fires.
TEST_F(RunUntilTest, ConditionMetByADueTimerDoesNotWaitForTheNextEvent) {
  bool done = false;
  bool late_fired = false;
  Timer late(&loop_, [&] { late_fired = true; });
  late.start(60'000);
  // Re-armed from its own callback once, as ProcessWatch's exit-info retry
  // is: the second firing is the one that meets the condition.
  int calls = 0;
  Timer* soon_ptr = nullptr;
  Timer soon(&loop_, [&] {
    if (++calls == 2)
      done = true;
    else
      soon_ptr->start(1);
  });
  soon_ptr = &soon;
  soon.start(1);
  EXPECT_TRUE(run_until(&loop_, [&] { return done; }));
  EXPECT_FALSE(late_fired);
  late.stop();
}

TEST_F(RunUntilTest, ReturnsFalseWhenTheLoopRunsOutOfWork) {
  int fired = 0;
  Timer t(&loop_, [&] { ++fired; });
  t.start(1);
  EXPECT_FALSE(run_until(&loop_, [&] { return fired == 2; }));
  EXPECT_EQ(fired, 1);
}

TEST_F(RunUntilTest, ReturnsAtOnceWhenTheConditionAlreadyHolds) {
  bool fired = false;
  Timer t(&loop_, [&] { fired = true; });
  t.start(60'000);
  EXPECT_TRUE(run_until(&loop_, [] { return true; }));
  EXPECT_FALSE(fired);
  t.stop();
}

TEST_F(RunUntilTest, AnotherUvStopEndsTheRunWithTheConditionUnmet) {
  uv_loop_t* loop = &loop_;
  Timer keepalive(&loop_, [] {});
  keepalive.start(60'000);
  Timer guard(&loop_, [loop] { uv_stop(loop); });
  guard.start(1);
  EXPECT_FALSE(run_until(&loop_, [] { return false; }));
  keepalive.stop();
}

}  // namespace
}  // namespace aw::uvx
