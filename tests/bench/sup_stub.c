// sup_stub [STAMP_FIFO | -]: the supervised program of every restart case.
//
// The first thing it does is read CLOCK_MONOTONIC: the latency measured is
// "the supervised process was killed -> its successor is running", so the clock
// is read before anything else (linked statically when the toolchain allows, so
// the exec costs the same little for every supervisor). It then writes
// "PID NS\n" to STAMP_FIFO with one write() (under PIPE_BUF: atomic) and sleeps
// until killed. The harness keeps every fifo open for reading, so the open()
// never blocks. "-" writes nothing (the 1,000 idle processes of the adoption
// case).
//
// Without an argument the fifo is ./stamp.fifo, and with a directory it is
// DIR/stamp.fifo: runsv runs ./run in the service directory with no argument,
// s6-supervise with the service directory as its argument, and ./run is a
// symlink to this program, so they exec exactly what the other supervisors
// exec (no shell).
//
// s6 readiness: when ./notification-fd exists (s6-supervise's convention) it
// holds the fd number on which a newline says "ready"; the stub writes it after
// the stamp, so the measurement is the same with and without notification.
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static void notify_readiness(void) {
  int fd = open("notification-fd", O_RDONLY | O_CLOEXEC);
  if (fd < 0) return;
  char text[16] = {0};
  ssize_t n = read(fd, text, sizeof text - 1);
  close(fd);
  if (n <= 0) return;
  int ready_fd = atoi(text);
  if (ready_fd < 0) return;
  if (write(ready_fd, "\n", 1) == 1) close(ready_fd);
}

int main(int argc, char** argv) {
  struct timespec now;
  clock_gettime(CLOCK_MONOTONIC, &now);
  const char* fifo = argc > 1 ? argv[1] : "stamp.fifo";
  if (strcmp(fifo, "-") != 0) {
    char line[64];
    int len = snprintf(line, sizeof line, "%ld %lld\n", (long)getpid(),
                       (long long)now.tv_sec * 1000000000LL + (long long)now.tv_nsec);
    int fd = open(fifo, O_WRONLY | O_CLOEXEC);
    if (fd < 0 && errno == EISDIR) {
      char path[4096];
      snprintf(path, sizeof path, "%s/stamp.fifo", fifo);
      fd = open(path, O_WRONLY | O_CLOEXEC);
    }
    if (fd < 0 || write(fd, line, (size_t)len) != len) {
      perror("sup_stub: stamp");
      return 1;
    }
    close(fd);
    notify_readiness();
  }
  for (;;) pause();
}
