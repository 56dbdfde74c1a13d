// Shared fixtures for schedule_test: temp dirs, file helpers and a loop fixture
// with a guard timer (a clock whose wall time can jump on its own is
// ManualClock::jump_wall). Tests only.
#pragma once

#include <gtest/gtest.h>
#include <uv.h>

#include <functional>
#include <memory>
#include <string>

#include "src/core/clock.h"
#include "src/uvx/handle.h"

namespace aw::testing {

// mkdtemp under /tmp; removed with everything in it when destroyed.
class TempDir {
 public:
  TempDir();
  ~TempDir();
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  const std::string& path() const { return path_; }
  std::string operator/(const std::string& rel) const { return path_ + "/" + rel; }

 private:
  std::string path_;
};

void write_file(const std::string& path, const std::string& content, int mode = 0644);
std::string read_file(const std::string& path);
bool exists(const std::string& path);

// Fresh loop per test; a guard timer (unref'd, so it never keeps the loop
// alive) fails the test and stops the loop if it hangs; teardown closes every
// handle and checks uv_loop_close() == 0.
class LoopTest : public ::testing::Test {
 protected:
  void SetUp() override;
  void TearDown() override;
  // Runs until `done()` holds (checked after every loop iteration) or the guard fires.
  void run_until(const std::function<bool()>& done);
  // Runs until nothing is left to do.
  void drain() { uv_run(&loop_, UV_RUN_DEFAULT); }

  uv_loop_t loop_{};
  std::unique_ptr<uvx::Timer> guard_;
  bool guard_fired_ = false;
};

}  // namespace aw::testing
