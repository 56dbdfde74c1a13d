// Free space of the watched filesystems (DESIGN scenario 12): each [[watch]]
// root has a `min_free` (default 5%); a check that finds less is a `disk.low`
// event, which the shipped retention rules answer (rules/retention.toml), and
// the first check that finds enough again is `disk.ok`.
//
// When it checks, with no periodic wake-up of its own:
// - after large writes: once the files landed under a root since its last
//   check add up to kCheckAfterBytes (a storm of results, a big log), and
// - when a rule asks (`do = "check_disk"`, usually with `every`): all roots.
// A low disk is reported at every check that finds it low (level, not edge),
// so retention runs again while writes keep coming; a check already running
// for a root is not started twice.
//
// statvfs runs on the thread pool (a network filesystem can block).
// Threading: loop thread only.
#pragma once

#include <uv.h>

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "src/actions/retention.h"
#include "src/core/event.h"
#include "src/uvx/handle.h"

namespace aw {

struct DiskWatch {
  std::string name;  // the watch's name (fields.watch)
  std::string root;  // its root directory
  DiskThreshold min_free;
  std::string min_free_text;  // as written, for the event
};

class DiskMonitor {
 public:
  using Submit = std::function<void(Event)>;
  static constexpr std::uint64_t kCheckAfterBytes = std::uint64_t{64} << 20;

  DiskMonitor(uv_loop_t* loop, std::vector<DiskWatch> watches, Submit submit);
  DiskMonitor(const DiskMonitor&) = delete;
  DiskMonitor& operator=(const DiskMonitor&) = delete;

  // Subscriber: counts the bytes of landed files per watch.
  void on_event(const Event& e);
  // Checks every root now; `done` (may be empty) runs once all have reported,
  // with how many were low.
  void check_all(const Event* cause, std::function<void(int low, int checked)> done);

 private:
  struct State {
    DiskWatch watch;
    std::uint64_t since_check = 0;
    bool checking = false;
    bool low = false;
  };
  void check(std::size_t index, const Event* cause, const std::function<void(bool low)>& done);

  uv_loop_t* loop_;
  std::vector<State> states_;
  Submit submit_;
  uvx::WorkOwner owner_;
};

}  // namespace aw
