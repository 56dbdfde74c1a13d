// Spool ingestion on real files: order, exactly once, a real crash (a forked
// child killed by SIGKILL mid-ingestion), bad lines, and appenders racing the
// ingester.
#include "watchers/notify/notify_spool.h"

#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <fcntl.h>
#include <gtest/gtest.h>
#include <sys/file.h>

#include <filesystem>
#include <fstream>
#include <map>
#include <set>
#include <thread>

#include "watchers/notify/notify_test_support.h"

namespace aw {
namespace {

using notify_test::field;
using notify_test::read_lines;

class NotifySpoolTest : public ::testing::Test {
 protected:
  std::string spool() const { return notify_spool_path(dir_.path); }
  bool exists(const std::string& path) const {
    struct stat st {};
    return lstat(path.c_str(), &st) == 0;
  }
  // Appends a message the way the client does; returns its id.
  std::uint64_t append(const std::string& entity, std::uint64_t id = 0) {
    NotifyMessage m;
    m.kind = "tmux.session-closed";
    m.entity = entity;
    m.fields.set("session", FieldValue(entity));
    m.time = WallTime(std::chrono::seconds(1'700'000'000)) + std::chrono::milliseconds(++appended_);
    m.id = id ? id : 0x1000 + appended_;
    Status s = append_to_notify_spool(dir_.path, encode_notify_line(m));
    EXPECT_TRUE(s.ok()) << s.error().message;
    return m.id;
  }
  void append_raw(const std::string& text) {
    std::ofstream(spool(), std::ios::app) << text;
    chmod(spool().c_str(), 0600);
  }
  Result<NotifySpoolStats> ingest(std::size_t max_line = kNotifyMaxLineBytes) {
    return ingest_notify_spool(
        dir_.path, clock_, policy_, [this](Event e) { events_.push_back(std::move(e)); }, max_line);
  }
  std::vector<std::string> entities() const {
    std::vector<std::string> out;
    for (const auto& e : events_)
      if (e.kind != "notify.refused") out.push_back(e.entity);
    return out;
  }

  notify_test::TempDir dir_;
  ManualClock clock_{WallTime(std::chrono::seconds(1'800'000'000))};
  NotifyKindPolicy policy_;
  std::vector<Event> events_;
  int appended_ = 0;
};

TEST_F(NotifySpoolTest, IngestsInOrderWithOriginalTimeAndSpooledFlag) {
  const std::uint64_t id = append("w1");
  append("w2");
  append("w3");
  auto r = ingest();
  ASSERT_TRUE(r.ok()) << r.error().message;
  EXPECT_EQ(r->delivered, 3u);
  EXPECT_EQ(entities(), (std::vector<std::string>{"w1", "w2", "w3"}));
  const Event& e = events_[0];
  EXPECT_EQ(e.kind, "tmux.session-closed");
  EXPECT_EQ(e.source, "notify");
  EXPECT_EQ(field(e, "session"), "w1");
  EXPECT_EQ(*e.fields.find("spooled"), FieldValue(true));
  EXPECT_EQ(field(e, "notify_id"), format_notify_id(id));
  // The time the hook ran, not the time of ingestion.
  EXPECT_EQ(e.time, WallTime(std::chrono::seconds(1'700'000'000)) + std::chrono::milliseconds(1));
  EXPECT_FALSE(exists(spool()));
  EXPECT_FALSE(exists(spool() + ".ingesting"));
  EXPECT_FALSE(exists(spool() + ".delivered"));
}

TEST_F(NotifySpoolTest, NothingToIngestIsFine) {
  auto r = ingest();
  ASSERT_TRUE(r.ok()) << r.error().message;
  EXPECT_EQ(r->delivered, 0u);
  EXPECT_TRUE(events_.empty());
}

TEST_F(NotifySpoolTest, IngestingTwiceDeliversOnce) {
  append("w1");
  ASSERT_TRUE(ingest().ok());
  ASSERT_TRUE(ingest().ok());
  EXPECT_EQ(entities(), std::vector<std::string>{"w1"});
}

TEST_F(NotifySpoolTest, SameIdTwiceInTheSpoolIsDeliveredOnce) {
  append("w1", 0xabc);
  append("w1-again", 0xabc);
  append("w2");
  auto r = ingest();
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->duplicates, 1u);
  EXPECT_EQ(entities(), (std::vector<std::string>{"w1", "w2"}));
}

TEST_F(NotifySpoolTest, CrashMidIngestionResumesWithoutDuplicates) {
  for (int i = 1; i <= 5; ++i) append("w" + std::to_string(i));
  // The "event log" both runs write to, one line per delivered event.
  const std::string log = dir_.path + "/delivered.log";
  auto log_emit = [&](const Event& e) {
    int fd = open(log.c_str(), O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0600);
    std::string line = e.entity + "\n";
    ASSERT_EQ(write(fd, line.data(), line.size()), static_cast<ssize_t>(line.size()));
    close(fd);
  };

  pid_t pid = fork();
  ASSERT_GE(pid, 0);
  if (pid == 0) {
    int n = 0;
    (void)ingest_notify_spool(dir_.path, clock_, policy_, [&](const Event& e) {
      if (++n == 3) raise(SIGKILL);  // dies delivering the third
      log_emit(e);
    });
    _exit(0);
  }
  int status = 0;
  ASSERT_EQ(waitpid(pid, &status, 0), pid);
  ASSERT_TRUE(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL);
  EXPECT_EQ(read_lines(log), (std::vector<std::string>{"w1", "w2"}));
  EXPECT_TRUE(exists(spool() + ".ingesting")) << "the crash left no trace to resume from";
  EXPECT_EQ(read_lines(spool() + ".delivered").size(), 2u);

  // Hooks fired while the daemon was down.
  append("w6");
  append("w7");

  auto r = ingest_notify_spool(dir_.path, clock_, policy_, log_emit);
  ASSERT_TRUE(r.ok()) << r.error().message;
  EXPECT_EQ(r->duplicates, 2u);
  EXPECT_EQ(r->delivered, 5u);
  EXPECT_EQ(read_lines(log), (std::vector<std::string>{"w1", "w2", "w3", "w4", "w5", "w6", "w7"}));
  EXPECT_FALSE(exists(spool() + ".ingesting"));
  EXPECT_FALSE(exists(spool() + ".delivered"));
  EXPECT_FALSE(exists(spool()));
}

TEST_F(NotifySpoolTest, StaleDeliveredListWithoutIngestingIsDiscarded) {
  const std::uint64_t id = append("w1");
  // Left by a crash between removing .ingesting and .delivered.
  std::ofstream(spool() + ".delivered") << format_notify_id(id) << "\n";
  ASSERT_TRUE(ingest().ok());
  EXPECT_EQ(entities(), std::vector<std::string>{"w1"});
}

TEST_F(NotifySpoolTest, BadLinesBecomeRefusedEventsAndTheRestIsDelivered) {
  append("w1");
  append_raw("not json\n");
  append_raw("{\"kind\":\"evil.x\"}\n");
  append_raw(std::string(300, 'x') + "\n");  // over the 200-byte limit below
  append("w2");
  append_raw("{\"kind\":\"tmux.torn");  // a writer that died mid-line
  auto r = ingest(/*max_line=*/200);
  ASSERT_TRUE(r.ok()) << r.error().message;
  EXPECT_EQ(r->delivered, 2u);
  EXPECT_EQ(r->refused, 4u);
  EXPECT_EQ(entities(), (std::vector<std::string>{"w1", "w2"}));
  std::vector<std::pair<std::string, std::int64_t>> refused;
  for (const auto& e : events_)
    if (e.kind == "notify.refused")
      refused.emplace_back(field(e, "reason"), *e.fields.get_int("spool_line"));
  EXPECT_EQ(refused,
            (std::vector<std::pair<std::string, std::int64_t>>{
                {"invalid_json", 2}, {"unknown_kind", 3}, {"line_too_long", 4}, {"truncated", 6}}));
  for (const auto& e : events_) {
    if (e.kind != "notify.refused") continue;
    EXPECT_NE(field(e, "detail").find(spool() + ".ingesting:"), std::string::npos)
        << field(e, "detail");
  }
}

TEST_F(NotifySpoolTest, SpoolThatIsASymlinkIsRefused) {
  const std::string target = dir_.path + "/elsewhere";
  std::ofstream(target) << "{\"kind\":\"tmux.x\"}\n";
  ASSERT_EQ(symlink(target.c_str(), spool().c_str()), 0);
  auto r = ingest();
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.error().message.find(spool()), std::string::npos) << r.error().message;
  EXPECT_TRUE(events_.empty());
  EXPECT_EQ(read_lines(target).size(), 1u);
  // Appending refuses it too.
  ASSERT_EQ(rename((spool() + ".ingesting").c_str(), spool().c_str()), 0);
  EXPECT_FALSE(append_to_notify_spool(dir_.path, "{\"kind\":\"tmux.x\"}\n").ok());
  EXPECT_EQ(read_lines(target).size(), 1u);
}

// The race the stress test below can only hope to hit, made deterministic: an
// appender opened the spool, then the ingester renamed it, read it and removed
// it before the appender got the lock. Its line must go to a fresh spool, not
// into the removed file.
TEST_F(NotifySpoolTest, AppenderThatLostTheRaceToARenameWritesToAFreshSpool) {
  append("w1");
  int held = open(spool().c_str(), O_RDONLY | O_CLOEXEC);
  ASSERT_GE(held, 0);
  ASSERT_EQ(flock(held, LOCK_EX), 0);
  int ready[2];
  ASSERT_EQ(pipe(ready), 0);
  pid_t pid = fork();
  ASSERT_GE(pid, 0);
  if (pid == 0) {
    // flock belongs to the open file description: the inherited copy would
    // keep the lock alive, so drop it, and say so before appending.
    close(held);
    close(ready[0]);
    (void)!write(ready[1], "x", 1);
    close(ready[1]);
    NotifyMessage m;
    m.kind = "tmux.session-closed";
    m.entity = "late";
    m.id = 0x77;
    _exit(append_to_notify_spool(dir_.path, encode_notify_line(m), std::chrono::seconds(10)).ok()
              ? 0
              : 1);
  }
  close(ready[1]);
  char byte;
  ASSERT_EQ(read(ready[0], &byte, 1), 1);
  close(ready[0]);
  // Wait until the child holds the spool open (it then spins on the lock).
  const std::string fd_dir = "/proc/" + std::to_string(pid) + "/fd";
  bool opened = false;
  for (int i = 0; i < 5000 && !opened; ++i) {
    std::error_code ec;
    for (const auto& entry : std::filesystem::directory_iterator(fd_dir, ec)) {
      std::error_code ec2;
      if (std::filesystem::read_symlink(entry.path(), ec2).string() == spool()) opened = true;
    }
    if (!opened) std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
  ASSERT_TRUE(opened) << "the appender never opened the spool";
  // What an ingester does: rename, read (under the lock we already hold), remove.
  ASSERT_EQ(rename(spool().c_str(), (spool() + ".ingesting").c_str()), 0);
  EXPECT_EQ(read_lines(spool() + ".ingesting").size(), 1u);
  ASSERT_EQ(unlink((spool() + ".ingesting").c_str()), 0);
  close(held);  // the appender gets the lock now
  int status = 0;
  ASSERT_EQ(waitpid(pid, &status, 0), pid);
  ASSERT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0);
  auto lines = read_lines(spool());
  ASSERT_EQ(lines.size(), 1u) << "the late line went into the removed file";
  EXPECT_NE(lines[0].find("\"late\""), std::string::npos) << lines[0];
}

TEST_F(NotifySpoolTest, AppendersRacingTheIngesterLoseNothingAndRepeatNothing) {
  constexpr int kProcs = 4;
  constexpr int kEach = 300;
  std::vector<pid_t> kids;
  for (int p = 0; p < kProcs; ++p) {
    const pid_t pid = notify_test::fork_spool_appender(dir_.path, p, kEach);
    ASSERT_GE(pid, 0);
    kids.push_back(pid);
  }
  // Ingest over and over while they append (renames racing appends).
  int running = kProcs;
  int rounds = 0;
  while (running > 0) {
    auto r = ingest();
    ASSERT_TRUE(r.ok()) << r.error().message;
    ++rounds;
    int status = 0;
    pid_t done;
    while ((done = waitpid(-1, &status, WNOHANG)) > 0) {
      EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0);
      --running;
    }
  }
  ASSERT_TRUE(ingest().ok());
  notify_test::expect_each_appended_once_in_order(events_, kProcs, kEach);
  RecordProperty("ingest_rounds", rounds);
}

}  // namespace
}  // namespace aw
