// `agentwatch recover diagnose` and `recover fix` for result sessions
// (docs/recover.md): what is wrong on disk under the watched roots, and the one
// fix for each problem.
//
// find_session_problems() looks, read-only, at the layout docs/sessions.md
// describes: sessions left in temp/ (too old, or complete but never moved),
// sessions in completed/ whose integration is in doubt or never happened,
// quarantined results, hooks that differ from their sources, and watched
// filesystems below their min_free. Each problem names the fix it would apply;
// apply_fix() applies exactly that fix through the same functions the daemon's
// actions use (complete_session, fail_session, release_integration,
// ensure_file, apply_retention), so it has their guarantees: nothing outside a
// root, never through a symlink, nothing overwritten.
//
// Nothing here follows a symlink: every directory is opened beneath its root
// (open_dir_beneath), every entry is judged with lstat, files are read with
// O_NOFOLLOW. A symlink where a session, a result or a hook should be is never
// read through; it is reported as what it is or skipped.
//
// Blocking (directory walks, reads; apply_fix writes and fsyncs): for the CLI
// process. Thread-safe: no shared state.
#pragma once

#include <cstdint>
#include <functional>
#include <iosfwd>
#include <optional>
#include <string>
#include <vector>

#include "src/actions/retention.h"
#include "src/core/clock.h"
#include "src/core/event.h"
#include "src/core/result.h"
#include "src/rules/rule.h"

namespace aw {

// What apply_fix does for a problem.
enum class FixAction : std::uint8_t {
  kNone,              // nothing automatic: a human decides (the fix text says what to do)
  kFailSession,       // fail_session: temp/<s> → failed/<s> with recovery_report.json
  kCompleteSession,   // complete_session: temp/<s> → completed/<s>
  kReleaseAndReland,  // remove the claim (release_integration), then land session.completed again
  kReland,            // land session.completed again (temp file + rename)
  kRestoreHook,       // ensure_file from the hook's source, mode 0700
  kRetention,         // apply_retention on each of `retention`
};
const char* fix_action_name(FixAction a);  // "none", "fail_session", ...

// One directory retention may empty, relative to the problem's root.
struct RetentionDir {
  std::string dir;   // "completed", "" = the root itself
  std::string glob;  // "" = every entry
  Duration max_age{0};
};

struct SessionProblem {
  std::string id;        // "<kind>:<watch>/<rel>", the same on every run for the same thing
  std::string kind;      // incomplete_session, integration_in_doubt, missing_integration,
                         // corrupt_result, broken_hook, low_disk
  std::string severity;  // "error" or "warning" (diagnosis.h's names)
  std::string subject;   // the path the problem is about (absolute)
  std::string entity;    // the session's name, when it is about a session
  std::string what;      // one line: what is wrong
  std::string fix;       // one line: what apply_fix would do (or what a human should)

  // How apply_fix applies it.
  FixAction action = FixAction::kNone;
  std::string root;                     // the watch root every change stays under
  std::string source;                   // kRestoreHook: the hook's source file
  std::string reason;                   // kFailSession: the recovery report's reason
  std::vector<RetentionDir> retention;  // kRetention
};

// A watched root as agentwatch.toml (or the default workspace) declares it.
struct DoctorRoot {
  std::string watch;  // the watch's name
  std::string path;   // absolute
};

// A root whose filesystem must keep min_free, and what retention may delete
// there when it does not.
struct DoctorDisk {
  DoctorRoot root;
  DiskThreshold min_free{0, 5.0};
  std::string min_free_text = "5%";
  std::vector<RetentionDir> retention;  // empty: no retention rule applies
};

// The shipped retention (rules/retention.toml): results' completed/ and
// integrated/ after 7 days, failed/ after 30; rotated logs (*.gz) after 30.
// The CLI takes each age from the loaded rule of the same directory
// (retain-completed-sessions, ...) and leaves out a directory whose rule is
// absent or disabled.
std::vector<RetentionDir> default_results_retention();
std::vector<RetentionDir> default_logs_retention();

struct DoctorInput {
  std::vector<DoctorRoot> results;  // watches named "results": sessions live under them
  std::optional<DoctorRoot> hooks;  // the watch named "hooks", when there is one
  std::string hooks_source;         // <config dir>/hooks: what each hook must equal
  std::vector<DoctorDisk> disks;    // roots whose free space is judged

  // A session in temp/ whose newest file is older than this is failed (the
  // `session-age-out` rule's debounce); nullopt: that rule is disabled.
  std::optional<Duration> age_out = std::chrono::minutes(30);
  bool integrate_enabled = false;  // the `session-integrate` rule is enabled
  bool restore_hooks = true;       // the `hook-restore` rule is enabled (or absent)
  // How long a complete session may sit in temp/, or a session in completed/
  // wait for its integration, before it is a problem rather than work the
  // daemon is doing right now.
  Duration settle = std::chrono::minutes(5);
  // The running daemon's pid (0: none runs): a claim it holds is an
  // integration in progress, not one in doubt.
  int daemon_pid = 0;
  WallTime now{};
  // statvfs; tests replace it. Unset = disk_space().
  std::function<Result<DiskSpace>(const std::string& path)> disk_space;
};

// Every problem found, in a stable order (by root, then kind, then path).
// Roots or directories that do not exist are simply empty; one that cannot be
// read (a symlink as temp/, EACCES) is skipped, and named in `errors` when
// given ("path: why").
// DoctorInput::age_out as the rules say: the debounce of the `session-age-out`
// rule, nullopt when it is disabled, the shipped 30 minutes when it is absent
// (or the rules did not load: nullptr).
std::optional<Duration> session_age_out(const RuleSet* rules);

// The sessions under the results roots' temp/ that are past `age_out` and not
// complete: what `recover fix` would fail (the `stale_sessions` alert measure).
std::size_t count_stale_sessions(const std::vector<DoctorRoot>& results,
                                 std::optional<Duration> age_out, WallTime now);

std::vector<SessionProblem> find_session_problems(const DoctorInput& in,
                                                  std::vector<std::string>* errors = nullptr);

struct FixResult {
  bool applied = false;  // something was attempted (false for kNone)
  bool ok = false;       // it worked (or there was nothing left to do)
  std::string result;    // one line: what was done, or why it failed
};

// Applies exactly the problem's fix. `now` stamps the records it writes (the
// recovery report, a re-landed session.completed).
FixResult apply_fix(const SessionProblem& p, WallTime now);

// diagnosis.h's JSON shape plus id, kind, fix (and entity when set):
// {"severity","subject","what","hint","id","kind","fix"}. `hint` says the fix
// for readers of the old shape.
std::string session_problem_json(const SessionProblem& p);
std::string session_problems_json(const std::vector<SessionProblem>& problems);
std::string session_problem_hint(const SessionProblem& p);

// ---- `recover fix`: the loop over the problems ----

struct FixRunOptions {
  bool auto_yes = false;     // --auto: apply every fix without asking
  bool dry_run = false;      // --dry-run: say what would be done, change nothing
  bool json = false;         // --json: one JSON object on `out` at the end
  bool interactive = false;  // stdin is a terminal (asked only without --auto)
};

// What `recover fix` did with one problem.
struct FixRecord {
  const SessionProblem* problem = nullptr;
  std::string action;  // "would", "applied", "failed", "declined", "none"
  std::string result;
};

// Records one applied fix in the event log (the audit trail); returns an
// error when it could not be recorded (the fix itself stays done).
using FixRecorder = std::function<Status(const SessionProblem& p, const FixResult& r)>;

// Applies `fixer` to each problem `problems` lists, asking on `err` and reading
// `in` per problem unless auto_yes or dry_run; records each attempted fix with
// `record`. Output: the text form on `out` (or, with json, one object:
// {"dry_run", "fixes": [{id, kind, subject, what, fix, action, result}]}).
// Returns the exit code: 0 every fix attempted worked (or there was nothing to
// do, or a dry run), 1 one failed or could not be recorded, 2 refused (no
// terminal to ask on and no --auto; nothing is changed).
using Fixer = std::function<FixResult(const SessionProblem& p)>;
int run_fixes(const std::vector<SessionProblem>& problems, const FixRunOptions& options,
              const Fixer& fixer, const FixRecorder& record, std::istream& in, std::ostream& out,
              std::ostream& err);

// The audit event of one applied fix: kind control.recover.fix, source "cli",
// path = subject, entity = the session (when any); fields problem, id, subject,
// fix, action, result, fixed (whether it worked), uid, user, and outcome "ok"
// (the request's, as on every control.* audit event).
Event recover_fix_event(const SessionProblem& p, const FixResult& r, std::uint32_t uid,
                        const std::string& user);

}  // namespace aw
