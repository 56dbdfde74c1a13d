// Small pieces the notify server, client and spool share: an owned fd and a
// checked sockaddr_un. Internal to watchers/notify.
#pragma once

#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <string>
#include <utility>

#include "src/core/result.h"
#include "src/core/unique_fd.h"

namespace aw::notify_internal {

// An owned fd is src/core/unique_fd.h's UniqueFd.
using OwnedFd = UniqueFd;

struct UnixAddress {
  sockaddr_un addr{};
  socklen_t len = 0;
  const sockaddr* get() const { return reinterpret_cast<const sockaddr*>(&addr); }
};

// A filesystem (not abstract) unix address; an error names the path when it
// does not fit sun_path (108 bytes on Linux).
Result<UnixAddress> make_unix_address(const std::string& path);

}  // namespace aw::notify_internal
