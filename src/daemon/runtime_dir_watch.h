// Tells the daemon when its runtime dir itself is removed or renamed under it
// (a tmpfiles cleaner, a user's rm -rf, a logout that clears
// $XDG_RUNTIME_DIR): its sockets, status file and instance lock are then
// unreachable, though the daemon still runs. One inotify watch on the dir's
// parent (IN_DELETE | IN_MOVED_FROM of its name): not on the dir itself, whose
// IN_DELETE_SELF waits until the last fd open on it is closed. No polling. The
// daemon makes the dir again (Daemon::restore_runtime_dir).
//
// Threading: loop thread only. The loop must outlive the watch.
#pragma once

#include <uv.h>

#include <functional>
#include <memory>
#include <string>

#include "src/core/result.h"
#include "watchers/inotify_source.h"

namespace aw {

class RuntimeDirWatch {
 public:
  // `on_gone` is called once per removal, on the loop, from the watch's own
  // callback: it may call watch() again, but must not destroy this object.
  RuntimeDirWatch(uv_loop_t* loop, std::function<void()> on_gone);
  ~RuntimeDirWatch();
  RuntimeDirWatch(const RuntimeDirWatch&) = delete;
  RuntimeDirWatch& operator=(const RuntimeDirWatch&) = delete;

  // Watches for `dir` (whose parent must exist) to be removed or renamed.
  Status watch(const std::string& dir);

 private:
  uv_loop_t* loop_;
  std::function<void()> on_gone_;
  std::unique_ptr<InotifySource> inotify_;
  int wd_ = -1;       // on the parent
  std::string name_;  // the dir's name in it
};

}  // namespace aw
