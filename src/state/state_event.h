// Lifecycle changes as Events (docs/lifecycle.md, "Events"). PURE.
//
// The daemon submits these to the pipeline so a change is in the event log and
// rules can react to it. The caller sets what only it knows: cause, rule, depth.
#pragma once

#include <string>
#include <vector>

#include "src/core/event.h"
#include "src/state/entity_table.h"

namespace aw {

// kind "state.changed", source "state", entity = change.id, time = change.time,
// fields: from ("none" for a creation), to, reason, evidence (summarize_evidence),
// run, entity_kind, and reset = true for a reset() by the recovery CLI.
Event state_changed_event(const Change& change);

// kind "state.refused", source "state": a transition the state machine refused
// (DESIGN §1: "illegal transitions are refused and logged"). fields: from (the
// entity's state), to (the state asked for), refusal (check_transition's text),
// reason (why it was asked), evidence, run, entity_kind.
Event state_refused_event(const EntityRecord& entity, LifecycleState to, const std::string& refusal,
                          const std::string& reason, const std::vector<Evidence>& evidence,
                          WallTime now);

}  // namespace aw
