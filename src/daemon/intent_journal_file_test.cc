// The intent log's file on a real loop and real files: what a killed daemon
// leaves is what the next one reads; a full disk loses nothing gathered.
#include "src/daemon/intent_journal_file.h"

#include <gtest/gtest.h>
#include <sys/stat.h>

#include "src/core/state_file.h"
#include "src/os/test_support.h"

namespace aw {
namespace {

using testing::read_file;
using testing::TempDir;
using testing::write_file;

// Fails the next `failing_writes` write() calls with ENOSPC, after letting
// `short_write` bytes of the first through (a write cut short by a full disk).
class FullDisk final : public Env {
 public:
  int failing_writes = 0;
  std::size_t short_write = 0;
  ssize_t write(int fd, const void* data, std::size_t len) override {
    if (failing_writes == 0) return Env::write(fd, data, len);
    if (short_write > 0) {
      const std::size_t n = short_write;
      short_write = 0;
      return Env::write(fd, data, std::min(len, n));
    }
    --failing_writes;
    errno = ENOSPC;
    return -1;
  }
};

Plan one_run(std::string rule) {
  Plan p;
  p.rule = std::move(rule);
  ActionRequest r;
  r.rule = p.rule;
  r.body = RunRequest{{"/bin/true"}, "", {}, false, std::chrono::seconds(1)};
  p.actions.push_back(std::move(r));
  return p;
}

Event landed(std::uint64_t seq) {
  Event e;
  e.seq = seq;
  e.kind = "file.landed";
  e.source = "test";
  e.path = "/r/f" + std::to_string(seq);
  return e;
}

class IntentJournalFileTest : public ::testing::Test {
 protected:
  void SetUp() override { ASSERT_EQ(uv_loop_init(&loop_), 0); }
  void TearDown() override {
    journal_.reset();
    uv_run(&loop_, UV_RUN_DEFAULT);
    EXPECT_EQ(uv_loop_close(&loop_), 0) << "a handle was left open";
  }
  void open(IntentJournalFile::Options options = {}, Env& env = Env::real()) {
    journal_.reset();
    uv_run(&loop_, UV_RUN_DEFAULT);
    auto j = IntentJournalFile::open(&loop_, dir_.path(), options, env);
    ASSERT_TRUE(j.ok()) << j.error().message;
    journal_ = std::move(*j);
  }
  std::uint64_t open_intent(std::uint64_t seq) {
    const Plan p = one_run("r");
    return journal_->open(landed(seq), {&p});
  }
  std::string path() const { return dir_.path() + "/intents"; }

  uv_loop_t loop_{};
  TempDir dir_;
  std::unique_ptr<IntentJournalFile> journal_;
};

TEST_F(IntentJournalFileTest, AFlushPutsTheIntentInTheFileAndTheNextDaemonReadsIt) {
  open();
  const std::uint64_t id = open_intent(5);
  journal_->start(id, 0, 0);
  EXPECT_EQ(read_file(path()), state_file_header(kIntentLogKind));  // gathered only
  ASSERT_TRUE(journal_->flush().ok());
  // What a SIGKILL now leaves: the file as it is (no destructor runs).
  Result<IntentReplay> r = replay_intents(read_file(path()), path());
  ASSERT_TRUE(r.ok());
  ASSERT_EQ(r->open.size(), 1u);
  EXPECT_TRUE(r->open[0].progress[0].in_flight);

  open();  // the next daemon
  std::vector<OpenIntent> open_intents = journal_->take_open();
  ASSERT_EQ(open_intents.size(), 1u);
  EXPECT_EQ(open_intents[0].cause.seq, 5u);
  EXPECT_TRUE(open_intents[0].progress[0].in_flight);
  EXPECT_GT(open_intent(6), id) << "ids are not reused";
  struct stat st {};
  ASSERT_EQ(::stat(path().c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600u);
}

TEST_F(IntentJournalFileTest, WhatNoActionFlushesIsWrittenAtTheEndOfTheLoopTurn) {
  open();
  const std::uint64_t id = open_intent(1);
  ASSERT_TRUE(journal_->flush().ok());
  journal_->end(id, 0, 0, ActionEnd::kOk);
  journal_->close(id);
  uv_run(&loop_, UV_RUN_NOWAIT);
  Result<IntentReplay> r = replay_intents(read_file(path()), path());
  ASSERT_TRUE(r.ok());
  EXPECT_TRUE(r->open.empty());
  EXPECT_EQ(r->records, 3u);
}

TEST_F(IntentJournalFileTest, AFullDiskKeepsTheRecordsAndTheFileWhole) {
  FullDisk disk;
  open({}, disk);
  const std::uint64_t first = open_intent(1);
  ASSERT_TRUE(journal_->flush().ok());
  const std::uint64_t second = open_intent(2);
  disk.failing_writes = 1;
  disk.short_write = 20;  // half a record reaches the file, then ENOSPC
  Status s = journal_->flush();
  ASSERT_FALSE(s.ok());
  EXPECT_NE(s.error().message.find("kept"), std::string::npos) << s.error().message;
  Result<IntentReplay> r = replay_intents(read_file(path()), path());
  ASSERT_TRUE(r.ok());
  EXPECT_TRUE(r->problems.empty()) << r->problems.front();  // cut back to a whole line
  EXPECT_EQ(r->open.size(), 1u);
  // Space again: the kept records go out with the next flush.
  ASSERT_TRUE(journal_->flush().ok());
  r = replay_intents(read_file(path()), path());
  ASSERT_TRUE(r.ok());
  ASSERT_EQ(r->open.size(), 2u);
  EXPECT_EQ(r->open[0].id, first);
  EXPECT_EQ(r->open[1].id, second);
  EXPECT_EQ(journal_->stats().write_errors, 1u);
}

TEST_F(IntentJournalFileTest, TheFileIsCompactedToTheOpenIntents) {
  open(IntentJournalFile::Options{4096});
  const std::uint64_t kept = open_intent(1);
  for (std::uint64_t seq = 2; seq < 200; ++seq) {
    const std::uint64_t id = open_intent(seq);
    journal_->close(id);
    ASSERT_TRUE(journal_->flush().ok());
  }
  EXPECT_GE(journal_->stats().compactions, 1u);
  EXPECT_LT(journal_->stats().file_bytes, 4096u * 2);
  Result<IntentReplay> r = replay_intents(read_file(path()), path());
  ASSERT_TRUE(r.ok());
  ASSERT_EQ(r->open.size(), 1u);
  EXPECT_EQ(r->open[0].id, kept);
  EXPECT_EQ(journal_->stats().open_intents, 1u);
}

// flush_opens() writes the intents opened, and only those: the pipeline calls
// it before the event log gets their causes, and flush() after. A compaction
// waits while records are gathered (it would write them twice).
TEST_F(IntentJournalFileTest, FlushOpensWritesTheOpenedIntentsOnly) {
  open(IntentJournalFile::Options{256});
  const std::uint64_t done = open_intent(1);
  ASSERT_TRUE(journal_->flush().ok());
  journal_->start(done, 0, 0);
  journal_->end(done, 0, 0, ActionEnd::kOk);
  journal_->close(done);
  const std::uint64_t next = open_intent(2);
  ASSERT_TRUE(journal_->flush_opens().ok());
  Result<IntentReplay> r = replay_intents(read_file(path()), path());
  ASSERT_TRUE(r.ok());
  ASSERT_TRUE(r->problems.empty()) << r->problems.front();
  ASSERT_EQ(r->open.size(), 2u) << "the first intent's end and close are still gathered";
  EXPECT_EQ(r->open[1].id, next);
  EXPECT_FALSE(r->open[0].progress[0].in_flight) << "nor was its start written";
  EXPECT_EQ(journal_->stats().compactions, 0u);

  ASSERT_TRUE(journal_->flush().ok());
  r = replay_intents(read_file(path()), path());
  ASSERT_TRUE(r.ok());
  ASSERT_TRUE(r->problems.empty()) << r->problems.front();
  ASSERT_EQ(r->open.size(), 1u);
  EXPECT_EQ(r->open[0].id, next);
  EXPECT_EQ(journal_->left_open().size(), 0u) << "nothing was left open by a daemon before";
}

// The common turn: an event, its intent, its first action's start. With no end
// or close waiting, the start goes with the open, in one write.
TEST_F(IntentJournalFileTest, StartsGoWithTheOpensWhenNoOutcomeWaits) {
  open();
  const std::uint64_t id = open_intent(1);
  journal_->start(id, 0, 0);
  ASSERT_TRUE(journal_->flush_opens().ok());
  Result<IntentReplay> r = replay_intents(read_file(path()), path());
  ASSERT_TRUE(r.ok());
  ASSERT_EQ(r->open.size(), 1u);
  EXPECT_TRUE(r->open[0].progress[0].in_flight);
  EXPECT_EQ(r->records, 2u);
}

// Intents opened and closed within one turn: their opens alone pass the
// compaction threshold, but their closes are still gathered. Compacting then
// would drop the opens and leave the closes to be written after them.
TEST_F(IntentJournalFileTest, NoCompactionWhileRecordsAreGathered) {
  open(IntentJournalFile::Options{256});
  for (std::uint64_t seq = 1; seq <= 8; ++seq) journal_->close(open_intent(seq));
  ASSERT_TRUE(journal_->flush_opens().ok());
  EXPECT_EQ(journal_->stats().compactions, 0u);
  ASSERT_TRUE(journal_->flush().ok());
  Result<IntentReplay> r = replay_intents(read_file(path()), path());
  ASSERT_TRUE(r.ok());
  EXPECT_TRUE(r->problems.empty()) << r->problems.front();
  EXPECT_TRUE(r->open.empty());
  EXPECT_EQ(journal_->stats().compactions, 1u) << "once everything was written";
}

TEST_F(IntentJournalFileTest, AForeignFileIsMovedAsideAndANewLogBegins) {
  write_file(path(), "not an intent log\n");
  open();
  ASSERT_EQ(journal_->problems().size(), 1u);
  EXPECT_NE(journal_->problems()[0].find("moved aside to " + path() + ".unreadable"),
            std::string::npos)
      << journal_->problems()[0];
  EXPECT_EQ(read_file(path() + ".unreadable"), "not an intent log\n");
  EXPECT_EQ(read_file(path()), state_file_header(kIntentLogKind));
  EXPECT_TRUE(journal_->take_open().empty());
}

}  // namespace
}  // namespace aw
