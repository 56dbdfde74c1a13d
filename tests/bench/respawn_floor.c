// respawn_floor PROGRAM ARG: the restart-latency floor.
//
// The least a supervisor can do to keep one process running: posix_spawn
// PROGRAM ARG (glibc's posix_spawn is clone(CLONE_VM | CLONE_VFORK) + execve),
// block in poll() on its pidfd, reap it with waitpid, spawn again at once.
// No policy, no log, no bookkeeping.
//
// On SIGTERM it kills and reaps its current child and exits 0.
#ifndef _GNU_SOURCE
#define _GNU_SOURCE  // meson defines it; a bare cc does not
#endif
#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <string.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

extern char** environ;

static volatile sig_atomic_t stop_asked = 0;

static void on_term(int sig) {
  (void)sig;
  stop_asked = 1;
}

int main(int argc, char** argv) {
  if (argc != 3) {
    fprintf(stderr, "usage: respawn_floor PROGRAM ARG\n");
    return 2;
  }
  struct sigaction sa;
  memset(&sa, 0, sizeof sa);
  sa.sa_handler = on_term;  // no SA_RESTART: poll() returns EINTR
  sigaction(SIGTERM, &sa, NULL);
  char* child_argv[] = {argv[1], argv[2], NULL};
  while (!stop_asked) {
    pid_t pid;
    int rc = posix_spawn(&pid, argv[1], NULL, NULL, child_argv, environ);
    if (rc != 0) {
      fprintf(stderr, "respawn_floor: spawn %s: %s\n", argv[1], strerror(rc));
      return 1;
    }
    int pidfd = (int)syscall(SYS_pidfd_open, pid, 0);
    if (pidfd < 0) {
      fprintf(stderr, "respawn_floor: pidfd_open: %s\n", strerror(errno));
      kill(pid, SIGKILL);
      waitpid(pid, NULL, 0);
      return 1;
    }
    struct pollfd pfd = {pidfd, POLLIN, 0};
    while (!stop_asked && poll(&pfd, 1, -1) < 0 && errno == EINTR) {
    }
    if (stop_asked) kill(pid, SIGKILL);
    while (waitpid(pid, NULL, 0) < 0 && errno == EINTR) {
    }
    close(pidfd);
  }
  return 0;
}
