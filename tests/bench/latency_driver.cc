// latency_driver: lands files one at a time and measures how long until the
// watcher under test has the action's process running.
//
//   latency_driver --mode close|rename --inbox DIR --out DIR [--staging DIR]
//                  [--samples N] [--warmup N] [--prefix P] [--gap-us N]
//                  [--timeout-ms N] [--raw FILE]
//
// One sample: write a small file, read CLOCK_MONOTONIC, then land it —
// close() it in DIR (mode close), or rename() it from the staging directory
// (same filesystem, not watched) into DIR (mode rename). The watcher runs
// `stamp OUT NAME`, which reads CLOCK_MONOTONIC first thing and writes it to
// OUT/NAME; the driver waits for that file's IN_CLOSE_WRITE (blocked in poll(),
// so it takes no CPU from the watcher), reads it, and the difference is the
// sample. Samples are sequential: the next file lands only after the previous
// stamp arrived and `--gap-us` passed, so the watcher is idle when a file lands
// (the case that matters for an always-on daemon).
//
// Writes each measured sample (ns, warm-up excluded) as a line to --raw and a
// summary line to stdout. Exits 1 when a stamp does not arrive in time.
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
#include <string>
#include <vector>

namespace {

struct Options {
  std::string mode = "close";
  std::string inbox, out, staging, prefix = "s", raw;
  int samples = 400, warmup = 20, gap_us = 2000, timeout_ms = 5000;
};

std::int64_t mono_ns() {
  timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return std::int64_t{ts.tv_sec} * 1'000'000'000 + ts.tv_nsec;
}

[[noreturn]] void die(const std::string& what) {
  std::fprintf(stderr, "latency_driver: %s\n", what.c_str());
  std::exit(1);
}

[[noreturn]] void die_errno(const std::string& what) {
  die(what + ": " + std::strerror(errno));
}

Options parse(int argc, char** argv) {
  Options o;
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    if (i + 1 >= argc) die("missing value after " + a);
    const std::string v = argv[++i];
    if (a == "--mode")
      o.mode = v;
    else if (a == "--inbox")
      o.inbox = v;
    else if (a == "--out")
      o.out = v;
    else if (a == "--staging")
      o.staging = v;
    else if (a == "--prefix")
      o.prefix = v;
    else if (a == "--raw")
      o.raw = v;
    else if (a == "--samples")
      o.samples = std::atoi(v.c_str());
    else if (a == "--warmup")
      o.warmup = std::atoi(v.c_str());
    else if (a == "--gap-us")
      o.gap_us = std::atoi(v.c_str());
    else if (a == "--timeout-ms")
      o.timeout_ms = std::atoi(v.c_str());
    else
      die("unknown option " + a);
  }
  if (o.mode != "close" && o.mode != "rename") die("--mode must be close or rename");
  if (o.inbox.empty() || o.out.empty()) die("--inbox and --out are required");
  if (o.mode == "rename" && o.staging.empty()) die("--mode rename needs --staging");
  if (o.samples <= 0 || o.warmup < 0) die("--samples must be > 0 and --warmup >= 0");
  return o;
}

// Blocks until OUT/name has been closed after writing; false on timeout.
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
      if (ev->mask & IN_Q_OVERFLOW) die("stamp directory's inotify queue overflowed");
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

void write_file(const std::string& path, bool close_now, int* fd_out) {
  const int fd = open(path.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
  if (fd < 0) die_errno("create " + path);
  static const char kPayload[] = "{\"status\":\"done\",\"bench\":true}\n";
  if (write(fd, kPayload, sizeof kPayload - 1) != sizeof kPayload - 1) die_errno("write " + path);
  if (close_now) {
    close(fd);
    *fd_out = -1;
  } else {
    *fd_out = fd;
  }
}

std::int64_t percentile(const std::vector<std::int64_t>& sorted, double p) {
  // Nearest rank.
  std::size_t rank = static_cast<std::size_t>(p * static_cast<double>(sorted.size()) + 0.999999);
  rank = std::clamp<std::size_t>(rank, 1, sorted.size());
  return sorted[rank - 1];
}

}  // namespace

int main(int argc, char** argv) {
  const Options o = parse(argc, argv);
  const int ifd = inotify_init1(IN_CLOEXEC);
  if (ifd < 0) die_errno("inotify_init1");
  if (inotify_add_watch(ifd, o.out.c_str(), IN_CLOSE_WRITE | IN_ONLYDIR) < 0)
    die_errno("watch " + o.out);

  std::vector<std::int64_t> lat;
  lat.reserve(static_cast<std::size_t>(o.samples));
  const int total = o.warmup + o.samples;
  for (int i = 0; i < total; ++i) {
    char name[128];
    std::snprintf(name, sizeof name, "%s-%06d", o.prefix.c_str(), i);
    const std::string target = o.inbox + "/" + name;
    std::int64_t t0 = 0;
    if (o.mode == "close") {
      int fd = -1;
      write_file(target, false, &fd);
      t0 = mono_ns();
      close(fd);
    } else {
      const std::string tmp = o.staging + "/" + name;
      int fd = -1;
      write_file(tmp, true, &fd);
      t0 = mono_ns();
      if (rename(tmp.c_str(), target.c_str()) != 0) die_errno("rename " + tmp);
    }
    if (!wait_for_stamp(ifd, name, o.timeout_ms))
      die("no stamp for " + target + " within " + std::to_string(o.timeout_ms) + " ms (sample " +
          std::to_string(i) + ")");
    const std::int64_t stamp = read_stamp(o.out + "/" + name);
    if (stamp < t0) die("stamp earlier than the landing for " + target);
    if (i >= o.warmup) lat.push_back(stamp - t0);
    if (o.gap_us > 0) {
      timespec gap{o.gap_us / 1'000'000, (o.gap_us % 1'000'000) * 1000L};
      while (nanosleep(&gap, &gap) != 0 && errno == EINTR) {
      }
    }
  }

  if (!o.raw.empty()) {
    FILE* f = std::fopen(o.raw.c_str(), "a");
    if (f == nullptr) die_errno("open " + o.raw);
    for (std::int64_t v : lat) std::fprintf(f, "%" PRId64 "\n", v);
    std::fclose(f);
  }
  std::vector<std::int64_t> sorted = lat;
  std::sort(sorted.begin(), sorted.end());
  std::printf("samples=%zu p50_us=%.1f p99_us=%.1f max_us=%.1f\n", sorted.size(),
              static_cast<double>(percentile(sorted, 0.50)) / 1e3,
              static_cast<double>(percentile(sorted, 0.99)) / 1e3,
              static_cast<double>(sorted.back()) / 1e3);
  return 0;
}
