// The rule actions the executor cannot carry out alone because they need other
// parts of the daemon (docs/actions.md):
//
//   kill, restart  the Supervisor (a worker's process group, its restart policy)
//   tmux           src/tmux's TmuxSessionControl (open + brief, send, kill)
//   rotate         src/actions/rotate_file.h on the thread pool
//   probe          src/schedule's ProbeRunner; its events re-enter the pipeline
//   retain         src/actions/retention.h on the thread pool; each deletion
//                  is a retention.deleted event
//   check_disk     the DiskMonitor: every watched filesystem, now
//
// install() registers one Pipeline action handler per type. Each handler reports
// exactly one ActionOutcome, like the executor, so rules and the event log see
// these actions the same way as `run` or `move`.
//
// Threading: loop thread only. Lifetimes: loop, clock, pipeline and tmux client
// must outlive this object; the Supervisor pointer (may be null) must stay valid
// until set_supervisor(nullptr) or destruction. Destroying it with work in flight
// kills running probes and drops the outcomes of tmux operations and rotations
// (the pipeline is being torn down too).
#pragma once

#include <uv.h>

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "src/core/clock.h"
#include "src/daemon/disk_monitor.h"
#include "src/daemon/pipeline.h"
#include "src/schedule/probe.h"
#include "src/supervise/supervisor.h"
#include "src/tmux/tmux_client.h"
#include "src/tmux/tmux_session.h"

namespace aw {

class DaemonActions {
 public:
  DaemonActions(uv_loop_t* loop, const Clock& clock, Pipeline& pipeline, TmuxClient& tmux);
  ~DaemonActions();
  DaemonActions(const DaemonActions&) = delete;
  DaemonActions& operator=(const DaemonActions&) = delete;

  void install();
  void set_supervisor(Supervisor* supervisor) { supervisor_ = supervisor; }
  void set_disk_monitor(DiskMonitor* monitor) { disk_monitor_ = monitor; }

  // Probes, tmux operations and rotations not yet reported.
  std::size_t in_flight() const { return in_flight_; }
  // Shutdown: running probes are cancelled (reported as interrupted).
  void interrupt_all();

 private:
  using Done = Pipeline::ActionDone;
  void kill(const ActionRequest& req, const KillRequest& r, const Done& done);
  void restart(const RestartRequest& r, const Done& done);
  void tmux(const TmuxRequest& r, Done done);
  void rotate(const RotateRequest& r, Done done);
  void probe(const ActionRequest& req, const ProbeRequest& r, const Event& cause, Done done);
  void retain(const ActionRequest& req, const RetainRequest& r, const Event& cause, Done done);
  void check_disk(const Event& cause, Done done);
  // Counts the operation in flight until its outcome is reported.
  Done tracked(Done done);

  uv_loop_t* loop_;
  const Clock& clock_;
  Pipeline& pipeline_;
  TmuxSessionControl tmux_;
  ProbeRunner probes_;
  Supervisor* supervisor_ = nullptr;
  DiskMonitor* disk_monitor_ = nullptr;
  std::size_t in_flight_ = 0;
  std::vector<ProbeRunner::RunId> probe_runs_;  // running, for interrupt_all()
  std::shared_ptr<char> alive_ = std::make_shared<char>();
};

}  // namespace aw
