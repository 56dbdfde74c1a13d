// Result sessions (docs/sessions.md): several agents write their results into
// one session directory, `temp/<session>/<agent>.json`, and the session is
// complete when every agent its manifest expects has a valid result, or when a
// completion marker appears. The `complete_session` action judges a session
// and, when it is complete, moves the whole directory into `to` as one rename.
//
// The judgement is pure (judge_session); complete_session() is the thread-pool
// half that lists the directory, reads what the judgement needs and renames.
//
// Guarantees of complete_session, beside move_file's (file_move.h):
// - The session directory and `to` lie under `root`; every directory on the
//   way is opened without following a symlink, and a symlink inside the
//   session is never read (it counts as nothing).
// - One directory rename (renameat2 NOREPLACE; a taken name gets the first
//   free `<session>.1`, ...), then both parents fsynced: readers see the
//   session in temp/ or in completed/, whole, never split.
// - Safe to run twice, and from two threads at once (ten results landing
//   together each ask): one rename wins; the others find the session gone
//   and its name in `to`, and report it completed already.
//
// Blocking: call complete_session on the thread pool, never on the loop.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "src/actions/action_outcome.h"
#include "src/core/result.h"

namespace aw {

// session.json: {"agents": ["a1", "a2", ...]}: the agents whose results make
// the session complete. Other members are allowed (and ignored).
struct SessionManifest {
  std::vector<std::string> agents;
};

// The manifest, or why it is not one: not valid JSON (with the byte offset),
// no "agents" array, an agent that is not a non-empty string usable as a file
// name (no '/', not "." or ".."), or listed twice.
Result<SessionManifest> parse_session_manifest(std::string_view text);

// What judge_session knows of one agent's result files: whether
// `<agent>.json` and `<agent>.repaired.json` exist as regular files, and
// whether each holds valid JSON.
struct AgentFiles {
  bool result = false, result_valid = false;
  bool repaired = false, repaired_valid = false;
};

struct SessionVerdict {
  bool complete = false;
  std::string how;  // "manifest" or "marker" when complete
  // Per agent of the manifest (empty without one), by what was found:
  std::vector<std::string> valid;     // <agent>.json is valid JSON
  std::vector<std::string> repaired;  // only its <agent>.repaired.json is
  std::vector<std::string> invalid;   // <agent>.json is not valid, no valid repaired copy
  std::vector<std::string> missing;   // neither file
};

// Complete when the marker is there, or when a manifest is there and every
// agent it lists has a valid result (its own or a repaired copy). Without a
// manifest, only the marker completes a session.
SessionVerdict judge_session(const std::optional<SessionManifest>& manifest, bool marker,
                             const std::map<std::string, AgentFiles>& agents);

struct CompleteSessionSpec {
  std::string session;  // the session directory; relative = relative to root (or cwd)
  std::string to;       // where complete sessions go, e.g. <root>/completed
  std::string root;     // "" = no confinement (symlinks are still refused)
  std::string manifest = "session.json";
  std::string marker = "session.done";
  std::uint64_t max_result_bytes = std::uint64_t{256} << 20;  // larger results count as invalid
};

// Judges the session and moves it when complete. Outcome fields: session (its
// name), state ("waiting", "completed" when this call moved it, or
// "completed_before" when it was already in `to`: moved by another check, or
// by the attempt a killed daemon had in flight, whose outcome was never
// logged; the daemon marks the session's entity completed on either), from; when judged: how
// (complete), valid, repaired, invalid, missing (comma-separated agent names);
// when moved: to (the session's new path).
ActionOutcome complete_session(const CompleteSessionSpec& spec);

}  // namespace aw
