#include "src/supervise/pid_file_reader.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <charconv>
#include <cstdlib>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "src/os/environ.h"
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

std::string resolve_program_exe(const std::string& argv0, const std::string& cwd) {
  if (argv0.empty()) return "";
  std::vector<std::string> candidates;
  if (argv0.find('/') != std::string::npos) {
    candidates.push_back(argv0[0] == '/' || cwd.empty() ? argv0 : cwd + "/" + argv0);
  } else if (const std::optional<std::string> path = env_var("PATH")) {
    std::string_view dirs = *path;
    while (true) {
      std::size_t colon = dirs.find(':');
      std::string_view dir = dirs.substr(0, colon);
      candidates.push_back((dir.empty() ? std::string(".") : std::string(dir)) + "/" + argv0);
      if (colon == std::string_view::npos) break;
      dirs.remove_prefix(colon + 1);
    }
  }
  for (const std::string& c : candidates) {
    struct stat st {};
    if (::stat(c.c_str(), &st) != 0 || !S_ISREG(st.st_mode) || ::access(c.c_str(), X_OK) != 0)
      continue;
    // The first match is what would run (execvp's rule): decide on it alone.
    char* real = ::realpath(c.c_str(), nullptr);
    if (!real) return "";
    std::string resolved = real;
    std::free(real);  // realpath() mallocs its answer
    UniqueFd fd(::open(resolved.c_str(), O_RDONLY | O_CLOEXEC));
    if (!fd) return "";
    char magic[4] = {};
    const ssize_t n = ::read(fd.get(), magic, sizeof magic);
    if (n != 4 || magic[0] != 0x7f || magic[1] != 'E' || magic[2] != 'L' || magic[3] != 'F')
      return "";  // a script (or something else): its process's exe is not this file
    return resolved;
  }
  return "";
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
