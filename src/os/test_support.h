// Shared test fixtures for tests that run real processes and files (src/os,
// src/actions): temp dirs, a loop fixture with a guard timer, small file helpers.
// Tests only.
#pragma once

#include <gtest/gtest.h>
#include <uv.h>

#include <memory>
#include <string>

#include "src/core/clock.h"
#include "src/uvx/handle.h"

namespace aw::testing {

// mkdtemp under `base`; removed with everything in it when destroyed.
class TempDir {
 public:
  explicit TempDir(const std::string& base = "/tmp");
  ~TempDir();
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  const std::string& path() const { return path_; }
  std::string operator/(const std::string& rel) const { return path_ + "/" + rel; }

 private:
  std::string path_;
};

void write_file(const std::string& path, const std::string& content);
std::string read_file(const std::string& path);
bool exists(const std::string& path);  // lstat: a dangling symlink exists
void make_dirs(const std::string& path);
// Sets the mtime (and atime) of `path` itself, never a symlink's target, to
// `t`; a failed test says why. set_tree_mtime: `path` and everything below it.
void set_mtime(const std::string& path, WallTime t);
void set_tree_mtime(const std::string& path, WallTime t);

// Fresh loop per test; a guard timer (unref'd, so it never keeps the loop alive)
// fails the test and stops the loop if it hangs; teardown checks that every
// handle was closed and reaps orphans this process adopted as subreaper.
class LoopTest : public ::testing::Test {
 protected:
  void SetUp() override;
  void TearDown() override;
  // Runs the loop until nothing is left to do (or the guard fires).
  void run() { uv_run(&loop_, UV_RUN_DEFAULT); }

  uv_loop_t loop_{};
  std::unique_ptr<uvx::Timer> guard_;
};

// Reaps zombies of orphaned grandchildren re-parented to the test process
// (never blocks; children of live ChildProcess objects are not zombies here
// because each test finishes its own children first).
void reap_orphans();

}  // namespace aw::testing
