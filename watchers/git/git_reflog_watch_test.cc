// GitReflogWatch against real git in temp repos, on a real loop: a fresh loop
// per test, a guard timer, and waits on the events themselves (the loop stops
// when the expected number has arrived). git runs while the loop is idle; its
// inotify events queue up and are handled when the loop runs.
#include "watchers/git/git_reflog_watch.h"

#include <gtest/gtest.h>
#include <spawn.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <memory>
#include <string>
#include <vector>

#include "src/uvx/handle.h"

namespace aw {
namespace {

namespace fs = std::filesystem;

bool git_installed() {
  return std::system("git --version > /dev/null 2>&1") == 0;
}

class GitReflogWatchTest : public ::testing::Test {
 protected:
  void SetUp() override {
    if (!git_installed()) GTEST_SKIP() << "git is not installed";
    ASSERT_EQ(uv_loop_init(&loop_), 0);
    loop_live_ = true;
    char tmpl[] = "/tmp/aw-git-XXXXXX";
    ASSERT_NE(mkdtemp(tmpl), nullptr);
    dir_ = tmpl;
    repo_ = dir_ + "/proj";
    guard_ = std::make_unique<uvx::Timer>(&loop_, [this] {
      ADD_FAILURE() << "guard timer fired: an expected event never came";
      uv_stop(&loop_);
    });
    guard_->start(20'000);
    guard_->unref();
  }
  void TearDown() override {
    if (!loop_live_) return;
    watch_.reset();
    guard_.reset();
    uv_run(&loop_, UV_RUN_DEFAULT);
    EXPECT_EQ(uv_loop_close(&loop_), 0) << "a handle was left open";
    fs::remove_all(dir_);
  }

  // Runs git with a fixed identity; `date` (e.g. "@1700000000 +0000"), when
  // given, stamps the commit and the reflog line (GIT_COMMITTER_DATE).
  void git(std::vector<std::string> args, const std::string& date = "") {
    std::vector<std::string> argv = {"git",
                                     "-C",
                                     repo_,
                                     "-c",
                                     "user.name=Agent Smith",
                                     "-c",
                                     "user.email=agent@example.com",
                                     "-c",
                                     "gc.auto=0"};
    argv.insert(argv.end(), args.begin(), args.end());
    std::vector<char*> cargv;
    cargv.reserve(argv.size() + 1);
    for (auto& a : argv) cargv.push_back(a.data());
    cargv.push_back(nullptr);
    std::vector<std::string> env_store;
    for (char** e = environ; *e; ++e)
      if (std::string_view(*e).rfind("GIT_COMMITTER_DATE=", 0) != 0) env_store.emplace_back(*e);
    if (!date.empty()) {
      env_store.push_back("GIT_COMMITTER_DATE=" + date);
      env_store.push_back("GIT_AUTHOR_DATE=" + date);
    }
    std::vector<char*> cenv;
    cenv.reserve(env_store.size() + 1);
    for (auto& e : env_store) cenv.push_back(e.data());
    cenv.push_back(nullptr);
    posix_spawn_file_actions_t actions;
    posix_spawn_file_actions_init(&actions);
    posix_spawn_file_actions_addopen(&actions, STDOUT_FILENO, "/dev/null", O_WRONLY, 0);
    pid_t pid = -1;
    ASSERT_EQ(posix_spawnp(&pid, "git", &actions, nullptr, cargv.data(), cenv.data()), 0);
    posix_spawn_file_actions_destroy(&actions);
    int status = 0;
    ASSERT_EQ(waitpid(pid, &status, 0), pid);
    ASSERT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0) << "git " << args[0] << " failed";
  }
  void init_repo() {
    ASSERT_EQ(mkdir(repo_.c_str(), 0755), 0);
    git({"init", "-q", "-b", "master"});
  }
  void commit(const std::string& message, const std::string& date = "") {
    git({"commit", "-q", "--allow-empty", "-m", message}, date);
  }
  std::string head() {
    std::string out;
    FILE* p = popen(("git -C " + repo_ + " rev-parse HEAD").c_str(), "r");
    char buf[128];
    while (p && fgets(buf, sizeof buf, p)) out += buf;
    if (p) pclose(p);
    while (!out.empty() && out.back() == '\n') out.pop_back();
    return out;
  }

  void make_watch(OffsetStore* offsets = nullptr) {
    GitReflogWatch::Options o;
    o.offsets = offsets;
    watch_ = std::make_unique<GitReflogWatch>(
        &loop_, clock_,
        [this](Event e) {
          events_.push_back(std::move(e));
          if (want_ > 0 && events_.size() >= want_) uv_stop(&loop_);
        },
        o);
  }
  GitRepoSpec spec() { return GitRepoSpec{"proj", repo_, "project-7"}; }
  // One recent second for every entry of a test (recent: `reflog expire`
  // drops entries older than 90 days).
  static std::string this_second() { return "@" + std::to_string(time(nullptr)) + " +0000"; }
  // Runs the loop until `n` events in all have arrived (or the guard fires).
  void wait_events(std::size_t n) {
    want_ = n;
    if (events_.size() < n) uv_run(&loop_, UV_RUN_DEFAULT);
    want_ = 0;
    ASSERT_GE(events_.size(), n);
  }
  // Destroys the watch (its tailer stores its positions) and lets its
  // handles close.
  void drop_watch() {
    watch_.reset();
    uv_run(&loop_, UV_RUN_NOWAIT);
  }
  std::vector<std::string> messages() const {
    std::vector<std::string> out;
    for (const Event& e : events_) out.push_back(e.fields.get_string("message").value_or("?"));
    return out;
  }

  uv_loop_t loop_{};
  bool loop_live_ = false;
  MemoryOffsetStore store_;  // outlives watch_ (destroyed in TearDown)
  SystemClock clock_;
  std::unique_ptr<uvx::Timer> guard_;
  std::unique_ptr<GitReflogWatch> watch_;
  std::vector<Event> events_;
  std::size_t want_ = 0;
  std::string dir_, repo_;
};

TEST_F(GitReflogWatchTest, AFirstCommitBecomesAGitCommitEvent) {
  init_repo();
  ASSERT_FALSE(fs::exists(repo_ + "/.git/logs")) << "a fresh repo has no reflog yet";
  make_watch();
  ASSERT_TRUE(watch_->add_repo(spec()));
  watch_->start();
  commit("all phases complete");
  wait_events(1);
  ASSERT_EQ(events_.size(), 1u);
  const Event& e = events_[0];
  EXPECT_EQ(e.kind, "git.commit");
  EXPECT_EQ(e.source, "git");
  EXPECT_EQ(e.path, repo_);
  EXPECT_EQ(e.entity, "project-7");
  EXPECT_EQ(e.fields.get_string("repo"), "proj");
  EXPECT_EQ(e.fields.get_string("action"), "commit (initial)");
  EXPECT_EQ(e.fields.get_string("message"), "all phases complete");
  EXPECT_EQ(e.fields.get_string("old"), std::string(40, '0'));
  EXPECT_EQ(e.fields.get_string("new"), head());
  EXPECT_EQ(e.fields.get_string("author"), "Agent Smith");
  EXPECT_EQ(e.fields.get_string("email"), "agent@example.com");
  EXPECT_TRUE(e.fields.get_int("reflog_time"));
  EXPECT_EQ(watch_->stats().entries, 1u);
}

TEST_F(GitReflogWatchTest, HistoryIsNotReplayedAtFirstSight) {
  init_repo();
  commit("one");
  commit("two");
  commit("three");
  make_watch();
  ASSERT_TRUE(watch_->add_repo(spec()));
  watch_->start();
  commit("four");
  wait_events(1);
  EXPECT_EQ(messages(), std::vector<std::string>{"four"});
}

TEST_F(GitReflogWatchTest, EveryKindOfHeadUpdateHasItsClass) {
  init_repo();
  commit("base");
  make_watch();
  ASSERT_TRUE(watch_->add_repo(spec()));
  watch_->start();
  git({"checkout", "-q", "-b", "feature"});
  commit("on feature");
  git({"checkout", "-q", "master"});
  git({"merge", "-q", "--no-ff", "-m", "bring feature in", "feature"});
  git({"reset", "-q", "--hard", "HEAD~1"});
  wait_events(5);
  std::vector<std::string> kinds;
  for (const Event& e : events_) kinds.push_back(e.kind);
  EXPECT_EQ(kinds, (std::vector<std::string>{"git.checkout", "git.commit", "git.checkout",
                                             "git.merge", "git.reset"}));
  EXPECT_EQ(events_[0].fields.get_string("message"), "moving from master to feature");
  EXPECT_EQ(events_[3].fields.get_string("action"), "merge feature");
  EXPECT_EQ(events_[4].fields.get_string("message"), "moving to HEAD~1");
}

TEST_F(GitReflogWatchTest, CommitsMadeWhileDownAreDeliveredAtStart) {
  init_repo();
  commit("before");
  make_watch(&store_);
  ASSERT_TRUE(watch_->add_repo(spec()));
  watch_->start();
  commit("seen live");
  wait_events(1);
  drop_watch();
  commit("while down 1");
  commit("while down 2");
  make_watch(&store_);
  ASSERT_TRUE(watch_->add_repo(spec()));
  watch_->start();
  wait_events(3);
  EXPECT_EQ(messages(), (std::vector<std::string>{"seen live", "while down 1", "while down 2"}));
}

// `git gc` / `git reflog expire` rewrite logs/HEAD as a new file: the tailer
// reads it from the start, and the guard drops the history. All entries are
// stamped in the same second, the hard case.
TEST_F(GitReflogWatchTest, ARewrittenReflogIsNotReplayed) {
  const std::string when = this_second();
  init_repo();
  commit("h1", when);
  commit("h2", when);
  make_watch();
  ASSERT_TRUE(watch_->add_repo(spec()));
  watch_->start();
  commit("live", when);
  wait_events(1);
  struct stat before {
  }, after{};
  ASSERT_EQ(stat((repo_ + "/.git/logs/HEAD").c_str(), &before), 0);
  git({"reflog", "expire", "--all"});
  ASSERT_EQ(stat((repo_ + "/.git/logs/HEAD").c_str(), &after), 0);
  ASSERT_NE(before.st_ino, after.st_ino) << "git rewrote the reflog in place?";
  commit("after the rewrite", when);
  wait_events(2);
  EXPECT_EQ(messages(), (std::vector<std::string>{"live", "after the rewrite"}));
  EXPECT_GE(watch_->stats().rewrites, 1u);
  EXPECT_EQ(watch_->stats().replays_skipped, 3u);  // h1, h2, live
}

TEST_F(GitReflogWatchTest, AReflogRewrittenWhileDownIsNotReplayed) {
  const std::string when = this_second();
  init_repo();
  commit("h1", when);
  make_watch(&store_);
  ASSERT_TRUE(watch_->add_repo(spec()));
  watch_->start();
  commit("live", when);
  wait_events(1);
  drop_watch();
  git({"reflog", "expire", "--all"});
  commit("while down", when);
  make_watch(&store_);
  ASSERT_TRUE(watch_->add_repo(spec()));
  watch_->start();
  commit("after restart", when);
  wait_events(3);
  EXPECT_EQ(messages(), (std::vector<std::string>{"live", "while down", "after restart"}));
  EXPECT_EQ(watch_->stats().replays_skipped, 2u);  // h1, live
}

TEST_F(GitReflogWatchTest, AGarbageLineIsAGitError) {
  init_repo();
  commit("base");
  make_watch();
  ASSERT_TRUE(watch_->add_repo(spec()));
  watch_->start();
  std::ofstream(repo_ + "/.git/logs/HEAD", std::ios::app) << "this is not a reflog line\n";
  commit("after");
  wait_events(2);
  EXPECT_EQ(events_[0].kind, "git.error");
  EXPECT_EQ(events_[0].fields.get_string("op"), "parse");
  EXPECT_NE(events_[0].fields.get_string("error")->find(repo_ + "/.git/logs/HEAD"),
            std::string::npos);
  EXPECT_EQ(events_[0].fields.get_string("line"), "this is not a reflog line");
  EXPECT_EQ(events_[1].kind, "git.commit");
  EXPECT_EQ(watch_->stats().unparsed, 1u);
}

TEST_F(GitReflogWatchTest, BadReposAreRefusedWithTheirName) {
  make_watch();
  fs::create_directories(dir_ + "/plain");
  Status not_repo = watch_->add_repo(GitRepoSpec{"p", dir_ + "/plain", ""});
  ASSERT_FALSE(not_repo);
  EXPECT_NE(not_repo.error().message.find("git repo 'p'"), std::string::npos);
  EXPECT_NE(not_repo.error().message.find("not a git work tree"), std::string::npos);
  init_repo();
  ASSERT_TRUE(watch_->add_repo(spec()));
  Status dup = watch_->add_repo(spec());
  ASSERT_FALSE(dup);
  EXPECT_NE(dup.error().message.find("already watched"), std::string::npos);
  Status unnamed = watch_->add_repo(GitRepoSpec{"", repo_, ""});
  ASSERT_FALSE(unnamed);
  EXPECT_EQ(watch_->stats().repos, 1u);
}

}  // namespace
}  // namespace aw
