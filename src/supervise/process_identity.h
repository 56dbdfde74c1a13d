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
// A PID file is weaker still: a claim written at one moment (its mtime) that
// may outlive the process it names, be re-landed (restored, renamed into place
// with its old mtime), and name a PID the kernel has handed on. The rule for
// adopting from one is judge_pid_file() below.
//
// All /proc access goes through Env (src/os/env.h: read_proc_stat,
// read_proc_exe, boot_time) so tests can inject failures. Threading: the Env
// is called from the loop thread and from the thread pool (the PID-file check
// asks off the loop), so a test's Env must be thread-safe; the real one is
// stateless and does small synchronous reads of procfs (no disk I/O).
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "src/core/clock.h"
#include "src/core/result.h"
#include "src/os/env.h"
#include "src/supervise/evidence.h"

namespace aw {

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
// Field 5, the process group. Pure.
Result<pid_t> parse_stat_process_group(std::string_view stat);

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
LivenessVerdict probe_process(Env& env, const Clock& clock, pid_t pid,
                              const std::optional<ProcessIdentity>& expected);

// A start tick (/proc/PID/stat field 22: clock ticks since boot) as wall time,
// given Env::boot_time(): comparable with a file's mtime. Precise to a tick
// (10 ms): the tick count is rounded down.
WallTime process_start_time(WallTime boot, std::uint64_t start_ticks);

// ---- adopting from a PID file ----
//
// A process writes its PID file after it starts (or a launcher writes it after
// the fork), so a file written at T can only name a process that existed at T.
// A process that started after T got its PID after the file was written: the
// PID was reused, the file is stale (or re-landed with its old mtime), and the
// file says nothing about it. So a PID file is plausible when:
//
//   start(P) <= mtime + kPidFileClockTolerance       P existed when it was written
//
// and it is refused otherwise. There is no lower bound: a file may be written
// long after its process started (a launcher recording what it found). The
// tolerance covers clocks, not reuse: start times are rounded down to a tick,
// and file timestamps come from a coarse clock (a tick behind) or, on some
// file systems, whole seconds. A PID reused within that second after the file
// was written is not caught by this rule (the exe check below may still).
//
// The verdicts, in this order:
//   no such process (or a zombie)             kGone: nothing to adopt (adopt_failed)
//   start time or boot time unreadable        kUnverifiable: refused (the file alone
//                                             does not say which process it names)
//   start(P) > mtime + tolerance              kStale: refused
//   `expected_exe` given and /proc/PID/exe    kWrongProgram: refused (a " (deleted)"
//   names another file                        suffix is ignored: an upgraded binary)
//   otherwise                                 kPlausible (an unreadable exe is noted)
//
// The check is a judgement at one moment: the caller adopts with the identity
// seen here as the expected one, so a process that ended and whose PID was
// reused in between is caught by ProcessWatch::adopt.
inline constexpr Duration kPidFileClockTolerance = std::chrono::seconds(1);

// What a PID file says: the PID, and when the file was last written.
struct PidFileClaim {
  pid_t pid = 0;
  WallTime written{};  // its mtime
};

// What /proc said about the PID, asked off the loop (ask_proc_about) and judged
// on it: raw answers, parsed by judge_pid_file.
struct ProcAnswers {
  Result<std::string> stat;
  Result<std::string> exe;
  Result<WallTime> boot;
};
ProcAnswers ask_proc_about(Env& env, pid_t pid);

enum class PidFileVerdict { kPlausible, kGone, kUnverifiable, kStale, kWrongProgram };
// "plausible", "gone", "unverifiable", "stale", "wrong_program"
const char* pid_file_verdict_name(PidFileVerdict v);

struct PidFileJudgement {
  PidFileVerdict verdict = PidFileVerdict::kUnverifiable;
  ProcessIdentity seen;   // pid always; start_ticks and exe as far as /proc answered
  std::string reason;     // one sentence naming the evidence, for the event
  EvidenceList evidence;  // each fact it rests on, stamped `at`
};

// Pure. `expected_exe`: what /proc/PID/exe must name for this worker ("" = no
// check; see resolve_program_exe in pid_file_reader.h). `at`: the time stamped on the evidence.
PidFileJudgement judge_pid_file(const PidFileClaim& claim, const ProcAnswers& proc,
                                std::string_view expected_exe, WallTime at,
                                Duration tolerance = kPidFileClockTolerance);

}  // namespace aw
