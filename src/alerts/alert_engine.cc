#include "src/alerts/alert_engine.h"

#include <algorithm>

#include "src/core/duration.h"

namespace aw::alerts {
namespace {

constexpr std::array<std::string_view, 3> kPhaseNames{"inactive", "pending", "firing"};

AlertTransition transition(TransitionKind kind, const AlertSpec& spec, WallTime now, double value,
                           WallTime since, std::uint32_t flaps) {
  AlertTransition t;
  t.kind = kind;
  t.name = spec.name;
  t.severity = spec.severity;
  t.measure = spec.measure;
  t.direction = spec.direction;
  t.value = value;
  t.threshold = spec.threshold;
  t.clear = spec.clear;
  t.window = spec.window;
  t.at = now;
  t.since = since;
  t.flaps = flaps;
  t.entity = spec.entity;
  return t;
}

// The wall clock was set back past a time the state holds: that time counts
// as now, never later (as ClockSnapshot::to_mono does), so a step back of a day
// does not damp an alert, or hold its `for`, for a day.
void clamp_to(AlertState& s, WallTime now) {
  for (std::optional<WallTime>* t : {&s.pending_since, &s.firing_since, &s.last_resolved})
    if (*t && **t > now) *t = now;
}

}  // namespace

std::string_view phase_name(Phase p) {
  return kPhaseNames[static_cast<std::size_t>(p)];
}

std::optional<Phase> phase_by_name(std::string_view name) {
  for (std::size_t i = 0; i < kPhaseNames.size(); ++i)
    if (kPhaseNames[i] == name) return static_cast<Phase>(i);
  return std::nullopt;
}

Fields alert_event_fields(const AlertTransition& t) {
  Fields f;
  f.set("alert", t.name);
  f.set("severity", std::string(severity_name(t.severity)));
  f.set("metric", std::string(measure_name(t.measure)));
  f.set("value", t.value);
  f.set("threshold", t.threshold);
  f.set("clear", t.clear);
  f.set("direction", std::string(direction_name(t.direction)));
  f.set("window", format_duration(t.window));
  f.set("since", format_time_utc(t.since));
  f.set("flaps", static_cast<std::int64_t>(t.flaps));
  return f;
}

AlertEngine::AlertEngine(std::vector<AlertSpec> specs) {
  (void)reconfigure(std::move(specs));
}

std::vector<AlertTransition> AlertEngine::evaluate(WallTime now, const MeasureSource& source) {
  std::vector<AlertTransition> out;
  for (Alert& a : alerts_) {
    clamp_to(a.state, now);
    a.state.evaluated_at = now;
    const std::optional<double> value = source.value(a.spec.measure, a.spec.window, now);
    if (!value) continue;  // nothing to judge by: keep the phase and its times
    a.state.last_value = *value;
    if (auto t = step(a, now, *value)) out.push_back(std::move(*t));
  }
  return out;
}

std::optional<AlertTransition> AlertEngine::step(Alert& a, WallTime now, double value) {
  AlertState& s = a.state;
  switch (s.phase) {
    case Phase::kInactive:
      if (!a.spec.breached(value)) return std::nullopt;
      s.phase = Phase::kPending;
      s.pending_since = now;
      // Back within min_interval of a resolve: a flap, counted once per return.
      if (s.last_resolved && now - *s.last_resolved < a.spec.min_interval) ++s.flaps;
      ++changes_;
      return try_raise(a, now, value);
    case Phase::kPending:
      if (!a.spec.breached(value)) {
        s.phase = Phase::kInactive;
        s.pending_since.reset();
        ++changes_;
        return std::nullopt;
      }
      return try_raise(a, now, value);
    case Phase::kFiring: {
      if (!a.spec.cleared(value)) return std::nullopt;  // between clear and threshold: still firing
      const WallTime raised = s.firing_since.value_or(now);
      s.phase = Phase::kInactive;
      s.pending_since.reset();
      s.firing_since.reset();
      s.last_resolved = now;
      ++changes_;
      return transition(TransitionKind::kResolved, a.spec, now, value, raised, 0);
    }
  }
  return std::nullopt;
}

std::optional<AlertTransition> AlertEngine::try_raise(Alert& a, WallTime now, double value) {
  AlertState& s = a.state;
  const WallTime since = s.pending_since.value_or(now);
  if (now - since < a.spec.hold) return std::nullopt;
  if (s.last_resolved && now - *s.last_resolved < a.spec.min_interval) return std::nullopt;
  const std::uint32_t flaps = s.flaps;
  s.phase = Phase::kFiring;
  s.firing_since = now;
  s.flaps = 0;  // reported once, in this raise
  ++changes_;
  return transition(TransitionKind::kRaised, a.spec, now, value, since, flaps);
}

std::vector<ActiveAlert> AlertEngine::active() const {
  std::vector<ActiveAlert> out;
  for (const Alert& a : alerts_) {
    if (a.state.phase != Phase::kFiring) continue;
    out.push_back(ActiveAlert{a.spec.name, a.spec.severity, a.spec.measure, a.spec.direction,
                              a.spec.threshold, a.state.last_value,
                              a.state.firing_since.value_or(WallTime{}), a.spec.entity});
  }
  return out;
}

bool AlertEngine::any_pending() const {
  return std::any_of(alerts_.begin(), alerts_.end(),
                     [](const Alert& a) { return a.state.phase == Phase::kPending; });
}

std::vector<std::pair<Measure, Duration>> AlertEngine::needs() const {
  std::vector<std::pair<Measure, Duration>> out;
  for (const AlertSpec& s : specs_) {
    std::pair<Measure, Duration> need{s.measure, s.window};
    if (std::find(out.begin(), out.end(), need) == out.end()) out.push_back(need);
  }
  return out;
}

AlertEngine::Alert* AlertEngine::find(std::string_view name) {
  for (Alert& a : alerts_)
    if (a.spec.name == name) return &a;
  return nullptr;
}

const AlertState* AlertEngine::state(std::string_view name) const {
  for (const Alert& a : alerts_)
    if (a.spec.name == name) return &a.state;
  return nullptr;
}

std::vector<SavedAlert> AlertEngine::saved() const {
  std::vector<SavedAlert> out;
  for (const Alert& a : alerts_)
    if (!a.state.pristine()) out.push_back(SavedAlert{a.spec.name, a.spec.measure, a.state});
  return out;
}

std::vector<std::string> AlertEngine::restore(const std::vector<SavedAlert>& saved, WallTime now) {
  std::vector<std::string> notes;
  for (const SavedAlert& s : saved) {
    Alert* a = find(s.name);
    if (!a) {
      notes.push_back("alert '" + s.name + "' is no longer configured: its saved state (" +
                      std::string(phase_name(s.state.phase)) + ") is dropped");
      continue;
    }
    if (s.measure != a->spec.measure) {
      notes.push_back("alert '" + s.name + "' now measures " +
                      std::string(measure_name(a->spec.measure)) + " (was " +
                      std::string(measure_name(s.measure)) + "): it starts afresh");
      continue;
    }
    a->state = s.state;
    a->state.last_value.reset();
    const AlertState& st = a->state;
    if (st.phase == Phase::kPending && st.evaluated_at && now - *st.evaluated_at > a->spec.window) {
      notes.push_back("alert '" + s.name + "' was pending, but nothing was evaluated for " +
                      format_duration(now - *st.evaluated_at) + ", longer than its window (" +
                      format_duration(a->spec.window) + "): its 'for' starts afresh");
      a->state.phase = Phase::kInactive;
      a->state.pending_since.reset();
    }
  }
  ++changes_;
  return notes;
}

std::vector<std::string> AlertEngine::reconfigure(std::vector<AlertSpec> specs) {
  std::vector<Alert> alerts;
  alerts.reserve(specs.size());
  for (const AlertSpec& spec : specs) {
    Alert next{spec, {}};
    if (Alert* old = find(spec.name); old && old->spec.measure == spec.measure)
      next.state = old->state;
    alerts.push_back(std::move(next));
  }
  std::vector<std::string> notes;
  for (const Alert& old : alerts_) {
    if (old.state.phase != Phase::kFiring) continue;
    auto kept = std::find_if(alerts.begin(), alerts.end(), [&](const Alert& a) {
      return a.spec.name == old.spec.name && a.spec.measure == old.spec.measure;
    });
    if (kept == alerts.end())
      notes.push_back("alert '" + old.spec.name +
                      "' was firing and is no longer configured as it was: it is dropped "
                      "without an alert.resolved");
  }
  specs_ = std::move(specs);
  alerts_ = std::move(alerts);
  ++changes_;
  return notes;
}

}  // namespace aw::alerts
