#include "src/uvx/unix_listener_test_support.h"

#include <sys/socket.h>
#include <sys/time.h>
#include <sys/un.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <filesystem>

#include "src/uvx/handle.h"
#include "src/uvx/run_until.h"

namespace aw::uvx_test {

TempDir::TempDir(const std::string& prefix) {
  std::string tmpl = "/tmp/" + prefix + "-XXXXXX";
  if (mkdtemp(tmpl.data()) == nullptr) std::abort();
  path = tmpl;
}

TempDir::~TempDir() {
  std::error_code ec;
  std::filesystem::remove_all(path, ec);
}

RawClient::RawClient(const std::string& socket_path) {
  fd_ = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd_ < 0) return;
  timeval tv{5, 0};
  setsockopt(fd_, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
  setsockopt(fd_, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  sockaddr_un a{};
  a.sun_family = AF_UNIX;
  std::strncpy(a.sun_path, socket_path.c_str(), sizeof a.sun_path - 1);
  if (connect(fd_, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0) close_now();
}

RawClient::~RawClient() {
  close_now();
}

void RawClient::close_now() {
  if (fd_ >= 0) close(fd_);
  fd_ = -1;
}

bool RawClient::send_all(std::string_view data) {
  while (!data.empty()) {
    ssize_t n = send(fd_, data.data(), data.size(), MSG_NOSIGNAL);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return false;
    data.remove_prefix(static_cast<std::size_t>(n));
  }
  return true;
}

std::optional<std::string> RawClient::read_line() {
  for (;;) {
    const std::size_t nl = buf_.find('\n');
    if (nl != std::string::npos) {
      std::string line = buf_.substr(0, nl);
      buf_.erase(0, nl + 1);
      return line;
    }
    char chunk[4096];
    ssize_t n = recv(fd_, chunk, sizeof chunk, 0);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return std::nullopt;
    buf_.append(chunk, static_cast<std::size_t>(n));
  }
}

bool RawClient::at_eof() {
  if (!buf_.empty()) return false;
  char c;
  for (;;) {
    ssize_t n = recv(fd_, &c, 1, 0);
    if (n < 0 && errno == EINTR) continue;
    return n == 0 || (n < 0 && errno == ECONNRESET);
  }
}

void RawClient::shutdown_write() {
  ::shutdown(fd_, SHUT_WR);
}

bool make_stale_socket(const std::string& path) {
  int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return false;
  sockaddr_un a{};
  a.sun_family = AF_UNIX;
  std::strncpy(a.sun_path, path.c_str(), sizeof a.sun_path - 1);
  const bool bound = bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0;
  const int err = errno;
  close(fd);  // never listened: a connect to the file is refused
  errno = err;
  return bound;
}

ClientThread::ClientThread(uv_async_t* wake, std::function<void()> fn)
    : thread_([this, wake, fn = std::move(fn)] {
        fn();
        done_ = true;
        uv_async_send(wake);
      }) {}

ClientThread::~ClientThread() {
  thread_.join();
}

void LoopTest::SetUp() {
  ASSERT_EQ(uv_loop_init(&loop_), 0);
  ASSERT_EQ(uv_async_init(&loop_, &wake_, nullptr), 0);
}

void LoopTest::TearDown() {
  release_handles();
  uv_close(reinterpret_cast<uv_handle_t*>(&wake_), nullptr);
  uv_run(&loop_, UV_RUN_DEFAULT);  // close callbacks
  EXPECT_EQ(uv_loop_close(&loop_), 0) << "a handle was left open";
}

bool LoopTest::run_until(const std::function<bool()>& pred, std::uint64_t guard_ms) {
  if (pred()) return true;
  bool timed_out = false;
  uvx::Timer guard(&loop_, [&] { timed_out = true; });
  guard.start(guard_ms);
  uvx::run_until(&loop_, [&] { return pred() || timed_out; });
  return pred();
}

void LoopTest::run_client(const std::function<void()>& fn) {
  auto t = spawn(fn);
  const bool finished = run_until([&] { return t->finished(); }, 20000);
  EXPECT_TRUE(finished) << "the client thread did not finish in time";
}

std::vector<std::string> LoopTest::exchange_on(const std::string& socket_path,
                                               const std::string& data, std::size_t replies) {
  std::vector<std::string> got;
  run_client([&] {
    RawClient c(socket_path);
    if (!c.connected() || !c.send_all(data)) return;
    for (std::size_t i = 0; i < replies; ++i) {
      auto line = c.read_line();
      if (!line) break;
      got.push_back(*line);
    }
  });
  return got;
}

}  // namespace aw::uvx_test
