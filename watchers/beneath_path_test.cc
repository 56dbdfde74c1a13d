#include "watchers/beneath_path.h"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <filesystem>
#include <string>

namespace aw {
namespace {

TEST(NormalizeRootPath, CleansSlashesAndDots) {
  EXPECT_EQ(*normalize_root_path("/a//b/./c/"), "/a/b/c");
  EXPECT_EQ(*normalize_root_path("/"), "/");
  EXPECT_EQ(*normalize_root_path("///"), "/");
}

TEST(NormalizeRootPath, RefusesRelativeAndParentRefs) {
  auto rel = normalize_root_path("results");
  ASSERT_FALSE(rel.ok());
  EXPECT_NE(rel.error().message.find("not an absolute path"), std::string::npos);
  auto up = normalize_root_path("/a/../b");
  ASSERT_FALSE(up.ok());
  EXPECT_NE(up.error().message.find(".."), std::string::npos);
}

TEST(RelPaths, JoinSplitAndContainment) {
  EXPECT_EQ(join_rel("", "x"), "x");
  EXPECT_EQ(join_rel("a/b", "x"), "a/b/x");
  EXPECT_EQ(join_abs("/r", ""), "/r");
  EXPECT_EQ(join_abs("/r", "a/b"), "/r/a/b");
  EXPECT_EQ(join_abs("/", "a"), "/a");
  EXPECT_EQ(rel_basename("a/b/c"), "c");
  EXPECT_EQ(rel_basename("c"), "c");
  EXPECT_EQ(rel_dirname("a/b/c"), "a/b");
  EXPECT_EQ(rel_dirname("c"), "");
  EXPECT_TRUE(rel_is_under("a/b", "a"));
  EXPECT_TRUE(rel_is_under("a", "a"));
  EXPECT_TRUE(rel_is_under("a", ""));
  EXPECT_FALSE(rel_is_under("ab", "a"));
  EXPECT_FALSE(rel_is_under("a", "a/b"));
}

class OpenDirBeneath : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/aw-beneath-XXXXXX";
    ASSERT_NE(mkdtemp(tmpl), nullptr);
    dir_ = tmpl;
    std::filesystem::create_directories(dir_ + "/root/a/b");
    std::filesystem::create_directories(dir_ + "/outside");
    ASSERT_EQ(symlink((dir_ + "/outside").c_str(), (dir_ + "/root/a/link").c_str()), 0);
    root_fd_ = open((dir_ + "/root").c_str(), O_PATH | O_DIRECTORY | O_CLOEXEC);
    ASSERT_GE(root_fd_, 0);
  }
  void TearDown() override {
    close(root_fd_);
    std::filesystem::remove_all(dir_);
  }
  std::string dir_;
  int root_fd_ = -1;
};

TEST_F(OpenDirBeneath, OpensRealDirectories) {
  int fd = open_dir_beneath(root_fd_, "a/b", O_RDONLY);
  ASSERT_GE(fd, 0);
  close(fd);
  fd = open_dir_beneath(root_fd_, "", O_PATH);
  ASSERT_GE(fd, 0);
  close(fd);
}

TEST_F(OpenDirBeneath, NeverFollowsASymlink) {
  const int last = open_dir_beneath(root_fd_, "a/link", O_RDONLY);
  EXPECT_TRUE(last == -ELOOP || last == -ENOTDIR) << last;
  std::filesystem::create_directories(dir_ + "/outside/deeper");
  const int rc = open_dir_beneath(root_fd_, "a/link/deeper", O_RDONLY);
  EXPECT_TRUE(rc == -ELOOP || rc == -ENOTDIR) << rc;
  EXPECT_EQ(open_dir_beneath(root_fd_, "a/missing", O_RDONLY), -ENOENT);
  EXPECT_EQ(open_dir_beneath(root_fd_, "a/../a", O_RDONLY), -EINVAL);
}

}  // namespace
}  // namespace aw
