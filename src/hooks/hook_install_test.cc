#include "src/hooks/hook_install.h"

#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>

namespace aw {
namespace {

namespace fs = std::filesystem;

std::string fixture(const std::string& rel) {
  std::ifstream in(std::string(AW_SOURCE_DIR) + "/tests/fixtures/hooks/" + rel);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

std::string slurp(const std::string& path) {
  std::ifstream in(path);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

void spit(const std::string& path, const std::string& text) {
  std::ofstream(path) << text;
}

class InstallHooksTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/aw-hook-install-XXXXXX";
    ASSERT_NE(mkdtemp(tmpl), nullptr);
    dir_ = tmpl;
  }
  void TearDown() override { fs::remove_all(dir_); }

  int run(HookAgent agent, const std::string& file, bool uninstall = false, bool dry_run = false) {
    InstallHooksOptions o;
    o.agent = agent;
    o.settings = file;
    o.program.argv = {"/usr/bin/agentwatch-hook"};
    o.uninstall = uninstall;
    o.dry_run = dry_run;
    out_.str("");
    err_.str("");
    return install_hooks(o, out_, err_, WallTime{std::chrono::seconds(1790000000)});
  }

  std::string dir_;
  std::ostringstream out_;
  std::ostringstream err_;
};

TEST_F(InstallHooksTest, BacksUpWritesKeepsModeAndRestores) {
  const std::string file = dir_ + "/settings.json";
  const std::string original = fixture("settings/claude-settings.json");
  spit(file, original);
  ASSERT_EQ(chmod(file.c_str(), 0640), 0);
  ASSERT_EQ(run(HookAgent::kClaude, file), 0) << err_.str();
  EXPECT_EQ(slurp(file + ".agentwatch-backup"), original);
  EXPECT_NE(out_.str().find("backup of the previous content: " + file + ".agentwatch-backup"),
            std::string::npos)
      << out_.str();
  struct stat st {};
  ASSERT_EQ(stat(file.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 07777, 0640U);
  EXPECT_NE(slurp(file).find("agentwatch-hook claude Notification"), std::string::npos);

  // Uninstall: the parsed content is the original's.
  ASSERT_EQ(run(HookAgent::kClaude, file, true), 0) << err_.str();
  EXPECT_EQ(*parse_json_tree(slurp(file)), *parse_json_tree(original));
  // The second backup did not overwrite the first.
  EXPECT_EQ(slurp(file + ".agentwatch-backup"), original);
  EXPECT_TRUE(fs::exists(file + ".agentwatch-backup.20260921T141320Z"));
}

TEST_F(InstallHooksTest, SecondInstallTouchesNothing) {
  const std::string file = dir_ + "/settings.json";
  spit(file, fixture("settings/claude-settings.json"));
  ASSERT_EQ(run(HookAgent::kClaude, file), 0);
  const std::string after_first = slurp(file);
  struct stat before {};
  ASSERT_EQ(stat(file.c_str(), &before), 0);
  ASSERT_EQ(run(HookAgent::kClaude, file), 0);
  EXPECT_NE(out_.str().find("nothing to change"), std::string::npos) << out_.str();
  EXPECT_EQ(slurp(file), after_first);
  struct stat after {};
  ASSERT_EQ(stat(file.c_str(), &after), 0);
  EXPECT_EQ(before.st_ino, after.st_ino);  // not even rewritten
  EXPECT_FALSE(fs::exists(file + ".agentwatch-backup.20260921T141320Z"));
}

TEST_F(InstallHooksTest, UninstallOfUntouchedSettingsDoesNotReformatThem) {
  const std::string file = dir_ + "/settings.json";
  const std::string compact = R"({"model":"opus"})";
  spit(file, compact);
  ASSERT_EQ(run(HookAgent::kClaude, file, true), 0);
  EXPECT_EQ(slurp(file), compact);
  EXPECT_FALSE(fs::exists(file + ".agentwatch-backup"));
}

TEST_F(InstallHooksTest, DryRunChangesNothing) {
  const std::string file = dir_ + "/settings.json";
  const std::string original = fixture("settings/claude-settings.json");
  spit(file, original);
  ASSERT_EQ(run(HookAgent::kClaude, file, false, true), 0);
  EXPECT_NE(out_.str().find("added hook Notification"), std::string::npos);
  EXPECT_NE(out_.str().find("dry run, not changed"), std::string::npos);
  EXPECT_EQ(slurp(file), original);
  EXPECT_FALSE(fs::exists(file + ".agentwatch-backup"));
}

TEST_F(InstallHooksTest, InvalidJsonNamesFileLineColumnAndChangesNothing) {
  const std::string file = dir_ + "/settings.json";
  const std::string bad = fixture("settings/claude-invalid.json");
  spit(file, bad);
  ASSERT_EQ(run(HookAgent::kClaude, file), 1);
  EXPECT_EQ(err_.str().rfind(file + ":6:3: expected", 0), 0U) << err_.str();
  EXPECT_EQ(slurp(file), bad);
  EXPECT_FALSE(fs::exists(file + ".agentwatch-backup"));
}

TEST_F(InstallHooksTest, MissingFileIsCreatedPrivate) {
  const std::string file = dir_ + "/new/.claude/settings.json";
  ASSERT_EQ(run(HookAgent::kClaude, file), 0) << err_.str();
  struct stat st {};
  ASSERT_EQ(stat(file.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 07777, 0600U);
  EXPECT_FALSE(fs::exists(file + ".agentwatch-backup"));
  ASSERT_EQ(run(HookAgent::kClaude, file, true), 0);
  EXPECT_EQ(slurp(file), "{}\n");
}

TEST_F(InstallHooksTest, SymlinkedSettingsEditTheTarget) {
  const std::string target = dir_ + "/dotfiles-settings.json";
  const std::string link = dir_ + "/settings.json";
  spit(target, "{}");
  ASSERT_EQ(symlink(target.c_str(), link.c_str()), 0);
  ASSERT_EQ(run(HookAgent::kClaude, link), 0) << err_.str();
  EXPECT_TRUE(fs::is_symlink(link));
  EXPECT_NE(slurp(target).find("agentwatch-hook claude Stop"), std::string::npos);
}

TEST_F(InstallHooksTest, CodexRefusalLeavesTheFileAlone) {
  const std::string file = dir_ + "/config.toml";
  const std::string text = fixture("settings/codex-config-other-notify.toml");
  spit(file, text);
  ASSERT_EQ(run(HookAgent::kCodex, file), 1);
  EXPECT_NE(err_.str().find("notify is already set"), std::string::npos) << err_.str();
  EXPECT_EQ(slurp(file), text);
  EXPECT_FALSE(fs::exists(file + ".agentwatch-backup"));
}

TEST_F(InstallHooksTest, CodexInstallAndUninstallRoundTrip) {
  const std::string file = dir_ + "/config.toml";
  const std::string text = fixture("settings/codex-config.toml");
  spit(file, text);
  ASSERT_EQ(run(HookAgent::kCodex, file), 0) << err_.str();
  EXPECT_EQ(slurp(file).rfind("notify = [\"/usr/bin/agentwatch-hook\", \"codex\"]\n", 0), 0U);
  ASSERT_EQ(run(HookAgent::kCodex, file, true), 0) << err_.str();
  EXPECT_EQ(slurp(file), text);
}

TEST(DefaultSettingsPath, PerAgent) {
  EXPECT_EQ(default_settings_path(HookAgent::kClaude, "/h", ""), "/h/.claude/settings.json");
  EXPECT_EQ(default_settings_path(HookAgent::kGemini, "/h", ""), "/h/.gemini/settings.json");
  EXPECT_EQ(default_settings_path(HookAgent::kCodex, "/h", ""), "/h/.codex/config.toml");
  EXPECT_EQ(default_settings_path(HookAgent::kCodex, "/h", "/c"), "/c/config.toml");
}

}  // namespace
}  // namespace aw
