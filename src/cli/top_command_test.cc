#include "src/cli/top_command.h"

#include <gtest/gtest.h>

#include <algorithm>

namespace aw {
namespace {

bool has_line(const std::vector<std::string>& lines, const std::string& want) {
  return std::find(lines.begin(), lines.end(), want) != lines.end();
}

std::string joined(const std::vector<std::string>& lines) {
  std::string s;
  for (const auto& l : lines) s += l + "\n";
  return s;
}

TopSnapshot sample() {
  TopSnapshot s;
  s.pid = 4242;
  s.status_json = R"({"state":"running","pid":4242,"rules":"2 rules, hash 9f3a","degraded":false,
      "entities":{"queued":1,"done":0,"failed":3},"workers":{"running":2,"gave_up":0},
      "executions":{"total":12,"failed":3,"success_rate":0.75,"mean_seconds":0.25,"p95_seconds":1.5},
      "alerts":[{"alert":"fails","severity":"critical","since":"2026-12-07T20:00:00.000Z"}],
      "last_errors":[{"time":"2026-12-07T20:01:02.000Z","kind":"action.failed","rule":"build",
                      "entity":"w1","fields":{"message":"exit 1"}}]})";
  for (std::uint64_t i = 1; i <= 12; ++i) {
    TopExecution e;
    e.time = "2026-12-07T20:00:" + std::string(i < 10 ? "0" : "") + std::to_string(i) + ".000Z";
    e.seq = i;
    e.ok = i % 4 != 0;
    e.rule = "build";
    e.action = "run";
    e.entity = "w1";
    e.duration_ms = static_cast<std::int64_t>(i * 10);
    s.executions.push_back(e);
  }
  return s;
}

TEST(RenderTop, SummaryHasTheNumbers) {
  auto lines = render_top(sample(), TopView::kSummary, 0);
  EXPECT_TRUE(has_line(lines, "agentwatch pid 4242  rules 2 rules, hash 9f3a")) << joined(lines);
  EXPECT_TRUE(has_line(lines, "executions 12  failed 3  success 75.0%  mean 0.250s  p95 1.500s"))
      << joined(lines);
  EXPECT_TRUE(has_line(lines, "entities: queued 1, failed 3")) << "zeros are left out";
  EXPECT_TRUE(has_line(lines, "workers: running 2"));
  EXPECT_TRUE(has_line(lines, "  fails (critical) firing since 2026-12-07T20:00:00.000Z"));
  // The ten newest, newest first.
  EXPECT_TRUE(has_line(lines, "  20:00:12 #12 ✗ build run @w1 120ms")) << joined(lines);
  EXPECT_TRUE(has_line(lines, "  20:00:11 #11 ✓ build run @w1 110ms"));
  EXPECT_TRUE(has_line(lines, "  20:00:03 #3 ✓ build run @w1 30ms"));
  EXPECT_FALSE(has_line(lines, "  20:00:02 #2 ✓ build run @w1 20ms"));
  const auto newest = std::find(lines.begin(), lines.end(), "  20:00:12 #12 ✗ build run @w1 120ms");
  const auto older = std::find(lines.begin(), lines.end(), "  20:00:11 #11 ✓ build run @w1 110ms");
  EXPECT_LT(newest, older);
}

TEST(RenderTop, ExecutionsViewShowsMoreThanTen) {
  auto lines = render_top(sample(), TopView::kExecutions, 0);
  EXPECT_TRUE(has_line(lines, "  20:00:01 #1 ✓ build run @w1 10ms")) << joined(lines);
  EXPECT_TRUE(has_line(lines, "  20:00:12 #12 ✗ build run @w1 120ms"));
}

TEST(RenderTop, ErrorsViewShowsLastErrors) {
  auto lines = render_top(sample(), TopView::kErrors, 0);
  EXPECT_TRUE(has_line(lines, "  20:01:02 action.failed build @w1  exit 1")) << joined(lines);
}

TEST(RenderTop, LinesFitTheWidthInColumnsNotBytes) {
  for (const std::string& line : render_top(sample(), TopView::kSummary, 20)) {
    std::size_t columns = 0;
    for (unsigned char c : line) columns += (c & 0xC0) != 0x80;
    EXPECT_LE(columns, 20u) << line;
  }
  auto lines = render_top(sample(), TopView::kSummary, 14);
  EXPECT_TRUE(has_line(lines, "  20:00:12 #12")) << joined(lines);
  lines = render_top(sample(), TopView::kSummary, 16);
  EXPECT_TRUE(has_line(lines, "  20:00:12 #12 ✗")) << "the mark is one column, kept whole";
}

TEST(RenderTop, NoDaemonAndNoAnswer) {
  TopSnapshot none;
  EXPECT_EQ(render_top(none, TopView::kSummary, 0).front(), "agentwatch is not running");
  TopSnapshot silent;
  silent.pid = 7;
  EXPECT_EQ(render_top(silent, TopView::kSummary, 0).front(),
            "agentwatch pid 7 (its status did not answer)");
}

TEST(TopExecution, FromALogLine) {
  auto e = top_execution_from_json(
      R"({"kind":"action.failed","source":"action","time":"2026-12-07T20:00:01.000Z","seq":9,)"
      R"("entity":"w1","rule":"build","fields":{"action":"run","duration_ms":15}})");
  ASSERT_TRUE(e);
  EXPECT_FALSE(e->ok);
  EXPECT_EQ(e->seq, 9u);
  EXPECT_EQ(e->rule, "build");
  EXPECT_EQ(e->action, "run");
  EXPECT_EQ(e->entity, "w1");
  EXPECT_EQ(e->duration_ms, 15);
  EXPECT_FALSE(top_execution_from_json(R"({"kind":"file.landed","seq":3})"));
}

}  // namespace
}  // namespace aw
