// What one ActionRequest came to: the value every action reports exactly once.
//
// The daemon turns it into an `action.succeeded` / `action.failed` event; the
// category is a closed vocabulary so that rules and `agentwatch stats` can group
// failures without parsing messages (docs/actions.md lists them).
#pragma once

#include <string>
#include <utility>

#include "src/core/event.h"

namespace aw {

// The closed set of outcome categories.
namespace outcome_category {
inline constexpr const char* kOk = "ok";
inline constexpr const char* kTimeout = "timeout";      // we killed it for running too long
inline constexpr const char* kExecution = "execution";  // it ran and failed
inline constexpr const char* kNotFound = "not_found";   // program, file or directory missing
inline constexpr const char* kPermission =
    "permission";                                     // refused: mode bits, symlink, confinement
inline constexpr const char* kResource = "resource";  // out of processes, memory, space, fds
inline constexpr const char* kValidation =
    "validation";  // the request itself is wrong; never retried
inline constexpr const char* kInterrupted = "interrupted";  // cut short by shutdown
inline constexpr const char* kUnknown = "unknown";          // a bug or an error we did not foresee
}  // namespace outcome_category

struct ActionOutcome {
  bool ok = false;
  std::string category = outcome_category::kUnknown;
  std::string message;     // one line: what happened
  std::string suggestion;  // one line: what to do (empty when ok)
  Fields fields;           // per action type; see docs/actions.md
  int attempts = 0;        // attempts made, the last one included
};

inline ActionOutcome make_success(std::string message, Fields fields = {}) {
  ActionOutcome o;
  o.ok = true;
  o.category = outcome_category::kOk;
  o.message = std::move(message);
  o.fields = std::move(fields);
  return o;
}

inline ActionOutcome make_failure(std::string category, std::string message, std::string suggestion,
                                  Fields fields = {}) {
  ActionOutcome o;
  o.ok = false;
  o.category = std::move(category);
  o.message = std::move(message);
  o.suggestion = std::move(suggestion);
  o.fields = std::move(fields);
  return o;
}

}  // namespace aw
