// [[alert]] tables and [alerts] in agentwatch.toml (docs/alerts.md):
//
//   [alerts]
//   defaults = true            # the shipped alerts (shipped_default_alerts())
//
//   [[alert]]
//   name = "failures"          # required, unique: [a-z0-9][a-z0-9_.-]*
//   metric = "failure_rate"    # required: one of all_measures()
//   above = 0.2                # or below = ...; exactly one. "20%" for a ratio, "1GiB" for bytes
//   clear = 0.1                # hysteresis: resolve only once back past this (default: the
//   threshold) window = "5m"              # what the measure looks at (default 5m, at most 24h) for
//   = "2m"                 # how long it must hold before it fires (default 0s) severity =
//   "critical"      # "warning" (default) or "critical" min_interval = "10m"       # flap damping:
//   no new raise sooner after a resolve (default 10m) entity = "fleet"           # optional: the
//   entity its events name
//
// Without [[alert]] tables the shipped alerts apply; with some, only yours,
// unless [alerts] defaults = true keeps both (yours replace shipped ones of the
// same name, in place); defaults = false turns the shipped ones off either way.
//
// Every mistake goes through the document's TomlReader: FILE:LINE:COLUMN and
// what was expected, "did you mean" for a misspelt key or metric. Pure.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "src/alerts/alert_metrics.h"
#include "src/config/toml_reader.h"
#include "src/core/clock.h"
#include "src/core/result.h"

namespace aw::alerts {

enum class Severity : std::uint8_t { kWarning, kCritical };
std::string_view severity_name(Severity s);

enum class Direction : std::uint8_t { kAbove, kBelow };
std::string_view direction_name(Direction d);

struct AlertSpec {
  std::string name;
  Measure measure = Measure::kFailureRate;
  Direction direction = Direction::kAbove;
  double threshold = 0;
  double clear = 0;  // == threshold unless `clear` was given
  Duration window = std::chrono::minutes(5);
  Duration hold{0};  // `for`
  Severity severity = Severity::kWarning;
  Duration min_interval = std::chrono::minutes(10);
  std::string entity;
  bool shipped = false;  // from shipped_default_alerts()

  // The condition: strictly past the threshold.
  bool breached(double v) const {
    return direction == Direction::kAbove ? v > threshold : v < threshold;
  }
  // A firing alert resolves once the value is back at or past `clear`; with
  // clear == threshold that is exactly "the condition no longer holds".
  bool cleared(double v) const { return direction == Direction::kAbove ? v <= clear : v >= clear; }

  friend bool operator==(const AlertSpec&, const AlertSpec&) = default;
};

struct AlertsConfig {
  std::vector<AlertSpec> alerts;  // what the engine runs: shipped (unless off) and yours
  bool shipped_defaults = true;   // whether the shipped ones are among them
  // How often the daemon samples the measures and evaluates ([alerts] interval).
  Duration interval = std::chrono::seconds(10);
};

// The fleet defaults, what an agentwatch.toml without [[alert]] gets
// (docs/alerts.md, "Shipped alerts").
std::vector<AlertSpec> shipped_default_alerts();

// Reads [alerts] and [[alert]] of a parsed agentwatch.toml into `out`; every
// mistake is reported through `p` (and `out` is then not to be used). The
// caller checks the top-level keys (add "alert" and "alerts" to its list).
void read_alerts(const toml::table& root, TomlReader& p, AlertsConfig& out);

// The same from a whole document, for tests and tools: other top-level keys
// are ignored. Errors come back one per line.
Result<AlertsConfig> parse_alerts_config(std::string_view text, const std::string& source_name);

}  // namespace aw::alerts
