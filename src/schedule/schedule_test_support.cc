#include "src/schedule/schedule_test_support.h"

#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "src/uvx/run_until.h"

namespace aw::testing {
namespace {

// Probes killed by their group leave no orphans, but a test that fails half way
// might: adopt them (instead of init) so they can be reaped.
class SubreaperEnvironment : public ::testing::Environment {
 public:
  void SetUp() override { ASSERT_EQ(::prctl(PR_SET_CHILD_SUBREAPER, 1), 0); }
};

[[maybe_unused]] ::testing::Environment* const g_subreaper =
    ::testing::AddGlobalTestEnvironment(new SubreaperEnvironment);

void reap_orphans() {
  int status;
  while (::waitpid(-1, &status, WNOHANG) > 0) {
  }
}

}  // namespace

TempDir::TempDir() {
  std::string templ = "/tmp/aw-schedule-test.XXXXXX";
  char* p = ::mkdtemp(templ.data());
  if (!p) {
    ADD_FAILURE() << "mkdtemp: " << std::strerror(errno);
    return;
  }
  path_ = p;
}

TempDir::~TempDir() {
  if (path_.empty()) return;
  std::error_code ec;
  std::filesystem::remove_all(path_, ec);
}

void write_file(const std::string& path, const std::string& content, int mode) {
  {
    std::ofstream out(path, std::ios::binary | std::ios::trunc);
    ASSERT_TRUE(out) << "cannot write " << path;
    out << content;
  }
  ASSERT_EQ(::chmod(path.c_str(), static_cast<mode_t>(mode)), 0) << path;
}

std::string read_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

bool exists(const std::string& path) {
  struct stat st {};
  return ::lstat(path.c_str(), &st) == 0;
}

void LoopTest::SetUp() {
  ASSERT_EQ(uv_loop_init(&loop_), 0);
  guard_ = std::make_unique<uvx::Timer>(&loop_, [this] {
    ADD_FAILURE() << "guard timer fired: the test hung";
    guard_fired_ = true;
    uv_stop(&loop_);
  });
  guard_->start(30'000);
  guard_->unref();
}

void LoopTest::run_until(const std::function<bool()>& done) {
  // The guard bounds it: it stops the loop and fails the test.
  if (!uvx::run_until(&loop_, done) && !guard_fired_)
    ADD_FAILURE() << "the loop ran out of work before the condition held";
}

void LoopTest::TearDown() {
  guard_.reset();
  uv_run(&loop_, UV_RUN_DEFAULT);  // let close callbacks and pool work finish
  EXPECT_EQ(uv_loop_close(&loop_), 0) << "a handle was left open";
  reap_orphans();
}

}  // namespace aw::testing
