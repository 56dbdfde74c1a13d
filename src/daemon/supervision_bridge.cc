#include "src/daemon/supervision_bridge.h"

#include <spdlog/spdlog.h>

#include "src/state/state_event.h"

namespace aw {

std::optional<std::string> SupervisionBridge::get(const std::string& id,
                                                  const std::string& key) const {
  const EntityRecord* rec = table_.get(id);
  if (!rec) return std::nullopt;
  auto it = rec->attrs.find(key);
  if (it == rec->attrs.end()) return std::nullopt;
  return it->second;
}

void SupervisionBridge::set(const std::string& id, const std::string& key,
                            const std::string& value) {
  ensure_worker(id);
  if (Status s = table_.set_attr(id, key, value); !s)
    spdlog::error("supervisor state for {}: {}", id, s.error().message);
}

void SupervisionBridge::erase(const std::string& id, const std::string& key) {
  if (!table_.get(id)) return;
  if (Status s = table_.erase_attr(id, key); !s)
    spdlog::error("supervisor state for {}: {}", id, s.error().message);
}

void SupervisionBridge::ensure_worker(const std::string& id) {
  auto created = table_.ensure(id, EntityKind::kWorker, LifecycleState::kQueued, clock_.wall(),
                               "declared as a worker");
  if (!created) {
    spdlog::error("worker {}: {}", id, created.error().message);
    return;
  }
  if (*created) submit_(state_changed_event(**created));
}

void SupervisionBridge::transition(const std::string& entity, LifecycleState to,
                                   std::string_view reason, const EvidenceList& evidence) {
  ensure_worker(entity);
  const EntityRecord* rec = table_.get(entity);
  if (!rec || rec->state == to) return;
  const WallTime now = clock_.wall();
  // A worker that is restarted after it failed starts a new run: the table's
  // failed → queued edge, then queued → processing.
  if (rec->state == LifecycleState::kFailed && to == LifecycleState::kProcessing) {
    auto requeued = table_.transition(entity, LifecycleState::kQueued, "restart", evidence, now);
    if (requeued) submit_(state_changed_event(*requeued));
  }
  auto change = table_.transition(entity, to, std::string(reason), evidence, now);
  if (change) {
    submit_(state_changed_event(*change));
    return;
  }
  rec = table_.get(entity);
  submit_(
      state_refused_event(*rec, to, change.error().message, std::string(reason), evidence, now));
}

std::optional<LifecycleState> SupervisionBridge::current(const std::string& entity) const {
  const EntityRecord* r = table_.get(entity);
  if (!r) return std::nullopt;
  return r->state;
}

}  // namespace aw
