// A circuit breaker per rule (a rule's `breaker` key), as a pure state machine
// with explicit time, like rule_gate.h.
//
//   breaker = { failures = 5, cool_down = "10m" }
//
// closed     every matching event fires the rule. A plan that fails counts one
//            failure; one that succeeds resets the count. `failures` in a row
//            open the circuit.
// open       for `cool_down`, matching events are held, not fired (bounded:
//            the newest kMaxHeld are kept; older ones are dropped and
//            counted). Nothing is run against a target that keeps failing.
// half-open  after the cool-down one event is fired as the trial: the oldest
//            held one, or else the next to match. While the trial runs, more
//            events are held. Trial succeeds → closed, and every held event
//            is released to fire; trial fails → open again for `cool_down`.
//
// Plans that started before a change of state report into a state that is not
// theirs: each firing carries the generation it was admitted in, and only the
// current generation's outcomes count (a plan from before the circuit opened
// neither closes nor re-opens it).
//
// How the pipeline drives it (one alarm with the gate's, no polling):
//   offer(rule, policy, event, now)    → kFire (remember the generation) | kHeld
//   when the plan ends (not interrupted): record(rule, policy, generation, ok, now)
//       → maybe a change to log (rule.circuit_open / rule.circuit_closed), and
//         on close the released events to fire
//   next_deadline() for the alarm; take_due(now) → half-open changes, each with
//       its trial event (if one was held) to fire
//
// Not thread-safe; owned by the loop thread. State is in memory: a restart
// closes every circuit (a held result is found again by the start scan).
#pragma once

#include <cstdint>
#include <deque>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "src/core/clock.h"
#include "src/core/event.h"

namespace aw {

struct BreakerPolicy {
  int failures = 0;  // consecutive failed plans that open the circuit; 0 = no breaker
  Duration cool_down{0};
  bool active() const { return failures > 0; }
};

enum class BreakerState : std::uint8_t { kClosed, kOpen, kHalfOpen };
const char* breaker_state_name(BreakerState s);  // "closed", "open", "half_open"

struct BreakerAdmission {
  bool fire = false;             // false: held until the circuit lets it through
  std::uint64_t generation = 0;  // pass back to record() when fire
  bool trial = false;            // this firing is the half-open trial
};

// A change of state to report, and what to fire because of it.
struct BreakerChange {
  std::string rule;
  BreakerState to = BreakerState::kClosed;
  int failures = 0;              // consecutive failures counted (open)
  std::size_t held = 0;          // events held when it changed
  std::uint64_t dropped = 0;     // held events dropped for lack of room, this episode
  std::vector<Event> to_fire;    // closed: every held event; half-open: the trial
  std::uint64_t generation = 0;  // the generation the events in to_fire fire in
};

class RuleBreaker {
 public:
  static constexpr std::size_t kMaxHeld = 1000;

  BreakerAdmission offer(std::string_view rule, const BreakerPolicy& policy, const Event& event,
                         MonoTime now);
  std::optional<BreakerChange> record(std::string_view rule, const BreakerPolicy& policy,
                                      std::uint64_t generation, bool ok, MonoTime now);
  // Circuits whose cool-down ended become half-open.
  std::vector<BreakerChange> take_due(MonoTime now);
  std::optional<MonoTime> next_deadline() const;
  // Forgets rules for which keep(name) is false (after a reload).
  void retain_rules(const std::function<bool(std::string_view rule)>& keep);

  BreakerState state(std::string_view rule) const;
  std::size_t held(std::string_view rule) const;

 private:
  struct Circuit {
    BreakerState state = BreakerState::kClosed;
    int failures = 0;
    std::uint64_t generation = 1;
    MonoTime reopen_at{};        // open: when it becomes half-open
    bool trial_running = false;  // half-open
    std::deque<Event> held;
    std::uint64_t dropped = 0;
    Duration cool_down{0};
  };
  void open(Circuit& c, MonoTime now);

  std::map<std::string, Circuit, std::less<>> circuits_;
};

}  // namespace aw
