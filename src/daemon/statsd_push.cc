#include "src/daemon/statsd_push.h"

#include <cstring>

namespace aw {

StatsdPush::StatsdPush(uv_loop_t* loop, const StatsdSettings& config,
                       const metrics::Registry& registry)
    : loop_(loop), config_(config), registry_(registry), batch_(config.prefix) {}

StatsdPush::~StatsdPush() = default;

Status StatsdPush::start() {
  auto* in4 = reinterpret_cast<sockaddr_in*>(&to_);
  auto* in6 = reinterpret_cast<sockaddr_in6*>(&to_);
  if (uv_ip4_addr(config_.host.c_str(), config_.port, in4) != 0 &&
      uv_ip6_addr(config_.host.c_str(), config_.port, in6) != 0)
    return make_error("[statsd] address: \"" + config_.host + "\" is not an IP address");
  if (int rc = uv_udp_init(loop_, udp_.get()); rc != 0)
    return make_error(std::string("[statsd]: cannot make a UDP socket: ") + uv_strerror(rc));
  udp_.initialized(this);
  timer_ = std::make_unique<uvx::Timer>(loop_, [this] { tick(); });
  const auto ms = static_cast<std::uint64_t>(std::max<std::int64_t>(1, to_ms(config_.interval)));
  timer_->start(ms, ms);
  timer_->unref();  // it pushes; it must not keep a stopping daemon alive
  return Status::Ok();
}

void StatsdPush::observe(const Event& e) {
  batch_.add_event(e);
}

void StatsdPush::tick() {
  registry_.collect();
  batch_.add_gauges(registry_);
  flush();
}

void StatsdPush::flush() {
  if (!udp_.live()) return;
  for (std::string& datagram : batch_.take_datagrams()) {
    // Non-blocking: the kernel takes the datagram or refuses it now (a full
    // buffer, no route); either way nobody waits.
    uv_buf_t buf = uv_buf_init(datagram.data(), static_cast<unsigned>(datagram.size()));
    int rc = uv_udp_try_send(udp_.get(), &buf, 1, reinterpret_cast<const sockaddr*>(&to_));
    if (rc < 0)
      ++errors_;
    else
      ++sent_;
  }
}

}  // namespace aw
