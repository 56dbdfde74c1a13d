// restart_driver: kills supervised processes and measures how long until each
// supervisor has the successor running.
//
//   restart_driver --target NAME:FIFO [--target ...]
//                  --adopt NAME:WORKER:FIFO:PID_FILE:STAGING_DIR:EVENTS:STUB [--adopt ...]
//                  [--rounds N] [--warmup N] [--min-uptime-ms N]
//                  [--timeout-ms N] [--seed N] [--raw-dir DIR]
//
// Every supervised program is sup_stub (sup_stub.c), which writes "PID NS\n"
// to its target's fifo as its first act (NS = CLOCK_MONOTONIC). One sample:
// read the clock, SIGKILL the current process, block in poll() on the fifo
// until the successor's line arrives; the sample is its NS minus the kill time.
//
// --target: a supervisor that restarts what it started (the floor, agentwatch's
// own worker, runsv, s6-supervise).
//
// --adopt: agentwatch adopting a process it did not start. Before each sample
// the driver starts STUB FIFO itself (so it is the parent, and reaps it at once
// after the kill, as a launcher would), writes its PID to STAGING_DIR and
// renames it onto PID_FILE, and waits until EVENTS (agentwatch's events.jsonl)
// says worker.adopted with that pid. The worker has an argv, so agentwatch
// restarts it itself after the kill: that restart is the sample. Afterwards the
// driver kills agentwatch's copy at once, which spends the worker's restart
// budget (max_restarts = 1 within a short restart_window): it gives up and is
// down, ready to adopt the next one (WORKER's worker.gave_up is awaited).
//
// Rounds: every round takes one sample of every target, in an order shuffled
// anew, so noise from the rest of the machine falls on all of them alike. A
// process is killed only after it has run --min-uptime-ms (default 1100):
// runsv and s6-supervise wait a second before restarting a service that ran
// less than a second, and the figure wanted is a restart without any policy
// delay, for every contestant alike.
//
// Appends the samples (ns, warm-up excluded), one per line, to RAW_DIR/NAME.txt
// and prints one summary line per target. Exits 1 on a timeout.
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <sys/inotify.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cinttypes>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <random>
#include <string>
#include <vector>

#include "tests/bench/driver_support.h"

namespace {

using bench::die;
using bench::die_errno;
using bench::mono_ns;
using bench::percentile;
using bench::split;

struct Stamp {
  pid_t pid = 0;
  std::int64_t ns = 0;
};

// One supervised process slot: its fifo, and the process that stamped last.
struct Target {
  std::string name, fifo;
  bool adopt = false;
  std::string worker, pid_file, staging, events, stub;  // adopt only
  int fd = -1;
  std::string pending;  // bytes of an incomplete line
  std::vector<Stamp> queued;
  Stamp current;
  std::vector<std::int64_t> samples;
};

struct Options {
  std::vector<Target> targets;
  int rounds = 200, warmup = 5, min_uptime_ms = 1100, timeout_ms = 5000;
  unsigned seed = 1;
  std::string raw_dir;
};

Options parse(int argc, char** argv) {
  Options o;
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    if (i + 1 >= argc) die("missing value after " + a);
    const std::string v = argv[++i];
    if (a == "--target") {
      const auto p = split(v, ':');
      if (p.size() != 2) die("--target takes NAME:FIFO, got " + v);
      Target t;
      t.name = p[0];
      t.fifo = p[1];
      o.targets.push_back(std::move(t));
    } else if (a == "--adopt") {
      const auto p = split(v, ':');
      if (p.size() != 7)
        die("--adopt takes NAME:WORKER:FIFO:PID_FILE:STAGING_DIR:EVENTS:STUB, got " + v);
      Target t;
      t.name = p[0];
      t.worker = p[1];
      t.fifo = p[2];
      t.adopt = true;
      t.pid_file = p[3];
      t.staging = p[4];
      t.events = p[5];
      t.stub = p[6];
      o.targets.push_back(std::move(t));
    } else if (a == "--rounds") {
      o.rounds = std::atoi(v.c_str());
    } else if (a == "--warmup") {
      o.warmup = std::atoi(v.c_str());
    } else if (a == "--min-uptime-ms") {
      o.min_uptime_ms = std::atoi(v.c_str());
    } else if (a == "--timeout-ms") {
      o.timeout_ms = std::atoi(v.c_str());
    } else if (a == "--seed") {
      o.seed = static_cast<unsigned>(std::strtoul(v.c_str(), nullptr, 10));
    } else if (a == "--raw-dir") {
      o.raw_dir = v;
    } else {
      die("unknown option " + a);
    }
  }
  if (o.targets.empty()) die("at least one --target or --adopt is required");
  if (o.rounds <= 0 || o.warmup < 0) die("--rounds must be > 0 and --warmup >= 0");
  return o;
}

// Reads what the fifo holds now; complete lines become queued stamps.
void drain_fifo(Target& t) {
  char buf[4096];
  for (;;) {
    const ssize_t n = read(t.fd, buf, sizeof buf);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0 && errno == EAGAIN) return;
    if (n < 0) die_errno("read " + t.fifo);
    if (n == 0) return;  // no writer right now (the harness holds one; a race at most)
    t.pending.append(buf, static_cast<std::size_t>(n));
    for (std::size_t nl; (nl = t.pending.find('\n')) != std::string::npos;) {
      const std::string line = t.pending.substr(0, nl);
      t.pending.erase(0, nl + 1);
      Stamp s;
      char* end = nullptr;
      s.pid = static_cast<pid_t>(std::strtol(line.c_str(), &end, 10));
      s.ns = std::strtoll(end, nullptr, 10);
      if (s.pid <= 0 || s.ns <= 0) die(t.name + ": bad stamp line '" + line + "'");
      t.queued.push_back(s);
    }
  }
}

// Blocks until the next stamp of `t` (or returns false after `timeout_ms`).
// `extra_fd` (an inotify fd, or -1) also wakes it: then it returns false with
// `*woke_extra` set, so the caller can look at its file.
bool next_stamp(Target& t, int timeout_ms, Stamp* out, int extra_fd = -1,
                bool* woke_extra = nullptr) {
  const std::int64_t deadline = mono_ns() + std::int64_t{timeout_ms} * 1'000'000;
  for (;;) {
    drain_fifo(t);
    if (!t.queued.empty()) {
      *out = t.queued.front();
      t.queued.erase(t.queued.begin());
      return true;
    }
    const std::int64_t left_ms = (deadline - mono_ns()) / 1'000'000;
    if (left_ms <= 0) return false;
    pollfd pfd[2] = {{t.fd, POLLIN, 0}, {extra_fd, POLLIN, 0}};
    const int pr = poll(pfd, extra_fd >= 0 ? 2 : 1, static_cast<int>(left_ms));
    if (pr < 0 && errno == EINTR) continue;
    if (pr < 0) die_errno("poll");
    if (extra_fd >= 0 && (pfd[1].revents & POLLIN)) {
      drain_fifo(t);
      if (!t.queued.empty()) continue;
      if (woke_extra) *woke_extra = true;
      return false;
    }
  }
}

// Reads new complete lines of agentwatch's event log.
class EventTail {
 public:
  explicit EventTail(const std::string& path) : path_(path) {
    ifd_ = inotify_init1(IN_CLOEXEC | IN_NONBLOCK);
    if (ifd_ < 0) die_errno("inotify_init1");
    if (inotify_add_watch(ifd_, path.c_str(), IN_MODIFY) < 0) die_errno("watch " + path);
    fd_ = open(path.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd_ < 0) die_errno("open " + path);
    offset_ = lseek(fd_, 0, SEEK_END);
  }
  int inotify_fd() const { return ifd_; }

  // True when a new line holds every one of `needles`.
  bool scan_for(const std::vector<std::string>& needles) {
    char ev[4096];
    while (read(ifd_, ev, sizeof ev) > 0) {
    }
    char buf[65536];
    bool found = false;
    for (;;) {
      const ssize_t n = pread(fd_, buf, sizeof buf, offset_);
      if (n < 0 && errno == EINTR) continue;
      if (n < 0) die_errno("read " + path_);
      if (n == 0) break;
      offset_ += n;
      pending_.append(buf, static_cast<std::size_t>(n));
    }
    for (std::size_t nl; (nl = pending_.find('\n')) != std::string::npos;) {
      const std::string_view line(pending_.data(), nl);
      bool all = true;
      for (const auto& n : needles) all = all && line.find(n) != std::string_view::npos;
      found = found || all;
      pending_.erase(0, nl + 1);
    }
    return found;
  }

 private:
  std::string path_;
  int ifd_ = -1, fd_ = -1;
  off_t offset_ = 0;
  std::string pending_;
};

void sleep_until(std::int64_t when_ns) {
  for (std::int64_t now; (now = mono_ns()) < when_ns;) {
    const std::int64_t d = when_ns - now;
    timespec ts{static_cast<time_t>(d / 1'000'000'000), static_cast<long>(d % 1'000'000'000)};
    nanosleep(&ts, nullptr);
  }
}

bool alive(pid_t pid) {
  return kill(pid, 0) == 0 || errno == EPERM;
}

// Kills agentwatch's copy of an adopt target's worker until the worker has
// given up (the budget is 1 restart within a short window), so that it is down
// and the next adoption is accepted.
void bring_down(Target& t, EventTail& log, int timeout_ms) {
  const std::vector<std::string> gave_up = {"\"kind\":\"worker.gave_up\"",
                                            "\"entity\":\"" + t.worker + "\""};
  for (int attempt = 0; attempt < 20; ++attempt) {
    if (t.current.pid > 0 && alive(t.current.pid)) kill(t.current.pid, SIGKILL);
    const std::int64_t deadline = mono_ns() + std::int64_t{timeout_ms} * 1'000'000;
    for (;;) {
      if (log.scan_for(gave_up)) {
        t.current = {};
        return;
      }
      const int left = static_cast<int>((deadline - mono_ns()) / 1'000'000);
      if (left <= 0)
        die(t.name + ": worker " + t.worker + " neither gave up nor restarted within the timeout");
      Stamp s;
      bool woke_log = false;
      if (next_stamp(t, left, &s, log.inotify_fd(), &woke_log)) {
        t.current = s;  // restarted once more (the window had passed): kill that one too
        break;
      }
    }
  }
  die(t.name + ": agentwatch kept restarting the worker");
}

// Starts a stub as our own child, has agentwatch adopt it through the PID file.
void adopt_new(Target& t, EventTail& log, int timeout_ms) {
  char* argv[] = {t.stub.data(), t.fifo.data(), nullptr};
  pid_t pid;
  if (int rc = posix_spawn(&pid, t.stub.c_str(), nullptr, nullptr, argv, environ); rc != 0)
    die(t.name + ": spawn " + t.stub + ": " + std::strerror(rc));
  Stamp s;
  if (!next_stamp(t, timeout_ms, &s)) die(t.name + ": the adopted stub did not stamp");
  if (s.pid != pid) die(t.name + ": a stamp from an unexpected process");
  t.current = s;
  const std::string tmp = t.staging + "/" + t.worker + ".pid.tmp";
  const std::string text = std::to_string(pid) + "\n";
  const int fd = open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd < 0 || write(fd, text.data(), text.size()) != static_cast<ssize_t>(text.size()))
    die_errno("write " + tmp);
  close(fd);
  if (rename(tmp.c_str(), t.pid_file.c_str()) != 0) die_errno("rename onto " + t.pid_file);
  const std::vector<std::string> adopted = {"\"kind\":\"worker.adopted\"",
                                            "\"entity\":\"" + t.worker + "\"",
                                            "\"pid\":" + std::to_string(pid) + ","};
  const std::int64_t deadline = mono_ns() + std::int64_t{timeout_ms} * 1'000'000;
  while (!log.scan_for(adopted)) {
    const int left = static_cast<int>((deadline - mono_ns()) / 1'000'000);
    if (left <= 0) die(t.name + ": pid " + std::to_string(pid) + " was not adopted in time");
    pollfd pfd{log.inotify_fd(), POLLIN, 0};
    poll(&pfd, 1, left);
  }
  unlink(t.pid_file.c_str());  // file.removed: no verdict (docs/workers.md)
}

}  // namespace

int main(int argc, char** argv) {
  Options o = parse(argc, argv);
  std::vector<EventTail> logs;
  logs.reserve(o.targets.size());
  std::vector<EventTail*> log_of(o.targets.size(), nullptr);
  for (std::size_t i = 0; i < o.targets.size(); ++i) {
    Target& t = o.targets[i];
    t.fd = open(t.fifo.c_str(), O_RDONLY | O_NONBLOCK | O_CLOEXEC);
    if (t.fd < 0) die_errno("open " + t.fifo);
    if (t.adopt) {
      logs.emplace_back(t.events);
      log_of[i] = &logs.back();
    }
    // The supervisor has started its first process (maybe more, if it was
    // restarted before we were here): the last stamp is the live one.
    Stamp s;
    if (!next_stamp(t, o.timeout_ms, &s)) die(t.name + ": no process stamped at start");
    t.current = s;
    drain_fifo(t);
    if (!t.queued.empty()) t.current = t.queued.back();
    t.queued.clear();
    if (t.adopt) bring_down(t, *log_of[i], o.timeout_ms);
  }

  std::mt19937 rng(o.seed);
  std::vector<std::size_t> order(o.targets.size());
  for (std::size_t i = 0; i < order.size(); ++i) order[i] = i;
  const std::int64_t min_uptime = std::int64_t{o.min_uptime_ms} * 1'000'000;
  for (int round = 0; round < o.warmup + o.rounds; ++round) {
    for (std::size_t i = 0; i < o.targets.size(); ++i)
      if (o.targets[i].adopt) adopt_new(o.targets[i], *log_of[i], o.timeout_ms);
    std::shuffle(order.begin(), order.end(), rng);
    for (std::size_t i : order) {
      Target& t = o.targets[i];
      sleep_until(t.current.ns + min_uptime);
      const pid_t victim = t.current.pid;
      const std::int64_t t0 = mono_ns();
      if (kill(victim, SIGKILL) != 0) die_errno(t.name + ": kill " + std::to_string(victim));
      if (t.adopt) {
        // Our child: reaped at once, as its launcher would.
        while (waitpid(victim, nullptr, 0) < 0 && errno == EINTR) {
        }
      }
      Stamp s;
      if (!next_stamp(t, o.timeout_ms, &s))
        die(t.name + ": no restart within " + std::to_string(o.timeout_ms) + " ms");
      if (s.pid == victim) die(t.name + ": a second stamp from the killed process");
      if (s.ns < t0) die(t.name + ": restart stamped before the kill");
      if (round >= o.warmup) t.samples.push_back(s.ns - t0);
      t.current = s;
      if (t.adopt) bring_down(t, *log_of[i], o.timeout_ms);
    }
  }

  for (Target& t : o.targets) {
    if (!o.raw_dir.empty()) {
      const std::string path = o.raw_dir + "/" + t.name + ".txt";
      bench::append_samples(path, t.samples);
    }
    std::vector<std::int64_t> sorted = t.samples;
    std::sort(sorted.begin(), sorted.end());
    if (sorted.empty()) continue;
    std::printf("%s samples=%zu p50_us=%.1f p99_us=%.1f max_us=%.1f\n", t.name.c_str(),
                sorted.size(), static_cast<double>(percentile(sorted, 0.50)) / 1e3,
                static_cast<double>(percentile(sorted, 0.99)) / 1e3,
                static_cast<double>(sorted.back()) / 1e3);
  }
  return 0;
}
