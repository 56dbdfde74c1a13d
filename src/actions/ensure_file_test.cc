// ensure_file on real files in temp dirs: a root holding the hooks directory,
// and a source (and a symlink target) outside it.
#include "src/actions/ensure_file.h"

#include <dirent.h>
#include <fcntl.h>
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <climits>
#include <string>
#include <thread>
#include <vector>

#include "src/actions/confined_path.h"
#include "src/os/test_support.h"

namespace aw {
namespace {

using aw::testing::exists;
using aw::testing::make_dirs;
using aw::testing::read_file;
using aw::testing::TempDir;
using aw::testing::write_file;

constexpr const char* kHook = "#!/bin/sh\necho stop hook\n";
constexpr const char* kSameSizeOther = "#!/bin/sh\necho evil hook\n";  // same length as kHook

struct stat lstat_of(const std::string& path) {
  struct stat st {};
  EXPECT_EQ(::lstat(path.c_str(), &st), 0) << path;
  return st;
}

mode_t mode_of(const std::string& path) {
  return lstat_of(path).st_mode & 07777;
}

std::vector<std::string> entries(const std::string& dir) {
  std::vector<std::string> out;
  DIR* d = ::opendir(dir.c_str());
  if (!d) return out;
  while (const dirent* e = ::readdir(d)) {
    const std::string name = e->d_name;
    if (name != "." && name != "..") out.push_back(name);
  }
  ::closedir(d);
  return out;
}

bool has_temp_file(const std::string& dir) {
  for (const std::string& name : entries(dir))
    if (name.find("agentwatch-tmp") != std::string::npos) return true;
  return false;
}

class EnsureFileTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_EQ(std::string(kHook).size(), std::string(kSameSizeOther).size());
    write_file(source(), kHook);
  }
  std::string source() const { return outside_ / "stop.sh"; }
  std::string hook() const { return root_ / "hooks/stop.sh"; }
  std::string keep() const { return root_ / "hooks/.agentwatch-replaced"; }
  EnsureFileSpec spec() const {
    EnsureFileSpec s;
    s.path = hook();
    s.source = source();
    s.root = root_.path();
    return s;
  }
  TempDir root_;
  TempDir outside_;
};

TEST_F(EnsureFileTest, ADeletedHookIsRestoredWithItsExactModeAndContent) {
  ActionOutcome o = ensure_file(spec());
  ASSERT_TRUE(o.ok) << o.message;
  EXPECT_EQ(o.fields.get_string("state"), "restored");
  EXPECT_EQ(o.fields.get_string("path"), hook());
  EXPECT_EQ(o.fields.get_string("source"), source());
  EXPECT_EQ(o.fields.get_int("bytes"), static_cast<std::int64_t>(std::string(kHook).size()));
  EXPECT_FALSE(o.fields.find("kept"));
  EXPECT_TRUE(S_ISREG(lstat_of(hook()).st_mode));
  EXPECT_EQ(mode_of(hook()), 0700u);
  EXPECT_EQ(read_file(hook()), kHook);
  EXPECT_EQ(mode_of(root_ / "hooks"), 0700u) << "a missing parent is created 0700";
  EXPECT_EQ(entries(root_ / "hooks"), std::vector<std::string>{"stop.sh"})
      << "no temporary file left, no keep directory made";
}

TEST_F(EnsureFileTest, AHookMadeNonExecutableGetsItsModeBackInPlace) {
  make_dirs(root_ / "hooks");
  write_file(hook(), kHook);
  ASSERT_EQ(::chmod(hook().c_str(), 0644), 0);
  const ino_t inode = lstat_of(hook()).st_ino;
  ActionOutcome o = ensure_file(spec());
  ASSERT_TRUE(o.ok) << o.message;
  EXPECT_EQ(o.fields.get_string("state"), "mode_fixed");
  EXPECT_EQ(o.fields.get_string("old_mode"), "0644");
  EXPECT_EQ(o.fields.get_string("mode"), "0700");
  EXPECT_FALSE(o.fields.find("bytes")) << "nothing was written";
  EXPECT_EQ(mode_of(hook()), 0700u);
  EXPECT_EQ(lstat_of(hook()).st_ino, inode) << "fixed in place, not rewritten";
  EXPECT_EQ(read_file(hook()), kHook);
  EXPECT_FALSE(exists(keep()));
}

TEST_F(EnsureFileTest, AnIntactHookIsNeitherWrittenNorTouched) {
  make_dirs(root_ / "hooks");
  write_file(hook(), kHook);
  ASSERT_EQ(::chmod(hook().c_str(), 0700), 0);
  // An old mtime, so that any rewrite (which stamps "now") shows.
  const timespec old[2] = {{1000000000, 0}, {1000000000, 0}};
  ASSERT_EQ(::utimensat(AT_FDCWD, hook().c_str(), old, AT_SYMLINK_NOFOLLOW), 0);
  const struct stat before = lstat_of(hook());
  ActionOutcome o = ensure_file(spec());
  ASSERT_TRUE(o.ok) << o.message;
  EXPECT_EQ(o.fields.get_string("state"), "intact");
  EXPECT_FALSE(o.fields.find("bytes"));
  const struct stat after = lstat_of(hook());
  EXPECT_EQ(after.st_ino, before.st_ino);
  EXPECT_EQ(after.st_mtim.tv_sec, before.st_mtim.tv_sec);
  EXPECT_EQ(after.st_mtim.tv_nsec, before.st_mtim.tv_nsec);
  EXPECT_EQ(after.st_mode, before.st_mode);
  EXPECT_EQ(entries(root_ / "hooks"), std::vector<std::string>{"stop.sh"});
}

TEST_F(EnsureFileTest, ReplacedContentIsKeptAsideUnderAFreeNameAndTheHookRestored) {
  make_dirs(root_ / "hooks");
  // Same size: only reading it can tell it apart.
  write_file(hook(), kSameSizeOther);
  ASSERT_EQ(::chmod(hook().c_str(), 0700), 0);
  ActionOutcome o = ensure_file(spec());
  ASSERT_TRUE(o.ok) << o.message;
  EXPECT_EQ(o.fields.get_string("state"), "replaced");
  EXPECT_EQ(o.fields.get_string("kept"), keep() + "/stop.sh");
  EXPECT_EQ(read_file(keep() + "/stop.sh"), kSameSizeOther);
  EXPECT_EQ(read_file(hook()), kHook);
  EXPECT_EQ(mode_of(hook()), 0700u);
  EXPECT_EQ(mode_of(keep()), 0700u);

  // Replaced again: the first kept copy stays, the second gets the next name.
  write_file(hook(), "rm -rf /\n");
  o = ensure_file(spec());
  ASSERT_TRUE(o.ok) << o.message;
  EXPECT_EQ(o.fields.get_string("state"), "replaced");
  EXPECT_EQ(o.fields.get_string("kept"), keep() + "/stop.1.sh");
  EXPECT_EQ(read_file(keep() + "/stop.1.sh"), "rm -rf /\n");
  EXPECT_EQ(read_file(keep() + "/stop.sh"), kSameSizeOther);
  EXPECT_EQ(read_file(hook()), kHook);
  EXPECT_FALSE(has_temp_file(root_ / "hooks"));
}

TEST_F(EnsureFileTest, ASymlinkPointingOutsideTheRootIsMovedAsideNeverFollowed) {
  make_dirs(root_ / "hooks");
  const std::string victim = outside_ / "victim.sh";
  write_file(victim, "victim\n");
  ASSERT_EQ(::chmod(victim.c_str(), 0644), 0);
  ASSERT_EQ(::symlink(victim.c_str(), hook().c_str()), 0);
  ActionOutcome o = ensure_file(spec());
  ASSERT_TRUE(o.ok) << o.message;
  EXPECT_EQ(o.fields.get_string("state"), "replaced");
  const std::string kept = keep() + "/stop.sh";
  EXPECT_EQ(o.fields.get_string("kept"), kept);
  ASSERT_TRUE(S_ISLNK(lstat_of(kept).st_mode)) << "the link itself was moved";
  char target[PATH_MAX] = {};
  ASSERT_GT(::readlink(kept.c_str(), target, sizeof target - 1), 0);
  EXPECT_EQ(std::string(target), victim);
  EXPECT_EQ(read_file(victim), "victim\n") << "the target is untouched";
  EXPECT_EQ(mode_of(victim), 0644u);
  EXPECT_TRUE(S_ISREG(lstat_of(hook()).st_mode));
  EXPECT_EQ(read_file(hook()), kHook);
  EXPECT_EQ(mode_of(hook()), 0700u);
}

TEST_F(EnsureFileTest, ADirectoryAtThePathIsRefusedAndLeftAlone) {
  make_dirs(hook());
  write_file(hook() + "/inside", "x");
  ActionOutcome o = ensure_file(spec());
  ASSERT_FALSE(o.ok);
  EXPECT_EQ(o.category, outcome_category::kExecution);
  EXPECT_EQ(o.fields.get_string("state"), "failed");
  EXPECT_NE(o.message.find("directory"), std::string::npos) << o.message;
  EXPECT_TRUE(S_ISDIR(lstat_of(hook()).st_mode));
  EXPECT_EQ(read_file(hook() + "/inside"), "x");
  EXPECT_FALSE(exists(keep()));
  EXPECT_FALSE(has_temp_file(root_ / "hooks"));
}

TEST_F(EnsureFileTest, AMissingSourceFailsAndCreatesNothing) {
  EnsureFileSpec s = spec();
  s.source = outside_ / "gone.sh";
  ActionOutcome o = ensure_file(s);
  ASSERT_FALSE(o.ok);
  EXPECT_EQ(o.category, outcome_category::kNotFound);
  EXPECT_EQ(o.fields.get_string("state"), "failed");
  EXPECT_NE(o.message.find(s.source), std::string::npos) << o.message;
  EXPECT_NE(o.message.find("NOT restored"), std::string::npos) << o.message;
  EXPECT_FALSE(exists(root_ / "hooks")) << "not even the parent is created";
}

TEST_F(EnsureFileTest, AMissingSourceLeavesAReplacedHookWhereItIs) {
  make_dirs(root_ / "hooks");
  write_file(hook(), kSameSizeOther);
  EnsureFileSpec s = spec();
  s.source = outside_ / "gone.sh";
  ActionOutcome o = ensure_file(s);
  ASSERT_FALSE(o.ok);
  EXPECT_EQ(read_file(hook()), kSameSizeOther);
  EXPECT_FALSE(exists(keep()));
}

TEST_F(EnsureFileTest, ASymlinkSourceIsRefused) {
  const std::string link = outside_ / "link.sh";
  ASSERT_EQ(::symlink(source().c_str(), link.c_str()), 0);
  EnsureFileSpec s = spec();
  s.source = link;
  ActionOutcome o = ensure_file(s);
  ASSERT_FALSE(o.ok);
  EXPECT_EQ(o.category, outcome_category::kPermission);
  EXPECT_NE(o.message.find("symlink"), std::string::npos) << o.message;
  EXPECT_FALSE(exists(hook()));
}

TEST_F(EnsureFileTest, ASourceOverTheLimitIsRefused) {
  EnsureFileSpec s = spec();
  s.max_bytes = 4;
  ActionOutcome o = ensure_file(s);
  ASSERT_FALSE(o.ok);
  EXPECT_EQ(o.category, outcome_category::kResource);
  EXPECT_FALSE(exists(hook()));
}

TEST_F(EnsureFileTest, APathOutsideTheRootIsRefused) {
  EnsureFileSpec s = spec();
  s.path = outside_ / "hooks/stop.sh";
  ActionOutcome o = ensure_file(s);
  ASSERT_FALSE(o.ok);
  EXPECT_EQ(o.category, outcome_category::kPermission);
  EXPECT_FALSE(exists(outside_ / "hooks"));

  s = spec();
  s.path = root_ / "../escape.sh";
  o = ensure_file(s);
  ASSERT_FALSE(o.ok);
  EXPECT_EQ(o.category, outcome_category::kPermission);
}

TEST_F(EnsureFileTest, AKeepDirectoryOutsideTheRootIsRefused) {
  make_dirs(root_ / "hooks");
  write_file(hook(), kSameSizeOther);
  EnsureFileSpec s = spec();
  s.keep = outside_ / "kept";
  ActionOutcome o = ensure_file(s);
  ASSERT_FALSE(o.ok);
  EXPECT_EQ(o.category, outcome_category::kPermission);
  EXPECT_EQ(read_file(hook()), kSameSizeOther);
  EXPECT_FALSE(exists(outside_ / "kept"));
}

TEST_F(EnsureFileTest, ASymlinkInTheParentPathIsRefused) {
  for (const bool fallback : {false, true}) {
    SCOPED_TRACE(fallback ? "component walk" : "openat2");
    force_openat2_fallback_for_testing(fallback);
    TempDir root;
    TempDir elsewhere;
    make_dirs(root / "agent");
    ASSERT_EQ(::symlink(elsewhere.path().c_str(), (root / "agent/hooks").c_str()), 0);
    EnsureFileSpec s = spec();
    s.root = root.path();
    s.path = root / "agent/hooks/stop.sh";
    ActionOutcome o = ensure_file(s);
    force_openat2_fallback_for_testing(false);
    ASSERT_FALSE(o.ok);
    EXPECT_EQ(o.category, outcome_category::kPermission) << o.message;
    EXPECT_NE(o.message.find("symlink"), std::string::npos) << o.message;
    EXPECT_TRUE(entries(elsewhere.path()).empty()) << "nothing written through the link";
  }
}

TEST_F(EnsureFileTest, RunningTwiceEndsIntact) {
  ActionOutcome first = ensure_file(spec());
  ASSERT_TRUE(first.ok) << first.message;
  EXPECT_EQ(first.fields.get_string("state"), "restored");
  const ino_t inode = lstat_of(hook()).st_ino;
  ActionOutcome second = ensure_file(spec());
  ASSERT_TRUE(second.ok) << second.message;
  EXPECT_EQ(second.fields.get_string("state"), "intact");
  EXPECT_EQ(lstat_of(hook()).st_ino, inode);
}

TEST_F(EnsureFileTest, ModeIsExactWhateverTheUmask) {
  const mode_t saved = ::umask(077);
  EnsureFileSpec s = spec();
  s.mode = 0755;
  ActionOutcome o = ensure_file(s);
  ::umask(saved);
  ASSERT_TRUE(o.ok) << o.message;
  EXPECT_EQ(o.fields.get_string("mode"), "0755");
  EXPECT_EQ(mode_of(hook()), 0755u);
  // And judged intact with that mode afterwards.
  o = ensure_file(s);
  ASSERT_TRUE(o.ok) << o.message;
  EXPECT_EQ(o.fields.get_string("state"), "intact");
}

TEST_F(EnsureFileTest, AModeBeyondPermissionBitsIsInvalid) {
  EnsureFileSpec s = spec();
  s.mode = 0100755;
  ActionOutcome o = ensure_file(s);
  ASSERT_FALSE(o.ok);
  EXPECT_EQ(o.category, outcome_category::kValidation);
  EXPECT_FALSE(exists(hook()));
}

// Ten events for one deletion, each asking on its own pool thread: every run
// succeeds, one restores, the rest find the copy in place (never overwrite
// it), and nothing is moved aside.
TEST_F(EnsureFileTest, ConcurrentRunsRestoreOnceAndNeverMoveTheRestoredCopy) {
  make_dirs(root_ / "hooks");
  for (int round = 0; round < 20; ++round) {
    ::unlink(hook().c_str());
    std::atomic<int> failed{0}, restored{0};
    std::vector<std::thread> threads;
    threads.reserve(10);
    for (int t = 0; t < 10; ++t)
      threads.emplace_back([&] {
        ActionOutcome o = ensure_file(spec());
        if (!o.ok) ++failed;
        if (o.fields.get_string("state") == "restored") ++restored;
      });
    for (std::thread& t : threads) t.join();
    EXPECT_EQ(failed.load(), 0);
    EXPECT_EQ(restored.load(), 1);
    EXPECT_EQ(read_file(hook()), kHook);
  }
  EXPECT_FALSE(exists(keep()));
  EXPECT_FALSE(has_temp_file(root_ / "hooks"));
}

}  // namespace
}  // namespace aw
