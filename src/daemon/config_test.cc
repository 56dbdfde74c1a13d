#include "src/daemon/config.h"

#include <gtest/gtest.h>

namespace aw {
namespace {

using namespace std::chrono_literals;

TEST(DaemonConfig, EmptyFileGivesDefaults) {
  auto c = parse_daemon_config("", "agentwatch.toml");
  ASSERT_TRUE(c.ok()) << c.error().message;
  EXPECT_EQ(c->shutdown_grace, 10s);
  EXPECT_EQ(c->event_log_keep, 5u);
  EXPECT_TRUE(c->shipped_rules);
  EXPECT_TRUE(c->watches.empty());
}

TEST(DaemonConfig, ParsesEverySection) {
  auto c = parse_daemon_config(R"(
[daemon]
shutdown_grace = "3s"
max_emit_depth = 4
derived_rate = 2.5
derived_burst = 5
[event_log]
max_size = "1MiB"
keep = 2
[rules]
shipped = false
dir = "/etc/aw/rules.d"
[[watch]]
name = "results"
path = "/srv/results"
recursive = false
ignore = ["*.tmp", ".*"]
[[watch]]
path = "/srv/logs"
)",
                               "agentwatch.toml");
  ASSERT_TRUE(c.ok()) << c.error().message;
  EXPECT_EQ(c->shutdown_grace, 3s);
  EXPECT_EQ(c->max_emit_depth, 4u);
  EXPECT_EQ(c->derived_rate, 2.5);
  EXPECT_EQ(c->derived_burst, 5.0);
  EXPECT_EQ(c->event_log_max_bytes, 1u << 20);
  EXPECT_EQ(c->event_log_keep, 2u);
  EXPECT_FALSE(c->shipped_rules);
  EXPECT_EQ(c->rules_dir, "/etc/aw/rules.d");
  ASSERT_EQ(c->watches.size(), 2u);
  EXPECT_EQ(c->watches[0].name, "results");
  EXPECT_FALSE(c->watches[0].recursive);
  EXPECT_EQ(c->watches[0].ignore.size(), 2u);
  EXPECT_EQ(c->watches[1].name, "logs");  // defaults to the directory's name
}

TEST(DaemonConfig, UnknownKeySuggestsAndNamesLocation) {
  auto c = parse_daemon_config("[[watch]]\npath = \"/x\"\nrecursve = true\n", "cfg.toml");
  ASSERT_FALSE(c.ok());
  EXPECT_NE(c.error().message.find("cfg.toml:3:1"), std::string::npos) << c.error().message;
  EXPECT_NE(c.error().message.find("did you mean 'recursive'"), std::string::npos);
}

TEST(DaemonConfig, ReportsEveryProblemNotJustTheFirst) {
  auto c =
      parse_daemon_config("[daemon]\nshutdown_grace = 5\n[event_log]\nkeep = \"x\"\n", "c.toml");
  ASSERT_FALSE(c.ok());
  EXPECT_NE(c.error().message.find("c.toml:2:"), std::string::npos) << c.error().message;
  EXPECT_NE(c.error().message.find("c.toml:4:"), std::string::npos) << c.error().message;
  EXPECT_NE(c.error().message.find("expects a duration"), std::string::npos);
}

TEST(DaemonConfig, SyntaxErrorHasLineAndColumn) {
  auto c = parse_daemon_config("[daemon\n", "c.toml");
  ASSERT_FALSE(c.ok());
  EXPECT_EQ(c.error().message.rfind("c.toml:1:", 0), 0u) << c.error().message;
}

TEST(DaemonConfig, RelativeWatchPathAndDuplicateNamesRefused) {
  EXPECT_FALSE(parse_daemon_config("[[watch]]\npath = \"rel/dir\"\n", "c").ok());
  auto dup = parse_daemon_config(
      "[[watch]]\nname=\"a\"\npath=\"/x\"\n[[watch]]\nname=\"a\"\npath=\"/y\"\n", "c");
  ASSERT_FALSE(dup.ok());
  EXPECT_NE(dup.error().message.find("duplicate watch name 'a'"), std::string::npos);
}

TEST(DaemonConfig, DerivedRateMustBePositive) {
  auto bad = parse_daemon_config("[daemon]\nderived_rate = 0\nderived_burst = \"x\"\n", "c.toml");
  ASSERT_FALSE(bad.ok());
  EXPECT_NE(bad.error().message.find("c.toml:2:"), std::string::npos) << bad.error().message;
  EXPECT_NE(bad.error().message.find("c.toml:3:"), std::string::npos) << bad.error().message;
  EXPECT_NE(bad.error().message.find("greater than 0"), std::string::npos);
}

TEST(DaemonConfig, LogSections) {
  auto c = parse_daemon_config(R"([[log]]
name = "w1"
path = "/var/log/w1.log"
entity = "w1"
stall_after = "10m"
max_line_bytes = "256KiB"
patterns = [ { id = "done", regex = "ALL DONE" } ]
)",
                               "c.toml");
  ASSERT_TRUE(c.ok()) << c.error().message;
  ASSERT_EQ(c->logs.size(), 1u);
  EXPECT_EQ(c->logs[0].entity, "w1");
  EXPECT_EQ(c->logs[0].max_line_bytes, 256u * 1024);
  EXPECT_EQ(c->logs[0].stall_after, 10min);
  ASSERT_EQ(c->logs[0].patterns.size(), 1u);
  EXPECT_EQ(c->logs[0].patterns[0].second, "ALL DONE");
  auto bad = parse_daemon_config(R"([[log]]
path = "rel.log"
patterns = [ { id = "x" } ]
)",
                                 "c.toml");
  ASSERT_FALSE(bad.ok());
  EXPECT_NE(bad.error().message.find("c.toml:2:"), std::string::npos) << bad.error().message;
  EXPECT_NE(bad.error().message.find("c.toml:3:"), std::string::npos) << bad.error().message;
  auto huge = parse_daemon_config("[[log]]\npath = \"/l\"\nmax_line_bytes = \"1GiB\"\n", "c.toml");
  ASSERT_FALSE(huge.ok());
  EXPECT_NE(huge.error().message.find("c.toml:3:"), std::string::npos) << huge.error().message;
  EXPECT_NE(huge.error().message.find("at most 16MiB"), std::string::npos);
  auto defaulted = parse_daemon_config("[[log]]\npath = \"/l\"\n", "c.toml");
  ASSERT_TRUE(defaulted.ok());
  EXPECT_EQ(defaulted->logs[0].max_line_bytes, 64u * 1024);
}

TEST(DaemonConfig, GitAndTmuxSections) {
  auto c = parse_daemon_config(R"([tmux]
command = ["tmux", "-L", "agents"]
[[git]]
repo = "/src/alpha/"
[[git]]
name = "b"
repo = "/src/beta"
entity = "project-b"
)",
                               "c.toml");
  ASSERT_TRUE(c.ok()) << c.error().message;
  EXPECT_EQ(c->tmux_command, (std::vector<std::string>{"tmux", "-L", "agents"}));
  ASSERT_EQ(c->git.size(), 2u);
  EXPECT_EQ(c->git[0].name, "alpha");
  EXPECT_EQ(c->git[0].repo, "/src/alpha");
  EXPECT_EQ(c->git[0].entity, "alpha");
  EXPECT_EQ(c->git[1].entity, "project-b");
  auto bad = parse_daemon_config(R"([tmux]
command = []
[[git]]
repo = "relative"
)",
                                 "c.toml");
  ASSERT_FALSE(bad.ok());
  EXPECT_NE(bad.error().message.find("c.toml:2:"), std::string::npos) << bad.error().message;
  EXPECT_NE(bad.error().message.find("c.toml:4:"), std::string::npos) << bad.error().message;
  EXPECT_EQ(parse_daemon_config("", "c.toml")->tmux_command, std::vector<std::string>{"tmux"});
  auto recover = parse_daemon_config(
      "[recover]\nstuck_processing = \"2h\"\nstuck_zombie = \"1m\"\n", "c.toml");
  ASSERT_TRUE(recover.ok()) << recover.error().message;
  EXPECT_EQ(recover->stuck.processing, 2h);
  EXPECT_EQ(recover->stuck.zombie, 1min);
  EXPECT_EQ(recover->stuck.timing_out, 10min);
  EXPECT_FALSE(parse_daemon_config("[recover]\nstuck_procesing = \"2h\"\n", "c.toml").ok());
}

TEST(ParseSize, UnitsAndErrors) {
  EXPECT_EQ(*parse_size("512"), 512u);
  EXPECT_EQ(*parse_size("4KiB"), 4096u);
  EXPECT_EQ(*parse_size("64MiB"), 64u << 20);
  EXPECT_FALSE(parse_size("64MB!").ok());
  EXPECT_FALSE(parse_size("MiB").ok());
}

TEST(DaemonConfig, HttpListensOnLoopbackByDefault) {
  auto c = parse_daemon_config("", "c.toml");
  ASSERT_TRUE(c.ok());
  EXPECT_EQ(c->http.host, "127.0.0.1");
  EXPECT_EQ(c->http.port, 9464);
  EXPECT_FALSE(c->http.allow_non_loopback);
}

TEST(DaemonConfig, HttpSectionParsesTheAddressAndRefusesBadOnes) {
  auto c = parse_daemon_config("[http]\nlisten = \"[::1]:0\"\ntoken_file = \"/etc/aw/token\"\n",
                               "c.toml");
  ASSERT_TRUE(c.ok()) << c.error().message;
  EXPECT_EQ(c->http.host, "::1");
  EXPECT_EQ(c->http.port, 0);
  EXPECT_EQ(c->http.token_file, "/etc/aw/token");
  EXPECT_EQ(parse_daemon_config("[http]\nlisten = \"\"\n", "c.toml")->http.listen, "");
  for (const char* bad : {"9464", "127.0.0.1:99999", "::1:80", "127.0.0.1:x", ":80"}) {
    auto r = parse_daemon_config(std::string("[http]\nlisten = \"") + bad + "\"\n", "c.toml");
    ASSERT_FALSE(r.ok()) << bad;
    EXPECT_NE(r.error().message.find("c.toml:2:"), std::string::npos) << r.error().message;
  }
  auto open = parse_daemon_config("[http]\nlisten = \"0.0.0.0:9464\"\nallow_non_loopback = true\n",
                                  "c.toml");
  ASSERT_FALSE(open.ok());
  EXPECT_NE(open.error().message.find("needs a token_file"), std::string::npos)
      << open.error().message;
}

}  // namespace
}  // namespace aw
