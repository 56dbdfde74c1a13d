// Shared by the control tests: a temp dir, a blocking raw socket client (run
// on a thread while the loop runs on the test's thread), and a loop fixture.
#pragma once

#include <gtest/gtest.h>
#include <uv.h>

#include <atomic>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <thread>

namespace aw::control_test {

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
  ~RawClient();
  RawClient(const RawClient&) = delete;
  RawClient& operator=(const RawClient&) = delete;
  bool connected() const { return fd_ >= 0; }
  // Sends everything; false on error (EPIPE, ECONNRESET, timeout).
  bool send_all(std::string_view data);
  // The next line without '\n'; nullopt on EOF, error or timeout.
  std::optional<std::string> read_line();
  // True when the server closed: read returns 0 or ECONNRESET.
  bool at_eof();
  void shutdown_write();
  void close_now();

 private:
  int fd_ = -1;
  std::string buf_;
};

// A function running on its own thread; wakes the test loop when it ends.
class ClientThread {
 public:
  ClientThread(uv_async_t* wake, std::function<void()> fn);
  ~ClientThread();  // joins
  bool finished() const { return done_.load(); }

 private:
  std::atomic<bool> done_{false};
  std::thread thread_;
};

// A fresh loop per test, and an async handle client threads use to wake it.
class LoopTest : public ::testing::Test {
 protected:
  void SetUp() override;
  void TearDown() override;

  // Runs the loop until `pred` holds or the guard fires; returns pred().
  bool run_until(const std::function<bool()>& pred, std::uint64_t guard_ms = 8000);
  // Runs `fn` on a thread while the loop runs here, until it returns.
  void run_client(const std::function<void()>& fn);
  std::unique_ptr<ClientThread> spawn(std::function<void()> fn) {
    return std::make_unique<ClientThread>(&wake_, std::move(fn));
  }

  // Hook for subclasses to destroy what holds handles before the loop closes.
  virtual void release_handles() {}

  uv_loop_t loop_{};
  uv_async_t wake_{};
};

}  // namespace aw::control_test
