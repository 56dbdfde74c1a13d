// rotate_file on real files in temp dirs. The last test runs the real logpipe
// against real rotations and counts every line across all generations,
// gzipped ones included.
#include "src/actions/rotate_file.h"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>
#include <zlib.h>

#include <cerrno>
#include <chrono>
#include <cstring>
#include <string>
#include <thread>
#include <vector>

#include "src/logpipe/logpipe.h"
#include "src/logpipe/test_producer.h"
#include "src/os/test_support.h"

namespace aw {
namespace {

using aw::testing::exists;
using aw::testing::read_file;
using aw::testing::TempDir;
using aw::testing::write_file;
using std::chrono::hours;
using std::chrono::minutes;

WallTime wall_now() {
  return std::chrono::time_point_cast<Duration>(std::chrono::system_clock::now());
}

// Whole content of a gzip file ("" and a test failure when unreadable).
std::string read_gz(const std::string& path) {
  gzFile gz = gzopen(path.c_str(), "rb");
  if (!gz) {
    ADD_FAILURE() << "cannot open " << path;
    return "";
  }
  std::string out;
  char buf[65536];
  int n;
  while ((n = gzread(gz, buf, sizeof buf)) > 0) out.append(buf, static_cast<std::size_t>(n));
  EXPECT_EQ(n, 0) << "gzread " << path;
  gzclose(gz);
  return out;
}

void write_gz(const std::string& path, const std::string& content) {
  gzFile gz = gzopen(path.c_str(), "wb");
  ASSERT_NE(gz, nullptr) << path;
  ASSERT_EQ(gzwrite(gz, content.data(), static_cast<unsigned>(content.size())),
            static_cast<int>(content.size()));
  ASSERT_EQ(gzclose(gz), Z_OK);
}

void set_mtime(const std::string& path, WallTime t) {
  const auto ns = t.time_since_epoch().count();
  struct timespec times[2] = {{ns / 1'000'000'000, ns % 1'000'000'000},
                              {ns / 1'000'000'000, ns % 1'000'000'000}};
  ASSERT_EQ(utimensat(AT_FDCWD, path.c_str(), times, AT_SYMLINK_NOFOLLOW), 0) << path;
}

bool has_birth_time(const std::string& path) {
  struct statx stx {};
  return statx(AT_FDCWD, path.c_str(), 0, STATX_BTIME, &stx) == 0 && (stx.stx_mask & STATX_BTIME);
}

ino_t inode_of(const std::string& path) {
  struct stat st {};
  EXPECT_EQ(lstat(path.c_str(), &st), 0) << path;
  return st.st_ino;
}

RotatePolicy by_size(std::uint64_t max_size, int keep = 5) {
  RotatePolicy p;
  p.max_size = max_size;
  p.keep = keep;
  return p;
}

class RotateFileTest : public ::testing::Test {
 protected:
  TempDir dir_;
  std::string log_ = dir_ / "worker.log";
};

TEST_F(RotateFileTest, NotDueBySizeLeavesEverythingAlone) {
  write_file(log_, "0123456789");
  auto r = rotate_file(log_, by_size(100), wall_now());
  ASSERT_TRUE(r) << r.error().message;
  EXPECT_FALSE(r->rotated);
  EXPECT_EQ(r->reason, "not due: size 10 < max_size 100");
  EXPECT_EQ(read_file(log_), "0123456789");
  EXPECT_FALSE(exists(log_ + ".1"));
}

TEST_F(RotateFileTest, RotatesBySizeShiftsGenerationsAndCompressesTheSecond) {
  write_file(log_, "current\n");
  write_file(log_ + ".1", "previous\n");
  write_gz(log_ + ".2.gz", "older\n");
  write_gz(log_ + ".3.gz", "oldest\n");
  auto r = rotate_file(log_, by_size(4), wall_now());
  ASSERT_TRUE(r) << r.error().message;
  EXPECT_TRUE(r->rotated);
  EXPECT_EQ(r->reason, "size 8 >= max_size 4");
  EXPECT_EQ(r->bytes, 8u);
  EXPECT_EQ(r->rotated_to, log_ + ".1");
  EXPECT_FALSE(exists(log_)) << "the writer creates the next generation when it reopens";
  EXPECT_EQ(read_file(log_ + ".1"), "current\n");
  EXPECT_FALSE(exists(log_ + ".2")) << "the plain copy goes once the .gz is durable";
  EXPECT_EQ(read_gz(log_ + ".2.gz"), "previous\n");
  EXPECT_EQ(read_gz(log_ + ".3.gz"), "older\n");
  EXPECT_EQ(read_gz(log_ + ".4.gz"), "oldest\n");
  EXPECT_EQ(r->renamed.size(), 4u);  // .3.gz, .2.gz, .1, the log
  ASSERT_EQ(r->compressed.size(), 1u);
  EXPECT_EQ(r->compressed[0], log_ + ".2.gz");
  EXPECT_EQ(r->plain_bytes, 9u);
  EXPECT_GT(r->gzip_bytes, 0u);
  EXPECT_TRUE(r->deleted.empty());
  EXPECT_TRUE(r->compress_error.empty());
}

TEST_F(RotateFileTest, KeepDeletesEveryGenerationBeyondIt) {
  write_file(log_, "now\n");
  write_file(log_ + ".1", "1\n");
  write_gz(log_ + ".2.gz", "2\n");
  write_gz(log_ + ".3.gz", "3\n");
  write_gz(log_ + ".4.gz", "4\n");
  write_file(log_ + ".7", "7\n");             // left over from a larger keep
  write_file(log_ + ".3.bak", "not ours\n");  // not a generation
  write_file(dir_ / "other.log.5", "another log\n");
  auto r = rotate_file(log_, by_size(1, /*keep=*/3), wall_now());
  ASSERT_TRUE(r) << r.error().message;
  ASSERT_TRUE(r->rotated);
  EXPECT_EQ(read_file(log_ + ".1"), "now\n");
  EXPECT_EQ(read_gz(log_ + ".2.gz"), "1\n");
  EXPECT_EQ(read_gz(log_ + ".3.gz"), "2\n");
  for (const char* gone : {".4.gz", ".5.gz", ".7", ".8", ".4", ".3"})
    EXPECT_FALSE(exists(log_ + gone)) << gone;
  EXPECT_EQ(r->deleted.size(), 3u);  // .3.gz, .4.gz, .7
  EXPECT_EQ(read_file(log_ + ".3.bak"), "not ours\n");
  EXPECT_EQ(read_file(dir_ / "other.log.5"), "another log\n");
}

TEST_F(RotateFileTest, KeepOneKeepsOnlyTheFileJustRotated) {
  write_file(log_, "now\n");
  write_file(log_ + ".1", "before\n");
  auto r = rotate_file(log_, by_size(1, /*keep=*/1), wall_now());
  ASSERT_TRUE(r) << r.error().message;
  EXPECT_EQ(read_file(log_ + ".1"), "now\n");
  EXPECT_FALSE(exists(log_ + ".2"));
  EXPECT_FALSE(exists(log_ + ".2.gz"));
}

TEST_F(RotateFileTest, WithoutCompressionEveryGenerationStaysPlain) {
  write_file(log_, "b\n");
  write_file(log_ + ".1", "a\n");
  RotatePolicy p = by_size(1);
  p.compress = false;
  auto r = rotate_file(log_, p, wall_now());
  ASSERT_TRUE(r) << r.error().message;
  EXPECT_EQ(read_file(log_ + ".1"), "b\n");
  EXPECT_EQ(read_file(log_ + ".2"), "a\n");
  EXPECT_TRUE(r->compressed.empty());
}

TEST_F(RotateFileTest, AgeCountsFromTheEndOfThePreviousGeneration) {
  const WallTime t0 = wall_now();
  write_file(log_, "x\n");
  write_file(log_ + ".1", "old\n");
  RotatePolicy p;
  p.max_age = hours(1);
  // The previous generation stopped being written at t0 + 1h (as after a
  // copytruncate, whose inode is old): the current one is 30 minutes old.
  set_mtime(log_ + ".1", t0 + hours(1));
  auto r = rotate_file(log_, p, t0 + hours(1) + minutes(30));
  ASSERT_TRUE(r) << r.error().message;
  EXPECT_FALSE(r->rotated);
  EXPECT_EQ(r->reason, "not due: age 30m < max_age 1h");
  set_mtime(log_ + ".1", t0);
  r = rotate_file(log_, p, t0 + hours(2) + std::chrono::seconds(1));
  ASSERT_TRUE(r) << r.error().message;
  EXPECT_TRUE(r->rotated);
  EXPECT_EQ(r->reason.substr(0, 6), "age 2h") << r->reason;
}

TEST_F(RotateFileTest, AgeWithoutPreviousRotationUsesTheBirthTime) {
  const WallTime t0 = wall_now();
  write_file(log_, "x\n");
  const bool birth_time = has_birth_time(log_);
  RotatePolicy p;
  p.max_age = hours(1);
  auto r = rotate_file(log_, p, t0 + hours(3) + std::chrono::seconds(1));
  ASSERT_TRUE(r) << r.error().message;
  if (!birth_time) {
    EXPECT_FALSE(r->rotated);
    EXPECT_NE(r->reason.find("age unknown"), std::string::npos) << r->reason;
    GTEST_SKIP() << "no birth times on this filesystem";
  }
  EXPECT_TRUE(r->rotated) << r->reason;
  EXPECT_EQ(r->reason.substr(0, 6), "age 3h") << r->reason;
}

TEST_F(RotateFileTest, EitherTriggerIsEnough) {
  write_file(log_, "0123456789");
  RotatePolicy p = by_size(5);
  p.max_age = hours(24);
  auto r = rotate_file(log_, p, wall_now());
  ASSERT_TRUE(r) << r.error().message;
  EXPECT_TRUE(r->rotated) << r->reason;
}

TEST_F(RotateFileTest, NoTriggerMeansRotateNow) {
  write_file(log_, "x\n");
  auto r = rotate_file(log_, RotatePolicy{}, wall_now());
  ASSERT_TRUE(r) << r.error().message;
  EXPECT_TRUE(r->rotated);
  EXPECT_EQ(r->reason, "forced");
}

TEST_F(RotateFileTest, AnEmptyFileIsNeverRotated) {
  write_file(log_, "");
  auto r = rotate_file(log_, RotatePolicy{}, wall_now());
  ASSERT_TRUE(r) << r.error().message;
  EXPECT_FALSE(r->rotated);
  EXPECT_EQ(r->reason, "empty");
  EXPECT_TRUE(exists(log_));
}

TEST_F(RotateFileTest, AMissingFileIsNotFound) {
  auto r = rotate_file(log_, RotatePolicy{}, wall_now());
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code, -ENOENT);
  EXPECT_NE(r.error().message.find(log_), std::string::npos) << r.error().message;
}

TEST_F(RotateFileTest, BadRequestsAreValidationErrors) {
  write_file(log_, "x\n");
  RotatePolicy p;
  p.keep = 0;
  auto r = rotate_file(log_, p, wall_now());
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code, -EINVAL);
  EXPECT_NE(r.error().message.find("keep must be at least 1"), std::string::npos);
  for (const char* bad : {"", "relative.log", "/tmp/dir/"}) {
    auto b = rotate_file(bad, RotatePolicy{}, wall_now());
    ASSERT_FALSE(b) << bad;
    EXPECT_EQ(b.error().code, -EINVAL) << bad;
  }
  ASSERT_EQ(mkdir((dir_ / "sub").c_str(), 0755), 0);
  auto d = rotate_file(dir_ / "sub", RotatePolicy{}, wall_now());
  ASSERT_FALSE(d);
  EXPECT_NE(d.error().message.find("not a regular file"), std::string::npos) << d.error().message;
}

TEST_F(RotateFileTest, ASymlinkAtThePathIsRefused) {
  write_file(dir_ / "real.log", "secret\n");
  ASSERT_EQ(symlink((dir_ / "real.log").c_str(), log_.c_str()), 0);
  auto r = rotate_file(log_, RotatePolicy{}, wall_now());
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code, -ELOOP);
  EXPECT_NE(r.error().message.find("symlink"), std::string::npos) << r.error().message;
  EXPECT_EQ(read_file(dir_ / "real.log"), "secret\n");
  EXPECT_FALSE(exists(log_ + ".1"));
}

TEST_F(RotateFileTest, ASymlinkPlantedAsAGenerationIsMovedNeverRead) {
  TempDir outside;
  write_file(outside / "secret", "do not read me\n");
  write_file(log_, "now\n");
  ASSERT_EQ(symlink((outside / "secret").c_str(), (log_ + ".1").c_str()), 0);
  auto r = rotate_file(log_, by_size(1), wall_now());
  ASSERT_TRUE(r) << r.error().message;
  EXPECT_TRUE(r->rotated);
  EXPECT_NE(r->compress_error.find("symlink"), std::string::npos) << r->compress_error;
  struct stat st {};
  ASSERT_EQ(lstat((log_ + ".2").c_str(), &st), 0);
  EXPECT_TRUE(S_ISLNK(st.st_mode)) << "moved as a link";
  EXPECT_FALSE(exists(log_ + ".2.gz"));
  EXPECT_FALSE(exists(log_ + ".2.gz.tmp"));
  EXPECT_EQ(read_file(outside / "secret"), "do not read me\n");
}

TEST_F(RotateFileTest, CrashLeftoversAreResolved) {
  write_file(log_, "now\n");
  write_file(log_ + ".1", "1\n");
  // Crash between the .gz's rename and the plain file's unlink: the .gz is whole.
  write_gz(log_ + ".2.gz", "2\n");
  write_file(log_ + ".2", "2\n");
  // Crash in the middle of a compression: debris.
  write_file(log_ + ".3.gz.tmp", "half");
  write_file(log_ + ".3", "3\n");
  auto r = rotate_file(log_, by_size(1), wall_now());
  ASSERT_TRUE(r) << r.error().message;
  EXPECT_EQ(read_file(log_ + ".1"), "now\n");
  EXPECT_EQ(read_gz(log_ + ".2.gz"), "1\n");
  EXPECT_EQ(read_gz(log_ + ".3.gz"), "2\n");
  EXPECT_FALSE(exists(log_ + ".3"));
  EXPECT_EQ(read_gz(log_ + ".4.gz"), "3\n") << "a plain generation left over is compressed too";
  EXPECT_FALSE(exists(log_ + ".4"));
  EXPECT_FALSE(exists(log_ + ".3.gz.tmp"));
  EXPECT_FALSE(exists(log_ + ".4.gz.tmp"));
}

TEST_F(RotateFileTest, CopyTruncateKeepsTheWritersInode) {
  write_file(log_, "before\n");
  const ino_t ino = inode_of(log_);
  const int writer = open(log_.c_str(), O_WRONLY | O_APPEND | O_CLOEXEC);
  ASSERT_GE(writer, 0);
  RotatePolicy p = by_size(1);
  p.method = RotatePolicy::kCopyTruncate;
  auto r = rotate_file(log_, p, wall_now());
  ASSERT_TRUE(r) << r.error().message;
  EXPECT_TRUE(r->rotated);
  EXPECT_EQ(r->bytes, 7u);
  EXPECT_EQ(read_file(log_ + ".1"), "before\n");
  EXPECT_EQ(inode_of(log_), ino);
  EXPECT_EQ(read_file(log_), "");
  ASSERT_EQ(write(writer, "after\n", 6), 6);
  close(writer);
  EXPECT_EQ(read_file(log_), "after\n") << "O_APPEND writers go on at the new end";
  EXPECT_FALSE(exists(log_ + ".1.tmp"));
}

TEST_F(RotateFileTest, AConcurrentRotationInTheDirectoryIsBusy) {
  write_file(log_, "x\n");
  const int held = open(dir_.path().c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  ASSERT_GE(held, 0);
  ASSERT_EQ(flock(held, LOCK_EX), 0);
  auto r = rotate_file(log_, RotatePolicy{}, wall_now());
  close(held);
  ASSERT_TRUE(r) << r.error().message;
  EXPECT_FALSE(r->rotated);
  EXPECT_EQ(r->reason.substr(0, 5), "busy:");
  EXPECT_TRUE(exists(log_));
}

TEST_F(RotateFileTest, RootConfinesThePathAndRefusesSymlinkedDirectories) {
  aw::testing::make_dirs(dir_ / "root/logs");
  write_file(dir_ / "root/logs/a.log", "x\n");
  write_file(dir_ / "elsewhere.log", "x\n");
  ASSERT_EQ(symlink((dir_ / "root/logs").c_str(), (dir_ / "root/link").c_str()), 0);
  RotatePolicy p;
  p.root = dir_ / "root";
  auto outside = rotate_file(dir_ / "elsewhere.log", p, wall_now());
  ASSERT_FALSE(outside);
  EXPECT_EQ(outside.error().code, -EXDEV);
  auto via_link = rotate_file(dir_ / "root/link/a.log", p, wall_now());
  ASSERT_FALSE(via_link);
  EXPECT_EQ(via_link.error().code, -ELOOP) << via_link.error().message;
  auto inside = rotate_file(dir_ / "root/logs/a.log", p, wall_now());
  ASSERT_TRUE(inside) << inside.error().message;
  EXPECT_TRUE(inside->rotated);
  EXPECT_EQ(read_file(dir_ / "root/logs/a.log.1"), "x\n");
}

TEST_F(RotateFileTest, OutcomeCarriesWhatWasDone) {
  write_file(log_, "now\n");
  write_file(log_ + ".1", "1\n");
  auto r = rotate_file(log_, by_size(1), wall_now());
  ActionOutcome o = rotate_outcome(log_, r);
  EXPECT_TRUE(o.ok);
  EXPECT_EQ(o.fields.get_string("rotated"), "true");
  EXPECT_EQ(o.fields.get_string("to"), log_ + ".1");
  EXPECT_EQ(o.fields.get_int("bytes"), 4);
  EXPECT_EQ(o.fields.get_int("renamed"), 2);
  EXPECT_EQ(o.fields.get_int("compressed"), 1);
  EXPECT_EQ(o.fields.get_int("deleted"), 0);

  ActionOutcome missing = rotate_outcome(log_, rotate_file(log_, RotatePolicy{}, wall_now()));
  EXPECT_FALSE(missing.ok);
  EXPECT_EQ(missing.category, "not_found");
  EXPECT_EQ(missing.fields.get_string("path"), log_);

  write_file(log_, "");
  ActionOutcome not_due = rotate_outcome(log_, rotate_file(log_, RotatePolicy{}, wall_now()));
  EXPECT_TRUE(not_due.ok);
  EXPECT_EQ(not_due.fields.get_string("rotated"), "false");
  EXPECT_EQ(not_due.fields.get_string("reason"), "empty");
}

// The writer is the real logpipe (reopening when the name leads elsewhere),
// fed by a forked child at about 10,000 lines a second, while this thread
// rotates on size. Every line must be found exactly once, in order, across
// the log, its plain .1 and the gzipped generations.
TEST_F(RotateFileTest, NoLineLostOrDuplicatedUnderLogpipe) {
  constexpr int kLines = 12'000;
  int fds[2];
  ASSERT_EQ(pipe2(fds, O_CLOEXEC), 0);
  const pid_t child = aw::testing::spawn_line_producer(fds[1], kLines);
  ASSERT_GT(child, 0);
  close(fds[1]);
  LogpipeOptions pipe_options;
  pipe_options.path = log_;
  LogpipeStats pipe_stats;
  pipe_options.stats = &pipe_stats;
  int pipe_status = -1;
  std::string pipe_error;
  std::thread logpipe([&] { pipe_status = run_logpipe(pipe_options, fds[0], &pipe_error); });

  RotatePolicy policy = by_size(4096, /*keep=*/10'000);
  int rotations = 0;
  int status = 0;
  while (waitpid(child, &status, WNOHANG) == 0) {
    auto r = rotate_file(log_, policy, wall_now());
    if (!r) {
      EXPECT_EQ(r.error().code, -ENOENT) << r.error().message;  // before the first write
    } else if (r->rotated) {
      ++rotations;
      EXPECT_TRUE(r->compress_error.empty()) << r->compress_error;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(2));  // pacing, not synchronisation
  }
  logpipe.join();
  close(fds[0]);
  ASSERT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0);
  ASSERT_EQ(pipe_status, 0) << pipe_error;
  EXPECT_GE(rotations, 10);
  EXPECT_GE(pipe_stats.reopens + 1, static_cast<std::uint64_t>(rotations));

  std::vector<std::pair<std::string, std::string>> files;  // oldest first
  for (int n = rotations; n >= 2; --n) {
    const std::string gz = log_ + "." + std::to_string(n) + ".gz";
    ASSERT_TRUE(exists(gz)) << gz;
    EXPECT_FALSE(exists(log_ + "." + std::to_string(n))) << "compressed, plain copy removed";
    files.emplace_back(gz, read_gz(gz));
  }
  files.emplace_back(log_ + ".1", read_file(log_ + ".1"));
  if (exists(log_)) files.emplace_back(log_, read_file(log_));
  EXPECT_FALSE(exists(log_ + "." + std::to_string(rotations + 1) + ".gz"));
  aw::testing::expect_every_line_once_in_order(files, kLines);
}

}  // namespace
}  // namespace aw
