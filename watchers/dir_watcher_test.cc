// Loop tests on real inotify in mkdtemp directories: a fresh loop per test, a
// guard timer, and waits on events (never sleeps). "Nothing else happened" is
// checked with a barrier: a marker file written last lands last, because one
// root's events come in order from one inotify fd.
#include "watchers/dir_watcher.h"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <sys/inotify.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <vector>

namespace aw {
namespace {

namespace fs = std::filesystem;

void write_file(const std::string& path, const std::string& content = "{}") {
  int fd = open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  ASSERT_GE(fd, 0) << path << ": " << std::strerror(errno);
  ASSERT_EQ(write(fd, content.data(), content.size()), static_cast<ssize_t>(content.size()));
  ASSERT_EQ(close(fd), 0);
}

std::string field(const Event& e, const char* key) {
  return e.fields.get_string(key).value_or("<absent>");
}

class DirWatcherTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_EQ(uv_loop_init(&loop_), 0);
    char tmpl[] = "/tmp/aw-watch-XXXXXX";
    ASSERT_NE(mkdtemp(tmpl), nullptr);
    dir_ = tmpl;
    root_ = dir_ + "/root";
    outside_ = dir_ + "/outside";
    fs::create_directories(root_);
    fs::create_directories(outside_);
  }
  void TearDown() override {
    watcher_.reset();
    index_.reset();
    uv_run(&loop_, UV_RUN_DEFAULT);  // close callbacks
    EXPECT_EQ(uv_loop_close(&loop_), 0) << "a handle was left open";
    fs::remove_all(dir_);
  }

  void make_watcher(DirWatcher::Options options = {}, FileIndex* index = nullptr) {
    watcher_ = std::make_unique<DirWatcher>(
        &loop_, clock_, index,
        [this](Event e) {
          if (on_event_) on_event_(e);
          events_.push_back(std::move(e));
          if (until_ && until_()) uv_stop(&loop_);
        },
        std::move(options));
  }
  WatchRoot root_spec(std::vector<std::string> ignore = {}) {
    return WatchRoot{"results", root_, true, std::move(ignore)};
  }
  void start_and_wait_for_scan(WatchRoot spec) {
    ASSERT_TRUE(watcher_->add_root(spec).ok());
    watcher_->start();
    ASSERT_TRUE(run_until([&] { return count("watch.rescanned") >= 1; }));
  }

  // Runs the loop until `pred` holds (checked after every event) or the guard
  // timer fires. Returns whether `pred` holds.
  bool run_until(std::function<bool()> pred, std::uint64_t guard_ms = 8000) {
    if (pred()) return true;
    until_ = pred;
    bool timed_out = false;
    uvx::Timer guard(&loop_, [&] {
      timed_out = true;
      uv_stop(&loop_);
    });
    guard.start(guard_ms);
    while (!pred() && !timed_out) uv_run(&loop_, UV_RUN_DEFAULT);
    until_ = nullptr;
    return pred();
  }
  // Writes a marker file and waits for it to land: everything the root's fd
  // reported before it has been handled by then.
  void barrier() {
    const std::string name = "zz-barrier-" + std::to_string(barriers_++);
    write_file(root_ + "/" + name);
    ASSERT_TRUE(run_until([&] { return find("file.landed", name) != nullptr; })) << name;
  }

  int count(const std::string& kind) const {
    int n = 0;
    for (const auto& e : events_) n += e.kind == kind;
    return n;
  }
  int count(const std::string& kind, const std::string& rel) const {
    int n = 0;
    for (const auto& e : events_) n += e.kind == kind && field(e, "rel") == rel;
    return n;
  }
  const Event* find(const std::string& kind, const std::string& rel = "") const {
    for (const auto& e : events_)
      if (e.kind == kind && (rel.empty() || field(e, "rel") == rel)) return &e;
    return nullptr;
  }
  std::string dump() const {
    std::string s;
    for (const auto& e : events_) s += to_json_line(e);
    return s;
  }

  uv_loop_t loop_{};
  SystemClock clock_;
  std::string dir_, root_, outside_;
  std::unique_ptr<FileIndex> index_;
  std::unique_ptr<DirWatcher> watcher_;
  std::vector<Event> events_;
  std::function<void(const Event&)> on_event_;
  std::function<bool()> until_;
  int barriers_ = 0;
};

TEST_F(DirWatcherTest, CloseWriteLandsWithStatFields) {
  make_watcher();
  start_and_wait_for_scan(root_spec());
  write_file(root_ + "/a.json", "{\"ok\":true}");
  ASSERT_TRUE(run_until([&] { return find("file.landed", "a.json"); })) << dump();
  const Event& e = *find("file.landed", "a.json");
  struct stat st;
  ASSERT_EQ(stat((root_ + "/a.json").c_str(), &st), 0);
  EXPECT_EQ(e.source, "inotify");
  EXPECT_EQ(e.path, root_ + "/a.json");
  EXPECT_EQ(e.seq, 0u);
  EXPECT_EQ(field(e, "watch"), "results");
  EXPECT_EQ(field(e, "root"), root_);
  EXPECT_EQ(field(e, "via"), "close_write");
  EXPECT_EQ(e.fields.get_int("size"), 11);
  EXPECT_EQ(e.fields.get_int("inode"), static_cast<std::int64_t>(st.st_ino));
  EXPECT_EQ(e.fields.get_int("dev"), static_cast<std::int64_t>(st.st_dev));
  EXPECT_EQ(e.fields.get_int("mtime_ns"),
            static_cast<std::int64_t>(st.st_mtim.tv_sec) * 1'000'000'000 + st.st_mtim.tv_nsec);
  EXPECT_EQ(e.fields.find("from"), nullptr);
  barrier();
  EXPECT_EQ(count("file.landed", "a.json"), 1) << dump();
}

TEST_F(DirWatcherTest, CreateAloneDoesNotLand) {
  make_watcher();
  start_and_wait_for_scan(root_spec());
  // Open for writing and keep it open: created, content not complete.
  int fd = open((root_ + "/partial.json").c_str(), O_WRONLY | O_CREAT, 0644);
  ASSERT_GE(fd, 0);
  barrier();
  EXPECT_EQ(count("file.landed", "partial.json"), 0) << dump();
  ASSERT_EQ(write(fd, "{}", 2), 2);
  close(fd);
  ASSERT_TRUE(run_until([&] { return find("file.landed", "partial.json"); }));
  EXPECT_EQ(field(*find("file.landed", "partial.json"), "via"), "close_write");
}

TEST_F(DirWatcherTest, StartScanLandsExistingFilesInNameOrder) {
  write_file(root_ + "/b.json");
  write_file(root_ + "/a.json");
  fs::create_directories(root_ + "/sub");
  write_file(root_ + "/sub/c.json");
  make_watcher();
  start_and_wait_for_scan(root_spec());
  std::vector<std::string> landed;
  for (const auto& e : events_) {
    if (e.kind != "file.landed") continue;
    landed.push_back(field(e, "rel"));
    EXPECT_EQ(field(e, "via"), "scan");
    EXPECT_EQ(e.source, "scan");
  }
  EXPECT_EQ(landed, (std::vector<std::string>{"a.json", "b.json", "sub/c.json"}));
  const Event* r = find("watch.rescanned");
  ASSERT_NE(r, nullptr);
  EXPECT_EQ(field(*r, "reason"), "start");
  EXPECT_EQ(r->fields.get_int("files"), 3);
  EXPECT_EQ(r->fields.get_int("landed"), 3);
  EXPECT_TRUE(r->fields.get_int("duration_ms").has_value());
  EXPECT_EQ(watcher_->stats().watches, 2u);
  EXPECT_TRUE(watcher_->scans_idle());
}

TEST_F(DirWatcherTest, AtomicRenameLandsWithFrom) {
  make_watcher();
  start_and_wait_for_scan(root_spec({"*.tmp"}));
  write_file(root_ + "/x.json.tmp");
  ASSERT_EQ(rename((root_ + "/x.json.tmp").c_str(), (root_ + "/x.json").c_str()), 0);
  ASSERT_TRUE(run_until([&] { return find("file.landed", "x.json"); })) << dump();
  const Event& e = *find("file.landed", "x.json");
  EXPECT_EQ(field(e, "via"), "rename");
  EXPECT_EQ(field(e, "from"), root_ + "/x.json.tmp");
  barrier();
  EXPECT_EQ(count("file.landed", "x.json.tmp"), 0) << dump();
  EXPECT_EQ(count("file.removed"), 0) << dump();
}

TEST_F(DirWatcherTest, RenameOutIsRemovedAfterAgeOut) {
  write_file(root_ + "/a.json");
  make_watcher();
  start_and_wait_for_scan(root_spec());
  ASSERT_EQ(rename((root_ + "/a.json").c_str(), (outside_ + "/a.json").c_str()), 0);
  ASSERT_TRUE(run_until([&] { return find("file.removed", "a.json"); })) << dump();
  EXPECT_EQ(field(*find("file.removed", "a.json"), "via"), "moved_out");
  EXPECT_TRUE(watcher_->scans_idle());
}

TEST_F(DirWatcherTest, RenameInWithoutPairLandsWithoutFrom) {
  make_watcher();
  start_and_wait_for_scan(root_spec());
  write_file(outside_ + "/in.json");
  ASSERT_EQ(rename((outside_ + "/in.json").c_str(), (root_ + "/in.json").c_str()), 0);
  ASSERT_TRUE(run_until([&] { return find("file.landed", "in.json"); }));
  EXPECT_EQ(field(*find("file.landed", "in.json"), "via"), "rename");
  EXPECT_EQ(find("file.landed", "in.json")->fields.find("from"), nullptr);
}

TEST_F(DirWatcherTest, DeleteIsRemoved) {
  write_file(root_ + "/a.json");
  make_watcher();
  start_and_wait_for_scan(root_spec());
  ASSERT_EQ(unlink((root_ + "/a.json").c_str()), 0);
  ASSERT_TRUE(run_until([&] { return find("file.removed", "a.json"); }));
  EXPECT_EQ(field(*find("file.removed", "a.json"), "via"), "delete");
  // The same name written again is a new file and lands again.
  write_file(root_ + "/a.json", "{\"v\":2}");
  ASSERT_TRUE(run_until([&] { return count("file.landed", "a.json") == 2; })) << dump();
}

TEST_F(DirWatcherTest, AttribReportsMode) {
  write_file(root_ + "/hook.sh", "#!/bin/sh\n");
  ASSERT_EQ(chmod((root_ + "/hook.sh").c_str(), 0755), 0);
  make_watcher();
  start_and_wait_for_scan(root_spec());
  ASSERT_EQ(chmod((root_ + "/hook.sh").c_str(), 0644), 0);
  ASSERT_TRUE(run_until([&] { return find("file.attrib", "hook.sh"); }));
  EXPECT_EQ(find("file.attrib", "hook.sh")->fields.get_int("mode"), 0644);
}

TEST_F(DirWatcherTest, NewSubdirWithFilesCreatedBeforeItsWatchAllLand) {
  make_watcher();
  start_and_wait_for_scan(root_spec());
  // The loop is not running: the files are there before the watch on "sub" can
  // be added, and only the scan after the watch can find them.
  fs::create_directories(root_ + "/sub/deep");
  for (int i = 0; i < 50; ++i) write_file(root_ + "/sub/f" + std::to_string(i) + ".json");
  write_file(root_ + "/sub/deep/g.json");
  ASSERT_TRUE(run_until([&] { return find("file.landed", "sub/deep/g.json"); })) << dump();
  // ...and files written right after are caught by the watch.
  write_file(root_ + "/sub/deep/h.json");
  ASSERT_TRUE(run_until([&] { return find("file.landed", "sub/deep/h.json"); })) << dump();
  barrier();
  for (int i = 0; i < 50; ++i)
    EXPECT_EQ(count("file.landed", "sub/f" + std::to_string(i) + ".json"), 1) << i;
  EXPECT_EQ(count("file.landed", "sub/deep/g.json"), 1);
  EXPECT_EQ(count("file.landed", "sub/deep/h.json"), 1);
  EXPECT_EQ(count("dir.created", "sub"), 1);
  EXPECT_EQ(watcher_->stats().watches, 3u);
}

TEST_F(DirWatcherTest, NestedDirRenameKeepsCorrectPaths) {
  fs::create_directories(root_ + "/a/b");
  write_file(root_ + "/a/b/old.json");
  make_watcher();
  start_and_wait_for_scan(root_spec());
  ASSERT_EQ(rename((root_ + "/a").c_str(), (root_ + "/c").c_str()), 0);
  ASSERT_TRUE(run_until([&] { return find("dir.created", "c"); })) << dump();
  const Event& d = *find("dir.created", "c");
  EXPECT_EQ(field(d, "via"), "rename");
  EXPECT_EQ(field(d, "from"), root_ + "/a");
  write_file(root_ + "/c/b/new.json");
  ASSERT_TRUE(run_until([&] { return find("file.landed", "c/b/new.json"); })) << dump();
  EXPECT_EQ(find("file.landed", "c/b/new.json")->path, root_ + "/c/b/new.json");
  // Files already inside land at their new paths (atomic directory publish).
  ASSERT_TRUE(run_until([&] { return find("file.landed", "c/b/old.json"); })) << dump();
  barrier();
  for (const auto& e : events_)
    EXPECT_FALSE(field(e, "rel").rfind("a/", 0) == 0 && e.kind != "file.landed") << dump();
  EXPECT_EQ(count("file.landed", "a/b/new.json"), 0);
  EXPECT_EQ(watcher_->stats().watches, 3u);
}

TEST_F(DirWatcherTest, DirMovedInIsScannedAndMovedOutIsDropped) {
  fs::create_directories(outside_ + "/pkg/inner");
  write_file(outside_ + "/pkg/inner/r.json");
  make_watcher();
  start_and_wait_for_scan(root_spec());
  ASSERT_EQ(rename((outside_ + "/pkg").c_str(), (root_ + "/pkg").c_str()), 0);
  ASSERT_TRUE(run_until([&] { return find("file.landed", "pkg/inner/r.json"); })) << dump();
  EXPECT_EQ(field(*find("dir.created", "pkg"), "via"), "moved_in");
  EXPECT_EQ(watcher_->stats().watches, 3u);
  ASSERT_EQ(rename((root_ + "/pkg").c_str(), (outside_ + "/gone").c_str()), 0);
  ASSERT_TRUE(run_until([&] { return find("dir.removed", "pkg"); })) << dump();
  EXPECT_EQ(field(*find("dir.removed", "pkg"), "via"), "moved_out");
  EXPECT_EQ(watcher_->stats().watches, 1u);
  write_file(outside_ + "/gone/inner/late.json");
  barrier();
  for (const auto& e : events_) EXPECT_EQ(e.path.rfind(outside_, 0), std::string::npos) << dump();
}

TEST_F(DirWatcherTest, RootDeletedAndRecreatedIsWatchedAgain) {
  write_file(root_ + "/a.json");
  make_watcher();
  start_and_wait_for_scan(root_spec());
  fs::remove_all(root_);
  ASSERT_TRUE(run_until([&] { return find("watch.root_missing"); })) << dump();
  EXPECT_EQ(field(*find("watch.root_missing"), "reason"), "deleted");
  EXPECT_EQ(watcher_->stats().roots_missing, 1u);
  fs::create_directories(root_);
  ASSERT_TRUE(run_until([&] { return find("watch.root_restored"); })) << dump();
  ASSERT_TRUE(run_until([&] { return count("watch.rescanned") == 2; })) << dump();
  write_file(root_ + "/b.json");
  ASSERT_TRUE(run_until([&] { return find("file.landed", "b.json"); })) << dump();
  EXPECT_EQ(watcher_->stats().roots_missing, 0u);
}

TEST_F(DirWatcherTest, RootMissingAtStartIsWatchedWhenItAppears) {
  const std::string deep = dir_ + "/later/x/results";
  make_watcher();
  ASSERT_TRUE(watcher_->add_root(WatchRoot{"late", deep, true, {}}).ok());
  watcher_->start();
  ASSERT_TRUE(run_until([&] { return find("watch.root_missing"); }));
  EXPECT_EQ(field(*find("watch.root_missing"), "reason"), "not found");
  fs::create_directories(dir_ + "/later/x");
  fs::create_directories(deep);
  write_file(deep + "/early.json");  // may be before or after the watch: the scan finds it
  ASSERT_TRUE(run_until([&] { return find("file.landed", "early.json"); })) << dump();
  EXPECT_NE(find("watch.root_restored"), nullptr);
  EXPECT_EQ(count("file.landed", "early.json"), 1);
}

TEST_F(DirWatcherTest, SymlinksAreRefusedNeverFollowed) {
  fs::create_directories(outside_ + "/secrets");
  write_file(outside_ + "/secret.json");
  write_file(outside_ + "/secrets/s.json");
  ASSERT_EQ(symlink((outside_ + "/secret.json").c_str(), (root_ + "/link.json").c_str()), 0);
  make_watcher();
  start_and_wait_for_scan(root_spec());
  const Event* r1 = find("watch.symlink_refused", "link.json");
  ASSERT_NE(r1, nullptr) << dump();
  EXPECT_EQ(field(*r1, "target"), outside_ + "/secret.json");
  // Planted while watched: a directory symlink.
  ASSERT_EQ(symlink((outside_ + "/secrets").c_str(), (root_ + "/linkdir").c_str()), 0);
  ASSERT_TRUE(run_until([&] { return find("watch.symlink_refused", "linkdir"); })) << dump();
  EXPECT_EQ(field(*find("watch.symlink_refused", "linkdir"), "target"), outside_ + "/secrets");
  // Writing through the links touches only files outside the root.
  write_file(root_ + "/link.json", "{\"x\":1}");
  write_file(root_ + "/linkdir/new.json");
  watcher_->rescan("test");
  ASSERT_TRUE(run_until([&] { return count("watch.rescanned") == 2; }));
  barrier();
  for (const auto& e : events_) {
    EXPECT_EQ(e.path.rfind(outside_, 0), std::string::npos) << dump();
    if (e.kind == "file.landed") {
      EXPECT_EQ(field(e, "rel").rfind("zz-barrier", 0), 0u) << dump();
    }
  }
  EXPECT_EQ(count("watch.symlink_refused"), 2) << "reported once each, not on every scan";
  EXPECT_EQ(watcher_->stats().watches, 1u);
}

TEST_F(DirWatcherTest, OverflowRescansAndLandsEveryFileExactlyOnce) {
  int max_queued = 16384;
  std::ifstream("/proc/sys/fs/inotify/max_queued_events") >> max_queued;
  const int n = 20000;
  if (max_queued * 2 >= n * 2 - 100) GTEST_SKIP() << "max_queued_events too large to overflow";
  make_watcher();
  start_and_wait_for_scan(root_spec());
  // The loop is not running: the kernel queue fills up and overflows.
  for (int i = 0; i < n; ++i) {
    char name[64];
    std::snprintf(name, sizeof name, "/f%05d.json", i);
    write_file(root_ + name);
  }
  ASSERT_TRUE(run_until(
      [&] {
        return find("watch.overflow") && count("watch.rescanned") >= 2 && watcher_->scans_idle();
      },
      30000))
      << watcher_->stats().landed;
  barrier();
  std::map<std::string, int> per_file;
  for (const auto& e : events_)
    if (e.kind == "file.landed") ++per_file[field(e, "rel")];
  int files = 0;
  for (const auto& [rel, c] : per_file) {
    if (rel.rfind("zz-barrier", 0) == 0) continue;
    ++files;
    EXPECT_EQ(c, 1) << rel;
  }
  EXPECT_EQ(files, n);
  const auto s = watcher_->stats();
  EXPECT_GE(s.overflows, 1u);
  EXPECT_GT(s.deduped, 0u) << "the queue and the rescan both reported some files";
  const Event* rescan = nullptr;
  for (const auto& e : events_)
    if (e.kind == "watch.rescanned" && field(e, "reason") == "overflow") rescan = &e;
  ASSERT_NE(rescan, nullptr);
  EXPECT_EQ(rescan->fields.get_int("files"), n);
  EXPECT_EQ(field(*find("watch.overflow"), "reason"), "queue_overflow");
}

TEST_F(DirWatcherTest, RestartDoesNotLandHandledFilesButLandsNewOnes) {
  write_file(root_ + "/a.json");
  write_file(root_ + "/b.json");
  auto open_index = [&] {
    auto r = FileIndex::open(dir_, &loop_);
    EXPECT_TRUE(r.ok());
    index_ = std::move(r.value());
  };
  open_index();
  // The test plays the pipeline: every landed file is handled and completed.
  on_event_ = [&](const Event& e) {
    if (e.kind == "file.landed") index_->complete(*FileIndex::key_from_event(e), "completed");
  };
  make_watcher({}, index_.get());
  start_and_wait_for_scan(root_spec());
  EXPECT_EQ(count("file.landed"), 2);

  // "Daemon down": stop, then files change.
  watcher_.reset();
  index_.reset();
  write_file(root_ + "/c.json");
  write_file(root_ + "/b.json", "{\"rewritten\":true}");
  events_.clear();
  open_index();
  make_watcher({}, index_.get());
  start_and_wait_for_scan(root_spec());
  EXPECT_EQ(count("file.landed", "a.json"), 0) << dump();
  EXPECT_EQ(count("file.landed", "b.json"), 1) << "a new version is a new file";
  EXPECT_EQ(count("file.landed", "c.json"), 1);
  for (const auto& e : events_) {
    if (e.kind == "file.landed") {
      EXPECT_EQ(field(e, "via"), "scan");
    }
  }
  EXPECT_EQ(watcher_->stats().deduped, 1u);
}

TEST_F(DirWatcherTest, IgnoreGlobs) {
  fs::create_directories(root_ + "/completed");
  write_file(root_ + "/completed/x.json");
  write_file(root_ + "/.hidden");
  write_file(root_ + "/a.tmp");
  write_file(root_ + "/real.json");
  make_watcher();
  start_and_wait_for_scan(root_spec({"*.tmp", ".*", "completed/**"}));
  write_file(root_ + "/completed/y.json");
  fs::create_directories(root_ + "/completed/sub");
  write_file(root_ + "/.h2");
  write_file(root_ + "/b.tmp");
  fs::create_directories(root_ + "/dir");
  write_file(root_ + "/dir/z.tmp");
  write_file(root_ + "/real2.json");
  ASSERT_TRUE(run_until([&] { return find("file.landed", "real2.json"); }));
  barrier();
  std::vector<std::string> landed;
  for (const auto& e : events_)
    if (e.kind == "file.landed" && field(e, "rel").rfind("zz-", 0) != 0)
      landed.push_back(field(e, "rel"));
  EXPECT_EQ(landed, (std::vector<std::string>{"real.json", "real2.json"})) << dump();
  EXPECT_EQ(count("dir.created", "completed/sub"), 0);
  EXPECT_EQ(watcher_->stats().watches, 2u);  // root and dir/, not completed/
}

TEST_F(DirWatcherTest, NonRecursiveRootWatchesOneLevel) {
  fs::create_directories(root_ + "/sub");
  write_file(root_ + "/sub/deep.json");
  write_file(root_ + "/top.json");
  make_watcher();
  start_and_wait_for_scan(WatchRoot{"flat", root_, false, {}});
  fs::create_directories(root_ + "/sub2");
  write_file(root_ + "/sub2/x.json");
  ASSERT_TRUE(run_until([&] { return find("dir.created", "sub2"); }));
  barrier();
  EXPECT_EQ(count("file.landed", "top.json"), 1);
  EXPECT_EQ(count("file.landed", "sub/deep.json"), 0);
  EXPECT_EQ(count("file.landed", "sub2/x.json"), 0);
  EXPECT_EQ(watcher_->stats().watches, 1u);
}

TEST_F(DirWatcherTest, WatchLimitDegradesVisiblyAndKeepsLanding) {
  fs::create_directories(root_ + "/sub");
  write_file(root_ + "/sub/s.json");
  DirWatcher::Options o;
  o.add_watch = [](int fd, const char* path, std::uint32_t mask) {
    if (std::string(path).find("sub") != std::string::npos) {
      errno = ENOSPC;
      return -1;
    }
    return inotify_add_watch(fd, path, mask);
  };
  make_watcher(std::move(o));
  start_and_wait_for_scan(root_spec());
  const Event* d = find("watch.degraded");
  ASSERT_NE(d, nullptr) << dump();
  EXPECT_NE(field(*d, "reason").find("max_user_watches"), std::string::npos);
  EXPECT_EQ(field(*d, "path"), root_ + "/sub");
  EXPECT_EQ(field(*d, "error"), std::strerror(ENOSPC));
  EXPECT_EQ(count("file.landed", "sub/s.json"), 1) << "what is there still lands";
  const auto s = watcher_->stats();
  EXPECT_TRUE(s.degraded);
  EXPECT_EQ(s.unwatched_dirs, 1u);
  EXPECT_EQ(s.watches, 1u);
  write_file(root_ + "/top.json");  // the rest keeps working
  ASSERT_TRUE(run_until([&] { return find("file.landed", "top.json"); }));
}

TEST_F(DirWatcherTest, AddRootRefusesBadConfigurationWithReasons) {
  make_watcher();
  ASSERT_TRUE(watcher_->add_root(root_spec()).ok());
  auto dup = watcher_->add_root(root_spec());
  ASSERT_FALSE(dup.ok());
  EXPECT_NE(dup.error().message.find("duplicate watch name"), std::string::npos);
  auto rel = watcher_->add_root(WatchRoot{"rel", "relative/path", true, {}});
  ASSERT_FALSE(rel.ok());
  EXPECT_NE(rel.error().message.find("not an absolute path"), std::string::npos);
  auto glob = watcher_->add_root(WatchRoot{"g", root_, true, {"[oops"}});
  ASSERT_FALSE(glob.ok());
  EXPECT_NE(glob.error().message.find("[oops"), std::string::npos);
  ASSERT_EQ(symlink(outside_.c_str(), (dir_ + "/rootlink").c_str()), 0);
  auto link = watcher_->add_root(WatchRoot{"l", dir_ + "/rootlink", true, {}});
  ASSERT_FALSE(link.ok());
  EXPECT_NE(link.error().message.find("is a symlink to " + outside_), std::string::npos)
      << link.error().message;
}

TEST_F(DirWatcherTest, SubtreeDeletedEmitsRemovalsAndDropsWatches) {
  fs::create_directories(root_ + "/job/logs");
  write_file(root_ + "/job/r.json");
  write_file(root_ + "/job/logs/l.txt");
  make_watcher();
  start_and_wait_for_scan(root_spec());
  EXPECT_EQ(watcher_->stats().watches, 3u);
  fs::remove_all(root_ + "/job");
  ASSERT_TRUE(run_until([&] { return find("dir.removed", "job"); })) << dump();
  EXPECT_EQ(field(*find("dir.removed", "job"), "via"), "delete");
  EXPECT_NE(find("file.removed", "job/r.json"), nullptr);
  EXPECT_NE(find("file.removed", "job/logs/l.txt"), nullptr);
  EXPECT_NE(find("dir.removed", "job/logs"), nullptr);
  barrier();
  EXPECT_EQ(watcher_->stats().watches, 1u);
}

TEST_F(DirWatcherTest, RenameBetweenRootsRemovesFromOneAndLandsInTheOther) {
  const std::string other = dir_ + "/other";
  fs::create_directories(other);
  write_file(root_ + "/r.json");
  make_watcher();
  ASSERT_TRUE(watcher_->add_root(root_spec()).ok());
  ASSERT_TRUE(watcher_->add_root(WatchRoot{"other", other, true, {}}).ok());
  watcher_->start();
  ASSERT_TRUE(run_until([&] { return count("watch.rescanned") == 2; }));
  ASSERT_EQ(rename((root_ + "/r.json").c_str(), (other + "/r.json").c_str()), 0);
  ASSERT_TRUE(run_until([&] {
    return find("file.removed", "r.json") && count("file.landed", "r.json") == 2;
  })) << dump();
  const Event* removed = find("file.removed", "r.json");
  EXPECT_EQ(field(*removed, "watch"), "results");
  EXPECT_EQ(field(*removed, "via"), "moved_out");
  const Event* landed = nullptr;
  for (const auto& e : events_)
    if (e.kind == "file.landed" && field(e, "watch") == "other") landed = &e;
  ASSERT_NE(landed, nullptr);
  EXPECT_EQ(field(*landed, "via"), "rename");
  EXPECT_EQ(landed->path, other + "/r.json");
}

TEST_F(DirWatcherTest, IdleMeansNoTimerArmed) {
  write_file(root_ + "/a.json");
  make_watcher();
  start_and_wait_for_scan(root_spec());
  ASSERT_EQ(rename((root_ + "/a.json").c_str(), (outside_ + "/a.json").c_str()), 0);
  ASSERT_TRUE(run_until([&] { return find("file.removed", "a.json"); }));
  int active_timers = 0;
  uv_walk(
      &loop_,
      [](uv_handle_t* h, void* arg) {
        if (h->type == UV_TIMER && uv_is_active(h)) ++*static_cast<int*>(arg);
      },
      &active_timers);
  EXPECT_EQ(active_timers, 0) << "nothing pending, so no wake-up may be scheduled";
}

TEST_F(DirWatcherTest, StopEmitsNothingMore) {
  make_watcher();
  start_and_wait_for_scan(root_spec());
  watcher_->stop();
  const auto before = events_.size();
  write_file(root_ + "/after-stop.json");
  uv_run(&loop_, UV_RUN_NOWAIT);
  EXPECT_EQ(events_.size(), before);
}

}  // namespace
}  // namespace aw
