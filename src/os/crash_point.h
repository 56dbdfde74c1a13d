// Crash points: named places where the daemon can be made to SIGKILL itself,
// so that the crash harness (docs/crash-testing.md) hits the narrow windows a
// kill at a random moment rarely does: between the intent log's write and the
// event log's, after a file was renamed and before its outcome is logged,
// after a worker was spawned and before the store knows it.
//
// AGENTWATCH_CRASH_AT=NAME:N, read once at start (arm_crash_point_from_env):
// the Nth pass through crash_point(NAME) raises SIGKILL. For tests only; when
// it is unset, as always outside them, a pass costs one relaxed atomic load.
//
// Thread safety: crash_point() may be called from any thread (a move runs on
// the thread pool); arm before starting threads.
#pragma once

#include <span>
#include <string_view>

#include "src/core/result.h"

namespace aw {

inline constexpr const char* kCrashAtVar = "AGENTWATCH_CRASH_AT";

// Every crash point, where it is and what a kill there leaves:
//   intents-written  an intent log write landed (before acting, the opens come
//                    before the event log's write: the cause may be missing)
//   events-written   an event log write landed (an action's effect may have
//                    happened with its outcome not logged yet)
//   index-written    a file index write landed
//   file-moved       a move's rename landed (on the thread pool), before its
//                    outcome reaches the loop
//   worker-spawned   a worker was spawned, before the store learns its pid
//   notify-logged    a notification is in the event log, before the reply
std::span<const char* const> crash_point_names();

// Arms `spec` ("NAME:N", N >= 1). Errors name what is wrong and list the points.
Status arm_crash_point(std::string_view spec);
// Arms AGENTWATCH_CRASH_AT when it is set; nothing otherwise.
Status arm_crash_point_from_env();
// Disarms (tests).
void disarm_crash_point();

// Counts a pass through `name`; SIGKILLs the process on the armed pass.
void crash_point(std::string_view name);

}  // namespace aw
