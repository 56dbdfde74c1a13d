// pidfd_floor: the floor for watching many external processes.
//
// Reads PIDs (one per line) from stdin until EOF, opens a pidfd for each and
// adds it to one epoll set, prints "ready N" (N = how many it watches), then
// blocks in epoll_wait until killed; a process that ends is dropped from the
// set (its pidfd closed). What any watcher of N processes needs at the least: N pidfds and
// no wake-up while none of them ends.
#ifndef _GNU_SOURCE
#define _GNU_SOURCE  // meson defines it; a bare cc does not
#endif
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/syscall.h>
#include <unistd.h>

int main(void) {
  int ep = epoll_create1(EPOLL_CLOEXEC);
  if (ep < 0) {
    fprintf(stderr, "pidfd_floor: epoll_create1: %s\n", strerror(errno));
    return 1;
  }
  long pid;
  int watched = 0;
  while (scanf("%ld", &pid) == 1) {
    int fd = (int)syscall(SYS_pidfd_open, (pid_t)pid, 0);
    if (fd < 0) {
      fprintf(stderr, "pidfd_floor: pidfd_open %ld: %s\n", pid, strerror(errno));
      continue;
    }
    struct epoll_event ev = {.events = EPOLLIN, .data.fd = fd};
    if (epoll_ctl(ep, EPOLL_CTL_ADD, fd, &ev) == 0) ++watched;
  }
  printf("ready %d\n", watched);
  fflush(stdout);
  for (;;) {
    struct epoll_event evs[64];
    int n = epoll_wait(ep, evs, 64, -1);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return 1;
    // Level-triggered: an ended process is dropped, or it would wake us for ever.
    for (int i = 0; i < n; ++i) {
      epoll_ctl(ep, EPOLL_CTL_DEL, evs[i].data.fd, NULL);
      close(evs[i].data.fd);
    }
  }
}
