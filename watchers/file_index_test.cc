#include "watchers/file_index.h"

#include "src/core/state_file.h"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <unistd.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>

namespace aw {
namespace {

class FileIndexTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/aw-index-XXXXXX";
    ASSERT_NE(mkdtemp(tmpl), nullptr);
    dir_ = tmpl;
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }

  std::unique_ptr<FileIndex> open_index(FileIndex::Options o = {}) {
    auto r = FileIndex::open(dir_, nullptr, o);
    EXPECT_TRUE(r.ok()) << (r.ok() ? "" : r.error().message);
    return r.ok() ? std::move(r.value()) : nullptr;
  }
  std::string read_log() {
    std::ifstream in(dir_ + "/file-index");
    std::stringstream ss;
    ss << in.rdbuf();
    return ss.str();
  }
  void append_raw(const std::string& bytes) {
    int fd = open((dir_ + "/file-index").c_str(), O_WRONLY | O_APPEND);
    ASSERT_GE(fd, 0);
    ASSERT_EQ(write(fd, bytes.data(), bytes.size()), static_cast<ssize_t>(bytes.size()));
    close(fd);
  }
  static FileIndex::Key key(std::string rel, std::int64_t size = 10, std::int64_t mtime = 1000) {
    return FileIndex::Key{"results", std::move(rel), 2049, 77, size, mtime};
  }
  std::string dir_;
};

TEST_F(FileIndexTest, ClaimIsExclusiveUntilCompleted) {
  auto idx = open_index();
  ASSERT_TRUE(idx);
  EXPECT_TRUE(idx->claim(key("a.json")));
  EXPECT_FALSE(idx->claim(key("a.json"))) << "pending claim must block a second land";
  EXPECT_FALSE(idx->is_handled(key("a.json")));
  idx->complete(key("a.json"), "completed");
  EXPECT_FALSE(idx->claim(key("a.json")));
  EXPECT_TRUE(idx->is_handled(key("a.json")));
  EXPECT_EQ(idx->outcome(key("a.json")), "completed");
}

TEST_F(FileIndexTest, NewVersionAtSamePathIsANewClaim) {
  auto idx = open_index();
  ASSERT_TRUE(idx->claim(key("a.json", 10, 1000)));
  idx->complete(key("a.json", 10, 1000), "completed");
  EXPECT_TRUE(idx->claim(key("a.json", 20, 2000)));
  EXPECT_FALSE(idx->is_handled(key("a.json", 10, 1000)));
  // A late completion of the old version does not cover the new one.
  idx->complete(key("a.json", 10, 1000), "late");
  EXPECT_FALSE(idx->is_handled(key("a.json", 20, 2000)));
  EXPECT_FALSE(idx->claim(key("a.json", 20, 2000)));
}

TEST_F(FileIndexTest, AbandonAndForgetReleaseTheEntry) {
  auto idx = open_index();
  ASSERT_TRUE(idx->claim(key("a.json")));
  idx->abandon(key("a.json"));
  EXPECT_TRUE(idx->claim(key("a.json")));
  idx->complete(key("a.json"), "completed");
  idx->abandon(key("a.json"));  // handled entries are kept
  EXPECT_FALSE(idx->claim(key("a.json")));
  idx->forget("results", "a.json");
  EXPECT_TRUE(idx->claim(key("a.json")));
}

TEST_F(FileIndexTest, TracksAPathFromItsClaimUntilItIsForgotten) {
  auto idx = open_index();
  EXPECT_FALSE(idx->tracks(key("a.json")));
  ASSERT_TRUE(idx->claim(key("a.json")));
  EXPECT_TRUE(idx->tracks(key("a.json")));
  EXPECT_TRUE(idx->tracks(key("a.json", 99, 2000))) << "any version at the path";
  idx->forget("results", "a.json");  // moved away while it was being handled
  EXPECT_FALSE(idx->tracks(key("a.json")));
  ASSERT_TRUE(idx->claim(key("b.json")));
  idx->complete(key("b.json"), "completed");
  EXPECT_TRUE(idx->tracks(key("b.json")));
}

TEST_F(FileIndexTest, PersistsHandledNotPendingAcrossReopen) {
  {
    auto idx = open_index();
    ASSERT_TRUE(idx->claim(key("done.json")));
    idx->complete(key("done.json"), "completed");
    ASSERT_TRUE(idx->claim(key("pending.json")));
  }
  auto idx = open_index();
  EXPECT_TRUE(idx->is_handled(key("done.json")));
  EXPECT_EQ(idx->outcome(key("done.json")), "completed");
  EXPECT_FALSE(idx->claim(key("done.json")));
  EXPECT_TRUE(idx->claim(key("pending.json"))) << "a pending claim dies with the process";
  EXPECT_EQ(idx->stats().corrupt_lines, 0u);
}

TEST_F(FileIndexTest, NamesWithTabsNewlinesAndPercentRoundTrip) {
  const std::string weird = "dir\twith tab/line\nbreak %41.json";
  {
    auto idx = open_index();
    ASSERT_TRUE(idx->claim(key(weird)));
    idx->complete(key(weird), "ok\tfine");
  }
  const std::string log = read_log();
  EXPECT_EQ(std::count(log.begin(), log.end(), '\n'), 2);
  auto idx = open_index();
  EXPECT_TRUE(idx->is_handled(key(weird)));
  EXPECT_EQ(idx->outcome(key(weird)), "ok\tfine");
}

TEST_F(FileIndexTest, TornLastLineIsCutOffAndAppendsStayClean) {
  {
    auto idx = open_index();
    idx->complete(key("a.json"), "completed");
  }
  append_raw("H\t2049\t77\t10\t1000\tresults\tb.js");  // crash mid-write
  {
    auto idx = open_index();
    EXPECT_TRUE(idx->is_handled(key("a.json")));
    EXPECT_FALSE(idx->is_handled(key("b.json")));
    EXPECT_EQ(idx->stats().corrupt_lines, 1u);
    idx->complete(key("c.json"), "completed");
  }
  auto idx = open_index();
  EXPECT_TRUE(idx->is_handled(key("a.json")));
  EXPECT_TRUE(idx->is_handled(key("c.json")));
  EXPECT_EQ(idx->stats().corrupt_lines, 0u);
}

TEST_F(FileIndexTest, CorruptMiddleLinesAreSkipped) {
  {
    auto idx = open_index();
    idx->complete(key("a.json"), "completed");
  }
  append_raw("garbage line\n");
  append_raw(state_record({"H", "not-a-number", "77", "10", "1000", "results", "x", "completed"}));
  std::string damaged = state_record({"H", "1", "2", "3", "4", "results", "y", "completed"});
  damaged[damaged.size() - 3] = 'X';  // a byte changed after its checksum was taken
  append_raw(damaged);
  append_raw(state_record({"H", "2049", "77", "10", "1000", "results", "d.json", "completed"}));
  auto idx = open_index();
  EXPECT_TRUE(idx->is_handled(key("a.json")));
  EXPECT_TRUE(idx->is_handled(key("d.json")));
  EXPECT_EQ(idx->stats().corrupt_lines, 3u);
}

TEST_F(FileIndexTest, TheOlderFormatIsReadAndRewrittenInTheCurrentOne) {
  std::ofstream(dir_ + "/file-index") << std::string(
      "agentwatch-file-index 1\n"
      "H\t2049\t77\t10\t1000\tresults\ta%09b.json\tcompleted\n"
      "H\tnot-a-number\t77\t10\t1000\tresults\tx\tcompleted\n"
      "H\t2049\t77\t10\t1000\tresults\tc.json\tquarantined\n"
      "H\t2049\t77\t10\t1000\tresults\ttorn");
  {
    auto idx = open_index();
    EXPECT_EQ(idx->outcome(key("a\tb.json")), "completed");
    EXPECT_EQ(idx->outcome(key("c.json")), "quarantined");
    EXPECT_EQ(idx->stats().corrupt_lines, 2u) << "the bad line and the torn one";
    EXPECT_EQ(idx->stats().compactions, 1u) << "rewritten at once";
    idx->complete(key("d.json"), "completed");
  }
  const std::string log = read_log();
  EXPECT_EQ(log.substr(0, log.find('\n') + 1), state_file_header("file-index"));
  auto idx = open_index();
  EXPECT_EQ(idx->outcome(key("a\tb.json")), "completed");
  EXPECT_EQ(idx->outcome(key("c.json")), "quarantined");
  EXPECT_EQ(idx->outcome(key("d.json")), "completed");
  EXPECT_EQ(idx->stats().corrupt_lines, 0u);
  EXPECT_EQ(idx->stats().compactions, 0u);
}

TEST_F(FileIndexTest, CompactsWhenLogHoldsMoreThanTwiceTheLiveEntries) {
  FileIndex::Options o;
  o.compact_min_lines = 8;
  auto idx = open_index(o);
  // One path rewritten many times: one live entry, many log lines.
  for (int i = 1; i <= 8; ++i) {
    ASSERT_TRUE(idx->claim(key("hot.json", i, i)));
    idx->complete(key("hot.json", i, i), "completed");
  }
  EXPECT_GE(idx->stats().compactions, 1u);
  EXPECT_LE(idx->stats().log_lines, 2u);
  EXPECT_EQ(std::distance(std::filesystem::directory_iterator(dir_), {}), 1) << "no temp file left";
  auto reopened = open_index(o);
  EXPECT_TRUE(reopened->is_handled(key("hot.json", 8, 8)));
  EXPECT_FALSE(reopened->is_handled(key("hot.json", 7, 7)));
  EXPECT_EQ(reopened->stats().handled, 1u);
}

TEST_F(FileIndexTest, CompactsOversizedLogAtOpen) {
  {
    FileIndex::Options big;
    big.compact_min_lines = 1000000;
    auto idx = open_index(big);
    for (int i = 1; i <= 20; ++i) idx->complete(key("hot.json", i, i), "completed");
    EXPECT_EQ(idx->stats().log_lines, 20u);
  }
  FileIndex::Options o;
  o.compact_min_lines = 8;
  auto idx = open_index(o);
  EXPECT_EQ(idx->stats().compactions, 1u);
  EXPECT_EQ(idx->stats().log_lines, 1u);
  EXPECT_TRUE(idx->is_handled(key("hot.json", 20, 20)));
}

TEST_F(FileIndexTest, DropUnseenRemovesEntriesOfVanishedFiles) {
  FileIndex::Options o;
  o.compact_min_lines = 2;
  {
    auto idx = open_index(o);
    idx->complete(key("kept.json"), "completed");
    idx->complete(key("gone.json"), "completed");
    idx->complete(FileIndex::Key{"other", "gone.json", 1, 2, 3, 4}, "completed");
  }
  auto idx = open_index(o);
  const auto epoch = idx->begin_epoch();
  EXPECT_FALSE(idx->claim(key("kept.json")));  // the scan saw it
  idx->drop_unseen("results", epoch);
  EXPECT_TRUE(idx->is_handled(key("kept.json")));
  EXPECT_FALSE(idx->is_handled(key("gone.json")));
  EXPECT_TRUE(idx->is_handled(FileIndex::Key{"other", "gone.json", 1, 2, 3, 4}));
  EXPECT_EQ(idx->stats().handled, 2u);
}

TEST_F(FileIndexTest, TouchKeepsAnEntryThroughDropUnseenWithoutClaiming) {
  auto idx = open_index();
  EXPECT_TRUE(idx->claim(key("settling.json")));  // landed, handling still running
  idx->complete(key("handled.json"), "completed");
  const auto epoch = idx->begin_epoch();
  // A scan finds both still there but holds them while they settle.
  idx->touch("results", "settling.json");
  idx->touch("results", "handled.json");
  idx->touch("results", "never-seen.json");
  idx->drop_unseen("results", epoch);
  EXPECT_FALSE(idx->claim(key("settling.json"))) << "the pending claim must survive the sweep";
  EXPECT_TRUE(idx->is_handled(key("handled.json")));
  EXPECT_EQ(idx->stats().entries, 2u) << "touch never creates an entry";
}

TEST_F(FileIndexTest, AsyncCompactionOnTheLoopKeepsLinesCompletedMeanwhile) {
  uv_loop_t loop;
  ASSERT_EQ(uv_loop_init(&loop), 0);
  {
    FileIndex::Options o;
    o.compact_min_lines = 8;
    auto r = FileIndex::open(dir_, &loop, o);
    ASSERT_TRUE(r.ok());
    auto& idx = *r;
    for (int i = 1; i <= 8; ++i) idx->complete(key("hot.json", i, i), "completed");
    ASSERT_TRUE(idx->compaction_in_flight());
    idx->complete(key("during.json"), "completed");  // lands in the old file and the new one
    uv_run(&loop, UV_RUN_DEFAULT);
    EXPECT_FALSE(idx->compaction_in_flight());
    EXPECT_EQ(idx->stats().compactions, 1u);
    idx->complete(key("after.json"), "completed");
  }
  auto idx = open_index();
  EXPECT_TRUE(idx->is_handled(key("hot.json", 8, 8)));
  EXPECT_TRUE(idx->is_handled(key("during.json")));
  EXPECT_TRUE(idx->is_handled(key("after.json")));
  EXPECT_EQ(idx->stats().log_lines, 3u);
  EXPECT_EQ(uv_loop_close(&loop), 0);
}

// Records of files nothing acted on wait for the end of the loop turn.
class FileIndexTurnTest : public FileIndexTest {
 protected:
  void SetUp() override {
    FileIndexTest::SetUp();
    ASSERT_EQ(uv_loop_init(&loop_), 0);
    auto r = FileIndex::open(dir_, &loop_, FileIndex::Options{});
    ASSERT_TRUE(r.ok());
    idx_ = std::move(*r);
    header_ = read_log();
  }
  void TearDown() override {
    idx_.reset();
    uv_run(&loop_, UV_RUN_NOWAIT);  // the turn timer's close
    EXPECT_EQ(uv_loop_close(&loop_), 0);
    FileIndexTest::TearDown();
  }
  std::size_t lines_after_header() {
    const std::string log = read_log();
    return static_cast<std::size_t>(std::count(log.begin(), log.end(), '\n')) - 1;
  }
  static constexpr auto kWithTurn = FileIndex::Durability::kWithTurn;
  uv_loop_t loop_{};
  std::unique_ptr<FileIndex> idx_;
  std::string header_;
};

TEST_F(FileIndexTurnTest, NoRuleRecordsAreWrittenTogetherAtTheEndOfTheTurn) {
  for (int i = 0; i < 3; ++i) idx_->complete(key("f" + std::to_string(i)), "no-rule", kWithTurn);
  EXPECT_TRUE(idx_->is_handled(key("f0"))) << "handled in memory at once";
  EXPECT_EQ(read_log(), header_) << "nothing written during the turn";
  uv_run(&loop_, UV_RUN_NOWAIT);
  EXPECT_EQ(lines_after_header(), 3u);
  EXPECT_EQ(idx_->stats().log_lines, 3u);
}

TEST_F(FileIndexTurnTest, ARecordOfAnActionWritesAtOnceAfterTheGatheredOnes) {
  idx_->complete(key("quiet.json"), "no-rule", kWithTurn);
  idx_->complete(key("acted.json"), "handled");
  const std::string log = read_log();
  const auto quiet = log.find("quiet.json");
  const auto acted = log.find("acted.json");
  ASSERT_NE(quiet, std::string::npos);
  ASSERT_NE(acted, std::string::npos);
  EXPECT_LT(quiet, acted) << "the log keeps completion order";
}

TEST_F(FileIndexTurnTest, GatheredRecordsAreWrittenWhenTheIndexCloses) {
  idx_->complete(key("last.json"), "no-rule", kWithTurn);
  idx_.reset();
  auto again = open_index();
  EXPECT_TRUE(again->is_handled(key("last.json")));
}

TEST_F(FileIndexTurnTest, AGatheredRecordDuringACompactionIsKeptOnce) {
  idx_.reset();
  uv_run(&loop_, UV_RUN_NOWAIT);
  FileIndex::Options o;
  o.compact_min_lines = 8;
  auto r = FileIndex::open(dir_, &loop_, o);
  ASSERT_TRUE(r.ok());
  idx_ = std::move(*r);
  for (int i = 1; i <= 8; ++i) idx_->complete(key("hot.json", i, i), "completed");
  ASSERT_TRUE(idx_->compaction_in_flight());
  idx_->complete(key("quiet.json"), "no-rule", kWithTurn);
  uv_run(&loop_, UV_RUN_DEFAULT);
  EXPECT_EQ(idx_->stats().compactions, 1u);
  idx_.reset();
  uv_run(&loop_, UV_RUN_NOWAIT);
  auto again = open_index();
  EXPECT_TRUE(again->is_handled(key("quiet.json")));
  EXPECT_EQ(again->stats().log_lines, 2u) << "hot.json's last version and quiet.json, once each";
}

TEST_F(FileIndexTest, OpenFailureNamesTheFile) {
  auto r = FileIndex::open(dir_ + "/no/such/dir");
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.error().message.find(dir_ + "/no/such/dir/file-index"), std::string::npos)
      << r.error().message;
}

TEST(FileIndexKey, FromLandedEvent) {
  Event e;
  e.kind = "file.landed";
  e.fields.set("watch", "results");
  e.fields.set("rel", "a/b.json");
  e.fields.set("dev", std::int64_t{1});
  e.fields.set("inode", std::int64_t{2});
  e.fields.set("size", std::int64_t{3});
  e.fields.set("mtime_ns", std::int64_t{4});
  auto k = FileIndex::key_from_event(e);
  ASSERT_TRUE(k);
  EXPECT_EQ(*k, (FileIndex::Key{"results", "a/b.json", 1, 2, 3, 4}));
  e.fields.erase("inode");
  EXPECT_FALSE(FileIndex::key_from_event(e));
}

TEST(FileIndexInMemory, SameSemanticsNothingOnDisk) {
  auto idx = FileIndex::in_memory();
  FileIndex::Key k{"w", "x", 1, 2, 3, 4};
  EXPECT_TRUE(idx->claim(k));
  EXPECT_FALSE(idx->claim(k));
  idx->complete(k, "done");
  EXPECT_TRUE(idx->is_handled(k));
  EXPECT_TRUE(idx->path().empty());
}

}  // namespace
}  // namespace aw
