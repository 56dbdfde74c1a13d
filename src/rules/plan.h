// What the rules decide and the actions do: the contract between src/rules (which
// produces ActionRequests, pure) and src/actions (which carries them out, async).
//
// Every templated value has already been rendered into plain strings here; an
// action never sees template syntax and never builds shell text.
#pragma once

#include <csignal>
#include <cstdint>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "src/core/clock.h"
#include "src/core/event.h"

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
  kKill,     // signal a supervised worker (TERM → grace → KILL)
  kRestart,  // restart a supervised worker through its restart policy
  kTmux,     // open / send keys to / kill a tmux session
  kRotate,   // rotate a log file (keep N, gzip)
  kProbe,    // run a command and turn matching output lines into events
};

// "run", "move", "quarantine", "mark", "emit", "kill", "restart", "tmux",
// "rotate", "probe": the `do` of a rule file and the `action` field of events.
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

// Retries with capped exponential backoff and jitter. Attempt k (k >= 1) that
// fails waits min(max, initial * factor^(k-1)) * (1 ± jitter·u) before the next.
struct RetryPolicy {
  int retries = 0;  // extra attempts after the first
  Duration initial = std::chrono::seconds(1);
  double factor = 2.0;
  Duration max = std::chrono::seconds(60);
  double jitter = 0.2;  // fraction in [0, 1]
};

struct ActionRequest {
  ActionType type = ActionType::kRun;
  std::string rule;       // name of the rule this action belongs to
  std::size_t index = 0;  // position in the rule's action list (0-based)
  Duration timeout{0};    // 0 = the action type's default
  RetryPolicy retry;
  // Non-empty when rendering failed (e.g. {fields.x} absent from the event):
  // executing the request must fail at once with category "validation".
  std::string render_error;

  // run; argv/cwd/env also for tmux (open) and probe.
  std::vector<std::string> argv;  // argv[0] resolved through PATH when it has no '/'
  std::string cwd;                // "" = the daemon's cwd
  std::vector<std::pair<std::string, std::string>> env;  // added to the daemon's environment
  // Only when a rule says shell = true: run /bin/sh -c argv[0] sh argv[1..]; the
  // templated values stay positional parameters ($1, $2 ...), never script text.
  bool shell = false;
  // run/probe: SIGTERM → grace → SIGKILL on timeout (default 5s).
  // kill: the time between `signal` and SIGKILL (rule key `grace`, default 10s).
  Duration kill_grace = std::chrono::seconds(5);

  // move / quarantine: move `source` into directory `to`, both confined to `root`.
  std::string source;
  std::string to;
  std::string root;    // the watched root both paths must stay under ("" = no confinement)
  std::string reason;  // quarantine: written to <name>.reason beside the moved file;
                       // kill / restart: why, for the log and the worker's history ("" = none)

  // mark: write a marker file (if non-empty) and record `entity` in `state`.
  std::string marker;
  std::string entity;  // mark, emit
  std::string state = "completed";

  // emit: a derived event re-entering the pipeline.
  std::string emit_kind;
  Fields emit_fields;

  // kill / restart: the supervised worker's name (rule default "{entity}").
  std::string worker;
  // kill: the first signal; if the worker is still alive `kill_grace` later it
  // gets SIGKILL (unless `signal` already was SIGKILL).
  int signal = SIGTERM;

  // tmux
  TmuxOp tmux_op = TmuxOp::kOpen;
  std::string session;  // the tmux session name; required for every op
  // open: argv (optional: what to run in the session; empty = tmux's default
  // shell), cwd and env (above) describe the session's first window.
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

  // rotate: rotate the file at `path` once it holds at least `max_size` bytes
  // (0 = no size limit) or its current segment is older than `max_age` (0 = no
  // age limit); the loader guarantees at least one limit. Keeps `keep` (>= 1)
  // rotated files, gzipped when `compress`.
  std::string path;
  std::uint64_t max_size = 0;
  Duration max_age{0};
  int keep = 5;
  bool compress = true;
  RotateMethod method = RotateMethod::kRename;

  // probe: run argv (cwd, env, timeout as for run); read at most `max_output`
  // bytes of its stdout; every line matching a pattern becomes an event, one per
  // matching pattern (src/schedule/probe.h).
  std::vector<ProbePattern> patterns;
  std::uint64_t max_output = 1 << 20;
};

// The actions one rule wants run for one event, in order.
struct Plan {
  std::string rule;
  std::vector<ActionRequest> actions;
};

}  // namespace aw
