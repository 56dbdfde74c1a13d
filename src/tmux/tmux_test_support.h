// Test fixtures for tmux_test: a fresh loop per test with a guard, a PRIVATE
// tmux server (tmux -L aw-test-<random> -f /dev/null: never the user's server,
// never the user's config) killed at teardown, and temp dirs. Tests only.
#pragma once

#include <gtest/gtest.h>
#include <uv.h>

#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "src/core/clock.h"
#include "src/tmux/tmux_client.h"
#include "src/uvx/handle.h"

namespace aw::tmux_testing {

// mkdtemp under /tmp; removed with everything in it when destroyed.
class TempDir {
 public:
  explicit TempDir(const std::string& prefix = "aw-tmux-test");
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
std::vector<std::string> list_dir(const std::string& dir);  // names, sorted

// "aw-test-<pid>-<random hex>"
std::string private_server_name();

class TmuxLoopTest : public ::testing::Test {
 protected:
  void SetUp() override;
  void TearDown() override;

  // Runs the loop until `done()` is true; false (and a test failure) if the
  // guard (`limit`) fired first.
  bool run_until(const std::function<bool()>& done, Duration limit = std::chrono::seconds(15));
  // Runs one tmux command on the private server and waits for its reply. A
  // client that failed (timeout, spawn) is a test failure and comes back as a
  // reply with exit_code -1 and the error in `err`: the Result is always ok.
  Result<TmuxReply> tmux(std::vector<std::string> args);
  // The shared client's options: a generous ceiling (see SetUp).
  static TmuxClientOptions client_options();
  // The private server's argv prefix: {"tmux", "-L", name, "-f", "/dev/null"}.
  TmuxServer server() const;

  uv_loop_t loop_{};
  SystemClock clock_;
  std::string server_name_;
  std::unique_ptr<TmuxClient> client_;
};

}  // namespace aw::tmux_testing
