// One daemon per user: an flock()ed file in the runtime dir holding the PID.
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
  // PID recorded in the lock file if a live process holds the lock, else 0.
  static int holder(const std::string& path);

  InstanceLock(InstanceLock&& o) noexcept = default;
  InstanceLock& operator=(InstanceLock&&) = delete;
  ~InstanceLock() = default;  // closing the fd releases the flock

 private:
  explicit InstanceLock(UniqueFd fd) : fd_(std::move(fd)) {}
  UniqueFd fd_;
};

}  // namespace aw
