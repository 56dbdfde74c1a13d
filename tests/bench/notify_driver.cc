// notify_driver: runs a notify client the way a tmux hook does (fork + exec)
// and measures how long until its message is a line in the log, and until the
// client has exited.
//
//   notify_driver --case NAME:LOG:ARGV [--case ...] [--samples N] [--warmup N]
//                 [--gap-us N] [--timeout-ms N] [--seed N] [--raw-dir DIR]
//
// ARGV is the client's command line, its words separated by the ASCII unit
// separator (0x1f); "{n}" in a word is replaced by the sample's number (from
// 1,000,000 up, so it is unique in the log). The message must carry the field
// n={n}: the sample is complete when a new line of LOG holds "n":NUMBER
// followed by ',' or '}' (agentwatch's events.jsonl, or the floor listener's
// file), watched with inotify (blocked in poll(), no CPU taken from the
// contestants).
//
// One sample: read CLOCK_MONOTONIC, posix_spawn the client, then wait on the
// log's inotify fd and the client's pidfd together. Two figures per sample:
// spawn → line in the log, and spawn → the client exited (its own
// exec-to-exit time, fork and exec included). A client that exits non-zero is
// an error.
//
// Every round runs each case once in a shuffled order, --gap-us apart.
// Appends the samples (ns), one per line, to RAW_DIR/NAME-logged.txt and
// RAW_DIR/NAME-exited.txt, and prints one summary line per case.
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <sys/inotify.h>
#include <sys/syscall.h>
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

struct Case {
  std::string name, log;
  std::vector<std::string> argv;
  int ifd = -1, log_fd = -1;
  off_t offset = 0;
  std::string pending;
  std::vector<std::int64_t> logged, exited;
};

struct Options {
  std::vector<Case> cases;
  int samples = 500, warmup = 10, gap_us = 5000, timeout_ms = 5000;
  unsigned seed = 1;
  std::string raw_dir;
};

Options parse(int argc, char** argv) {
  Options o;
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    if (i + 1 >= argc) die("missing value after " + a);
    const std::string v = argv[++i];
    if (a == "--case") {
      const std::size_t c1 = v.find(':'), c2 = v.find(':', c1 + 1);
      if (c1 == std::string::npos || c2 == std::string::npos)
        die("--case takes NAME:LOG:ARGV, got " + v);
      Case c;
      c.name = v.substr(0, c1);
      c.log = v.substr(c1 + 1, c2 - c1 - 1);
      c.argv = split(v.substr(c2 + 1), '\x1f');
      o.cases.push_back(std::move(c));
    } else if (a == "--samples") {
      o.samples = std::atoi(v.c_str());
    } else if (a == "--warmup") {
      o.warmup = std::atoi(v.c_str());
    } else if (a == "--gap-us") {
      o.gap_us = std::atoi(v.c_str());
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
  if (o.cases.empty()) die("at least one --case is required");
  if (o.samples <= 0 || o.warmup < 0) die("--samples must be > 0 and --warmup >= 0");
  return o;
}

// True when a line appended to the case's log since the last call holds
// "n":NUMBER (followed by ',' or '}').
bool logged_since(Case& c, long number) {
  char ev[4096];
  while (read(c.ifd, ev, sizeof ev) > 0) {
  }
  char buf[65536];
  for (;;) {
    const ssize_t n = pread(c.log_fd, buf, sizeof buf, c.offset);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) die_errno("read " + c.log);
    if (n == 0) break;
    c.offset += n;
    c.pending.append(buf, static_cast<std::size_t>(n));
  }
  const std::string needle = "\"n\":" + std::to_string(number);
  bool found = false;
  for (std::size_t nl; (nl = c.pending.find('\n')) != std::string::npos;) {
    const std::string_view line(c.pending.data(), nl);
    for (std::size_t at = line.find(needle); at != std::string_view::npos;
         at = line.find(needle, at + 1)) {
      const std::size_t after = at + needle.size();
      if (after < line.size() && (line[after] == ',' || line[after] == '}')) found = true;
    }
    c.pending.erase(0, nl + 1);
  }
  return found;
}

// One sample of one case; returns {spawn → logged, spawn → exited}.
std::pair<std::int64_t, std::int64_t> run_one(Case& c, long number, int timeout_ms) {
  std::vector<std::string> words = c.argv;
  for (auto& w : words)
    for (std::size_t at; (at = w.find("{n}")) != std::string::npos;)
      w.replace(at, 3, std::to_string(number));
  std::vector<char*> argv;
  argv.reserve(words.size() + 1);
  for (auto& w : words) argv.push_back(w.data());
  argv.push_back(nullptr);

  const std::int64_t t0 = mono_ns();
  pid_t pid;
  if (int rc = posix_spawn(&pid, argv[0], nullptr, nullptr, argv.data(), environ); rc != 0)
    die(c.name + ": spawn " + words[0] + ": " + std::strerror(rc));
  const int pidfd = static_cast<int>(syscall(SYS_pidfd_open, pid, 0));
  if (pidfd < 0) die_errno("pidfd_open");
  std::int64_t t_logged = 0, t_exited = 0;
  const std::int64_t deadline = t0 + std::int64_t{timeout_ms} * 1'000'000;
  while (t_logged == 0 || t_exited == 0) {
    const std::int64_t left_ms = (deadline - mono_ns()) / 1'000'000;
    if (left_ms <= 0) {
      kill(pid, SIGKILL);
      die(c.name + ": message " + std::to_string(number) +
          (t_exited ? " not logged" : " client hung") + " within " + std::to_string(timeout_ms) +
          " ms");
    }
    // A negative fd is ignored by poll(): once the client has exited, only the log.
    pollfd pfd[2] = {{c.ifd, POLLIN, 0}, {t_exited ? -1 : pidfd, POLLIN, 0}};
    const int pr = poll(pfd, 2, static_cast<int>(left_ms));
    if (pr < 0 && errno == EINTR) continue;
    if (pr < 0) die_errno("poll");
    const std::int64_t now = mono_ns();
    if ((pfd[1].revents & POLLIN) && t_exited == 0) t_exited = now;
    if ((pfd[0].revents & POLLIN) && t_logged == 0 && logged_since(c, number)) t_logged = now;
  }
  close(pidfd);
  int status = 0;
  while (waitpid(pid, &status, 0) < 0 && errno == EINTR) {
  }
  if (!WIFEXITED(status) || WEXITSTATUS(status) != 0)
    die(c.name + ": the client failed (status " + std::to_string(status) + ")");
  return {t_logged - t0, t_exited - t0};
}

}  // namespace

int main(int argc, char** argv) {
  Options o = parse(argc, argv);
  for (Case& c : o.cases) {
    c.ifd = inotify_init1(IN_CLOEXEC | IN_NONBLOCK);
    if (c.ifd < 0) die_errno("inotify_init1");
    if (inotify_add_watch(c.ifd, c.log.c_str(), IN_MODIFY) < 0) die_errno("watch " + c.log);
    c.log_fd = open(c.log.c_str(), O_RDONLY | O_CLOEXEC);
    if (c.log_fd < 0) die_errno("open " + c.log);
    c.offset = lseek(c.log_fd, 0, SEEK_END);
  }
  std::mt19937 rng(o.seed);
  std::vector<Case*> order;
  for (Case& c : o.cases) order.push_back(&c);
  long number = 1'000'000;
  for (int i = 0; i < o.warmup + o.samples; ++i) {
    std::shuffle(order.begin(), order.end(), rng);
    for (Case* c : order) {
      const auto [logged, exited] = run_one(*c, ++number, o.timeout_ms);
      if (i >= o.warmup) {
        c->logged.push_back(logged);
        c->exited.push_back(exited);
      }
      timespec gap{o.gap_us / 1'000'000, (o.gap_us % 1'000'000) * 1000L};
      while (nanosleep(&gap, &gap) != 0 && errno == EINTR) {
      }
    }
  }
  for (Case& c : o.cases) {
    if (!o.raw_dir.empty()) {
      bench::append_samples(o.raw_dir + "/" + c.name + "-logged.txt", c.logged);
      bench::append_samples(o.raw_dir + "/" + c.name + "-exited.txt", c.exited);
    }
    std::vector<std::int64_t> l = c.logged, e = c.exited;
    std::sort(l.begin(), l.end());
    std::sort(e.begin(), e.end());
    std::printf("%s samples=%zu logged_p50_us=%.1f logged_p99_us=%.1f exited_p50_us=%.1f\n",
                c.name.c_str(), l.size(), static_cast<double>(percentile(l, 0.5)) / 1e3,
                static_cast<double>(percentile(l, 0.99)) / 1e3,
                static_cast<double>(percentile(e, 0.5)) / 1e3);
  }
  return 0;
}
