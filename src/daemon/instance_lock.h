// One daemon per user: a file in the runtime dir holding the PID, locked with a
// POSIX record lock (fcntl), which dies with the process (instance_lock.cc).
#pragma once

#include <string>
#include <utility>

#include "src/core/result.h"
#include "src/os/unique_fd.h"

namespace aw {

class InstanceLock {
 public:
  // Takes the lock or returns an error naming the PID that holds it.
  static Result<InstanceLock> acquire(const std::string& path);
  // The PID of the live process that holds the lock on `path`, else 0 (also
  // when the caller holds it itself: a record lock never conflicts with its
  // own process).
  static int holder(const std::string& path);

  // Whether `path` names the file this lock is on (a runtime dir removed and
  // made again gives the name a new file). Acquiring the same file a second
  // time in the daemon would be harmless, but dropping either copy would
  // release both: record locks are per process and file.
  bool is_at(const std::string& path) const;

  InstanceLock(InstanceLock&& o) noexcept = default;
  InstanceLock& operator=(InstanceLock&&) = delete;
  ~InstanceLock() = default;  // closing the fd releases the lock

 private:
  explicit InstanceLock(UniqueFd fd) : fd_(std::move(fd)) {}
  UniqueFd fd_;
};

}  // namespace aw
