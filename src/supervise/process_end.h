// How a watched process ended: what ProcessWatch (the kernel side) tells the
// worker machine (the pure side). Its own header so that the machine, which
// must not include <uv.h>, can read it without process_watch.h.
//
// Thread safety: a value.
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <string>

#include "src/core/clock.h"
#include "src/supervise/evidence.h"

namespace aw {

struct ProcessEnd {
  pid_t pid = 0;
  bool child = false;         // ours: status and rusage from wait4
  bool status_known = false;  // false: a non-child whose status the kernel did not give us
  bool exited = false;        // status_known: exit_code valid; else term_signal
  int exit_code = -1;
  int term_signal = 0;
  bool core_dumped = false;
  Duration wall{0};      // spawn (child) or adoption (non-child) → end, monotonic
  Duration user_cpu{0};  // children only (wait4 rusage)
  Duration sys_cpu{0};
  std::int64_t max_rss_kb = 0;
  std::string stderr_tail;  // children only: the last bytes it wrote to stderr
  EvidenceList evidence;
};

}  // namespace aw
