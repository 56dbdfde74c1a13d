#include "src/supervise/process_watch.h"

#include <linux/types.h>
#include <poll.h>
#include <signal.h>
#include <sys/ioctl.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>  // strsignal

#include "src/os/errno_text.h"

namespace aw {
namespace detail {
namespace {

// Debian 12's UAPI headers (Linux 6.1) predate PIDFD_GET_INFO (6.13) and its
// PIDFD_INFO_EXIT (6.15), so the first version of the struct is spelled out here
// as include/uapi/linux/pidfd.h defines it. The ioctl number encodes the size
// (64 bytes, PIDFD_INFO_SIZE_VER0), which every kernel since 6.13 accepts.
struct PidfdInfoV0 {
  __u64 mask;
  __u64 cgroupid;
  __u32 pid;
  __u32 tgid;
  __u32 ppid;
  __u32 ruid;
  __u32 rgid;
  __u32 euid;
  __u32 egid;
  __u32 suid;
  __u32 sgid;
  __u32 fsuid;
  __u32 fsgid;
  __s32 exit_code;  // spare0[0] before 6.15: a wait(2)-style status
};
static_assert(sizeof(PidfdInfoV0) == 64, "PIDFD_INFO_SIZE_VER0");

constexpr unsigned long kPidfsIoctlMagic = 0xFF;
constexpr unsigned long kPidfdGetInfo = _IOWR(kPidfsIoctlMagic, 11, PidfdInfoV0);
constexpr __u64 kPidfdInfoExit = 1ull << 3;

}  // namespace

int pidfd_exit_status(int pidfd, int* status) {
  PidfdInfoV0 info{};
  info.mask = kPidfdInfoExit;
  if (::ioctl(pidfd, kPidfdGetInfo, &info) != 0) return -errno;
  if (!(info.mask & kPidfdInfoExit)) return 0;
  *status = info.exit_code;
  return 1;
}

}  // namespace detail

namespace {

int pidfd_open(pid_t pid) {
  return static_cast<int>(::syscall(SYS_pidfd_open, pid, 0));
}

int pidfd_send_signal(int pidfd, int sig) {
  return static_cast<int>(::syscall(SYS_pidfd_send_signal, pidfd, sig, nullptr, 0));
}

bool pidfd_readable(int pidfd) {
  pollfd p{pidfd, POLLIN, 0};
  int r;
  do {
    r = ::poll(&p, 1, 0);
  } while (r < 0 && errno == EINTR);
  return r > 0 && (p.revents & (POLLIN | POLLHUP)) != 0;
}

std::string describe_status(int status) {
  if (WIFEXITED(status)) return "exited with code " + std::to_string(WEXITSTATUS(status));
  if (WIFSIGNALED(status))
    return std::string("killed by signal ") + std::to_string(WTERMSIG(status)) + " (" +
           ::strsignal(WTERMSIG(status)) + ")";
  return "status " + std::to_string(status);
}

}  // namespace

ProcessWatch::ProcessWatch(uv_loop_t* loop, const Clock& clock, Env& env, EndCallback on_end,
                           ProcessWatchOptions options)
    : loop_(loop), clock_(clock), env_(env), on_end_(std::move(on_end)), options_(options) {}

void ProcessWatch::release() {
  if (child_) child_->release();
  if (pidfd_poll_) pidfd_poll_->stop();
  if (info_timer_) info_timer_->stop();
  ended_ = true;  // from here on, nothing about it is ours to say
}

ProcessWatch::~ProcessWatch() {
  // Handles before the fd they watch.
  info_timer_.reset();
  pidfd_poll_.reset();
  pidfd_.reset();
  child_.reset();
}

ProcessWatch::Adoption ProcessWatch::adopt(uv_loop_t* loop, const Clock& clock, Env& env, pid_t pid,
                                           const std::optional<ProcessIdentity>& expected,
                                           EndCallback on_end, ProcessWatchOptions options) {
  Adoption a;
  a.verdict.seen.pid = pid;
  if (pid <= 0) {
    a.verdict.liveness = Liveness::kAbsent;
    a.verdict.evidence.push_back(
        {"pid", std::to_string(pid) + " is not a process id", clock.wall()});
    return a;
  }
  UniqueFd pidfd(pidfd_open(pid));
  if (!pidfd) {
    int err = errno;
    a.verdict.liveness = err == ESRCH ? Liveness::kAbsent : Liveness::kUnknown;
    a.verdict.evidence.push_back({"pidfd_open",
                                  err == ESRCH ? "no such process" : "failed: " + errno_text(err),
                                  clock.wall()});
    return a;
  }
  a.verdict = probe_process(env, clock, pid, expected);
  if (a.verdict.liveness == Liveness::kAbsent) return a;
  if (pidfd_readable(pidfd.get())) {
    // It ended between pidfd_open and now: whatever /proc said may be about a
    // zombie, and there is nothing left to watch.
    a.verdict.liveness = Liveness::kAbsent;
    a.verdict.evidence.push_back({"pidfd", "readable: the process ended", clock.wall()});
    return a;
  }
  a.verdict.evidence.push_back({"pidfd", "open, not readable: the process runs", clock.wall()});

  std::unique_ptr<ProcessWatch> w(new ProcessWatch(loop, clock, env, std::move(on_end), options));
  w->identity_ = a.verdict.seen;
  if (a.verdict.liveness == Liveness::kUnknown && expected) {
    // Keep what we knew: the check could not be made, not failed.
    w->identity_.start_ticks = expected->start_ticks;
    w->identity_.exe = expected->exe;
  }
  w->began_ = clock.mono();
  w->pidfd_ = std::move(pidfd);
  ProcessWatch* self = w.get();
  w->pidfd_poll_ = std::make_unique<uvx::Poll>(loop, w->pidfd_.get(),
                                               [self](int, int) { self->on_pidfd_readable(); });
  if (int rc = w->pidfd_poll_->start(UV_READABLE); rc != 0) {
    a.verdict.liveness = Liveness::kUnknown;
    a.verdict.evidence.push_back(
        {"pidfd", std::string("cannot be watched: ") + uv_strerror(rc), clock.wall()});
    return a;
  }
  a.watch = std::move(w);
  return a;
}

Result<std::unique_ptr<ProcessWatch>> ProcessWatch::watch_child(uv_loop_t* loop, const Clock& clock,
                                                                Env& env, SpawnOptions options,
                                                                EndCallback on_end) {
  std::unique_ptr<ProcessWatch> w(new ProcessWatch(loop, clock, env, std::move(on_end), {}));
  ProcessWatch* self = w.get();
  w->began_ = clock.mono();
  auto child = ChildProcess::spawn(loop, clock, std::move(options), [self](const ChildExit& x) {
    ProcessEnd end;
    end.pid = x.pid;
    end.child = true;
    end.status_known = x.exited || x.term_signal != 0;
    end.exited = x.exited;
    end.exit_code = x.exit_code;
    end.term_signal = x.term_signal;
    end.core_dumped = x.core_dumped;
    end.wall = x.wall;
    end.user_cpu = x.user_cpu;
    end.sys_cpu = x.sys_cpu;
    end.max_rss_kb = x.max_rss_kb;
    end.stderr_tail = x.stderr_tail;
    std::string said = end.status_known
                           ? describe_status(x.exited ? (x.exit_code << 8) : x.term_signal)
                           : "reaped elsewhere: status lost";
    end.evidence.push_back({"wait4", said, self->clock_.wall()});
    self->deliver(end);
  });
  if (!child) return child.error();
  w->child_ = std::move(*child);
  w->identity_.pid = w->child_->pid();
  // posix_spawn returned after the exec, so this is the program we started.
  if (auto stat = env.read_proc_stat(w->identity_.pid))
    if (auto ticks = parse_stat_start_ticks(*stat)) w->identity_.start_ticks = *ticks;
  if (auto exe = env.read_proc_exe(w->identity_.pid)) w->identity_.exe = *exe;
  return w;
}

void ProcessWatch::on_pidfd_readable() {
  if (ended_) return;
  pidfd_poll_->stop();
  end_seen_ = clock_.mono();
  end_evidence_.push_back({"pidfd", "readable: the process ended", clock_.wall()});
  try_exit_info();
}

void ProcessWatch::try_exit_info() {
  int status = 0;
  int rc = detail::pidfd_exit_status(pidfd_.get(), &status);
  ProcessEnd end;
  end.pid = identity_.pid;
  end.wall = end_seen_ - began_;
  if (rc == 1) {
    end.status_known = true;
    end.exited = WIFEXITED(status);
    end.exit_code = end.exited ? WEXITSTATUS(status) : -1;
    end.term_signal = WIFSIGNALED(status) ? WTERMSIG(status) : 0;
    end.core_dumped = WIFSIGNALED(status) && WCOREDUMP(status);
    end_evidence_.push_back({"pidfd_info", describe_status(status), clock_.wall()});
  } else if (rc == 0 && clock_.mono() - end_seen_ < options_.exit_status_wait) {
    // Ended but not reaped yet by its parent: ask again shortly (bounded).
    if (!info_timer_)
      info_timer_ = std::make_unique<uvx::Timer>(loop_, [this] { try_exit_info(); });
    static constexpr std::uint64_t kStepsMs[] = {1, 5, 20, 50};
    std::uint64_t step = kStepsMs[std::min<std::size_t>(static_cast<std::size_t>(info_tries_), 3)];
    ++info_tries_;
    info_timer_->start(step);
    return;
  } else if (rc == 0) {
    end_evidence_.push_back({"pidfd_info",
                             "no exit status: its parent did not reap it within " +
                                 std::to_string(to_ms(options_.exit_status_wait)) + " ms",
                             clock_.wall()});
  } else if (rc == -ENOTTY || rc == -EINVAL) {
    end_evidence_.push_back({"pidfd_info",
                             "PIDFD_GET_INFO unsupported (Linux < 6.15): exit status unknown",
                             clock_.wall()});
  } else {
    end_evidence_.push_back(
        {"pidfd_info", "failed: " + errno_text(-rc) + ": exit status unknown", clock_.wall()});
  }
  end.evidence = std::move(end_evidence_);
  deliver(end);
}

void ProcessWatch::deliver(const ProcessEnd& end) {
  if (ended_) return;
  ended_ = true;
  EndCallback cb = std::move(on_end_);
  if (cb) cb(end);
}

LivenessVerdict ProcessWatch::liveness() const {
  if (ended_) {
    LivenessVerdict v;
    v.liveness = Liveness::kAbsent;
    v.seen = identity_;
    v.evidence.push_back({is_child() ? "wait4" : "pidfd", "the process ended", clock_.wall()});
    return v;
  }
  if (pidfd_ && pidfd_readable(pidfd_.get())) {
    LivenessVerdict v;
    v.liveness = Liveness::kAbsent;
    v.seen = identity_;
    v.evidence.push_back({"pidfd", "readable: the process ended", clock_.wall()});
    return v;
  }
  return probe_process(env_, clock_, identity_.pid, identity_);
}

int ProcessWatch::signal(int sig) {
  if (ended_) return -ESRCH;
  if (child_) return child_->kill_group(sig);
  // The pidfd makes the signal reach this process, never a PID successor.
  if (pidfd_send_signal(pidfd_.get(), sig) != 0) return -errno;
  // Its group too, but only when it leads one: a process sharing its starter's
  // group (a shell's job) must not take its siblings down with it.
  if (auto stat = env_.read_proc_stat(identity_.pid)) {
    auto rest = std::string_view(*stat);
    std::size_t close = rest.rfind(')');
    if (close != std::string_view::npos && close + 3 < rest.size()) {
      rest.remove_prefix(close + 4);  // ") S " → "ppid pgrp ..."
      std::size_t sp = rest.find(' ');
      if (sp != std::string_view::npos) {
        rest.remove_prefix(sp + 1);
        if (std::to_string(identity_.pid) == rest.substr(0, rest.find(' ')))
          ::kill(-identity_.pid, sig);
      }
    }
  }
  return 0;
}

void ProcessWatch::kill_group_on_exit(bool on) {
  if (child_) child_->kill_group_on_exit(on);
}

}  // namespace aw
