#include "src/metrics/statsd_lines.h"

#include <gtest/gtest.h>

#include "src/core/event_kinds.h"

namespace aw::metrics {
namespace {

TEST(Statsd, SegmentsCannotSplitAPathOrBreakALine) {
  EXPECT_EQ(statsd_segment("collect-results_2"), "collect-results_2");
  EXPECT_EQ(statsd_segment("a.b:c|d\ne f"), "a_b_c_d_e_f");
  EXPECT_EQ(statsd_segment(""), "none");
}

TEST(Statsd, AnExecutionIsACountAndATimer) {
  StatsdBatch b("agentwatch");
  Event e;
  e.kind = std::string(kind::kActionFailed);
  e.rule = "collect.v2";
  e.fields.set("action", "run");
  e.fields.set("duration_ms", FieldValue(std::int64_t{250}));
  b.add_event(e);
  Event other;
  other.kind = "file.landed";
  b.add_event(other);
  EXPECT_EQ(b.take_datagrams(),
            std::vector<std::string>{"agentwatch.executions.collect_v2.run.failed:1|c\n"
                                     "agentwatch.executions.collect_v2.run.duration:250|ms"});
  EXPECT_TRUE(b.empty());
}

TEST(Statsd, GaugesComeFromTheRegistryWithLabelsAsSegments) {
  Registry r;
  r.gauge("agentwatch_entities", "E.", {"state"}).set({"failed"}, 2);
  r.counter("agentwatch_x_total", "not a gauge");
  r.gauge("process_open_fds", "F.").set({}, 12);
  StatsdBatch b("aw");
  b.add_gauges(r);
  EXPECT_EQ(b.take_datagrams(),
            std::vector<std::string>{"aw.entities.failed:2|g\naw.process_open_fds:12|g"});
}

TEST(Statsd, DatagramsStayUnderTheirSizeAndNeverSplitALine) {
  StatsdBatch b("p", 40);
  for (int i = 0; i < 10; ++i) b.counter("c" + std::to_string(i), 1);  // "p.cN:1|c" = 8 bytes
  auto d = b.take_datagrams();
  ASSERT_EQ(d.size(), 3u);
  for (const auto& g : d) {
    EXPECT_LE(g.size(), 40u);
    EXPECT_NE(g.back(), '\n');
  }
  EXPECT_EQ(d[0], "p.c0:1|c\np.c1:1|c\np.c2:1|c\np.c3:1|c");
}

}  // namespace
}  // namespace aw::metrics
