// latency_driver: lands files one at a time and measures how long until the
// watcher under test has the action's process running.
//
//   latency_driver --target NAME:INBOX:OUT:STAGING [--target ...]
//                  [--modes close,rename] [--samples N] [--warmup N]
//                  [--prefix P] [--gap-us N] [--timeout-ms N] [--seed N]
//                  [--raw-dir DIR]
//
// One landing: write a small file, read CLOCK_MONOTONIC, then land it —
// close() it in INBOX (mode close), or rename() it from STAGING (same
// filesystem, not watched) into INBOX (mode rename). The watcher of that
// target runs `stamp OUT NAME`, which reads CLOCK_MONOTONIC first thing and
// writes it to OUT/NAME; the driver waits for that file's IN_CLOSE_WRITE
// (blocked in poll(), so it takes no CPU from the watchers), reads it, and the
// difference is the sample.
//
// One sample round lands one file for every (target, mode) pair, in an order
// shuffled anew each round: a burst of noise from the rest of the machine (a
// time slice lost to a neighbour lasts milliseconds) then falls on every pair
// alike instead of on whichever case happened to run at that moment. Landings
// are sequential, `--gap-us` apart, so each watcher is idle when its file
// lands (the case that matters for an always-on daemon).
//
// Appends the measured samples (ns, warm-up excluded), one per line, to
// RAW_DIR/NAME-MODE.txt, and prints one summary line per pair. Exits 1 when a
// stamp does not arrive within --timeout-ms.
#include <fcntl.h>
#include <poll.h>
#include <sys/inotify.h>
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

struct Target {
  std::string name, inbox, out, staging;
};

struct Pair {
  const Target* target;
  bool rename;
  std::vector<std::int64_t> samples;
};

struct Options {
  std::vector<Target> targets;
  bool close_mode = true, rename_mode = true;
  std::string prefix = "s", raw_dir;
  int samples = 400, warmup = 20, gap_us = 2000, timeout_ms = 5000;
  unsigned seed = 1;
};

Options parse(int argc, char** argv) {
  Options o;
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    if (i + 1 >= argc) die("missing value after " + a);
    const std::string v = argv[++i];
    if (a == "--target") {
      const auto p = split(v, ':');
      if (p.size() != 4) die("--target takes NAME:INBOX:OUT:STAGING, got " + v);
      o.targets.push_back({p[0], p[1], p[2], p[3]});
    } else if (a == "--modes") {
      o.close_mode = o.rename_mode = false;
      for (const auto& m : split(v, ',')) {
        if (m == "close")
          o.close_mode = true;
        else if (m == "rename")
          o.rename_mode = true;
        else
          die("--modes takes close and/or rename, got " + m);
      }
    } else if (a == "--prefix") {
      o.prefix = v;
    } else if (a == "--raw-dir") {
      o.raw_dir = v;
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
    } else {
      die("unknown option " + a);
    }
  }
  if (o.targets.empty()) die("at least one --target is required");
  if (o.samples <= 0 || o.warmup < 0) die("--samples must be > 0 and --warmup >= 0");
  return o;
}

// Blocks until a file called `name` has been closed after writing in one of
// the watched stamp directories; false on timeout.
bool wait_for_stamp(int ifd, const std::string& name, int timeout_ms) {
  alignas(inotify_event) char buf[16 * 1024];
  const std::int64_t deadline = mono_ns() + std::int64_t{timeout_ms} * 1'000'000;
  for (;;) {
    const std::int64_t left_ms = (deadline - mono_ns()) / 1'000'000;
    if (left_ms <= 0) return false;
    pollfd pfd{ifd, POLLIN, 0};
    const int pr = poll(&pfd, 1, static_cast<int>(left_ms));
    if (pr < 0 && errno == EINTR) continue;
    if (pr < 0) die_errno("poll");
    if (pr == 0) return false;
    const ssize_t n = read(ifd, buf, sizeof buf);
    if (n < 0 && (errno == EINTR || errno == EAGAIN)) continue;
    if (n < 0) die_errno("read inotify");
    bool found = false;
    for (char* p = buf; p < buf + n;) {
      const auto* ev = reinterpret_cast<const inotify_event*>(p);
      p += sizeof *ev + ev->len;
      if (ev->mask & IN_Q_OVERFLOW) die("the stamp directories' inotify queue overflowed");
      if (ev->len > 0 && name == ev->name) found = true;
    }
    if (found) return true;
  }
}

std::int64_t read_stamp(const std::string& path) {
  const int fd = open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) die_errno("open " + path);
  char text[64] = {};
  const ssize_t n = read(fd, text, sizeof text - 1);
  close(fd);
  if (n <= 0) die("empty stamp " + path);
  return std::strtoll(text, nullptr, 10);
}

// Creates `path` and writes a small JSON document; returns the open fd.
int write_file(const std::string& path) {
  const int fd = open(path.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
  if (fd < 0) die_errno("create " + path);
  static const char kPayload[] = "{\"status\":\"done\",\"bench\":true}\n";
  if (write(fd, kPayload, sizeof kPayload - 1) != sizeof kPayload - 1) die_errno("write " + path);
  return fd;
}

// Lands one file for `pair` and returns the latency in ns.
std::int64_t land_one(const Pair& pair, const std::string& name, int ifd, int timeout_ms) {
  const Target& t = *pair.target;
  const std::string target = t.inbox + "/" + name;
  std::int64_t t0 = 0;
  if (!pair.rename) {
    const int fd = write_file(target);
    t0 = mono_ns();
    close(fd);
  } else {
    const std::string tmp = t.staging + "/" + name;
    close(write_file(tmp));
    t0 = mono_ns();
    if (rename(tmp.c_str(), target.c_str()) != 0) die_errno("rename " + tmp);
  }
  if (!wait_for_stamp(ifd, name, timeout_ms))
    die("no stamp for " + target + " within " + std::to_string(timeout_ms) + " ms");
  const std::int64_t stamp = read_stamp(t.out + "/" + name);
  if (stamp < t0) die("stamp earlier than the landing for " + target);
  return stamp - t0;
}

void pause_us(int us) {
  if (us <= 0) return;
  timespec gap{us / 1'000'000, (us % 1'000'000) * 1000L};
  while (nanosleep(&gap, &gap) != 0 && errno == EINTR) {
  }
}

}  // namespace

int main(int argc, char** argv) {
  const Options o = parse(argc, argv);
  const int ifd = inotify_init1(IN_CLOEXEC);
  if (ifd < 0) die_errno("inotify_init1");
  std::vector<Pair> pairs;
  for (const Target& t : o.targets) {
    if (inotify_add_watch(ifd, t.out.c_str(), IN_CLOSE_WRITE | IN_ONLYDIR) < 0)
      die_errno("watch " + t.out);
    if (o.close_mode) pairs.push_back({&t, false, {}});
    if (o.rename_mode) pairs.push_back({&t, true, {}});
  }
  if (pairs.empty()) die("no mode selected");

  std::mt19937 rng(o.seed);
  std::vector<Pair*> order;
  order.reserve(pairs.size());
  for (auto& p : pairs) order.push_back(&p);
  for (int i = 0; i < o.warmup + o.samples; ++i) {
    std::shuffle(order.begin(), order.end(), rng);
    for (Pair* p : order) {
      char name[256];
      std::snprintf(name, sizeof name, "%s-%s-%c-%06d", o.prefix.c_str(), p->target->name.c_str(),
                    p->rename ? 'r' : 'c', i);
      const std::int64_t ns = land_one(*p, name, ifd, o.timeout_ms);
      if (i >= o.warmup) p->samples.push_back(ns);
      pause_us(o.gap_us);
    }
  }

  for (Pair& p : pairs) {
    const char* mode = p.rename ? "rename" : "close";
    if (!o.raw_dir.empty()) {
      const std::string path = o.raw_dir + "/" + p.target->name + "-" + mode + ".txt";
      bench::append_samples(path, p.samples);
    }
    std::vector<std::int64_t> sorted = p.samples;
    std::sort(sorted.begin(), sorted.end());
    std::printf("%s %s samples=%zu p50_us=%.1f p99_us=%.1f max_us=%.1f\n", p.target->name.c_str(),
                mode, sorted.size(), static_cast<double>(percentile(sorted, 0.50)) / 1e3,
                static_cast<double>(percentile(sorted, 0.99)) / 1e3,
                static_cast<double>(sorted.back()) / 1e3);
  }
  return 0;
}
