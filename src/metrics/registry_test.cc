#include "src/metrics/registry.h"

#include <gtest/gtest.h>

#include <cmath>
#include <set>
#include <sstream>
#include <stdexcept>

#include "src/metrics/promtool_check.h"

namespace aw::metrics {
namespace {

// The sample lines of an exposition: everything that is not a comment.
std::vector<std::string> samples(const std::string& text) {
  std::vector<std::string> out;
  std::istringstream in(text);
  for (std::string line; std::getline(in, line);)
    if (!line.empty() && line[0] != '#') out.push_back(line);
  return out;
}

TEST(Registry, RendersHelpAndTypeOncePerFamilyThenItsSeries) {
  Registry r;
  Family& c = r.counter("aw_things_total", "Things.", {"rule"});
  c.inc({"b"}, 2);
  c.inc({"a"});
  c.inc({"b"});
  r.gauge("aw_level", "Level.").set({}, 1.5);
  EXPECT_EQ(r.render(),
            "# HELP aw_things_total Things.\n"
            "# TYPE aw_things_total counter\n"
            "aw_things_total{rule=\"a\"} 1\n"
            "aw_things_total{rule=\"b\"} 3\n"
            "# HELP aw_level Level.\n"
            "# TYPE aw_level gauge\n"
            "aw_level 1.5\n");
}

TEST(Registry, AnUnlabelledFamilyReadsZeroBeforeItsFirstUse) {
  Registry r;
  r.counter("aw_x_total", "X.");
  EXPECT_EQ(samples(r.render()), std::vector<std::string>{"aw_x_total 0"});
}

TEST(Registry, EscapesLabelValuesAndHelp) {
  Registry r;
  r.gauge("aw_g", "a \\ and\nnewline", {"name"}).set({"q\"uote\\back\nline"}, 1);
  std::string text = r.render();
  EXPECT_NE(text.find("# HELP aw_g a \\\\ and\\nnewline\n"), std::string::npos) << text;
  EXPECT_NE(text.find("aw_g{name=\"q\\\"uote\\\\back\\nline\"} 1\n"), std::string::npos) << text;
}

TEST(Registry, HistogramBucketsAreCumulativeWithSumAndCount) {
  Registry r;
  Family& h = r.histogram("aw_d_seconds", "D.", {"rule"}, {0.1, 1});
  h.observe({"r"}, 0.05);
  h.observe({"r"}, 0.1);  // upper-inclusive: in le="0.1"
  h.observe({"r"}, 0.5);
  h.observe({"r"}, 7);
  EXPECT_EQ(samples(r.render()), (std::vector<std::string>{
                                     "aw_d_seconds_bucket{rule=\"r\",le=\"0.1\"} 2",
                                     "aw_d_seconds_bucket{rule=\"r\",le=\"1\"} 3",
                                     "aw_d_seconds_bucket{rule=\"r\",le=\"+Inf\"} 4",
                                     "aw_d_seconds_sum{rule=\"r\"} 7.65",
                                     "aw_d_seconds_count{rule=\"r\"} 4",
                                 }));
}

TEST(Registry, QuantilesInterpolateWithinTheirBucketAsPromQLDoes) {
  std::vector<double> bounds = {1, 2, 4};
  Histogram h(&bounds);
  EXPECT_EQ(h.quantile(0.5), 0);                // no data
  for (int i = 0; i < 10; ++i) h.observe(0.5);  // bucket (0,1]
  for (int i = 0; i < 10; ++i) h.observe(3);    // bucket (2,4]
  // Rank 10 of 20 is the last of the first bucket: its upper bound.
  EXPECT_DOUBLE_EQ(h.quantile(0.5), 1.0);
  // Rank 15: half-way into (2,4].
  EXPECT_DOUBLE_EQ(h.quantile(0.75), 3.0);
  // Rank 19: 9/10 into (2,4].
  EXPECT_DOUBLE_EQ(h.quantile(0.95), 3.8);
  h.observe(100);  // +Inf: the highest finite bound
  EXPECT_DOUBLE_EQ(h.quantile(1.0), 4.0);
}

TEST(Registry, DeclarationMistakesAreProgrammingErrors) {
  Registry r;
  r.counter("aw_a_total", "A.");
  EXPECT_THROW(r.counter("aw_a_total", "again"), std::logic_error);
  EXPECT_THROW(r.gauge("aw_a_total", "same name, other type"), std::logic_error);
  EXPECT_THROW(r.counter("aw_no_suffix", "counters end in _total"), std::logic_error);
  EXPECT_THROW(r.gauge("1bad", "name"), std::logic_error);
  EXPECT_THROW(r.gauge("aw_b", "label", {"le"}), std::logic_error);
  EXPECT_THROW(r.gauge("aw_c", "label", {"__x"}), std::logic_error);
  EXPECT_THROW(r.histogram("aw_h", "bounds", {}, {1, 1}), std::logic_error);
  Family& g = r.gauge("aw_d", "D.", {"x"});
  EXPECT_THROW(g.set({"1", "2"}, 1), std::logic_error);
  EXPECT_THROW(g.inc({"1"}), std::logic_error);
  EXPECT_THROW(r.histogram("aw_i_seconds", "I.", {}, {1}).set({}, 1), std::logic_error);
  EXPECT_THROW(r.counter("aw_e_total", "E.").inc({}, -1), std::logic_error);
}

TEST(Registry, RunawayLabelValuesShareOneOverflowSeries) {
  Registry r;
  Family& c = r.counter("aw_k_total", "K.", {"kind"}, 3);
  for (int i = 0; i < 10; ++i) c.inc({"k" + std::to_string(i)});
  EXPECT_EQ(samples(r.render()), (std::vector<std::string>{
                                     "aw_k_total{kind=\"k0\"} 1",
                                     "aw_k_total{kind=\"k1\"} 1",
                                     "aw_k_total{kind=\"_other\"} 8",
                                 }));
  EXPECT_EQ(c.overflowed(), 8u);
}

TEST(Registry, CollectorsRunBeforeEveryRender) {
  Registry r;
  Family& g = r.gauge("aw_fds", "Fds.");
  int n = 0;
  r.add_collector([&] { g.set({}, ++n); });
  EXPECT_EQ(samples(r.render()), std::vector<std::string>{"aw_fds 1"});
  EXPECT_EQ(samples(r.render()), std::vector<std::string>{"aw_fds 2"});
}

TEST(Registry, SampleValuesReadBackExactly) {
  std::string s;
  append_sample_value(s, 0.1);
  s += ' ';
  append_sample_value(s, 1e20);
  s += ' ';
  append_sample_value(s, -3);
  s += ' ';
  append_sample_value(s, NAN);
  s += ' ';
  append_sample_value(s, -INFINITY);
  EXPECT_EQ(s, "0.1 1e+20 -3 NaN -Inf");
}

// A registry of every shape, and no two sample lines naming the same series.
Registry& every_shape(Registry& r) {
  r.counter("aw_c_total", "C.", {"a", "b"}).inc({"x", "y"});
  r.counter("aw_c2_total", "C2.");
  r.gauge("aw_g", "G.", {"state"}).set({"idle"}, 3);
  Family& h = r.histogram("aw_wait_seconds", "H.", {"rule"}, duration_buckets());
  h.observe({"r1"}, 0.3);
  h.observe({"r2"}, 30);
  Family& o = r.counter("aw_o_total", "O.", {"k"}, 2);
  o.inc({"1"});
  o.inc({"2"});
  o.inc({"3"});
  return r;
}

TEST(Registry, NoSeriesAppearsTwice) {
  Registry r;
  std::set<std::string> seen;
  for (const auto& line : samples(every_shape(r).render())) {
    std::string series = line.substr(0, line.rfind(' '));
    EXPECT_TRUE(seen.insert(series).second) << "duplicate series " << series;
  }
  EXPECT_GT(seen.size(), 10u);
}

TEST(Registry, PromtoolAcceptsTheExposition) {
  Registry r;
  PromtoolVerdict v = promtool_check_metrics(every_shape(r).render());
  ASSERT_TRUE(v.ran) << v.output;
  EXPECT_EQ(v.exit_code, 0) << v.output;
}

TEST(Registry, PromtoolRejectsAFamilyDeclaredTwice) {
  // The other half of the test above: promtool does catch what it claims to.
  PromtoolVerdict v = promtool_check_metrics(
      "# HELP aw_a_total A.\n# TYPE aw_a_total counter\naw_a_total 1\n"
      "# HELP aw_a_total A.\n# TYPE aw_a_total counter\naw_a_total 2\n");
  ASSERT_TRUE(v.ran) << v.output;
  EXPECT_NE(v.exit_code, 0) << v.output;
}

}  // namespace
}  // namespace aw::metrics
