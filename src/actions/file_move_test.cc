#include "src/actions/file_move.h"

#include <dirent.h>
#include <fcntl.h>
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <set>

#include "src/actions/confined_path.h"
#include "src/actions/marker_file.h"
#include "src/os/test_support.h"

namespace aw {
namespace {

using aw::testing::exists;
using aw::testing::make_dirs;
using aw::testing::read_file;
using aw::testing::TempDir;
using aw::testing::write_file;

std::set<std::string> list_dir(const std::string& path) {
  std::set<std::string> names;
  DIR* d = ::opendir(path.c_str());
  if (!d) return names;
  while (dirent* e = ::readdir(d)) {
    std::string n = e->d_name;
    if (n != "." && n != "..") names.insert(n);
  }
  ::closedir(d);
  return names;
}

class FileMoveTest : public ::testing::Test {
 protected:
  MoveSpec spec(const std::string& source, const std::string& to) {
    return MoveSpec{source, to, root_.path(), std::nullopt};
  }
  TempDir root_;
};

TEST(NumberedName, KeepsTheExtensionSensible) {
  using detail::numbered_name;
  EXPECT_EQ(numbered_name("a.json", 0), "a.json");
  EXPECT_EQ(numbered_name("a.json", 1), "a.1.json");
  EXPECT_EQ(numbered_name("a.json", 12), "a.12.json");
  EXPECT_EQ(numbered_name("a", 2), "a.2");
  EXPECT_EQ(numbered_name(".env", 1), ".env.1");
  EXPECT_EQ(numbered_name("a.tar.gz", 1), "a.1.tar.gz");
  EXPECT_EQ(numbered_name("v1.2.3-results.json", 1), "v1.2.3-results.1.json");
  EXPECT_EQ(numbered_name("name.averyveryverylongsuffix", 1), "name.averyveryverylongsuffix.1");
  std::string longest(255, 'x');
  EXPECT_EQ(numbered_name(longest + "", 7).size(), 255u) << "stays within NAME_MAX";
}

TEST_F(FileMoveTest, MovesWithinOneFilesystem) {
  make_dirs(root_ / "in");
  write_file(root_ / "in/a.json", "{\"ok\":true}");
  ActionOutcome o = move_file(spec(root_ / "in/a.json", root_ / "completed"));
  ASSERT_TRUE(o.ok) << o.message;
  EXPECT_EQ(o.category, "ok");
  EXPECT_EQ(o.fields.get_string("from"), root_ / "in/a.json");
  EXPECT_EQ(o.fields.get_string("to"), root_ / "completed/a.json");
  EXPECT_FALSE(exists(root_ / "in/a.json"));
  EXPECT_EQ(read_file(root_ / "completed/a.json"), "{\"ok\":true}");
}

TEST_F(FileMoveTest, RelativePathsAreRelativeToTheRoot) {
  make_dirs(root_ / "in");
  write_file(root_ / "in/r.txt", "r");
  ActionOutcome o = move_file(spec("in/r.txt", "out/deeper"));
  ASSERT_TRUE(o.ok) << o.message;
  EXPECT_EQ(o.fields.get_string("to"), root_ / "out/deeper/r.txt");
  EXPECT_EQ(read_file(root_ / "out/deeper/r.txt"), "r");
}

TEST_F(FileMoveTest, MovesADirectory) {
  make_dirs(root_ / "sessions/s1/logs");
  write_file(root_ / "sessions/s1/logs/x.log", "log");
  ActionOutcome o = move_file(spec(root_ / "sessions/s1", root_ / "failed"));
  ASSERT_TRUE(o.ok) << o.message;
  EXPECT_EQ(read_file(root_ / "failed/s1/logs/x.log"), "log");
}

TEST_F(FileMoveTest, NeverOverwritesAndPicksTheNextFreeName) {
  make_dirs(root_ / "in");
  make_dirs(root_ / "done");
  write_file(root_ / "done/a.json", "first");
  write_file(root_ / "done/a.1.json", "second");
  write_file(root_ / "in/a.json", "third");
  ActionOutcome o = move_file(spec(root_ / "in/a.json", root_ / "done"));
  ASSERT_TRUE(o.ok) << o.message;
  EXPECT_EQ(o.fields.get_string("to"), root_ / "done/a.2.json");
  EXPECT_EQ(read_file(root_ / "done/a.json"), "first");
  EXPECT_EQ(read_file(root_ / "done/a.1.json"), "second");
  EXPECT_EQ(read_file(root_ / "done/a.2.json"), "third");
}

TEST_F(FileMoveTest, AlreadyInTheDestinationIsANoOp) {
  make_dirs(root_ / "done");
  write_file(root_ / "done/a.json", "x");
  ActionOutcome o = move_file(spec(root_ / "done/a.json", root_ / "done"));
  ASSERT_TRUE(o.ok) << o.message;
  EXPECT_EQ(list_dir(root_ / "done"), std::set<std::string>{"a.json"});
}

TEST_F(FileMoveTest, RefusesASymlinkedDestinationComponent) {
  TempDir elsewhere;
  make_dirs(root_ / "in");
  write_file(root_ / "in/a.json", "x");
  ASSERT_EQ(::symlink(elsewhere.path().c_str(), (root_ / "out").c_str()), 0);
  ActionOutcome o = move_file(spec(root_ / "in/a.json", root_ / "out/done"));
  EXPECT_FALSE(o.ok);
  EXPECT_EQ(o.category, "permission");
  EXPECT_NE(o.message.find(root_ / "out"), std::string::npos) << o.message;
  EXPECT_NE(o.message.find("symlink"), std::string::npos) << o.message;
  EXPECT_FALSE(o.suggestion.empty());
  EXPECT_TRUE(exists(root_ / "in/a.json")) << "the source must stay where it was";
  EXPECT_TRUE(list_dir(elsewhere.path()).empty());
}

TEST_F(FileMoveTest, RefusesASymlinkedSource) {
  TempDir elsewhere;
  write_file(elsewhere / "secret", "s");
  make_dirs(root_ / "in");
  ASSERT_EQ(::symlink((elsewhere / "secret").c_str(), (root_ / "in/a.json").c_str()), 0);
  ActionOutcome o = move_file(spec(root_ / "in/a.json", root_ / "done"));
  EXPECT_FALSE(o.ok);
  EXPECT_EQ(o.category, "permission");
  EXPECT_NE(o.message.find("symlink"), std::string::npos) << o.message;
  EXPECT_TRUE(exists(root_ / "in/a.json"));
  EXPECT_TRUE(list_dir(root_ / "done").empty());
  EXPECT_EQ(read_file(elsewhere / "secret"), "s");
}

TEST_F(FileMoveTest, RefusesASymlinkedSourceDirectory) {
  TempDir elsewhere;
  write_file(elsewhere / "a.json", "x");
  ASSERT_EQ(::symlink(elsewhere.path().c_str(), (root_ / "in").c_str()), 0);
  ActionOutcome o = move_file(spec(root_ / "in/a.json", root_ / "done"));
  EXPECT_EQ(o.category, "permission") << o.message;
  EXPECT_NE(o.message.find(root_ / "in"), std::string::npos) << o.message;
  EXPECT_TRUE(exists(elsewhere / "a.json"));
}

TEST_F(FileMoveTest, RefusesSymlinksWithTheFallbackWalkToo) {
  force_openat2_fallback_for_testing(true);
  TempDir elsewhere;
  make_dirs(root_ / "in");
  write_file(root_ / "in/a.json", "x");
  ASSERT_EQ(::symlink(elsewhere.path().c_str(), (root_ / "out").c_str()), 0);
  ActionOutcome o = move_file(spec(root_ / "in/a.json", root_ / "out/done"));
  force_openat2_fallback_for_testing(false);
  EXPECT_EQ(o.category, "permission") << o.message;
  EXPECT_TRUE(exists(root_ / "in/a.json"));
}

TEST_F(FileMoveTest, WithoutARootSymlinksAreStillRefused) {
  TempDir elsewhere;
  make_dirs(root_ / "in");
  write_file(root_ / "in/a.json", "x");
  ASSERT_EQ(::symlink(elsewhere.path().c_str(), (root_ / "out").c_str()), 0);
  ActionOutcome o = move_file(MoveSpec{root_ / "in/a.json", root_ / "out", "", std::nullopt});
  EXPECT_EQ(o.category, "permission") << o.message;
  EXPECT_TRUE(exists(root_ / "in/a.json"));
  o = move_file(MoveSpec{root_ / "in/a.json", root_ / "done", "", std::nullopt});
  ASSERT_TRUE(o.ok) << o.message;
  EXPECT_EQ(read_file(root_ / "done/a.json"), "x");
}

TEST_F(FileMoveTest, RefusesASourceOutsideTheRoot) {
  TempDir outside;
  write_file(outside / "a.json", "x");
  ActionOutcome o = move_file(spec(outside / "a.json", root_ / "done"));
  EXPECT_EQ(o.category, "permission");
  EXPECT_NE(o.message.find("outside the root"), std::string::npos) << o.message;
  EXPECT_TRUE(exists(outside / "a.json"));
  // "..": lexically outside, however it is spelled.
  make_dirs(root_ / "in");
  o = move_file(spec(root_ / "in/../../" + outside.path().substr(5) + "/a.json", root_ / "done"));
  EXPECT_EQ(o.category, "permission") << o.message;
}

TEST_F(FileMoveTest, RefusesADestinationOutsideTheRoot) {
  TempDir outside;
  make_dirs(root_ / "in");
  write_file(root_ / "in/a.json", "x");
  ActionOutcome o = move_file(spec(root_ / "in/a.json", outside.path()));
  EXPECT_EQ(o.category, "permission");
  EXPECT_TRUE(exists(root_ / "in/a.json"));
}

TEST_F(FileMoveTest, MissingSourceIsNotFound) {
  ActionOutcome o = move_file(spec(root_ / "in/gone.json", root_ / "done"));
  EXPECT_EQ(o.category, "not_found") << o.message;
  make_dirs(root_ / "in");
  o = move_file(spec(root_ / "in/gone.json", root_ / "done"));
  EXPECT_EQ(o.category, "not_found") << o.message;
  EXPECT_NE(o.message.find(root_ / "in/gone.json"), std::string::npos) << o.message;
}

TEST_F(FileMoveTest, AResumedMoveWhoseFileIsAlreadyInPlaceIsDone) {
  make_dirs(root_ / "in");
  make_dirs(root_ / "done");
  write_file(root_ / "done/a.json", "{}");  // the attempt the daemon died in moved it
  MoveSpec resumed = spec(root_ / "in/a.json", root_ / "done");
  EXPECT_EQ(move_file(resumed).category, "not_found");  // a first attempt: someone else did it
  resumed.resumed = true;
  ActionOutcome o = move_file(resumed);
  EXPECT_TRUE(o.ok) << o.message;
  EXPECT_NE(o.message.find("already moved"), std::string::npos) << o.message;
  EXPECT_EQ(o.fields.get_string("to"), root_ / "done/a.json");
  // Gone from both places: not found, resumed or not.
  resumed.source = root_ / "in/b.json";
  EXPECT_EQ(move_file(resumed).category, "not_found");
}

TEST_F(FileMoveTest, EmptyPathsAreValidationErrors) {
  EXPECT_EQ(move_file(spec("", root_ / "done")).category, "validation");
  EXPECT_EQ(move_file(spec(root_ / "x", "")).category, "validation");
  EXPECT_EQ(move_file(spec(root_.path(), root_ / "done")).category, "validation");
}

TEST_F(FileMoveTest, QuarantineWritesTheReasonBesideTheFile) {
  make_dirs(root_ / "in");
  write_file(root_ / "in/bad.json", "{trunc");
  MoveSpec s = spec(root_ / "in/bad.json", root_ / "quarantine");
  s.quarantine = QuarantineNote{"unrepairable JSON: expected '}' at 1:7",
                                WallTime(std::chrono::seconds(1'700'000'000)),
                                "results",
                                42,
                                "",
                                0};
  ActionOutcome o = move_file(s);
  ASSERT_TRUE(o.ok) << o.message;
  EXPECT_EQ(o.fields.get_string("to"), root_ / "quarantine/bad.json");
  EXPECT_EQ(o.fields.get_string("reason_file"), root_ / "quarantine/bad.json.reason");
  EXPECT_EQ(read_file(root_ / "quarantine/bad.json"), "{trunc");
  EXPECT_EQ(read_file(root_ / "quarantine/bad.json.reason"),
            "{\"reason\":\"unrepairable JSON: expected '}' at 1:7\","
            "\"time\":\"2023-11-14T22:13:20.000Z\",\"rule\":\"results\",\"cause_seq\":42,"
            "\"from\":\"" +
                root_ / "in/bad.json" + "\"}\n");
}

TEST_F(FileMoveTest, QuarantineNeedsTheNameAndItsReasonFree) {
  make_dirs(root_ / "in");
  make_dirs(root_ / "q");
  write_file(root_ / "in/bad.json", "new");
  write_file(root_ / "q/bad.json.reason", "an old reason, no file");  // name free, reason taken
  write_file(root_ / "q/bad.1.json", "old");                          // reason free, name taken
  MoveSpec s = spec(root_ / "in/bad.json", root_ / "q");
  s.quarantine = QuarantineNote{"why", WallTime{}, "r", 1, "", 0};
  ActionOutcome o = move_file(s);
  ASSERT_TRUE(o.ok) << o.message;
  EXPECT_EQ(o.fields.get_string("to"), root_ / "q/bad.2.json");
  EXPECT_EQ(read_file(root_ / "q/bad.json.reason"), "an old reason, no file");
  EXPECT_EQ(read_file(root_ / "q/bad.1.json"), "old");
  EXPECT_EQ(list_dir(root_ / "q"), (std::set<std::string>{"bad.json.reason", "bad.1.json",
                                                          "bad.2.json", "bad.2.json.reason"}))
      << "no claimed reason file may be left behind";
}

// A daemon killed between claiming the reason file and the move leaves an
// empty reason beside no file: the quarantine resumed after it takes the name.
TEST_F(FileMoveTest, QuarantineTakesOverAnEmptyReasonAKilledClaimLeft) {
  make_dirs(root_ / "in");
  make_dirs(root_ / "q");
  write_file(root_ / "in/bad.json", "new");
  write_file(root_ / "q/bad.json.reason", "");
  // Made by an earlier daemon: an hour ago.
  const timespec an_hour_ago[2] = {{::time(nullptr) - 3600, 0}, {::time(nullptr) - 3600, 0}};
  ASSERT_EQ(::utimensat(AT_FDCWD, (root_ / "q/bad.json.reason").c_str(), an_hour_ago, 0), 0);
  MoveSpec s = spec(root_ / "in/bad.json", root_ / "q");
  s.quarantine = QuarantineNote{"why", WallTime{}, "r", 1, "", 0};
  ActionOutcome o = move_file(s);
  ASSERT_TRUE(o.ok) << o.message;
  EXPECT_EQ(o.fields.get_string("to"), root_ / "q/bad.json");
  EXPECT_NE(read_file(root_ / "q/bad.json.reason").find("\"reason\":\"why\""), std::string::npos);
  EXPECT_EQ(list_dir(root_ / "q"), (std::set<std::string>{"bad.json", "bad.json.reason"}));
}

// One made since this process started is another pool thread's live claim.
TEST_F(FileMoveTest, QuarantineLeavesAFreshEmptyReasonToItsClaimer) {
  make_dirs(root_ / "in");
  make_dirs(root_ / "q");
  write_file(root_ / "in/bad.json", "new");
  write_file(root_ / "q/bad.json.reason", "");
  MoveSpec s = spec(root_ / "in/bad.json", root_ / "q");
  s.quarantine = QuarantineNote{"why", WallTime{}, "r", 1, "", 0};
  ActionOutcome o = move_file(s);
  ASSERT_TRUE(o.ok) << o.message;
  EXPECT_EQ(o.fields.get_string("to"), root_ / "q/bad.1.json");
  EXPECT_EQ(read_file(root_ / "q/bad.json.reason"), "");
}

TEST(FileMoveAcrossDevices, CopiesThenRemovesTheSource) {
  struct stat shm {
  }, tmp{};
  if (::stat("/dev/shm", &shm) != 0 || ::stat("/tmp", &tmp) != 0 || shm.st_dev == tmp.st_dev)
    GTEST_SKIP() << "/dev/shm and /tmp are not different filesystems here";
  TempDir src("/dev/shm");
  TempDir dst;
  std::string big(3 << 20, 'z');
  write_file(src / "big.bin", big);
  ASSERT_EQ(::chmod((src / "big.bin").c_str(), 0640), 0);
  write_file(dst / "big.bin", "occupied");
  MoveSpec s{src / "big.bin", dst.path(), "", std::nullopt};
  ActionOutcome o = move_file(s);
  ASSERT_TRUE(o.ok) << o.message;
  EXPECT_NE(o.message.find("copied across filesystems"), std::string::npos) << o.message;
  EXPECT_EQ(o.fields.get_string("to"), dst / "big.1.bin");
  EXPECT_EQ(read_file(dst / "big.1.bin"), big);
  EXPECT_EQ(read_file(dst / "big.bin"), "occupied");
  EXPECT_FALSE(exists(src / "big.bin"));
  struct stat st {};
  ASSERT_EQ(::stat((dst / "big.1.bin").c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0640u);
  EXPECT_EQ(list_dir(dst.path()), (std::set<std::string>{"big.bin", "big.1.bin"}))
      << "no temporary file may be left behind";
}

TEST(FileMoveAcrossDevices, DirectoriesAreRefusedUntouched) {
  struct stat shm {
  }, tmp{};
  if (::stat("/dev/shm", &shm) != 0 || ::stat("/tmp", &tmp) != 0 || shm.st_dev == tmp.st_dev)
    GTEST_SKIP() << "/dev/shm and /tmp are not different filesystems here";
  TempDir src("/dev/shm");
  TempDir dst;
  make_dirs(src / "d");
  write_file(src / "d/f", "f");
  ActionOutcome o = move_file(MoveSpec{src / "d", dst.path(), "", std::nullopt});
  EXPECT_FALSE(o.ok);
  EXPECT_EQ(o.category, "execution") << o.message;
  EXPECT_EQ(read_file(src / "d/f"), "f");
  EXPECT_TRUE(list_dir(dst.path()).empty());
}

// The copy path, forced on one filesystem.
class CopyPathTest : public ::testing::Test {
 protected:
  void SetUp() override {
    make_dirs(dir_ / "src");
    make_dirs(dir_ / "dst");
    src_.reset(::open((dir_ / "src").c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
    dst_.reset(::open((dir_ / "dst").c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
    ASSERT_TRUE(src_ && dst_);
  }
  TempDir dir_;
  UniqueFd src_, dst_;
};

TEST_F(CopyPathTest, CopiesKeepsModeAndMtimeAndRemovesTheSource) {
  write_file(dir_ / "src/r.json", "payload");
  ASSERT_EQ(::chmod((dir_ / "src/r.json").c_str(), 0604), 0);
  const timespec times[2] = {{1'600'000'000, 0}, {1'600'000'123, 0}};
  ASSERT_EQ(::utimensat(AT_FDCWD, (dir_ / "src/r.json").c_str(), times, 0), 0);
  write_file(dir_ / "dst/r.json", "taken");
  auto placed = detail::place(src_.get(), "r.json", dst_.get(), true, nullptr);
  ASSERT_TRUE(placed.ok()) << placed.error().message;
  EXPECT_TRUE(placed->copied);
  EXPECT_EQ(placed->final_name, "r.1.json");
  EXPECT_EQ(read_file(dir_ / "dst/r.1.json"), "payload");
  EXPECT_EQ(read_file(dir_ / "dst/r.json"), "taken");
  EXPECT_FALSE(exists(dir_ / "src/r.json"));
  struct stat st {};
  ASSERT_EQ(::stat((dir_ / "dst/r.1.json").c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0604u);
  EXPECT_EQ(st.st_mtim.tv_sec, 1'600'000'123);
  EXPECT_EQ(list_dir(dir_ / "dst"), (std::set<std::string>{"r.json", "r.1.json"}));
}

TEST_F(CopyPathTest, RefusesASymlinkSource) {
  write_file(dir_ / "target", "t");
  ASSERT_EQ(::symlink((dir_ / "target").c_str(), (dir_ / "src/l").c_str()), 0);
  auto placed = detail::place(src_.get(), "l", dst_.get(), true, nullptr);
  ASSERT_FALSE(placed.ok());
  EXPECT_EQ(placed.error().code, -ELOOP);
  EXPECT_TRUE(list_dir(dir_ / "dst").empty());
  EXPECT_TRUE(exists(dir_ / "src/l"));
}

TEST_F(CopyPathTest, ReleasesCompanionClaimsOnTakenNames) {
  write_file(dir_ / "src/a", "a");
  write_file(dir_ / "dst/a", "taken");
  std::vector<std::string> claimed, released;
  detail::Companion c;
  c.claim = [&](const std::string& n) {
    claimed.push_back(n);
    return 0;
  };
  c.release = [&](const std::string& n) { released.push_back(n); };
  auto placed = detail::place(src_.get(), "a", dst_.get(), true, &c);
  ASSERT_TRUE(placed.ok()) << placed.error().message;
  EXPECT_EQ(claimed, (std::vector<std::string>{"a", "a.1"}));
  EXPECT_EQ(released, (std::vector<std::string>{"a"}));
}

TEST(MarkerFile, WritesTheMarkerAtomically) {
  TempDir root;
  MarkerSpec m{root / "w1/.done",
               root.path(),
               "w1",
               "completed",
               "done-marker",
               7,
               WallTime(std::chrono::seconds(1'700'000'000))};
  ActionOutcome o = write_marker(m);
  ASSERT_TRUE(o.ok) << o.message;
  EXPECT_EQ(o.fields.get_string("marker"), root / "w1/.done");
  EXPECT_EQ(o.fields.get_string("entity"), "w1");
  EXPECT_EQ(o.fields.get_string("state"), "completed");
  const std::string want =
      "{\"entity\":\"w1\",\"state\":\"completed\",\"time\":\"2023-11-14T22:13:20.000Z\","
      "\"rule\":\"done-marker\",\"cause_seq\":7}\n";
  EXPECT_EQ(read_file(root / "w1/.done"), want);
  // Again: replaced whole, and no temporary file left.
  m.state = "failed";
  ASSERT_TRUE(write_marker(m).ok);
  EXPECT_NE(read_file(root / "w1/.done").find("\"state\":\"failed\""), std::string::npos);
  EXPECT_EQ(list_dir(root / "w1"), std::set<std::string>{".done"});
}

TEST(MarkerFile, ReplacesASymlinkWithoutFollowingIt) {
  TempDir root, elsewhere;
  write_file(elsewhere / "precious", "keep");
  ASSERT_EQ(::symlink((elsewhere / "precious").c_str(), (root / "marker").c_str()), 0);
  ActionOutcome o =
      write_marker(MarkerSpec{root / "marker", root.path(), "w", "completed", "r", 1, WallTime{}});
  ASSERT_TRUE(o.ok) << o.message;
  EXPECT_EQ(read_file(elsewhere / "precious"), "keep");
  struct stat st {};
  ASSERT_EQ(::lstat((root / "marker").c_str(), &st), 0);
  EXPECT_TRUE(S_ISREG(st.st_mode));
}

TEST(MarkerFile, RefusesOutsideTheRootOrThroughASymlink) {
  TempDir root, elsewhere;
  ActionOutcome o =
      write_marker(MarkerSpec{elsewhere / "m", root.path(), "w", "completed", "r", 1, WallTime{}});
  EXPECT_EQ(o.category, "permission");
  ASSERT_EQ(::symlink(elsewhere.path().c_str(), (root / "link").c_str()), 0);
  o = write_marker(MarkerSpec{root / "link/m", root.path(), "w", "completed", "r", 1, WallTime{}});
  EXPECT_EQ(o.category, "permission") << o.message;
  EXPECT_TRUE(list_dir(elsewhere.path()).empty());
}

}  // namespace
}  // namespace aw
