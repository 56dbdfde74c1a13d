// What the rules decide and the actions do: the contract between src/rules (which
// produces ActionRequests, pure) and src/actions and src/daemon (which carry them
// out, async). Its own header-only library (src/plan) below both, so that the
// actions never include the rules.
//
// Every templated value has already been rendered into plain strings here; an
// action never sees template syntax and never builds shell text.
#pragma once

#include <csignal>
#include <cstdint>
#include <memory>
#include <string>
#include <type_traits>
#include <utility>
#include <variant>
#include <vector>

#include "src/core/clock.h"
#include "src/core/event.h"
#include "src/plan/retry_policy.h"

namespace re2 {
class RE2;
}

namespace aw {

enum class ActionType {
  kRun,
  kMove,
  kQuarantine,
  kMark,
  kEmit,
  kKill,              // signal a supervised worker (TERM → grace → KILL)
  kRestart,           // restart a supervised worker through its restart policy
  kTmux,              // open / send keys to / kill a tmux session
  kRotate,            // rotate a log file (keep N, gzip)
  kProbe,             // run a command and turn matching output lines into events
  kRepairJson,        // repair a result that is not valid JSON, or quarantine it
  kCompleteSession,   // judge a result session and move it to completed/ when complete
  kFailSession,       // move a session that never completed to failed/ with a recovery report
  kIntegrateSession,  // run a completed session's integration command, once, then move it
  kEnsureFile,        // restore a file (a hook script) from its source, with its mode
  kRetain,            // delete a directory's entries older than an age (retention)
  kCheckDisk,         // check the free space of the watched filesystems now
};

// "run", "move", "quarantine", "mark", "emit", "kill", "restart", "tmux",
// "rotate", "probe", "repair_json", "complete_session", "fail_session",
// "integrate_session", "ensure_file", "retain", "check_disk": the `do` of a rule
// file and the `action` field of events.
constexpr const char* action_type_name(ActionType t) {
  switch (t) {
    case ActionType::kRun:
      return "run";
    case ActionType::kMove:
      return "move";
    case ActionType::kQuarantine:
      return "quarantine";
    case ActionType::kMark:
      return "mark";
    case ActionType::kEmit:
      return "emit";
    case ActionType::kKill:
      return "kill";
    case ActionType::kRestart:
      return "restart";
    case ActionType::kTmux:
      return "tmux";
    case ActionType::kRotate:
      return "rotate";
    case ActionType::kProbe:
      return "probe";
    case ActionType::kRepairJson:
      return "repair_json";
    case ActionType::kCompleteSession:
      return "complete_session";
    case ActionType::kFailSession:
      return "fail_session";
    case ActionType::kIntegrateSession:
      return "integrate_session";
    case ActionType::kEnsureFile:
      return "ensure_file";
    case ActionType::kRetain:
      return "retain";
    case ActionType::kCheckDisk:
      return "check_disk";
  }
  return "unknown";
}

// What a `do = "tmux"` action does to its session.
enum class TmuxOp : std::uint8_t {
  kOpen,  // create the session (argv in it), wait until ready, then type brief/keys
  kSend,  // type brief and/or keys into an existing session
  kKill,  // kill the session
};

// "open", "send", "kill"
constexpr const char* tmux_op_name(TmuxOp op) {
  switch (op) {
    case TmuxOp::kOpen:
      return "open";
    case TmuxOp::kSend:
      return "send";
    case TmuxOp::kKill:
      return "kill";
  }
  return "unknown";
}

// How `do = "rotate"` moves the current log aside.
enum class RotateMethod : std::uint8_t {
  kRename,        // rename the file; the writer must reopen (or be a logpipe)
  kCopyTruncate,  // copy it, then truncate in place: for writers that never reopen;
                  // lines written between the copy and the truncate can be lost
};

// "rename", "copytruncate"
constexpr const char* rotate_method_name(RotateMethod m) {
  return m == RotateMethod::kRename ? "rename" : "copytruncate";
}

// One `patterns` entry of a probe: an output line that matches `regex`
// (RE2::PartialMatch) becomes an event of `kind`. The regex's named capture
// groups become fields of that event; their names never collide with the
// fields the probe sets itself (line, probe, rule): the loader refuses them.
struct ProbePattern {
  std::string match;                      // the pattern as written, for messages
  std::shared_ptr<const re2::RE2> regex;  // compiled and checked at load; immutable, so it
                                          // may be used from any thread (RE2 is thread-safe)
  std::string kind;                       // a valid event kind, e.g. "queue.failed"
};

// What a resumed plan does with an action the daemon died or stopped while it
// ran (docs/actions.md, "Resumed plans"): run it again, or report it
// interrupted and skip the rest of its plan. kDefault: again when the action is
// idempotent (rerun_when_interrupted below). A rule's `on_interrupt` key.
enum class OnInterrupt : std::uint8_t { kDefault, kRerun, kFail };

// The part every action has, whatever its type. The loader fills it for each
// [[rule.action]] (ActionSpec, src/rules/rule.h); rendering copies it into the
// request and sets render_error.
struct ActionHeader {
  std::string rule;                    // name of the rule this action belongs to
  std::size_t index = 0;               // position in the rule's action list (0-based)
  std::uint32_t line = 0, column = 0;  // where the action is written in its rule file
  Duration timeout{0};                 // 0 = the action type's default
  RetryPolicy retry;
  OnInterrupt on_interrupt = OnInterrupt::kDefault;
  // Run again by a resumed plan, after the daemon died while it ran: an effect
  // already in place counts as done (a move's file already moved). Set by the
  // pipeline, never by a rule, and not journaled.
  bool resumed = false;
  // Non-empty when rendering failed (e.g. {fields.x} absent from the event):
  // executing the request must fail at once with category "validation".
  std::string render_error;
};

using EnvList = std::vector<std::pair<std::string, std::string>>;

// One struct per action type: only the fields that type has, already rendered.

struct RunRequest {
  std::vector<std::string> argv;  // argv[0] resolved through PATH when it has no '/'
  std::string cwd;                // "" = the daemon's cwd
  EnvList env;                    // added to the daemon's environment
  // Only when a rule says shell = true: run /bin/sh -c argv[0] sh argv[1..]; the
  // templated values stay positional parameters ($1, $2 ...), never script text.
  bool shell = false;
  Duration kill_grace = std::chrono::seconds(5);  // SIGTERM → grace → SIGKILL on timeout
};

// Move `source` into directory `to`, both confined to `root`.
struct MoveRequest {
  std::string source;
  std::string to;
  std::string root;  // the watched root both paths must stay under ("" = no confinement)
};

// A move that also writes `reason` to <name>.reason beside the moved file.
struct QuarantineRequest {
  std::string source;
  std::string to;
  std::string root;
  std::string reason;
};

// Write a marker file (if non-empty) and record `entity` in `state`.
struct MarkRequest {
  std::string marker;
  std::string entity;
  std::string state = "completed";
};

// A derived event re-entering the pipeline.
struct EmitRequest {
  std::string kind;
  std::string entity;
  Fields fields;
};

// Signal a supervised worker; if it is still alive `grace` later it gets
// SIGKILL (unless `signal` already was SIGKILL).
struct KillRequest {
  std::string worker;  // the supervised worker's name (rule default "{entity}")
  int signal = SIGTERM;
  Duration grace = std::chrono::seconds(10);
  std::string reason;  // why, for the log and the worker's history ("" = none)
};

// Restart a supervised worker through its restart policy.
struct RestartRequest {
  std::string worker;
  std::string reason;
};

struct TmuxRequest {
  TmuxOp op = TmuxOp::kOpen;
  std::string session;  // the tmux session name; required for every op
  // open: argv (optional: what to run in the session; empty = tmux's default
  // shell), cwd and env describe the session's first window.
  std::vector<std::string> argv;
  std::string cwd;
  EnvList env;
  // open / send: `brief` is text typed into the session as one paste (may be
  // multi-line; "" = none), then Enter when `submit`; then each of `keys` in
  // order (tmux key names like "Enter", "C-c", or literal text).
  std::string brief;
  bool submit = true;
  std::vector<std::string> keys;
  // open: before typing, wait until the pane shows `wait_for` (plain text, not
  // a regex; "" = do not wait), for at most `ready_timeout` (0 = the tmux
  // module's default).
  std::string wait_for;
  Duration ready_timeout{0};
};

// Rotate the file at `path` once it holds at least `max_size` bytes (0 = no
// size limit) or its current segment is older than `max_age` (0 = no age
// limit); the loader guarantees at least one limit. Keeps `keep` (>= 1)
// rotated files, gzipped when `compress`.
struct RotateRequest {
  std::string path;
  std::uint64_t max_size = 0;
  Duration max_age{0};
  int keep = 5;
  bool compress = true;
  RotateMethod method = RotateMethod::kRename;
};

// Run argv (cwd, env, timeout as for run); read at most `max_output` bytes of
// its stdout; every line matching a pattern becomes an event, one per matching
// pattern (src/schedule/probe.h).
struct ProbeRequest {
  std::vector<std::string> argv;
  std::string cwd;
  EnvList env;
  std::vector<ProbePattern> patterns;
  std::uint64_t max_output = 1 << 20;
};

// Repair the JSON file at `source` (src/json/json_repair.h): the repaired copy
// goes into directory `to` ("" = beside the source) as <stem>.repaired<.ext>;
// then, when `quarantine` is set, the original moves there with a reason file
// (what was repaired, or why it could not be). Every path confined to `root`.
struct RepairJsonRequest {
  std::string source;
  std::string to;
  std::string root;
  std::string quarantine;
};

// Judge the result session in directory `session` (src/actions/result_session.h):
// complete when its `manifest` file's agents all have valid results, or when
// its `marker` file exists; then move it into `to`. Confined to `root`.
struct CompleteSessionRequest {
  std::string session;
  std::string to;
  std::string root;
  std::string manifest = "session.json";
  std::string marker = "session.done";
};

// A session in `session` (e.g. temp/<s>) that never completed: judged as
// complete_session would, then moved into `to` (failed/) with a
// recovery_report.json saying what was found and `reason`. Confined to `root`.
struct FailSessionRequest {
  std::string session;
  std::string to;
  std::string root;
  std::string manifest = "session.json";
  std::string marker = "session.done";
  std::string reason;
};

// Integrate the completed session in `session` (completed/<s>) at most once:
// claim it (a `claim` file in it), run `command` (retried as the action says),
// then write the `marker` file and move the session into `to` (integrated/).
// A session whose marker is already there is moved without running anything.
struct IntegrateSessionRequest {
  std::string session;
  std::string to;
  std::string root;
  RunRequest command;
  std::string marker = "session.integrated";
  std::string claim = "session.integrating";
};

// Make `path` a regular file with `source`'s content and `mode`; a file that
// was replaced with other content is moved into `keep` first ("" = the
// action's default). Confined to `root`.
struct EnsureFileRequest {
  std::string path;
  std::string source;
  std::string root;
  std::string keep;
  std::uint32_t mode = 0700;
};

// Delete the entries of `dir` (files, session directories) older than
// `max_age`, at most `max_entries` per run, confined to `root`, never through a
// symlink. Only names matching `glob` when it is set.
struct RetainRequest {
  std::string dir;
  std::string root;
  std::string glob;
  Duration max_age{0};
  std::uint64_t max_entries = 10000;
};

// Check the free space of every watched root's filesystem now: each one below
// its watch's min_free becomes a disk.low event (the daemon's disk monitor).
struct CheckDiskRequest {};

// In ActionType order: body.index() is the type.
using ActionBody =
    std::variant<RunRequest, MoveRequest, QuarantineRequest, MarkRequest, EmitRequest, KillRequest,
                 RestartRequest, TmuxRequest, RotateRequest, ProbeRequest, RepairJsonRequest,
                 CompleteSessionRequest, FailSessionRequest, IntegrateSessionRequest,
                 EnsureFileRequest, RetainRequest, CheckDiskRequest>;

static_assert(std::variant_size_v<ActionBody> ==
              static_cast<std::size_t>(ActionType::kCheckDisk) + 1);
static_assert(std::is_same_v<
              std::variant_alternative_t<static_cast<std::size_t>(ActionType::kTmux), ActionBody>,
              TmuxRequest>);

// Whether running an action twice has the effect of running it once, so a
// resumed plan may run it again when the daemon died while it ran: a move or
// quarantine (a source already gone from where it was, and present where it
// went, is done), a mark, a kill (signalling a worker again), a rotate (it
// checks its limits again), a probe (read-only by contract), a repair_json (a
// repaired copy already written with the same content is reused, an original
// already quarantined counts as done), a complete_session or fail_session (a
// session already moved counts as done), an ensure_file (it compares first), a
// retain (an entry already deleted is gone), a check_disk and a tmux kill. A
// run, a restart, an integrate_session (its command is a run) and a tmux open
// or send are not: they act again.
constexpr bool idempotent(ActionType type, const ActionBody& body) {
  switch (type) {
    case ActionType::kMove:
    case ActionType::kQuarantine:
    case ActionType::kMark:
    case ActionType::kEmit:
    case ActionType::kKill:
    case ActionType::kRotate:
    case ActionType::kProbe:
    case ActionType::kRepairJson:
    case ActionType::kCompleteSession:
    case ActionType::kFailSession:
    case ActionType::kEnsureFile:
    case ActionType::kRetain:
    case ActionType::kCheckDisk:
      return true;
    case ActionType::kTmux:
      return std::get<TmuxRequest>(body).op == TmuxOp::kKill;
    case ActionType::kRun:
    case ActionType::kRestart:
    case ActionType::kIntegrateSession:
      return false;
  }
  return false;
}

// One action to carry out: the common header and exactly the fields of its type.
struct ActionRequest : ActionHeader {
  ActionBody body;

  ActionType type() const { return static_cast<ActionType>(body.index()); }
  // The body as T, or null when the request is of another type.
  template <class T>
  const T* as() const {
    return std::get_if<T>(&body);
  }
  // The rule's on_interrupt, or the type's idempotence when it says nothing.
  bool rerun_when_interrupted() const {
    if (on_interrupt != OnInterrupt::kDefault) return on_interrupt == OnInterrupt::kRerun;
    return idempotent(type(), body);
  }
};

// The actions one rule wants run for one event, in order.
struct Plan {
  std::string rule;
  std::vector<ActionRequest> actions;
};

}  // namespace aw
