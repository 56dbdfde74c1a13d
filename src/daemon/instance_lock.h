// One daemon per user: an flock()ed file in the runtime dir holding the PID.
#pragma once

#include <string>

#include "src/core/result.h"

namespace aw {

class InstanceLock {
 public:
  // Takes the lock or returns an error naming the PID that holds it.
  static Result<InstanceLock> acquire(const std::string& path);
  // PID recorded in the lock file if a live process holds the lock, else 0.
  static int holder(const std::string& path);

  InstanceLock(InstanceLock&& o) noexcept;
  InstanceLock& operator=(InstanceLock&&) = delete;
  ~InstanceLock();

 private:
  explicit InstanceLock(int fd) : fd_(fd) {}
  int fd_ = -1;
};

}  // namespace aw
