// How a failed action or a crashed worker is retried: the policy both the rules'
// actions (src/plan/backoff.h) and the supervisor's restarts use. Pure data.
#pragma once

#include <chrono>

#include "src/core/clock.h"

namespace aw {

// Retries with capped exponential backoff and jitter. Attempt k (k >= 1) that
// fails waits min(max, initial * factor^(k-1)) * (1 ± jitter·u) before the next.
struct RetryPolicy {
  int retries = 0;  // extra attempts after the first
  Duration initial = std::chrono::seconds(1);
  double factor = 2.0;
  Duration max = std::chrono::seconds(60);
  double jitter = 0.2;  // fraction in [0, 1]
};

}  // namespace aw
