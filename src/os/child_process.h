// A child process we spawned, watched through a pidfd on the loop.
//
// Why not uv_spawn: we need wait4()'s rusage (CPU time, max RSS) and a pidfd, and
// we must never reap children we did not spawn (no waitpid(-1)): only this
// object's own pid is ever waited for, and only once its pidfd says it exited.
//
// The child gets: argv exactly as given (no shell), the daemon's environment plus
// the additions, an optional cwd, stdin from /dev/null, stdout/stderr into pipes
// (or /dev/null, or a file of its own), no other fd of the daemon's, a process group of its own (so
// a timeout reaches its grandchildren), an empty signal mask and default dispositions for every
// signal (so it inherits neither the daemon's handlers nor an ignored SIGPIPE).
//
// Threading: loop thread only. Ownership: the caller owns the ChildProcess
// (unique_ptr); it owns the pidfd, the pipe ends and their poll handles.
#pragma once

#include <sys/types.h>
#include <uv.h>

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "src/core/clock.h"
#include "src/core/result.h"
#include "src/os/unique_fd.h"
#include "src/uvx/handle.h"

namespace aw {

struct SpawnOptions {
  std::vector<std::string> argv;  // argv[0] is searched in PATH when it has no '/'
  std::string cwd;                // "" = the daemon's cwd
  // Set on top of the daemon's environment (an existing key is replaced).
  std::vector<std::pair<std::string, std::string>> env;
  bool capture_output = true;  // false: stdout and stderr go to /dev/null
  // Set: stdout and stderr are appended to this file (created 0600 if missing)
  // instead of pipes, and capture_output is ignored. Such a child can outlive
  // us (release()): nothing of ours holds its output. At its end, stderr_tail
  // is the file's last tail_limit bytes, read on the thread pool.
  std::string output_path;
  std::size_t tail_limit = 4096;  // bytes of each stream kept (the last ones)
  // After the child exits, how long to wait for EOF on its pipes: a grandchild
  // that inherited them may keep them open for ever.
  Duration drain_limit = std::chrono::milliseconds(200);
  // Optional: every chunk read, as it arrives (stream is 1 or 2). Called on the
  // loop thread; it must not destroy the ChildProcess.
  std::function<void(int stream, std::string_view bytes)> on_output;
};

struct ChildExit {
  pid_t pid = 0;
  // true: exit_code is valid; false: term_signal is (0 only if the status was
  // lost because something else reaped the child: a bug elsewhere).
  bool exited = false;
  int exit_code = -1;
  int term_signal = 0;
  bool core_dumped = false;
  Duration wall{0};      // spawn → reaped, read from the Clock
  Duration user_cpu{0};  // wait4 rusage of the child (and its waited-for descendants)
  Duration sys_cpu{0};
  std::int64_t max_rss_kb = 0;
  std::string stdout_tail;         // last tail_limit bytes
  std::string stderr_tail;         // with output_path: the output file's last bytes
  std::uint64_t stdout_bytes = 0;  // total bytes read
  std::uint64_t stderr_bytes = 0;
  bool pipes_abandoned = false;  // a descendant still held a pipe at drain_limit
};

class ChildProcess {
 public:
  using ExitCallback = std::function<void(const ChildExit&)>;

  // Spawns synchronously (before returning, the child exists or the error is
  // known). On error no child is left behind and `on_exit` is never called;
  // Error::code is the negative errno (posix_spawn reports exec failures such
  // as -ENOENT / -EACCES, and a missing cwd as -ENOENT too).
  // `on_exit` is called once, on the loop thread, after the child was reaped and
  // its pipes reached EOF (or drain_limit passed). It runs inside one of this
  // object's own handle callbacks and touches nothing of it afterwards, so it
  // may destroy the ChildProcess (uvx wrappers are safe to destroy in their
  // own callbacks).
  // `clock` must outlive the ChildProcess.
  static Result<std::unique_ptr<ChildProcess>> spawn(uv_loop_t* loop, const Clock& clock,
                                                     SpawnOptions options, ExitCallback on_exit);

  // Destroying a child that was not reaped yet kills its group with SIGKILL and
  // reaps it (a short blocking wait4: SIGKILL cannot be ignored). Wait for
  // on_exit to avoid that. The pidfd and pipe ends stay open (their polls
  // stopped) until destruction, so destroy it soon after on_exit.
  ~ChildProcess();
  ChildProcess(const ChildProcess&) = delete;
  ChildProcess& operator=(const ChildProcess&) = delete;

  pid_t pid() const { return pid_; }
  bool reaped() const { return reaped_; }
  // kill(-pgid, sig), falling back to kill(pid, sig) if the group is gone.
  // Returns 0 or -errno. Refused (-ESRCH) once the child was reaped: from then on
  // its pid (and so its group id) may belong to someone else.
  int kill_group(int sig);
  // When set, the moment the child is seen to exit (still a zombie, so its group
  // id is still ours) whatever is left of its group gets SIGKILL before the child
  // is reaped. Used once a stop was asked for: stragglers must not outlive it.
  void kill_group_on_exit(bool on) { kill_group_on_exit_ = on; }
  // Stops watching the child and leaves it running: on_exit will not be called
  // and the destructor neither kills nor reaps it (whoever becomes its parent
  // does: init, or a subreaper). For a child with an output_path; one whose
  // output is in our pipes would get EPIPE once they close.
  void release();

 private:
  struct Stream {
    UniqueFd fd;
    std::unique_ptr<uvx::Poll> poll;
    std::string tail;
    std::uint64_t total = 0;
    bool eof = true;
  };

  ChildProcess(uv_loop_t* loop, const Clock& clock, std::size_t tail_limit, Duration drain_limit,
               std::function<void(int, std::string_view)> on_output, ExitCallback on_exit);
  int start_watching();
  void on_pidfd_readable();
  // With an output_path: reads its tail on the thread pool, then delivers.
  void read_output_tail();
  void read_stream(Stream& s, int which);
  // Stops watching a stream (EOF, error or delivery). Its poll handle and fd
  // are released only by the destructor: a handle is never destroyed inside its
  // own callback, and an fd never closed before its poll handle.
  void stop_stream(Stream& s);
  void maybe_deliver();
  void deliver();

  uv_loop_t* loop_;
  const Clock& clock_;
  std::size_t tail_limit_;
  Duration drain_limit_;
  std::function<void(int, std::string_view)> on_output_;
  ExitCallback on_exit_;

  pid_t pid_ = 0;
  MonoTime started_{};
  bool reaped_ = false;
  bool kill_group_on_exit_ = false;
  bool delivered_ = false;
  bool released_ = false;
  std::string output_path_;
  bool output_tail_pending_ = false;  // reaped; the output file's tail is being read
  ChildExit exit_;
  UniqueFd pidfd_;
  std::unique_ptr<uvx::Poll> pidfd_poll_;
  Stream out_;
  Stream err_;
  std::unique_ptr<uvx::Timer> drain_timer_;
  uvx::WorkOwner work_owner_;  // the tail read's completion needs this object
};

namespace detail {
// The environment a child gets: `base` (KEY=VALUE strings) with `additions`
// replacing or adding keys. Pure; exposed for tests.
std::vector<std::string> merge_environment(
    const char* const* base, const std::vector<std::pair<std::string, std::string>>& additions);
// Keeps the last `limit` bytes of tail + chunk in `tail`.
void append_tail(std::string& tail, std::string_view chunk, std::size_t limit);
}  // namespace detail

}  // namespace aw
