// The alerts' state file: each alert's phase and times, so that a restarted
// daemon continues where it stopped (docs/alerts.md, "Across a restart"): a
// firing alert stays firing without a second alert.raised, a pending one keeps
// its `for` progress, flap damping keeps counting from the last resolve.
//
// Format: the state-file format (src/core/state_file.h, docs/state-files.md),
// kind "alerts", one record per alert that is not pristine:
//   name, metric, phase, pending_since, firing_since, last_resolved, flaps, evaluated_at
// times in RFC 3339 UTC with milliseconds, "-" for none.
//
// Tolerant per record: a damaged or meaningless line costs only its alert,
// which starts afresh, and is reported as "PATH:LINE: what (that alert starts
// afresh)"; the other alerts continue. A missing or foreign header makes the
// whole file unusable (an error: every alert starts afresh).
//
// Pure: it turns records into bytes and back. The daemon reads the file
// (read_file_if_exists) and writes it whole and durably (write_file_durably,
// src/os/files.h, on the thread pool), as the timers' state file is.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "src/alerts/alert_engine.h"
#include "src/core/result.h"

namespace aw::alerts {

inline constexpr std::string_view kAlertStateKind = "alerts";

std::string serialize_alert_state(const std::vector<SavedAlert>& alerts);

struct AlertStateFile {
  std::vector<SavedAlert> alerts;
  // One per line skipped: "PATH:LINE: what (that alert starts afresh)".
  std::vector<std::string> problems;
};

// An error only for a missing or foreign header ("PATH:1: expected the header
// ..."; every alert starts afresh).
Result<AlertStateFile> parse_alert_state(std::string_view text, const std::string& path);

}  // namespace aw::alerts
