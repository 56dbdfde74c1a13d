#include "src/os/test_support.h"

#include <fcntl.h>
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

namespace aw::testing {
namespace {

// Tests that kill process groups orphan grandchildren: adopt them (instead of
// init) so they can be reaped and checked.
class SubreaperEnvironment : public ::testing::Environment {
 public:
  void SetUp() override { ASSERT_EQ(::prctl(PR_SET_CHILD_SUBREAPER, 1), 0); }
  void TearDown() override { reap_orphans(); }
};

[[maybe_unused]] ::testing::Environment* const g_subreaper =
    ::testing::AddGlobalTestEnvironment(new SubreaperEnvironment);

}  // namespace

TempDir::TempDir(const std::string& base) {
  std::string templ = base + "/aw-actions-test.XXXXXX";
  char* p = ::mkdtemp(templ.data());
  if (!p) {
    ADD_FAILURE() << "mkdtemp in " << base << ": " << std::strerror(errno);
    return;
  }
  path_ = p;
}

TempDir::~TempDir() {
  if (path_.empty()) return;
  std::error_code ec;
  std::filesystem::remove_all(path_, ec);
}

void write_file(const std::string& path, const std::string& content) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  ASSERT_TRUE(out) << "cannot write " << path;
  out << content;
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

void make_dirs(const std::string& path) {
  std::filesystem::create_directories(path);
}

void LoopTest::SetUp() {
  ASSERT_EQ(uv_loop_init(&loop_), 0);
  guard_ = std::make_unique<uvx::Timer>(&loop_, [this] {
    ADD_FAILURE() << "guard timer fired: the test hung";
    uv_stop(&loop_);
  });
  guard_->start(30'000);
  guard_->unref();
}

void LoopTest::TearDown() {
  guard_.reset();
  uv_run(&loop_, UV_RUN_DEFAULT);  // let close callbacks run
  EXPECT_EQ(uv_loop_close(&loop_), 0) << "a handle was left open";
  reap_orphans();
}

void reap_orphans() {
  int status;
  while (::waitpid(-1, &status, WNOHANG) > 0) {
  }
}

void set_mtime(const std::string& path, WallTime t) {
  const std::int64_t ns = t.time_since_epoch().count();
  const timespec ts{.tv_sec = ns / 1'000'000'000, .tv_nsec = ns % 1'000'000'000};
  const timespec times[2] = {ts, ts};
  ASSERT_EQ(::utimensat(AT_FDCWD, path.c_str(), times, AT_SYMLINK_NOFOLLOW), 0)
      << path << ": " << std::strerror(errno);
}

void set_tree_mtime(const std::string& path, WallTime t) {
  for (const auto& e : std::filesystem::recursive_directory_iterator(path))
    set_mtime(e.path().string(), t);
  set_mtime(path, t);
}

}  // namespace aw::testing
