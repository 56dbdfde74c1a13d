// What the pipeline needs from the rest of the daemon, each behind a small
// interface (LevelDB's Env, narrowed to what one component uses).
//
// The pipeline itself (pipeline.h) is pure: it holds no loop, no file and no
// timer, so its tests drive it with fakes and a ManualClock and check every
// ordering and bound without a kernel. pipeline_loop_ports.h implements these
// on the libuv loop for the daemon.
//
// Contract common to every port: called on the loop thread only; a callback a
// port is given is called on the loop thread, exactly once unless said
// otherwise, and may be called before the call that handed it over returns (the
// pipeline copes with both: an event it leads to is queued, never handled on
// the caller's stack).
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "src/actions/action_outcome.h"
#include "src/core/clock.h"
#include "src/core/event.h"
#include "src/core/result.h"
#include "src/daemon/intent_log.h"
#include "src/rules/plan.h"
#include "src/rules/template.h"

namespace aw {

class EntityTable;

// Where every event is recorded before it is routed: the event log.
class EventJournal {
 public:
  virtual ~EventJournal() = default;
  // An error means the record is not durable yet (the writer may keep it in a
  // backlog); the pipeline reports it and goes on.
  virtual Status append(const Event& event) = 0;
  // Puts everything appended so far in the file. The pipeline calls it before
  // an action or a handler acts on an event, so the log always holds the cause
  // of an effect (a journal may gather a loop turn's events into one write).
  virtual Status flush() { return Status::Ok(); }
};

// Carries out the actions the pipeline does not own (run, move, quarantine,
// mark's file, ...): the ActionExecutor.
class ActionRunner {
 public:
  virtual ~ActionRunner() = default;
  // An attempt started (attempt counts from 1; pid 0 when no process).
  using OnAttempt = std::function<void(int attempt, pid_t pid)>;
  using OnDone = std::function<void(ActionOutcome)>;
  // `request` and `cause` outlive the call to `done`. `on_attempt` may be
  // called several times (retries), each before `done`.
  virtual void start(const ActionRequest& request, const Event& cause, OnAttempt on_attempt,
                     OnDone done) = 0;
};

// Reads a file's content for JSON conditions, off the loop.
class ContentReader {
 public:
  virtual ~ContentReader() = default;
  // `done` gets the content, or null when the file is gone, not a regular file,
  // a symlink, unreadable, or larger than `max_bytes`.
  using OnRead = std::function<void(std::shared_ptr<const std::string>)>;
  virtual void read(const std::string& path, std::uint64_t max_bytes, OnRead done) = 0;
};

// One alarm: the pipeline's debounce/cooldown deadlines (RuleGate) share it.
class Alarm {
 public:
  virtual ~Alarm() = default;
  // `ring` is called each time an armed deadline passes (once per arm()).
  virtual void set_ring(std::function<void()> ring) = 0;
  // Rings at `deadline` on the monotonic clock (at once if it passed); replaces
  // any deadline armed before.
  virtual void arm(MonoTime deadline) = 0;
  virtual void disarm() = 0;
};

// The file index: which version of a landed file was handled, so a restart
// neither loses nor repeats it.
class LandingLedger {
 public:
  virtual ~LandingLedger() = default;
  // Every plan for `landed` (a file.landed event) finished; `outcome` is
  // "handled", "failed" or "no-rule".
  virtual void finished(const Event& landed, std::string_view outcome) = 0;
  // Shutdown cut a plan short, or a rule's firing for it is held (debounce)
  // and lives only in memory: the next start scan lands the file again
  // unless an intent resumes it first.
  virtual void abandoned(const Event& landed) = 0;
  // A resumed intent, or a held firing come due, handles `landed`: the scan
  // that finds the file must not land it again, and finished() records it.
  virtual void resumed(const Event& landed) = 0;
};

// Where plans are written before they act (the intent log, intent_log.h):
// every plan of an event before its first action acts, each action's start
// and end, and the intent's close once every plan ran to its end.
class IntentJournal {
 public:
  virtual ~IntentJournal() = default;
  // Opens an intent for `cause` and its plans (in rule order); returns its id.
  virtual std::uint64_t open(const Event& cause, const std::vector<const Plan*>& plans) = 0;
  virtual void start(std::uint64_t id, std::size_t plan, std::size_t action) = 0;
  virtual void end(std::uint64_t id, std::size_t plan, std::size_t action, ActionEnd end) = 0;
  virtual void close(std::uint64_t id) = 0;
  // Puts every record so far in the file. The pipeline calls it before an
  // action acts; records not flushed reach the file by the end of the loop turn.
  virtual Status flush() = 0;
  // Puts the intents opened so far in the file (their open records, and the
  // starts gathered with them when no end or close waits: a record never goes
  // ahead of an earlier one of its own plan). The pipeline calls it before the
  // event log gets their causes, and flush() after: an intent in the file with
  // its cause missing from the event log is mended at the next start (the cause
  // is logged then, with its seq), while a cause logged without its intent would
  // land its file a second time; and an action's end never precedes its outcome
  // event. Default: flush().
  virtual Status flush_opens() { return flush(); }
};

// Borrowed ports; each must outlive the Pipeline.
struct PipelinePorts {
  const Clock& clock;
  EventJournal& journal;
  ActionRunner& actions;
  ContentReader& content;
  Alarm& alarm;
  LandingLedger* ledger = nullptr;   // null: landed files are not tracked
  EntityTable* entities = nullptr;   // the lifecycle table; null: `mark` records nothing
  const EnvLookup* env = nullptr;    // {env.X} in templates; null: the process environment
  IntentJournal* intents = nullptr;  // null: plans are not journaled (nothing to resume)
};

}  // namespace aw
