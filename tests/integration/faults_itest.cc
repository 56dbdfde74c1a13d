// Disk and directory faults under a running daemon (#10): the directories it
// depends on deleted and recreated, its state dir full. It keeps running, says
// what happened, and loses nothing it had acknowledged.
#include <gtest/gtest.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdio>
#include <cstring>
#include <filesystem>
#include <vector>

#include "tests/integration/harness.h"

namespace aw::testing {
namespace {

namespace fs = std::filesystem;

constexpr std::string_view kEmitOnInbox = R"(
[[rule]]
name = "seen"
on = "file.landed"
when = [ { field = "fields.watch", equals = "inbox" } ]
  [[rule.action]]
  do = "emit"
  kind = "inbox.seen"
  entity = "{fields.rel}"
)";

class FaultsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    inbox = d.home() + "/inbox";
    make_dirs(inbox);
    d.write_config("[rules]\nshipped = false\n[[watch]]\nname = \"inbox\"\npath = \"" + inbox +
                   "\"\n");
  }
  std::size_t seen(const std::string& name) const {
    return d.count([&](const Event& e) { return e.kind == "inbox.seen" && e.entity == name; });
  }
  bool wait_seen(const std::string& name) const {
    return d.wait_for([&](const Event& e) { return e.kind == "inbox.seen" && e.entity == name; })
        .has_value();
  }

  DaemonUnderTest d;
  std::string inbox;
};

TEST_F(FaultsTest, TheRulesDirDeletedAndRecreatedIsReadAgain) {
  d.write_rule("seen.toml", std::string(kEmitOnInbox));
  d.start();
  write_file(inbox + "/one", "");
  ASSERT_TRUE(wait_seen("one")) << d.stderr_text();
  fs::remove_all(d.rules_dir());
  ASSERT_TRUE(d.wait_for([](const Event& e) {
    return e.kind == "rules.loaded" && e.fields.get_int("rules") == 0;
  })) << "deleting the rule files unloads their rules";
  make_dirs(d.rules_dir());
  d.write_rule("seen.toml", std::string(kEmitOnInbox));
  ASSERT_TRUE(d.wait_for([](const Event& e) {
    return e.kind == "rules.loaded" && e.fields.get_int("rules") == 1 &&
           e.fields.get_string("reason") != "start";
  })) << d.stderr_text();
  write_file(inbox + "/two", "");
  EXPECT_TRUE(wait_seen("two")) << d.stderr_text();
  EXPECT_EQ(d.stop(), 0);
}

TEST_F(FaultsTest, AWatchedRootDeletedAndRecreatedIsWatchedAgain) {
  d.write_rule("seen.toml", std::string(kEmitOnInbox));
  d.start();
  write_file(inbox + "/one", "");
  ASSERT_TRUE(wait_seen("one")) << d.stderr_text();
  fs::remove_all(inbox);
  ASSERT_TRUE(d.wait_for_kind("watch.root_missing")) << d.stderr_text();
  make_dirs(inbox);
  ASSERT_TRUE(d.wait_for_kind("watch.root_restored")) << d.stderr_text();
  write_file(inbox + "/two", "");
  EXPECT_TRUE(wait_seen("two")) << d.stderr_text();
  EXPECT_EQ(seen("one"), 1u);
  EXPECT_EQ(d.stop(), 0);
}

TEST_F(FaultsTest, TheRuntimeDirRemovedUnderTheDaemonIsMadeAgain) {
  d.write_rule("seen.toml", std::string(kEmitOnInbox));
  d.start();
  fs::remove_all(d.runtime_dir());
  ASSERT_TRUE(d.wait_for_kind("daemon.runtime_restored")) << d.stderr_text();
  // Its sockets answer again: a notify is delivered, not spooled, and the
  // control socket serves the CLI.
  CommandResult r = d.cli({"notify", "user.ping", "n=1"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_TRUE(r.err.empty()) << "spooled, not delivered: " << r.err;
  EXPECT_TRUE(d.wait_for_kind("user.ping")) << d.stderr_text();
  EXPECT_EQ(d.cli({"status"}).exit_code, 0);
  EXPECT_EQ(d.stop(), 0);
}

// The state dir on a small tmpfs that fills up: the daemon keeps running and
// says so; once there is room again, what it logged meanwhile is in the log.
TEST_F(FaultsTest, AFullStateDirIsSurvivedAndNothingAcknowledgedIsLost) {
  make_dirs(d.state_dir());
  // ./dev test runs as root (it apt-gets what it needs), so it may mount.
  ASSERT_EQ(mount("tmpfs", d.state_dir().c_str(), "tmpfs", 0, "size=512k,mode=0700"), 0)
      << "cannot mount a tmpfs for the state dir (needs root): " << std::strerror(errno);
  struct Unmount {
    std::string path;
    ~Unmount() { umount2(path.c_str(), MNT_DETACH); }
  } unmount{d.state_dir()};
  d.write_rule("seen.toml", std::string(kEmitOnInbox));
  d.start();
  write_file(inbox + "/before", "");
  ASSERT_TRUE(wait_seen("before")) << d.stderr_text();
  // Fill the disk: what is left is too little for the next records.
  const std::string filler = d.state_dir() + "/filler";
  {
    std::FILE* f = std::fopen(filler.c_str(), "w");
    ASSERT_NE(f, nullptr);
    std::vector<char> block(4096, 'x');
    while (std::fwrite(block.data(), 1, block.size(), f) == block.size() && std::fflush(f) == 0) {
    }
    std::fclose(f);
  }
  for (int i = 0; i < 20; ++i) write_file(inbox + "/during-" + std::to_string(i), "");
  // It says so, and goes on running.
  usleep(300'000);
  EXPECT_EQ(kill(d.pid(), 0), 0) << "the daemon died of a full disk";
  EXPECT_NE(d.stderr_text().find("No space left on device"), std::string::npos) << d.stderr_text();
  // Room again: every file that landed meanwhile is in the log, once.
  ASSERT_EQ(unlink(filler.c_str()), 0);
  write_file(inbox + "/after", "");
  ASSERT_TRUE(wait_seen("after")) << d.stderr_text();
  for (int i = 0; i < 20; ++i) EXPECT_EQ(seen("during-" + std::to_string(i)), 1u) << i;
  EXPECT_EQ(d.stop(), 0);
}

}  // namespace
}  // namespace aw::testing
