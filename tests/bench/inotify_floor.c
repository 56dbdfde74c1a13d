// inotify_floor DIR STAMP OUT_DIR: the latency floor.
//
// The least a watcher can do to run an action when a file lands: block in
// read() on an inotify fd watching DIR for IN_CLOSE_WRITE | IN_MOVED_TO and
// posix_spawn STAMP OUT_DIR NAME for every event, nothing else. Children are
// reaped by the kernel (SIGCHLD ignored), so no wait() is on the path.
//
// Prints "ready" on stdout once the watch is in place; runs until killed.
#include <errno.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <string.h>
#include <sys/inotify.h>
#include <unistd.h>

extern char** environ;

int main(int argc, char** argv) {
  if (argc != 4) {
    fprintf(stderr, "usage: inotify_floor DIR STAMP OUT_DIR\n");
    return 2;
  }
  signal(SIGCHLD, SIG_IGN);
  int fd = inotify_init1(IN_CLOEXEC);
  if (fd < 0 || inotify_add_watch(fd, argv[1], IN_CLOSE_WRITE | IN_MOVED_TO | IN_ONLYDIR) < 0) {
    fprintf(stderr, "inotify_floor: %s: %s\n", argv[1], strerror(errno));
    return 1;
  }
  printf("ready\n");
  fflush(stdout);
  _Alignas(struct inotify_event) char buf[64 * 1024];
  for (;;) {
    ssize_t n = read(fd, buf, sizeof buf);
    if (n < 0) {
      if (errno == EINTR) continue;
      fprintf(stderr, "inotify_floor: read: %s\n", strerror(errno));
      return 1;
    }
    for (char* p = buf; p < buf + n;) {
      const struct inotify_event* ev = (const struct inotify_event*)p;
      p += sizeof *ev + ev->len;
      if (ev->len == 0 || (ev->mask & IN_ISDIR)) continue;
      char* child_argv[] = {argv[2], argv[3], (char*)ev->name, NULL};
      pid_t pid;
      int rc = posix_spawn(&pid, argv[2], NULL, NULL, child_argv, environ);
      if (rc != 0) fprintf(stderr, "inotify_floor: spawn %s: %s\n", argv[2], strerror(rc));
    }
  }
}
