// The pipeline's ports (pipeline_ports.h) bound to the daemon's real parts:
// the event log writer, the action executor, the thread pool, one uv timer and
// the file index.
//
// Threading: loop thread only. Lifetimes: everything passed in must outlive the
// LoopPipelinePorts, which must outlive the Pipeline built on ports().
#pragma once

#include <uv.h>

#include <functional>
#include <memory>
#include <string>

#include "src/actions/action_executor.h"
#include "src/daemon/pipeline_ports.h"
#include "src/eventlog/event_log_writer.h"
#include "src/state/entity_table.h"
#include "src/uvx/handle.h"
#include "watchers/file_index.h"

namespace aw {

class WriterJournal final : public EventJournal {
 public:
  explicit WriterJournal(EventLogWriter& writer) : writer_(writer) {}
  // Group commit: a loop turn's events go out in one write() (EventLogWriter::stage).
  Status append(const Event& event) override {
    writer_.stage(event);
    return Status::Ok();
  }
  Status flush() override { return writer_.commit(); }

 private:
  EventLogWriter& writer_;
};

class ExecutorRunner final : public ActionRunner {
 public:
  explicit ExecutorRunner(ActionExecutor& executor) : executor_(executor) {}
  void start(const ActionRequest& request, const Event& cause, OnAttempt on_attempt,
             OnDone done) override;

 private:
  ActionExecutor& executor_;
};

// Reads on the libuv thread pool; O_NOFOLLOW, regular files only.
class ThreadPoolContentReader final : public ContentReader {
 public:
  explicit ThreadPoolContentReader(uv_loop_t* loop) : loop_(loop) {}
  void read(const std::string& path, std::uint64_t max_bytes, OnRead done) override;

 private:
  uv_loop_t* loop_;
  uvx::WorkOwner work_owner_;
};

// One uv timer as the alarm; the deadline is on `clock`'s monotonic time.
class TimerAlarm final : public Alarm {
 public:
  TimerAlarm(uv_loop_t* loop, const Clock& clock);
  void set_ring(std::function<void()> ring) override { ring_ = std::move(ring); }
  void arm(MonoTime deadline) override;
  void disarm() override { timer_.stop(); }

 private:
  const Clock& clock_;
  std::function<void()> ring_;
  uvx::Timer timer_;
};

class FileIndexLedger final : public LandingLedger {
 public:
  explicit FileIndexLedger(FileIndex& index) : index_(index) {}
  void finished(const Event& landed, std::string_view outcome) override;
  void abandoned(const Event& landed) override;
  void resumed(const Event& landed) override;

 private:
  FileIndex& index_;
};

// Owns the adapters and hands them out as one PipelinePorts.
class LoopPipelinePorts {
 public:
  // `index`, `entities` and `intents` may be null (as in PipelinePorts).
  LoopPipelinePorts(uv_loop_t* loop, const Clock& clock, EventLogWriter& log,
                    ActionExecutor& executor, FileIndex* index, EntityTable* entities,
                    IntentJournal* intents);
  LoopPipelinePorts(const LoopPipelinePorts&) = delete;
  LoopPipelinePorts& operator=(const LoopPipelinePorts&) = delete;

  PipelinePorts ports();

 private:
  const Clock& clock_;
  WriterJournal journal_;
  ExecutorRunner runner_;
  ThreadPoolContentReader reader_;
  TimerAlarm alarm_;
  std::unique_ptr<FileIndexLedger> ledger_;
  EntityTable* entities_;
  IntentJournal* intents_;
};

}  // namespace aw
