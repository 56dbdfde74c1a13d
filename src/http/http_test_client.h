// Test-only (built into http_test, never into the daemon): a blocking HTTP/1.1
// client on a TCP socket, with 5 s send/receive timeouts so that a broken
// server fails a test instead of hanging it. Use it on a client thread
// (uvx_test::LoopTest::spawn / run_client) while the loop runs on the test's.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace aw::http_test {

struct TestResponse {
  int status = 0;
  std::vector<std::pair<std::string, std::string>> headers;
  std::string body;
  // The first header named `name` (case-insensitive).
  std::optional<std::string> header(std::string_view name) const;
};

// "<method> <target> HTTP/1.1", "Host: 127.0.0.1", `extra` (whole lines, each
// ending "\r\n"), then the blank line.
std::string request(std::string_view target, std::string_view extra = {},
                    std::string_view method = "GET");

class TcpClient {
 public:
  // Connects to 127.0.0.1:`port`. A `receive_buffer` > 0 is set (SO_RCVBUF)
  // before connecting: a client that never reads then fills up sooner.
  explicit TcpClient(std::uint16_t port, int receive_buffer = 0);
  ~TcpClient();
  TcpClient(const TcpClient&) = delete;
  TcpClient& operator=(const TcpClient&) = delete;

  bool connected() const { return fd_ >= 0; }
  // Sends everything; false on error (EPIPE, ECONNRESET, timeout).
  bool send_all(std::string_view data);
  // One response: the head, then as many body bytes as Content-Length says
  // (none when `head_only`: a HEAD request, or a stream's head). nullopt on
  // EOF, error or timeout before it is complete.
  std::optional<TestResponse> read_response(bool head_only = false);
  // Everything up to and including the next `delim`; nullopt as above.
  std::optional<std::string> read_until(std::string_view delim);
  // Reads until the server closes (EOF or reset): the bytes read before.
  // nullopt on a timeout.
  std::optional<std::string> read_to_eof();
  // True when the server closed: a read returns 0 or ECONNRESET.
  bool at_eof();
  void shutdown_write();
  void close_now();

 private:
  // One recv() into buf_: the bytes read, 0 at EOF, -1 on error or timeout
  // (errno tells which).
  long fill();

  int fd_ = -1;
  std::string buf_;
};

}  // namespace aw::http_test
