#include "src/actions/retention.h"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <string>
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

constexpr Duration kDay = std::chrono::hours(24);

class RetentionTest : public ::testing::Test {
 protected:
  void SetUp() override { make_dirs(dir_); }

  RetentionSpec spec() const {
    RetentionSpec s;
    s.dir = dir_;
    s.root = root_.path();
    s.max_age = 7 * kDay;
    s.now = now_;
    return s;
  }

  // Sets the mtime of `path` itself (a symlink's own, never its target's) to
  // `age` before now_. Files made by the test are younger than now_ otherwise.
  void age(const std::string& path, Duration a) const { aw::testing::set_mtime(path, now_ - a); }
  void age_tree(const std::string& path, Duration a) const {
    aw::testing::set_tree_mtime(path, now_ - a);
  }

  static std::vector<std::string> paths(const RetentionResult& r) {
    std::vector<std::string> out;
    for (const RetainedDeletion& d : r.deleted) out.push_back(d.path);
    return out;
  }

  TempDir root_;
  const std::string dir_ = root_ / "completed";
  const WallTime now_ = SystemClock().wall();
};

TEST_F(RetentionTest, DeletesOldFilesAndKeepsYoungOnes) {
  write_file(dir_ + "/old.json", "0123456789");
  write_file(dir_ + "/young.json", "{}");
  write_file(dir_ + "/new.json", "{}");
  age(dir_ + "/old.json", 8 * kDay);
  age(dir_ + "/young.json", 6 * kDay);

  Result<RetentionResult> r = apply_retention(spec());
  ASSERT_TRUE(r.ok()) << r.error().message;
  ASSERT_EQ(paths(*r), (std::vector<std::string>{dir_ + "/old.json"}));
  EXPECT_EQ(r->deleted[0].bytes, 10u);
  EXPECT_FALSE(r->deleted[0].directory);
  EXPECT_GE(r->deleted[0].age, 8 * kDay - std::chrono::seconds(1));
  EXPECT_LE(r->deleted[0].age, 8 * kDay + std::chrono::seconds(1));
  EXPECT_EQ(r->bytes_freed, 10u);
  EXPECT_EQ(r->kept, 2u);
  EXPECT_FALSE(r->more);
  EXPECT_TRUE(r->skipped.empty());
  EXPECT_FALSE(exists(dir_ + "/old.json"));
  EXPECT_TRUE(exists(dir_ + "/young.json"));
  EXPECT_TRUE(exists(dir_ + "/new.json"));
  EXPECT_TRUE(exists(dir_)) << "the directory itself is never a candidate";
}

TEST_F(RetentionTest, ARelativeDirIsRelativeToTheRoot) {
  write_file(dir_ + "/old.json", "{}");
  age(dir_ + "/old.json", 8 * kDay);
  RetentionSpec s = spec();
  s.dir = "completed";
  Result<RetentionResult> r = apply_retention(s);
  ASSERT_TRUE(r.ok()) << r.error().message;
  EXPECT_EQ(paths(*r), (std::vector<std::string>{dir_ + "/old.json"}));
}

TEST_F(RetentionTest, ASessionWithOneYoungFileInsideIsKept) {
  make_dirs(dir_ + "/s-old/a/b");
  write_file(dir_ + "/s-old/a/b/r.json", "{}");
  make_dirs(dir_ + "/s-busy/a/b");
  write_file(dir_ + "/s-busy/a1.json", "{}");
  write_file(dir_ + "/s-busy/a/b/r.json", "{}");
  age_tree(dir_ + "/s-old", 30 * kDay);
  age_tree(dir_ + "/s-busy", 30 * kDay);
  age(dir_ + "/s-busy/a/b/r.json", std::chrono::hours(1));  // still being written

  Result<RetentionResult> r = apply_retention(spec());
  ASSERT_TRUE(r.ok()) << r.error().message;
  EXPECT_EQ(paths(*r), (std::vector<std::string>{dir_ + "/s-old"}));
  EXPECT_EQ(r->kept, 1u);
  EXPECT_TRUE(exists(dir_ + "/s-busy/a1.json"));
  EXPECT_TRUE(exists(dir_ + "/s-busy/a/b/r.json"));
  EXPECT_FALSE(exists(dir_ + "/s-old"));
}

TEST_F(RetentionTest, DeletesADirectoryTreeWholeCountingItsBytes) {
  const std::string s1 = dir_ + "/s1";
  make_dirs(s1 + "/sub/deeper");
  make_dirs(s1 + "/empty");
  write_file(s1 + "/a.json", std::string(100, 'a'));
  write_file(s1 + "/sub/b.json", std::string(20, 'b'));
  write_file(s1 + "/sub/deeper/c", "ccc");
  age_tree(s1, 10 * kDay);

  Result<RetentionResult> r = apply_retention(spec());
  ASSERT_TRUE(r.ok()) << r.error().message;
  ASSERT_EQ(paths(*r), (std::vector<std::string>{s1}));
  EXPECT_TRUE(r->deleted[0].directory);
  EXPECT_EQ(r->deleted[0].bytes, 123u);
  EXPECT_EQ(r->bytes_freed, 123u);
  EXPECT_TRUE(r->skipped.empty());
  EXPECT_FALSE(exists(s1));
  EXPECT_TRUE(exists(dir_));
}

TEST_F(RetentionTest, ASymlinkEntryIsDeletedAsALinkAndItsTargetSurvives) {
  TempDir outside;
  write_file(outside / "precious", "keep me");
  make_dirs(outside / "sub");
  write_file(outside / "sub/x", "x");
  age(outside / "precious", 30 * kDay);
  age_tree(outside / "sub", 30 * kDay);
  ASSERT_EQ(::symlink((outside / "precious").c_str(), (dir_ + "/link-file").c_str()), 0);
  ASSERT_EQ(::symlink(outside.path().c_str(), (dir_ + "/link-dir").c_str()), 0);
  ASSERT_EQ(::symlink((outside / "precious").c_str(), (dir_ + "/young-link").c_str()), 0);
  age(dir_ + "/link-file", 30 * kDay);
  age(dir_ + "/link-dir", 30 * kDay);
  // young-link is young by lstat although its target is old: kept.

  Result<RetentionResult> r = apply_retention(spec());
  ASSERT_TRUE(r.ok()) << r.error().message;
  ASSERT_EQ(paths(*r), (std::vector<std::string>{dir_ + "/link-dir", dir_ + "/link-file"}));
  for (const RetainedDeletion& d : r->deleted) {
    EXPECT_EQ(d.bytes, 0u) << d.path;
    EXPECT_FALSE(d.directory) << d.path;
  }
  EXPECT_EQ(r->kept, 1u);
  EXPECT_TRUE(exists(dir_ + "/young-link"));
  EXPECT_FALSE(exists(dir_ + "/link-file"));
  EXPECT_EQ(read_file(outside / "precious"), "keep me");
  EXPECT_TRUE(exists(outside / "sub/x"));
}

TEST_F(RetentionTest, ASymlinkInsideADeletedDirectoryIsNeverFollowed) {
  TempDir outside;
  make_dirs(outside / "keep/inner");
  write_file(outside / "keep/file.txt", "outside");
  write_file(outside / "keep/inner/deep.txt", "outside too");
  age_tree(outside / "keep", 30 * kDay);
  const std::string s1 = dir_ + "/s1";
  make_dirs(s1 + "/nested");
  write_file(s1 + "/f.txt", "12345");
  ASSERT_EQ(::symlink((outside / "keep").c_str(), (s1 + "/escape").c_str()), 0);
  ASSERT_EQ(::symlink((outside / "keep").c_str(), (s1 + "/nested/escape").c_str()), 0);
  age_tree(s1, 30 * kDay);

  Result<RetentionResult> r = apply_retention(spec());
  ASSERT_TRUE(r.ok()) << r.error().message;
  ASSERT_EQ(paths(*r), (std::vector<std::string>{s1}));
  EXPECT_EQ(r->deleted[0].bytes, 5u) << "only f.txt: the links count nothing";
  EXPECT_FALSE(exists(s1));
  EXPECT_EQ(read_file(outside / "keep/file.txt"), "outside");
  EXPECT_EQ(read_file(outside / "keep/inner/deep.txt"), "outside too");
}

TEST_F(RetentionTest, ADirThatIsASymlinkIsRefused) {
  make_dirs(root_ / "real/sub");
  write_file(root_ / "real/old.json", "{}");
  write_file(root_ / "real/sub/old.json", "{}");
  age(root_ / "real/old.json", 30 * kDay);
  age(root_ / "real/sub/old.json", 30 * kDay);
  ASSERT_EQ(::symlink((root_ / "real").c_str(), (root_ / "linked").c_str()), 0);
  for (const bool fallback : {false, true}) {
    SCOPED_TRACE(fallback ? "openat walk" : "openat2");
    force_openat2_fallback_for_testing(fallback);
    for (const std::string& dir : {root_ / "linked", root_ / "linked/sub"}) {
      RetentionSpec s = spec();
      s.dir = dir;
      Result<RetentionResult> r = apply_retention(s);
      ASSERT_FALSE(r.ok()) << dir;
      EXPECT_EQ(r.error().code, -ELOOP) << r.error().message;
      EXPECT_NE(r.error().message.find("symlink"), std::string::npos) << r.error().message;
      EXPECT_EQ(retention_outcome(s, r).category, outcome_category::kPermission);
    }
  }
  force_openat2_fallback_for_testing(false);
  EXPECT_TRUE(exists(root_ / "real/old.json"));
  EXPECT_TRUE(exists(root_ / "real/sub/old.json"));
}

TEST_F(RetentionTest, ADirOutsideTheRootIsRefused) {
  TempDir outside;
  write_file(outside / "old.json", "{}");
  age(outside / "old.json", 30 * kDay);
  const std::string name = std::filesystem::path(outside.path()).filename().string();
  for (const std::string& dir : {outside.path(), root_.path() + "/../" + name, "../" + name}) {
    RetentionSpec s = spec();
    s.dir = dir;
    Result<RetentionResult> r = apply_retention(s);
    ASSERT_FALSE(r.ok()) << dir;
    EXPECT_EQ(r.error().code, -EXDEV) << r.error().message;
    EXPECT_EQ(r.error().message,
              "'" + outside.path() + "' must lie under the root '" + root_.path() + "'");
    ActionOutcome o = retention_outcome(s, r);
    EXPECT_EQ(o.category, outcome_category::kPermission);
    EXPECT_EQ(o.fields.get_string("dir"), outside.path());
  }
  EXPECT_TRUE(exists(outside / "old.json"));
}

TEST_F(RetentionTest, MaxEntriesDeletesTheOldestFirstAndSaysThereIsMore) {
  for (int i = 1; i <= 5; ++i) {
    const std::string f = dir_ + "/f" + std::to_string(i);
    write_file(f, "x");
    age(f, i * 10 * kDay);
  }
  write_file(dir_ + "/young", "x");
  RetentionSpec s = spec();
  s.max_entries = 2;

  Result<RetentionResult> r = apply_retention(s);
  ASSERT_TRUE(r.ok()) << r.error().message;
  EXPECT_EQ(paths(*r), (std::vector<std::string>{dir_ + "/f5", dir_ + "/f4"}));
  EXPECT_TRUE(r->more);
  EXPECT_EQ(r->kept, 1u);

  r = apply_retention(s);
  ASSERT_TRUE(r.ok()) << r.error().message;
  EXPECT_EQ(paths(*r), (std::vector<std::string>{dir_ + "/f3", dir_ + "/f2"}));
  EXPECT_TRUE(r->more);

  s.max_entries = 1;  // exactly the one left: nothing more after it
  r = apply_retention(s);
  ASSERT_TRUE(r.ok()) << r.error().message;
  EXPECT_EQ(paths(*r), (std::vector<std::string>{dir_ + "/f1"}));
  EXPECT_FALSE(r->more);
  EXPECT_TRUE(exists(dir_ + "/young"));
}

TEST_F(RetentionTest, TheGlobLimitsTheCandidates) {
  for (const char* name : {"a.json", "b.log", "c.json"}) {
    write_file(dir_ + "/" + name, "{}");
    age(dir_ + "/" + name, 30 * kDay);
  }
  RetentionSpec s = spec();
  s.glob = "*.json";
  Result<RetentionResult> r = apply_retention(s);
  ASSERT_TRUE(r.ok()) << r.error().message;
  EXPECT_EQ(paths(*r), (std::vector<std::string>{dir_ + "/a.json", dir_ + "/c.json"}));
  EXPECT_EQ(r->kept, 0u) << "entries the glob leaves out are not candidates at all";
  EXPECT_TRUE(exists(dir_ + "/b.log"));
}

TEST_F(RetentionTest, AFifoIsSkippedWithAReason) {
  ASSERT_EQ(::mkfifo((dir_ + "/pipe").c_str(), 0600), 0);
  ASSERT_EQ(::mkfifo((dir_ + "/young-pipe").c_str(), 0600), 0);
  write_file(dir_ + "/old.json", "{}");
  age(dir_ + "/pipe", 30 * kDay);
  age(dir_ + "/old.json", 30 * kDay);

  Result<RetentionResult> r = apply_retention(spec());
  ASSERT_TRUE(r.ok()) << r.error().message;
  EXPECT_EQ(paths(*r), (std::vector<std::string>{dir_ + "/old.json"}));
  EXPECT_EQ(r->skipped, (std::vector<std::string>{
                            dir_ + "/pipe: not deleted: it is a FIFO; retain deletes only files, "
                                   "symlinks and directories"}));
  EXPECT_EQ(r->kept, 1u) << "a young FIFO is kept like anything young, without a report";
  EXPECT_TRUE(exists(dir_ + "/pipe"));
}

TEST_F(RetentionTest, TemporariesOfOtherActionsAreNeverTouched) {
  const std::string temp = dir_ + "/.r.json.4242.0.agentwatch-tmp";
  write_file(temp, "half");
  write_file(dir_ + "/.hidden", "x");
  write_file(dir_ + "/r.agentwatch-tmp", "x");  // no leading dot: not one of ours
  for (const std::string& p : {temp, dir_ + "/.hidden", dir_ + "/r.agentwatch-tmp"})
    age(p, 30 * kDay);

  Result<RetentionResult> r = apply_retention(spec());
  ASSERT_TRUE(r.ok()) << r.error().message;
  EXPECT_EQ(paths(*r), (std::vector<std::string>{dir_ + "/.hidden", dir_ + "/r.agentwatch-tmp"}));
  EXPECT_EQ(r->kept, 0u);
  EXPECT_TRUE(r->skipped.empty());
  EXPECT_EQ(read_file(temp), "half");
}

TEST_F(RetentionTest, ATreeDeeperThanTheBoundIsSkippedWhole) {
  // "ok" has exactly kRetentionMaxDepth levels (itself the first), "deep" one more.
  std::string ok = dir_ + "/ok";
  std::string deep = dir_ + "/deep";
  for (int level = 2; level <= kRetentionMaxDepth; ++level) ok += "/d";
  for (int level = 2; level <= kRetentionMaxDepth + 1; ++level) deep += "/d";
  make_dirs(ok);
  make_dirs(deep);
  write_file(ok + "/f", "x");
  write_file(deep + "/f", "x");
  age_tree(dir_ + "/ok", 30 * kDay);
  age_tree(dir_ + "/deep", 30 * kDay);

  Result<RetentionResult> r = apply_retention(spec());
  ASSERT_TRUE(r.ok()) << r.error().message;
  EXPECT_EQ(paths(*r), (std::vector<std::string>{dir_ + "/ok"}));
  EXPECT_EQ(r->skipped,
            (std::vector<std::string>{dir_ + "/deep: not deleted: more than 64 levels of nested "
                                             "directories (retain's limit); delete it by hand"}));
  EXPECT_TRUE(exists(deep + "/f")) << "nothing of a refused tree is deleted";
  EXPECT_FALSE(exists(dir_ + "/ok"));
}

TEST_F(RetentionTest, AReadOnlySubdirectoryIsReportedAndTheRunGoesOn) {
  if (::geteuid() == 0) GTEST_SKIP() << "root ignores mode bits";
  const std::string s1 = dir_ + "/s1";
  make_dirs(s1 + "/ro");
  write_file(s1 + "/ro/x", "12345");
  write_file(s1 + "/a.json", "{}");
  write_file(dir_ + "/after.json", "{}");
  age_tree(s1, 40 * kDay);
  age(dir_ + "/after.json", 30 * kDay);  // deleted after s1 fails: the run goes on
  ASSERT_EQ(::chmod((s1 + "/ro").c_str(), 0500), 0);
  struct Restore {
    std::string path;
    ~Restore() { ::chmod(path.c_str(), 0700); }  // so that TempDir can clean up
  } restore{s1 + "/ro"};

  Result<RetentionResult> r = apply_retention(spec());
  ASSERT_TRUE(r.ok()) << r.error().message;
  EXPECT_EQ(paths(*r), (std::vector<std::string>{dir_ + "/after.json"}));
  ASSERT_EQ(r->skipped.size(), 1u);
  const std::string& why = r->skipped[0];
  EXPECT_EQ(why.rfind(s1 + ": ", 0), 0u) << why;
  EXPECT_NE(why.find("cannot remove '" + s1 + "/ro/x': Permission denied"), std::string::npos)
      << why;
  EXPECT_TRUE(exists(s1 + "/ro/x"));
  ActionOutcome o = retention_outcome(spec(), r);
  EXPECT_TRUE(o.ok);
  EXPECT_EQ(o.fields.get_int("skipped"), 1);
}

TEST_F(RetentionTest, BadSpecsAreValidationFailures) {
  auto error_of = [](const RetentionSpec& s) {
    Result<RetentionResult> r = apply_retention(s);
    if (r.ok()) return std::string("ok");
    EXPECT_EQ(r.error().code, -EINVAL) << r.error().message;
    EXPECT_EQ(retention_outcome(s, r).category, outcome_category::kValidation);
    return r.error().message;
  };
  RetentionSpec s = spec();
  s.max_age = Duration{0};
  EXPECT_EQ(error_of(s), "max_age must be more than 0, got 0s");
  s = spec();
  s.max_entries = 0;
  EXPECT_EQ(error_of(s), "max_entries must be at least 1");
  s = spec();
  s.now = WallTime{};
  EXPECT_EQ(error_of(s), "the current time ('now') was not given");
  s = spec();
  s.dir = "";
  EXPECT_EQ(error_of(s), "needs the directory whose old entries to delete ('dir')");
  s = spec();
  s.glob = "[a-";
  EXPECT_EQ(error_of(s).rfind("glob \"[a-\": ", 0), 0u) << error_of(s);
  s = spec();
  s.root = "";
  s.dir = "/";
  EXPECT_EQ(error_of(s),
            "refusing to delete the entries of '/': name the directory that holds them");
}

TEST_F(RetentionTest, TheOutcomeCarriesTheCounts) {
  write_file(dir_ + "/old.json", "0123456789");
  write_file(dir_ + "/young.json", "{}");
  ASSERT_EQ(::mkfifo((dir_ + "/pipe").c_str(), 0600), 0);
  age(dir_ + "/old.json", 30 * kDay);
  age(dir_ + "/pipe", 30 * kDay);
  const RetentionSpec s = spec();
  ActionOutcome o = retention_outcome(s, apply_retention(s));
  ASSERT_TRUE(o.ok) << o.message;
  EXPECT_EQ(o.fields.get_string("dir"), dir_);
  EXPECT_EQ(o.fields.get_int("deleted"), 1);
  EXPECT_EQ(o.fields.get_int("bytes_freed"), 10);
  EXPECT_EQ(o.fields.get_int("kept"), 1);
  EXPECT_EQ(o.fields.get_string("more"), "false");
  EXPECT_EQ(o.fields.get_int("skipped"), 1);
  EXPECT_EQ(o.message, "retain: deleted 1 entries older than 7d from '" + dir_ +
                           "' (10B freed), kept 1; skipped 1, first: " + dir_ +
                           "/pipe: not deleted: it is a FIFO; retain deletes only files, "
                           "symlinks and directories");

  RetentionSpec missing = spec();
  missing.dir = root_ / "nope";
  ActionOutcome nothing = retention_outcome(missing, apply_retention(missing));
  // A directory that was never made (no session failed yet) has nothing to delete.
  EXPECT_TRUE(nothing.ok) << nothing.message;
  EXPECT_EQ(nothing.fields.get_int("deleted"), 0);
  EXPECT_EQ(nothing.fields.get_string("dir"), root_ / "nope");
  EXPECT_EQ(nothing.message,
            "retain: '" + (root_ / "nope") + "' does not exist: nothing to delete");

  RetentionSpec outside = spec();
  outside.dir = "/";
  ActionOutcome refused = retention_outcome(outside, apply_retention(outside));
  EXPECT_FALSE(refused.ok);
  EXPECT_EQ(refused.message.rfind("retain: ", 0), 0u) << refused.message;
}

// ---- disk space ----

TEST(DiskSpace, ReadsPlausibleNumbersForTheTempDir) {
  TempDir tmp;
  Result<DiskSpace> d = disk_space(tmp.path());
  ASSERT_TRUE(d.ok()) << d.error().message;
  EXPECT_GT(d->total_bytes, 0u);
  EXPECT_LE(d->free_bytes, d->total_bytes);
  EXPECT_LE(d->free_inodes, d->total_inodes);
  // The same sums as std::filesystem's (f_blocks and f_bavail times f_frsize).
  const std::filesystem::space_info fs = std::filesystem::space(tmp.path());
  EXPECT_EQ(d->total_bytes, fs.capacity);
  const auto delta = static_cast<std::int64_t>(d->free_bytes - fs.available);
  EXPECT_LT(std::abs(delta), std::int64_t{64} << 20) << "others may write meanwhile";
}

TEST(DiskSpace, AMissingPathIsAnError) {
  Result<DiskSpace> d = disk_space("/nonexistent-aw/x");
  ASSERT_FALSE(d.ok());
  EXPECT_EQ(d.error().code, -ENOENT);
  EXPECT_EQ(d.error().message,
            "cannot read the disk space of '/nonexistent-aw/x': No such file or directory");
}

TEST(DiskSpaceThreshold, ParsesPercentagesAndSizes) {
  auto parsed = [](std::string_view text) {
    Result<DiskThreshold> t = parse_disk_threshold(text);
    EXPECT_TRUE(t.ok()) << text << ": " << t.error().message;
    return t.ok() ? *t : DiskThreshold{};
  };
  EXPECT_EQ(parsed("10%").percent, 10.0);
  EXPECT_EQ(parsed("10%").bytes, 0u);
  EXPECT_EQ(parsed("2.5%").percent, 2.5);
  EXPECT_EQ(parsed("100%").percent, 100.0);
  EXPECT_EQ(parsed("5GiB").bytes, std::uint64_t{5} << 30);
  EXPECT_EQ(parsed("5GiB").percent, 0.0);
  EXPECT_EQ(parsed("500MB").bytes, std::uint64_t{500} << 20);
  EXPECT_EQ(parsed("4096").bytes, 4096u);
}

TEST(DiskSpaceThreshold, SaysWhatWasExpected) {
  auto error_of = [](std::string_view text) {
    Result<DiskThreshold> t = parse_disk_threshold(text);
    return t.ok() ? std::string("ok") : t.error().message;
  };
  const std::string expected =
      "expected a percentage of the filesystem such as \"10%\" or a size of free space such as "
      "\"5GiB\" or \"500MB\"";
  EXPECT_EQ(error_of(""), "empty disk threshold: " + expected);
  EXPECT_EQ(error_of("low"), "invalid disk threshold \"low\": " + expected);
  EXPECT_EQ(error_of("-5%"),
            "invalid disk threshold \"-5%\": expected a number before the '%', such as \"10%\" "
            "or \"2.5%\"");
  EXPECT_EQ(error_of("%"),
            "invalid disk threshold \"%\": expected a number before the '%', such as \"10%\" or "
            "\"2.5%\"");
  EXPECT_EQ(error_of("10 %"),
            "invalid disk threshold \"10 %\": expected a number before the '%', such as \"10%\" "
            "or \"2.5%\"");
  EXPECT_EQ(error_of("0%"),
            "invalid disk threshold \"0%\": a percentage must be more than 0% and at most 100%");
  EXPECT_EQ(error_of("150%"),
            "invalid disk threshold \"150%\": a percentage must be more than 0% and at most 100%");
  EXPECT_EQ(error_of("5XB"),
            "invalid disk threshold: invalid size \"5XB\": unknown unit \"XB\" (expected e.g. "
            "\"4096\", \"512k\", \"10MB\", \"1GiB\"; units are powers of 1024)");
  EXPECT_EQ(error_of("0GiB"),
            "invalid disk threshold \"0GiB\": a size must be more than 0 bytes (free space is "
            "never below nothing)");
}

TEST(DiskSpaceThreshold, BelowThresholdBothWays) {
  const DiskSpace d{.total_bytes = std::uint64_t{100} << 30,
                    .free_bytes = std::uint64_t{5} << 30,
                    .total_inodes = 1000,
                    .free_inodes = 10};
  EXPECT_TRUE(below_threshold(d, {.bytes = std::uint64_t{10} << 30}));
  EXPECT_FALSE(below_threshold(d, {.bytes = std::uint64_t{5} << 30})) << "strictly below";
  EXPECT_FALSE(below_threshold(d, {.bytes = std::uint64_t{1} << 30}));
  EXPECT_TRUE(below_threshold(d, {.percent = 10}));
  EXPECT_TRUE(below_threshold(d, {.percent = 5.5}));
  EXPECT_FALSE(below_threshold(d, {.percent = 5}));
  EXPECT_FALSE(below_threshold(d, {.percent = 2.5}));
  EXPECT_FALSE(below_threshold(DiskSpace{}, {.percent = 10})) << "a filesystem without a size";
  EXPECT_FALSE(below_threshold(d, DiskThreshold{})) << "no threshold set";
}

}  // namespace
}  // namespace aw
