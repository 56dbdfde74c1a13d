#include "src/supervise/file_sampler.h"

#include <sys/stat.h>

#include <cerrno>
#include <memory>

#include "src/os/errno_text.h"
#include "src/uvx/handle.h"

namespace aw {

int sample_file_async(uv_loop_t* loop, const std::string& path,
                      std::function<void(const FileSample&)> done) {
  auto sample = std::make_shared<FileSample>();
  return uvx::queue_work(
      loop,
      [sample, path] {
        struct stat st {};
        if (::stat(path.c_str(), &st) != 0) {
          sample->error = errno_text(errno);
          return;
        }
        sample->ok = true;
        sample->size = static_cast<std::int64_t>(st.st_size);
        sample->mtime = WallTime(std::chrono::seconds(st.st_mtim.tv_sec) +
                                 std::chrono::nanoseconds(st.st_mtim.tv_nsec));
      },
      [sample, done = std::move(done)] { done(*sample); });
}

}  // namespace aw
