#include "src/alerts/alert_config.h"

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <map>
#include <optional>

#include "src/core/byte_size.h"
#include "src/core/duration.h"
#include "src/core/event.h"

namespace aw::alerts {
namespace {

using namespace std::chrono_literals;

const KeyList kAlertKeys{"name", "metric",   "above", "below",        "window",
                         "for",  "severity", "clear", "min_interval", "entity"};
const KeyList kSeverities{"warning", "critical"};

bool valid_name(std::string_view s) {
  auto ok = [](char c, bool first) {
    return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
           (!first && (c == '_' || c == '.' || c == '-'));
  };
  if (s.empty() || !ok(s[0], true)) return false;
  for (char c : s.substr(1))
    if (!ok(c, false)) return false;
  return true;
}

KeyList measure_names() {
  KeyList names;
  for (const MeasureInfo& m : all_measures()) names.push_back(m.name);
  return names;
}

// Reads one [[alert]] table. Each mistake is reported; nullopt when any was.
class AlertReader {
 public:
  AlertReader(const toml::table& t, TomlReader& p)
      : t_(t), p_(p), errors_before_(p.error_count()) {}

  std::optional<AlertSpec> read() {
    p_.check_keys(t_, kAlertKeys, "in [[alert]]");
    read_name();
    const bool measure_known = read_metric();
    if (measure_known) read_thresholds();
    read_duration("window", spec_.window, true);
    if (spec_.window > SampledMeasures::kMaxWindow)
      p_.error(*t_.get("window"), "'window': at most 24h (longer windows are not kept)");
    read_duration("for", spec_.hold, false);
    read_duration("min_interval", spec_.min_interval, false);
    if (const toml::node* n = t_.get("severity"))
      if (auto i = p_.get_choice(*n, "severity", kSeverities))
        spec_.severity = static_cast<Severity>(*i);
    if (const toml::node* n = t_.get("entity"))
      if (auto s = p_.get_string(*n, "entity")) spec_.entity = *s;
    if (p_.error_count() != errors_before_) return std::nullopt;
    return spec_;
  }

 private:
  // How a mistake names the alert: "[[alert]] 'name'" once it has one.
  std::string which() const {
    return spec_.name.empty() ? "[[alert]]" : "[[alert]] '" + spec_.name + "'";
  }

  void read_name() {
    const toml::node* n = t_.get("name");
    if (!n) return p_.error(t_, "[[alert]] needs a 'name'");
    auto s = p_.get_string(*n, "name");
    if (!s) return;
    if (!valid_name(*s))
      return p_.error(*n,
                      "'name': expected lowercase letters, digits, '_', '.' or '-', starting "
                      "with a letter or digit, not " +
                          quoted(*s));
    spec_.name = *s;
  }

  bool read_metric() {
    const toml::node* n = t_.get("metric");
    if (!n) {
      p_.error(t_, which() + " needs a 'metric' (" + join_keys(measure_names()) + ")");
      return false;
    }
    auto i = p_.get_choice(*n, "metric", measure_names());
    if (!i) return false;
    spec_.measure = all_measures()[*i].measure;
    return true;
  }

  void read_thresholds() {
    const toml::node* above = t_.get("above");
    const toml::node* below = t_.get("below");
    if (above && below)
      return p_.error(*below, which() + " has both 'above' and 'below': give one threshold");
    if (!above && !below) return p_.error(t_, which() + " needs a threshold: 'above' or 'below'");
    spec_.direction = above ? Direction::kAbove : Direction::kBelow;
    const char* key = above ? "above" : "below";
    auto threshold = read_value(above ? *above : *below, key);
    if (!threshold) return;
    spec_.threshold = spec_.clear = *threshold;
    const toml::node* cn = t_.get("clear");
    if (!cn) return;
    auto clear = read_value(*cn, "clear");
    if (!clear) return;
    const bool wrong_side = above ? *clear > *threshold : *clear < *threshold;
    if (wrong_side)
      return p_.error(*cn, std::string("'clear' must be ") +
                               (above ? "at or below" : "at or above") + " '" + key + "' (" +
                               field_to_string(*threshold) +
                               "): it is the value the measure must come back to before the "
                               "alert resolves");
    spec_.clear = *clear;
  }

  // A threshold in the measure's unit: a number; "20%" for a ratio; "1GiB"
  // for bytes.
  std::optional<double> read_value(const toml::node& v, std::string_view key) {
    const Unit unit = info(spec_.measure).unit;
    std::optional<double> value;
    if (const auto* i = v.as_integer()) value = static_cast<double>(i->get());
    if (const auto* f = v.as_floating_point()) value = f->get();
    if (const auto* s = v.as_string(); s && unit == Unit::kBytes) {
      Result<std::uint64_t> bytes = parse_byte_size(s->get());
      if (!bytes) {
        p_.error(v, "'" + std::string(key) + "': " + bytes.error().message);
        return std::nullopt;
      }
      value = static_cast<double>(*bytes);
    }
    if (const auto* s = v.as_string(); s && unit == Unit::kRatio) {
      value = parse_percent(s->get());
      if (!value) {
        p_.error(v, "'" + std::string(key) + "': expected a percentage like \"20%\", not " +
                        quoted(s->get()));
        return std::nullopt;
      }
    }
    if (!value) {
      p_.wrong_type(v, key,
                    unit == Unit::kBytes   ? "a number of bytes or a size like \"1GiB\""
                    : unit == Unit::kRatio ? "a number or a percentage like \"20%\""
                                           : "a number");
      return std::nullopt;
    }
    if (!std::isfinite(*value)) {
      p_.error(v, "'" + std::string(key) + "': expected a finite number");
      return std::nullopt;
    }
    const std::string_view metric = measure_name(spec_.measure);
    if (spec_.measure == Measure::kFailureRate && (*value < 0 || *value > 1)) {
      p_.error(v, "'" + std::string(key) + "': " + std::string(metric) +
                      " is between 0 and 1 (\"0%\" and \"100%\")");
      return std::nullopt;
    }
    if (spec_.measure == Measure::kExecutionRateDrop && *value > 1) {
      p_.error(v, "'" + std::string(key) + "': " + std::string(metric) +
                      " is at most 1 (every execution gone; negative values are growth)");
      return std::nullopt;
    }
    if (unit != Unit::kRatio && *value < 0) {
      p_.error(v, "'" + std::string(key) + "': " + std::string(metric) + " is never negative");
      return std::nullopt;
    }
    return value;
  }

  static std::optional<double> parse_percent(std::string_view s) {
    if (s.size() < 2 || s.back() != '%') return std::nullopt;
    const std::string number(s.substr(0, s.size() - 1));
    char* end = nullptr;
    const double v = std::strtod(number.c_str(), &end);
    if (end != number.c_str() + number.size() || number.find_first_of(" \t") != std::string::npos)
      return std::nullopt;
    return v / 100;
  }

  void read_duration(std::string_view key, Duration& out, bool positive) {
    const toml::node* n = t_.get(key);
    if (!n) return;
    if (auto d = p_.get_duration(*n, key, positive)) out = *d;
  }

  const toml::table& t_;
  TomlReader& p_;
  std::size_t errors_before_;
  AlertSpec spec_;
};

AlertSpec shipped(std::string name, Measure m, double above, double clear, Duration window,
                  Duration hold, Severity severity = Severity::kWarning) {
  AlertSpec s;
  s.name = std::move(name);
  s.measure = m;
  s.direction = Direction::kAbove;
  s.threshold = above;
  s.clear = clear;
  s.window = window;
  s.hold = hold;
  s.severity = severity;
  s.shipped = true;
  return s;
}

}  // namespace

std::string_view severity_name(Severity s) {
  return s == Severity::kCritical ? "critical" : "warning";
}

std::string_view direction_name(Direction d) {
  return d == Direction::kBelow ? "below" : "above";
}

std::vector<AlertSpec> shipped_default_alerts() {
  constexpr double kGiB = 1024.0 * 1024 * 1024;
  // Windows of 15 minutes with 5 minutes of `for`: a fleet runs a few
  // executions a minute, so a shorter window turns one unlucky run into an
  // alert. Each `clear` sits below its threshold so a value hovering at the
  // line does not raise and resolve by turns.
  return {
      shipped("failure-rate-warning", Measure::kFailureRate, 0.10, 0.05, 15min, 5min),
      shipped("failure-rate-critical", Measure::kFailureRate, 0.20, 0.10, 15min, 5min,
              Severity::kCritical),
      shipped("slow-executions", Measure::kP95DurationSeconds, 30, 20, 15min, 5min),
      // One run is enough: a run that needed that much memory is the news.
      shipped("memory-peak", Measure::kPeakRssBytes, kGiB, kGiB, 5min, 0s),
      shipped("execution-rate-drop", Measure::kExecutionRateDrop, 0.5, 0.3, 15min, 5min),
      shipped("stale-sessions", Measure::kStaleSessions, 5, 5, 5min, 5min),
      shipped("disk-usage", Measure::kDiskUsedBytes, kGiB, kGiB, 5min, 5min),
  };
}

void read_alerts(const toml::table& root, TomlReader& p, AlertsConfig& out) {
  std::optional<bool> defaults;
  if (const toml::node* n = root.get("alerts")) {
    if (const auto* t = n->as_table()) {
      p.check_keys(*t, {"defaults", "interval"}, "in [alerts]",
                   " (alerts themselves are [[alert]] tables)");
      if (const toml::node* d = t->get("defaults")) defaults = p.get_bool(*d, "defaults");
      if (const toml::node* i = t->get("interval"))
        if (auto d = p.get_duration(*i, "interval", true)) out.interval = *d;
    } else {
      p.error(*n,
              "'alerts' must be the table [alerts] (defaults = true or false); each alert is "
              "an [[alert]] table");
    }
  }
  std::vector<AlertSpec> yours;
  if (const toml::node* n = root.get("alert")) {
    if (const toml::array* arr = p.get_array_of_tables(*n, "alert", "[[alert]] tables")) {
      std::map<std::string, ConfigPos, std::less<>> seen;
      for (const toml::node& item : *arr) {
        const toml::table& t = *item.as_table();
        std::optional<AlertSpec> spec = AlertReader(t, p).read();
        if (!spec) continue;
        const ConfigPos at = TomlReader::pos(*t.get("name"));
        if (auto [it, fresh] = seen.emplace(spec->name, at); !fresh) {
          p.error(at, "duplicate alert name '" + spec->name + "' (first at line " +
                          std::to_string(it->second.line) + ")");
          continue;
        }
        yours.push_back(std::move(*spec));
      }
    }
  }
  out.shipped_defaults = defaults.value_or(yours.empty() && !root.get("alert"));
  out.alerts.clear();
  if (out.shipped_defaults) out.alerts = shipped_default_alerts();
  for (AlertSpec& spec : yours) {
    auto same = std::find_if(out.alerts.begin(), out.alerts.end(),
                             [&](const AlertSpec& a) { return a.name == spec.name; });
    if (same != out.alerts.end())
      *same = std::move(spec);  // yours replaces the shipped one, in its place
    else
      out.alerts.push_back(std::move(spec));
  }
}

Result<AlertsConfig> parse_alerts_config(std::string_view text, const std::string& source_name) {
  std::vector<ConfigError> errors;
  TomlReader p(source_name, text, errors);
  std::optional<toml::table> root = p.parse();
  if (!root) return make_error(config_errors_text(errors));
  AlertsConfig out;
  read_alerts(*root, p, out);
  if (!errors.empty()) return make_error(config_errors_text(errors));
  return out;
}

}  // namespace aw::alerts
