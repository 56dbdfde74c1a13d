// LifecycleSink: how the Supervisor asks for lifecycle transitions (DESIGN §1)
// of its workers' entities without depending on src/state.
//
// The daemon backs it with src/state's StateStore, which may refuse a transition
// that its state machine forbids (and log that): these are requests, not facts.
// Tests use a recording fake.
//
// Requests the Supervisor makes:
//   queued      a worker waits for its dependencies before its first start
//   processing  a worker was started or adopted; an extension (from timing_out)
//   timing_out  its runtime passed runtime_limit; the grace begins
//   zombie      its process is alive but its tmux session is confirmed gone
//   completed   a worker with restart = "on-failure" exited 0
//   failed      a worker gave up (budget spent) or exited with restart = "never";
//               kill() ended it (reason "hung", "zombie" or the caller's); it
//               ended on its own while timing_out or zombie; a phantom (reason
//               "phantom")
//
// Threading: loop thread. transition() may call back into the Supervisor (for
// example on_entity_completed) but must not destroy it.
#pragma once

#include <optional>
#include <string>
#include <string_view>

#include "src/state/lifecycle.h"
#include "src/supervise/evidence.h"

namespace aw {

// "queued", "processing", "timing_out", "zombie", "failed", "completed"

class LifecycleSink {
 public:
  virtual ~LifecycleSink() = default;
  virtual void transition(const std::string& entity, LifecycleState to, std::string_view reason,
                          const EvidenceList& evidence) = 0;
  // The entity's current state when the sink knows it (the daemon: its state
  // table). The phantom detector needs it — only a `processing` entity can be a
  // phantom, and after a daemon restart only the table knows. nullopt (the
  // default): the Supervisor goes by the last state it asked for itself.
  virtual std::optional<LifecycleState> current(const std::string& entity) const {
    (void)entity;
    return std::nullopt;
  }
};

}  // namespace aw
