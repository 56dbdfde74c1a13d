// A gtest fixture for tests of the Supervisor on a real loop with real
// processes (supervisor_test, supervisor_detectors_test): this process is a
// subreaper (orphans come back to it, not to a slow PID 1), the Supervisor is
// built over recording fakes of its store, lifecycle and event sink, and
// wait_for() runs the loop until an event kind was emitted.
#pragma once

#include <gtest/gtest.h>
#include <sys/prctl.h>

#include <memory>
#include <string>
#include <vector>

#include "src/core/clock.h"
#include "src/supervise/supervise_test_support.h"
#include "src/supervise/supervisor.h"
#include "src/supervise/supervisor_store.h"

namespace aw::testing {

class SupervisorFixture : public LoopTest {
 protected:
  // `jitter_seed`: the Supervisor's RNG seed (backoff jitter), fixed so runs repeat.
  explicit SupervisorFixture(std::uint64_t jitter_seed) : jitter_seed_(jitter_seed) {}

  void SetUp() override {
    LoopTest::SetUp();
    ASSERT_EQ(::prctl(PR_SET_CHILD_SUBREAPER, 1), 0);
  }
  void TearDown() override {
    sup_.reset();
    reaper_.reset();
    LoopTest::TearDown();
  }
  // `clock`: the real one unless a test drives time itself (a ManualClock: the
  // uv timers still wake on real time, and the Supervisor acts only once the
  // test has moved the clock past the deadline). `env`: the real one (and its
  // /proc) unless a test injects answers. Both must outlive the test's loop.
  Supervisor& make(std::vector<WorkerSpec> specs, const Clock* clock = nullptr,
                   Env* env = nullptr) {
    sup_.reset();
    SupervisorOptions o;
    o.jitter_seed = jitter_seed_;
    o.output_dir = output_dir_;
    sup_ = std::make_unique<Supervisor>(&loop_, clock ? *clock : clock_, std::move(specs), store_,
                                        lifecycle_, events_.sink(), o, env ? *env : Env::real());
    return *sup_;
  }
  void wait_for(const std::string& kind, std::size_t n = 1) {
    run_until([&] { return events_.count(kind) >= n; });
    ASSERT_GE(events_.count(kind), n) << "waiting for " << kind;
  }
  // The lifecycle states the Supervisor asked for, in order.
  std::vector<std::string> requested_states() const {
    std::vector<std::string> s;
    s.reserve(lifecycle_.requests.size());
    for (const auto& r : lifecycle_.requests) s.emplace_back(lifecycle_state_name(r.to));
    return s;
  }

  SystemClock clock_;
  InMemorySupervisorStore store_;
  RecordingLifecycle lifecycle_;
  EventRecorder events_;
  std::unique_ptr<Supervisor> sup_;
  std::unique_ptr<uvx::Signal> reaper_;  // reaps a test's orphan (see its SIGCHLD use)
  TempDir dir_;
  // SupervisorOptions::output_dir for the next make() ("" = pipes).
  std::string output_dir_;

 private:
  std::uint64_t jitter_seed_;
};

}  // namespace aw::testing
