// StatsD's line protocol (the etsy/statsd format every StatsD server reads):
//
//   <prefix>.<name>:<value>|c     a counter increment
//   <prefix>.<name>:<value>|ms    a timer observation, in milliseconds
//   <prefix>.<name>:<value>|g     a gauge's current value
//
// Names are dotted paths; a label value (a rule's or a worker's name) becomes
// one path segment, with every byte outside [A-Za-z0-9_-] replaced by '_' so
// that it can neither split the path (a '.') nor break the line (':', '|',
// '\n'). Lines are packed into datagrams of at most `max_datagram` bytes
// (1432: an Ethernet MTU less the IP and UDP headers), newline-separated,
// never splitting a line.
//
// Pure: the daemon's StatsdPush (src/daemon/statsd_push.h) sends the datagrams.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "src/core/event.h"
#include "src/metrics/registry.h"

namespace aw::metrics {

// One path segment: bytes outside [A-Za-z0-9_-] become '_'; "" becomes "none".
std::string statsd_segment(std::string_view s);

class StatsdBatch {
 public:
  StatsdBatch(std::string prefix, std::size_t max_datagram = 1432)
      : prefix_(std::move(prefix)), max_datagram_(max_datagram) {}

  // `path` is already made of segments ("executions.collect.run.failed").
  void counter(std::string_view path, double by);
  void timer_ms(std::string_view path, double ms);
  void gauge(std::string_view path, double value);

  // What an event means in StatsD: an execution's count and duration (by
  // rule and action), a worker start or exit. Other events add nothing.
  void add_event(const Event& e);
  // Every gauge family of the registry, one line per series: the family's
  // name without its "agentwatch_" prefix, then the label values as segments.
  void add_gauges(const Registry& registry);

  bool empty() const { return lines_.empty(); }
  // The lines packed into datagrams; the batch is empty afterwards.
  std::vector<std::string> take_datagrams();

 private:
  void line(std::string_view path, double value, std::string_view type);
  std::string prefix_;
  std::size_t max_datagram_;
  std::vector<std::string> lines_;
};

}  // namespace aw::metrics
