// What the rules decide and the actions do: the contract between src/rules (which
// produces ActionRequests, pure) and src/actions (which carries them out, async).
//
// Every templated value has already been rendered into plain strings here; an
// action never sees template syntax and never builds shell text.
#pragma once

#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "src/core/clock.h"
#include "src/core/event.h"

namespace aw {

enum class ActionType { kRun, kMove, kQuarantine, kMark, kEmit };

// "run", "move", "quarantine", "mark", "emit"
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
  }
  return "unknown";
}

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

  // run
  std::vector<std::string> argv;  // argv[0] resolved through PATH when it has no '/'
  std::string cwd;                // "" = the daemon's cwd
  std::vector<std::pair<std::string, std::string>> env;  // added to the daemon's environment
  // Only when a rule says shell = true: run /bin/sh -c argv[0] sh argv[1..]; the
  // templated values stay positional parameters ($1, $2 ...), never script text.
  bool shell = false;
  Duration kill_grace = std::chrono::seconds(5);  // SIGTERM → grace → SIGKILL on timeout

  // move / quarantine: move `source` into directory `to`, both confined to `root`.
  std::string source;
  std::string to;
  std::string root;    // the watched root both paths must stay under ("" = no confinement)
  std::string reason;  // quarantine: written to <name>.reason beside the moved file

  // mark: write a marker file (if non-empty) and record `entity` in `state`.
  std::string marker;
  std::string entity;  // mark, emit
  std::string state = "completed";

  // emit: a derived event re-entering the pipeline.
  std::string emit_kind;
  Fields emit_fields;
};

// The actions one rule wants run for one event, in order.
struct Plan {
  std::string rule;
  std::vector<ActionRequest> actions;
};

}  // namespace aw
