#include "src/eventlog/segment_maintenance.h"

#include <gtest/gtest.h>
#include <sys/stat.h>

#include "src/eventlog/log_segments.h"
#include "src/eventlog/test_util.h"

namespace aw {
namespace {

using testing::file_exists;
using testing::gunzip_file;
using testing::list_dir;
using testing::numbered_line;
using testing::TempDir;
using testing::write_file;
using testing::write_gzip_file;

std::string many_lines(int n) {
  std::string s;
  for (int i = 1; i <= n; ++i) s += numbered_line(static_cast<std::uint64_t>(i));
  return s;
}

TEST(CompressLogSegmentTest, ReplacesThePlainFileWithAGzipOfTheSameBytes) {
  TempDir dir;
  const std::string data = many_lines(5000);  // several read chunks
  write_file(dir / "events.000003.jsonl", data);
  auto r = compress_log_segment(dir.path(), 3);
  ASSERT_TRUE(r.ok()) << r.error().message;
  EXPECT_TRUE(r->compressed);
  EXPECT_EQ(r->plain_bytes, data.size());
  EXPECT_GT(r->gzip_bytes, 0u);
  EXPECT_LT(r->gzip_bytes, data.size());
  EXPECT_EQ(list_dir(dir.path()), (std::set<std::string>{"events.000003.jsonl.gz"}));
  EXPECT_EQ(gunzip_file(dir / "events.000003.jsonl.gz"), data);
  struct stat st;
  ASSERT_EQ(::stat((dir / "events.000003.jsonl.gz").c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600u);
}

TEST(CompressLogSegmentTest, EmptySegmentBecomesAnEmptyGzip) {
  TempDir dir;
  write_file(dir / "events.000001.jsonl", "");
  auto r = compress_log_segment(dir.path(), 1);
  ASSERT_TRUE(r.ok());
  EXPECT_TRUE(r->compressed);
  EXPECT_TRUE(file_exists(dir / "events.000001.jsonl.gz"));
  EXPECT_EQ(gunzip_file(dir / "events.000001.jsonl.gz"), "");
}

TEST(CompressLogSegmentTest, FinishedGzipMeansOnlyThePlainFileIsRemoved) {
  TempDir dir;
  write_file(dir / "events.000002.jsonl", numbered_line(1));
  write_gzip_file(dir / "events.000002.jsonl.gz", numbered_line(1));
  auto r = compress_log_segment(dir.path(), 2);
  ASSERT_TRUE(r.ok());
  EXPECT_FALSE(r->compressed);
  EXPECT_EQ(list_dir(dir.path()), (std::set<std::string>{"events.000002.jsonl.gz"}));
}

TEST(CompressLogSegmentTest, MissingSegmentIsNothingToDo) {
  TempDir dir;
  auto r = compress_log_segment(dir.path(), 9);
  ASSERT_TRUE(r.ok());
  EXPECT_FALSE(r->compressed);
  EXPECT_TRUE(list_dir(dir.path()).empty());
}

TEST(CompressLogSegmentTest, StaleTmpFromACrashIsRewritten) {
  TempDir dir;
  write_file(dir / "events.000004.jsonl", numbered_line(4));
  write_file(dir / "events.000004.jsonl.gz.tmp", "garbage from a crash");
  auto r = compress_log_segment(dir.path(), 4);
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(list_dir(dir.path()), (std::set<std::string>{"events.000004.jsonl.gz"}));
  EXPECT_EQ(gunzip_file(dir / "events.000004.jsonl.gz"), numbered_line(4));
}

TEST(CompressLogSegmentTest, FailureNamesTheFileAndKeepsThePlainSegment) {
  TempDir dir;
  write_file(dir / "events.000001.jsonl", numbered_line(1));
  // A directory where the .tmp goes: creating it fails even for root.
  ASSERT_EQ(::mkdir((dir / "events.000001.jsonl.gz.tmp").c_str(), 0700), 0);
  auto r = compress_log_segment(dir.path(), 1);
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.error().message.find("cannot create " + (dir / "events.000001.jsonl.gz.tmp")),
            std::string::npos)
      << r.error().message;
  EXPECT_EQ(testing::read_file(dir / "events.000001.jsonl"), numbered_line(1));
  EXPECT_FALSE(file_exists(dir / "events.000001.jsonl.gz"));
}

TEST(PruneLogSegmentsTest, KeepsTheNewest) {
  TempDir dir;
  for (const char* name :
       {"events.000001.jsonl.gz", "events.000002.jsonl.gz", "events.000003.jsonl",
        "events.000003.jsonl.gz", "events.000004.jsonl", "events.jsonl"})
    write_file(dir / name, "");
  auto r = prune_log_segments(dir.path(), 2);
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(*r, 2u);
  EXPECT_EQ(list_dir(dir.path()),
            (std::set<std::string>{"events.000003.jsonl", "events.000003.jsonl.gz",
                                   "events.000004.jsonl", "events.jsonl"}));
}

TEST(PruneLogSegmentsTest, KeepZeroLeavesOnlyTheLiveFile) {
  TempDir dir;
  for (const char* name : {"events.000001.jsonl.gz", "events.000002.jsonl", "events.jsonl"})
    write_file(dir / name, "");
  auto r = prune_log_segments(dir.path(), 0);
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(*r, 2u);
  EXPECT_EQ(list_dir(dir.path()), (std::set<std::string>{"events.jsonl"}));
}

TEST(PruneLogSegmentsTest, StrayTmpIsRemovedAndDoesNotCountAsASegment) {
  TempDir dir;
  for (const char* name : {"events.000001.jsonl.gz", "events.000002.jsonl.gz.tmp",
                           "events.000003.jsonl.gz", "events.000003.jsonl.gz.tmp"})
    write_file(dir / name, "");
  auto r = prune_log_segments(dir.path(), 2);
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(*r, 0u);
  EXPECT_EQ(list_dir(dir.path()),
            (std::set<std::string>{"events.000001.jsonl.gz", "events.000003.jsonl.gz"}));
}

}  // namespace
}  // namespace aw
