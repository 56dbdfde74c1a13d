// Shared by the notify tests: a temp dir, a blocking raw socket client (run on
// a thread while the loop runs on the test's thread), and a loop fixture.
#pragma once

#include <gtest/gtest.h>
#include <uv.h>

#include <atomic>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "src/core/event.h"

namespace aw::notify_test {

// mkdtemp under /tmp (0700, like a runtime dir); removed with its content.
struct TempDir {
  TempDir();
  ~TempDir();
  std::string path;
};

// A blocking client with 5 s send/receive timeouts, so a broken server fails
// a test instead of hanging it.
class RawClient {
 public:
  explicit RawClient(const std::string& socket_path);
  bool connected() const { return fd_ >= 0; }
  int fd() const { return fd_; }
  ~RawClient();
  // Sends everything; false on error (EPIPE, ECONNRESET, timeout).
  bool send_all(std::string_view data);
  // The next line without '\n'; nullopt on EOF, error or timeout.
  std::optional<std::string> read_line();
  // True when the server closed: read returns 0 or ECONNRESET.
  bool at_eof();
  void shutdown_write();

 private:
  int fd_ = -1;
  std::string buf_;
};

std::string field(const Event& e, const char* key);
std::vector<std::string> read_lines(const std::string& path);

// A fresh loop per test, an async handle client threads use to wake it, and
// the events the component under test emitted.
class LoopTest : public ::testing::Test {
 protected:
  void SetUp() override;
  void TearDown() override;

  // Runs the loop until `pred` holds or the guard fires; returns pred().
  bool run_until(const std::function<bool()>& pred, std::uint64_t guard_ms = 8000);
  // Runs `fn` on a thread while the loop runs here, until it returns.
  void run_client(const std::function<void()>& fn);
  std::function<void(Event)> collector() {
    return [this](Event e) { events_.push_back(std::move(e)); };
  }
  std::size_t count(std::string_view kind) const;
  const Event* find(std::string_view kind, std::size_t nth = 0) const;
  std::size_t count_refused(std::string_view reason) const;

  // Hook for subclasses to destroy what holds handles before the loop closes.
  virtual void release_handles() {}

  uv_loop_t loop_{};
  uv_async_t wake_{};
  std::vector<Event> events_;
};

}  // namespace aw::notify_test
