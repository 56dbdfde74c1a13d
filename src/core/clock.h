// Time is an input (STYLE §6). Pure code takes `now` and returns deadlines; the
// daemon reads a Clock so tests can run hours of behaviour in milliseconds.
#pragma once

#include <algorithm>
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
  WallTime wall() const override { return wall_start_ + elapsed_ + wall_jumps_; }
  // Time passes: both clocks move together.
  void advance(Duration d) { elapsed_ += d; }
  // The wall clock is set (an NTP step, a manual `date -s`, a resumed VM), by
  // `d` forward or, when negative, back; the monotonic clock does not move.
  void jump_wall(Duration d) { wall_jumps_ += d; }

 private:
  WallTime wall_start_;
  Duration elapsed_{0};
  Duration wall_jumps_{0};
};

// Both clocks read at one instant: the bridge between the monotonic time that
// decisions run on and the wall time that is shown and persisted.
//
// Why both: a deadline, a window or a budget measured in wall time moves when
// the wall clock is set (a forward step ends every window at once, a backward
// one stretches them all), so decisions use MonoTime. But monotonic time means
// nothing in another process or after a reboot, so what must survive a daemon
// restart is written as wall time and re-based onto the new process's
// monotonic clock when it is read back.
struct ClockSnapshot {
  MonoTime mono{};
  WallTime wall{};

  static ClockSnapshot of(const Clock& clock) { return {clock.mono(), clock.wall()}; }

  // For display and persistence: the wall time that `t` is, by the wall clock
  // as it reads now (a later wall-clock step shifts it; nothing decides on it).
  WallTime to_wall(MonoTime t) const { return wall + (t - mono); }

  // A persisted wall time re-based onto the monotonic clock: as long before
  // `mono` as the wall clock says it is before `wall`. A time ahead of the wall
  // clock (it was set back while nobody was looking) counts as now, never later:
  // a window that starts there lasts its own length from now, not the step's
  // length on top.
  MonoTime to_mono(WallTime t) const { return mono - std::max(wall - t, Duration{0}); }
};

inline std::int64_t to_ms(Duration d) {
  return std::chrono::duration_cast<std::chrono::milliseconds>(d).count();
}

}  // namespace aw
