// EntityTable: the lifecycle of every tracked entity, in memory (PURE: no libuv,
// no I/O, no clock — every operation that stamps time takes `now`).
//
// Two ways in, one way to change:
//  - Live operations (create, transition, reset, set_attr, ...) validate the request
//    against the state machine (lifecycle.h), then build a Mutation — the fact to
//    record — and apply it. The observer (the StateStore's journal) sees every
//    applied Mutation, in order, right after it is applied.
//  - Recovery (replay of the journal, restore from a snapshot) applies recorded
//    Mutations without re-validating them: the journal records what happened, and
//    a table rule changed by a later version must not make yesterday's facts
//    unreadable. The observer is not called for replayed Mutations.
// Both paths go through the same apply(), so replaying a journal rebuilds exactly
// the table that wrote it.
//
// Ownership and lifetimes: the table owns its records. Pointers returned by get()
// and list() stay valid until the next mutating call (any non-const member).
// Thread safety: none; one owner (the loop thread in the daemon).
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "src/core/clock.h"
#include "src/core/result.h"
#include "src/state/lifecycle.h"

namespace aw {

// What the daemon turns into a `state.changed` event (state_event.h).
struct Change {
  std::string id;
  EntityKind kind = EntityKind::kWorker;
  std::optional<LifecycleState> from;  // nullopt when the entity was just created
  LifecycleState to = LifecycleState::kQueued;
  std::string reason;
  std::vector<Evidence> evidence;  // this change's evidence (bounded), not the history
  WallTime time{};
  std::uint64_t run = 0;  // the entity's run after the change
  bool reset = false;     // made by reset() (the recovery CLI), not by the state machine
  friend bool operator==(const Change&, const Change&) = default;
};

// One recorded fact; the unit of the journal (state_codec.h encodes it).
enum class MutationOp { kCreate, kTransition, kReset, kSetAttr, kEraseAttr, kRemove };

// "create", "transition", "reset", "set_attr", "erase_attr", "remove".
std::string_view mutation_op_name(MutationOp op);
std::optional<MutationOp> parse_mutation_op(std::string_view name);

struct Mutation {
  MutationOp op = MutationOp::kCreate;
  std::string id;
  // kCreate, kTransition, kReset: the entity's kind, state before (not for kCreate)
  // and after, why, the evidence (already bounded), when, and its run afterwards.
  EntityKind kind = EntityKind::kWorker;
  LifecycleState from = LifecycleState::kQueued;
  LifecycleState to = LifecycleState::kQueued;
  std::string reason;
  std::vector<Evidence> evidence;
  WallTime time{};
  std::uint64_t run = 0;
  // kSetAttr (key, value), kEraseAttr (key).
  std::string key;
  std::string value;
  friend bool operator==(const Mutation&, const Mutation&) = default;
};

struct EntityTableOptions {
  // Evidence items kept per entity (the newest). A transition carrying more keeps
  // its newest max_evidence items.
  std::size_t max_evidence = 16;
  // Longest evidence detail kept, in bytes; longer ones are cut at a UTF-8
  // boundary and end with "...". Keeps the journal's lines small whatever a log
  // line held.
  std::size_t max_evidence_detail = 1024;
};

// Entities that have stayed in a working state too long (`recover list-stuck`).
// An entity is stuck when now - since >= the threshold of its state.
struct StuckThresholds {
  Duration processing = std::chrono::minutes(30);
  Duration timing_out = std::chrono::minutes(10);
  Duration zombie = std::chrono::minutes(5);
};

struct StuckEntity {
  std::string id;
  EntityKind kind = EntityKind::kWorker;
  LifecycleState state = LifecycleState::kProcessing;
  WallTime since{};
  Duration age{};
  friend bool operator==(const StuckEntity&, const StuckEntity&) = default;
};

// Who asks for a recovery reset (entity_table.h recover_reset) and whether they insist.
struct RecoverResetRequest {
  std::uint32_t uid = 0;  // the requester (the notify socket's SO_PEERCRED), for the audit
  bool force = false;     // `--force`: a completed entity may be reset too
};

class EntityTable {
 public:
  using Observer = std::function<void(const Mutation&)>;

  explicit EntityTable(EntityTableOptions options = {});

  // Called after every live mutation, in order (not for replay/restore). The
  // observer must not mutate the table.
  void set_observer(Observer observer) { observer_ = std::move(observer); }
  const EntityTableOptions& options() const { return options_; }

  const EntityRecord* get(std::string_view id) const;
  std::size_t size() const { return entities_.size(); }
  // All entities sorted by id.
  std::vector<const EntityRecord*> list() const;

  // Creates an entity in any state (a worker found running at start is created
  // `processing`; one whose result landed while we were down, `completed`).
  // Errors: empty id or reason; an entity with that id exists.
  Result<Change> create(std::string id, EntityKind kind, LifecycleState initial, WallTime now,
                        std::string reason = "created", std::vector<Evidence> evidence = {});
  // create() unless it exists: then nothing changes and the result is nullopt.
  // Error if it exists with a different kind (ids are unique across kinds).
  Result<std::optional<Change>> ensure(std::string id, EntityKind kind, LifecycleState initial,
                                       WallTime now, std::string reason = "created");

  // A state-machine transition. Refused (error, table unchanged) when
  // check_transition refuses it: the error message is exactly the refusal text;
  // call check_transition() first to learn the Refusal code. Also an error: an
  // unknown entity ("unknown entity \"id\""), an empty reason.
  // failed → queued is a restart: run increments.
  Result<Change> transition(std::string_view id, LifecycleState to, std::string reason,
                            std::vector<Evidence> evidence, WallTime now);

  // Forces an entity into `to` from any state, `completed` included: the recovery
  // CLI's tool for an entity the state machine cannot move. Audited separately:
  // the Change has reset = true, the journal records a "reset", and the entity's
  // evidence gains {"reset", "from <state>: <reason>"}. Resetting to `queued` starts
  // a new run (run increments) unless it was already queued. Errors: unknown
  // entity, empty reason.
  Result<Change> reset(std::string_view id, LifecycleState to, std::string reason, WallTime now);

  // `agentwatch recover reset ID [--force]`: the entity goes back to `queued` and
  // starts a new run (run increments), so the supervisor or a rule can run it
  // again. Allowed as check_recover_reset() says: from processing, timing_out,
  // zombie and failed; from completed only with request.force. Recorded like any
  // change — a "reset" journal record (replayed as is), a Change with reset =
  // true and reason "reset" (a state.changed event) — with the evidence
  // {"recover", "reset by uid N"} (", forced" appended when force moved a
  // completed entity), so the audit says who did it. Errors (table unchanged):
  // unknown entity; the refusal text of check_recover_reset.
  Result<Change> recover_reset(std::string_view id, const RecoverResetRequest& request,
                               WallTime now);

  // Persisted counters of the supervisor. Setting the value an attr already has
  // records nothing. Errors: unknown entity, empty key.
  Status set_attr(std::string_view id, std::string key, std::string value);
  Status erase_attr(std::string_view id, std::string_view key);
  // Forgets an entity (retention). Error: unknown entity.
  Status remove(std::string_view id);

  // Entities in processing / timing_out / zombie for at least their threshold,
  // longest first (ties by id). A `since` in the future (clock stepped back) has
  // age 0.
  std::vector<StuckEntity> stuck(WallTime now, const StuckThresholds& thresholds = {}) const;

  // Recovery. replay() applies a recorded Mutation without validating it against
  // the state machine; a transition/reset of an unknown entity re-creates it (its
  // create record may have been lost to corruption). Error (nothing applied): an
  // attr change or removal of an unknown entity, an empty id.
  Status replay(const Mutation& mutation);
  // Puts a whole record in place (snapshot load), replacing any with its id.
  void restore(EntityRecord record);
  void clear() { entities_.clear(); }

 private:
  void apply(const Mutation& m);
  void emit(const Mutation& m);
  std::vector<Evidence> bound(std::vector<Evidence> evidence) const;

  EntityTableOptions options_;
  std::map<std::string, EntityRecord, std::less<>> entities_;
  Observer observer_;
};

}  // namespace aw
