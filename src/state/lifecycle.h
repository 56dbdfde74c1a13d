// The lifecycle state machine of one tracked entity (DESIGN §1, docs/lifecycle.md).
//
// PURE: no libuv, no I/O, no clock. Every function takes what it needs (including
// `now`, where time matters) and returns a value. The legal transitions are DATA,
// one table (kTransitionTable), so the documentation, the tests and the checks read
// the same thing.
//
//   queued ──▶ processing ──▶ timing_out ──▶ failed | completed
//                 │   ▲            │
//                 │   └────────────┘  (extension earned by progress)
//                 ├──▶ zombie ──▶ failed | completed
//                 ├──▶ failed ──▶ queued | completed  (restart: a new run; late completion)
//                 ├──▶ queued             (stopped when asked: the run ends, no verdict)
//                 └──▶ completed          (final: "completion wins")
//
// Thread safety: everything here is a value or a constant; safe from any thread.
#pragma once

#include <array>
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "src/core/clock.h"

namespace aw {

enum class EntityKind { kWorker, kSession, kProject };

// "worker", "session", "project".
std::string_view entity_kind_name(EntityKind kind);
std::optional<EntityKind> parse_entity_kind(std::string_view name);

enum class LifecycleState { kQueued, kProcessing, kTimingOut, kZombie, kFailed, kCompleted };

inline constexpr std::array<LifecycleState, 6> kAllLifecycleStates = {
    LifecycleState::kQueued, LifecycleState::kProcessing, LifecycleState::kTimingOut,
    LifecycleState::kZombie, LifecycleState::kFailed,     LifecycleState::kCompleted,
};

// "queued", "processing", "timing_out", "zombie", "failed", "completed".
std::string_view lifecycle_state_name(LifecycleState state);
std::optional<LifecycleState> parse_lifecycle_state(std::string_view name);

// One legal edge and why it exists (the text docs/lifecycle.md shows).
struct TransitionRule {
  LifecycleState from;
  LifecycleState to;
  std::string_view meaning;
};

// The whole state machine. Edges beyond the table, each with its reason:
//  - timing_out → processing: progress (log growth, heartbeat) earns an extension
//    (DESIGN §6.5, at most 3; the supervisor counts them in attrs). Without the
//    edge an extended entity would have to stay `timing_out` while it works, and
//    `stuck()` / the dashboard would call a healthy worker hung.
//  - failed → queued: a restart. s6 and systemd treat a restart as a new run of
//    the service, not a resurrection of the old one; so does this table: the old
//    run stays `failed` in the log, the entity's `run` counter increments, and the
//    new run goes through queued → processing like the first one (so dependency
//    gating, DESIGN §6.2, applies to restarts too).
//  - failed → completed, zombie → completed: completion wins (DESIGN §6.7). A
//    completion marker (a file, a commit, a phase file) can land after the
//    process was failed or found a zombie: a worker killed as hung may have
//    finished its work in its last second, a zombie's result may land while it
//    is being terminated. The work is done; "failed" would send a finished
//    project to a retry or an alert. The opposite direction never exists.
//  - processing → queued: a stop was asked for (`workers stop`, or the stop
//    half of a restart by the CLI or a rule). Like `systemctl stop`, that is neither a
//    failure nor a completion: the run ends without a verdict and the entity
//    waits for a start, which is a new run. Left in `processing`, a stopped
//    worker would be listed as stuck and failed as a phantom after its grace.
// `completed` has no outgoing edge: completion wins (see check_transition); only
// the recovery CLI's reset (entity_table.h) moves a completed entity, with force.
inline constexpr std::array<TransitionRule, 13> kTransitionTable = {{
    {LifecycleState::kQueued, LifecycleState::kProcessing, "started (spawned or adopted)"},
    {LifecycleState::kProcessing, LifecycleState::kTimingOut,
     "runtime over its limit; grace begins"},
    {LifecycleState::kProcessing, LifecycleState::kZombie, "process alive but its session is gone"},
    {LifecycleState::kProcessing, LifecycleState::kFailed,
     "exited without completing, or vanished"},
    {LifecycleState::kProcessing, LifecycleState::kCompleted, "completion evidence seen"},
    {LifecycleState::kProcessing, LifecycleState::kQueued,
     "stopped when asked: no verdict; a new run waits for a start (run increments)"},
    {LifecycleState::kTimingOut, LifecycleState::kFailed, "grace expired; killed"},
    {LifecycleState::kTimingOut, LifecycleState::kCompleted, "completed during its grace period"},
    {LifecycleState::kTimingOut, LifecycleState::kProcessing, "extension earned by progress"},
    {LifecycleState::kZombie, LifecycleState::kFailed, "terminated (TERM, grace, KILL)"},
    {LifecycleState::kZombie, LifecycleState::kCompleted,
     "completion evidence landed while it was terminated (completion wins)"},
    {LifecycleState::kFailed, LifecycleState::kQueued, "restart: a new run (run increments)"},
    {LifecycleState::kFailed, LifecycleState::kCompleted,
     "late completion evidence after a failure (completion wins)"},
}};

// The table entry for from → to, or nullptr when the edge is not legal.
const TransitionRule* find_transition_rule(LifecycleState from, LifecycleState to);

// True for the edges that end a run and start the next one (failed → queued,
// processing → queued).
inline bool is_restart_edge(LifecycleState from, LifecycleState to) {
  return to == LifecycleState::kQueued &&
         (from == LifecycleState::kFailed || from == LifecycleState::kProcessing);
}

// A fact that led to a transition: which signal saw what, when.
// e.g. {"pidfd", "pid 123 exited status 1"}, {"tmux", "session w1 absent"}.
struct Evidence {
  std::string signal;
  std::string detail;
  WallTime time{};
  friend bool operator==(const Evidence&, const Evidence&) = default;
};

// Renders evidence for humans and for the `evidence` field of state.changed:
// "pidfd: pid 123 exited status 1; tmux: session w1 absent" ("" when none).
std::string summarize_evidence(const std::vector<Evidence>& evidence);

struct EntityRecord {
  std::string id;
  EntityKind kind = EntityKind::kWorker;
  LifecycleState state = LifecycleState::kQueued;
  WallTime since{};    // when it entered `state`
  std::string reason;  // why it entered `state`
  // The evidence of its latest transitions, oldest first, bounded (the table keeps
  // the last EntityTableOptions::max_evidence items).
  std::vector<Evidence> evidence;
  // Index of the current run: 0 for the first, +1 for each restart (failed → queued)
  // and each reset to queued.
  std::uint64_t run = 0;
  // Small string map the supervisor persists with the entity (restart count,
  // window start, backoff, circuit state, pid, pid start time, ...). The state
  // machine never reads it.
  std::map<std::string, std::string> attrs;

  friend bool operator==(const EntityRecord&, const EntityRecord&) = default;
};

// Why a transition was refused, for callers that react differently (a repeated
// signal is a no-op; an illegal edge is worth a `state.refused` event).
enum class Refusal {
  kNone,              // applied
  kSameState,         // already in the requested state: "already failed"
  kCompletedIsFinal,  // from completed: "completed is final"
  kIllegalEdge,       // not in kTransitionTable: "illegal transition ..."
};

struct TransitionResult {
  bool applied = false;
  std::string refusal;  // empty when applied
  Refusal code = Refusal::kNone;
};

// Whether `from` → `to` is legal. Refusal texts:
//   "completed is final"                      (completion wins: checked first)
//   "already <state>"                         (same state)
//   "illegal transition <from> -> <to> (from <from>: <legal targets, comma-separated>)"
TransitionResult check_transition(LifecycleState from, LifecycleState to);
TransitionResult check_transition(const EntityRecord& entity, LifecycleState to);

// Whether the recovery CLI's reset (`agentwatch recover reset ID [--force]`) may
// put an entity that is in `from` back to `queued`. Allowed from processing,
// timing_out, zombie and failed; from completed only with `force` (completion
// wins unless a person says otherwise). Refusals:
//   "already queued"                                          kSameState
//   "completed is final (reset a completed entity with --force)"  kCompletedIsFinal
TransitionResult check_recover_reset(LifecycleState from, bool force);

}  // namespace aw
