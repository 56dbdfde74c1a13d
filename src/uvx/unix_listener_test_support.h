// Test-only (built into the test executables, never into the daemon): what the
// tests of every server on a unix socket need (UnixListener's, the notify
// server's, the control server's): a temp dir, a blocking raw socket client
// run on a thread while the loop runs on the test's thread, and a loop fixture.
#pragma once

#include <gtest/gtest.h>
#include <uv.h>

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

namespace aw::uvx_test {

// mkdtemp under /tmp (0700, like a runtime dir) named /tmp/<prefix>-XXXXXX;
// removed with its content.
struct TempDir {
  explicit TempDir(const std::string& prefix);
  ~TempDir();
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  std::string path;
};

// A blocking client with 5 s send/receive timeouts, so a broken server fails
// a test instead of hanging it. Use it on a client thread, not the loop's.
class RawClient {
 public:
  explicit RawClient(const std::string& socket_path);
  ~RawClient();
  RawClient(const RawClient&) = delete;
  RawClient& operator=(const RawClient&) = delete;
  bool connected() const { return fd_ >= 0; }
  int fd() const { return fd_; }
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

// Leaves a socket file at `path` that nobody listens on, as a daemon killed
// with SIGKILL does. False (errno set) if it could not.
bool make_stale_socket(const std::string& path);

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
// TearDown checks that every handle was closed (uv_loop_close() == 0).
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
  // One connection to `socket_path`: sends `data`, then reads up to `replies`
  // lines (fewer if the server closes or a read times out).
  std::vector<std::string> exchange_on(const std::string& socket_path, const std::string& data,
                                       std::size_t replies);

  // Hook for subclasses to destroy what holds handles before the loop closes.
  virtual void release_handles() {}

  uv_loop_t loop_{};
  uv_async_t wake_{};
};

}  // namespace aw::uvx_test
