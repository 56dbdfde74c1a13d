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
#include <string_view>
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

void set_mtime(const std::string& path, WallTime t) {
  const auto ns = t.time_since_epoch().count();
  struct timespec times[2] = {{0, UTIME_OMIT}, {ns / 1'000'000'000, ns % 1'000'000'000}};
  ASSERT_EQ(utimensat(AT_FDCWD, path.c_str(), times, AT_SYMLINK_NOFOLLOW), 0)
      << path << ": " << std::strerror(errno);
}

// A file that was there long before the watcher started (mtime an hour back):
// a scan lands it at once instead of holding it to settle.
void write_old_file(const std::string& path, const std::string& content = "{}") {
  write_file(path, content);
  set_mtime(path, SystemClock().wall() - std::chrono::hours(1));
}

std::string field(const Event& e, const char* key) {
  return e.fields.get_string(key).value_or("<absent>");
}

// An Env that refuses the inotify watches `refuse` picks with ENOSPC, as a full
// fs.inotify.max_user_watches does; every other call goes to the kernel.
class RefusingWatchEnv final : public Env {
 public:
  int add_watch(int inotify_fd, const char* path, std::uint32_t mask) override {
    if (refuse && refuse(path)) {
      refused.emplace_back(path);
      errno = ENOSPC;
      return -1;
    }
    return Env::add_watch(inotify_fd, path, mask);
  }
  std::function<bool(std::string_view path)> refuse;
  std::vector<std::string> refused;  // the paths refused, in order
};

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
        &loop_, *clock_, index,
        [this](Event e) {
          if (on_event_) on_event_(e);
          events_.push_back(std::move(e));
          if (until_ && until_()) uv_stop(&loop_);
        },
        options);
  }
  WatchRoot root_spec(std::vector<std::string> ignore = {}) {
    return WatchRoot{"results", root_, true, std::move(ignore)};
  }
  void start_and_wait_for_scan(const WatchRoot& spec) {
    ASSERT_TRUE(watcher_->add_root(spec).ok());
    watcher_->start();
    ASSERT_TRUE(run_until([&] { return count("watch.rescanned") >= 1; }));
  }

  // Runs the loop until `pred` holds (checked after every event and every loop
  // iteration: a hold dropped or deduped changes state without an event) or
  // the guard timer fires. Returns whether `pred` holds.
  bool run_until(const std::function<bool()>& pred, std::uint64_t guard_ms = 8000) {
    if (pred()) return true;
    until_ = pred;
    bool timed_out = false;
    uvx::Timer guard(&loop_, [&] {
      timed_out = true;
      uv_stop(&loop_);
    });
    // The loop's clock stopped at its last run: without this, time the test spent
    // creating files before the call is taken off the guard.
    uv_update_time(&loop_);
    guard.start(guard_ms);
    while (!pred() && !timed_out) uv_run(&loop_, UV_RUN_ONCE);
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

  // Settle tests: time moves only when the test says so. It starts at the real
  // now, so files the test writes look recent (or a little in the future).
  ManualClock& use_manual_clock() {
    manual_clock_ = std::make_unique<ManualClock>(system_clock_.wall());
    clock_ = manual_clock_.get();
    return *manual_clock_;
  }
  static DirWatcher::Options settle(Duration d) {
    DirWatcher::Options o;
    o.scan_settle = d;
    return o;
  }

  uv_loop_t loop_{};
  SystemClock system_clock_;
  std::unique_ptr<ManualClock> manual_clock_;
  const Clock* clock_ = &system_clock_;
  std::string dir_, root_, outside_;
  RefusingWatchEnv refuse_watches_;  // outlives watcher_
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
  write_old_file(root_ + "/b.json");
  write_old_file(root_ + "/a.json");
  fs::create_directories(root_ + "/sub");
  write_old_file(root_ + "/sub/c.json");
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
  write_old_file(root_ + "/a.json");
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
  write_old_file(root_ + "/a.json");
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
  write_old_file(root_ + "/hook.sh", "#!/bin/sh\n");
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
  write_old_file(root_ + "/a/b/old.json");
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
  write_old_file(outside_ + "/pkg/inner/r.json");
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
  write_old_file(root_ + "/a.json");
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
  write_old_file(outside_ + "/secret.json");
  write_old_file(outside_ + "/secrets/s.json");
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

TEST_F(DirWatcherTest, SymlinkAmongAStormOfFilesInOneBatchIsStillRefused) {
  // A file's IN_CREATE skips the symlink check when its IN_CLOSE_WRITE follows
  // in the same batch; a symlink created between such files has no close and
  // must still be refused, and one written through lands nothing in the root.
  write_old_file(outside_ + "/secret.json");
  make_watcher();
  start_and_wait_for_scan(root_spec());
  for (int i = 0; i < 40; ++i) {
    write_file(root_ + "/f" + std::to_string(i) + ".json");
    if (i == 20) {
      ASSERT_EQ(symlink((outside_ + "/secret.json").c_str(), (root_ + "/link.json").c_str()), 0);
      write_file(root_ + "/link.json", "{\"through\":1}");  // the close is on the target
    }
  }
  barrier();
  const Event* r = find("watch.symlink_refused", "link.json");
  ASSERT_NE(r, nullptr) << dump();
  EXPECT_EQ(field(*r, "target"), outside_ + "/secret.json");
  EXPECT_EQ(count("file.landed"), 41) << dump();  // 40 files and the barrier
  EXPECT_EQ(count("file.landed", "link.json"), 0);
}

TEST_F(DirWatcherTest, AStormBiggerThanTheKernelQueueIsReadAheadNotOverflowed) {
  // 20,000 files (40,000 records) created in rounds of 1,000 while the
  // watcher handles only 50 records per loop iteration: the kernel queue
  // (16,384 by default) would overflow, but each iteration reads it out into
  // the source's backlog first, so every file lands from the queue.
  DirWatcher::Options o;
  o.max_records_per_tick = 50;
  make_watcher(o);
  start_and_wait_for_scan(root_spec());
  int landed = 0;  // counted here: the predicate runs after every event
  on_event_ = [&](const Event& e) { landed += e.kind == "file.landed"; };
  for (int round = 0; round < 20; ++round) {
    for (int i = 0; i < 1000; ++i) {
      const int fd = open((root_ + "/s" + std::to_string(round * 1000 + i)).c_str(),
                          O_WRONLY | O_CREAT | O_CLOEXEC, 0644);
      ASSERT_GE(fd, 0);
      ASSERT_EQ(close(fd), 0);
    }
    uv_run(&loop_, UV_RUN_NOWAIT);
  }
  ASSERT_TRUE(run_until([&] { return landed == 20'000; }, 120'000)) << landed;
  EXPECT_EQ(watcher_->stats().overflows, 0u);
  EXPECT_EQ(count("watch.overflow"), 0);
  EXPECT_EQ(watcher_->stats().rescans, 1u) << "the start scan only";
}

TEST_F(DirWatcherTest, OverflowRescansAndLandsEveryFileExactlyOnce) {
  int max_queued = 16384;
  std::ifstream("/proc/sys/fs/inotify/max_queued_events") >> max_queued;
  const int n = 20000;
  if (max_queued * 2 >= n * 2 - 100) GTEST_SKIP() << "max_queued_events too large to overflow";
  make_watcher();
  start_and_wait_for_scan(root_spec());
  // Counted as they come: the predicate runs after every one of 20,000 events.
  int overflows = 0, rescans = 0;
  on_event_ = [&](const Event& e) {
    overflows += e.kind == "watch.overflow";
    rescans += e.kind == "watch.rescanned";
  };
  // The loop is not running: the kernel queue fills up and overflows.
  for (int i = 0; i < n; ++i) {
    char name[64];
    std::snprintf(name, sizeof name, "/f%05d.json", i);
    write_file(root_ + name);
  }
  ASSERT_TRUE(run_until(
      [&] {
        // The last files written are recent when the rescan finds them: they
        // land when they have settled.
        return overflows > 0 && rescans >= 1 && watcher_->scans_idle() &&
               watcher_->stats().settling == 0;
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
  write_old_file(root_ + "/a.json");
  write_old_file(root_ + "/b.json");
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
  write_old_file(root_ + "/c.json");
  write_old_file(root_ + "/b.json", "{\"rewritten\":true}");
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
  write_old_file(root_ + "/completed/x.json");
  write_old_file(root_ + "/.hidden");
  write_old_file(root_ + "/a.tmp");
  write_old_file(root_ + "/real.json");
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
  write_old_file(root_ + "/sub/deep.json");
  write_old_file(root_ + "/top.json");
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
  write_old_file(root_ + "/sub/s.json");
  DirWatcher::Options o;
  o.env = &refuse_watches_;
  refuse_watches_.refuse = [](std::string_view path) { return path.ends_with("/sub"); };
  make_watcher(o);
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
  EXPECT_EQ(refuse_watches_.refused.size(), 1u);
  write_file(root_ + "/top.json");  // the rest keeps working
  ASSERT_TRUE(run_until([&] { return find("file.landed", "top.json"); }));
}

// A missing root is waited for through a watch on its nearest existing
// ancestor; that watch goes through the Env too, and a refusal is reported.
TEST_F(DirWatcherTest, RefusedWatchOnAMissingRootsAncestorIsReported) {
  const std::string late = dir_ + "/later/results";
  DirWatcher::Options o;
  o.env = &refuse_watches_;
  refuse_watches_.refuse = [this](std::string_view path) { return path == dir_; };
  make_watcher(o);
  ASSERT_TRUE(watcher_->add_root(WatchRoot{"late", late, true, {}}).ok());
  watcher_->start();
  ASSERT_TRUE(run_until([&] { return find("watch.root_missing"); })) << dump();
  EXPECT_EQ(refuse_watches_.refused, (std::vector<std::string>{dir_}));
  const Event* d = find("watch.degraded");
  ASSERT_NE(d, nullptr) << dump();
  EXPECT_NE(field(*d, "reason").find("max_user_watches"), std::string::npos);
  EXPECT_EQ(field(*d, "path"), late);
  EXPECT_EQ(field(*d, "error"), std::strerror(ENOSPC));
  const auto s = watcher_->stats();
  EXPECT_TRUE(s.degraded);
  EXPECT_EQ(s.unwatched_dirs, 1u);
  EXPECT_EQ(s.roots_missing, 1u);
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
  write_old_file(root_ + "/job/r.json");
  write_old_file(root_ + "/job/logs/l.txt");
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
  write_old_file(root_ + "/r.json");
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
  write_old_file(root_ + "/a.json");
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

// ---------------------------------------------------------------- settling
// A scan cannot tell a finished file from one still being written: files it
// finds with a recent mtime are held until quiet for Options::scan_settle.

TEST_F(DirWatcherTest, ScanLandsAnOldFileAtOnce) {
  write_old_file(root_ + "/old.json");
  make_watcher(settle(std::chrono::milliseconds(100)));
  start_and_wait_for_scan(root_spec());
  // Landed before watch.rescanned, in the scan itself: no delay at start.
  ASSERT_EQ(events_.size(), 2u) << dump();
  EXPECT_EQ(events_[0].kind, "file.landed");
  EXPECT_EQ(field(events_[0], "via"), "scan");
  const Event& r = events_[1];
  EXPECT_EQ(r.kind, "watch.rescanned");
  EXPECT_EQ(r.fields.get_int("files"), 1);
  EXPECT_EQ(r.fields.get_int("landed"), 1);
  EXPECT_EQ(r.fields.get_int("settling"), 0);
  EXPECT_EQ(watcher_->stats().settling, 0u);
  EXPECT_FALSE(watcher_->alarm_armed());
}

TEST_F(DirWatcherTest, ScanHoldsARecentFileUntilItHasSettled) {
  ManualClock& clock = use_manual_clock();
  write_file(root_ + "/fresh.json", "{\"fresh\":1}");
  set_mtime(root_ + "/fresh.json", clock.wall() - std::chrono::milliseconds(30));
  make_watcher(settle(std::chrono::milliseconds(100)));
  start_and_wait_for_scan(root_spec());
  const Event& r = *find("watch.rescanned");
  EXPECT_EQ(r.fields.get_int("files"), 1);
  EXPECT_EQ(r.fields.get_int("landed"), 0);
  EXPECT_EQ(r.fields.get_int("settling"), 1);
  EXPECT_EQ(count("file.landed"), 0) << dump();
  EXPECT_EQ(watcher_->stats().settling, 1u);
  EXPECT_TRUE(watcher_->alarm_armed());
  // 70 ms of the 100 ms are left. After 60 the alarm comes (it is armed in
  // real time) and finds the file not quiet yet by the clock.
  clock.advance(std::chrono::milliseconds(60));
  EXPECT_FALSE(run_until([&] { return find("file.landed", "fresh.json") != nullptr; }, 150))
      << dump();
  clock.advance(std::chrono::milliseconds(10));
  ASSERT_TRUE(run_until([&] { return find("file.landed", "fresh.json") != nullptr; })) << dump();
  const Event& e = *find("file.landed", "fresh.json");
  EXPECT_EQ(field(e, "via"), "scan");
  EXPECT_EQ(e.source, "scan");
  EXPECT_EQ(e.fields.get_int("size"), 11);
  EXPECT_EQ(e.time - WallTime(Duration(*e.fields.get_int("mtime_ns"))),
            std::chrono::milliseconds(100))
      << "lands when its mtime is exactly the settle period old";
  EXPECT_EQ(watcher_->stats().settling, 0u);
  barrier();
  EXPECT_EQ(count("file.landed", "fresh.json"), 1) << dump();
}

TEST_F(DirWatcherTest, FileBeingWrittenWhenScannedLandsOnceWhenClosed) {
  // The writer has written part of it and keeps it open while the start scan
  // runs. The clock does not move, so the hold cannot run out under the test.
  const std::string path = root_ + "/result.json";
  int fd = open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  ASSERT_GE(fd, 0);
  ASSERT_EQ(write(fd, "{\"par", 5), 5);
  ManualClock& clock = use_manual_clock();
  make_watcher(settle(std::chrono::milliseconds(100)));
  start_and_wait_for_scan(root_spec());
  EXPECT_EQ(count("file.landed"), 0) << dump();
  EXPECT_EQ(find("watch.rescanned")->fields.get_int("settling"), 1);
  const std::string rest = "tial\":false,\"done\":true}";
  ASSERT_EQ(write(fd, rest.data(), rest.size()), static_cast<ssize_t>(rest.size()));
  ASSERT_EQ(close(fd), 0);
  ASSERT_TRUE(run_until([&] { return find("file.landed", "result.json") != nullptr; })) << dump();
  const Event& e = *find("file.landed", "result.json");
  EXPECT_EQ(field(e, "via"), "close_write");
  EXPECT_EQ(e.fields.get_int("size"), static_cast<std::int64_t>(5 + rest.size()));
  EXPECT_EQ(watcher_->stats().settling, 0u) << "the close_write ended the hold";
  clock.advance(std::chrono::seconds(1));
  barrier();
  EXPECT_EQ(count("file.landed", "result.json"), 1) << dump();
  EXPECT_FALSE(watcher_->alarm_armed());
}

TEST_F(DirWatcherTest, HeldFileThatChangesWaitsAgainFromTheChange) {
  const std::string path = root_ + "/log.json";
  int fd = open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  ASSERT_GE(fd, 0);
  ASSERT_EQ(write(fd, "[1", 2), 2);
  ManualClock& clock = use_manual_clock();
  make_watcher(settle(std::chrono::milliseconds(100)));
  start_and_wait_for_scan(root_spec());
  ASSERT_EQ(watcher_->stats().settling, 1u);
  ASSERT_EQ(write(fd, ",2", 2), 2);  // still open: no close_write yet
  clock.advance(std::chrono::milliseconds(100));
  // The re-check sees a new size and waits a whole settle period again.
  EXPECT_FALSE(run_until([&] { return find("file.landed", "log.json") != nullptr; }, 200))
      << dump();
  EXPECT_EQ(watcher_->stats().settling, 1u);
  clock.advance(std::chrono::milliseconds(100));
  ASSERT_TRUE(run_until([&] { return find("file.landed", "log.json") != nullptr; })) << dump();
  EXPECT_EQ(field(*find("file.landed", "log.json"), "via"), "scan");
  EXPECT_EQ(find("file.landed", "log.json")->fields.get_int("size"), 4);
  // Quiet for the settle period is all a scan can know; the close of that
  // same version is then a duplicate, not a second landing.
  const auto deduped = watcher_->stats().deduped;
  ASSERT_EQ(close(fd), 0);
  barrier();
  EXPECT_EQ(count("file.landed", "log.json"), 1) << dump();
  EXPECT_EQ(watcher_->stats().deduped, deduped + 1);
}

TEST_F(DirWatcherTest, HeldFileDeletedBeforeItSettlesNeverLands) {
  write_file(root_ + "/a.json");
  write_file(root_ + "/b.json");
  ManualClock& clock = use_manual_clock();
  make_watcher(settle(std::chrono::milliseconds(100)));
  start_and_wait_for_scan(root_spec());
  ASSERT_EQ(watcher_->stats().settling, 2u);
  ASSERT_EQ(unlink((root_ + "/a.json").c_str()), 0);
  ASSERT_TRUE(run_until([&] { return find("file.removed", "a.json") != nullptr; })) << dump();
  EXPECT_EQ(watcher_->stats().settling, 1u);
  clock.advance(std::chrono::milliseconds(100));
  ASSERT_TRUE(run_until([&] { return find("file.landed", "b.json") != nullptr; })) << dump();
  barrier();
  EXPECT_EQ(count("file.landed", "a.json"), 0) << dump();
  EXPECT_EQ(watcher_->stats().settling, 0u);
}

TEST_F(DirWatcherTest, HeldFileGoneWithoutAnEventIsDroppedAtItsRecheck) {
  // No watch on sub/ (limit reached): only the re-check can notice.
  fs::create_directories(root_ + "/sub");
  write_file(root_ + "/sub/a-gone.json");
  write_file(root_ + "/sub/b-stays.json");
  ManualClock& clock = use_manual_clock();
  DirWatcher::Options o = settle(std::chrono::milliseconds(100));
  o.env = &refuse_watches_;
  refuse_watches_.refuse = [](std::string_view path) { return path.ends_with("/sub"); };
  make_watcher(o);
  start_and_wait_for_scan(root_spec());
  ASSERT_EQ(watcher_->stats().settling, 2u);
  ASSERT_EQ(unlink((root_ + "/sub/a-gone.json").c_str()), 0);
  clock.advance(std::chrono::milliseconds(100));
  // Both are due at once and re-checked in name order.
  ASSERT_TRUE(run_until([&] { return find("file.landed", "sub/b-stays.json") != nullptr; }))
      << dump();
  EXPECT_EQ(count("file.landed", "sub/a-gone.json"), 0) << dump();
  EXPECT_EQ(count("file.removed"), 0) << "no event: it never landed";
  EXPECT_EQ(watcher_->stats().settling, 0u);
}

TEST_F(DirWatcherTest, NewDirectoryWithAFileStillOpenLandsItOnceComplete) {
  // The daemon's own case: a rule moves a file into a new quarantine/ and then
  // writes quarantine/x.reason. The new directory's scan finds x.reason open
  // and empty; it must land once, with its content.
  ManualClock& clock = use_manual_clock();
  make_watcher(settle(std::chrono::milliseconds(100)));
  start_and_wait_for_scan(root_spec());
  fs::create_directories(root_ + "/quarantine");
  const std::string path = root_ + "/quarantine/x.reason";
  int fd = open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  ASSERT_GE(fd, 0);
  ASSERT_TRUE(run_until([&] {
    return find("dir.created", "quarantine") && watcher_->scans_idle();
  })) << dump();
  EXPECT_EQ(count("file.landed", "quarantine/x.reason"), 0) << dump();
  EXPECT_EQ(watcher_->stats().settling, 1u);
  const std::string reason(189, 'r');
  ASSERT_EQ(write(fd, reason.data(), reason.size()), 189);
  ASSERT_EQ(close(fd), 0);
  ASSERT_TRUE(run_until([&] { return find("file.landed", "quarantine/x.reason") != nullptr; }))
      << dump();
  const Event& e = *find("file.landed", "quarantine/x.reason");
  EXPECT_EQ(field(e, "via"), "close_write");
  EXPECT_EQ(e.fields.get_int("size"), 189);
  clock.advance(std::chrono::seconds(1));
  barrier();
  EXPECT_EQ(count("file.landed", "quarantine/x.reason"), 1) << dump();
  EXPECT_EQ(watcher_->stats().settling, 0u);
}

TEST_F(DirWatcherTest, ScanSettleZeroLandsRecentFilesAtOnce) {
  write_file(root_ + "/fresh.json");
  set_mtime(root_ + "/fresh.json", SystemClock().wall() + std::chrono::seconds(5));
  make_watcher(settle(Duration(0)));
  start_and_wait_for_scan(root_spec());
  ASSERT_EQ(events_.size(), 2u) << dump();
  EXPECT_EQ(field(events_[0], "via"), "scan");
  EXPECT_EQ(field(events_[0], "rel"), "fresh.json");
  EXPECT_EQ(events_[1].fields.get_int("landed"), 1);
  EXPECT_EQ(events_[1].fields.get_int("settling"), 0);
}

TEST_F(DirWatcherTest, RescanOfAFileStillBeingHandledDoesNotLandItTwice) {
  // x.json landed by close_write and its handling has not completed (pending
  // in the index) when a rescan holds it: the rescan's sweep must keep the
  // pending claim, so the settled file is a duplicate.
  ManualClock& clock = use_manual_clock();
  index_ = FileIndex::in_memory();
  make_watcher(settle(std::chrono::milliseconds(100)), index_.get());
  start_and_wait_for_scan(root_spec());
  write_file(root_ + "/x.json");
  ASSERT_TRUE(run_until([&] { return find("file.landed", "x.json") != nullptr; })) << dump();
  watcher_->rescan("test");
  ASSERT_TRUE(run_until([&] { return count("watch.rescanned") == 2; }));
  EXPECT_EQ(events_.back().fields.get_int("settling"), 1);
  clock.advance(std::chrono::milliseconds(100));
  ASSERT_TRUE(run_until([&] { return watcher_->stats().settling == 0; }));
  barrier();
  EXPECT_EQ(count("file.landed", "x.json"), 1) << dump();
  EXPECT_EQ(watcher_->stats().deduped, 1u);
}

TEST_F(DirWatcherTest, SettledWatcherArmsNoTimer) {
  for (const char* name : {"a.json", "b.json", "c.json"}) write_file(root_ + "/" + name);
  ManualClock& clock = use_manual_clock();
  make_watcher(settle(std::chrono::milliseconds(50)));
  start_and_wait_for_scan(root_spec());
  ASSERT_EQ(watcher_->stats().settling, 3u);
  ASSERT_TRUE(watcher_->alarm_armed());
  clock.advance(std::chrono::milliseconds(50));
  ASSERT_TRUE(run_until([&] { return count("file.landed") == 3; })) << dump();
  EXPECT_EQ(watcher_->stats().settling, 0u);
  EXPECT_FALSE(watcher_->alarm_armed()) << "nothing held, so no wake-up may be scheduled";
  int active_timers = 0;
  uv_walk(
      &loop_,
      [](uv_handle_t* h, void* arg) {
        if (h->type == UV_TIMER && uv_is_active(h)) ++*static_cast<int*>(arg);
      },
      &active_timers);
  EXPECT_EQ(active_timers, 0);
}

TEST_F(DirWatcherTest, StopDropsHeldFiles) {
  write_file(root_ + "/a.json");
  ManualClock& clock = use_manual_clock();
  make_watcher(settle(std::chrono::milliseconds(50)));
  start_and_wait_for_scan(root_spec());
  ASSERT_EQ(watcher_->stats().settling, 1u);
  watcher_->stop();
  EXPECT_EQ(watcher_->stats().settling, 0u);
  EXPECT_FALSE(watcher_->alarm_armed());
  clock.advance(std::chrono::seconds(1));
  const auto before = events_.size();
  uv_run(&loop_, UV_RUN_NOWAIT);
  EXPECT_EQ(events_.size(), before);
}

}  // namespace
}  // namespace aw
