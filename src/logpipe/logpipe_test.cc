// run_logpipe on real pipes and real files: a forked child produces the input
// (as a tmux pane would), logpipe runs on a thread, and the test renames the
// file under it (rotate_file_test runs it under the real rotator). Waits are on inotify events,
// never on sleeps; the only sleeps pace the producer and the rotator like real ones.
#include "src/logpipe/logpipe.h"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <sys/inotify.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <functional>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "src/logpipe/test_producer.h"

namespace aw {
namespace {

namespace fs = std::filesystem;
using std::chrono::milliseconds;

std::string slurp(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

bool exists(const std::string& path) {
  struct stat st {};
  return lstat(path.c_str(), &st) == 0;
}

void write_all(int fd, std::string_view s) {
  while (!s.empty()) {
    const ssize_t n = write(fd, s.data(), s.size());
    ASSERT_GT(n, 0) << std::strerror(errno);
    s.remove_prefix(static_cast<std::size_t>(n));
  }
}

class LogpipeTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/aw-logpipe-XXXXXX";
    ASSERT_NE(mkdtemp(tmpl), nullptr);
    dir_ = tmpl;
    log_ = dir_ + "/pane.log";
    int fds[2];
    ASSERT_EQ(pipe2(fds, O_CLOEXEC), 0);
    in_ = fds[0];
    feed_ = fds[1];
    inotify_ = inotify_init1(IN_CLOEXEC | IN_NONBLOCK);
    ASSERT_GE(inotify_, 0);
    ASSERT_GE(inotify_add_watch(inotify_, dir_.c_str(),
                                IN_CREATE | IN_MODIFY | IN_MOVED_TO | IN_MOVED_FROM | IN_DELETE),
              0);
  }
  void TearDown() override {
    close_feed();
    if (runner_.joinable()) runner_.join();
    if (in_ >= 0) close(in_);
    close(inotify_);
    fs::remove_all(dir_);
  }

  void close_feed() {
    if (feed_ >= 0) close(feed_);
    feed_ = -1;
  }

  // Runs logpipe on a thread; join() gives its status.
  void start(LogpipeOptions options) {
    options_ = std::move(options);
    options_.stats = &stats_;
    runner_ = std::thread([this] { status_ = run_logpipe(options_, in_, &error_); });
    runner_id_ = runner_.native_handle();
  }
  int join() {
    close_feed();
    runner_.join();
    return status_;
  }

  // Waits (on inotify events in the directory) until `done()`; false after 10 s.
  bool wait_until(const std::function<bool()>& done) {
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
    while (!done()) {
      const auto left =
          std::chrono::duration_cast<milliseconds>(deadline - std::chrono::steady_clock::now());
      if (left.count() <= 0) return false;
      struct pollfd p {
        inotify_, POLLIN, 0
      };
      poll(&p, 1, static_cast<int>(left.count()));
      char buf[4096];
      while (read(inotify_, buf, sizeof buf) > 0) {
      }
    }
    return true;
  }

  LogpipeOptions options(const std::string& path = "") {
    LogpipeOptions o;
    o.path = path.empty() ? log_ : path;
    return o;
  }

  std::string dir_, log_;
  int in_ = -1, feed_ = -1, inotify_ = -1;
  LogpipeOptions options_;
  LogpipeStats stats_;
  std::thread runner_;
  pthread_t runner_id_{};
  int status_ = -1;
  std::string error_;
};

TEST_F(LogpipeTest, CopiesInputUntilEofAndExitsZero) {
  write_all(feed_, "first\nsecond\n");
  close_feed();
  LogpipeOptions o = options();
  ASSERT_EQ(run_logpipe(o, in_, &error_), 0) << error_;
  EXPECT_EQ(slurp(log_), "first\nsecond\n");
  struct stat st {};
  ASSERT_EQ(stat(log_.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600u);
}

TEST_F(LogpipeTest, AppendsToAnExistingFile) {
  std::ofstream(log_) << "earlier\n";
  write_all(feed_, "later\n");
  close_feed();
  ASSERT_EQ(run_logpipe(options(), in_, &error_), 0) << error_;
  EXPECT_EQ(slurp(log_), "earlier\nlater\n");
}

TEST_F(LogpipeTest, BadPathsAreClearErrors) {
  close_feed();
  std::string error;
  EXPECT_EQ(run_logpipe(options(dir_ + "/missing/pane.log"), in_, &error), 1);
  EXPECT_NE(error.find(dir_ + "/missing/pane.log"), std::string::npos) << error;
  EXPECT_NE(error.find("No such file or directory"), std::string::npos) << error;
  EXPECT_NE(error.find("its directory must exist"), std::string::npos) << error;

  EXPECT_EQ(run_logpipe(options(dir_), in_, &error), 1);
  EXPECT_NE(error.find(dir_), std::string::npos) << error;

  std::ofstream(dir_ + "/real.log") << "";
  ASSERT_EQ(symlink((dir_ + "/real.log").c_str(), log_.c_str()), 0);
  EXPECT_EQ(run_logpipe(options(), in_, &error), 1);
  EXPECT_NE(error.find("symlink"), std::string::npos) << error;

  LogpipeOptions empty;
  EXPECT_EQ(run_logpipe(empty, in_, &error), 2);
  EXPECT_NE(error.find("--file"), std::string::npos) << error;
}

TEST_F(LogpipeTest, APartialLineWaitsForItsNewlineAndGoesInOneWrite) {
  LogpipeOptions o = options();
  o.flush_after = std::chrono::seconds(60);
  start(o);
  write_all(feed_, "one\ntw");
  ASSERT_TRUE(wait_until([&] { return slurp(log_) == "one\n"; })) << slurp(log_);
  write_all(feed_, "o\nthree\n");
  ASSERT_TRUE(wait_until([&] { return slurp(log_) == "one\ntwo\nthree\n"; })) << slurp(log_);
  ASSERT_EQ(join(), 0) << error_;
  EXPECT_EQ(stats_.writes, 2u) << "the held 'tw' went with the lines that completed it";
  EXPECT_EQ(stats_.partial_writes, 0u);
}

TEST_F(LogpipeTest, APartialLineIsWrittenAfterAQuietSpell) {
  LogpipeOptions o = options();
  o.flush_after = milliseconds(20);
  start(o);
  write_all(feed_, "Continue? [y/n] ");
  ASSERT_TRUE(wait_until([&] { return slurp(log_) == "Continue? [y/n] "; })) << slurp(log_);
  write_all(feed_, "y\n");
  ASSERT_EQ(join(), 0) << error_;
  EXPECT_EQ(slurp(log_), "Continue? [y/n] y\n");
  EXPECT_EQ(stats_.partial_writes, 1u);
}

TEST_F(LogpipeTest, AnOverlongLineIsWrittenWithoutWaitingForItsEnd) {
  LogpipeOptions o = options();
  o.flush_after = std::chrono::seconds(60);
  o.max_line = 100;
  start(o);
  const std::string long_part(250, 'x');
  write_all(feed_, long_part);
  ASSERT_TRUE(wait_until([&] { return slurp(log_).size() >= 100; }));
  write_all(feed_, "\n");
  ASSERT_EQ(join(), 0) << error_;
  EXPECT_EQ(slurp(log_), long_part + "\n");
  EXPECT_GE(stats_.partial_writes, 1u);
}

TEST_F(LogpipeTest, ADeletedFileIsCreatedAgain) {
  start(options());
  write_all(feed_, "a\n");
  ASSERT_TRUE(wait_until([&] { return slurp(log_) == "a\n"; }));
  ASSERT_EQ(unlink(log_.c_str()), 0);
  write_all(feed_, "b\n");
  ASSERT_TRUE(wait_until([&] { return slurp(log_) == "b\n"; }));
  ASSERT_EQ(join(), 0) << error_;
  EXPECT_EQ(stats_.reopens, 1u);
}

TEST_F(LogpipeTest, SighupReopensAtOnce) {
  start(options());
  write_all(feed_, "before\n");
  ASSERT_TRUE(wait_until([&] { return slurp(log_) == "before\n"; }));
  ASSERT_EQ(rename(log_.c_str(), (log_ + ".old").c_str()), 0);
  ASSERT_EQ(pthread_kill(runner_id_, SIGHUP), 0);
  // No input came: only the hangup can have made the new file.
  ASSERT_TRUE(wait_until([&] { return exists(log_); }));
  write_all(feed_, "after\n");
  ASSERT_TRUE(wait_until([&] { return slurp(log_) == "after\n"; }));
  ASSERT_EQ(join(), 0) << error_;
  EXPECT_EQ(slurp(log_ + ".old"), "before\n");
  EXPECT_EQ(stats_.hangups, 1u);
  EXPECT_EQ(stats_.reopens, 1u);
}

// The brief's test: a child's output through logpipe while the file is renamed
// away again and again; every line is in exactly one file, in order.
TEST_F(LogpipeTest, NoLineLostAcrossRepeatedRenames) {
  constexpr int kLines = 10'000;
  const pid_t child = aw::testing::spawn_line_producer(feed_, kLines);
  ASSERT_GT(child, 0);
  close_feed();  // the child holds the write end now
  start(options());
  std::vector<std::string> generations;
  int status = 0;
  while (waitpid(child, &status, WNOHANG) == 0) {
    const std::string to = log_ + "." + std::to_string(generations.size() + 1);
    if (rename(log_.c_str(), to.c_str()) == 0) generations.push_back(to);
    std::this_thread::sleep_for(milliseconds(3));  // a rotation every few ms
  }
  ASSERT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0);
  ASSERT_EQ(join(), 0) << error_;
  EXPECT_GE(generations.size(), 20u);
  std::vector<std::pair<std::string, std::string>> files;
  files.reserve(generations.size() + 1);
  for (const std::string& g : generations) files.emplace_back(g, slurp(g));
  if (exists(log_)) files.emplace_back(log_, slurp(log_));
  aw::testing::expect_every_line_once_in_order(files, kLines);
  EXPECT_GE(stats_.reopens + 1, generations.size());
  EXPECT_EQ(stats_.bytes_in, stats_.bytes_written);
}

}  // namespace
}  // namespace aw
