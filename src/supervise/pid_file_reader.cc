#include "src/supervise/pid_file_reader.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <charconv>
#include <memory>

#include "src/os/unique_fd.h"
#include "src/uvx/handle.h"

namespace aw {

pid_t parse_pid_text(std::string_view t) {
  while (!t.empty() && (t.back() == '\n' || t.back() == ' ' || t.back() == '\r'))
    t.remove_suffix(1);
  while (!t.empty() && t.front() == ' ') t.remove_prefix(1);
  pid_t pid = 0;
  auto [p, ec] = std::from_chars(t.data(), t.data() + t.size(), pid);
  if (ec != std::errc() || p != t.data() + t.size() || pid <= 0) return 0;
  return pid;
}

namespace {

// On the thread pool.
void read_now(PidFileRead& r, Env& env, const std::string& path, const std::string& argv0,
              const std::string& cwd) {
  {
    UniqueFd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NOFOLLOW));
    if (!fd) {
      r.err = errno;
      return;
    }
    // The mtime of the file that was read (fstat of the same fd): when it last
    // said what it says.
    struct stat st {};
    if (::fstat(fd.get(), &st) != 0) {
      r.err = errno;
      return;
    }
    r.claim.written = WallTime(std::chrono::seconds(st.st_mtim.tv_sec) +
                               std::chrono::nanoseconds(st.st_mtim.tv_nsec));
    char buf[64];
    ssize_t n;
    do {
      n = ::read(fd.get(), buf, sizeof buf);
    } while (n < 0 && errno == EINTR);
    if (n < 0) {
      r.err = errno;
      return;
    }
    r.text.assign(buf, static_cast<std::size_t>(n));
  }  // closed before /proc is asked
  r.claim.pid = parse_pid_text(r.text);
  if (r.claim.pid <= 0) return;
  r.proc = ask_proc_about(env, r.claim.pid);
  r.expected_exe = resolve_program_exe(argv0, cwd);
}

}  // namespace

int read_pid_file_async(uv_loop_t* loop, Env& env, const std::string& path,
                        const std::string& argv0, const std::string& cwd,
                        std::function<void(const PidFileRead&)> done) {
  auto r = std::make_shared<PidFileRead>();
  Env* envp = &env;
  return uvx::queue_work(
      loop, [r, envp, path, argv0, cwd] { read_now(*r, *envp, path, argv0, cwd); },
      [r, done = std::move(done)] { done(*r); });
}

}  // namespace aw
