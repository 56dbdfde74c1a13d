// NotifySpoolWatch on a real loop, real inotify and real files: a message
// spooled while the daemon runs reaches `emit` without a restart, exactly
// once, whoever appends meanwhile. Waits are on emitted events (run_until with
// a guard), never on sleeps.
#include "watchers/notify/notify_spool_watch.h"

#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <fstream>
#include <map>
#include <memory>
#include <set>

#include "src/uvx/handle.h"
#include "watchers/notify/notify_client.h"
#include "watchers/notify/notify_server.h"
#include "watchers/notify/notify_test_support.h"

namespace aw {
namespace {

using notify_test::field;

class NotifySpoolWatchTest : public notify_test::LoopTest {
 protected:
  void release_handles() override {
    watch_.reset();
    server_.reset();
  }

  void start(NotifySpoolWatch::Options options = {}) {
    watch_ = std::make_unique<NotifySpoolWatch>(
        &loop_, clock_, collector(),
        [this](const Result<NotifySpoolStats>& r) {
          if (!r.ok()) errors_.push_back(r.error().message);
        },
        std::move(options));
    Status s = watch_->start(dir_.path);
    ASSERT_TRUE(s.ok()) << s.error().message;
  }
  bool settle() {
    return run_until([&] { return watch_->idle(); });
  }

  // Appends one message the way `agentwatch notify` does when it spools.
  std::uint64_t append(const std::string& entity, std::uint64_t id = 0) {
    NotifyMessage m;
    m.kind = "tmux.session-closed";
    m.entity = entity;
    m.time = SystemClock().wall();
    m.id = id ? id : 0x1000 + ++appended_;
    Status s = append_to_notify_spool(dir_.path, encode_notify_line(m));
    EXPECT_TRUE(s.ok()) << s.error().message;
    return m.id;
  }
  std::string spool() const { return notify_spool_path(dir_.path); }
  bool exists(const std::string& path) const {
    struct stat st {};
    return lstat(path.c_str(), &st) == 0;
  }
  std::vector<std::string> entities() const {
    std::vector<std::string> out;
    for (const auto& e : events_) out.push_back(e.entity);
    return out;
  }

  notify_test::TempDir dir_;
  SystemClock clock_;
  std::unique_ptr<NotifySpoolWatch> watch_;
  std::unique_ptr<NotifyServer> server_;
  std::vector<std::string> errors_;
  int appended_ = 0;
};

TEST_F(NotifySpoolWatchTest, SpooledWhileRunningIsDeliveredWithoutARestart) {
  start();
  ASSERT_TRUE(settle());
  EXPECT_TRUE(events_.empty());
  const std::uint64_t id = append("w1");
  // Within a second of the append: the operator's bound (issue #8).
  ASSERT_TRUE(run_until([&] { return events_.size() == 1; }, 1000));
  const Event& e = events_[0];
  EXPECT_EQ(e.kind, "tmux.session-closed");
  EXPECT_EQ(e.entity, "w1");
  EXPECT_EQ(e.source, "notify");
  EXPECT_EQ(e.fields.find("spooled") ? field_to_string(*e.fields.find("spooled")) : "", "true");
  EXPECT_EQ(field(e, "notify_id"), format_notify_id(id));
  ASSERT_TRUE(settle());
  EXPECT_FALSE(exists(spool()));
  EXPECT_FALSE(exists(spool() + ".ingesting"));
  EXPECT_FALSE(exists(spool() + ".delivered"));
  EXPECT_EQ(watch_->stats().delivered, 1u);
  EXPECT_TRUE(errors_.empty()) << errors_.front();

  // And again: the watch keeps watching after a pass.
  append("w2");
  ASSERT_TRUE(run_until([&] { return events_.size() == 2; }, 1000));
  EXPECT_EQ(entities(), (std::vector<std::string>{"w1", "w2"}));
}

TEST_F(NotifySpoolWatchTest, WhatWasSpooledBeforeStartIsTakenInAtStart) {
  append("w1");
  append("w2");
  append("w3");
  start();
  ASSERT_TRUE(run_until([&] { return events_.size() == 3; }));
  EXPECT_EQ(entities(), (std::vector<std::string>{"w1", "w2", "w3"}));
  ASSERT_TRUE(settle());
  EXPECT_FALSE(exists(spool()));
}

// The scenario of issue #8, end to end inside one process: the server is at
// its cap, so the client spools; the running watch delivers the message.
TEST_F(NotifySpoolWatchTest, AClientThatSpoolsAtTheCapIsDeliveredWhileRunning) {
  NotifyServer::Options o;
  o.max_connections = 0;  // every connection is over the cap
  server_ = std::make_unique<NotifyServer>(&loop_, clock_, collector(), o);
  ASSERT_TRUE(server_->start(dir_.path).ok());
  start();
  ASSERT_TRUE(settle());
  Result<NotifyDelivery> d = make_error("not run");
  const auto t0 = std::chrono::steady_clock::now();
  run_client([&] {
    d = send_notification(dir_.path,
                          *parse_notify_args("tmux.session-closed", {"entity=w1", "pane_pid=7"}));
  });
  ASSERT_TRUE(d.ok()) << d.error().message;
  EXPECT_TRUE(d->spooled);
  ASSERT_TRUE(run_until([&] { return count("tmux.session-closed") == 1; }, 1000));
  EXPECT_LT(std::chrono::steady_clock::now() - t0, std::chrono::seconds(1));
  const Event* e = find("tmux.session-closed");
  EXPECT_EQ(e->entity, "w1");
  EXPECT_EQ(e->fields.get_int("pane_pid"), 7);
  EXPECT_EQ(count_refused("too_many_connections"), 1u);
}

TEST_F(NotifySpoolWatchTest, ALeftoverFromACrashIsResumedWithoutDuplicates) {
  const std::uint64_t first = append("w1");
  append("w2");
  append("w3");
  // What a daemon killed after delivering w1 leaves behind.
  ASSERT_EQ(rename(spool().c_str(), (spool() + ".ingesting").c_str()), 0);
  std::ofstream(spool() + ".delivered") << format_notify_id(first) << "\n";
  append("w4");  // a hook that fired while it was down
  start();
  ASSERT_TRUE(run_until([&] { return events_.size() == 3; }));
  ASSERT_TRUE(settle());
  EXPECT_EQ(entities(), (std::vector<std::string>{"w2", "w3", "w4"}));
  EXPECT_EQ(watch_->stats().duplicates, 1u);
  EXPECT_FALSE(exists(spool() + ".ingesting"));
  EXPECT_FALSE(exists(spool() + ".delivered"));
}

TEST_F(NotifySpoolWatchTest, ALargeSpoolIsTakenInChunksAcrossLoopTurns) {
  // ~1 MB: 16 chunks or more, each decoded on its own loop turn.
  constexpr int kMessages = 5000;
  {
    std::string all;
    for (int i = 0; i < kMessages; ++i) {
      NotifyMessage m;
      m.kind = "worker.tick";
      m.entity = std::to_string(i);
      m.fields.set("pad", FieldValue(std::string(150, 'p')));
      m.id = 0x10000 + static_cast<std::uint64_t>(i);
      all += encode_notify_line(m);
    }
    ASSERT_GT(all.size(), 15 * NotifySpoolIngestion::kChunkBytes);
    ASSERT_TRUE(append_to_notify_spool(dir_.path, all).ok());
  }
  // Counts loop turns; each event records the turn it was emitted on.
  std::uint64_t turn = 0;
  std::set<std::uint64_t> turns;
  uvx::Idle counter(&loop_, [&] { ++turn; });
  counter.start();
  watch_ = std::make_unique<NotifySpoolWatch>(
      &loop_, clock_,
      [&](Event e) {
        turns.insert(turn);
        events_.push_back(std::move(e));
      },
      nullptr);
  ASSERT_TRUE(watch_->start(dir_.path).ok());
  ASSERT_TRUE(run_until([&] { return events_.size() == kMessages; }, 20000));
  counter.stop();
  for (int i = 0; i < kMessages; ++i)
    ASSERT_EQ(events_[static_cast<std::size_t>(i)].entity, std::to_string(i));
  EXPECT_GE(turns.size(), 16u) << "the spool was emitted in too few loop turns";
}

TEST_F(NotifySpoolWatchTest, AppendersRacingTheWatchLoseNothingAndRepeatNothing) {
  start();
  ASSERT_TRUE(settle());
  constexpr int kProcs = 4;
  constexpr int kEach = 200;
  int running = 0;
  for (int p = 0; p < kProcs; ++p) {
    const pid_t pid = notify_test::fork_spool_appender(dir_.path, p, kEach);
    ASSERT_GE(pid, 0);
    ++running;
  }
  // The watch renames the spool under the appenders again and again. (On
  // events, not on the children's exits: those do not wake the loop.)
  const bool all = run_until([&] { return events_.size() >= kProcs * kEach; }, 30000);
  for (; running > 0; --running) {
    int status = 0;
    ASSERT_GT(waitpid(-1, &status, 0), 0);
    EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0) << "an appender failed";
  }
  ASSERT_TRUE(all) << events_.size() << " of " << kProcs * kEach << " delivered";
  ASSERT_TRUE(settle());
  notify_test::expect_each_appended_once_in_order(events_, kProcs, kEach);
  EXPECT_TRUE(errors_.empty()) << errors_.front();
  RecordProperty("passes", static_cast<int>(watch_->passes()));
}

TEST_F(NotifySpoolWatchTest, StoppedMidFileTheNextStartDeliversTheRestOnce) {
  constexpr int kMessages = 2000;  // several chunks
  {
    std::string all;
    for (int i = 0; i < kMessages; ++i) {
      NotifyMessage m;
      m.kind = "worker.tick";
      m.entity = std::to_string(i);
      m.fields.set("pad", FieldValue(std::string(100, 'p')));
      m.id = 0x10000 + static_cast<std::uint64_t>(i);
      all += encode_notify_line(m);
    }
    ASSERT_TRUE(append_to_notify_spool(dir_.path, all).ok());
  }
  // A shutdown that lands while the first chunk is being emitted.
  watch_ = std::make_unique<NotifySpoolWatch>(
      &loop_, clock_,
      [&](Event e) {
        events_.push_back(std::move(e));
        if (events_.size() == 10) watch_->stop();
      },
      nullptr);
  ASSERT_TRUE(watch_->start(dir_.path).ok());
  ASSERT_TRUE(run_until([&] { return events_.size() >= 10; }));
  const std::size_t first_run = events_.size();
  EXPECT_LT(first_run, static_cast<std::size_t>(kMessages)) << "nothing was left to resume";
  EXPECT_TRUE(exists(spool() + ".ingesting"));
  watch_.reset();

  start();  // the next daemon
  ASSERT_TRUE(run_until([&] { return events_.size() == kMessages; }));
  ASSERT_TRUE(settle());
  for (int i = 0; i < kMessages; ++i)
    ASSERT_EQ(events_[static_cast<std::size_t>(i)].entity, std::to_string(i));
  EXPECT_FALSE(exists(spool() + ".ingesting"));
}

TEST_F(NotifySpoolWatchTest, ChangesToOtherFilesWakeNothing) {
  start();
  ASSERT_TRUE(settle());
  const std::uint64_t passes = watch_->passes();
  // What else lives in the runtime dir: the status file, written and renamed.
  std::ofstream(dir_.path + "/status.json.tmp") << "{}\n";
  ASSERT_EQ(rename((dir_.path + "/status.json.tmp").c_str(), (dir_.path + "/status.json").c_str()),
            0);
  // Then a spool append: the only thing that may cause a pass.
  append("w1");
  ASSERT_TRUE(run_until([&] { return events_.size() == 1; }));
  ASSERT_TRUE(settle());
  EXPECT_EQ(watch_->passes(), passes + 1);
}

TEST_F(NotifySpoolWatchTest, ASpoolThatIsNotOursIsReportedAndLeftAlone) {
  const std::string target = dir_.path + "/elsewhere";
  std::ofstream(target) << "{\"kind\":\"tmux.x\"}\n";
  ASSERT_EQ(symlink(target.c_str(), spool().c_str()), 0);
  NotifySpoolWatch::Options o;
  o.retry_after = std::chrono::milliseconds(20);
  start(o);
  // Reported, then retried (and reported again) on the retry timer.
  ASSERT_TRUE(run_until([&] { return errors_.size() >= 2; }));
  EXPECT_NE(errors_[0].find(spool() + ".ingesting"), std::string::npos) << errors_[0];
  EXPECT_TRUE(events_.empty());
  EXPECT_EQ(notify_test::read_lines(target).size(), 1u);
  // Once it is gone, the next change is taken in.
  ASSERT_EQ(unlink((spool() + ".ingesting").c_str()), 0);
  append("w1");
  ASSERT_TRUE(run_until([&] { return events_.size() == 1; }));
  EXPECT_EQ(events_[0].entity, "w1");
}

TEST_F(NotifySpoolWatchTest, AWatchThatCannotBeSetUpIsAnErrorNamingTheDir) {
  const std::string missing = dir_.path + "/missing";
  watch_ = std::make_unique<NotifySpoolWatch>(&loop_, clock_, collector(), nullptr);
  Status s = watch_->start(missing);
  ASSERT_FALSE(s.ok());
  EXPECT_NE(s.error().message.find("cannot watch " + missing), std::string::npos)
      << s.error().message;
  // The pass at start still runs (and finds nothing there); nothing is left open.
  ASSERT_TRUE(settle());
  EXPECT_EQ(watch_->passes(), 1u);
  EXPECT_TRUE(events_.empty());
}

TEST_F(NotifySpoolWatchTest, DestroyedWithAJobOnThePoolClosesCleanly) {
  append("w1");
  start();
  // Destroyed at once: the first job is queued or running; its result is
  // dropped and TearDown's uv_loop_close() == 0 says nothing was left open.
  watch_.reset();
  // The job finishes on the pool (uv_run waits for it; the daemon's too).
  ASSERT_TRUE(run_until([&] { return loop_.active_reqs.count == 0; }));
  EXPECT_TRUE(events_.empty());
  // Whatever the job got to, the message is still there for the next start.
  start();
  ASSERT_TRUE(run_until([&] { return events_.size() == 1; }));
  EXPECT_EQ(events_[0].entity, "w1");
}

}  // namespace
}  // namespace aw
