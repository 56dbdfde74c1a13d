// The daemon's answers on the control socket (docs/control.md): the methods
// behind `agentwatch workers`, `health`, `recover`, `trigger` and `status`.
//
// Every request that changes something (start, stop, restart, reset, kill,
// trigger) is also an event in the log, `control.<method>`, with who asked
// (uid, pid from SO_PEERCRED), what, and the outcome: the audit trail.
//
// Threading: loop thread only (the ControlServer calls handlers there).
// Lifetimes: everything in ControlContext must outlive the registered handlers,
// i.e. the ControlServer.
#pragma once

#include <functional>
#include <string>

#include "src/control/control_server.h"
#include "src/core/clock.h"
#include "src/daemon/diagnosis.h"
#include "src/daemon/pipeline.h"
#include "src/schedule/timer_scheduler.h"
#include "src/state/state_store.h"
#include "src/supervise/supervisor.h"

namespace aw {

struct ControlContext {
  const Clock* clock = nullptr;
  Pipeline* pipeline = nullptr;
  StateStore* state = nullptr;
  // Null when no worker is declared.
  std::function<Supervisor*()> supervisor;
  std::function<const WorkerSpec*(const std::string& name)> worker_spec;
  StuckThresholds stuck;  // [recover] in agentwatch.toml
  // Null before the scheduler exists.
  std::function<TimerScheduler*()> scheduler;
  // The daemon's own view for diagnose (degraded watching, rejected rules, ...);
  // table, now and workers are filled here.
  std::function<DiagnosisInput()> diagnosis_input;
  // The status file's JSON.
  std::function<std::string()> status_json;
  // The coding agents and their status, a JSON array (agent_monitor.h).
  std::function<std::string()> agents_json;
};

void register_control_handlers(ControlServer& server, ControlContext context);

}  // namespace aw
