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
#include "src/core/clock.h"
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
  WallTime time{};                                            // for the session.completed record
};

// Judges the session and moves it when complete. Outcome fields: session (its
// name), state ("waiting", "completed" when this call moved it, or
// "completed_before" when it was already in `to`: moved by another check, or
// by the attempt a killed daemon had in flight, whose outcome was never
// logged; the daemon marks the session's entity completed on either), from; when judged: how
// (complete), valid, repaired, invalid, missing (comma-separated agent names);
// when moved: to (the session's new path).
ActionOutcome complete_session(const CompleteSessionSpec& spec);

// Age-out: a session that did not complete in the time its rule allows.
struct FailSessionSpec {
  std::string session;  // the session directory (temp/<session>)
  std::string to;       // where it goes, e.g. <root>/failed
  std::string root;
  std::string manifest = "session.json";
  std::string marker = "session.done";
  std::string reason;  // why, for the report
  WallTime time{};     // when (the injected clock)
  std::string rule;
  std::uint64_t cause_seq = 0;
  std::uint64_t max_result_bytes = std::uint64_t{256} << 20;
};

// The name of the report fail_session writes into the failed session.
inline constexpr const char* kRecoveryReportName = "recovery_report.json";

// Judges the session as complete_session would; an incomplete one is moved
// into `to` as one rename and then gets `recovery_report.json` (0600): when
// and why it failed, the manifest's agents by what was found (valid, repaired,
// invalid, missing) and every file in it (bytes, mtime, whether JSON files are
// valid). Outcome fields: session, from, state ("failed" when this call moved
// it; "failed_before" when it is already in `to` (the report is written then
// if it is missing: the attempt a killed daemon had in flight); "complete"
// when it completed meanwhile and is left for complete_session; "gone" when it
// is no longer where it was and not in `to`: completed or moved by someone
// else); when judged: valid, repaired, invalid, missing; when moved: to,
// report.
ActionOutcome fail_session(const FailSessionSpec& spec);

// complete_session writes this record into the session just before the rename,
// so the session arrives in completed/ with it: its landing (live, or in the
// start scan) is what an integration rule reacts to, once per session.
inline constexpr const char* kCompletedRecordName = "session.completed";

// Integration (integrate_session): at most once per session. The thread-pool
// halves; the executor runs the command between them (action_executor.h).
struct IntegrateSessionSpec {
  std::string session;  // completed/<session>
  std::string to;       // integrated/
  std::string root;
  std::string marker = "session.integrated";  // written once the command succeeded
  std::string claim = "session.integrating";  // written (durably) before it runs
  WallTime time{};
  std::string rule;
  std::uint64_t cause_seq = 0;
};

// What prepare_integration found.
struct IntegrationStart {
  enum class Next {
    kRun,       // claimed: run the command, then finish_integration
    kFinalize,  // the marker is there already: finish_integration without running
    kDone,      // nothing to do or a failure: `outcome` is the action's outcome
  };
  Next next = Next::kDone;
  std::string session_dir;  // absolute, for the command's environment
  std::string name;
  ActionOutcome outcome;  // kDone only
};

// Claims the session for one integration: the claim file is created
// (O_EXCL, 0600) and fsynced with its directory before the command may run, so
// a claim with no marker after a crash means the command may have run: that
// session is "in doubt" and is never run again by itself (a failure naming the
// claim; `agentwatch recover fix` or a marker settles it). Outcomes (kDone):
// state "integrated_before" (already in `to`), "gone" (neither here nor
// there), "in_progress" (another check claimed it a moment ago), or the in-doubt
// failure.
IntegrationStart prepare_integration(const IntegrateSessionSpec& spec);

// After the command succeeded (`run_fields`: its outcome fields) or with the
// marker already there: writes the marker (0600, durable) and moves the
// session into `to` as one rename. Outcome: state "integrated" (or
// "integrated_before"), to, plus run_fields.
ActionOutcome finish_integration(const IntegrateSessionSpec& spec, const Fields& run_fields,
                                 int attempts);

// After a command that failed for good (every retry spent) or that the daemon
// itself stopped (shutdown): it did not integrate, so the claim is removed and
// a later trigger (its record landing again: recover fix, or a resumed plan)
// may try again. Only a daemon killed while the command ran leaves the claim:
// that session is in doubt.
void release_integration(const IntegrateSessionSpec& spec);

}  // namespace aw
