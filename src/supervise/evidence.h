// Evidence: why the supervisor believes what it believes about a process.
//
// Every liveness verdict and every lifecycle request carries the signals that
// led to it ("pidfd: readable (the process ended)", "/proc/123/stat: start time
// 4711 differs from the adopted 4700", "/proc/123/exe: permission denied"), with
// the time each was read, so a user reading the event log can check the verdict.
#pragma once

#include <string>
#include <vector>

#include "src/core/clock.h"

namespace aw {

struct Evidence {
  std::string signal;  // what was asked: "pidfd", "wait4", "pidfd_info", "/proc/PID/stat", ...
  std::string said;    // what it answered, in words
  WallTime at{};

  friend bool operator==(const Evidence&, const Evidence&) = default;
};

using EvidenceList = std::vector<Evidence>;

// "pidfd: readable (the process ended) @ 2026-01-02T03:04:05.678Z; wait4: ..." —
// one line, for an event field.
std::string format_evidence(const EvidenceList& evidence);

}  // namespace aw
