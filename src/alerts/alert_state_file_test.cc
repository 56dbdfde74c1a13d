#include "src/alerts/alert_state_file.h"

#include <gtest/gtest.h>

#include <map>

#include "src/core/state_file.h"

namespace aw::alerts {
namespace {

using namespace std::chrono_literals;

const WallTime kStart = WallTime(std::chrono::seconds(1'800'000'000));

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

AlertSpec spec(std::string name, Measure m, Duration hold) {
  AlertSpec s;
  s.name = std::move(name);
  s.measure = m;
  s.threshold = s.clear = 0.2;
  s.hold = hold;
  return s;
}

// The daemon stops: what it would write, read back by the next one.
std::vector<SavedAlert> through_the_file(const AlertEngine& e) {
  const std::string bytes = serialize_alert_state(e.saved());
  auto parsed = parse_alert_state(bytes, "/s/alerts");
  EXPECT_TRUE(parsed.ok()) << parsed.error().message;
  EXPECT_TRUE(parsed->problems.empty());
  return parsed->alerts;
}

std::vector<AlertTransition> evaluate_every_10s(AlertEngine& e, const MeasureSource& source,
                                                WallTime from, WallTime to) {
  std::vector<AlertTransition> out;
  for (WallTime t = from; t <= to; t += 10s)
    for (auto& x : e.evaluate(t, source)) out.push_back(x);
  return out;
}

TEST(AlertStateFileTest, RoundTripsEveryField) {
  SavedAlert a{"tab\tname 100%", Measure::kP95DurationSeconds, {}};
  a.state.phase = Phase::kFiring;
  a.state.pending_since = kStart;
  a.state.firing_since = kStart + 2min;
  a.state.last_resolved = kStart - 1h;
  a.state.flaps = 4;
  a.state.evaluated_at = kStart + 3min;
  SavedAlert b{"quiet", Measure::kStuckEntities, {}};
  b.state.last_resolved = kStart;
  const std::string text = serialize_alert_state({a, b});
  EXPECT_EQ(text.substr(0, text.find('\n')), "agentwatch-state 2 alerts");
  EXPECT_NE(text.find("quiet\tstuck_entities\tinactive\t-\t-\t2027-01-15T08:00:00.000Z\t0\t-\n"),
            std::string::npos)
      << text;
  auto back = parse_alert_state(text, "/s/alerts");
  ASSERT_TRUE(back.ok()) << back.error().message;
  ASSERT_EQ(back->alerts.size(), 2u);
  const SavedAlert& r = back->alerts[0];
  EXPECT_EQ(r.name, a.name);
  EXPECT_EQ(r.measure, a.measure);
  EXPECT_EQ(r.state.phase, Phase::kFiring);
  EXPECT_EQ(r.state.pending_since, a.state.pending_since);
  EXPECT_EQ(r.state.firing_since, a.state.firing_since);
  EXPECT_EQ(r.state.last_resolved, a.state.last_resolved);
  EXPECT_EQ(r.state.flaps, 4u);
  EXPECT_EQ(r.state.evaluated_at, a.state.evaluated_at);
  EXPECT_EQ(back->alerts[1].state.last_resolved, kStart);
}

TEST(AlertStateFileTest, ADamagedRecordCostsOnlyItsAlert) {
  const std::string good =
      state_record({"a", "failure_rate", "firing", "-", "2027-01-15T08:00:00.000Z", "-", "0", "-"});
  std::string damaged =
      state_record({"b", "failure_rate", "firing", "-", "2027-01-15T08:00:00.000Z", "-", "0", "-"});
  damaged[damaged.size() - 3] = '9';
  const std::string meaningless =
      state_record({"c", "failure_rate", "firing", "-", "-", "-", "0", "-"});
  const std::string unknown_metric =
      state_record({"d", "latency", "inactive", "-", "-", "-", "0", "-"});
  std::string torn = good;
  torn.pop_back();
  auto r = parse_alert_state(
      state_file_header("alerts") + damaged + good + meaningless + unknown_metric + good + torn,
      "/s/alerts");
  ASSERT_TRUE(r.ok()) << r.error().message;
  ASSERT_EQ(r->alerts.size(), 1u);
  EXPECT_EQ(r->alerts[0].name, "a");
  // In the order the reader finds them: the format's own problems first.
  ASSERT_EQ(r->problems.size(), 5u);
  EXPECT_EQ(r->problems[0],
            "/s/alerts:2: the checksum does not match the record (a damaged line) (that alert "
            "starts afresh)");
  EXPECT_EQ(r->problems[1],
            "/s/alerts:7: the last line ends without a newline (a torn write: ignored) (that "
            "alert starts afresh)");
  EXPECT_EQ(r->problems[2],
            "/s/alerts:4: a firing alert without firing_since (expected the time it was raised) "
            "(that alert starts afresh)");
  EXPECT_EQ(r->problems[3],
            "/s/alerts:5: metric: expected a measure's name, found 'latency' (that alert starts "
            "afresh)");
  EXPECT_EQ(r->problems[4],
            "/s/alerts:6: alert 'a' appears twice (expected one line per alert; the first is "
            "kept)");
}

TEST(AlertStateFileTest, AForeignFileIsAnErrorAndEveryAlertStartsAfresh) {
  auto r = parse_alert_state("agentwatch-state 2 timers\n", "/s/alerts");
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().message,
            "/s/alerts:1: expected the header 'agentwatch-state 2 alerts', found 'agentwatch-state "
            "2 timers' (every alert starts afresh)");
}

TEST(AlertStateFileTest, AFiringAlertStaysFiringAcrossARestartWithoutASecondRaise) {
  FakeSource source;
  source.set(Measure::kFailureRate, 0.5);
  AlertEngine before({spec("failures", Measure::kFailureRate, 1min)});
  auto ts = evaluate_every_10s(before, source, kStart, kStart + 5min);
  ASSERT_EQ(ts.size(), 1u);
  const std::vector<SavedAlert> saved = through_the_file(before);

  // The new daemon starts 30 s later; its counters start from zero, so the
  // measure has no value at first.
  AlertEngine after({spec("failures", Measure::kFailureRate, 1min)});
  EXPECT_TRUE(after.restore(saved, kStart + 5min + 30s).empty());
  ASSERT_EQ(after.active().size(), 1u);
  EXPECT_EQ(after.active()[0].since, kStart + 1min);
  FakeSource fresh;
  EXPECT_TRUE(evaluate_every_10s(after, fresh, kStart + 5min + 30s, kStart + 10min).empty());
  fresh.set(Measure::kFailureRate, 0.5);
  EXPECT_TRUE(evaluate_every_10s(after, fresh, kStart + 10min, kStart + 20min).empty());
  fresh.set(Measure::kFailureRate, 0.0);
  ts = evaluate_every_10s(after, fresh, kStart + 20min, kStart + 20min);
  ASSERT_EQ(ts.size(), 1u);
  EXPECT_EQ(ts[0].kind, TransitionKind::kResolved);
  EXPECT_EQ(ts[0].since, kStart + 1min);
}

TEST(AlertStateFileTest, APendingAlertKeepsItsForProgress) {
  FakeSource source;
  source.set(Measure::kFailureRate, 0.5);
  AlertEngine before({spec("failures", Measure::kFailureRate, 10min)});
  EXPECT_TRUE(evaluate_every_10s(before, source, kStart, kStart + 6min).empty());
  const std::vector<SavedAlert> saved = through_the_file(before);

  AlertEngine after({spec("failures", Measure::kFailureRate, 10min)});
  EXPECT_TRUE(after.restore(saved, kStart + 7min).empty());
  EXPECT_EQ(after.state("failures")->phase, Phase::kPending);
  // It fires 10 minutes after the condition began, not 10 after the restart.
  auto ts = evaluate_every_10s(after, source, kStart + 7min, kStart + 9min + 50s);
  EXPECT_TRUE(ts.empty());
  ts = evaluate_every_10s(after, source, kStart + 10min, kStart + 10min);
  ASSERT_EQ(ts.size(), 1u);
  EXPECT_EQ(ts[0].since, kStart);
}

TEST(AlertStateFileTest, APendingAlertAwayLongerThanItsWindowStartsAfresh) {
  FakeSource source;
  source.set(Measure::kFailureRate, 0.5);
  AlertEngine before({spec("failures", Measure::kFailureRate, 10min)});
  evaluate_every_10s(before, source, kStart, kStart + 6min);
  const std::vector<SavedAlert> saved = through_the_file(before);

  AlertEngine after({spec("failures", Measure::kFailureRate, 10min)});
  const auto notes = after.restore(saved, kStart + 6min + 1h);
  ASSERT_EQ(notes.size(), 1u);
  EXPECT_EQ(notes[0],
            "alert 'failures' was pending, but nothing was evaluated for 1h, longer than its "
            "window (5m): its 'for' starts afresh");
  EXPECT_EQ(after.state("failures")->phase, Phase::kInactive);
}

TEST(AlertStateFileTest, FlapDampingContinuesAcrossARestart) {
  AlertSpec s = spec("failures", Measure::kFailureRate, 0s);
  s.min_interval = 10min;
  FakeSource source;
  AlertEngine before({s});
  source.set(Measure::kFailureRate, 0.5);
  before.evaluate(kStart, source);  // raised
  source.set(Measure::kFailureRate, 0.0);
  before.evaluate(kStart + 1min, source);  // resolved
  source.set(Measure::kFailureRate, 0.5);
  before.evaluate(kStart + 2min, source);  // back: damped, one flap
  const std::vector<SavedAlert> saved = through_the_file(before);

  AlertEngine after({s});
  EXPECT_TRUE(after.restore(saved, kStart + 3min).empty());
  EXPECT_TRUE(evaluate_every_10s(after, source, kStart + 3min, kStart + 10min + 50s).empty());
  auto ts = evaluate_every_10s(after, source, kStart + 11min, kStart + 11min);
  ASSERT_EQ(ts.size(), 1u);
  EXPECT_EQ(ts[0].flaps, 1u);
}

TEST(AlertStateFileTest, RemovedAlertsAreDroppedAndNewOnesStartInactive) {
  FakeSource source;
  source.set(Measure::kFailureRate, 0.5);
  source.set(Measure::kStuckEntities, 3);
  AlertEngine before(
      {spec("failures", Measure::kFailureRate, 0s), spec("stuck", Measure::kStuckEntities, 0s)});
  ASSERT_EQ(before.evaluate(kStart, source).size(), 2u);
  const std::vector<SavedAlert> saved = through_the_file(before);
  ASSERT_EQ(saved.size(), 2u);

  AlertEngine after(
      {spec("stuck", Measure::kP95DurationSeconds, 0s), spec("new", Measure::kStuckEntities, 0s)});
  const auto notes = after.restore(saved, kStart + 1min);
  EXPECT_EQ(notes, (std::vector<std::string>{
                       "alert 'failures' is no longer configured: its saved state (firing) is "
                       "dropped",
                       "alert 'stuck' now measures p95_duration_seconds (was stuck_entities): it "
                       "starts afresh"}));
  EXPECT_EQ(after.state("stuck")->phase, Phase::kInactive);
  EXPECT_EQ(after.state("new")->phase, Phase::kInactive);
  EXPECT_TRUE(after.saved().empty());
}

}  // namespace
}  // namespace aw::alerts
