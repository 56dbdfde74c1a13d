// Shared fixtures for supervise_test: temp dirs, a loop fixture with a guard
// timer, a file-appearance waiter on inotify, and fakes of the Supervisor's
// interfaces. Tests only.
#pragma once

#include <gtest/gtest.h>
#include <uv.h>

#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "src/core/event.h"
#include "src/os/env.h"
#include "src/os/unique_fd.h"
#include "src/supervise/lifecycle_sink.h"
#include "src/supervise/process_identity.h"
#include "src/uvx/handle.h"

namespace aw::testing {

// mkdtemp under /tmp; removed with everything in it when destroyed.
class TempDir {
 public:
  TempDir();
  ~TempDir();
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  const std::string& path() const { return path_; }
  std::string operator/(const std::string& rel) const { return path_ + "/" + rel; }

 private:
  std::string path_;
};

void write_file(const std::string& path, const std::string& content);

// Fresh loop per test; a guard timer (unref'd) fails the test and stops the loop
// if it hangs; teardown closes every handle, checks uv_loop_close() == 0 and
// reaps zombies this process adopted as a child subreaper.
class LoopTest : public ::testing::Test {
 protected:
  void SetUp() override;
  void TearDown() override;
  // Runs until `done()` holds (checked after every loop iteration) or the guard fires.
  void run_until(const std::function<bool()>& done);
  // Runs until nothing is left (closes pending handles).
  void drain() { uv_run(&loop_, UV_RUN_DEFAULT); }

  uv_loop_t loop_{};
  std::unique_ptr<uvx::Timer> guard_;
  bool guard_fired_ = false;
};

// Calls `on_created` once when `name` appears (IN_CREATE / IN_MOVED_TO /
// IN_CLOSE_WRITE) in `dir`: readiness without polling.
class FileAppears {
 public:
  FileAppears(uv_loop_t* loop, const std::string& dir, const std::string& name);
  bool seen() const { return seen_; }

 private:
  UniqueFd fd_;
  std::unique_ptr<uvx::Poll> poll_;
  std::string name_;
  bool seen_ = false;
};

// Records every event emitted.
struct EventRecorder {
  std::vector<Event> events;
  std::function<void(Event)> sink() {
    return [this](Event e) { events.push_back(std::move(e)); };
  }
  std::vector<std::string> kinds() const;
  std::size_t count(const std::string& kind) const;
  const Event* last(const std::string& kind) const;
};

struct RecordingLifecycle final : LifecycleSink {
  struct Request {
    std::string entity;
    LifecycleState to;
    std::string reason;
    EvidenceList evidence;
  };
  void transition(const std::string& entity, LifecycleState to, std::string_view reason,
                  const EvidenceList& evidence) override {
    requests.push_back({entity, to, std::string(reason), evidence});
    if (track_states) states[entity] = to;
  }
  std::optional<LifecycleState> current(const std::string& entity) const override {
    auto it = states.find(entity);
    if (it == states.end()) return std::nullopt;
    return it->second;
  }
  std::vector<Request> requests;
  // What current() answers: the last request per entity (with track_states) or
  // what a test put there (the table after a daemon restart).
  std::map<std::string, LifecycleState> states;
  bool track_states = true;
};

// An Env whose /proc answers are injected per pid; pids without an entry, and
// every other call, go to the real one (Env::). Set the maps before handing it
// out: it is read from the thread pool too.
class FakeEnv final : public Env {
 public:
  Result<std::string> read_proc_stat(pid_t pid) override;
  Result<std::string> read_proc_exe(pid_t pid) override;
  std::map<pid_t, int> stat_errno;  // pid → errno to fail read_proc_stat with
  std::map<pid_t, int> exe_errno;   // pid → errno to fail read_proc_exe with
};

// Waits (up to 2 s) until /proc/PID/environ has something in it. A spawn
// returns once the child has let go of our memory, a moment before the kernel
// has set up the new program's environment: read then, it is empty.
bool wait_for_environ(pid_t pid);

// Zombies re-parented to this process (as subreaper) are reaped; never blocks.
void reap_orphans();

// A long-lived child with no timer of its own: this test binary, re-executed
// with AW_TEST_CHILD=pause, waits in pause() until a signal ends it (SIGTERM
// does, unless the caller's shell ignored it; SIGKILL always). For the shell
// tests where the kernel matters (pidfds, process groups, /proc), instead of a
// `sleep 30`.
//   argv: {"<this binary>"}; env: {"AW_TEST_CHILD", "pause"}.
std::string self_exe();
inline constexpr const char* kPauseChildEnv = "AW_TEST_CHILD";

}  // namespace aw::testing
