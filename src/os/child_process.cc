#include "src/os/child_process.h"

#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <memory>
#include <utility>

// environ: declared by <unistd.h> under _GNU_SOURCE.

namespace aw {
namespace detail {

std::vector<std::string> merge_environment(
    const char* const* base, const std::vector<std::pair<std::string, std::string>>& additions) {
  std::vector<std::string> out;
  for (const char* const* e = base; e && *e; ++e) {
    std::string_view entry(*e);
    std::string_view key = entry.substr(0, entry.find('='));
    bool replaced = false;
    for (const auto& [k, v] : additions) {
      if (k == key) {
        replaced = true;
        break;
      }
    }
    if (!replaced) out.emplace_back(entry);
  }
  for (std::size_t i = 0; i < additions.size(); ++i) {
    // A key given twice: the last one wins, as in a shell.
    bool overridden_later = false;
    for (std::size_t j = i + 1; j < additions.size(); ++j)
      overridden_later = overridden_later || additions[j].first == additions[i].first;
    if (!overridden_later) out.push_back(additions[i].first + "=" + additions[i].second);
  }
  return out;
}

void append_tail(std::string& tail, std::string_view chunk, std::size_t limit) {
  if (chunk.size() >= limit) {
    tail.assign(chunk.substr(chunk.size() - limit));
    return;
  }
  std::size_t keep = limit - chunk.size();
  if (tail.size() > keep) tail.erase(0, tail.size() - keep);
  tail.append(chunk);
}

}  // namespace detail

namespace {

constexpr int kMaxReadsPerWakeup = 16;  // 1 MiB: a chatty child cannot starve the loop

Duration from_timeval(const timeval& tv) {
  return std::chrono::seconds(tv.tv_sec) + std::chrono::microseconds(tv.tv_usec);
}

Error errno_error(std::string what, int err) {
  return make_error(std::move(what) + ": " + std::strerror(err), -err);
}

// A pipe whose ends are O_CLOEXEC and above the stdio numbers (so the dup2s in
// the child cannot clobber each other even if the daemon runs with 0-2 closed),
// the read end non-blocking.
int make_output_pipe(UniqueFd& read_end, UniqueFd& write_end) {
  int raw[2];
  if (::pipe2(raw, O_CLOEXEC) != 0) return -errno;
  UniqueFd ends[2] = {UniqueFd(raw[0]), UniqueFd(raw[1])};
  for (UniqueFd& end : ends) {
    if (end.get() <= 2) {
      UniqueFd moved(::fcntl(end.get(), F_DUPFD_CLOEXEC, 3));
      if (!moved) return -errno;
      end = std::move(moved);  // closes the low number
    }
  }
  read_end = std::move(ends[0]);
  write_end = std::move(ends[1]);
  int flags = ::fcntl(read_end.get(), F_GETFL);
  if (flags < 0 || ::fcntl(read_end.get(), F_SETFL, flags | O_NONBLOCK) != 0) return -errno;
  return 0;
}

// posix_spawn's C objects, destroyed on every path out.
struct SpawnAttributes {
  posix_spawn_file_actions_t actions;
  posix_spawnattr_t attr;
  SpawnAttributes() {
    posix_spawn_file_actions_init(&actions);
    posix_spawnattr_init(&attr);
  }
  ~SpawnAttributes() {
    posix_spawn_file_actions_destroy(&actions);
    posix_spawnattr_destroy(&attr);
  }
  SpawnAttributes(const SpawnAttributes&) = delete;
  SpawnAttributes& operator=(const SpawnAttributes&) = delete;
};

void kill_and_reap(pid_t pid) {
  ::kill(pid, SIGKILL);
  int status;
  while (::waitpid(pid, &status, 0) < 0 && errno == EINTR) {
  }
}

}  // namespace

Result<std::unique_ptr<ChildProcess>> ChildProcess::spawn(uv_loop_t* loop, const Clock& clock,
                                                          SpawnOptions options,
                                                          ExitCallback on_exit) {
  if (options.argv.empty()) return make_error("cannot spawn: argv is empty", -EINVAL);

  UniqueFd out_r, out_w, err_r, err_w, output_file;
  if (!options.output_path.empty()) {
    output_file.reset(
        ::open(options.output_path.c_str(), O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0600));
    if (!output_file)
      return errno_error("cannot open the output file " + options.output_path, errno);
  } else if (options.capture_output) {
    if (int rc = make_output_pipe(out_r, out_w); rc != 0)
      return errno_error("cannot create a pipe for stdout", -rc);
    if (int rc = make_output_pipe(err_r, err_w); rc != 0)
      return errno_error("cannot create a pipe for stderr", -rc);
  }

  SpawnAttributes sa;
  int rc = posix_spawn_file_actions_addopen(&sa.actions, 0, "/dev/null", O_RDONLY, 0);
  if (rc == 0 && output_file) {
    rc = posix_spawn_file_actions_adddup2(&sa.actions, output_file.get(), 1);
    if (rc == 0) rc = posix_spawn_file_actions_adddup2(&sa.actions, output_file.get(), 2);
  } else if (rc == 0 && options.capture_output) {
    rc = posix_spawn_file_actions_adddup2(&sa.actions, out_w.get(), 1);
    if (rc == 0) rc = posix_spawn_file_actions_adddup2(&sa.actions, err_w.get(), 2);
  } else if (rc == 0) {
    rc = posix_spawn_file_actions_addopen(&sa.actions, 1, "/dev/null", O_WRONLY, 0);
    if (rc == 0) rc = posix_spawn_file_actions_addopen(&sa.actions, 2, "/dev/null", O_WRONLY, 0);
  }
  // Only 0-2 cross: an fd of the daemon's opened without O_CLOEXEC (by a
  // library, say) must not leak into every child.
  if (rc == 0) rc = posix_spawn_file_actions_addclosefrom_np(&sa.actions, 3);
  if (rc == 0 && !options.cwd.empty())
    rc = posix_spawn_file_actions_addchdir_np(&sa.actions, options.cwd.c_str());
  if (rc == 0)
    rc = posix_spawnattr_setflags(
        &sa.attr, POSIX_SPAWN_SETPGROUP | POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF);
  if (rc == 0) rc = posix_spawnattr_setpgroup(&sa.attr, 0);
  sigset_t mask;
  sigemptyset(&mask);
  if (rc == 0) rc = posix_spawnattr_setsigmask(&sa.attr, &mask);
  // Every signal back to its default: also undoes an inherited SIG_IGN (SIGPIPE).
  sigset_t all;
  sigfillset(&all);
  if (rc == 0) rc = posix_spawnattr_setsigdefault(&sa.attr, &all);
  if (rc != 0) return errno_error("cannot prepare the spawn of '" + options.argv[0] + "'", rc);

  std::vector<char*> argv;
  argv.reserve(options.argv.size() + 1);
  for (auto& a : options.argv) argv.push_back(a.data());
  argv.push_back(nullptr);
  std::vector<std::string> env_strings = detail::merge_environment(environ, options.env);
  std::vector<char*> envp;
  envp.reserve(env_strings.size() + 1);
  for (auto& e : env_strings) envp.push_back(e.data());
  envp.push_back(nullptr);

  MonoTime started = clock.mono();
  pid_t pid = 0;
  bool search_path = options.argv[0].find('/') == std::string::npos;
  // glibc's posix_spawn waits for the exec (CLONE_VFORK) and returns its error:
  // ENOENT / EACCES here mean the program or the cwd, and no child is left.
  rc = search_path ? ::posix_spawnp(&pid, argv[0], &sa.actions, &sa.attr, argv.data(), envp.data())
                   : ::posix_spawn(&pid, argv[0], &sa.actions, &sa.attr, argv.data(), envp.data());
  // The child has its own copies (dup2'd onto 1 and 2); ours go now, so that
  // the read ends see EOF when the child and its descendants are done.
  out_w.reset();
  err_w.reset();
  output_file.reset();
  if (rc != 0) return errno_error("cannot run '" + options.argv[0] + "'", rc);

  UniqueFd pidfd(static_cast<int>(::syscall(SYS_pidfd_open, pid, 0)));
  if (!pidfd) {
    int err = errno;
    kill_and_reap(pid);
    return errno_error("cannot watch the child '" + options.argv[0] + "' (pidfd_open)", err);
  }

  std::unique_ptr<ChildProcess> child(
      new ChildProcess(loop, clock, options.tail_limit, options.drain_limit,
                       std::move(options.on_output), std::move(on_exit)));
  child->pid_ = pid;
  child->started_ = started;
  child->exit_.pid = pid;
  child->output_path_ = std::move(options.output_path);
  child->pidfd_ = std::move(pidfd);
  child->out_.fd = std::move(out_r);
  child->out_.eof = !child->out_.fd.valid();
  child->err_.fd = std::move(err_r);
  child->err_.eof = !child->err_.fd.valid();
  if (int watch_rc = child->start_watching(); watch_rc != 0) {
    // The destructor kills and reaps it.
    return make_error(
        std::string("cannot watch the child '") + argv[0] + "': " + uv_strerror(watch_rc),
        watch_rc);
  }
  return child;
}

ChildProcess::ChildProcess(uv_loop_t* loop, const Clock& clock, std::size_t tail_limit,
                           Duration drain_limit,
                           std::function<void(int, std::string_view)> on_output,
                           ExitCallback on_exit)
    : loop_(loop),
      clock_(clock),
      tail_limit_(tail_limit),
      drain_limit_(drain_limit),
      on_output_(std::move(on_output)),
      on_exit_(std::move(on_exit)) {}

ChildProcess::~ChildProcess() {
  if (!reaped_ && !released_ && pid_ > 0) {
    if (::kill(-pid_, SIGKILL) != 0) ::kill(pid_, SIGKILL);
    int status;
    while (::wait4(pid_, &status, 0, nullptr) < 0 && errno == EINTR) {
    }
  }
  // Close every poll handle before its fd (member order does it too; be explicit).
  drain_timer_.reset();
  pidfd_poll_.reset();
  pidfd_.reset();
  for (Stream* s : {&out_, &err_}) {
    s->poll.reset();
    s->fd.reset();
  }
}

int ChildProcess::start_watching() {
  pidfd_poll_ =
      std::make_unique<uvx::Poll>(loop_, pidfd_.get(), [this](int, int) { on_pidfd_readable(); });
  if (int rc = pidfd_poll_->start(UV_READABLE); rc != 0) return rc;
  auto watch = [this](Stream& s, int which) -> int {
    if (s.eof) return 0;
    s.poll = std::make_unique<uvx::Poll>(loop_, s.fd.get(), [this, &s, which](int status, int) {
      if (status < 0)
        stop_stream(s);
      else
        read_stream(s, which);
      maybe_deliver();
    });
    return s.poll->start(UV_READABLE);
  };
  if (int rc = watch(out_, 1); rc != 0) return rc;
  return watch(err_, 2);
}

void ChildProcess::on_pidfd_readable() {
  if (reaped_) return;
  // Still a zombie here, so -pid_ is certainly its own group.
  if (kill_group_on_exit_) ::kill(-pid_, SIGKILL);
  int status = 0;
  rusage ru{};
  pid_t r;
  do {
    r = ::wait4(pid_, &status, WNOHANG, &ru);
  } while (r < 0 && errno == EINTR);
  if (r == 0) return;  // readable but not yet waitable: wait for the next wakeup
  reaped_ = true;
  exit_.wall = clock_.mono() - started_;
  if (r > 0) {
    if (WIFEXITED(status)) {
      exit_.exited = true;
      exit_.exit_code = WEXITSTATUS(status);
    } else if (WIFSIGNALED(status)) {
      exit_.term_signal = WTERMSIG(status);
      exit_.core_dumped = WCOREDUMP(status);
    }
    exit_.user_cpu = from_timeval(ru.ru_utime);
    exit_.sys_cpu = from_timeval(ru.ru_stime);
    exit_.max_rss_kb = ru.ru_maxrss;  // Linux reports KiB
  }
  // r < 0 (ECHILD) would mean someone reaped our child behind our back (a
  // waitpid(-1) elsewhere): report it as an unknown death rather than hang.
  pidfd_poll_->stop();
  if (!output_path_.empty()) {
    read_output_tail();
    return;
  }
  if (!out_.eof || !err_.eof) {
    drain_timer_ = std::make_unique<uvx::Timer>(loop_, [this] {
      read_stream(out_, 1);  // what is already there; bounded like any wakeup
      read_stream(err_, 2);
      deliver();
    });
    drain_timer_->start(static_cast<std::uint64_t>(to_ms(drain_limit_)));
  }
  maybe_deliver();
}

void ChildProcess::read_stream(Stream& s, int which) {
  if (s.eof) return;
  char buf[65536];
  for (int i = 0; i < kMaxReadsPerWakeup; ++i) {
    ssize_t n = ::read(s.fd.get(), buf, sizeof buf);
    if (n > 0) {
      s.total += static_cast<std::uint64_t>(n);
      std::string_view chunk(buf, static_cast<std::size_t>(n));
      detail::append_tail(s.tail, chunk, tail_limit_);
      if (on_output_) on_output_(which, chunk);
      continue;
    }
    if (n < 0 && errno == EINTR) continue;
    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) return;
    stop_stream(s);  // EOF, or an error that no read will fix
    return;
  }
}

void ChildProcess::stop_stream(Stream& s) {
  if (s.poll) s.poll->stop();
  s.eof = true;
}

void ChildProcess::read_output_tail() {
  output_tail_pending_ = true;
  auto tail = std::make_shared<std::string>();
  const int rc = uvx::queue_work(
      loop_, work_owner_,
      [path = output_path_, limit = tail_limit_, tail] {
        // The file may be large and on a slow disk: never on the loop.
        UniqueFd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
        struct stat st {};
        if (!fd || ::fstat(fd.get(), &st) != 0 || st.st_size <= 0) return;
        const auto size = static_cast<std::size_t>(st.st_size);
        const std::size_t want = std::min(size, limit);
        tail->resize(want);
        const ssize_t n = ::pread(fd.get(), tail->data(), want, static_cast<off_t>(size - want));
        tail->resize(n > 0 ? static_cast<std::size_t>(n) : 0);
      },
      [this, tail] {
        exit_.stderr_tail = std::move(*tail);
        output_tail_pending_ = false;
        maybe_deliver();
      });
  if (rc != 0) {  // no pool: the end matters more than its last words
    output_tail_pending_ = false;
    maybe_deliver();
  }
}

void ChildProcess::release() {
  if (reaped_ || delivered_) return;
  released_ = true;
  delivered_ = true;  // nothing is delivered from now on
  if (pidfd_poll_) pidfd_poll_->stop();
  stop_stream(out_);
  stop_stream(err_);
  if (drain_timer_) drain_timer_->stop();
}

void ChildProcess::maybe_deliver() {
  if (reaped_ && out_.eof && err_.eof && !output_tail_pending_ && !delivered_) deliver();
}

void ChildProcess::deliver() {
  if (delivered_) return;
  delivered_ = true;
  exit_.pipes_abandoned = !out_.eof || !err_.eof;
  stop_stream(out_);
  stop_stream(err_);
  if (drain_timer_) drain_timer_->stop();
  exit_.stdout_tail = std::move(out_.tail);
  if (output_path_.empty()) exit_.stderr_tail = std::move(err_.tail);
  exit_.stdout_bytes = out_.total;
  exit_.stderr_bytes = err_.total;
  ChildExit e = std::move(exit_);
  ExitCallback cb = std::move(on_exit_);
  if (cb) cb(e);
}

int ChildProcess::kill_group(int sig) {
  if (reaped_ || released_ || pid_ <= 0) return -ESRCH;
  if (::kill(-pid_, sig) == 0) return 0;
  if (errno != ESRCH) return -errno;
  return ::kill(pid_, sig) == 0 ? 0 : -errno;
}

}  // namespace aw
