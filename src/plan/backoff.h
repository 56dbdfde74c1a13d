// How long to wait before the next attempt of a failed action. Pure.
#pragma once

#include "src/core/clock.h"
#include "src/plan/retry_policy.h"

namespace aw {

// The delay after `failed_attempts` (>= 1) failures:
//   min(policy.max, policy.initial * policy.factor^(failed_attempts-1))
//   scaled by 1 + policy.jitter * (2u - 1), i.e. within ±jitter of the capped value.
// `u` is a uniform draw in [0, 1) (u = 0.5 means no jitter). Never negative;
// a failed_attempts below 1 counts as 1, a factor below 1 as 1, and a jitter
// outside [0, 1] is clamped.
Duration backoff_delay(const RetryPolicy& policy, int failed_attempts, double u);

}  // namespace aw
