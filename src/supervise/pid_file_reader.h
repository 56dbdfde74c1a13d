// Reading a worker's PID file off the loop: the file (its text and its mtime,
// from one fd) and, when it names a PID, what /proc says about that PID and the
// program the worker's argv[0] resolves to — everything judge_pid_file()
// (process_identity.h) needs, gathered on the thread pool because /proc and the
// file system may be slow (docs/workers.md, "PID files").
//
// Threading: read_pid_file_async() is called on the loop thread; its work runs
// on the thread pool and touches only copies and `env`; `done` runs on the loop
// thread. Lifetimes: `env` must outlive the work (the Supervisor's Env
// contract); `done` must check that whatever it captured is still alive (the
// Supervisor holds a weak_ptr for that).
#pragma once

#include <uv.h>

#include <functional>
#include <optional>
#include <string>
#include <string_view>

#include "src/supervise/process_identity.h"

namespace aw {

struct PidFileRead {
  int err = 0;  // open / fstat / read
  std::string text;
  PidFileClaim claim;  // pid 0: the text is not a PID
  std::optional<ProcAnswers> proc;
  std::string expected_exe;
};

// What /proc/PID/exe names for a process started as `argv0`: its real path,
// when argv0 resolves (with a '/': as a path, relative to `cwd` when not
// absolute; else the first executable of that name in $PATH) to an ELF binary.
// "" when it does not resolve, or resolves to a script: a `#!` file runs its
// interpreter, and /proc/PID/exe names that. Blocking (a few stat()s and a 4-byte
// read): the thread pool only.
std::string resolve_program_exe(const std::string& argv0, const std::string& cwd);

// "  4242\n" → 4242; 0 when the text is not one positive number.
pid_t parse_pid_text(std::string_view text);

// Queues the read; 0, or a libuv error when it could not be queued (then `done`
// never runs).
int read_pid_file_async(uv_loop_t* loop, Env& env, const std::string& path,
                        const std::string& argv0, const std::string& cwd,
                        std::function<void(const PidFileRead&)> done);

}  // namespace aw
