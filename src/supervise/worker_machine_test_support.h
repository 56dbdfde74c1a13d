// A manual-clock harness for the worker machine's tests: one worker's state,
// its world, an explicit `now` (both clocks), and readers of the last step's
// commands. Tests only.
#pragma once

#include <gtest/gtest.h>

#include <csignal>
#include <map>
#include <string>
#include <vector>

#include "src/supervise/worker_machine.h"

namespace aw::testing {

using std::chrono::hours;
using std::chrono::milliseconds;
using std::chrono::minutes;
using std::chrono::seconds;
namespace in = worker_input;
namespace cmd = worker_command;

// A worker whose policy is deterministic (no jitter) and whose detectors wait
// long enough not to fire unless a test says so.
inline WorkerSpec agent(std::string name = "w") {
  WorkerSpec w;
  w.name = std::move(name);
  w.argv = {"/bin/agent"};
  w.restart.max_restarts = 5;
  w.restart.min_spawn_interval = milliseconds(10);
  w.restart.circuit_threshold = 0;
  w.restart.stable_after = minutes(1);
  w.restart.backoff.initial = milliseconds(100);
  w.restart.backoff.factor = 2.0;
  w.restart.backoff.max = seconds(5);
  w.restart.backoff.jitter = 0.0;
  w.runtime_limit = hours(1);
  w.timeout_grace = minutes(5);
  w.start_grace = seconds(30);
  w.kill_grace = seconds(5);
  w.phantom_grace = minutes(2);
  return w;
}

inline FileSample sample(std::int64_t size, WallTime mtime) {
  FileSample s;
  s.ok = true;
  s.size = size;
  s.mtime = mtime;
  return s;
}

// One worker's machine and a manual clock.
struct Machine {
  explicit Machine(WorkerSpec s = agent()) : spec(std::move(s)) {
    state = initial_worker_state(spec, {});
  }

  StepResult feed(const WorkerInput& input) {
    StepResult r = step(spec, state, input, world, now);
    if (r.refusal.empty()) state = r.state;
    last = r;
    return r;
  }
  void advance(Duration d) {
    now.mono += d;
    now.wall += d;
  }
  // Time passes to the earliest deadline and the alarm rings.
  StepResult ring() {
    auto due = next_deadline(state);
    EXPECT_TRUE(due) << "no deadline armed";
    if (due && *due > now.mono) advance(*due - now.mono);
    return feed(in::AlarmDue{});
  }
  // Start → Spawn → Spawned.
  void run(pid_t pid = 100) {
    feed(in::Start{});
    ASSERT_TRUE(has<cmd::Spawn>()) << "no spawn";
    feed(in::Spawned{pid, "pid=" + std::to_string(pid) + " start=1 exe=/bin/agent"});
    ASSERT_EQ(state.phase, WorkerPhase::kRunning);
  }
  void exit_with(int code, bool child = true) {
    ProcessEnd end;
    end.pid = state.process ? state.process->pid : 0;
    end.child = child;
    end.status_known = true;
    end.exited = true;
    end.exit_code = code;
    feed(in::Exited{end});
  }
  void killed_by(int signal) {
    ProcessEnd end;
    end.pid = state.process ? state.process->pid : 0;
    end.child = true;
    end.status_known = true;
    end.term_signal = signal;
    feed(in::Exited{end});
  }

  template <class T>
  bool has() const {
    for (const auto& c : last.commands)
      if (std::holds_alternative<T>(c)) return true;
    return false;
  }
  template <class T>
  const T* command() const {
    for (const auto& c : last.commands)
      if (const T* t = std::get_if<T>(&c)) return t;
    return nullptr;
  }
  std::vector<std::string> kinds() const {
    std::vector<std::string> k;
    for (const auto& c : last.commands)
      if (const auto* e = std::get_if<cmd::Emit>(&c)) k.push_back(e->event.kind);
    return k;
  }
  const Event* event(const std::string& kind) const {
    for (const auto& c : last.commands)
      if (const auto* e = std::get_if<cmd::Emit>(&c); e && e->event.kind == kind) return &e->event;
    return nullptr;
  }
  std::vector<LifecycleState> requests() const {
    std::vector<LifecycleState> r;
    for (const auto& c : last.commands)
      if (const auto* q = std::get_if<cmd::RequestLifecycle>(&c)) r.push_back(q->to);
    return r;
  }
  const cmd::RequestLifecycle* request(LifecycleState to) const {
    for (const auto& c : last.commands)
      if (const auto* q = std::get_if<cmd::RequestLifecycle>(&c); q && q->to == to) return q;
    return nullptr;
  }
  bool moved(WorkerPhase from, WorkerPhase to) const {
    for (const auto& m : last.moves)
      if (m.first == from && m.second == to) return true;
    return false;
  }

  WorkerSpec spec;
  WorkerState state;
  WorkerWorld world;
  ClockSnapshot now{MonoTime(hours(100)), WallTime(seconds(1'700'000'000))};
  StepResult last;
};

inline std::int64_t int_field(const Event* e, const char* key) {
  return e ? e->fields.get_int(key).value_or(-1) : -1;
}
inline std::string string_field(const Event* e, const char* key) {
  return e ? e->fields.get_string(key).value_or("(no field)") : "(no event)";
}

}  // namespace aw::testing
