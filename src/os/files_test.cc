// The shared file operations on a real temp dir, and through an Env that fails
// on demand: what every durable writer in agentwatch relies on.
#include "src/os/files.h"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <filesystem>

#include "src/os/environ.h"
#include "src/os/errno_text.h"
#include "src/os/test_support.h"
#include "src/os/unique_fd.h"

namespace aw {
namespace {

using testing::TempDir;

std::size_t entries(const std::string& dir) {
  return static_cast<std::size_t>(std::distance(std::filesystem::directory_iterator(dir), {}));
}

// Fails the Nth call of one kind with an errno, and lets a write through in
// pieces of at most `max_write` bytes (a short write, as a pipe or a full disk
// gives).
class FaultyEnv : public Env {
 public:
  int fail_write_errno = 0;
  int fail_fsync_errno = 0;
  int fail_rename_errno = 0;
  std::size_t max_write = SIZE_MAX;
  int writes = 0;
  int interrupted_writes = 0;  // the first N writes fail with EINTR
  bool zero_writes = false;    // write() returns 0: no progress

  ssize_t write(int fd, const void* data, std::size_t len) override {
    ++writes;
    if (interrupted_writes > 0) {
      --interrupted_writes;
      errno = EINTR;
      return -1;
    }
    if (fail_write_errno != 0) {
      errno = fail_write_errno;
      return -1;
    }
    if (zero_writes) return 0;
    return Env::write(fd, data, std::min(len, max_write));
  }
  int fsync(int fd) override {
    if (fail_fsync_errno != 0) {
      errno = fail_fsync_errno;
      return -1;
    }
    return Env::fsync(fd);
  }
  int rename(const char* from, const char* to) override {
    if (fail_rename_errno != 0) {
      errno = fail_rename_errno;
      return -1;
    }
    return Env::rename(from, to);
  }
};

TEST(Files, WriteFileDurablyReplacesAndLeavesNoTemp) {
  TempDir dir;
  const std::string path = dir / "f";
  ASSERT_TRUE(write_file_durably(path, "one\n", 0600).ok());
  ASSERT_TRUE(write_file_durably(path, "two\n", 0600).ok());
  auto text = read_file_if_exists(path);
  ASSERT_TRUE(text.ok());
  EXPECT_EQ(**text, "two\n");
  struct stat st {};
  ASSERT_EQ(stat(path.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600u);
  EXPECT_EQ(entries(dir.path()), 1u) << "no temp left";
  auto missing = read_file_if_exists(dir / "nothing");
  ASSERT_TRUE(missing.ok());
  EXPECT_FALSE(missing->has_value());
  auto bad = write_file_durably(dir / "no/such/dir/f", "x");
  ASSERT_FALSE(bad.ok());
  EXPECT_NE(bad.error().message.find(dir / "no/such/dir/f"), std::string::npos);
  EXPECT_EQ(bad.error().code, -ENOENT);
}

TEST(Files, ReadFileTailGivesTheLastBytesOrTheWholeShortFile) {
  TempDir dir;
  const std::string path = dir / "f";
  ASSERT_TRUE(write_file_durably(path, "0123456789").ok());
  auto tail = read_file_tail(path, 4);
  ASSERT_TRUE(tail.ok());
  EXPECT_EQ(**tail, "6789");
  tail = read_file_tail(path, 100);
  ASSERT_TRUE(tail.ok());
  EXPECT_EQ(**tail, "0123456789");
  auto missing = read_file_tail(dir / "nothing", 4);
  ASSERT_TRUE(missing.ok());
  EXPECT_FALSE(missing->has_value());
}

TEST(Files, ShortAndInterruptedWritesAreRetriedToTheEnd) {
  TempDir dir;
  FaultyEnv env;
  env.max_write = 3;
  env.interrupted_writes = 2;
  ASSERT_TRUE(write_file_durably(dir / "f", "0123456789", 0644, env).ok());
  EXPECT_EQ(**read_file_if_exists(dir / "f"), "0123456789");
  EXPECT_EQ(env.writes, 2 + 4);  // two EINTRs, then 3+3+3+1 bytes
}

TEST(Files, AFullDiskKeepsTheOldFileAndRemovesTheTemp) {
  TempDir dir;
  ASSERT_TRUE(write_file_durably(dir / "f", "old\n").ok());
  FaultyEnv env;
  env.fail_write_errno = ENOSPC;
  Status s = write_file_durably(dir / "f", "new\n", 0644, env);
  ASSERT_FALSE(s.ok());
  EXPECT_EQ(s.error().code, -ENOSPC);
  EXPECT_NE(s.error().message.find(errno_text(ENOSPC)), std::string::npos) << s.error().message;
  EXPECT_EQ(**read_file_if_exists(dir / "f"), "old\n");
  EXPECT_EQ(entries(dir.path()), 1u) << "the temp file is gone";
}

TEST(Files, AWriteThatMakesNoProgressIsAnErrorNotALoop) {
  TempDir dir;
  FaultyEnv env;
  env.zero_writes = true;
  Status s = write_file_durably(dir / "f", "x", 0644, env);
  ASSERT_FALSE(s.ok());
  EXPECT_EQ(s.error().code, -EIO);
}

TEST(Files, AFailedFsyncOrRenameKeepsTheOldFile) {
  TempDir dir;
  ASSERT_TRUE(write_file_durably(dir / "f", "old\n").ok());
  for (int which = 0; which < 2; ++which) {
    FaultyEnv env;
    (which == 0 ? env.fail_fsync_errno : env.fail_rename_errno) = EIO;
    Status s = write_file_durably(dir / "f", "new\n", 0644, env);
    ASSERT_FALSE(s.ok()) << which;
    EXPECT_EQ(s.error().code, -EIO);
    EXPECT_EQ(**read_file_if_exists(dir / "f"), "old\n");
    EXPECT_EQ(entries(dir.path()), 1u);
  }
}

TEST(Files, MakeDirsCreatesParentsAndRefusesAFile) {
  TempDir dir;
  ASSERT_TRUE(make_dirs(dir / "a/b/c", 0700).ok());
  struct stat st {};
  ASSERT_EQ(stat((dir / "a/b/c").c_str(), &st), 0);
  EXPECT_TRUE(S_ISDIR(st.st_mode));
  EXPECT_EQ(st.st_mode & 0777, 0700u);
  EXPECT_TRUE(make_dirs(dir / "a/b/c", 0700).ok()) << "existing is fine";
  testing::write_file(dir / "file", "x");
  Status s = make_dirs(dir / "file", 0700);
  ASSERT_FALSE(s.ok());
  EXPECT_NE(s.error().message.find("not a directory"), std::string::npos) << s.error().message;
  Status under = make_dirs(dir / "file/sub", 0700);
  ASSERT_FALSE(under.ok());
  EXPECT_EQ(under.error().code, -ENOTDIR);
}

TEST(Files, ParentDir) {
  EXPECT_EQ(parent_dir("f"), ".");
  EXPECT_EQ(parent_dir("/f"), "/");
  EXPECT_EQ(parent_dir("/a/b/f"), "/a/b");
}

TEST(Files, EnvVarTellsUnsetFromEmpty) {
  ::unsetenv("AW_FILES_TEST_VAR");
  EXPECT_FALSE(env_var("AW_FILES_TEST_VAR").has_value());
  EXPECT_EQ(env_or("AW_FILES_TEST_VAR", "dflt"), "dflt");
  ::setenv("AW_FILES_TEST_VAR", "", 1);
  EXPECT_EQ(env_var("AW_FILES_TEST_VAR"), std::string());
  EXPECT_EQ(env_or("AW_FILES_TEST_VAR", "dflt"), "dflt");
  ::setenv("AW_FILES_TEST_VAR", "v", 1);
  EXPECT_EQ(env_var("AW_FILES_TEST_VAR"), std::string("v"));
  ::unsetenv("AW_FILES_TEST_VAR");
}

TEST(Files, RealEnvAnswersForThisProcess) {
  auto stat = Env::real().read_proc_stat(::getpid());
  ASSERT_TRUE(stat.ok()) << stat.error().message;
  EXPECT_EQ(stat->substr(0, std::to_string(::getpid()).size()), std::to_string(::getpid()));
  auto exe = Env::real().read_proc_exe(::getpid());
  ASSERT_TRUE(exe.ok());
  EXPECT_NE(exe->find("os_test"), std::string::npos) << *exe;
  auto gone = Env::real().read_proc_stat(0x3fffffff);
  ASSERT_FALSE(gone.ok());
  EXPECT_EQ(gone.error().code, -ENOENT);
  EXPECT_TRUE(Env::real().boot_time().ok());
}

TEST(Files, ReadRegularFileAtReadsOnlyARegularFileWithinItsLimit) {
  TempDir dir;
  testing::write_file(dir / "r.json", "{}");
  ASSERT_EQ(::symlink((dir / "r.json").c_str(), (dir / "link").c_str()), 0);
  ASSERT_EQ(::mkfifo((dir / "fifo").c_str(), 0600), 0);
  UniqueFd d(::open(dir.path().c_str(), O_PATH | O_DIRECTORY | O_CLOEXEC));
  ASSERT_TRUE(d);
  Result<std::string> text = read_regular_file_at(d.get(), "r.json", 2, "r.json");
  ASSERT_TRUE(text.ok()) << text.error().message;
  EXPECT_EQ(*text, "{}");
  EXPECT_EQ(read_regular_file_at(d.get(), "r.json", 1, "r.json").error().code, -EFBIG);
  EXPECT_EQ(read_regular_file_at(d.get(), "link", 10, "link").error().code, -ELOOP);
  EXPECT_EQ(read_regular_file_at(d.get(), "fifo", 10, "fifo").error().code, -EINVAL);
  EXPECT_EQ(read_regular_file_at(d.get(), "none", 10, "none").error().code, -ENOENT);
}

TEST(Files, ErrnoText) {
  EXPECT_EQ(errno_text(ENOENT), "No such file or directory");
  Error e = errno_error("cannot open '/x'", EACCES);
  EXPECT_EQ(e.message, "cannot open '/x': Permission denied");
  EXPECT_EQ(e.code, -EACCES);
}

}  // namespace
}  // namespace aw
