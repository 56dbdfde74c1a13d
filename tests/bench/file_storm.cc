// file_storm: the throughput generator (and, for agentwatch, the finish line).
//
//   file_storm --dir DIR --count N [--empty] [--log EVENTS.jsonl] [--timeout-s N]
//
// Creates N small files in DIR as fast as one thread can (open, write, close:
// each lands by IN_CLOSE_WRITE; with --empty no write, only open and close, so
// the watcher's share of the work is as large as it can be: the storm case)
// and prints
//   start_ns=S gen_end_ns=G gen_cpu_ns=C
// (CLOCK_MONOTONIC), so the generator's own rate is N / (G - S); C is the CPU
// time the generation took. With --log it
// then follows the daemon's event log until N `file.landed` records are in it
// and adds
//   done_ns=D landed=K
// D is when the count was seen to reach N: the log is read every 2 ms, so D is
// late by at most that much. Exits 1 when fewer than N landed within the
// timeout (counted from the end of generation).
#include <fcntl.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

#include <cerrno>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <string_view>

namespace {

std::int64_t mono_ns() {
  timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return std::int64_t{ts.tv_sec} * 1'000'000'000 + ts.tv_nsec;
}

[[noreturn]] void die(const std::string& what) {
  std::fprintf(stderr, "file_storm: %s: %s\n", what.c_str(), std::strerror(errno));
  std::exit(1);
}

// Counts whole lines of kind file.landed as the log grows; a torn last line is
// kept until its end arrives.
class LandedCounter {
 public:
  explicit LandedCounter(const std::string& path) : path_(path) {}
  ~LandedCounter() {
    if (fd_ >= 0) close(fd_);
  }
  std::int64_t poll() {
    if (fd_ < 0) {
      fd_ = open(path_.c_str(), O_RDONLY | O_CLOEXEC);
      if (fd_ < 0) return count_;
    }
    char buf[1 << 16];
    for (;;) {
      const ssize_t n = read(fd_, buf, sizeof buf);
      if (n <= 0) break;
      partial_.append(buf, static_cast<std::size_t>(n));
      std::size_t start = 0;
      for (std::size_t nl; (nl = partial_.find('\n', start)) != std::string::npos; start = nl + 1) {
        const std::string_view line(partial_.data() + start, nl - start);
        if (line.find("\"kind\":\"file.landed\"") != std::string_view::npos) ++count_;
      }
      partial_.erase(0, start);
    }
    return count_;
  }

 private:
  std::string path_;
  int fd_ = -1;
  std::string partial_;
  std::int64_t count_ = 0;
};

}  // namespace

int main(int argc, char** argv) {
  std::string dir, log;
  long long count = 0, timeout_s = 120;
  bool empty = false;
  for (int i = 1; i < argc; i += 2) {
    const std::string a = argv[i];
    if (a == "--empty") {
      empty = true;
      --i;  // a flag: no value
      continue;
    }
    if (i + 1 >= argc) {
      std::fprintf(stderr, "file_storm: %s needs a value\n", a.c_str());
      return 2;
    }
    const std::string v = argv[i + 1];
    if (a == "--dir")
      dir = v;
    else if (a == "--count")
      count = std::atoll(v.c_str());
    else if (a == "--log")
      log = v;
    else if (a == "--timeout-s")
      timeout_s = std::atoll(v.c_str());
    else {
      std::fprintf(stderr, "file_storm: unknown option %s\n", a.c_str());
      return 2;
    }
  }
  if (dir.empty() || count <= 0) {
    std::fprintf(stderr,
                 "usage: file_storm --dir DIR --count N [--empty] [--log FILE] [--timeout-s N]\n");
    return 2;
  }
  std::string path = dir + "/";
  const std::size_t base = path.size();
  static const char kPayload[] = "{\"status\":\"done\"}\n";
  const std::int64_t start = mono_ns();
  for (long long i = 0; i < count; ++i) {
    char name[32];
    std::snprintf(name, sizeof name, "f%07lld.json", i);
    path.resize(base);
    path += name;
    const int fd = open(path.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
    if (fd < 0) die("create " + path);
    if (!empty && write(fd, kPayload, sizeof kPayload - 1) != sizeof kPayload - 1)
      die("write " + path);
    close(fd);
  }
  const std::int64_t gen_end = mono_ns();
  rusage ru{};
  getrusage(RUSAGE_SELF, &ru);
  const long long cpu =
      (static_cast<long long>(ru.ru_utime.tv_sec) + ru.ru_stime.tv_sec) * 1'000'000'000 +
      (static_cast<long long>(ru.ru_utime.tv_usec) + ru.ru_stime.tv_usec) * 1000;
  std::printf("start_ns=%lld gen_end_ns=%lld gen_cpu_ns=%lld", static_cast<long long>(start),
              static_cast<long long>(gen_end), cpu);
  if (log.empty()) {
    std::printf("\n");
    return 0;
  }
  LandedCounter counter(log);
  const std::int64_t deadline = gen_end + timeout_s * 1'000'000'000;
  std::int64_t landed = 0;
  for (;;) {
    landed = counter.poll();
    const std::int64_t now = mono_ns();
    if (landed >= count) {
      std::printf(" done_ns=%lld landed=%lld\n", static_cast<long long>(now),
                  static_cast<long long>(landed));
      return 0;
    }
    if (now > deadline) break;
    timespec gap{0, 2'000'000};
    nanosleep(&gap, nullptr);
  }
  std::printf(" done_ns=0 landed=%lld\n", static_cast<long long>(landed));
  return 1;
}
