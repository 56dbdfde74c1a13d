// Debounce and cooldown for rules, as a pure state machine with explicit time.
//
//   debounce = "200ms"  a rule fires once its subject has been quiet that long; while
//                       events keep coming the firing is held and the LAST event wins.
//   cooldown = "10s"    after a rule fires for a subject, further events for that
//                       subject are ignored (Suppressed) for that long.
//
// State is per (rule name, subject); the subject of an event is its path, else its
// entity, else "" (see gate_subject). Different subjects and different rules never
// affect each other.
//
// How the daemon drives it (one alarm timer, no periodic wake-ups):
//   for each rule matching an event:            (matcher.h: matching_rules)
//     switch (gate.offer(rule.name, rule.gate, gate_subject(e), e, clock.mono()))
//       kFire       → run render(rule, e, input)
//       kDeferred   → nothing now
//       kSuppressed → nothing (may be logged at debug level)
//   then (re)arm the alarm at gate.next_deadline(), or stop it when nullopt;
//   when the alarm fires: for each f in gate.take_due(clock.mono()):
//     if (const Rule* r = rules.find(f.rule)) run render(*r, f.event, input)
//   after a rule reload: gate.retain_rules([&](auto name) { return new_rules.find(name); })
//
// Not thread-safe; owned by the loop thread. Holds copies of held events.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "src/core/clock.h"
#include "src/core/event.h"

namespace aw {

// A rule's gate settings; both zero = the gate lets everything through at once
// and keeps no state for that rule.
// What debounce and cooldown count per: the event's path (else its entity), or
// the directory holding the path (a result session: any file landing in it
// restarts the wait). A rule's `per` key.
enum class GateSubject : std::uint8_t { kPath, kDirectory };

struct GatePolicy {
  Duration debounce{0};
  Duration cooldown{0};
  GateSubject per = GateSubject::kPath;
  bool active() const { return debounce > Duration::zero() || cooldown > Duration::zero(); }
};

enum class GateDecision {
  kFire,        // render and run now
  kDeferred,    // held; take_due() returns it (or a later event) once the subject is quiet
  kSuppressed,  // the subject is in cooldown for this rule: drop the event
};

const char* gate_decision_name(GateDecision d);  // "fire", "deferred", "suppressed"

// The subject an event is gated by: its path (per kPath) or the directory
// holding it (per kDirectory), else its entity, else "".
std::string_view gate_subject(const Event& e, GateSubject per = GateSubject::kPath);

// A held event whose debounce expired: fire `rule` for `event` now.
struct DueFiring {
  std::string rule;
  std::string subject;
  Event event;
};

class RuleGate {
 public:
  // Offers one event that matched `rule`. `now` must not go backwards between calls.
  GateDecision offer(std::string_view rule, const GatePolicy& policy, std::string_view subject,
                     const Event& event, MonoTime now);

  // Removes and returns the held firings whose deadline is <= now, earliest first.
  // Each starts its rule's cooldown for its subject at `now`.
  std::vector<DueFiring> take_due(MonoTime now);

  // Drops every held firing whose subject is `subject` (a directory that was
  // renamed away or removed: there is nothing left to fire for). Returns how
  // many. Cooldowns are kept.
  std::size_t drop_held(std::string_view subject);

  // The earliest deadline of a held firing, for the daemon's single alarm; nullopt
  // when nothing is held (cooldowns never need a wake-up).
  std::optional<MonoTime> next_deadline() const;

  // Forgets all state of rules for which keep(name) is false (after a reload).
  void retain_rules(const std::function<bool(std::string_view rule)>& keep);

  std::size_t held_count() const { return due_.size(); }
  // (rule, subject) pairs with any state: held or cooling down. Bounded by
  // pruning expired cooldowns on every offer()/take_due().
  std::size_t tracked_count() const { return slots_.size(); }

 private:
  using Key = std::pair<std::string, std::string>;  // (rule, subject)
  struct Slot {
    bool held = false;
    Event event;           // the held (last) event, when held
    MonoTime due{};        // when held: fire at this time
    Duration cooldown{0};  // the policy's cooldown, applied when it fires
    bool cooling = false;
    MonoTime cool_until{};
  };

  void prune(MonoTime now);
  void start_cooldown(const Key& key, Slot& slot, MonoTime now);

  std::map<Key, Slot> slots_;
  std::set<std::pair<MonoTime, Key>> due_;          // held firings by deadline
  std::multimap<MonoTime, Key> cooldown_expiries_;  // for pruning finished cooldowns
};

}  // namespace aw
