#include "watchers/notify/unix_socket.h"

#include <cstddef>
#include <cstring>

namespace aw::notify_internal {

Result<UnixAddress> make_unix_address(const std::string& path) {
  UnixAddress a;
  a.addr.sun_family = AF_UNIX;
  if (path.empty() || path.size() >= sizeof a.addr.sun_path)
    return make_error("socket path " + path + " is " + std::to_string(path.size()) +
                      " bytes; expected 1.." + std::to_string(sizeof a.addr.sun_path - 1) +
                      " (use a shorter runtime dir)");
  std::memcpy(a.addr.sun_path, path.data(), path.size());
  a.len = static_cast<socklen_t>(offsetof(sockaddr_un, sun_path) + path.size() + 1);
  return a;
}

}  // namespace aw::notify_internal
