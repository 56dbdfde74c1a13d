// How a `run` action's result is judged: spawn errors and child exits turned
// into an ActionOutcome (category, one-line message and suggestion, fields).
// Pure: no I/O except one stat() of the cwd when a spawn failed with ENOENT or
// EACCES, to tell a missing program from a missing working directory.
#pragma once

#include <string>
#include <vector>

#include "src/actions/action_outcome.h"
#include "src/core/clock.h"
#include "src/core/result.h"
#include "src/os/child_process.h"

namespace aw {

// What the executor did to the child, which decides how its death reads.
struct RunContext {
  std::string program;  // argv[0] as given (for messages)
  std::string cwd;      // "" = the daemon's
  Duration timeout{0};  // the limit that applied
  Duration kill_grace{0};
  bool timed_out = false;     // the executor stopped it for running too long
  bool interrupted = false;   // the executor stopped it for shutdown
  bool sent_sigkill = false;  // the executor sent SIGKILL itself
};

// posix_spawn failed (Error::code = -errno). No child exists.
ActionOutcome classify_spawn_error(const Error& error, const RunContext& ctx);

// The child exited. Fields: pid, exit_code (-1 when killed), signal (0 when it
// exited), wall_ms, user_ms, sys_ms, max_rss_kb, stdout_tail, stderr_tail,
// stdout_bytes, stderr_bytes, timed_out.
// Categories: interrupted / timeout (we stopped it), ok (exit 0), not_found
// (exit 127), permission (exit 126), resource (SIGKILL we did not send: the OOM
// killer, most likely), execution (any other exit or signal).
ActionOutcome classify_exit(const ChildExit& exit, const RunContext& ctx);

// "SIGKILL" for 9, "signal 77" for what has no name.
std::string signal_name(int sig);

}  // namespace aw
