// stamp OUT_DIR NAME: the action every latency case runs.
//
// The first thing it does is read CLOCK_MONOTONIC: the latency measured is
// "file landed -> the action's process is running", so the clock is read before
// anything else (the dynamic loader has already run; it is linked statically
// when the toolchain allows, to keep exec cost small and equal for every case).
// It then writes the nanoseconds as decimal text to OUT_DIR/NAME, created with
// O_EXCL so a sample can never be counted twice; the driver waits for the
// IN_CLOSE_WRITE of that file.
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

int main(int argc, char** argv) {
  struct timespec now;
  clock_gettime(CLOCK_MONOTONIC, &now);
  if (argc != 3) {
    fprintf(stderr, "usage: stamp OUT_DIR NAME\n");
    return 2;
  }
  char path[4096];
  if (snprintf(path, sizeof path, "%s/%s", argv[1], argv[2]) >= (int)sizeof path) return 2;
  char text[32];
  int len = snprintf(text, sizeof text, "%lld\n",
                     (long long)now.tv_sec * 1000000000LL + (long long)now.tv_nsec);
  int fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
  if (fd < 0) {
    fprintf(stderr, "stamp: %s: %s\n", path, strerror(errno));
    return 1;
  }
  int ok = write(fd, text, (size_t)len) == len;
  close(fd);
  return ok ? 0 : 1;
}
