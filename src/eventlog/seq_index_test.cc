#include "src/eventlog/seq_index.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "src/eventlog/event_log_reader.h"
#include "src/eventlog/event_log_writer.h"
#include "src/eventlog/log_segments.h"
#include "src/eventlog/test_util.h"

namespace aw {
namespace {

using testing::numbered_event;
using testing::numbered_line;
using testing::TempDir;
using testing::write_file;
using testing::write_gzip_file;

// Lines from..to, each as the writer writes it (to_json_line ends with '\n').
std::string lines(std::uint64_t from, std::uint64_t to) {
  std::string out;
  for (std::uint64_t n = from; n <= to; ++n) out += numbered_line(n);
  return out;
}

// Every entry must name the start of the line holding its seq.
void expect_entries_point_at_their_lines(const SeqIndex& index, const std::string& file,
                                         std::uint64_t segment) {
  for (const LogPosition& p : index.entries()) {
    if (p.segment != segment) continue;
    ASSERT_LT(p.offset, file.size());
    EXPECT_TRUE(p.offset == 0 || file[p.offset - 1] == '\n') << "offset " << p.offset;
    EXPECT_EQ(leading_seq(std::string_view(file).substr(p.offset)), p.seq);
  }
}

TEST(LeadingSeq, ReadsTheSeqTheWriterPutsFirst) {
  EXPECT_EQ(leading_seq(R"({"seq":42,"kind":"x"})"), 42u);
  EXPECT_EQ(leading_seq(R"({"seq":7})"), 7u);
  EXPECT_EQ(leading_seq(numbered_line(123)), 123u);
}

TEST(LeadingSeq, RefusesAnythingElse) {
  EXPECT_EQ(leading_seq(R"({"kind":"x","seq":42})"), std::nullopt);
  EXPECT_EQ(leading_seq(R"({"seq":"42"})"), std::nullopt);
  EXPECT_EQ(leading_seq(R"({"seq":42)"), std::nullopt);  // cut off: the number may go on
  EXPECT_EQ(leading_seq(R"({"seq":)"), std::nullopt);
  EXPECT_EQ(leading_seq(R"( {"seq":1,})"), std::nullopt);
  EXPECT_EQ(leading_seq(R"({"seq":99999999999999999999999,})"), std::nullopt);
  EXPECT_EQ(leading_seq(""), std::nullopt);
}

TEST(SeqIndex, MarksALineStartAboutEveryStride) {
  const std::string file = lines(1, 400);
  SeqIndex index(1000);
  index.note_appended(3, 0, file);
  // A mark at the first line start a stride after the last: no more than one
  // per stride, and no fewer than one per stride and a line.
  EXPECT_GE(index.size(), file.size() / (1000 + numbered_line(400).size()));
  EXPECT_LE(index.size(), file.size() / 1000 + 1);
  EXPECT_EQ(index.entries().front(), (LogPosition{3, 0, 1}));
  expect_entries_point_at_their_lines(index, file, 3);
}

TEST(SeqIndex, LinesSplitAcrossAppendsAreFoundWhereTheyStart) {
  const std::string file = lines(1, 400);
  SeqIndex whole(700);
  whole.note_appended(1, 0, file);
  // The same bytes in odd pieces, cutting lines anywhere.
  SeqIndex pieces(700);
  for (std::size_t at = 0, n = 1; at < file.size(); at += n, n = n * 7 % 113 + 1)
    pieces.note_appended(1, at, std::string_view(file).substr(at, n));
  expect_entries_point_at_their_lines(pieces, file, 1);
  EXPECT_EQ(pieces.entries(), whole.entries());
}

TEST(SeqIndex, ALaterSegmentStartsAfresh) {
  SeqIndex index(1 << 20);
  index.note_appended(1, 0, lines(1, 10));
  index.note_appended(2, 0, lines(11, 20));
  ASSERT_EQ(index.size(), 2u);
  EXPECT_EQ(index.entries()[1], (LogPosition{2, 0, 11}));
}

TEST(SeqIndex, BytesAfterAGapWaitForTheNextLineStart) {
  // We did not see what came before offset 500: the line there may be a tail.
  SeqIndex index(1 << 20);
  const std::string tail_then_line = std::string("\"x\"}\n") + numbered_line(9);
  index.note_appended(1, 500, tail_then_line);
  ASSERT_EQ(index.size(), 1u);
  EXPECT_EQ(index.entries()[0], (LogPosition{1, 505, 9}));
}

TEST(SeqIndex, StartForIsTheLastMarkAtOrBeforeTheNextSeq) {
  SeqIndex index;
  index.add_sampled({{1, 0, 1}, {1, 900, 50}, {2, 0, 100}, {2, 800, 150}});
  EXPECT_EQ(index.start_for(0), (LogPosition{1, 0, 1}));
  EXPECT_EQ(index.start_for(48), (LogPosition{1, 0, 1}));
  EXPECT_EQ(index.start_for(49), (LogPosition{1, 900, 50}));  // 50 is the one wanted
  EXPECT_EQ(index.start_for(120), (LogPosition{2, 0, 100}));
  EXPECT_EQ(index.start_for(1000), (LogPosition{2, 800, 150}));
  SeqIndex later;
  later.add_sampled({{4, 0, 300}});
  EXPECT_EQ(later.start_for(10), std::nullopt);  // before what it knows: read from the top
}

TEST(SeqIndex, ForgottenSegmentsStayForgotten) {
  SeqIndex index;
  index.add_sampled({{1, 0, 1}, {2, 0, 100}, {3, 0, 200}});
  index.forget_segments_below(3);
  ASSERT_EQ(index.size(), 1u);
  // A sample that comes back late for a pruned segment is not taken.
  index.add_sampled({{2, 500, 120}, {3, 400, 230}});
  EXPECT_EQ(index.entries(), (std::vector<LogPosition>{{3, 0, 200}, {3, 400, 230}}));
  index.note_appended(2, 0, lines(1, 5));
  EXPECT_EQ(index.size(), 2u);
}

TEST(SeqIndex, RestartingTheLiveFileDropsItsEntries) {
  SeqIndex index(10);
  index.note_appended(5, 0, lines(1, 20));
  ASSERT_GT(index.size(), 1u);
  index.restart_segment(5, 0, false);
  EXPECT_EQ(index.size(), 0u);
  index.note_appended(5, 0, lines(21, 22));
  EXPECT_EQ(index.entries().front(), (LogPosition{5, 0, 21}));
}

TEST(SeqIndex, SampledEntriesMergeInFileOrder) {
  SeqIndex index(1 << 20);
  index.restart_segment(3, 1000, true);
  index.note_appended(3, 1000, lines(40, 41));
  index.add_sampled({{3, 0, 30}, {2, 0, 20}});
  EXPECT_EQ(index.entries(), (std::vector<LogPosition>{{2, 0, 20}, {3, 0, 30}, {3, 1000, 40}}));
}

TEST(SeqIndex, AVeryLongLogIsIndexedMoreCoarselyNotWithoutBound) {
  SeqIndex index(1);
  std::uint64_t at = 0;
  for (std::uint64_t n = 1; n <= 70'000; ++n) {
    const std::string line = numbered_line(n);
    index.note_appended(1, at, line);
    at += line.size();
  }
  EXPECT_LT(index.size(), std::size_t{1} << 16);
  EXPECT_GT(index.size(), std::size_t{1} << 14);
  EXPECT_EQ(index.entries().front().seq, 1u);
}

TEST(SampleLogFile, PlainFilesEveryStride) {
  TempDir dir;
  const std::string file = lines(1, 300);
  write_file(dir / "events.000004.jsonl", file);
  auto found = sample_log_file(dir / "events.000004.jsonl", 4, false, 1000);
  ASSERT_TRUE(found.ok()) << found.error().message;
  ASSERT_GE(found->size(), file.size() / 1000);
  EXPECT_EQ(found->front(), (LogPosition{4, 0, 1}));
  SeqIndex index;
  index.add_sampled(*found);
  expect_entries_point_at_their_lines(index, file, 4);
}

TEST(SampleLogFile, StopsAtTheLimit) {
  TempDir dir;
  write_file(dir / "events.jsonl", lines(1, 300));
  auto found = sample_log_file(dir / "events.jsonl", 2, false, 100, 1000);
  ASSERT_TRUE(found.ok());
  for (const LogPosition& p : *found) EXPECT_LT(p.offset, 1000u);
}

TEST(SampleLogFile, GzipSegmentsOnlyAtTheirFirstLine) {
  TempDir dir;
  write_gzip_file(dir / "events.000001.jsonl.gz", lines(17, 300));
  auto found = sample_log_file(dir / "events.000001.jsonl.gz", 1, true, 100);
  ASSERT_TRUE(found.ok());
  EXPECT_EQ(*found, (std::vector<LogPosition>{{1, 0, 17}}));
}

TEST(SampleLogFile, AMissingFileIsEmpty) {
  TempDir dir;
  auto found = sample_log_file(dir / "nope", 1, false, 100);
  ASSERT_TRUE(found.ok());
  EXPECT_TRUE(found->empty());
}

// The writer keeps the index, and a reader started anywhere it says gets
// every event after the seq asked for: the property SSE reconnects rely on.
class SeqIndexLogTest : public testing::LoopTest {
 protected:
  EventLogWriterOptions options() {
    EventLogWriterOptions o;
    o.dir = dir_.path();
    o.max_bytes = 8 * 1024;  // rotations every ~80 events
    o.keep = 3;
    o.index_stride = 1024;
    return o;
  }
  std::unique_ptr<EventLogWriter> open_writer() {
    auto w = EventLogWriter::open(&loop_, options());
    EXPECT_TRUE(w.ok()) << (w.ok() ? "" : w.error().message);
    return w.ok() ? std::move(*w) : nullptr;
  }
  void finish(EventLogWriter& w) {
    run_until([&] { return w.pending_work() == 0; });
  }
  std::vector<std::uint64_t> read_from(const std::optional<LogPosition>& from) {
    std::vector<std::uint64_t> seqs;
    EventLogReader reader(dir_.path());
    auto visit = [&](const LogRecord& r) {
      std::uint64_t seq = 0;
      if (!r.object["seq"].get_uint64().get(seq)) seqs.push_back(seq);
      return true;
    };
    const Status s = from ? reader.read_history_from(*from, visit) : reader.read_history(visit);
    EXPECT_TRUE(s.ok());
    return seqs;
  }
  // Every `after` the log can answer: the read from the index starts at the
  // indexed line and reaches after + 1 without a gap.
  void expect_every_start_is_right(const SeqIndex& index, std::uint64_t first, std::uint64_t last,
                                   std::uint64_t max_back) {
    for (std::uint64_t after = first; after < last; after += 7) {
      const auto from = index.start_for(after);
      ASSERT_TRUE(from) << "after " << after;
      const std::vector<std::uint64_t> seqs = read_from(from);
      ASSERT_FALSE(seqs.empty());
      EXPECT_EQ(seqs.front(), from->seq);
      EXPECT_LE(seqs.front(), after + 1);
      EXPECT_EQ(seqs.back(), last);
      EXPECT_EQ(seqs.size(), last - seqs.front() + 1) << "a gap after " << after;
      EXPECT_GE(seqs.front() + max_back, after) << "read from far back for " << after;
    }
  }

  TempDir dir_;
};

TEST_F(SeqIndexLogTest, WhatTheWriterIndexesLeadsToEveryLaterEvent) {
  auto w = open_writer();
  ASSERT_TRUE(w);
  for (std::uint64_t n = 1; n <= 400; ++n) {
    w->stage(numbered_event(n));
    if (n % 13 == 0) {
      ASSERT_TRUE(w->commit().ok());
    }
  }
  ASSERT_TRUE(w->commit().ok());
  finish(*w);
  ASSERT_GE(w->stats().rotations, 3u);
  // Pruned segments are forgotten; the oldest kept one is indexed from its top.
  const auto segments = list_log_segments(dir_.path());
  ASSERT_TRUE(segments.ok());
  ASSERT_EQ(segments->size(), 3u);
  EXPECT_EQ(w->seq_index().entries().front().segment, segments->front().number);
  EXPECT_EQ(w->seq_index().entries().front().offset, 0u);
  const std::uint64_t oldest = w->seq_index().entries().front().seq;
  // What it wrote itself is indexed every stride (~8 events), compressed or not.
  expect_every_start_is_right(w->seq_index(), oldest, 400, 10);
}

TEST_F(SeqIndexLogTest, AReopenedWriterIndexesWhatWasAlreadyOnDisk) {
  {
    auto w = open_writer();
    ASSERT_TRUE(w);
    for (std::uint64_t n = 1; n <= 300; ++n) ASSERT_TRUE(w->append(numbered_event(n)).ok());
    finish(*w);
  }
  auto w = open_writer();
  ASSERT_TRUE(w);
  finish(*w);  // the sampling job
  for (std::uint64_t n = 301; n <= 320; ++n) ASSERT_TRUE(w->append(numbered_event(n)).ok());
  const SeqIndex& index = w->seq_index();
  // The compressed segments by their first lines, the live file every stride.
  const auto segments = list_log_segments(dir_.path());
  ASSERT_TRUE(segments.ok());
  for (const LogSegment& seg : *segments) {
    const auto& e = index.entries();
    EXPECT_TRUE(
        std::any_of(e.begin(), e.end(),
                    [&](const LogPosition& p) { return p.segment == seg.number && p.offset == 0; }))
        << "segment " << seg.number;
  }
  // Compressed segments were sampled at their first line only: a segment's
  // worth of events (~60) at most.
  expect_every_start_is_right(index, index.entries().front().seq, 320, 64);
}

TEST_F(SeqIndexLogTest, APositionInAPrunedSegmentReadsFromTheOldestLeft) {
  auto w = open_writer();
  ASSERT_TRUE(w);
  for (std::uint64_t n = 1; n <= 500; ++n) ASSERT_TRUE(w->append(numbered_event(n)).ok());
  finish(*w);
  const std::vector<std::uint64_t> all = read_from(std::nullopt);
  ASSERT_FALSE(all.empty());
  ASSERT_GT(all.front(), 1u);  // the start was pruned
  // Segment 1 is gone: the reader goes on from what is left, and the caller
  // sees by the first seq that the position was not honoured.
  EXPECT_EQ(read_from(LogPosition{1, 3000, 40}), all);
}

TEST_F(SeqIndexLogTest, ALivePositionStaysRightAfterTheFileIsRotated) {
  auto w = open_writer();
  ASSERT_TRUE(w);
  for (std::uint64_t n = 1; n <= 30; ++n) ASSERT_TRUE(w->append(numbered_event(n)).ok());
  const auto from = w->seq_index().start_for(20);
  ASSERT_TRUE(from);
  const std::uint64_t live_number = from->segment;
  // Rotate the live file under the position (it becomes segment `live_number`).
  for (std::uint64_t n = 31; w->stats().rotations == 0; ++n)
    ASSERT_TRUE(w->append(numbered_event(n)).ok());
  finish(*w);
  ASSERT_TRUE(testing::file_exists(log_segment_path(dir_.path(), live_number, SegmentForm::kGzip)));
  const std::vector<std::uint64_t> seqs = read_from(from);
  ASSERT_FALSE(seqs.empty());
  EXPECT_EQ(seqs.front(), from->seq);
}

}  // namespace
}  // namespace aw
