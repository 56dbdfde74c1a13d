// inotify_count DIR N: the throughput floor.
//
// A bare inotify read loop: reads DIR's IN_CLOSE_WRITE events until it has
// seen N of them, and does nothing with them. Prints "ready" once the watch is
// in place, then, when done (or after 10 s without any event),
//   done END_NS COUNT OVERFLOWS CPU_NS
// where END_NS is CLOCK_MONOTONIC when the N-th event was read and CPU_NS the
// CPU time (user + system) this loop used.
#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/inotify.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

static long long mono_ns(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (long long)ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

int main(int argc, char** argv) {
  if (argc != 3) {
    fprintf(stderr, "usage: inotify_count DIR N\n");
    return 2;
  }
  const long long want = atoll(argv[2]);
  int fd = inotify_init1(IN_CLOEXEC);
  if (fd < 0 || inotify_add_watch(fd, argv[1], IN_CLOSE_WRITE | IN_ONLYDIR) < 0) {
    fprintf(stderr, "inotify_count: %s: %s\n", argv[1], strerror(errno));
    return 1;
  }
  printf("ready\n");
  fflush(stdout);
  long long seen = 0, overflows = 0, end = 0;
  _Alignas(struct inotify_event) char buf[256 * 1024];
  while (seen < want) {
    struct pollfd pfd = {fd, POLLIN, 0};
    int pr = poll(&pfd, 1, 10000);
    if (pr == 0) break;  // stalled: events were lost
    if (pr < 0) {
      if (errno == EINTR) continue;
      break;
    }
    ssize_t n = read(fd, buf, sizeof buf);
    if (n < 0) {
      if (errno == EINTR) continue;
      break;
    }
    for (char* p = buf; p < buf + n;) {
      const struct inotify_event* ev = (const struct inotify_event*)p;
      p += sizeof *ev + ev->len;
      if (ev->mask & IN_Q_OVERFLOW) ++overflows;
      if (ev->mask & IN_CLOSE_WRITE) ++seen;
    }
    end = mono_ns();
  }
  struct rusage ru;
  getrusage(RUSAGE_SELF, &ru);
  const long long cpu = ((long long)ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) * 1000000000LL +
                        ((long long)ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) * 1000LL;
  printf("done %lld %lld %lld %lld\n", end, seen, overflows, cpu);
  return seen == want ? 0 : 1;
}
