#include "watchers/logtail/offset_store.h"

#include "src/core/state_file.h"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>

namespace aw {
namespace {

namespace fs = std::filesystem;

std::string slurp(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

void spit(const std::string& path, const std::string& text) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out << text;
}

class FileOffsetStoreTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_EQ(uv_loop_init(&loop_), 0);
    char tmpl[] = "/tmp/aw-offsets-XXXXXX";
    ASSERT_NE(mkdtemp(tmpl), nullptr);
    dir_ = tmpl;
    path_ = dir_ + "/log-offsets";
  }
  void TearDown() override {
    uv_run(&loop_, UV_RUN_DEFAULT);  // close callbacks, saves in flight
    EXPECT_EQ(uv_loop_close(&loop_), 0) << "a handle was left open";
    fs::remove_all(dir_);
  }
  std::unique_ptr<FileOffsetStore> open_store(Duration interval = std::chrono::milliseconds(20)) {
    auto s = FileOffsetStore::open(&loop_, clock_, path_, {interval});
    EXPECT_TRUE(s.ok()) << (s.ok() ? "" : s.error().message);
    return s.ok() ? std::move(s.value()) : nullptr;
  }
  // Runs the loop until the store has nothing due or in flight (guarded).
  bool wait_saved(FileOffsetStore& store) {
    bool timed_out = false;
    uvx::Timer guard(&loop_, [&] { timed_out = true; });
    guard.start(5000);
    while (store.saving() && !timed_out) uv_run(&loop_, UV_RUN_ONCE);
    return !store.saving();
  }

  uv_loop_t loop_;
  SystemClock clock_;
  std::string dir_, path_;
};

TEST(OffsetStoreFormat, RoundTripsOddNames) {
  std::map<std::string, LogOffset> table;
  table["plain"] = {1, 2, 3, 4, false};
  table["tab\there%and\nnewline\r"] = {5, 6, 7, 0, true};
  const std::string text = FileOffsetStore::serialize(table);
  EXPECT_EQ(std::count(text.begin(), text.end(), '\n'), 3) << text;
  std::size_t corrupt = 99;
  auto back = FileOffsetStore::parse(text, "/x/log-offsets", &corrupt);
  ASSERT_TRUE(back.ok()) << back.error().message;
  EXPECT_EQ(*back, table);
  EXPECT_EQ(corrupt, 0u);
}

TEST(OffsetStoreFormat, WrongHeaderNamesFileAndLine) {
  auto r = FileOffsetStore::parse("something else\n", "/x/log-offsets", nullptr);
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.error().message.find("/x/log-offsets:1: expected the header"), std::string::npos)
      << r.error().message;
}

TEST(OffsetStoreFormat, WrittenInTheStateFileFormat) {
  const std::string text = FileOffsetStore::serialize({{"w1", {1, 2, 3, 4, true}}});
  EXPECT_EQ(text, state_file_header("log-offsets") + state_record({"w1", "1", "2", "3", "4", "1"}));
}

TEST(OffsetStoreFormat, DamagedRecordsAreSkippedAndCounted) {
  std::string damaged = state_record({"b", "1", "2", "3", "4", "0"});
  damaged[damaged.size() - 2] = '1';
  std::size_t corrupt = 0;
  auto r = FileOffsetStore::parse(
      state_file_header("log-offsets") + state_record({"a", "1", "2", "3", "4", "0"}) + damaged +
          state_record({"short", "1"}) + state_record({"neg", "1", "2", "-3", "4", "0"}) + "torn",
      "/x/log-offsets", &corrupt);
  ASSERT_TRUE(r.ok()) << r.error().message;
  EXPECT_EQ(r->size(), 1u);
  EXPECT_EQ(corrupt, 4u);
}

TEST_F(FileOffsetStoreTest, TheOlderFormatIsReadAndRewrittenInTheCurrentOne) {
  spit(path_, "agentwatch-log-offsets 1\nw%091\t1\t2\t3\t4\t1\n");
  {
    auto store = open_store();
    EXPECT_EQ(store->get("w\t1"), (LogOffset{1, 2, 3, 4, true}));
  }
  EXPECT_EQ(slurp(path_), FileOffsetStore::serialize({{"w\t1", {1, 2, 3, 4, true}}}));
  auto again = open_store();
  EXPECT_EQ(again->get("w\t1"), (LogOffset{1, 2, 3, 4, true}));
}

TEST(OffsetStoreFormat, CorruptAndTornLinesAreSkippedAndCounted) {
  std::size_t corrupt = 0;
  auto r = FileOffsetStore::parse(
      "agentwatch-log-offsets 1\n"
      "good\t1\t2\t3\t4\t0\n"
      "short\t1\t2\n"
      "neg\t1\t2\t-3\t4\t0\n"
      "badesc%zz\t1\t2\t3\t4\t0\n"
      "torn\t1\t2\t3",
      "/x/log-offsets", &corrupt);
  ASSERT_TRUE(r.ok()) << r.error().message;
  EXPECT_EQ(r->size(), 1u);
  EXPECT_EQ(r->at("good"), (LogOffset{1, 2, 3, 4, false}));
  EXPECT_EQ(corrupt, 4u);
}

TEST_F(FileOffsetStoreTest, MissingFileIsAnEmptyTable) {
  auto store = open_store();
  ASSERT_TRUE(store);
  EXPECT_FALSE(store->get("w1").has_value());
  EXPECT_FALSE(store->saving()) << "nothing to save, nothing scheduled";
}

TEST_F(FileOffsetStoreTest, SavedInTheBackgroundAndReloaded) {
  {
    auto store = open_store();
    store->put("w1", {10, 20, 300, 7, false});
    EXPECT_FALSE(fs::exists(path_)) << "put() never writes on the caller's stack";
    ASSERT_TRUE(wait_saved(*store));
    EXPECT_EQ(store->stats().saves, 1u);
    EXPECT_EQ(store->stats().save_errors, 0u);
  }
  auto again = open_store();
  ASSERT_TRUE(again);
  EXPECT_EQ(again->get("w1"), (LogOffset{10, 20, 300, 7, false}));
}

TEST_F(FileOffsetStoreTest, ManyPutsWithinAnIntervalCostFewSaves) {
  auto store = open_store(std::chrono::milliseconds(200));
  const auto t0 = clock_.mono();
  for (int i = 1; i <= 10000; ++i) store->put("w1", {1, 2, i, 0, false});
  // Let the first save go, then keep putting while it is due again.
  ASSERT_TRUE(wait_saved(*store));
  for (int i = 10001; i <= 20000; ++i) store->put("w1", {1, 2, i, 0, false});
  ASSERT_TRUE(wait_saved(*store));
  EXPECT_EQ(store->stats().saves, 2u) << "one save per burst, not one per put";
  EXPECT_GE(clock_.mono() - t0, std::chrono::milliseconds(200))
      << "the second save waited for the interval";
  std::size_t corrupt = 0;
  auto table = FileOffsetStore::parse(slurp(path_), path_, &corrupt);
  ASSERT_TRUE(table.ok());
  EXPECT_EQ(table->at("w1").offset, 20000);
}

TEST_F(FileOffsetStoreTest, DestructorWritesWhatIsUnsaved) {
  {
    auto store = open_store(std::chrono::hours(1));
    store->put("w1", {1, 2, 3, 0, false});
    ASSERT_TRUE(wait_saved(*store));  // the first save goes at once
    store->put("w1", {1, 2, 4, 0, true});
    EXPECT_TRUE(store->saving()) << "the next save waits an hour";
  }
  auto again = open_store();
  EXPECT_EQ(again->get("w1"), (LogOffset{1, 2, 4, 0, true}));
}

TEST_F(FileOffsetStoreTest, DestroyedWhileASaveIsInFlightLeavesTheNewestTable) {
  {
    auto store = open_store(std::chrono::milliseconds(0));
    store->put("w1", {1, 2, 3, 0, false});
    // One iteration fires the zero-delay timer, which queues the save on the
    // pool; the store then changes and dies before (or just after) the save's
    // completion runs on the loop. Either way the newest table must win.
    uv_run(&loop_, UV_RUN_NOWAIT);
    store->put("w1", {1, 2, 99, 0, false});
  }
  uv_run(&loop_, UV_RUN_DEFAULT);  // the in-flight save completes to nobody
  auto again = open_store();
  EXPECT_EQ(again->get("w1")->offset, 99);
}

TEST_F(FileOffsetStoreTest, WrongHeaderIsRefusedAtOpen) {
  spit(path_, "not an offsets file\n");
  auto s = FileOffsetStore::open(&loop_, clock_, path_);
  ASSERT_FALSE(s.ok());
  EXPECT_NE(s.error().message.find(path_ + ":1:"), std::string::npos) << s.error().message;
}

TEST_F(FileOffsetStoreTest, FailedSaveIsCountedAndRetried) {
  auto store = open_store();
  fs::remove_all(dir_);  // the directory is gone: the tmp file cannot be created
  store->put("w1", {1, 2, 3, 0, false});
  bool timed_out = false;
  uvx::Timer guard(&loop_, [&] { timed_out = true; });
  guard.start(5000);
  while (store->stats().save_errors == 0 && !timed_out) uv_run(&loop_, UV_RUN_ONCE);
  EXPECT_GE(store->stats().save_errors, 1u);
  EXPECT_NE(store->stats().last_error.find("cannot create '" + path_ + "."), std::string::npos)
      << store->stats().last_error;
  fs::create_directories(dir_);
  ASSERT_TRUE(wait_saved(*store));
  EXPECT_TRUE(fs::exists(path_)) << "the retry after the failure succeeded";
}

}  // namespace
}  // namespace aw
