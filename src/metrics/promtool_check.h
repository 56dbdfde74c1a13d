// Test support: runs Prometheus' own checker over an exposition, so tests of
// /metrics are judged by the tool users scrape with, not by our reading of the
// format. promtool comes from Debian's prometheus package (./dev deps).
#pragma once

#include <string>

namespace aw::metrics {

struct PromtoolVerdict {
  bool ran = false;  // false: promtool could not be started (output says why)
  int exit_code = -1;
  std::string output;  // stdout and stderr
};

// `promtool check metrics` with `exposition` on its stdin.
PromtoolVerdict promtool_check_metrics(const std::string& exposition);

}  // namespace aw::metrics
