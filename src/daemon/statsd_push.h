// StatsD push (docs/http.md, "StatsD"): when agentwatch.toml has [statsd],
// every execution is sent as a count and a timer, worker starts and exits as
// counts, and every `interval` the gauges (entities by state, workers by
// phase, memory, fds...) — in StatsD's line format (src/metrics/statsd_lines.h),
// over UDP, fire and forget: a StatsD server that is down loses datagrams,
// never blocks or slows the daemon.
//
// Events are batched for up to `interval` too, then sent as few datagrams as
// fit. Loop thread only.
#pragma once

#include <uv.h>

#include <memory>
#include <string>

#include "src/core/clock.h"
#include "src/core/event.h"
#include "src/core/result.h"
#include "src/daemon/config.h"
#include "src/metrics/registry.h"
#include "src/metrics/statsd_lines.h"
#include "src/uvx/handle.h"

namespace aw {

class StatsdPush {
 public:
  StatsdPush(uv_loop_t* loop, const StatsdSettings& config, const metrics::Registry& registry);
  ~StatsdPush();
  StatsdPush(const StatsdPush&) = delete;
  StatsdPush& operator=(const StatsdPush&) = delete;

  // Resolves nothing (an IP literal is required) and binds nothing: a UDP
  // socket that sends to the address.
  Status start();
  void observe(const Event& e);
  // Sends what is batched now (shutdown, tests).
  void flush();
  std::uint64_t datagrams_sent() const { return sent_; }
  std::uint64_t send_errors() const { return errors_; }

 private:
  void tick();

  uv_loop_t* loop_;
  StatsdSettings config_;
  const metrics::Registry& registry_;
  metrics::StatsdBatch batch_;
  sockaddr_storage to_{};
  uvx::Handle<uv_udp_t> udp_;
  std::unique_ptr<uvx::Timer> timer_;
  std::uint64_t sent_ = 0;
  std::uint64_t errors_ = 0;
};

}  // namespace aw
