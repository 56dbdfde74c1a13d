// Time is an input (STYLE §6). Pure code takes `now` and returns deadlines; the
// daemon reads a Clock so tests can run hours of behaviour in milliseconds.
#pragma once

#include <chrono>
#include <cstdint>

namespace aw {

using Duration = std::chrono::nanoseconds;
// Monotonic time; only differences are meaningful.
using MonoTime = std::chrono::time_point<std::chrono::steady_clock, Duration>;
// Wall-clock time as nanoseconds since the Unix epoch (what the event log records).
using WallTime = std::chrono::time_point<std::chrono::system_clock, Duration>;

class Clock {
 public:
  virtual ~Clock() = default;
  virtual MonoTime mono() const = 0;
  virtual WallTime wall() const = 0;
};

class SystemClock final : public Clock {
 public:
  MonoTime mono() const override {
    return std::chrono::time_point_cast<Duration>(std::chrono::steady_clock::now());
  }
  WallTime wall() const override {
    return std::chrono::time_point_cast<Duration>(std::chrono::system_clock::now());
  }
};

// A clock that moves only when told to. Not thread-safe; tests only.
class ManualClock final : public Clock {
 public:
  explicit ManualClock(WallTime wall_start = WallTime(std::chrono::seconds(1'700'000'000)))
      : wall_start_(wall_start) {}
  MonoTime mono() const override { return MonoTime(elapsed_); }
  WallTime wall() const override { return wall_start_ + elapsed_; }
  void advance(Duration d) { elapsed_ += d; }

 private:
  WallTime wall_start_;
  Duration elapsed_{0};
};

inline std::int64_t to_ms(Duration d) {
  return std::chrono::duration_cast<std::chrono::milliseconds>(d).count();
}

}  // namespace aw
