// Backs the supervisor (src/supervise) with the daemon's lifecycle store and
// pipeline: its counters persist as entity attrs in the crash-safe journal (so
// restart budget and backoff survive a daemon restart), and its lifecycle
// requests become state machine transitions logged as state.changed /
// state.refused events.
//
// Loop thread only. The table and pipeline must outlive the bridge.
#pragma once

#include <functional>
#include <optional>
#include <string>

#include "src/core/clock.h"
#include "src/core/event.h"
#include "src/state/entity_table.h"
#include "src/supervise/lifecycle_sink.h"
#include "src/supervise/supervisor_store.h"

namespace aw {

class SupervisionBridge final : public SupervisorStore, public LifecycleSink {
 public:
  SupervisionBridge(EntityTable& table, const Clock& clock, std::function<void(Event)> submit)
      : table_(table), clock_(clock), submit_(std::move(submit)) {}

  // SupervisorStore
  std::optional<std::string> get(const std::string& id, const std::string& key) const override;
  void set(const std::string& id, const std::string& key, const std::string& value) override;
  void erase(const std::string& id, const std::string& key) override;

  // LifecycleSink
  void transition(const std::string& entity, LifecycleState to, std::string_view reason,
                  const EvidenceList& evidence) override;
  // The state table's answer: after a restart only the table knows that a
  // worker recorded as running is still `processing` (the phantom detector).
  std::optional<LifecycleState> current(const std::string& entity) const override;

 private:
  // Workers enter the table queued the first time the supervisor speaks of them.
  void ensure_worker(const std::string& id);

  EntityTable& table_;
  const Clock& clock_;
  std::function<void(Event)> submit_;
};

}  // namespace aw
