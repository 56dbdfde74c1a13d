// SupervisorStore: where the Supervisor keeps what must survive a daemon
// restart (the restart budget and backoff, the PID and identity of a running
// worker), as string attributes of the worker's entity.
//
// The daemon backs it with src/state's entity attributes (journalled, so a
// SIGKILL of the daemon loses nothing that set() returned from); tests use
// InMemorySupervisorStore. Keys the Supervisor uses are listed in supervisor.h.
//
// Threading: called on the loop thread only. set() must not block for long (the
// state layer journals asynchronously or with a bounded write).
#pragma once

#include <map>
#include <optional>
#include <string>
#include <utility>

namespace aw {

class SupervisorStore {
 public:
  virtual ~SupervisorStore() = default;
  // The value, or nullopt when never set (or erased).
  virtual std::optional<std::string> get(const std::string& id, const std::string& key) const = 0;
  virtual void set(const std::string& id, const std::string& key, const std::string& value) = 0;
  virtual void erase(const std::string& id, const std::string& key) = 0;
};

// A map. Outlives any number of Supervisors over it (tests of persistence).
class InMemorySupervisorStore final : public SupervisorStore {
 public:
  std::optional<std::string> get(const std::string& id, const std::string& key) const override {
    auto it = values_.find({id, key});
    if (it == values_.end()) return std::nullopt;
    return it->second;
  }
  void set(const std::string& id, const std::string& key, const std::string& value) override {
    values_[{id, key}] = value;
  }
  void erase(const std::string& id, const std::string& key) override { values_.erase({id, key}); }
  std::size_t size() const { return values_.size(); }

 private:
  std::map<std::pair<std::string, std::string>, std::string> values_;
};

}  // namespace aw
