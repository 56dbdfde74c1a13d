// Env: the one seam between agentwatch and the operating system calls whose
// failures it must survive (LevelDB's Env; STYLE: "all OS access goes through an
// Env"). Production code takes an `Env&` (default: Env::real()); a test derives
// from Env and overrides one call to fail a write with ENOSPC, cut it short,
// refuse a rename or a watch, or answer for /proc, which a real system will not
// do on demand. Every layer that writes durably, watches or judges a process
// (event log, lifecycle store, directory watcher, file index, supervisor) takes
// the same Env, so one fault plan reaches all of them.
//
// Only those calls go through here; reads of small files and the thread pool's
// bulk copies use the real calls directly. File calls follow the syscall
// conventions: -1 and errno on failure. /proc answers are Results whose
// Error::code is the negative errno (-ENOENT: no such process).
//
// Thread safety: Env::real() is stateless and may be called from any thread; a
// test's Env must be as safe as the threads that use it (the event log's writer
// and the PID-file reader call it from the thread pool).
#pragma once

#include <sys/types.h>

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "src/core/clock.h"
#include "src/core/result.h"

namespace aw {

class Env {
 public:
  virtual ~Env() = default;

  // Files.
  virtual int open(const char* path, int flags, mode_t mode);
  virtual ssize_t write(int fd, const void* data, std::size_t len);
  virtual int fsync(int fd);
  virtual int rename(const char* from, const char* to);
  virtual int ftruncate(int fd, off_t length);

  // inotify_add_watch(2): the watch descriptor, or -1 and errno.
  virtual int add_watch(int inotify_fd, const char* path, std::uint32_t mask);

  // Processes, as /proc tells. The text of /proc/PID/stat.
  virtual Result<std::string> read_proc_stat(pid_t pid);
  // The environment PID was exec'd with: /proc/PID/environ, NUL-separated
  // NAME=VALUE entries.
  virtual Result<std::string> read_proc_environ(pid_t pid);
  // Every PID /proc lists now, in no particular order.
  virtual Result<std::vector<pid_t>> list_pids();
  // The target of /proc/PID/exe (" (deleted)" suffix kept as the kernel gives it).
  virtual Result<std::string> read_proc_exe(pid_t pid);
  // When the system booted, by the wall clock as it reads now (CLOCK_REALTIME −
  // CLOCK_BOOTTIME, the base of a process's start tick).
  virtual Result<WallTime> boot_time();

  // The process-wide pass-through to the real calls. Lives forever.
  static Env& real();
};

}  // namespace aw
