// SettleQueue: files a scan found still young, held until they have been quiet
// for the settle period before they land (the settling half of DirWatcher,
// issue #9; watchman's settle). One per watch root.
//
// Why: a scan cannot tell a finished file from one whose writer is still
// writing. A regular file whose mtime is less than `settle` old is held, not
// landed; it lands (via=scan) once it has been quiet (same size, mtime, inode
// and device) for the settle period, unless the inotify queue reports it first
// (its close_write or rename lands it; the shell then release()s the hold). Old
// files land at once, so the start scan of a quiet tree is not delayed.
//
// Quiet means "unchanged since first seen" and either "mtime older than the
// settle period" (no write since: the wait is only what is left of it, the
// usual case) or "unchanged for the whole settle period" (an mtime in the
// future, or a wall clock that jumped back).
//
// Pure: no libuv, no system calls. The caller stats the file and passes what
// it found, with both clocks read at one instant (ClockSnapshot: decisions on
// the monotonic clock, the mtime's age by the wall clock); next_due() is what
// its one alarm waits for.
//
// Thread safety: none; one owner.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "src/core/clock.h"

namespace aw {

// The version of a regular file, as stat(2) tells it.
struct FileVersion {
  std::int64_t size = 0, mtime_ns = 0, inode = 0, dev = 0;
  friend bool operator==(const FileVersion&, const FileVersion&) = default;
};

class SettleQueue {
 public:
  // `settle` <= 0 holds nothing: every offer() lands at once.
  explicit SettleQueue(Duration settle) : settle_(settle) {}

  // A scan found version `v` of `rel`. True: it is recent and now held (the
  // caller must not land it); false: quiet for long enough, land it now. A held
  // file found again unchanged keeps its timing.
  bool offer(const std::string& rel, const FileVersion& v, ClockSnapshot now);
  // Ends the hold of `rel` (landed from the queue, removed, renamed) or of
  // everything at or below it.
  void release(const std::string& rel);
  void release_under(const std::string& rel);
  void clear();

  // Up to `max` held files whose re-check is due at `now`, earliest first
  // (ties by rel). They stay held: recheck() decides about each.
  std::vector<std::string> take_due(MonoTime now, std::size_t max);

  enum class Verdict {
    kNotHeld,  // released meanwhile: nothing to do
    kDropped,  // gone or no longer a regular file: its removal has its own event
    kWaiting,  // changed, or not quiet for long enough yet: re-checked later
    kLand,     // quiet: land it now (no longer held)
  };
  // The re-check of `rel`: `v` is what is there now (nullopt: gone, or not a
  // regular file).
  Verdict recheck(const std::string& rel, const std::optional<FileVersion>& v, ClockSnapshot now);

  std::optional<MonoTime> next_due() const;
  std::size_t size() const { return held_.size(); }
  bool holds(const std::string& rel) const { return held_.count(rel) != 0; }

 private:
  struct Held {
    FileVersion version;
    MonoTime quiet_since{};  // when this version was first seen
    MonoTime due{};          // its entry in queue_
  };
  struct Due {
    MonoTime due{};
    std::string rel;
    // modernize-use-nullptr flags this line: a clang-tidy 14 false positive
    // (llvm/llvm-project#53961, fixed in 18) on the `0` the language compares a
    // defaulted <=> result with. There is no pointer here; its fix-it is wrong.
    // NOLINTNEXTLINE(modernize-use-nullptr)
    friend auto operator<=>(const Due&, const Due&) = default;
  };
  Duration age_of(const FileVersion& v, ClockSnapshot now) const;
  void schedule(const std::string& rel, Held& h, ClockSnapshot now);

  Duration settle_;
  std::map<std::string, Held> held_;  // ordered: release_under takes a range
  std::set<Due> queue_;               // one entry per held file not being re-checked
};

}  // namespace aw
