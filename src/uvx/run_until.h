#pragma once

#include <uv.h>

#include <functional>

namespace aw::uvx {

// Runs `loop` until `done()` holds, and checks it before every poll.
//
// Why not `while (!done()) uv_run(loop, UV_RUN_ONCE)`: an iteration runs its due
// timers first and then blocks in poll. A condition that one of those timers
// satisfies is seen only after some unrelated event wakes the poll, so a test can
// hang until its guard fires. Here a prepare handle (run just before each poll)
// stops the loop as soon as `done()` holds.
//
// Returns done(). It is false when the loop ran out of work, or when someone
// else called uv_stop (a test's guard timer).
bool run_until(uv_loop_t* loop, const std::function<bool()>& done);

}  // namespace aw::uvx
