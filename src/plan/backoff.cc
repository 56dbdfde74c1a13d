#include "src/plan/backoff.h"

#include <algorithm>
#include <cmath>

namespace aw {

Duration backoff_delay(const RetryPolicy& policy, int failed_attempts, double u) {
  // In double seconds: factor^k overflows integers long before it overflows a double,
  // and the cap is applied before converting back.
  const double initial = std::chrono::duration<double>(policy.initial).count();
  const double cap = std::chrono::duration<double>(policy.max).count();
  const double factor = std::max(policy.factor, 1.0);
  const int k = std::max(failed_attempts, 1) - 1;
  double delay = std::min(cap, initial * std::pow(factor, k));
  if (!std::isfinite(delay)) delay = cap;
  const double jitter = std::clamp(policy.jitter, 0.0, 1.0);
  u = std::clamp(u, 0.0, 1.0);
  delay *= 1.0 + jitter * (2.0 * u - 1.0);
  delay = std::max(delay, 0.0);
  return std::chrono::duration_cast<Duration>(std::chrono::duration<double>(delay));
}

}  // namespace aw
