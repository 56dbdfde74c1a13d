#include "src/control/control_client.h"

#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <thread>

#include "src/os/errno_text.h"
#include "src/os/unique_fd.h"
#include "src/uvx/unix_listener.h"

namespace aw {
namespace {

using SteadyTime = std::chrono::steady_clock::time_point;

// A reply bigger than this is not the daemon speaking the protocol.
constexpr std::size_t kMaxReplyBytes = 256 * 1024 * 1024;
constexpr std::uint64_t kRequestId = 1;

int ms_left(SteadyTime deadline) {
  auto left =
      std::chrono::ceil<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now());
  return left.count() > 0 ? static_cast<int>(left.count()) : 0;
}

Error timed_out(const std::string& socket_path, Duration timeout, const char* waiting_for) {
  return make_error("the daemon on " + socket_path + " did not " + waiting_for + " within " +
                        std::to_string(to_ms(timeout)) + " ms",
                    -ETIMEDOUT);
}

// Waits for `events` on `fd` until the deadline; false when it passed.
bool wait_for(int fd, short events, SteadyTime deadline) {
  for (;;) {
    pollfd p{fd, events, 0};
    const int left = ms_left(deadline);
    if (left == 0) return false;
    const int n = poll(&p, 1, left);
    if (n > 0) return true;
    if (n == 0) return false;
    if (errno != EINTR) return false;
  }
}

// Reads up to the first '\n'. nullopt with `why` set when no line came.
std::optional<std::string> read_line(int fd, SteadyTime deadline, std::string& why, bool& timed) {
  std::string buf;
  char chunk[16 * 1024];
  std::size_t scanned = 0;
  for (;;) {
    const std::size_t nl = buf.find('\n', scanned);
    if (nl != std::string::npos) {
      buf.resize(nl);
      return buf;
    }
    scanned = buf.size();
    ssize_t n = recv(fd, chunk, sizeof chunk, 0);
    if (n > 0) {
      buf.append(chunk, static_cast<std::size_t>(n));
      if (buf.size() > kMaxReplyBytes) {
        why = "a reply longer than " + std::to_string(kMaxReplyBytes) + " bytes";
        return std::nullopt;
      }
      continue;
    }
    if (n == 0) {
      why = buf.empty() ? "the daemon closed the connection without a reply"
                        : "the daemon closed the connection inside its reply";
      return std::nullopt;
    }
    if (errno == EINTR) continue;
    if (errno != EAGAIN) {
      why = "reading the reply: " + errno_text(errno);
      return std::nullopt;
    }
    if (!wait_for(fd, POLLIN, deadline)) {
      timed = true;
      return std::nullopt;
    }
  }
}

}  // namespace

bool is_control_unavailable(const Error& e) {
  return e.code == -ENOENT || e.code == -ECONNREFUSED;
}

Result<ControlReply> control_call(const std::string& socket_path, std::string_view method,
                                  std::string_view params_json, Duration timeout) {
  const SteadyTime deadline = std::chrono::steady_clock::now() + timeout;
  if (method.empty()) return make_error("control request: the method is empty");
  std::string params = "{}";
  if (!params_json.empty()) {
    auto compact = compact_json(params_json);
    if (!compact) return make_error("control request params: " + compact.error().message);
    if (compact->front() != '{')
      return make_error("control request params: expected a JSON object, got " + *compact);
    params = std::move(*compact);
  }
  const std::string line = encode_control_request(kRequestId, method, params);
  auto addr = uvx::make_unix_address(socket_path);
  if (!addr) return addr.error();

  UniqueFd fd;
  for (;;) {
    fd.reset(socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0));
    if (!fd.valid()) return errno_error("socket", errno);
    if (connect(fd.get(), addr->get(), addr->len) == 0) break;
    const int err = errno;
    if (err == EINTR) continue;
    // The only errors that carry these codes: is_control_unavailable() relies on it.
    if (err == ENOENT || err == ECONNREFUSED)
      return make_error("agentwatch is not running (nothing listens on " + socket_path + ": " +
                            errno_text(err) + ")",
                        -err);
    if (err != EAGAIN)  // EAGAIN: the daemon's accept backlog is full; try again
      return errno_error("cannot connect to " + socket_path, err);
    if (ms_left(deadline) == 0) return timed_out(socket_path, timeout, "accept the connection");
    std::this_thread::sleep_for(std::chrono::milliseconds(2));
  }

  // The daemon checks who we are; we check who it is, or a socket planted by
  // someone else could be told our requests and answer them.
  ucred cred{};
  socklen_t len = sizeof cred;
  if (getsockopt(fd.get(), SOL_SOCKET, SO_PEERCRED, &cred, &len) != 0)
    return make_error("cannot read the credentials of " + socket_path + ": " + errno_text(errno),
                      -EIO);
  if (cred.uid != geteuid())
    return make_error(socket_path + " is served by uid " + std::to_string(cred.uid) +
                          ", not by us (uid " + std::to_string(geteuid()) + ")",
                      -EPERM);

  std::string why;
  bool timed = false;
  std::size_t off = 0;
  while (off < line.size()) {
    ssize_t n = send(fd.get(), line.data() + off, line.size() - off, MSG_NOSIGNAL);
    if (n > 0) {
      off += static_cast<std::size_t>(n);
      continue;
    }
    const int err = errno;
    if (err == EINTR) continue;
    if (err == EAGAIN) {
      if (!wait_for(fd.get(), POLLOUT, deadline))
        return timed_out(socket_path, timeout, "take the request");
      continue;
    }
    // The daemon closed on us: refused at accept (foreign uid, connection
    // limit); its reason may be waiting to be read.
    why = "the daemon closed the connection (" + errno_text(err) + ")";
    break;
  }
  if (off == line.size()) (void)shutdown(fd.get(), SHUT_WR);  // nothing more from us

  std::optional<std::string> reply_line = read_line(fd.get(), deadline, why, timed);
  if (!reply_line) {
    if (timed) return timed_out(socket_path, timeout, "reply");
    return make_error(why + " (" + socket_path + ")", -EIO);
  }
  auto decoded = decode_control_reply(*reply_line);
  if (!decoded) return make_error(decoded.error().message, -EIO);
  // The daemon answers a request it could not read, or refuses us before
  // reading, with id null; any other id is not ours.
  if (decoded->id && *decoded->id != kRequestId)
    return make_error("the daemon replied to request " + std::to_string(*decoded->id) +
                          ", not to ours (" + std::to_string(kRequestId) + ")",
                      -EIO);
  if (!decoded->id && decoded->reply.ok) return make_error("the daemon's reply has no id", -EIO);
  return std::move(decoded->reply);
}

}  // namespace aw
