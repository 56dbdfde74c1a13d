// What `agentwatch recover list-stuck|diagnose` and `health` report, computed
// from the lifecycle table (and, when the daemon answers, its live view).
//
// Pure: no I/O, no clock. The daemon calls it with its live table over the
// control socket; the CLI calls it with a table loaded offline (load_state())
// when no daemon runs, so the same questions get the same answers either way.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "src/core/clock.h"
#include "src/state/entity_table.h"

namespace aw {

struct Problem {
  enum class Severity { kWarning, kError };
  Severity severity = Severity::kError;
  std::string subject;  // an entity, a worker, "daemon", "watching", "rules", ...
  std::string what;     // one line: what is wrong
  std::string hint;     // one line: what to do about it ("" = none)
};

// A worker as the supervisor sees it, reduced to what diagnosis needs (the
// daemon fills it from Supervisor::list()).
struct WorkerSummary {
  std::string name;
  std::string phase;  // worker_phase_name()
  std::string circuit;
  std::string gave_up_reason;
};

struct DiagnosisInput {
  const EntityTable* table = nullptr;  // required
  WallTime now{};
  StuckThresholds thresholds;
  bool daemon_running = false;
  bool live = false;                        // answered by the daemon (workers and below are known)
  std::vector<WorkerSummary> workers;       // live only
  std::string degraded_reason;              // live only: watching degraded
  std::string rules_error;                  // live only: the last reload was rejected
  std::string tmux_error;                   // live only: tmux could not be asked (sessions unknown)
  std::string store_report;                 // problems met loading the lifecycle store ("" = none)
  std::uint64_t spooled_notifications = 0;  // waiting in the spool
};

std::vector<Problem> diagnose(const DiagnosisInput& in);

const char* severity_name(Problem::Severity s);  // "warning", "error"

// JSON renderings, the result of the control methods and of `--json`.
std::string problems_json(const std::vector<Problem>& problems);
std::string stuck_json(const std::vector<StuckEntity>& stuck);
std::string entity_json(const EntityRecord& record);

}  // namespace aw
