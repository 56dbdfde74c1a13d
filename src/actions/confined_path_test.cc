#include "src/actions/confined_path.h"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>

#include "src/os/test_support.h"

namespace aw {
namespace {

using aw::testing::exists;
using aw::testing::make_dirs;
using aw::testing::TempDir;

TEST(NormalizePath, CollapsesDotsAndSlashes) {
  EXPECT_EQ(normalize_path("/a//b/./c/"), "/a/b/c");
  EXPECT_EQ(normalize_path("/a/b/../c"), "/a/c");
  EXPECT_EQ(normalize_path("/../../a"), "/a");
  EXPECT_EQ(normalize_path("/"), "/");
  EXPECT_EQ(normalize_path("a/../../b"), "../b");
  EXPECT_EQ(normalize_path("a/.."), ".");
  EXPECT_EQ(normalize_path(""), "");
}

TEST(AbsolutePath, JoinsRelativeToBase) {
  EXPECT_EQ(absolute_path("x/y", "/root"), "/root/x/y");
  EXPECT_EQ(absolute_path("/abs/./z", "/root"), "/abs/z");
  EXPECT_EQ(absolute_path("../up", "/root/sub"), "/root/up");
}

TEST(PathBelow, OnlyInsideTheRoot) {
  EXPECT_EQ(path_below("/r", "/r/a/b"), "a/b");
  EXPECT_EQ(path_below("/r", "/r"), "");
  EXPECT_EQ(path_below("/r", "/rx/a"), std::nullopt) << "a shared prefix is not containment";
  EXPECT_EQ(path_below("/r", "/other"), std::nullopt);
  EXPECT_EQ(path_below("/", "/a"), "a");
}

TEST(SplitParent, SplitsAtLastSlash) {
  EXPECT_EQ(split_parent("a/b/c"), (std::pair<std::string, std::string>{"a/b", "c"}));
  EXPECT_EQ(split_parent("c"), (std::pair<std::string, std::string>{"", "c"}));
}

class OpenDirBeneath : public ::testing::TestWithParam<bool> {
 protected:
  void SetUp() override {
    force_openat2_fallback_for_testing(GetParam());
    root_fd_.reset(::open(dir_.path().c_str(), O_PATH | O_DIRECTORY | O_CLOEXEC));
    ASSERT_TRUE(root_fd_.valid());
  }
  void TearDown() override { force_openat2_fallback_for_testing(false); }

  Result<UniqueFd> open(const std::string& rel, bool create = false) {
    return open_dir_beneath(root_fd_.get(), dir_.path(), rel, OpenDirOptions{.create = create});
  }

  TempDir dir_;
  UniqueFd root_fd_;
};

TEST_P(OpenDirBeneath, OpensPlainDirectories) {
  make_dirs(dir_ / "a/b");
  auto fd = open("a/b");
  ASSERT_TRUE(fd.ok()) << fd.error().message;
  struct stat st {
  }, want{};
  ASSERT_EQ(::fstat(fd->get(), &st), 0);
  ASSERT_EQ(::stat((dir_ / "a/b").c_str(), &want), 0);
  EXPECT_EQ(st.st_ino, want.st_ino);
  // "" is the root itself, and the fd can be fsynced.
  auto self = open("");
  ASSERT_TRUE(self.ok());
  EXPECT_EQ(::fsync(self->get()), 0);
}

TEST_P(OpenDirBeneath, CreatesMissingComponents) {
  auto fd = open("x/y/z", true);
  ASSERT_TRUE(fd.ok()) << fd.error().message;
  struct stat st {};
  ASSERT_EQ(::stat((dir_ / "x/y/z").c_str(), &st), 0);
  EXPECT_TRUE(S_ISDIR(st.st_mode));
  EXPECT_EQ(
      st.st_mode & 0777, 0700 & ~[] {
        mode_t m = ::umask(0);
        ::umask(m);
        return m;
      }());
}

TEST_P(OpenDirBeneath, MissingWithoutCreateIsENOENT) {
  auto fd = open("nope/deeper");
  ASSERT_FALSE(fd.ok());
  EXPECT_EQ(fd.error().code, -ENOENT);
  EXPECT_NE(fd.error().message.find(dir_ / "nope"), std::string::npos) << fd.error().message;
  EXPECT_FALSE(exists(dir_ / "nope"));
}

TEST_P(OpenDirBeneath, RefusesASymlinkedComponentAndNamesIt) {
  TempDir elsewhere;
  make_dirs(dir_ / "a");
  ASSERT_EQ(::symlink(elsewhere.path().c_str(), (dir_ / "a/link").c_str()), 0);
  auto fd = open("a/link/sub", true);
  ASSERT_FALSE(fd.ok());
  EXPECT_EQ(fd.error().code, -ELOOP);
  EXPECT_NE(fd.error().message.find(dir_ / "a/link"), std::string::npos) << fd.error().message;
  EXPECT_FALSE(exists(elsewhere / "sub")) << "nothing may be created through the symlink";
}

TEST_P(OpenDirBeneath, RefusesASymlinkEvenInsideTheRoot) {
  make_dirs(dir_ / "real");
  ASSERT_EQ(::symlink("real", (dir_ / "alias").c_str()), 0);
  auto fd = open("alias");
  ASSERT_FALSE(fd.ok());
  EXPECT_EQ(fd.error().code, -ELOOP);
}

TEST_P(OpenDirBeneath, RefusesDotDotOutOfTheRoot) {
  make_dirs(dir_ / "a");
  auto fd = open("a/../../");
  ASSERT_FALSE(fd.ok());
  EXPECT_EQ(fd.error().code, -EXDEV) << fd.error().message;
}

TEST_P(OpenDirBeneath, AFileOnThePathIsNotADirectory) {
  aw::testing::write_file(dir_ / "file", "x");
  auto fd = open("file/sub", true);
  ASSERT_FALSE(fd.ok());
  EXPECT_EQ(fd.error().code, -ENOTDIR);
}

INSTANTIATE_TEST_SUITE_P(Openat2AndFallback, OpenDirBeneath, ::testing::Values(false, true),
                         [](const auto& info) { return info.param ? "Fallback" : "Openat2"; });

}  // namespace
}  // namespace aw
