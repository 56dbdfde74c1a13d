// Restarts: level-triggered start, the persisted file index, and the event log
// read back through `agentwatch events`.
#include <gtest/gtest.h>

#include <map>

#include "tests/integration/harness.h"

namespace aw::testing {
namespace {

class RestartTest : public ::testing::Test {
 protected:
  void SetUp() override {
    inbox = d.home() + "/inbox";
    make_dirs(inbox);
    d.write_config("[rules]\nshipped = false\n[[watch]]\nname = \"inbox\"\npath = \"" + inbox +
                   "\"\n");
    d.write_rule("count.toml", R"(
[[rule]]
name = "count"
on = "file.landed"
when = [ { field = "fields.watch", equals = "inbox" } ]
  [[rule.action]]
  do = "emit"
  kind = "inbox.counted"
  fields = { file = "{name}" }
)");
  }
  std::map<std::string, int> counted() const {
    std::map<std::string, int> m;
    for (const auto& e : d.events())
      if (e.kind == "inbox.counted") ++m[*e.fields.get_string("file")];
    return m;
  }
  DaemonUnderTest d;
  std::string inbox;
};

TEST_F(RestartTest, HandledFilesAreNotReHandledAndFilesLandedWhileDownAre) {
  write_file(inbox + "/before-first-start", "0");  // found by the first start scan
  d.start();
  write_file(inbox + "/while-up", "1");
  ASSERT_EQ(d.wait_for_count([](const Event& e) { return e.kind == "inbox.counted"; }, 2), 2u);
  ASSERT_EQ(d.stop(), 0);

  write_file(inbox + "/while-down", "2");
  write_file(inbox + "/while-up", "1 rewritten");  // a new version is new work
  d.start();
  ASSERT_EQ(d.wait_for_count([](const Event& e) { return e.kind == "inbox.counted"; }, 4), 4u);
  auto scanned = d.wait_for(
      [](const Event& e) { return e.kind == "file.landed" && e.path.ends_with("/while-down"); });
  ASSERT_TRUE(scanned);
  EXPECT_EQ(*scanned->fields.get_string("via"), "scan");
  ASSERT_EQ(d.stop(), 0);
  auto m = counted();
  EXPECT_EQ(m["before-first-start"], 1);
  EXPECT_EQ(m["while-up"], 2);
  EXPECT_EQ(m["while-down"], 1);
}

TEST_F(RestartTest, SigkillThenRestartHandlesEverythingOnce) {
  d.start();
  for (int i = 0; i < 50; ++i) write_file(inbox + "/a" + std::to_string(i), "x");
  ASSERT_EQ(d.wait_for_count([](const Event& e) { return e.kind == "inbox.counted"; }, 50), 50u);
  d.kill9();
  for (int i = 0; i < 50; ++i) write_file(inbox + "/b" + std::to_string(i), "x");
  d.start();
  ASSERT_EQ(d.wait_for_count([](const Event& e) { return e.kind == "inbox.counted"; }, 100), 100u);
  ASSERT_EQ(d.stop(), 0);
  auto m = counted();
  EXPECT_EQ(m.size(), 100u);
  for (const auto& [file, n] : m) EXPECT_EQ(n, 1) << file;
}

TEST_F(RestartTest, EventsCommandFiltersAndPrintsJson) {
  d.start();
  write_file(inbox + "/one", "x");
  ASSERT_TRUE(d.wait_for_kind("inbox.counted"));
  ASSERT_EQ(d.stop(), 0);
  auto json = d.cli({"events", "--json", "--kind", "inbox.*"});
  ASSERT_EQ(json.exit_code, 0) << json.err;
  auto e = parse_event_json(json.out.substr(0, json.out.find('\n')));
  ASSERT_TRUE(e.ok()) << json.out;
  EXPECT_EQ(e->kind, "inbox.counted");
  EXPECT_EQ(json.out.find("file.landed"), std::string::npos);
  auto human = d.cli({"events", "--since", "1h"});
  EXPECT_EQ(human.exit_code, 0);
  EXPECT_NE(human.out.find("daemon.started"), std::string::npos);
  EXPECT_NE(human.out.find("/inbox/one"), std::string::npos);
  auto bad = d.cli({"events", "--since", "yesterday-ish"});
  EXPECT_EQ(bad.exit_code, 2);
  EXPECT_NE(bad.err.find("--since"), std::string::npos) << bad.err;
}

}  // namespace
}  // namespace aw::testing

int main(int argc, char** argv) {
  aw::testing::become_subreaper();
  ::testing::InitGoogleTest(&argc, argv);
  return RUN_ALL_TESTS();
}
