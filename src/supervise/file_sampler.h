// One stat() of a file on the thread pool, as a FileSample (heartbeat_tracker.h):
// the heartbeat detector looks at a worker's heartbeat file only at its
// deadlines, and never on the loop thread (a stat on a slow or hung file system
// would block every worker and watcher).
//
// Threading: sample_file_async() is called on the loop thread; `done` runs on
// the loop thread with the sample. It must check that whatever it captured is
// still alive (the Supervisor holds a weak_ptr for that).
#pragma once

#include <uv.h>

#include <functional>
#include <string>

#include "src/supervise/heartbeat_tracker.h"

namespace aw {

// 0, or a libuv error when the stat could not be queued (then `done` never runs).
int sample_file_async(uv_loop_t* loop, const std::string& path,
                      std::function<void(const FileSample&)> done);

}  // namespace aw
