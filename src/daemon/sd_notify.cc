#include "src/daemon/sd_notify.h"

#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>

#include "src/os/environ.h"
#include "src/os/errno_text.h"
#include "src/os/unique_fd.h"

namespace aw {

SdNotifier SdNotifier::from_environment() {
  const std::optional<std::string> sock = env_var("NOTIFY_SOCKET");
  std::optional<std::uint64_t> wd;
  const std::optional<std::string> usec = env_var("WATCHDOG_USEC");
  const std::optional<std::string> wpid = env_var("WATCHDOG_PID");
  // WATCHDOG_PID, when set, names the process the watchdog is meant for.
  if (usec && (!wpid || std::atol(wpid->c_str()) == getpid())) {
    char* end = nullptr;
    unsigned long long v = std::strtoull(usec->c_str(), &end, 10);
    if (end && *end == '\0' && v > 0) wd = v;
  }
  return SdNotifier(sock.value_or(""), wd);
}

Status SdNotifier::send(std::string_view state) const {
  if (!enabled()) return Status::Ok();
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  if (socket_path_.size() >= sizeof addr.sun_path)
    return make_error("NOTIFY_SOCKET path too long: " + socket_path_);
  std::memcpy(addr.sun_path, socket_path_.data(), socket_path_.size());
  socklen_t len = static_cast<socklen_t>(offsetof(sockaddr_un, sun_path) + socket_path_.size());
  if (addr.sun_path[0] == '@') addr.sun_path[0] = '\0';  // abstract namespace
  const UniqueFd fd(socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0));
  if (!fd) return errno_error("sd_notify socket", errno);
  ssize_t n = sendto(fd.get(), state.data(), state.size(), MSG_NOSIGNAL,
                     reinterpret_cast<sockaddr*>(&addr), len);
  int err = errno;
  if (n < 0) return errno_error("sd_notify to " + socket_path_, err);
  return Status::Ok();
}

std::optional<std::uint64_t> SdNotifier::watchdog_interval_ms() const {
  if (!watchdog_usec_) return std::nullopt;
  std::uint64_t ms = *watchdog_usec_ / 2000;
  return ms ? ms : 1;
}

}  // namespace aw
