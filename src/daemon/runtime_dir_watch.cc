#include "src/daemon/runtime_dir_watch.h"

#include <sys/inotify.h>

#include "src/os/errno_text.h"

namespace aw {

RuntimeDirWatch::RuntimeDirWatch(uv_loop_t* loop, std::function<void()> on_gone)
    : loop_(loop), on_gone_(std::move(on_gone)) {}

RuntimeDirWatch::~RuntimeDirWatch() = default;

Status RuntimeDirWatch::watch(const std::string& dir) {
  const std::size_t slash = dir.find_last_of('/');
  const std::string parent = slash == 0 ? "/" : dir.substr(0, slash);
  name_ = dir.substr(slash + 1);
  if (!inotify_) {
    InotifySource::Callbacks cb;
    cb.on_records = [this](std::span<const InotifyRecord> records) {
      for (const InotifyRecord& r : records) {
        if (r.wd != wd_ || r.name != name_ || (r.mask & (IN_DELETE | IN_MOVED_FROM)) == 0) continue;
        on_gone_();
        return;
      }
    };
    auto source = InotifySource::open(loop_, std::move(cb));
    if (!source) return make_error("runtime dir watch: " + source.error().message);
    inotify_ = std::move(*source);
    if (int rc = inotify_->start(); rc != 0)
      return make_error(std::string("runtime dir watch: uv_poll_start: ") + uv_strerror(rc), rc);
  }
  const int wd = inotify_->add_watch(parent.c_str(), IN_DELETE | IN_MOVED_FROM | IN_ONLYDIR);
  if (wd < 0) return make_error("cannot watch " + parent + ": " + errno_text(-wd), wd);
  wd_ = wd;  // the same parent gives the same wd: nothing to remove
  return Status::Ok();
}

}  // namespace aw
