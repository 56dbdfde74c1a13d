// Internal to the worker machine (worker_machine.cc, worker_machine_detectors.cc):
// one step() in progress. Not a public header: use worker_machine.h.
//
// The Stepper owns the state being changed and the commands being collected;
// its methods are the machine's verbs (spawn, apply a policy decision, begin
// timing_out...), each changing `w` and appending commands, never doing I/O.
#pragma once

#include <string>
#include <string_view>

#include "src/supervise/worker_machine.h"

namespace aw::worker_machine_detail {

class Stepper {
  // First: `w` below refers into it.
  StepResult result_;
  WorkerState original_;

 public:
  Stepper(const WorkerSpec& spec, WorkerState state, const WorkerWorld& world,
          const ClockSnapshot& now);

  StepResult finish();

  // ---- lifecycle (worker_machine.cc) ----
  void start();
  void stop();
  void restart();
  // `asked`: kill() by a caller, whose signal failure refuses the input; a
  // detector's kill (hung, zombie) goes on whatever the signal's answer.
  void kill(int signal, Duration grace, const std::string& reason, const EvidenceList& evidence,
            bool asked);
  void spawned(const worker_input::Spawned& in);
  void spawn_failed(const worker_input::SpawnFailed& in);
  void adopted(const worker_input::Adopted& in);
  void lost(const worker_input::Lost& in);
  void exited(const ProcessEnd& end);
  void alarm();
  void dependency_completed();
  void pane_offered(pid_t pid);

  // ---- detectors (worker_machine_detectors.cc) ----
  void entity_completed();
  void on_runtime_deadline();
  void begin_timing_out();
  void end_of_grace(const std::optional<FileSample>& sample);
  void check_heartbeat();
  void heartbeat_hint();
  void heartbeat_sampled(const worker_input::HeartbeatSampled& in);
  void evaluate_presence();
  void liveness_probed(const LivenessVerdict& v);
  void drop_phantom(const std::string& why);

  // ---- shared ----
  void refuse(std::string why);
  bool refused() const { return !result_.refusal.empty(); }
  void enter(WorkerPhase to);
  void emit(Event e);
  void request(LifecycleState to, std::string_view reason, const EvidenceList& evidence);
  void note(std::string signal, std::string detail);
  void persist_restart();
  void persist_run();
  std::optional<LifecycleState> entity_state() const;
  Duration runtime() const;
  bool action_pending() const;

  const WorkerSpec& spec;
  WorkerState& w;
  const WorkerWorld& world;
  const ClockSnapshot now;
  const RestartPolicy policy;

 private:
  void begin_spawn();
  void watch_started(const WatchedProcess& p, const std::optional<RunRecord>& carried);
  void apply(const PolicyStep& step, const EvidenceList& evidence, bool clean_exit);
  void wait_for_deps(bool after_exit);
  void cancel_restart_deadlines();
  void on_stable_deadline();
  void on_escalate_deadline();
  void declare_zombie(const LivenessVerdict& alive);
  void declare_phantom();
};

std::string join(const std::vector<std::string>& v);

}  // namespace aw::worker_machine_detail
