// Spawn records: the one fact about a worker that must be on disk before its
// process exists.
//
// The supervisor learns a worker's PID when it spawns it, and the lifecycle
// store makes that PID durable a moment later, on the thread pool (a group
// commit, which on a loaded machine took over 200 ms). A daemon SIGKILLed in
// between left a running worker that no record named, and the next daemon
// started a second copy beside it (fault 2 of docs/crash-testing.md).
//
// So before each spawn the supervisor writes a fresh random token to
// STATE_DIR/workers/NAME.spawn and starts the worker with it in its environment
// (AGENTWATCH_SPAWN_TOKEN); right after the spawn it appends the PID. A daemon
// that starts and finds a worker's record adopts the process it names, if that
// process still carries the token (else the run ended). Only when the PID is
// missing (a kill in the microseconds between the spawn and that write) does it
// look for the token in /proc/*/environ (one pass for all such workers). One
// write() each suffices, no fsync: the record must outlive the daemon's
// process, and a power loss takes the workers with it. A file cut short by a
// kill between its truncation and its write holds no token; then the spawn
// never happened.
#pragma once

#include <sys/types.h>

#include <map>
#include <optional>
#include <set>
#include <string>

#include "src/core/result.h"
#include "src/os/env.h"

namespace aw {

inline constexpr const char* kSpawnTokenVar = "AGENTWATCH_SPAWN_TOKEN";

// 32 lowercase hex digits from the system's random source.
std::string new_spawn_token();

class SpawnRecords {
 public:
  // `dir` is STATE_DIR/workers (made by the daemon); "" turns records off.
  SpawnRecords(Env& env, std::string dir) : env_(env), dir_(std::move(dir)) {}

  struct Record {
    std::string token;
    std::optional<pid_t> pid;  // nullopt: the daemon died before writing it
  };

  bool enabled() const { return !dir_.empty(); }
  // DIR/NAME.spawn := token, before the spawn. Errors name the file.
  Status record(const std::string& worker, const std::string& token);
  // Appends the spawned process's PID to the record, right after the spawn.
  Status record_pid(const std::string& worker, pid_t pid);
  // The last spawn not yet seen to end; nullopt when there is no file or it
  // holds no whole token (a PID line cut short counts as no PID).
  std::optional<Record> read(const std::string& worker) const;
  // The run the record names was seen to end: no need to look for it.
  void forget(const std::string& worker);

 private:
  std::string path(const std::string& worker) const { return dir_ + "/" + worker + ".spawn"; }
  // Opens the record with `flags` added (O_CREAT | O_TRUNC, or O_APPEND) and writes `line`.
  Status write_line(const std::string& worker, int flags, const std::string& line);
  Env& env_;
  std::string dir_;
};

// The process started with each of `tokens`, from one pass over /proc. A
// worker's children inherit its environment, so a token can name several
// processes: the worker is the one that leads its process group (workers get a
// group of their own), else the one started first. Tokens found nowhere are
// absent from the map. Processes whose environ cannot be read are skipped.
std::map<std::string, pid_t> find_spawned(Env& env, const std::set<std::string>& tokens);

// Whether `pid` is alive (not a zombie) and was started with `token`.
bool carries_token(Env& env, pid_t pid, const std::string& token);

}  // namespace aw
