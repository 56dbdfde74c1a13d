#include "src/alerts/alert_engine.h"

#include <gtest/gtest.h>

#include <map>

namespace aw::alerts {
namespace {

using namespace std::chrono_literals;

const WallTime kStart = WallTime(std::chrono::seconds(1'800'000'000));

// Values set by the test, per measure; absent means "no value".
class FakeSource final : public MeasureSource {
 public:
  void set(Measure m, std::optional<double> v) { values_[m] = v; }
  std::optional<double> value(Measure m, Duration, WallTime) const override {
    auto it = values_.find(m);
    return it == values_.end() ? std::nullopt : it->second;
  }

 private:
  std::map<Measure, std::optional<double>> values_;
};

AlertSpec failure_alert(Duration hold = 2min, double clear = 0.2) {
  AlertSpec s;
  s.name = "failures";
  s.measure = Measure::kFailureRate;
  s.threshold = 0.2;
  s.clear = clear;
  s.hold = hold;
  s.severity = Severity::kCritical;
  s.entity = "fleet";
  return s;
}

// Drives one engine through time, every 10 s, like the daemon's timer.
struct Timeline {
  explicit Timeline(std::vector<AlertSpec> specs) : engine(std::move(specs)) {}
  AlertEngine engine;
  FakeSource source;
  WallTime now = kStart;
  std::vector<AlertTransition> seen;

  // Evaluates at now, then every 10 s until now + d (inclusive).
  std::vector<AlertTransition> run_for(Duration d) {
    std::vector<AlertTransition> out;
    const WallTime end = now + d;
    for (;;) {
      for (auto& t : engine.evaluate(now, source)) out.push_back(t);
      if (now + 10s > end) break;
      now += 10s;
    }
    seen.insert(seen.end(), out.begin(), out.end());
    return out;
  }
  void step(Duration d) { now += d; }
  Phase phase(std::string_view name = "failures") const { return engine.state(name)->phase; }
};

TEST(AlertEngineTest, RaisesOnceTheConditionHeldForFor) {
  Timeline r({failure_alert(2min)});
  r.source.set(Measure::kFailureRate, 0.5);
  EXPECT_TRUE(r.run_for(1min + 50s).empty());
  EXPECT_EQ(r.phase(), Phase::kPending);
  r.step(10s);
  auto ts = r.run_for(0s);
  ASSERT_EQ(ts.size(), 1u);
  const AlertTransition& t = ts[0];
  EXPECT_EQ(t.kind, TransitionKind::kRaised);
  EXPECT_EQ(t.name, "failures");
  EXPECT_EQ(t.severity, Severity::kCritical);
  EXPECT_EQ(t.measure, Measure::kFailureRate);
  EXPECT_EQ(t.value, 0.5);
  EXPECT_EQ(t.threshold, 0.2);
  EXPECT_EQ(t.since, kStart);  // when the condition began to hold
  EXPECT_EQ(t.at, kStart + 2min);
  EXPECT_EQ(t.flaps, 0u);
  EXPECT_EQ(t.entity, "fleet");
  EXPECT_EQ(r.phase(), Phase::kFiring);
  // Still past the threshold: no second raise.
  EXPECT_TRUE(r.run_for(30min).empty());
  auto active = r.engine.active();
  ASSERT_EQ(active.size(), 1u);
  EXPECT_EQ(active[0].name, "failures");
  EXPECT_EQ(active[0].since, kStart + 2min);
  EXPECT_EQ(active[0].value, 0.5);
}

TEST(AlertEngineTest, ZeroForRaisesAtTheFirstEvaluation) {
  Timeline r({failure_alert(0s)});
  r.source.set(Measure::kFailureRate, 0.3);
  auto ts = r.run_for(0s);
  ASSERT_EQ(ts.size(), 1u);
  EXPECT_EQ(ts[0].since, kStart);
  EXPECT_EQ(ts[0].at, kStart);
}

TEST(AlertEngineTest, NoRaiseWhenTheConditionBreaksBeforeFor) {
  Timeline r({failure_alert(2min)});
  r.source.set(Measure::kFailureRate, 0.5);
  r.run_for(1min + 50s);
  r.step(10s);
  r.source.set(Measure::kFailureRate, 0.2);  // at the threshold: not past it
  r.run_for(0s);
  EXPECT_EQ(r.phase(), Phase::kInactive);
  // The condition returns: `for` counts from its return, not from the first.
  r.step(10s);
  r.source.set(Measure::kFailureRate, 0.5);
  EXPECT_TRUE(r.run_for(1min + 50s).empty());
  r.step(10s);
  auto ts = r.run_for(0s);
  ASSERT_EQ(ts.size(), 1u);
  EXPECT_EQ(ts[0].since, kStart + 2min + 10s);
  EXPECT_TRUE(r.engine.active().size() == 1);
}

TEST(AlertEngineTest, NoValueKeepsTheStateAndItsTimes) {
  Timeline r({failure_alert(2min)});
  r.source.set(Measure::kFailureRate, 0.5);
  r.run_for(1min);
  r.source.set(Measure::kFailureRate, std::nullopt);  // no executions in the window
  EXPECT_TRUE(r.run_for(5min).empty());
  EXPECT_EQ(r.phase(), Phase::kPending);
  EXPECT_EQ(r.engine.state("failures")->pending_since, kStart);
  r.source.set(Measure::kFailureRate, 0.5);
  r.step(10s);
  auto ts = r.run_for(0s);
  ASSERT_EQ(ts.size(), 1u);
  EXPECT_EQ(ts[0].since, kStart);
  // Firing, then no value: still firing.
  r.source.set(Measure::kFailureRate, std::nullopt);
  EXPECT_TRUE(r.run_for(1h).empty());
  EXPECT_EQ(r.phase(), Phase::kFiring);
}

TEST(AlertEngineTest, ResolvesOnlyPastClear) {
  Timeline r({failure_alert(0s, /*clear=*/0.1)});
  r.source.set(Measure::kFailureRate, 0.3);
  ASSERT_EQ(r.run_for(0s).size(), 1u);
  // Between clear (0.1) and the threshold (0.2): still firing.
  for (double v : {0.2, 0.15, 0.11, 0.19}) {
    r.step(10s);
    r.source.set(Measure::kFailureRate, v);
    EXPECT_TRUE(r.run_for(0s).empty()) << v;
    EXPECT_EQ(r.phase(), Phase::kFiring) << v;
  }
  r.step(10s);
  r.source.set(Measure::kFailureRate, 0.1);  // at clear: resolved
  auto ts = r.run_for(0s);
  ASSERT_EQ(ts.size(), 1u);
  EXPECT_EQ(ts[0].kind, TransitionKind::kResolved);
  EXPECT_EQ(ts[0].value, 0.1);
  EXPECT_EQ(ts[0].clear, 0.1);
  EXPECT_EQ(ts[0].since, kStart);  // when it was raised
  EXPECT_EQ(ts[0].at, kStart + 50s);
  EXPECT_EQ(r.phase(), Phase::kInactive);
  EXPECT_TRUE(r.engine.active().empty());
}

TEST(AlertEngineTest, BelowAlertsMirrorAbove) {
  AlertSpec s;
  s.name = "quiet-disk";
  s.measure = Measure::kDiskUsedBytes;
  s.direction = Direction::kBelow;
  s.threshold = 100;
  s.clear = 150;
  s.min_interval = 0s;
  Timeline r({s});
  r.source.set(Measure::kDiskUsedBytes, 100);
  EXPECT_TRUE(r.run_for(0s).empty());  // at the threshold: not below it
  r.source.set(Measure::kDiskUsedBytes, 99);
  ASSERT_EQ(r.run_for(0s).size(), 1u);
  r.source.set(Measure::kDiskUsedBytes, 149);
  EXPECT_TRUE(r.run_for(0s).empty());
  r.source.set(Measure::kDiskUsedBytes, 150);
  auto ts = r.run_for(0s);
  ASSERT_EQ(ts.size(), 1u);
  EXPECT_EQ(ts[0].kind, TransitionKind::kResolved);
}

TEST(AlertEngineTest, FlappingIsDampedAndCountedIntoTheNextRaise) {
  AlertSpec s = failure_alert(0s);
  s.min_interval = 10min;
  Timeline r({s});
  // The condition toggles every minute for an hour.
  std::vector<AlertTransition> all;
  for (int minute = 0; minute < 60; ++minute) {
    r.source.set(Measure::kFailureRate, minute % 2 == 0 ? 0.5 : 0.0);
    auto ts = r.run_for(50s);
    all.insert(all.end(), ts.begin(), ts.end());
    r.step(10s);
  }
  std::vector<AlertTransition> raises;
  for (const auto& t : all)
    if (t.kind == TransitionKind::kRaised) raises.push_back(t);
  ASSERT_GE(raises.size(), 2u);
  // One raise, then nothing for min_interval after its resolve.
  EXPECT_EQ(raises[0].at, kStart);
  EXPECT_EQ(raises[0].flaps, 0u);
  EXPECT_EQ(all[1].kind, TransitionKind::kResolved);
  EXPECT_EQ(all[1].at, kStart + 1min);
  // The next raise comes once min_interval has passed since that resolve,
  // and reports the returns it damped (minutes 2, 4, 6, 8 and 10), once.
  EXPECT_EQ(raises[1].at, kStart + 12min);
  EXPECT_EQ(raises[1].flaps, 5u);
  // Every later raise is min_interval after the previous resolve, each with
  // its own count, never a running total.
  for (std::size_t i = 1; i < raises.size(); ++i) {
    EXPECT_GE(raises[i].at - raises[i - 1].at, 11min) << i;
    EXPECT_EQ(raises[i].flaps, 5u) << i;
  }
  EXPECT_LE(raises.size(), 6u);  // not 30
}

TEST(AlertEngineTest, DampedConditionThatHoldsRaisesOnceMinIntervalPasses) {
  AlertSpec s = failure_alert(1min);
  s.min_interval = 10min;
  Timeline r({s});
  r.source.set(Measure::kFailureRate, 0.5);
  r.run_for(1min);  // raised at +1m
  r.step(10s);
  r.source.set(Measure::kFailureRate, 0.0);
  r.run_for(0s);  // resolved at +1m10s
  r.step(10s);
  r.source.set(Measure::kFailureRate, 0.5);  // back at once, and it holds
  auto ts = r.run_for(15min);
  ASSERT_EQ(ts.size(), 1u);
  EXPECT_EQ(ts[0].kind, TransitionKind::kRaised);
  EXPECT_EQ(ts[0].at, kStart + 1min + 10s + 10min);
  EXPECT_EQ(ts[0].since, kStart + 1min + 20s);
  EXPECT_EQ(ts[0].flaps, 1u);
}

TEST(AlertEngineTest, AWallClockSetBackNeitherHoldsForNorDampsForTheStep) {
  AlertSpec s = failure_alert(1min);
  s.min_interval = 10min;
  Timeline r({s});
  r.source.set(Measure::kFailureRate, 0.5);
  r.run_for(1min);  // raised
  r.step(10s);
  r.source.set(Measure::kFailureRate, 0.0);
  r.run_for(0s);  // resolved at +1m10s
  r.now -= 24h;   // the clock is set back a day
  r.source.set(Measure::kFailureRate, 0.5);
  auto ts = r.run_for(11min);
  ASSERT_EQ(ts.size(), 1u);  // damped for min_interval from the step, not for a day
  EXPECT_EQ(ts[0].at, kStart + 1min + 10s - 24h + 10min);
}

TEST(AlertEngineTest, EachAlertHasItsOwnMachine) {
  AlertSpec warn = failure_alert(0s);
  warn.name = "warn";
  warn.threshold = warn.clear = 0.1;
  warn.severity = Severity::kWarning;
  AlertSpec crit = failure_alert(0s);
  crit.name = "crit";
  Timeline r({warn, crit});
  r.source.set(Measure::kFailureRate, 0.15);
  auto ts = r.run_for(0s);
  ASSERT_EQ(ts.size(), 1u);
  EXPECT_EQ(ts[0].name, "warn");
  r.step(10s);
  r.source.set(Measure::kFailureRate, 0.25);
  ts = r.run_for(0s);
  ASSERT_EQ(ts.size(), 1u);
  EXPECT_EQ(ts[0].name, "crit");
  EXPECT_EQ(r.engine.active().size(), 2u);
}

TEST(AlertEngineTest, ChangesCountStateChangesNotEvaluations) {
  Timeline r({failure_alert(1min)});
  const std::uint64_t start = r.engine.changes();
  r.source.set(Measure::kFailureRate, 0.0);
  r.run_for(10min);
  EXPECT_EQ(r.engine.changes(), start);
  r.source.set(Measure::kFailureRate, 0.5);
  r.run_for(0s);
  EXPECT_EQ(r.engine.changes(), start + 1);  // pending
  EXPECT_TRUE(r.engine.any_pending());
  r.run_for(2min);
  EXPECT_EQ(r.engine.changes(), start + 2);  // firing
  EXPECT_FALSE(r.engine.any_pending());
}

TEST(AlertEngineTest, EventFieldsNameEverythingARuleNeeds) {
  AlertTransition t;
  t.kind = TransitionKind::kRaised;
  t.name = "failures";
  t.severity = Severity::kCritical;
  t.measure = Measure::kFailureRate;
  t.value = 0.25;
  t.threshold = 0.2;
  t.clear = 0.1;
  t.window = 5min;
  t.since = kStart;
  t.flaps = 3;
  const Fields f = alert_event_fields(t);
  EXPECT_EQ(f.get_string("alert"), "failures");
  EXPECT_EQ(f.get_string("severity"), "critical");
  EXPECT_EQ(f.get_string("metric"), "failure_rate");
  EXPECT_EQ(f.get_string("value"), "0.25");
  EXPECT_EQ(f.get_string("threshold"), "0.2");
  EXPECT_EQ(f.get_string("clear"), "0.1");
  EXPECT_EQ(f.get_string("direction"), "above");
  EXPECT_EQ(f.get_string("window"), "5m");
  EXPECT_EQ(f.get_string("since"), "2027-01-15T08:00:00.000Z");
  EXPECT_EQ(f.get_int("flaps"), 3);
}

TEST(AlertEngineTest, NeedsListEachMeasureWindowOnce) {
  AlertSpec a = failure_alert();
  AlertSpec b = failure_alert();
  b.name = "b";
  AlertSpec c = failure_alert();
  c.name = "c";
  c.window = 1h;
  AlertEngine e({a, b, c});
  auto needs = e.needs();
  ASSERT_EQ(needs.size(), 2u);
  EXPECT_EQ(needs[0], std::make_pair(Measure::kFailureRate, Duration(5min)));
  EXPECT_EQ(needs[1], std::make_pair(Measure::kFailureRate, Duration(1h)));
}

TEST(AlertEngineTest, ReconfigureKeepsStateByNameAndMeasure) {
  Timeline r({failure_alert(0s)});
  r.source.set(Measure::kFailureRate, 0.5);
  ASSERT_EQ(r.run_for(0s).size(), 1u);
  AlertSpec stricter = failure_alert(0s);
  stricter.threshold = stricter.clear = 0.4;
  EXPECT_TRUE(r.engine.reconfigure({stricter}).empty());
  EXPECT_EQ(r.phase(), Phase::kFiring);  // no second raise for the same episode
  EXPECT_TRUE(r.run_for(1min).empty());
  AlertSpec other = failure_alert(0s);
  other.measure = Measure::kP95DurationSeconds;
  auto notes = r.engine.reconfigure({other});
  ASSERT_EQ(notes.size(), 1u);
  EXPECT_NE(notes[0].find("'failures' was firing"), std::string::npos) << notes[0];
  EXPECT_EQ(r.phase(), Phase::kInactive);
}

}  // namespace
}  // namespace aw::alerts
