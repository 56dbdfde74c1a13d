// find_git_dir on hand-made layouts and on a real linked worktree (git is a
// test dependency: the watch tests drive it too).
#include "watchers/git/git_dir.h"

#include <gtest/gtest.h>
#include <sys/stat.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <string>

namespace aw {
namespace {

namespace fs = std::filesystem;

class GitDirTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/aw-gitdir-XXXXXX";
    ASSERT_NE(mkdtemp(tmpl), nullptr);
    dir_ = tmpl;
  }
  void TearDown() override { fs::remove_all(dir_); }

  // A minimal git directory: HEAD and objects/.
  void make_git_dir(const std::string& path) {
    fs::create_directories(path + "/objects");
    std::ofstream(path + "/HEAD") << "ref: refs/heads/main\n";
  }

  std::string dir_;
};

TEST_F(GitDirTest, WorkTreeWithDotGitDirectory) {
  make_git_dir(dir_ + "/wt/.git");
  auto g = find_git_dir(dir_ + "/wt");
  ASSERT_TRUE(g) << g.error().message;
  EXPECT_EQ(*g, dir_ + "/wt/.git");
  EXPECT_EQ(head_reflog_path(*g), dir_ + "/wt/.git/logs/HEAD");
  auto slash = find_git_dir(dir_ + "/wt/");
  ASSERT_TRUE(slash);
  EXPECT_EQ(*slash, dir_ + "/wt/.git");
}

TEST_F(GitDirTest, TheGitDirectoryItself) {
  make_git_dir(dir_ + "/bare.git");
  auto g = find_git_dir(dir_ + "/bare.git");
  ASSERT_TRUE(g) << g.error().message;
  EXPECT_EQ(*g, dir_ + "/bare.git");
}

TEST_F(GitDirTest, DotGitFilePointsElsewhere) {
  make_git_dir(dir_ + "/store/modules/sub");
  fs::create_directories(dir_ + "/wt");
  std::ofstream(dir_ + "/wt/.git") << "gitdir: ../store/modules/sub\n";
  auto rel = find_git_dir(dir_ + "/wt");
  ASSERT_TRUE(rel) << rel.error().message;
  EXPECT_EQ(*rel, dir_ + "/wt/../store/modules/sub");
  std::ofstream(dir_ + "/wt/.git") << "gitdir: " << dir_ << "/store/modules/sub\n";
  auto abs = find_git_dir(dir_ + "/wt");
  ASSERT_TRUE(abs) << abs.error().message;
  EXPECT_EQ(*abs, dir_ + "/store/modules/sub");
}

TEST_F(GitDirTest, ErrorsNameThePathAndWhatWasExpected) {
  auto relative = find_git_dir("some/repo");
  ASSERT_FALSE(relative);
  EXPECT_NE(relative.error().message.find("absolute"), std::string::npos);

  auto missing = find_git_dir(dir_ + "/nope");
  ASSERT_FALSE(missing);
  EXPECT_NE(missing.error().message.find(dir_ + "/nope"), std::string::npos);
  EXPECT_NE(missing.error().message.find("no such directory"), std::string::npos);

  fs::create_directories(dir_ + "/plain");
  auto plain = find_git_dir(dir_ + "/plain");
  ASSERT_FALSE(plain);
  EXPECT_NE(plain.error().message.find("not a git work tree or git directory"), std::string::npos)
      << plain.error().message;

  fs::create_directories(dir_ + "/junk");
  std::ofstream(dir_ + "/junk/.git") << "hello\n";
  auto junk = find_git_dir(dir_ + "/junk");
  ASSERT_FALSE(junk);
  EXPECT_NE(junk.error().message.find(dir_ + "/junk/.git: expected a line 'gitdir: <path>'"),
            std::string::npos)
      << junk.error().message;

  fs::create_directories(dir_ + "/dangling");
  std::ofstream(dir_ + "/dangling/.git") << "gitdir: /nonexistent/x\n";
  auto dangling = find_git_dir(dir_ + "/dangling");
  ASSERT_FALSE(dangling);
  EXPECT_NE(dangling.error().message.find("/nonexistent/x, which is not a git directory"),
            std::string::npos)
      << dangling.error().message;
}

TEST_F(GitDirTest, RealLinkedWorktree) {
  if (std::system("git --version > /dev/null 2>&1") != 0) GTEST_SKIP() << "git not installed";
  const std::string main = dir_ + "/main";
  const std::string cmd = "git init -q " + main + " && git -C " + main +
                          " -c user.name=T -c user.email=t@t commit -q --allow-empty -m base && "
                          "git -C " +
                          main + " worktree add -q " + dir_ + "/linked 2>/dev/null";
  ASSERT_EQ(std::system(cmd.c_str()), 0);
  auto g = find_git_dir(dir_ + "/linked");
  ASSERT_TRUE(g) << g.error().message;
  EXPECT_EQ(*g, main + "/.git/worktrees/linked");
  struct stat st {};
  EXPECT_EQ(stat(head_reflog_path(*g).c_str(), &st), 0)
      << "git keeps the worktree's HEAD log there";
}

}  // namespace
}  // namespace aw
