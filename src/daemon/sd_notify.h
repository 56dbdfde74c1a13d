// The systemd notification protocol (sd_notify(3)), spoken directly so we need
// no libsystemd: one datagram per state line to $NOTIFY_SOCKET.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "src/core/result.h"

namespace aw {

class SdNotifier {
 public:
  // Reads NOTIFY_SOCKET and WATCHDOG_USEC/WATCHDOG_PID from the environment.
  static SdNotifier from_environment();
  explicit SdNotifier(std::string socket_path, std::optional<std::uint64_t> watchdog_usec = {})
      : socket_path_(std::move(socket_path)), watchdog_usec_(watchdog_usec) {}

  bool enabled() const { return !socket_path_.empty(); }
  // Sends e.g. "READY=1\nSTATUS=watching 3 roots". No-op when not under systemd.
  Status send(std::string_view state) const;
  // The interval at which WATCHDOG=1 must be sent (half of WATCHDOG_USEC), if any.
  std::optional<std::uint64_t> watchdog_interval_ms() const;

 private:
  std::string socket_path_;  // '@' prefix = abstract namespace
  std::optional<std::uint64_t> watchdog_usec_;
};

}  // namespace aw
