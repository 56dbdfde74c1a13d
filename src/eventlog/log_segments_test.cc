#include "src/eventlog/log_segments.h"

#include <gtest/gtest.h>

#include "src/eventlog/test_util.h"

namespace aw {
namespace {

using testing::TempDir;
using testing::write_file;

TEST(LogSegmentsTest, NamesAreZeroPaddedToSixDigits) {
  EXPECT_EQ(log_segment_file_name(1, SegmentForm::kPlain), "events.000001.jsonl");
  EXPECT_EQ(log_segment_file_name(42, SegmentForm::kGzip), "events.000042.jsonl.gz");
  EXPECT_EQ(log_segment_file_name(7, SegmentForm::kGzipTmp), "events.000007.jsonl.gz.tmp");
  EXPECT_EQ(log_segment_file_name(1234567, SegmentForm::kPlain), "events.1234567.jsonl");
  EXPECT_EQ(log_segment_path("/s", 3, SegmentForm::kPlain), "/s/events.000003.jsonl");
  EXPECT_EQ(live_log_path("/s"), "/s/events.jsonl");
}

TEST(LogSegmentsTest, ParsesEveryFormAndAnyWidth) {
  ParsedLogSegmentName p;
  ASSERT_TRUE(parse_log_segment_file_name("events.000042.jsonl", p));
  EXPECT_EQ(p.number, 42u);
  EXPECT_EQ(p.form, SegmentForm::kPlain);
  ASSERT_TRUE(parse_log_segment_file_name("events.42.jsonl.gz", p));
  EXPECT_EQ(p.number, 42u);
  EXPECT_EQ(p.form, SegmentForm::kGzip);
  ASSERT_TRUE(parse_log_segment_file_name("events.1234567.jsonl.gz.tmp", p));
  EXPECT_EQ(p.number, 1234567u);
  EXPECT_EQ(p.form, SegmentForm::kGzipTmp);
}

TEST(LogSegmentsTest, OtherNamesAreNotSegments) {
  ParsedLogSegmentName p;
  for (const char* name :
       {"events.jsonl", "events..jsonl", "events.x.jsonl", "events.000000.jsonl", "events.1.json",
        "events.1.jsonl.bz2", "events.1.jsonl.gz.tmp.old", "other.1.jsonl", "events.-1.jsonl",
        "events.99999999999999999999.jsonl"}) {
    EXPECT_FALSE(parse_log_segment_file_name(name, p)) << name;
  }
}

TEST(LogSegmentsTest, ListingIsNumericAndMergesForms) {
  TempDir dir;
  for (const char* name :
       {"events.jsonl", "events.000010.jsonl.gz", "events.000009.jsonl", "events.000009.jsonl.gz",
        "events.000011.jsonl.gz.tmp", "events.1000000.jsonl", "notes.txt"})
    write_file(dir / name, "");
  auto segs = list_log_segments(dir.path());
  ASSERT_TRUE(segs.ok());
  ASSERT_EQ(segs->size(), 4u);
  EXPECT_EQ((*segs)[0].number, 9u);
  EXPECT_TRUE((*segs)[0].has_plain && (*segs)[0].has_gzip && !(*segs)[0].has_gzip_tmp);
  EXPECT_EQ((*segs)[1].number, 10u);
  EXPECT_TRUE(!(*segs)[1].has_plain && (*segs)[1].has_gzip);
  EXPECT_EQ((*segs)[2].number, 11u);
  EXPECT_TRUE((*segs)[2].has_gzip_tmp && !(*segs)[2].has_plain && !(*segs)[2].has_gzip);
  EXPECT_EQ((*segs)[3].number, 1000000u);
  EXPECT_EQ(highest_log_segment_number(*segs), 1000000u);
}

TEST(LogSegmentsTest, MissingDirIsAnEmptyLog) {
  auto segs = list_log_segments("/nonexistent/agentwatch/state");
  ASSERT_TRUE(segs.ok());
  EXPECT_TRUE(segs->empty());
  EXPECT_EQ(highest_log_segment_number(*segs), 0u);
}

TEST(LogSegmentsTest, UnreadableDirIsAnErrorNamingIt) {
  TempDir dir;
  write_file(dir / "file", "");
  auto segs = list_log_segments(dir / "file");
  ASSERT_FALSE(segs.ok());
  EXPECT_NE(segs.error().message.find(dir / "file"), std::string::npos);
}

}  // namespace
}  // namespace aw
