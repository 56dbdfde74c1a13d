// logpipe: copies a stream (a tmux pane's output) into a log file that may be
// rotated under it, losing nothing (issue #4; DESIGN §6 scenario 13).
//
//   tmux pipe-pane -o -t worker-3 'agentwatch logpipe --file ~/logs/worker-3.log'
//
// tmux gives the pane's output on stdin until the pane closes (EOF). logpipe
// appends it to the file (O_APPEND | O_CREAT, mode 0600 by default) and
// follows rotation by rename: before each write it compares the file it holds
// (fstat: device, inode) with the one at the path (lstat), and when they
// differ, or the name is gone, it opens the path again (creating a fresh file)
// and writes there. One lstat per write, and at most two writes per read()
// chunk: cheap. SIGHUP reopens at once, without waiting for input (for
// rotators that signal).
//
// Why no byte is lost across a rename rotation: whatever is written before the
// rename lands in the renamed inode, which the log tailer reads to its end
// (watchers/logtail/log_tailer.h) and which the rotator leaves uncompressed
// until the next rotation (src/actions/rotate_file.h, delaycompress). A write
// racing the rename (lstat said "same", then the rename, then the write) still
// lands in that inode. The next rotation can only happen once a new file
// exists at the path, that is after logpipe reopened.
//
// Whole lines: each write() carries every complete line read so far, so a
// reader never sees a line torn between two writes (and O_APPEND writes from
// several logpipes into one file do not interleave inside a line). A partial
// line (a shell prompt, a progress bar) is held until its '\n' comes, but no
// longer than `flush_after` without more input, and no longer than
// `max_line` bytes: then it is written as it is.
//
// Exit status (returned): 0 at end of input; 1 when the file cannot be opened
// or written, or the input cannot be read (`*error` names the path and the
// system's message); 2 for bad options. A failed reopen (say the directory
// went away) is not fatal: logpipe keeps writing to the file it holds and tries
// again at the next write.
//
// Threads and signals: a plain blocking program, never run on the daemon's
// loop. While running it blocks SIGHUP in the calling thread (restored on
// return) and receives it only inside ppoll(), through a handler it installs
// for the process (the previous one is put back on return); so run one
// logpipe per process (tests run it on a thread, one at a time).
#pragma once

#include <sys/types.h>

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <string>

#include "src/core/clock.h"

namespace aw {

struct LogpipeStats {
  std::uint64_t bytes_in = 0;
  std::uint64_t bytes_written = 0;
  std::uint64_t writes = 0;           // write() calls that wrote something
  std::uint64_t reopens = 0;          // the path led to another file (or none): opened again
  std::uint64_t reopen_failures = 0;  // kept writing to the file held
  std::uint64_t hangups = 0;          // SIGHUPs received
  std::uint64_t partial_writes = 0;   // partial lines written before their '\n'
};

struct LogpipeOptions {
  std::string path;                  // the log file; its directory must exist
  std::size_t max_line = 64 * 1024;  // a partial line this long is written as it is
  Duration flush_after = std::chrono::milliseconds(200);  // quiet time before a partial line goes
  mode_t mode = 0600;             // of a file logpipe creates (umask applies)
  LogpipeStats* stats = nullptr;  // borrowed; filled while running, read it after return
};

// Reads `in_fd` (not closed) until EOF and appends to options.path as above.
int run_logpipe(const LogpipeOptions& options, int in_fd, std::string* error);

}  // namespace aw
