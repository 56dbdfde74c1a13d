#include "src/alerts/alert_config.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <fstream>
#include <sstream>

#include "src/alerts/alert_engine.h"
#include "src/core/byte_size.h"

namespace aw::alerts {
namespace {

using namespace std::chrono_literals;

AlertsConfig parse_ok(std::string_view text) {
  auto c = parse_alerts_config(text, "a.toml");
  EXPECT_TRUE(c.ok()) << c.error().message;
  return c.ok() ? *c : AlertsConfig{};
}

std::string error_of(std::string_view text) {
  auto c = parse_alerts_config(text, "a.toml");
  return c.ok() ? "(parsed)" : c.error().message;
}

std::vector<std::string> names(const AlertsConfig& c) {
  std::vector<std::string> out;
  for (const AlertSpec& s : c.alerts) out.push_back(s.name);
  return out;
}

TEST(AlertConfigTest, ReadsEveryKey) {
  const AlertsConfig c = parse_ok(R"(
[[alert]]
name = "failures"
metric = "failure_rate"
above = "20%"
clear = 0.1
window = "10m"
for = "2m"
severity = "critical"
min_interval = "30m"
entity = "fleet"
)");
  ASSERT_EQ(c.alerts.size(), 1u);
  EXPECT_FALSE(c.shipped_defaults);
  const AlertSpec& s = c.alerts[0];
  EXPECT_EQ(s.name, "failures");
  EXPECT_EQ(s.measure, Measure::kFailureRate);
  EXPECT_EQ(s.direction, Direction::kAbove);
  EXPECT_DOUBLE_EQ(s.threshold, 0.2);
  EXPECT_DOUBLE_EQ(s.clear, 0.1);
  EXPECT_EQ(s.window, 10min);
  EXPECT_EQ(s.hold, 2min);
  EXPECT_EQ(s.severity, Severity::kCritical);
  EXPECT_EQ(s.min_interval, 30min);
  EXPECT_EQ(s.entity, "fleet");
  EXPECT_FALSE(s.shipped);
}

TEST(AlertConfigTest, DefaultsAndByteSizes) {
  const AlertsConfig c = parse_ok(R"(
[[alert]]
name = "disk"
metric = "disk_used_bytes"
below = "1.5GiB"
)");
  ASSERT_EQ(c.alerts.size(), 1u);
  const AlertSpec& s = c.alerts[0];
  EXPECT_EQ(s.direction, Direction::kBelow);
  EXPECT_EQ(s.threshold, 1.5 * 1024 * 1024 * 1024);
  EXPECT_EQ(s.clear, s.threshold);  // no hysteresis unless asked
  EXPECT_EQ(s.window, 5min);
  EXPECT_EQ(s.hold, 0s);
  EXPECT_EQ(s.severity, Severity::kWarning);
  EXPECT_EQ(s.min_interval, 10min);
  EXPECT_EQ(s.entity, "");
}

TEST(AlertConfigTest, ShippedAlertsUnlessYoursOrTurnedOff) {
  const AlertsConfig none = parse_ok("");
  EXPECT_TRUE(none.shipped_defaults);
  EXPECT_EQ(none.alerts, shipped_default_alerts());

  const AlertsConfig off = parse_ok("[alerts]\ndefaults = false\n");
  EXPECT_FALSE(off.shipped_defaults);
  EXPECT_TRUE(off.alerts.empty());

  const char* mine = R"(
[[alert]]
name = "memory-peak"
metric = "peak_rss_bytes"
above = "4GiB"
[[alert]]
name = "restarts"
metric = "worker_restarts"
above = 3
)";
  EXPECT_EQ(names(parse_ok(mine)), (std::vector<std::string>{"memory-peak", "restarts"}));

  // defaults = true keeps both; yours replaces a shipped one of the same name, in its place.
  const AlertsConfig both = parse_ok(std::string("[alerts]\ndefaults = true\n") + mine);
  std::vector<std::string> expected;
  for (const AlertSpec& s : shipped_default_alerts()) expected.emplace_back(s.name);
  expected.emplace_back("restarts");
  EXPECT_EQ(names(both), expected);
  const auto peak = std::find_if(both.alerts.begin(), both.alerts.end(),
                                 [](const AlertSpec& s) { return s.name == "memory-peak"; });
  EXPECT_EQ(peak->threshold, 4.0 * 1024 * 1024 * 1024);
  EXPECT_FALSE(peak->shipped);
}

TEST(AlertConfigTest, UnknownMetricSuggestsAndNamesLineAndColumn) {
  EXPECT_EQ(error_of("[[alert]]\nname = \"x\"\nmetric = \"failure_rat\"\nabove = 0.1\n"),
            "a.toml:3:10: error: 'metric': unknown value \"failure_rat\"; did you mean "
            "'failure_rate'? (expected failure_rate, p95_duration_seconds, peak_rss_bytes, "
            "execution_rate_drop, stale_sessions, disk_used_bytes, worker_restarts or "
            "stuck_entities)");
}

TEST(AlertConfigTest, UnknownKeySuggests) {
  EXPECT_EQ(error_of("[[alert]]\nname = \"x\"\nmetric = \"stale_sessions\"\nabove = 5\n"
                     "windw = \"5m\"\n"),
            "a.toml:5:1: error: unknown key 'windw' in [[alert]]; did you mean 'window'?");
}

TEST(AlertConfigTest, ThresholdMistakes) {
  const std::string head = "[[alert]]\nname = \"x\"\nmetric = \"failure_rate\"\n";
  EXPECT_EQ(error_of(head + "above = 0.1\nbelow = 0.05\n"),
            "a.toml:5:9: error: [[alert]] 'x' has both 'above' and 'below': give one threshold");
  EXPECT_EQ(error_of(head),
            "a.toml:1:1: error: [[alert]] 'x' needs a threshold: 'above' or "
            "'below'");
  EXPECT_EQ(error_of(head + "above = 1.5\n"),
            "a.toml:4:9: error: 'above': failure_rate is between 0 and 1 (\"0%\" and \"100%\")");
  EXPECT_EQ(error_of(head + "above = \"1GiB\"\n"),
            "a.toml:4:9: error: 'above': expected a percentage like \"20%\", not \"1GiB\"");
  EXPECT_EQ(error_of(head + "above = true\n"),
            "a.toml:4:9: error: 'above' expects a number or a percentage like \"20%\", not a "
            "boolean");
  EXPECT_EQ(error_of(head + "above = 0.2\nclear = 0.3\n"),
            "a.toml:5:9: error: 'clear' must be at or below 'above' (0.2): it is the value the "
            "measure must come back to before the alert resolves");
  EXPECT_EQ(
      error_of("[[alert]]\nname = \"x\"\nmetric = \"p95_duration_seconds\"\nabove = \"30s\"\n"),
      "a.toml:4:9: error: 'above' expects a number, not a string");
  EXPECT_EQ(error_of("[[alert]]\nname = \"x\"\nmetric = \"peak_rss_bytes\"\nabove = \"1GB!\"\n"),
            "a.toml:4:9: error: 'above': " + parse_byte_size("1GB!").error().message);
}

TEST(AlertConfigTest, NamesDurationsAndSeverity) {
  EXPECT_EQ(error_of("[[alert]]\nmetric = \"stale_sessions\"\nabove = 5\n"),
            "a.toml:1:1: error: [[alert]] needs a 'name'");
  EXPECT_EQ(error_of("[[alert]]\nname = \"Bad Name\"\nmetric = \"stale_sessions\"\nabove = 5\n"),
            "a.toml:2:8: error: 'name': expected lowercase letters, digits, '_', '.' or '-', "
            "starting with a letter or digit, not \"Bad Name\"");
  EXPECT_EQ(error_of("[[alert]]\nname = \"x\"\nabove = 5\n"),
            "a.toml:1:1: error: [[alert]] 'x' needs a 'metric' (failure_rate, "
            "p95_duration_seconds, peak_rss_bytes, execution_rate_drop, stale_sessions, "
            "disk_used_bytes, worker_restarts or stuck_entities)");
  const std::string head = "[[alert]]\nname = \"x\"\nmetric = \"stale_sessions\"\nabove = 5\n";
  EXPECT_EQ(error_of(head + "window = \"48h\"\n"),
            "a.toml:5:10: error: 'window': at most 24h (longer windows are not kept)");
  EXPECT_EQ(error_of(head + "window = \"0s\"\n"),
            "a.toml:5:10: error: 'window' must be longer than 0");
  EXPECT_EQ(error_of(head + "for = 5\n"),
            "a.toml:5:7: error: 'for' expects a duration string like \"30s\", not an integer");
  EXPECT_EQ(error_of(head + "severity = \"critcal\"\n"),
            "a.toml:5:12: error: 'severity': unknown value \"critcal\"; did you mean 'critical'? "
            "(expected warning or critical)");
}

TEST(AlertConfigTest, DuplicatesAndShapes) {
  const std::string one = "[[alert]]\nname = \"x\"\nmetric = \"stale_sessions\"\nabove = 5\n";
  EXPECT_EQ(error_of(one + one), "a.toml:6:8: error: duplicate alert name 'x' (first at line 2)");
  EXPECT_EQ(error_of("[alert]\nname = \"x\"\n"),
            "a.toml:1:1: error: 'alert' expects [[alert]] tables, not a table");
  EXPECT_EQ(error_of("[[alerts]]\nname = \"x\"\n"),
            "a.toml:1:1: error: 'alerts' must be the table [alerts] (defaults = true or false); "
            "each alert is an [[alert]] table");
  EXPECT_EQ(error_of("[alerts]\ndefault = false\n"),
            "a.toml:2:1: error: unknown key 'default' in [alerts]; did you mean 'defaults'? "
            "(alerts themselves are [[alert]] tables)");
}

TEST(AlertConfigTest, EveryMistakeIsReportedNotJustTheFirst) {
  const std::string text = error_of(R"([[alert]]
name = "a"
metric = "nope"
above = 1
[[alert]]
name = "b"
metric = "failure_rate"
above = 0.2
severity = "loud"
)");
  EXPECT_NE(text.find("a.toml:3:10: error: 'metric'"), std::string::npos) << text;
  EXPECT_NE(text.find("a.toml:9:12: error: 'severity'"), std::string::npos) << text;
}

// docs/alerts.md shows the shipped alerts as the [[alert]] tables that would
// declare them; they must stay what shipped_default_alerts() returns.
TEST(AlertConfigTest, TheDocumentedShippedAlertsAreTheShippedAlerts) {
  std::ifstream in(std::string(AW_SOURCE_DIR) + "/docs/alerts.md");
  ASSERT_TRUE(in) << "docs/alerts.md";
  std::stringstream ss;
  ss << in.rdbuf();
  const std::string doc = ss.str();
  const std::string marker = "<!-- shipped-alerts -->\n```toml\n";
  const std::size_t start = doc.find(marker);
  ASSERT_NE(start, std::string::npos) << "the marker before the shipped alerts' block";
  const std::size_t body = start + marker.size();
  const std::string block = doc.substr(body, doc.find("```", body) - body);
  AlertsConfig documented = parse_ok(block);
  std::vector<AlertSpec> shipped = shipped_default_alerts();
  for (AlertSpec& s : shipped) s.shipped = false;
  EXPECT_EQ(documented.alerts, shipped);
}

// A fleet that the shipped alerts watch: failures climb past 10 %, then 20 %,
// then stop.
TEST(AlertConfigTest, TheShippedAlertsBehave) {
  const WallTime t0 = WallTime(std::chrono::seconds(1'800'000'000));
  AlertEngine engine(shipped_default_alerts());
  SampledMeasures measures(engine.needs());
  WallTime now = t0;
  double executions = 0;
  double failed = 0;
  std::vector<AlertTransition> seen;
  // 12 executions a minute (one every 5 s: two per 10-second tick).
  auto run = [&](Duration d, int failures_per_ten) {
    for (auto end = now + d; now < end;) {
      now += 10s;
      for (int i = 0; i < 2; ++i) {
        executions += 1;
        if (static_cast<int>(executions) % 10 < failures_per_ten) failed += 1;
      }
      measures.record({now, Input::kExecutionsTotal, executions});
      measures.record({now, Input::kFailedTotal, failed});
      measures.record({now, Input::kPeakRssBytes, 0});
      measures.record({now, Input::kStaleSessions, 0});
      measures.record({now, Input::kDiskUsedBytes, 1e6});
      for (auto& t : engine.evaluate(now, measures)) seen.push_back(t);
    }
  };
  auto raised = [&](std::string_view name) {
    return std::count_if(seen.begin(), seen.end(), [&](const AlertTransition& t) {
      return t.kind == TransitionKind::kRaised && t.name == name;
    });
  };
  run(30min, 0);
  EXPECT_TRUE(seen.empty());
  run(30min, 1);  // 10 %: at the threshold, not past it
  EXPECT_TRUE(seen.empty());
  run(30min, 3);  // 30 %
  EXPECT_EQ(raised("failure-rate-warning"), 1);
  EXPECT_EQ(raised("failure-rate-critical"), 1);
  EXPECT_EQ(engine.active().size(), 2u);
  run(30min, 0);
  EXPECT_TRUE(engine.active().empty());
  EXPECT_EQ(seen.size(), 4u);  // two raises, two resolves: nothing else
}

}  // namespace
}  // namespace aw::alerts
