// Who a PID is: guarding against PID reuse for processes we did not start.
//
// A PID alone names a process only while it lives; afterwards the kernel may
// hand the number to anyone. So at adoption we record the process's start time
// (/proc/PID/stat field 22, clock ticks since boot: unique per PID in practice)
// and its executable (readlink /proc/PID/exe), and compare both whenever we ask
// again. A query that fails (EPERM on /proc, hidepid, a read error) says
// nothing: the verdict is kUnknown, never "dead" (a supervisor that kills or
// restarts on a failed read would do harm on every permissions hiccup).
//
// All /proc access goes through ProcFs (LevelDB's Env idea) so tests can inject
// failures. Threading: ProcFs implementations must be callable from the loop
// thread; the real one does small synchronous reads of procfs (no disk I/O).
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "src/core/clock.h"
#include "src/core/result.h"
#include "src/supervise/evidence.h"

namespace aw {

class ProcFs {
 public:
  virtual ~ProcFs() = default;
  // The text of /proc/PID/stat. Error::code is the negative errno (-ENOENT: no
  // such process).
  virtual Result<std::string> read_stat(pid_t pid) const = 0;
  // The target of /proc/PID/exe (" (deleted)" suffix kept as the kernel gives it).
  virtual Result<std::string> read_exe(pid_t pid) const = 0;
};

// The real /proc. A process-wide singleton; thread-safe (stateless).
const ProcFs& real_proc_fs();

struct ProcessIdentity {
  pid_t pid = 0;
  std::uint64_t start_ticks = 0;  // /proc/PID/stat field 22
  std::string exe;                // "" = could not be read (not compared then)

  friend bool operator==(const ProcessIdentity&, const ProcessIdentity&) = default;
};

// "pid=123 start=4711 exe=/usr/bin/sleep" (exe omitted when unknown): what the
// store keeps and events show. parse_identity reads it back (nullopt if malformed).
std::string format_identity(const ProcessIdentity& id);
std::optional<ProcessIdentity> parse_identity(std::string_view text);

// Field 22 of a /proc/PID/stat line. Pure. The command name (field 2) may hold
// spaces and parentheses, so fields are counted after the last ')'.
Result<std::uint64_t> parse_stat_start_ticks(std::string_view stat);
// Field 3 (state letter: R, S, D, Z, ...). Pure.
Result<char> parse_stat_state(std::string_view stat);

enum class Liveness { kAlive, kAbsent, kUnknown };
// "alive", "absent", "unknown"
const char* liveness_name(Liveness l);

struct LivenessVerdict {
  Liveness liveness = Liveness::kUnknown;
  ProcessIdentity seen;   // what /proc said now (pid always set)
  EvidenceList evidence;  // at least one entry
};

// Asks /proc once whether `pid` is alive and, when `expected` is given, whether
// it is still the same process:
//   no /proc/PID                         → kAbsent
//   zombie (state Z)                     → kAbsent (it ended; only its status is left)
//   start time differs from expected     → kAbsent (the PID was reused)
//   exe differs, no start time recorded  → kAbsent (another program has the PID)
//   exe differs, start time matches      → kAlive, noted (the process exec'd: a
//                                          PID cannot be reused within one tick)
//   stat unreadable for any other reason → kUnknown
//   otherwise                            → kAlive (exe unreadable is noted, not fatal)
LivenessVerdict probe_process(const ProcFs& fs, const Clock& clock, pid_t pid,
                              const std::optional<ProcessIdentity>& expected);

}  // namespace aw
