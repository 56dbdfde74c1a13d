#include "src/http/http_test_client.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>

#include "src/http/http_message.h"

namespace aw::http_test {

std::optional<std::string> TestResponse::header(std::string_view name) const {
  for (const auto& [k, v] : headers)
    if (http::equals_ignore_case(k, name)) return v;
  return std::nullopt;
}

std::string request(std::string_view target, std::string_view extra, std::string_view method) {
  std::string r(method);
  r += ' ';
  r += target;
  r += " HTTP/1.1\r\nHost: 127.0.0.1\r\n";
  r += extra;
  r += "\r\n";
  return r;
}

TcpClient::TcpClient(std::uint16_t port, int receive_buffer) {
  fd_ = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd_ < 0) return;
  timeval tv{5, 0};
  setsockopt(fd_, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
  setsockopt(fd_, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  if (receive_buffer > 0)
    setsockopt(fd_, SOL_SOCKET, SO_RCVBUF, &receive_buffer, sizeof receive_buffer);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_port = htons(port);
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (connect(fd_, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0) close_now();
}

TcpClient::~TcpClient() {
  close_now();
}

void TcpClient::close_now() {
  if (fd_ >= 0) close(fd_);
  fd_ = -1;
}

void TcpClient::shutdown_write() {
  ::shutdown(fd_, SHUT_WR);
}

bool TcpClient::send_all(std::string_view data) {
  while (!data.empty()) {
    const ssize_t n = send(fd_, data.data(), data.size(), MSG_NOSIGNAL);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return false;
    data.remove_prefix(static_cast<std::size_t>(n));
  }
  return true;
}

long TcpClient::fill() {
  char chunk[16384];
  for (;;) {
    const ssize_t n = recv(fd_, chunk, sizeof chunk, 0);
    if (n < 0 && errno == EINTR) continue;
    if (n > 0) buf_.append(chunk, static_cast<std::size_t>(n));
    return n;
  }
}

std::optional<std::string> TcpClient::read_until(std::string_view delim) {
  for (;;) {
    const std::size_t at = buf_.find(delim);
    if (at != std::string::npos) {
      std::string out = buf_.substr(0, at + delim.size());
      buf_.erase(0, at + delim.size());
      return out;
    }
    if (fill() <= 0) return std::nullopt;
  }
}

std::optional<TestResponse> TcpClient::read_response(bool head_only) {
  std::optional<std::string> head = read_until("\r\n\r\n");
  if (!head) return std::nullopt;
  TestResponse r;
  std::string_view rest(*head);
  const std::size_t eol = rest.find("\r\n");
  const std::string_view status_line = rest.substr(0, eol);
  rest.remove_prefix(eol + 2);
  if (status_line.size() < 12 || status_line.substr(0, 9) != "HTTP/1.1 ") return std::nullopt;
  r.status = std::atoi(std::string(status_line.substr(9, 3)).c_str());
  while (!rest.empty()) {
    const std::size_t end = rest.find("\r\n");
    const std::string_view line = rest.substr(0, end);
    rest.remove_prefix(end + 2);
    if (line.empty()) break;
    const std::size_t colon = line.find(':');
    if (colon == std::string_view::npos) return std::nullopt;
    std::string_view value = line.substr(colon + 1);
    while (!value.empty() && value.front() == ' ') value.remove_prefix(1);
    r.headers.emplace_back(std::string(line.substr(0, colon)), std::string(value));
  }
  if (head_only) return r;
  const auto length = r.header("Content-Length");
  const std::size_t want = length ? std::strtoul(length->c_str(), nullptr, 10) : 0;
  while (buf_.size() < want)
    if (fill() <= 0) return std::nullopt;
  r.body = buf_.substr(0, want);
  buf_.erase(0, want);
  return r;
}

std::optional<std::string> TcpClient::read_to_eof() {
  for (;;) {
    const long n = fill();
    if (n == 0 || (n < 0 && errno == ECONNRESET)) {
      std::string out = std::move(buf_);
      buf_.clear();
      return out;
    }
    if (n < 0) return std::nullopt;
  }
}

bool TcpClient::at_eof() {
  if (!buf_.empty()) return false;
  const long n = fill();
  return n == 0 || (n < 0 && errno == ECONNRESET);
}

}  // namespace aw::http_test
