#include "src/state/state_event.h"

#include "src/core/event_kinds.h"

namespace aw {

Event state_changed_event(const Change& change) {
  Event e;
  e.kind = kind::kStateChanged;
  e.source = "state";
  e.time = change.time;
  e.entity = change.id;
  e.fields.set("from",
               change.from ? std::string(lifecycle_state_name(*change.from)) : std::string("none"));
  e.fields.set("to", std::string(lifecycle_state_name(change.to)));
  e.fields.set("reason", change.reason);
  e.fields.set("evidence", summarize_evidence(change.evidence));
  e.fields.set("run", static_cast<std::int64_t>(change.run));
  e.fields.set("entity_kind", std::string(entity_kind_name(change.kind)));
  if (change.reset) e.fields.set("reset", true);
  return e;
}

Event state_refused_event(const EntityRecord& entity, LifecycleState to, const std::string& refusal,
                          const std::string& reason, const std::vector<Evidence>& evidence,
                          WallTime now) {
  Event e;
  e.kind = kind::kStateRefused;
  e.source = "state";
  e.time = now;
  e.entity = entity.id;
  e.fields.set("from", std::string(lifecycle_state_name(entity.state)));
  e.fields.set("to", std::string(lifecycle_state_name(to)));
  e.fields.set("refusal", refusal);
  e.fields.set("reason", reason);
  e.fields.set("evidence", summarize_evidence(evidence));
  e.fields.set("run", static_cast<std::int64_t>(entity.run));
  e.fields.set("entity_kind", std::string(entity_kind_name(entity.kind)));
  return e;
}

}  // namespace aw
