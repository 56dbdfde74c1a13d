#include "src/logpipe/logpipe.h"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <string_view>
#include <vector>

#include "src/os/errno_text.h"
#include "src/os/unique_fd.h"

namespace aw {
namespace {

constexpr std::size_t kReadChunk = 64 * 1024;

volatile sig_atomic_t g_hangup = 0;

extern "C" void on_sighup(int) {
  g_hangup = 1;
}

// Installs the SIGHUP handler and blocks SIGHUP in this thread; undoes both.
class HangupScope {
 public:
  HangupScope() {
    struct sigaction sa {};
    sa.sa_handler = on_sighup;
    sigemptyset(&sa.sa_mask);
    sa.sa_flags = 0;  // no SA_RESTART: ppoll must return
    ::sigaction(SIGHUP, &sa, &old_action_);
    sigset_t hup;
    sigemptyset(&hup);
    sigaddset(&hup, SIGHUP);
    ::pthread_sigmask(SIG_BLOCK, &hup, &old_mask_);
    // What ppoll() runs with: SIGHUP let through, the rest as before.
    wait_mask_ = old_mask_;
    sigdelset(&wait_mask_, SIGHUP);
  }
  ~HangupScope() {
    ::pthread_sigmask(SIG_SETMASK, &old_mask_, nullptr);
    ::sigaction(SIGHUP, &old_action_, nullptr);
  }
  HangupScope(const HangupScope&) = delete;
  HangupScope& operator=(const HangupScope&) = delete;
  const sigset_t* wait_mask() const { return &wait_mask_; }

 private:
  struct sigaction old_action_ {};
  sigset_t old_mask_{};
  sigset_t wait_mask_{};
};

class Appender {
 public:
  Appender(const LogpipeOptions& options, LogpipeStats& stats) : options_(options), stats_(stats) {}

  // Opens the path (first time, or again). Returns "" or what went wrong.
  std::string open() {
    UniqueFd fd(
        ::open(options_.path.c_str(),
               O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC | O_NOFOLLOW | O_NONBLOCK | O_NOCTTY,
               options_.mode));
    if (!fd) {
      const int err = errno;
      if (err == ELOOP)
        return options_.path +
               " is a symlink; logpipe writes only to a regular file at the path (rotation "
               "renames that name)";
      if (err == ENXIO) return options_.path + " is a FIFO with no reader (expected a log file)";
      std::string text = "cannot open " + options_.path + ": " + errno_text(err);
      if (err == ENOENT) text += " (its directory must exist)";
      return text;
    }
    struct stat st {};
    if (::fstat(fd.get(), &st) != 0) {
      const int err = errno;
      return "cannot stat " + options_.path + ": " + errno_text(err);
    }
    if (!S_ISREG(st.st_mode)) return options_.path + " is not a regular file (expected a log file)";
    // Writes to a regular file never return EAGAIN; drop O_NONBLOCK anyway.
    ::fcntl(fd.get(), F_SETFL, O_WRONLY | O_APPEND);
    fd_ = std::move(fd);
    dev_ = st.st_dev;
    ino_ = st.st_ino;
    return "";
  }

  // Reopens when the path no longer leads to the file held (or on SIGHUP).
  void follow_path(bool hangup) {
    struct stat st {};
    const bool same =
        ::lstat(options_.path.c_str(), &st) == 0 && st.st_dev == dev_ && st.st_ino == ino_;
    if (same && !hangup) return;
    UniqueFd held = std::move(fd_);
    const dev_t dev = dev_;
    const ino_t ino = ino_;
    if (open().empty()) {
      if (dev_ != dev || ino_ != ino) ++stats_.reopens;
      return;
    }
    // Keep writing where we were: those bytes are still read by the tailer.
    ++stats_.reopen_failures;
    fd_ = std::move(held);
    dev_ = dev;
    ino_ = ino;
  }

  // Writes all of `data` (one write() unless the kernel takes less).
  std::string write(std::string_view data, bool hangup) {
    if (data.empty()) return "";
    follow_path(hangup);
    while (!data.empty()) {
      const ssize_t n = ::write(fd_.get(), data.data(), data.size());
      if (n < 0) {
        const int err = errno;
        if (err == EINTR) continue;
        return "cannot write " + options_.path + ": " + errno_text(err);
      }
      ++stats_.writes;
      stats_.bytes_written += static_cast<std::uint64_t>(n);
      data.remove_prefix(static_cast<std::size_t>(n));
    }
    return "";
  }

 private:
  const LogpipeOptions& options_;
  LogpipeStats& stats_;
  UniqueFd fd_;
  dev_t dev_ = 0;
  ino_t ino_ = 0;
};

}  // namespace

int run_logpipe(const LogpipeOptions& options, int in_fd, std::string* error) {
  std::string scratch;
  std::string& err = error ? *error : scratch;
  if (options.path.empty()) {
    err = "logpipe: --file is required (the log file to append to)";
    return 2;
  }
  if (options.max_line == 0) {
    err = "logpipe: max_line must be at least 1 byte";
    return 2;
  }
  LogpipeStats local_stats;
  LogpipeStats& stats = options.stats ? *options.stats : local_stats;
  Appender out(options, stats);
  if (std::string e = out.open(); !e.empty()) {
    err = e;
    return 1;
  }

  HangupScope hup_scope;
  g_hangup = 0;
  std::string pending;  // bytes read but not yet written: a partial line
  std::vector<char> chunk(kReadChunk);
  const auto flush_ms = std::chrono::duration_cast<std::chrono::milliseconds>(options.flush_after);

  auto take_hangup = [&] {
    if (!g_hangup) return false;
    g_hangup = 0;
    ++stats.hangups;
    return true;
  };

  for (;;) {
    // Wait for input: forever, or until a held partial line is due.
    struct pollfd pfd {
      in_fd, POLLIN, 0
    };
    struct timespec timeout {};
    const bool timed = !pending.empty();
    if (timed) {
      timeout.tv_sec = flush_ms.count() / 1000;
      timeout.tv_nsec = (flush_ms.count() % 1000) * 1'000'000;
    }
    const int ready = ::ppoll(&pfd, 1, timed ? &timeout : nullptr, hup_scope.wait_mask());
    if (ready < 0 && errno != EINTR) {
      const int e = errno;
      err = "cannot wait for input on fd " + std::to_string(in_fd) + ": " + errno_text(e);
      return 1;
    }
    if (take_hangup()) out.follow_path(/*hangup=*/true);
    if (ready < 0) continue;  // interrupted
    if (ready == 0) {
      ++stats.partial_writes;
      if (std::string e = out.write(pending, false); !e.empty()) {
        err = e;
        return 1;
      }
      pending.clear();
      continue;
    }

    const ssize_t n = ::read(in_fd, chunk.data(), chunk.size());
    if (n < 0) {
      const int e = errno;
      if (e == EINTR || e == EAGAIN) continue;
      err = "cannot read input fd " + std::to_string(in_fd) + ": " + errno_text(e);
      return 1;
    }
    if (n == 0) {
      if (!pending.empty()) ++stats.partial_writes;
      if (std::string e = out.write(pending, false); !e.empty()) {
        err = e;
        return 1;
      }
      return 0;
    }
    stats.bytes_in += static_cast<std::uint64_t>(n);
    const std::string_view got(chunk.data(), static_cast<std::size_t>(n));
    const std::size_t last_nl = got.rfind('\n');
    std::string_view tail = got;
    if (last_nl != std::string_view::npos) {
      // Every complete line in one write; no copy when nothing was held.
      std::string_view lines = got.substr(0, last_nl + 1);
      tail = got.substr(last_nl + 1);
      std::string e;
      if (pending.empty()) {
        e = out.write(lines, false);
      } else {
        pending.append(lines);
        e = out.write(pending, false);
        pending.clear();
      }
      if (!e.empty()) {
        err = e;
        return 1;
      }
    }
    pending.append(tail);
    if (pending.size() >= options.max_line) {
      ++stats.partial_writes;
      if (std::string e = out.write(pending, false); !e.empty()) {
        err = e;
        return 1;
      }
      pending.clear();
    }
  }
}

}  // namespace aw
