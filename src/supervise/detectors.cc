#include "src/supervise/detectors.h"

namespace aw {

const char* session_presence_name(SessionPresence s) {
  switch (s) {
    case SessionPresence::kNone:
      return "none";
    case SessionPresence::kPresent:
      return "present";
    case SessionPresence::kAbsent:
      return "absent";
    case SessionPresence::kUnknown:
      return "unknown";
  }
  return "?";
}

const char* presence_verdict_name(PresenceVerdict v) {
  switch (v) {
    case PresenceVerdict::kFine:
      return "fine";
    case PresenceVerdict::kZombie:
      return "zombie";
    case PresenceVerdict::kPhantom:
      return "phantom";
  }
  return "?";
}

const char* progress_name(Progress p) {
  switch (p) {
    case Progress::kSeen:
      return "seen";
    case Progress::kNone:
      return "none";
    case Progress::kUnknown:
      return "unknown";
    case Progress::kNoHeartbeat:
      return "no_heartbeat";
  }
  return "?";
}

PresenceVerdict judge_presence(const PresenceFacts& f) {
  if (f.action_pending) return PresenceVerdict::kFine;
  if (f.process_watched) {
    bool working = !f.entity || *f.entity == LifecycleState::kProcessing ||
                   *f.entity == LifecycleState::kTimingOut;
    if (f.process == Liveness::kAlive && f.session == SessionPresence::kAbsent &&
        f.past_start_grace && working)
      return PresenceVerdict::kZombie;
    return PresenceVerdict::kFine;
  }
  bool no_session = f.session == SessionPresence::kAbsent || f.session == SessionPresence::kNone;
  if (f.entity == LifecycleState::kProcessing && no_session) return PresenceVerdict::kPhantom;
  return PresenceVerdict::kFine;
}

Progress progress_between(bool declared, const std::optional<FileSample>& before,
                          const std::optional<FileSample>& after) {
  if (!declared) return Progress::kNoHeartbeat;
  if (!before || !after || !before->ok || !after->ok) return Progress::kUnknown;
  return file_grew(*before, *after) ? Progress::kSeen : Progress::kNone;
}

GraceVerdict judge_grace_end(Progress progress, int extensions_used, int max_extensions) {
  if (progress == Progress::kSeen && extensions_used < max_extensions) return GraceVerdict::kExtend;
  return GraceVerdict::kKill;
}

}  // namespace aw
