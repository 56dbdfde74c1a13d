// The alert engine (docs/alerts.md): each [[alert]] is a small state machine
// over the value of its measure.
//
//   inactive ──condition holds──▶ pending ──held for `for`, not damped──▶ firing
//      ▲                            │                                       │
//      └──── condition breaks ──────┘          value back past `clear` ─────┘ (resolved)
//
// - The condition is "strictly past the threshold"; a firing alert resolves
//   only once the value is back at or past `clear` (hysteresis).
// - Flap damping: after a resolve, the alert does not raise again until
//   `min_interval` has passed and the condition has held for `for`. Each time
//   the condition comes back within `min_interval` counts one flap; the next
//   raise reports the count (`flaps`), once.
// - A measure without a value (no executions in the window, too little
//   history) changes nothing: the alert keeps its phase and its times.
//
// Pure: time comes only from evaluate()'s argument, values only from the
// MeasureSource. Times are wall times, because they are what survives a
// restart (alert_state_file.h); a wall-clock step forward may shorten a `for`.
// Not thread-safe: the loop's thread only.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "src/alerts/alert_config.h"
#include "src/alerts/alert_metrics.h"
#include "src/core/clock.h"
#include "src/core/event.h"

namespace aw::alerts {

enum class Phase : std::uint8_t { kInactive, kPending, kFiring };
std::string_view phase_name(Phase p);
std::optional<Phase> phase_by_name(std::string_view name);

// What the engine remembers of one alert between evaluations and across a
// restart.
struct AlertState {
  Phase phase = Phase::kInactive;
  // When the condition began to hold (pending, and firing: the episode's start).
  std::optional<WallTime> pending_since;
  std::optional<WallTime> firing_since;   // when it was raised (firing only)
  std::optional<WallTime> last_resolved;  // flap damping counts from here
  std::uint32_t flaps = 0;                // damped returns since the last raise
  // The last evaluation: at a restart, how long nobody was looking.
  std::optional<WallTime> evaluated_at;
  std::optional<double> last_value;  // in memory only: for active()

  // Nothing worth saving: never pending, never resolved.
  bool pristine() const { return phase == Phase::kInactive && !last_resolved && flaps == 0; }
};

enum class TransitionKind : std::uint8_t { kRaised, kResolved };

// A raise or a resolve: what the daemon turns into alert.raised /
// alert.resolved (alert_event_fields()).
struct AlertTransition {
  TransitionKind kind = TransitionKind::kRaised;
  std::string name;
  Severity severity = Severity::kWarning;
  Measure measure = Measure::kFailureRate;
  Direction direction = Direction::kAbove;
  double value = 0;      // the measure's value that decided it
  double threshold = 0;  // the alert's threshold
  double clear = 0;      // the value it must come back to (== threshold without hysteresis)
  Duration window{0};
  WallTime at{};     // the evaluation that decided it
  WallTime since{};  // raised: when the condition began to hold; resolved: when it was raised
  std::uint32_t flaps = 0;  // raised: returns damped since the previous raise
  std::string entity;       // the spec's entity label ("" when none)
};

// The event's fields, in this order: alert, severity, metric, value,
// threshold, clear, direction, window, since, flaps (docs/alerts.md, "Events").
Fields alert_event_fields(const AlertTransition& t);

// A firing alert, for /api/status and the dashboard.
struct ActiveAlert {
  std::string name;
  Severity severity = Severity::kWarning;
  Measure measure = Measure::kFailureRate;
  Direction direction = Direction::kAbove;
  double threshold = 0;
  std::optional<double> value;  // the latest value (none yet after a restart)
  WallTime since{};             // when it was raised
  std::string entity;
};

// One alert's state as the state file holds it.
struct SavedAlert {
  std::string name;
  Measure measure = Measure::kFailureRate;  // a renamed metric means another alert
  AlertState state;
};

class AlertEngine {
 public:
  explicit AlertEngine(std::vector<AlertSpec> specs);

  // Asks `source` for each alert's value at `now` and moves each machine one
  // step; returns the raises and resolves, in the order of the specs.
  std::vector<AlertTransition> evaluate(WallTime now, const MeasureSource& source);

  // The firing alerts, in the order of the specs.
  std::vector<ActiveAlert> active() const;
  // Whether some alert is pending: its `for` progress is worth saving often.
  bool any_pending() const;
  // Grows at every change worth saving (a phase, a resolve, a flap), not at
  // every evaluation: save the state file when it moved.
  std::uint64_t changes() const { return changes_; }

  // The (measure, window) pairs the alerts ask for: SampledMeasures' needs.
  std::vector<std::pair<Measure, Duration>> needs() const;
  const std::vector<AlertSpec>& specs() const { return specs_; }
  const AlertState* state(std::string_view name) const;

  // For the state file: every alert that is not pristine.
  std::vector<SavedAlert> saved() const;
  // After a restart, at `now`: each configured alert takes its saved state
  // back (a firing alert stays firing, without a new raise). A pending alert
  // whose last evaluation is older than its window starts afresh: nothing of
  // what made it pending is still in its window. Saved alerts no longer
  // configured, or now measuring something else, are dropped. Returns one
  // sentence per alert that did not continue as it was.
  std::vector<std::string> restore(const std::vector<SavedAlert>& saved, WallTime now);
  // A config reload: alerts keep their state by name while they measure the
  // same thing; new ones start inactive. Returns one sentence per firing
  // alert dropped (no alert.resolved will follow for it).
  std::vector<std::string> reconfigure(std::vector<AlertSpec> specs);

 private:
  struct Alert {
    AlertSpec spec;
    AlertState state;
  };
  std::optional<AlertTransition> step(Alert& a, WallTime now, double value);
  std::optional<AlertTransition> try_raise(Alert& a, WallTime now, double value);
  Alert* find(std::string_view name);

  std::vector<AlertSpec> specs_;
  std::vector<Alert> alerts_;  // parallel to specs_
  std::uint64_t changes_ = 0;
};

}  // namespace aw::alerts
