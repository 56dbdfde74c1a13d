#include "src/supervise/supervise_test_support.h"

#include <sys/inotify.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <filesystem>
#include <fstream>

#include "src/os/environ.h"
#include "src/os/errno_text.h"
#include "src/uvx/run_until.h"

namespace aw::testing {

namespace {

// Before main (gtest's): a re-executed copy of this binary that was asked to
// be a pause child never reaches the tests.
const bool kIsPauseChild = [] {
  if (env_var(kPauseChildEnv) != "pause") return false;
  for (;;) ::pause();  // a caught signal returns; a fatal one ends the process
}();

}  // namespace

std::string self_exe() {
  (void)kIsPauseChild;
  std::error_code ec;
  return std::filesystem::read_symlink("/proc/self/exe", ec).string();
}

TempDir::TempDir() {
  char tmpl[] = "/tmp/aw-supervise-XXXXXX";
  const char* p = ::mkdtemp(tmpl);
  if (!p) std::abort();
  path_ = p;
}

TempDir::~TempDir() {
  std::error_code ec;
  std::filesystem::remove_all(path_, ec);
}

void write_file(const std::string& path, const std::string& content) {
  std::ofstream f(path, std::ios::binary | std::ios::trunc);
  f << content;
}

void LoopTest::SetUp() {
  ASSERT_EQ(uv_loop_init(&loop_), 0);
  guard_ = std::make_unique<uvx::Timer>(&loop_, [this] {
    guard_fired_ = true;
    ADD_FAILURE() << "guard timer fired: the test hung";
    uv_stop(&loop_);
  });
  guard_->start(20'000);
  guard_->unref();
}

void LoopTest::TearDown() {
  guard_.reset();
  uv_run(&loop_, UV_RUN_DEFAULT);
  EXPECT_EQ(uv_loop_close(&loop_), 0) << "a handle was left open";
  reap_orphans();
}

void LoopTest::run_until(const std::function<bool()>& done) {
  // The guard bounds it: it stops the loop and fails the test.
  if (!uvx::run_until(&loop_, done) && !guard_fired_)
    ADD_FAILURE() << "the loop ran out of work before the condition held";
}

FileAppears::FileAppears(uv_loop_t* loop, const std::string& dir, const std::string& name)
    : fd_(::inotify_init1(IN_NONBLOCK | IN_CLOEXEC)), name_(name) {
  ::inotify_add_watch(fd_.get(), dir.c_str(), IN_CREATE | IN_MOVED_TO | IN_CLOSE_WRITE);
  poll_ = std::make_unique<uvx::Poll>(loop, fd_.get(), [this](int, int) {
    alignas(inotify_event) char buf[4096];
    ssize_t n;
    while ((n = ::read(fd_.get(), buf, sizeof buf)) > 0) {
      for (char* p = buf; p < buf + n;) {
        auto* ev = reinterpret_cast<inotify_event*>(p);
        if (ev->len && name_ == ev->name) seen_ = true;
        p += sizeof(inotify_event) + ev->len;
      }
    }
    if (seen_) poll_->stop();
  });
  poll_->start(UV_READABLE);
}

std::vector<std::string> EventRecorder::kinds() const {
  std::vector<std::string> k;
  for (const Event& e : events) k.push_back(e.kind);
  return k;
}

std::size_t EventRecorder::count(const std::string& kind) const {
  std::size_t n = 0;
  for (const Event& e : events) n += e.kind == kind;
  return n;
}

const Event* EventRecorder::last(const std::string& kind) const {
  for (auto it = events.rbegin(); it != events.rend(); ++it)
    if (it->kind == kind) return &*it;
  return nullptr;
}

Result<std::string> FakeEnv::read_proc_stat(pid_t pid) {
  if (auto it = stat_errno.find(pid); it != stat_errno.end())
    return errno_error("injected", it->second);
  return Env::read_proc_stat(pid);
}

Result<std::string> FakeEnv::read_proc_exe(pid_t pid) {
  if (auto it = exe_errno.find(pid); it != exe_errno.end())
    return errno_error("injected", it->second);
  return Env::read_proc_exe(pid);
}

void reap_orphans() {
  // Only zombies: WNOHANG never waits for a live process.
  while (::waitpid(-1, nullptr, WNOHANG) > 0) {
  }
}

bool wait_for_environ(pid_t pid) {
  for (int i = 0; i < 2000; ++i) {
    auto text = Env::real().read_proc_environ(pid);
    if (text && !text->empty()) return true;
    ::usleep(1000);
  }
  return false;
}

}  // namespace aw::testing
