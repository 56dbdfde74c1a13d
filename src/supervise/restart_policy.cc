#include "src/supervise/restart_policy.h"

#include <algorithm>
#include <charconv>

#include "src/core/duration.h"
#include "src/plan/backoff.h"

namespace aw {

const char* restart_mode_name(RestartMode m) {
  switch (m) {
    case RestartMode::kOnFailure:
      return "on-failure";
    case RestartMode::kAlways:
      return "always";
    case RestartMode::kNever:
      return "never";
  }
  return "?";
}

const char* circuit_state_name(CircuitState s) {
  switch (s) {
    case CircuitState::kClosed:
      return "closed";
    case CircuitState::kOpen:
      return "open";
    case CircuitState::kHalfOpen:
      return "half-open";
  }
  return "?";
}

const char* decision_kind_name(DecisionKind k) {
  switch (k) {
    case DecisionKind::kRestartAt:
      return "restart";
    case DecisionKind::kWaitForDependencies:
      return "wait_for_dependencies";
    case DecisionKind::kGiveUp:
      return "give_up";
    case DecisionKind::kCircuitOpen:
      return "circuit_open";
    case DecisionKind::kDoNotRestart:
      return "do_not_restart";
  }
  return "?";
}

RestartState RestartPolicy::on_spawn(RestartState s, MonoTime now) const {
  s.last_spawn = now;
  if (s.circuit == CircuitState::kOpen) s.circuit = CircuitState::kHalfOpen;
  return s;
}

RestartState RestartPolicy::on_stable_run(RestartState s) const {
  s.recent_restarts.clear();
  s.consecutive_failures = 0;
  s.quick_failures = 0;
  s.circuit = CircuitState::kClosed;
  s.circuit_until.reset();
  return s;
}

RestartState RestartPolicy::reset(RestartState s) {
  s.recent_restarts.clear();
  s.consecutive_failures = 0;
  s.quick_failures = 0;
  s.circuit = CircuitState::kClosed;
  s.circuit_until.reset();
  s.gave_up = false;
  s.gave_up_reason.clear();
  return s;
}

void RestartPolicy::prune(RestartState& s, MonoTime now) const {
  // A restart scheduled in the future (a pending one) stays; those older than
  // the window leave it.
  auto& r = s.recent_restarts;
  r.erase(std::remove_if(r.begin(), r.end(),
                         [&](MonoTime t) { return now - t >= config_.restart_window; }),
          r.end());
}

int RestartPolicy::restarts_in_window(const RestartState& s, MonoTime now) const {
  RestartState copy = s;
  prune(copy, now);
  return static_cast<int>(copy.recent_restarts.size());
}

Duration RestartPolicy::floor_delay(const RestartState& s, MonoTime now) const {
  if (!s.last_spawn) return Duration{0};
  Duration left = *s.last_spawn + config_.min_spawn_interval - now;
  return std::max(left, Duration{0});
}

PolicyStep RestartPolicy::schedule(RestartState s, DecisionKind kind, MonoTime at, MonoTime now,
                                   std::string reason) const {
  s.recent_restarts.push_back(at);
  ++s.total_restarts;
  RestartDecision d;
  d.kind = kind;
  d.at = at;
  d.delay = std::max(at - now, Duration{0});
  d.attempt = static_cast<int>(s.recent_restarts.size());
  d.reason = std::move(reason);
  return {std::move(s), std::move(d)};
}

PolicyStep RestartPolicy::on_exit(RestartState s, const ExitFacts& facts, MonoTime now,
                                  double u) const {
  RestartDecision d;
  if (facts.requested) {
    d.reason = "stop requested";
    return {std::move(s), std::move(d)};
  }
  if (config_.mode == RestartMode::kNever) {
    d.reason = "restart = never";
    return {std::move(s), std::move(d)};
  }
  if (facts.clean && config_.mode == RestartMode::kOnFailure) {
    // A success is a healthy run whatever its length.
    s = on_stable_run(std::move(s));
    d.reason = "exited 0 (restart = on-failure)";
    return {std::move(s), std::move(d)};
  }

  bool stable = facts.uptime >= config_.stable_after;
  if (stable) s = on_stable_run(std::move(s));
  ++s.consecutive_failures;
  if (!stable) ++s.quick_failures;

  bool trial_failed = s.circuit == CircuitState::kHalfOpen && !stable;
  prune(s, now);
  if (static_cast<int>(s.recent_restarts.size()) >= config_.max_restarts) {
    // A failed trial re-opens the circuit even when no further trial follows.
    if (trial_failed) {
      s.circuit = CircuitState::kOpen;
      s.circuit_until = now;
    }
    s.gave_up = true;
    s.gave_up_reason = std::to_string(s.recent_restarts.size()) + " restart(s) within " +
                       format_duration(config_.restart_window) +
                       " used the budget (max_restarts = " + std::to_string(config_.max_restarts) +
                       ")";
    d.kind = DecisionKind::kGiveUp;
    d.reason = s.gave_up_reason;
    d.attempt = static_cast<int>(s.recent_restarts.size());
    return {std::move(s), std::move(d)};
  }

  if (!facts.deps_ready) {
    d.kind = DecisionKind::kWaitForDependencies;
    d.reason = "dependencies not completed";
    return {std::move(s), std::move(d)};
  }

  bool trips = config_.circuit_threshold > 0 && s.circuit == CircuitState::kClosed &&
               s.quick_failures >= config_.circuit_threshold;
  if (trial_failed || trips) {
    s.circuit = CircuitState::kOpen;
    MonoTime until = now + std::max(config_.circuit_cooldown, floor_delay(s, now));
    s.circuit_until = until;
    std::string why = trial_failed
                          ? "the half-open trial failed"
                          : std::to_string(s.quick_failures) + " consecutive runs shorter than " +
                                format_duration(config_.stable_after);
    return schedule(std::move(s), DecisionKind::kCircuitOpen, until, now, std::move(why));
  }

  // The first failure of a story restarts at once (as s6 restarts a service
  // that was up over a second: the floor below holds back one that was not);
  // the backoff grows from the second: initial, then initial * factor, ...
  Duration backoff = s.consecutive_failures <= 1
                         ? Duration{0}
                         : backoff_delay(config_.backoff, s.consecutive_failures - 1, u);
  Duration delay = std::max(backoff, floor_delay(s, now));
  std::string why =
      stable ? "exited after a stable run"
             : "failure " + std::to_string(s.consecutive_failures) + " since the last stable run";
  return schedule(std::move(s), DecisionKind::kRestartAt, now + delay, now, std::move(why));
}

PolicyStep RestartPolicy::on_dependencies_ready(RestartState s, MonoTime now) const {
  prune(s, now);
  MonoTime at = now + floor_delay(s, now);
  return schedule(std::move(s), DecisionKind::kRestartAt, at, now, "dependencies completed");
}

// ---- serialisation ----

namespace {

// Monotonic → wall Unix ms as the wall clock reads now; 0 for "none".
std::int64_t to_unix_ms(const std::optional<MonoTime>& t, const ClockSnapshot& now) {
  if (!t) return 0;
  return std::chrono::duration_cast<std::chrono::milliseconds>(now.to_wall(*t).time_since_epoch())
      .count();
}
MonoTime from_unix_ms(std::int64_t ms, const ClockSnapshot& now) {
  return now.to_mono(WallTime(std::chrono::milliseconds(ms)));
}

// ';', '=', '%' and control characters are %XX-escaped so a reason cannot break
// the key=value framing.
std::string escape(std::string_view s) {
  static const char* hex = "0123456789ABCDEF";
  std::string out;
  for (unsigned char c : s) {
    if (c == ';' || c == '=' || c == '%' || c < 0x20 || c == 0x7f) {
      out += '%';
      out += hex[c >> 4];
      out += hex[c & 15];
    } else {
      out += static_cast<char>(c);
    }
  }
  return out;
}

bool unescape(std::string_view s, std::string& out) {
  out.clear();
  auto val = [](char c) -> int {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    return -1;
  };
  for (std::size_t i = 0; i < s.size(); ++i) {
    if (s[i] != '%') {
      out += s[i];
      continue;
    }
    if (i + 2 >= s.size()) return false;
    int hi = val(s[i + 1]), lo = val(s[i + 2]);
    if (hi < 0 || lo < 0) return false;
    out += static_cast<char>(hi * 16 + lo);
    i += 2;
  }
  return true;
}

bool parse_int(std::string_view s, std::int64_t& out) {
  auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), out);
  return ec == std::errc() && p == s.data() + s.size() && !s.empty();
}

}  // namespace

std::string serialize_restart_state(const RestartState& s, const ClockSnapshot& now) {
  std::string out = "v=1;restarts=";
  for (std::size_t i = 0; i < s.recent_restarts.size(); ++i) {
    if (i) out += ',';
    out += std::to_string(to_unix_ms(s.recent_restarts[i], now));
  }
  out += ";failures=" + std::to_string(s.consecutive_failures);
  out += ";quick=" + std::to_string(s.quick_failures);
  out += ";circuit=";
  out += circuit_state_name(s.circuit);
  out += ";until=" + std::to_string(to_unix_ms(s.circuit_until, now));
  out += ";spawn=" + std::to_string(to_unix_ms(s.last_spawn, now));
  out += ";total=" + std::to_string(s.total_restarts);
  out += ";gave_up=";
  out += s.gave_up ? "1" : "0";
  out += ";reason=" + escape(s.gave_up_reason);
  return out;
}

Result<RestartState> deserialize_restart_state(std::string_view text, const ClockSnapshot& now) {
  RestartState s;
  auto bad = [](std::string_view key, std::string_view value) {
    return make_error("restart state: cannot read '" + std::string(key) + "' from \"" +
                      std::string(value) + "\"");
  };
  std::size_t pos = 0;
  while (pos <= text.size()) {
    std::size_t end = text.find(';', pos);
    if (end == std::string_view::npos) end = text.size();
    std::string_view item = text.substr(pos, end - pos);
    pos = end + 1;
    if (item.empty()) continue;
    std::size_t eq = item.find('=');
    if (eq == std::string_view::npos) return bad(item, item);
    std::string_view key = item.substr(0, eq), value = item.substr(eq + 1);
    std::int64_t n = 0;
    if (key == "v") {
      if (!parse_int(value, n) || n != 1) return bad(key, value);
    } else if (key == "restarts") {
      std::size_t p = 0;
      while (p < value.size()) {
        std::size_t comma = value.find(',', p);
        if (comma == std::string_view::npos) comma = value.size();
        if (!parse_int(value.substr(p, comma - p), n)) return bad(key, value);
        s.recent_restarts.push_back(from_unix_ms(n, now));
        p = comma + 1;
      }
    } else if (key == "failures" || key == "quick") {
      if (!parse_int(value, n) || n < 0 || n > 1'000'000'000) return bad(key, value);
      (key == "failures" ? s.consecutive_failures : s.quick_failures) = static_cast<int>(n);
    } else if (key == "circuit") {
      if (value == "closed")
        s.circuit = CircuitState::kClosed;
      else if (value == "open")
        s.circuit = CircuitState::kOpen;
      else if (value == "half-open")
        s.circuit = CircuitState::kHalfOpen;
      else
        return bad(key, value);
    } else if (key == "until" || key == "spawn") {
      if (!parse_int(value, n)) return bad(key, value);
      auto& t = key == "until" ? s.circuit_until : s.last_spawn;
      if (n == 0)
        t.reset();
      else
        t = from_unix_ms(n, now);
    } else if (key == "total") {
      if (!parse_int(value, n) || n < 0) return bad(key, value);
      s.total_restarts = n;
    } else if (key == "gave_up") {
      if (value != "0" && value != "1") return bad(key, value);
      s.gave_up = value == "1";
    } else if (key == "reason") {
      if (!unescape(value, s.gave_up_reason)) return bad(key, value);
    }
    // Unknown keys: written by a newer version; ignored.
    if (end == text.size()) break;
  }
  return s;
}

}  // namespace aw
