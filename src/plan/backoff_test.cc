#include "src/plan/backoff.h"

#include <gtest/gtest.h>

namespace aw {
namespace {

using std::chrono::milliseconds;
using std::chrono::seconds;

RetryPolicy policy(Duration initial, double factor, Duration max, double jitter) {
  RetryPolicy p;
  p.retries = 5;
  p.initial = initial;
  p.factor = factor;
  p.max = max;
  p.jitter = jitter;
  return p;
}

TEST(BackoffDelay, GrowsExponentiallyWithoutJitter) {
  RetryPolicy p = policy(seconds(1), 2.0, seconds(60), 0.0);
  EXPECT_EQ(backoff_delay(p, 1, 0.9), seconds(1));
  EXPECT_EQ(backoff_delay(p, 2, 0.1), seconds(2));
  EXPECT_EQ(backoff_delay(p, 3, 0.5), seconds(4));
  EXPECT_EQ(backoff_delay(p, 6, 0.5), seconds(32));
}

TEST(BackoffDelay, IsCappedAtMax) {
  RetryPolicy p = policy(seconds(1), 2.0, seconds(10), 0.0);
  EXPECT_EQ(backoff_delay(p, 5, 0.5), seconds(10));
  EXPECT_EQ(backoff_delay(p, 1000, 0.5), seconds(10)) << "huge exponents must not overflow";
}

TEST(BackoffDelay, JitterSpreadsAroundTheCappedValue) {
  RetryPolicy p = policy(seconds(10), 2.0, seconds(60), 0.2);
  EXPECT_EQ(backoff_delay(p, 1, 0.5), seconds(10));
  EXPECT_EQ(backoff_delay(p, 1, 0.0), seconds(8));
  EXPECT_NEAR(std::chrono::duration<double>(backoff_delay(p, 1, 0.999999)).count(), 12.0, 1e-4);
  // The cap applies before the jitter, so a capped delay still spreads.
  EXPECT_EQ(backoff_delay(p, 10, 0.0), seconds(48));
}

TEST(BackoffDelay, CountsBelowOneAsOne) {
  RetryPolicy p = policy(milliseconds(250), 3.0, seconds(60), 0.0);
  EXPECT_EQ(backoff_delay(p, 0, 0.5), milliseconds(250));
  EXPECT_EQ(backoff_delay(p, -4, 0.5), milliseconds(250));
}

TEST(BackoffDelay, ClampsNonsense) {
  // Jitter above 1 would allow negative delays; a factor below 1 would shrink.
  RetryPolicy p = policy(seconds(4), 0.5, seconds(60), 5.0);
  EXPECT_EQ(backoff_delay(p, 3, 0.0), Duration::zero());
  EXPECT_EQ(backoff_delay(p, 3, 0.5), seconds(4));
  EXPECT_EQ(backoff_delay(policy(Duration::zero(), 2.0, seconds(1), 0.2), 3, 0.7),
            Duration::zero());
}

}  // namespace
}  // namespace aw
