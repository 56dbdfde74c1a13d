// Integration-test harness: starts the real `agentwatch` binary in temp dirs and
// drives it as a user would (files, signals, the CLI), then asserts on its event
// log. Synchronisation is on the event log itself (inotify on the state dir),
// never on sleeps.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "src/core/event.h"

namespace aw::testing {

using namespace std::chrono_literals;

// Path of the binary under test (AGENTWATCH_BIN, set by meson).
std::string agentwatch_bin();

// mkdtemp under `base` (/tmp unless a test needs its files outside a private
// /tmp), removed recursively on destruction.
class TempDir {
 public:
  explicit TempDir(const std::string& base = "/tmp");
  ~TempDir();
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  const std::string& path() const { return path_; }
  std::string operator/(const std::string& rel) const { return path_ + "/" + rel; }

 private:
  std::string path_;
};

void write_file(const std::string& path, const std::string& content);
std::string read_file(const std::string& path);
bool exists(const std::string& path);
void make_dirs(const std::string& path);
// Writes to a hidden temp name in the same dir, then renames into place.
void write_file_atomically(const std::string& path, const std::string& content);

struct CommandResult {
  int exit_code = -1;
  std::string out;
  std::string err;
};
// Runs ARGV (PATH lookup, no shell, stdin /dev/null) to completion, killed
// after `timeout` (exit_code -1). stdout and stderr go through files, not
// pipes: a daemon it forks (tmux's server) would hold a pipe open for ever.
CommandResult run_command(const std::vector<std::string>& argv,
                          std::chrono::milliseconds timeout = 20s);
// Runs `agentwatch ARGS...` to completion with the instance's paths prepended.
CommandResult run_agentwatch(const std::vector<std::string>& args,
                             std::chrono::milliseconds timeout = 20s);
// Waits (inotify on the file's directory, no sleeps) until the file's content
// satisfies `pred`; returns the last content read ("" while it does not exist).
std::string wait_for_file(const std::string& path,
                          const std::function<bool(const std::string&)>& pred,
                          std::chrono::milliseconds timeout = 10s);

// One daemon under test. Its config, state and runtime dirs live in a TempDir
// under `base`.
class DaemonUnderTest {
 public:
  explicit DaemonUnderTest(const std::string& base = "/tmp");
  ~DaemonUnderTest();

  const std::string& home() const { return dir_.path(); }
  std::string config_dir() const { return dir_ / "config"; }
  std::string rules_dir() const { return dir_ / "config/rules.d"; }
  std::string state_dir() const { return dir_ / "state"; }
  std::string runtime_dir() const { return dir_ / "runtime"; }
  std::string event_log() const { return state_dir() + "/events.jsonl"; }
  // Flags naming this instance's dirs, for CLI commands.
  std::vector<std::string> path_flags() const;

  void write_config(const std::string& toml);
  void write_rule(const std::string& file_name, const std::string& toml);

  // Starts the daemon and waits for its `daemon.started` event. Extra args go
  // after `run`. `launcher`, when given, is an argv the daemon's argv is
  // appended to and that must exec it (same PID), e.g. an `unshare` sandbox.
  void start(const std::vector<std::string>& extra_args = {},
             const std::vector<std::string>& launcher = {});
  // SIGTERM and wait; returns the exit status (or 128+signal).
  int stop(std::chrono::milliseconds timeout = 20s);
  void kill9();
  void signal(int sig);
  bool running() const { return pid_ > 0; }
  pid_t pid() const { return pid_; }
  std::string stderr_text() const;

  // All events in the live event log, in order.
  std::vector<Event> events() const;
  // SIGKILLs the workers its stops released (worker.released) that still run.
  void kill_released_workers() const;
  // Waits until an event satisfying `pred` appears (considering events already
  // logged). Returns it, or nullopt after `timeout`.
  std::optional<Event> wait_for(const std::function<bool(const Event&)>& pred,
                                std::chrono::milliseconds timeout = 10s) const;
  std::optional<Event> wait_for_kind(const std::string& kind,
                                     std::chrono::milliseconds timeout = 10s) const;
  // Waits until `count` events satisfy `pred`; returns how many did.
  std::size_t wait_for_count(const std::function<bool(const Event&)>& pred, std::size_t count,
                             std::chrono::milliseconds timeout = 10s) const;
  std::size_t count(const std::function<bool(const Event&)>& pred) const;

  CommandResult cli(const std::vector<std::string>& args) const;
  // Waits until the lifecycle journal records `pid` as a worker's process: what
  // a daemon restarted after kill9() recovers from. Killing the daemon before
  // that would test a daemon that never knew the process.
  bool wait_for_process_journaled(pid_t pid, std::chrono::milliseconds timeout = 10s) const;

 private:
  TempDir dir_;
  pid_t pid_ = -1;
  std::string stderr_path_;
};

// Makes this process a child subreaper (orphans of the daemon's children land
// here, not on a slow PID 1) and reaps them. At exit it SIGKILLs and reaps
// every child still left: the workers of a test that failed half-way (its
// daemon killed, its sleepers orphaned to us) would otherwise hold the test
// runner's output pipe open and hang the whole run instead of failing it.
void become_subreaper();
void reap_orphans();

// /proc/PID/stat's text; "" once the process is gone (never throws).
std::string proc_stat_text(pid_t pid);

}  // namespace aw::testing
