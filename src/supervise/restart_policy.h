// RestartPolicy: when (and whether) a supervised worker that exited is started
// again. Pure: functions of (state, event, now) → (state, decision), no I/O, no
// clock of its own, no randomness of its own (the jitter draw `u` is passed in),
// so tests run hours of behaviour in microseconds (STYLE §5, §6).
//
// What it decides, in this order, for an exit the supervisor did not ask for:
//
//   1. restart = "never", or "on-failure" and the worker exited 0 → kDoNotRestart
//      (s6's explicit "down" outcome: nothing is retried).
//   2. A run of at least `stable_after` resets the budget, the backoff and the
//      circuit (the worker was healthy; this failure starts a fresh story).
//   3. Budget: `max_restarts` restarts within the sliding `restart_window`; the
//      next failure once they are spent → kGiveUp (terminal until start() again).
//   4. Dependencies not completed → kWaitForDependencies (counts nothing yet; the
//      restart comes with on_dependencies_ready()).
//   5. Circuit breaker: `circuit_threshold` consecutive quick failures (runs
//      shorter than stable_after) open it; a failed half-open trial re-opens it.
//      Open → kCircuitOpen(until = now + circuit_cooldown): the one trial start
//      happens at `until` (half-open); a stable run closes it.
//   6. Otherwise kRestartAt(now + max(backoff, floor)) where backoff is zero
//      for the first consecutive failure (after a stable run, or ever) and then
//      backoff_delay() (src/plan/backoff.h: capped exponential with jitter) of
//      the failures after the first, and floor keeps at least
//      `min_spawn_interval` between two spawns (s6's one second), which is zero
//      when the worker was up longer than that. So, as s6 does, a worker that
//      was up over a second and dies is restarted at once; one that dies
//      quicker waits out the second.
//
// Every kRestartAt and kCircuitOpen counts one restart against the budget.
//
// Time: `now` and every time in RestartState are monotonic (Clock::mono). The
// window, the floor and the circuit's cool-down are lengths of time that passed,
// and only the monotonic clock measures that: with wall time, setting the clock
// forward by an hour would empty the window (a crash loop gets a fresh budget)
// and setting it back would keep old restarts counted for an extra hour (and
// hold the floor's next spawn back by as much). Uptimes are measured by the
// caller on the same clock and passed in as Durations.
//
// Persistence is the one place wall time enters: monotonic time means nothing
// to the next daemon (another process, perhaps after a reboot), so
// serialize_restart_state() writes each time as the wall time it is now
// (ClockSnapshot::to_wall) and deserialize_restart_state() re-bases it onto the
// reader's monotonic clock: mono = mono_now - (wall_now - persisted). A step of
// the wall clock while the daemon was down is the one error left, made once at
// load: set forward, restarts look older than they are; set back, younger, but
// a persisted time ahead of wall_now counts as now, never later, so no restart
// counts for more than one window from the daemon's start. The same clamp reads
// a pending restart or an open circuit's end (in the future when written) as
// "now". While the daemon runs, a step changes nothing.
//
// Thread safety: none needed; values only.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "src/core/clock.h"
#include "src/core/result.h"
#include "src/plan/retry_policy.h"

namespace aw {

enum class RestartMode { kOnFailure, kAlways, kNever };
// "on-failure", "always", "never"
const char* restart_mode_name(RestartMode m);

struct RestartPolicyConfig {
  RestartMode mode = RestartMode::kOnFailure;
  int max_restarts = 2;                                   // within restart_window
  Duration restart_window = std::chrono::hours(1);        // sliding
  Duration stable_after = std::chrono::seconds(60);       // uptime that resets everything
  Duration min_spawn_interval = std::chrono::seconds(1);  // s6's floor between spawns
  int circuit_threshold = 3;                              // consecutive quick failures; 0 = off
  Duration circuit_cooldown = std::chrono::minutes(5);    // open → half-open
  // Only initial, factor, max and jitter are used (retries is the budget's job).
  RetryPolicy backoff{0, std::chrono::milliseconds(100), 2.0, std::chrono::minutes(5), 0.2};
};

enum class CircuitState { kClosed, kOpen, kHalfOpen };
// "closed", "open", "half-open"
const char* circuit_state_name(CircuitState s);

// Everything the policy remembers about one worker. Serialisable (serialize /
// deserialize below) so that the budget and the backoff survive a daemon restart.
struct RestartState {
  std::vector<MonoTime> recent_restarts;  // restarts inside the window, oldest first
  int consecutive_failures = 0;           // since the last stable run: the backoff exponent
  int quick_failures = 0;                 // consecutive runs shorter than stable_after
  CircuitState circuit = CircuitState::kClosed;
  std::optional<MonoTime> circuit_until;  // kOpen: when the half-open trial may start
  std::optional<MonoTime> last_spawn;     // nullopt = never spawned
  std::int64_t total_restarts = 0;        // lifetime, informative
  bool gave_up = false;
  std::string gave_up_reason;

  friend bool operator==(const RestartState&, const RestartState&) = default;
};

// How a run ended, as far as the policy cares.
struct ExitFacts {
  Duration uptime{0};      // spawn (or adoption) → exit, monotonic
  bool clean = false;      // exited with code 0
  bool requested = false;  // a stop was asked for: never restarted
  bool deps_ready = true;  // every depends_on entity is completed
};

enum class DecisionKind { kRestartAt, kWaitForDependencies, kGiveUp, kCircuitOpen, kDoNotRestart };
// "restart", "wait_for_dependencies", "give_up", "circuit_open", "do_not_restart"
const char* decision_kind_name(DecisionKind k);

struct RestartDecision {
  DecisionKind kind = DecisionKind::kDoNotRestart;
  MonoTime at{};       // kRestartAt: when to spawn; kCircuitOpen: the half-open trial
  Duration delay{0};   // at - now (never negative)
  int attempt = 0;     // kRestartAt / kCircuitOpen: restarts in the window including this one
  std::string reason;  // words for the event log
};

struct PolicyStep {
  RestartState state;
  RestartDecision decision;
};

class RestartPolicy {
 public:
  explicit RestartPolicy(RestartPolicyConfig config) : config_(config) {}
  const RestartPolicyConfig& config() const { return config_; }

  // A spawn happens now (first start, restart or half-open trial). An open
  // circuit whose cool-down passed becomes half-open.
  RestartState on_spawn(RestartState s, MonoTime now) const;

  // The run has lasted stable_after: budget, backoff and circuit reset.
  RestartState on_stable_run(RestartState s) const;

  // The worker exited. `u` is a uniform draw in [0, 1) for the jitter.
  PolicyStep on_exit(RestartState s, const ExitFacts& facts, MonoTime now, double u) const;

  // A worker that was kWaitForDependencies may go: restart as soon as the floor
  // allows (the failure was already judged when it exited).
  PolicyStep on_dependencies_ready(RestartState s, MonoTime now) const;

  // A user (or rule) starts a worker that gave up: a fresh budget and a closed
  // circuit, like `systemctl reset-failed`. The lifetime count is kept.
  static RestartState reset(RestartState s);

  // Restarts inside the window at `now`.
  int restarts_in_window(const RestartState& s, MonoTime now) const;

 private:
  Duration floor_delay(const RestartState& s, MonoTime now) const;
  void prune(RestartState& s, MonoTime now) const;
  PolicyStep schedule(RestartState s, DecisionKind kind, MonoTime at, MonoTime now,
                      std::string reason) const;

  RestartPolicyConfig config_;
};

// One line, `key=value` pairs separated by ';', times in Unix milliseconds of
// the wall clock (0 for "none": never spawned, no circuit deadline):
//   "v=1;restarts=1700000000123,1700000001123;failures=2;quick=2;circuit=open;
//    until=1700000300000;spawn=1700000001123;total=5;gave_up=0;reason="
// Stable across versions (unknown keys are ignored, missing keys default).
// `now` converts the state's monotonic times to wall time (see "Time" above).
std::string serialize_restart_state(const RestartState& s, const ClockSnapshot& now);
// Re-bases the persisted wall times onto `now` (ClockSnapshot::to_mono: a time
// in the future counts as now). Errors name the key and the value that could
// not be read.
Result<RestartState> deserialize_restart_state(std::string_view text, const ClockSnapshot& now);

}  // namespace aw
