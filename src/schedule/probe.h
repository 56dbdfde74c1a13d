// Probes: run a command (on a timer or on demand) and turn the lines of its
// output that match patterns into events — a queue-status command printing
// which project FAILED and why becomes `queue.failed` events that rules route
// to a briefed agent (docs/schedule.md, "Probes").
//
// A probe is spawned through ChildProcess (argv, never a shell; its own process
// group; stdin /dev/null). Its stdout is split into lines as it arrives:
//   - a line is its bytes up to '\n' (a CRLF writer's '\r' stays); a last line
//     without '\n' still counts once the command has exited (unless we stopped
//     it: then that line may be cut short, and it is dropped);
//   - a line over `max_line` bytes is cut there (its event says truncated=true)
//     and the rest of it, up to its '\n', is skipped;
//   - past `max_output` bytes nothing more is read: the lines completed before
//     the limit are matched, the line the limit cut is dropped, the command is
//     stopped (below) and the outcome says truncated.
// Each line goes through the probe's ProbeMatcher (probe_matcher.h: one RE2::Set
// pass, one Event per matched pattern, captures as fields, `entity` capture as
// the event's entity). stderr is not matched; its tail is in the outcome.
//
// Outcome: ok = the command ran and exited by itself, WHATEVER its exit code —
// a status command that exits 1 because something failed is normal, and the
// events of its lines are delivered all the same. ok = false when it could not
// be started, timed out, was killed by a signal, printed more than max_output,
// or was cancelled; `error` says which in words.
//
// Stopping (timeout, max_output, cancel): SIGTERM to the command's process
// group, SIGKILL `kill_grace` later if it is still there (at once when
// kill_grace is 0); once it exits, whatever is left of its group gets SIGKILL.
//
// Callbacks, all on the loop thread: on_event once per event, as the lines
// arrive; then on_done exactly once, after every event of the run, never from
// inside run() (a command that cannot be started reports on the next loop
// iteration). Either may start or cancel probes, but neither may destroy the
// ProbeRunner.
//
// Ownership: the runner owns its running probes. `loop` and `clock` must
// outlive it. Destroying it kills every probe still running (SIGKILL to its
// group, reaped at once: a short blocking wait) and calls none of their
// callbacks; cancel them and run the loop first for a gentler stop.
#pragma once

#include <uv.h>

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "src/core/clock.h"
#include "src/core/event.h"
#include "src/core/result.h"
#include "src/schedule/probe_matcher.h"
#include "src/uvx/handle.h"

namespace aw {

struct ChildExit;

struct ProbeSpec {
  std::string rule;               // the rule running it: the `rule` of every event
  std::vector<std::string> argv;  // argv[0] is searched in PATH when it has no '/'
  std::string cwd;                // "" = the daemon's cwd
  std::vector<std::pair<std::string, std::string>> env;  // on top of the daemon's environment
  Duration timeout = std::chrono::seconds(60);
  Duration kill_grace = std::chrono::seconds(5);  // SIGTERM → this long → SIGKILL
  std::vector<ProbeLinePattern> patterns;
  std::size_t max_output = 1 << 20;  // bytes of stdout read, at most
  std::size_t max_line = 64 << 10;   // bytes of one line kept, at most
};

struct ProbeOutcome {
  bool ok = false;
  int exit_code = -1;         // when it exited by itself; -1 otherwise
  int term_signal = 0;        // the signal that ended it, 0 if none
  std::size_t lines = 0;      // lines read (and matched against the patterns)
  std::size_t matched = 0;    // lines that matched at least one pattern
  std::size_t events = 0;     // events made (a line matching two patterns makes two)
  std::size_t cut_lines = 0;  // lines cut at max_line
  bool truncated = false;     // stdout went past max_output: the rest was not read
  bool timed_out = false;
  std::string error;        // why ok is false, in words; "" when ok
  Duration wall{0};         // spawn to exit
  std::string stderr_tail;  // the last 4 KiB of stderr
};

// Validates a spec (argv, limits, timeout) and compiles its patterns; errors
// name the rule. The result can be shared by any number of runs (the daemon may
// cache it per rule and compile again on reload).
Result<std::shared_ptr<const ProbeMatcher>> compile_probe(const ProbeSpec& spec);

class ProbeRunner {
 public:
  using EventCallback = std::function<void(Event)>;
  using DoneCallback = std::function<void(ProbeOutcome)>;
  using RunId = std::uint64_t;

  ProbeRunner(uv_loop_t* loop, const Clock& clock);
  ~ProbeRunner();
  ProbeRunner(const ProbeRunner&) = delete;
  ProbeRunner& operator=(const ProbeRunner&) = delete;

  // Starts `spec` with patterns compiled by compile_probe(spec). A spec that
  // does not compile, or a command that cannot start, ends in on_done with
  // ok = false (on the next loop iteration). Returns the run's id.
  RunId run(const ProbeSpec& spec, std::shared_ptr<const ProbeMatcher> matcher,
            EventCallback on_event, DoneCallback on_done);
  // Same, compiling the patterns first (kept in a small cache keyed by the
  // patterns, so a probe on a timer compiles once).
  RunId run(const ProbeSpec& spec, EventCallback on_event, DoneCallback on_done);

  // Stops a running probe (as a timeout does); its on_done follows with
  // ok = false, error "cancelled". False if it is not running.
  bool cancel(RunId id);
  // Whether a probe of `rule` is running (the daemon may skip a timer's run
  // rather than start a second one beside it).
  bool busy(const std::string& rule) const;
  std::size_t running() const;

 private:
  struct Run;
  enum class StopCause { kNone, kTimeout, kOverflow, kCancel };
  void on_output(Run& r, std::string_view bytes);
  void on_line(Run& r, std::string_view line, bool cut);
  void on_exit(Run& r, const ChildExit& e);
  void stop(Run& r, StopCause cause);
  void finish(Run& r);
  void reap();
  void start_timer(uvx::Timer& t, Duration d);

  uv_loop_t* loop_;
  const Clock& clock_;
  RunId next_id_ = 1;
  std::map<RunId, std::unique_ptr<Run>> runs_;
  // Compiled patterns by their text (bounded: cleared when it grows past 64).
  std::map<std::string, std::shared_ptr<const ProbeMatcher>> cache_;
  uvx::Idle reaper_;  // destroys finished runs outside their handles' callbacks
};

}  // namespace aw
