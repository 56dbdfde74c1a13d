// The verdicts of the supervisor's detectors (DESIGN §6 scenarios 3, 4, 5),
// PURE: facts in, a verdict out. The Supervisor gathers the facts (pidfd, tmux
// snapshots, heartbeat samples, its clock) and carries the verdicts out.
//
// Liveness has three values everywhere: alive/present, absent, unknown. Only a
// confirmed absence acts; a question that could not be answered (a /proc read
// that failed, a tmux server that did not answer) is never read as "dead".
//
// Thread safety: functions of values.
#pragma once

#include <optional>

#include "src/state/lifecycle.h"
#include "src/supervise/heartbeat_tracker.h"
#include "src/supervise/process_identity.h"

namespace aw {

// A worker's tmux session as the latest snapshot says.
enum class SessionPresence {
  kNone,     // the worker declares no tmux_session
  kPresent,  // in the latest known snapshot
  kAbsent,   // not in the latest known snapshot: confirmed gone
  kUnknown,  // no snapshot yet, or the latest could not be taken
};
// "none", "present", "absent", "unknown"
const char* session_presence_name(SessionPresence s);

struct PresenceFacts {
  // A process is watched (its pidfd open, no end seen).
  bool process_watched = false;
  // When watched: its liveness now (pidfd + /proc against its identity).
  Liveness process = Liveness::kUnknown;
  SessionPresence session = SessionPresence::kNone;
  // start_grace has passed since the process was started or adopted.
  bool past_start_grace = false;
  // Something the supervisor will do anyway: a restart or a dependency wait is
  // pending, or a stop / kill is in progress.
  bool action_pending = false;
  // The entity's lifecycle state, when known.
  std::optional<LifecycleState> entity;
};

enum class PresenceVerdict {
  kFine,     // nothing to do
  kZombie,   // alive process, confirmed-absent session (after start_grace): terminate
  kPhantom,  // processing, yet no process and no session: fail after phantom_grace
};
// "fine", "zombie", "phantom"
const char* presence_verdict_name(PresenceVerdict v);

// Zombie: a watched process that is confirmed alive, a session confirmed absent,
// past start_grace, no stop or kill in progress, and an entity that is working
// (processing or timing_out; unknown counts, the process and session evidence is
// enough). Phantom: no process watched and nothing pending, the entity confirmed
// `processing`, and the session confirmed absent or none declared. A phantom
// verdict is a candidate: the Supervisor acts only if it holds for phantom_grace.
PresenceVerdict judge_presence(const PresenceFacts& facts);

// What the heartbeat says about progress between the start of timing_out and
// the end of its grace.
enum class Progress {
  kSeen,         // the file grew
  kNone,         // it did not
  kUnknown,      // a stat failed (or the first one never came back)
  kNoHeartbeat,  // the worker declares none
};
// "seen", "none", "unknown", "no_heartbeat"
const char* progress_name(Progress p);

// nullopt `before` / `after`: no sample (kNoHeartbeat when `declared` is false).
Progress progress_between(bool declared, const std::optional<FileSample>& before,
                          const std::optional<FileSample>& after);

enum class GraceVerdict { kExtend, kKill };

// At the end of timing_out's grace: progress earns an extension while fewer than
// max_extensions were used in this run; anything else (no progress, unknown
// progress, no heartbeat, extensions spent) is a kill.
GraceVerdict judge_grace_end(Progress progress, int extensions_used, int max_extensions);

}  // namespace aw
