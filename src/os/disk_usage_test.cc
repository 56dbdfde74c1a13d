#include "src/os/disk_usage.h"

#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <string>

#include "src/os/files.h"
#include "src/os/test_support.h"

namespace aw {
namespace {

std::uint64_t allocated(const std::string& path) {
  struct stat st {};
  EXPECT_EQ(::lstat(path.c_str(), &st), 0) << path;
  return static_cast<std::uint64_t>(st.st_blocks) * 512;
}

class DiskUsageTest : public ::testing::Test {
 protected:
  void write(const std::string& rel, std::size_t bytes) {
    ASSERT_TRUE(write_file_durably(dir_.path() + "/" + rel, std::string(bytes, 'x'), 0600).ok());
  }
  testing::TempDir dir_;
};

TEST_F(DiskUsageTest, CountsAllocatedBlocksOfFilesAndDirectories) {
  ASSERT_TRUE(make_dirs(dir_.path() + "/tree/sub", 0700).ok());
  write("tree/a", 100'000);
  write("tree/sub/b", 10'000);
  auto u = disk_usage(dir_.path() + "/tree");
  ASSERT_TRUE(u.ok()) << u.error().message;
  EXPECT_EQ(u->bytes, allocated(dir_.path() + "/tree") + allocated(dir_.path() + "/tree/sub") +
                          allocated(dir_.path() + "/tree/a") +
                          allocated(dir_.path() + "/tree/sub/b"));
  EXPECT_GE(u->bytes, 110'000u);
  EXPECT_EQ(u->entries, 4u);
  EXPECT_FALSE(u->truncated);
}

TEST_F(DiskUsageTest, NeverFollowsASymlinkOutOfTheTree) {
  ASSERT_TRUE(make_dirs(dir_.path() + "/tree", 0700).ok());
  ASSERT_TRUE(make_dirs(dir_.path() + "/outside", 0700).ok());
  write("outside/big", 1'000'000);
  ASSERT_EQ(::symlink((dir_.path() + "/outside").c_str(), (dir_.path() + "/tree/link").c_str()), 0);
  auto u = disk_usage(dir_.path() + "/tree");
  ASSERT_TRUE(u.ok());
  EXPECT_LT(u->bytes, 100'000u);
}

TEST_F(DiskUsageTest, AHardLinkedFileCountsOnce) {
  ASSERT_TRUE(make_dirs(dir_.path() + "/tree", 0700).ok());
  write("tree/a", 200'000);
  ASSERT_EQ(::link((dir_.path() + "/tree/a").c_str(), (dir_.path() + "/tree/b").c_str()), 0);
  auto u = disk_usage(dir_.path() + "/tree");
  ASSERT_TRUE(u.ok());
  EXPECT_EQ(u->bytes, allocated(dir_.path() + "/tree") + allocated(dir_.path() + "/tree/a"));
}

TEST_F(DiskUsageTest, AMissingRootIsZeroAndABigTreeIsCutAtTheCap) {
  auto none = disk_usage(dir_.path() + "/nope");
  ASSERT_TRUE(none.ok());
  EXPECT_EQ(none->bytes, 0u);
  ASSERT_TRUE(make_dirs(dir_.path() + "/tree", 0700).ok());
  for (int i = 0; i < 10; ++i) write("tree/f" + std::to_string(i), 10);
  auto cut = disk_usage(dir_.path() + "/tree", 5);
  ASSERT_TRUE(cut.ok());
  EXPECT_TRUE(cut->truncated);
  EXPECT_EQ(cut->entries, 5u);
}

}  // namespace
}  // namespace aw
