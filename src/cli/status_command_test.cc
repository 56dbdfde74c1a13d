#include "src/cli/status_command.h"

#include <gtest/gtest.h>

namespace aw {
namespace {

TEST(StatusProblems, AHealthyDaemonHasNone) {
  EXPECT_TRUE(status_problems(R"({"state":"running","degraded":false,
      "entities":{"queued":1,"failed":3,"zombie":0},"workers":{"running":2,"gave_up":0},
      "last_errors":[{"kind":"action.failed"}]})")
                  .empty())
      << "failed entities and past errors are history, not problems";
}

TEST(StatusProblems, NamesEachProblemOnALine) {
  auto p = status_problems(R"({"degraded":true,"degraded_reason":"inotify overflow",
      "http_error":"127.0.0.1:9464: address already in use",
      "alerts":[{"alert":"failure-rate-critical","severity":"critical","since":"2026-12-07T20:00:00.000Z"}],
      "entities":{"zombie":2},"workers":{"gave_up":1,"circuit_open":1}})");
  ASSERT_EQ(p.size(), 6u);
  EXPECT_EQ(p[0], "degraded: inotify overflow");
  EXPECT_EQ(p[1], "http: 127.0.0.1:9464: address already in use");
  EXPECT_EQ(p[2], "1 worker(s) gave up");
  EXPECT_EQ(p[3], "1 worker(s) with their restart circuit open");
  EXPECT_EQ(p[4], "alert failure-rate-critical (critical) firing since 2026-12-07T20:00:00.000Z");
  EXPECT_EQ(p[5], "2 zombie entities");
}

TEST(StatusProblems, UnreadableStatusIsAProblem) {
  EXPECT_EQ(status_problems("{not json").size(), 1u);
}

}  // namespace
}  // namespace aw
