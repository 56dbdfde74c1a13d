// Rule files as a user edits them: hot reload as a transaction, and the
// `rules check|list|test` commands.
#include <gtest/gtest.h>
#include <signal.h>

#include "tests/integration/harness.h"

namespace aw::testing {
namespace {

std::string copy_rule(const std::string& name, const std::string& marker_dir,
                      const std::string& suffix) {
  return "[[rule]]\nname = \"" + name +
         "\"\non = \"file.landed\"\nwhen = [ { field = \"fields.watch\", "
         "equals = \"inbox\" } ]\n  [[rule.action]]\n  do = \"run\"\n  argv = [\"touch\", \"" +
         marker_dir + "/{name}." + suffix + "\"]\n";
}

class RulesTest : public ::testing::Test {
 protected:
  void SetUp() override {
    inbox = d.home() + "/inbox";
    out = d.home() + "/out";
    make_dirs(inbox);
    make_dirs(out);
    d.write_config(
        "[rules]\nshipped = false\n[daemon]\nreload_debounce = \"50ms\"\n[[watch]]\nname = "
        "\"inbox\"\npath = \"" +
        inbox + "\"\n");
  }
  DaemonUnderTest d;
  std::string inbox, out;
};

TEST_F(RulesTest, TypoIsRejectedWithLocationOldRulesKeepWorkingAndAFixReloads) {
  d.write_rule("main.toml", copy_rule("mark-v1", out, "v1"));
  d.start();
  write_file(inbox + "/a", "");
  ASSERT_TRUE(d.wait_for([](const Event& e) { return e.kind == "action.succeeded"; }));
  EXPECT_TRUE(exists(out + "/a.v1"));

  // Save with a typo: the whole set is rejected, with file:line:column.
  std::string broken = copy_rule("mark-v2", out, "v2");
  broken.replace(broken.find("when ="), 4, "wen ");
  d.write_rule("main.toml", broken);
  auto rejected = d.wait_for_kind("rules.rejected");
  ASSERT_TRUE(rejected) << d.stderr_text();
  const std::string error = *rejected->fields.get_string("error");
  EXPECT_NE(error.find("main.toml:4:1"), std::string::npos) << error;
  EXPECT_NE(error.find("did you mean 'when'"), std::string::npos) << error;

  // The old rules still run.
  write_file(inbox + "/b", "");
  ASSERT_TRUE(d.wait_for(
      [](const Event& e) { return e.kind == "action.succeeded" && e.path.ends_with("/b"); }));
  EXPECT_TRUE(exists(out + "/b.v1"));
  EXPECT_FALSE(exists(out + "/b.v2"));

  // A corrected save reloads.
  const std::size_t loads = d.count([](const Event& e) { return e.kind == "rules.loaded"; });
  d.write_rule("main.toml", copy_rule("mark-v2", out, "v2"));
  ASSERT_EQ(d.wait_for_count([](const Event& e) { return e.kind == "rules.loaded"; }, loads + 1),
            loads + 1);
  write_file(inbox + "/c", "");
  ASSERT_TRUE(d.wait_for(
      [](const Event& e) { return e.kind == "action.succeeded" && e.path.ends_with("/c"); }));
  EXPECT_TRUE(exists(out + "/c.v2"));
  EXPECT_FALSE(exists(out + "/c.v1"));
  EXPECT_EQ(d.stop(), 0);
}

TEST_F(RulesTest, SighupReloadsAndHashIsLogged) {
  d.write_rule("main.toml", copy_rule("r1", out, "x"));
  d.start();
  auto first = d.wait_for_kind("rules.loaded");
  ASSERT_TRUE(first);
  EXPECT_FALSE(first->fields.get_string("hash").value_or("").empty());
  d.signal(SIGHUP);
  ASSERT_EQ(d.wait_for_count(
                [](const Event& e) {
                  return e.kind == "rules.loaded" && e.fields.get_string("reason") == "SIGHUP";
                },
                1),
            1u);
  EXPECT_EQ(d.stop(), 0);
}

TEST_F(RulesTest, DaemonRefusesToStartOnInvalidRules) {
  d.write_rule("bad.toml",
               "[[rule]]\nname = \"x\"\non = \"file.landed\"\n  [[rule.action]]\n  do = \"rn\"\n");
  auto r = d.cli({"run"});
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.err.find("bad.toml:5:"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("'run'"), std::string::npos) << r.err;
}

TEST_F(RulesTest, CheckListAndTestCommands) {
  d.write_rule("main.toml", copy_rule("mark-it", out, "m"));
  auto ok = d.cli({"rules", "check"});
  EXPECT_EQ(ok.exit_code, 0) << ok.err;
  EXPECT_NE(ok.out.find("ok: 1 rule,"), std::string::npos) << ok.out;

  write_file(d.home() + "/broken.toml", "[[rule]]\nname = \"y\"\non = [\"file.[\"]\n");
  auto bad = d.cli({"rules", "check", d.home() + "/broken.toml"});
  EXPECT_EQ(bad.exit_code, 1);
  EXPECT_NE(bad.err.find("broken.toml:3:"), std::string::npos) << bad.err;

  auto list = d.cli({"rules", "list"});
  EXPECT_EQ(list.exit_code, 0);
  EXPECT_NE(list.out.find("mark-it"), std::string::npos) << list.out;

  auto dry = d.cli({"rules", "test", "--event",
                    R"({"kind":"file.landed","path":")" + inbox +
                        R"(/my file.txt","fields":{"watch":"inbox"}})"});
  EXPECT_EQ(dry.exit_code, 0) << dry.err;
  EXPECT_NE(dry.out.find("mark-it"), std::string::npos) << dry.out;
  EXPECT_NE(dry.out.find("\"" + out + "/my file.txt.m\""), std::string::npos) << dry.out;
  EXPECT_FALSE(exists(out + "/my file.txt.m")) << "a dry run runs nothing";

  auto nomatch = d.cli({"rules", "test", "--event", R"({"kind":"file.removed"})"});
  EXPECT_EQ(nomatch.exit_code, 1);
  auto garbage = d.cli({"rules", "test", "--event", "{not json"});
  EXPECT_EQ(garbage.exit_code, 2);
}

}  // namespace
}  // namespace aw::testing

int main(int argc, char** argv) {
  aw::testing::become_subreaper();
  ::testing::InitGoogleTest(&argc, argv);
  return RUN_ALL_TESTS();
}
