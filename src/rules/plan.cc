#include "src/rules/plan.h"

namespace aw {

const char* action_type_name(ActionType t) {
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

}  // namespace aw
