// AgentMonitor: one AgentTracker per coding agent, fed from the events the
// daemon logs, each status change logged as an `agent.status` event (issue
// #13, docs/agents.md "In the daemon").
//
// An agent is known by its tmux pane ("%3") when its hooks run in tmux, else
// by the agent's own session id. What feeds it, as AgentTracker readings:
//   agent.hook          the agent's hooks (hook_status.h): the hook source
//   tmux.pane.died,     the pane's process is gone: process truth, `exited`
//   tmux.pane.vanished  (tmux reconciliation emits these only on an answer
//                        it trusts: a tmux server that does not answer
//                        changes nothing, unknown never acts)
//   tmux.pane.appeared  names the pane's tmux session: the agent's entity
//
// One timer, armed at the earliest tracker deadline (a held reading, an idle
// countdown). Run to completion: transitions are submitted to the pipeline,
// never handled on the stack of the event that caused them.
//
// Loop thread only.
#pragma once

#include <uv.h>

#include <functional>
#include <map>
#include <memory>
#include <string>

#include "src/agents/agent_tracker.h"
#include "src/core/clock.h"
#include "src/core/event.h"
#include "src/uvx/handle.h"

namespace aw {

class AgentMonitor {
 public:
  AgentMonitor(uv_loop_t* loop, const Clock& clock, std::function<void(Event)> submit,
               agents::AgentTrackerOptions options = {});
  AgentMonitor(const AgentMonitor&) = delete;
  AgentMonitor& operator=(const AgentMonitor&) = delete;

  // Every logged event (a pipeline subscriber).
  void observe(const Event& e);
  // The agents, as a JSON array (`agentwatch agents --json`, /api/status).
  std::string agents_json() const;
  std::size_t size() const { return agents_.size(); }

 private:
  struct Agent {
    std::string id;       // "pane %3" or "session <id>"
    std::string agent;    // claude, codex, gemini
    std::string pane;     // "%3", empty outside tmux
    std::string session;  // the tmux session's name, once known
    std::string cwd;
    std::unique_ptr<agents::AgentTracker> tracker;
  };

  Agent* agent_for_hook(const Event& e);
  void feed(Agent& a, const agents::Observation& o);
  void publish(const Agent& a, const agents::AgentTransition& t);
  void arm();
  void on_deadline();

  const Clock& clock_;
  std::function<void(Event)> submit_;
  agents::AgentTrackerOptions options_;
  std::map<std::string, Agent> agents_;            // by id
  std::map<std::string, std::string> pane_names_;  // pane id → its tmux session
  std::unique_ptr<uvx::Timer> timer_;
};

}  // namespace aw
