// Tailed logs through the real daemon: pattern lines become events rules act
// on, a silent log is a stall (scenario 6), rotation loses no line (scenario 13).
#include <fcntl.h>
#include <gtest/gtest.h>
#include <unistd.h>

#include <set>

#include "tests/integration/harness.h"

namespace aw::testing {
namespace {

class LogsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    logs = d.home() + "/logs";
    make_dirs(logs);
    log = logs + "/w1.log";
    write_file(log, "");  // exists before the daemon starts: tailing begins at its end
    d.write_config(R"([rules]
shipped = false
[[log]]
name = "w1"
path = ")" + log + R"("
entity = "w1"
stall_after = "300ms"
patterns = [
  { id = "done", regex = "ALL PHASES DONE" },
  { id = "numbered", regex = "^line (?P<n>[0-9]+)$" },
]
)");
    d.write_rule("done.toml", R"(
[[rule]]
name = "done-by-log"
on = "log.line"
when = [ { field = "fields.pattern", equals = "done" } ]
  [[rule.action]]
  do = "mark"
  entity = "{entity}"
)");
  }
  void append(const std::string& path, const std::string& text) {
    int fd = open(path.c_str(), O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0644);
    ASSERT_GE(fd, 0);
    ASSERT_EQ(write(fd, text.data(), text.size()), static_cast<ssize_t>(text.size()));
    close(fd);
  }
  DaemonUnderTest d;
  std::string logs, log;
};

TEST_F(LogsTest, PatternLineCompletesTheEntityThroughARule) {
  d.start();
  append(log, "phase 1 ok\nphase 2 ok\nALL PHASES DONE\n");
  auto line = d.wait_for([](const Event& e) { return e.kind == "log.line"; });
  ASSERT_TRUE(line) << d.stderr_text();
  EXPECT_EQ(line->entity, "w1");
  EXPECT_EQ(*line->fields.get_string("pattern"), "done");
  EXPECT_EQ(*line->fields.get_string("line"), "ALL PHASES DONE");
  auto done = d.wait_for([](const Event& e) {
    return e.kind == "state.changed" && e.entity == "w1" &&
           e.fields.get_string("to") == "completed";
  });
  ASSERT_TRUE(done);
  EXPECT_EQ(done->rule, "done-by-log");
  EXPECT_EQ(d.count([](const Event& e) { return e.kind == "log.line"; }), 1u)
      << "other lines match nothing";
  EXPECT_EQ(d.stop(), 0);
}

TEST_F(LogsTest, SilentLogStallsAndResumes) {
  d.start();
  append(log, "working\n");
  auto stalled = d.wait_for_kind("log.stalled", 5s);
  ASSERT_TRUE(stalled) << d.stderr_text();
  EXPECT_EQ(stalled->entity, "w1");
  append(log, "working again\n");
  EXPECT_TRUE(d.wait_for_kind("log.resumed", 5s));
  EXPECT_EQ(d.stop(), 0);
}

TEST_F(LogsTest, RotationByRenameLosesNoLine) {
  d.start();
  std::string first, second;
  for (int i = 0; i < 1000; ++i) first += "line " + std::to_string(i) + "\n";
  for (int i = 1000; i < 2000; ++i) second += "line " + std::to_string(i) + "\n";
  append(log, first);
  ASSERT_EQ(rename(log.c_str(), (log + ".1").c_str()), 0);
  append(log, second);
  ASSERT_EQ(d.wait_for_count([](const Event& e) { return e.kind == "log.line"; }, 2000, 20s), 2000u)
      << d.stderr_text();
  std::set<std::int64_t> seen;
  for (const auto& e : d.events())
    if (e.kind == "log.line") seen.insert(*e.fields.get_int("n"));
  EXPECT_EQ(seen.size(), 2000u);
  EXPECT_EQ(*seen.begin(), 0);
  EXPECT_EQ(*seen.rbegin(), 1999);
  EXPECT_TRUE(d.wait_for_kind("log.rotated", 0ms));
  EXPECT_EQ(d.stop(), 0);
}

}  // namespace
}  // namespace aw::testing

int main(int argc, char** argv) {
  aw::testing::become_subreaper();
  ::testing::InitGoogleTest(&argc, argv);
  return RUN_ALL_TESTS();
}
