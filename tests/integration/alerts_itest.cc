// Alerts through the real daemon (docs/alerts.md): an [[alert]] on the failure
// rate raises when executions fail, is shown by `status` (exit 1) and
// /api/status, survives a restart without raising again, and resolves once
// executions succeed.
#include <fcntl.h>
#include <sys/stat.h>

#include <gtest/gtest.h>

#include <chrono>
#include <iostream>
#include <thread>

#include "tests/integration/harness.h"

namespace aw::testing {
namespace {

using namespace std::chrono_literals;

bool raised(const Event& e) {
  return e.kind == "alert.raised" && e.fields.get_string("alert") == "fails";
}
bool resolved(const Event& e) {
  return e.kind == "alert.resolved" && e.fields.get_string("alert") == "fails";
}

class AlertsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    inbox = d.home() + "/inbox";
    make_dirs(inbox);
    // Only this alert, evaluated every 100 ms. (The window keeps 256 samples:
    // an interval shorter than window / 256 merges samples, docs/alerts.md.)
    d.write_config(
        "[alerts]\ndefaults = false\ninterval = \"100ms\"\n"
        "[[alert]]\nname = \"fails\"\nmetric = \"failure_rate\"\nabove = 0.5\n"
        "clear = 0.2\nwindow = \"10s\"\nseverity = \"critical\"\n"
        "[[watch]]\nname = \"inbox\"\npath = \"" +
        inbox + "\"\n");
    d.write_rule("work.toml", R"(
[[rule]]
name = "work"
on = "file.landed"
when = [ { field = "fields.watch", equals = "inbox" } ]
  [[rule.action]]
  do = "run"
  argv = ["/bin/sh", "-c", "case \"$1\" in *.fail) exit 1;; esac", "sh", "{path}"]
)");
  }
  void land(const std::string& name) { write_file_atomically(inbox + "/" + name, "x"); }

  DaemonUnderTest d;
  std::string inbox;
};

TEST_F(AlertsTest, RaisesOnFailuresSurvivesARestartAndResolvesOnSuccesses) {
  d.start();
  land("a.fail");
  land("b.fail");
  auto r = d.wait_for(raised);
  if (!r)
    for (const Event& e : d.events())
      std::cerr << e.seq << " " << e.kind << " " << e.fields.get_string("category").value_or("")
                << " " << e.fields.get_string("message").value_or("") << "\n";
  ASSERT_TRUE(r) << d.stderr_text();
  EXPECT_EQ(r->source, "alerts");
  EXPECT_EQ(r->fields.get_string("severity"), "critical");
  EXPECT_EQ(r->fields.get_string("metric"), "failure_rate");
  CommandResult st = d.cli({"status"});
  EXPECT_EQ(st.exit_code, 1) << st.out;
  EXPECT_NE(st.out.find("problem: alert fails (critical) firing since"), std::string::npos)
      << st.out;

  // A restart: the alert is still firing, and is not raised again.
  ASSERT_EQ(d.stop(), 0);
  d.start();
  std::this_thread::sleep_for(600ms);  // several evaluations
  EXPECT_EQ(d.count(raised), 1u);
  CommandResult sj = d.cli({"status", "--json"});
  EXPECT_NE(sj.out.find("\"alerts\":[{\"alert\":\"fails\""), std::string::npos) << sj.out;

  // Successes bring the rate under `clear`: resolved, once.
  for (int i = 0; i < 5; ++i) land("ok" + std::to_string(i));
  ASSERT_TRUE(d.wait_for(resolved)) << d.stderr_text();
  std::this_thread::sleep_for(300ms);
  EXPECT_EQ(d.count(resolved), 1u);
  EXPECT_EQ(d.cli({"status"}).exit_code, 0);
}

TEST_F(AlertsTest, StaleSessionsAndDiskUsageAreMeasuredFromTheDisk) {
  // A session waiting on an agent for two hours (its age-out rule has not run:
  // the daemon was down), and 64 KiB of results.
  const std::string results = d.home() + "/results";
  make_dirs(results + "/temp/s1");
  write_file(results + "/temp/s1/session.json", R"({"agents": ["a1", "a2"]})");
  write_file(results + "/temp/s1/a1.json", R"({"ok": true})");
  const timespec old[2] = {{::time(nullptr) - 7200, 0}, {::time(nullptr) - 7200, 0}};
  for (const char* f : {"/temp/s1/session.json", "/temp/s1/a1.json"})
    ASSERT_EQ(::utimensat(AT_FDCWD, (results + f).c_str(), old, 0), 0);
  make_dirs(results + "/completed");
  write_file(results + "/completed/big.bin", std::string(64 * 1024, 'x'));
  d.write_config(
      "[alerts]\ndefaults = false\ninterval = \"100ms\"\n"
      "[[alert]]\nname = \"stale\"\nmetric = \"stale_sessions\"\nabove = 0\n"
      "[[alert]]\nname = \"disk\"\nmetric = \"disk_used_bytes\"\nabove = \"48KiB\"\n"
      "[[watch]]\nname = \"results\"\npath = \"" +
      results + "\"\n");
  d.start();
  auto named = [](const std::string& name) {
    return [name](const Event& e) {
      return e.kind == "alert.raised" && e.fields.get_string("alert") == name;
    };
  };
  auto stale = d.wait_for(named("stale"));
  ASSERT_TRUE(stale) << d.stderr_text();
  EXPECT_EQ(stale->fields.get_string("metric"), "stale_sessions");
  EXPECT_EQ(stale->fields.get_string("value"), "1");
  auto disk = d.wait_for(named("disk"));
  ASSERT_TRUE(disk) << d.stderr_text();
  EXPECT_GE(std::stod(disk->fields.get_string("value").value_or("0")), 64.0 * 1024);
}

}  // namespace
}  // namespace aw::testing
