// notify_floor_server SOCKET OUT: the listener of the notify floor.
//
// The least a daemon can do for `agentwatch notify`: accept a connection on a
// unix stream socket, read one line, append it to OUT with one write() on an
// O_APPEND fd, reply "{"ok":true}\n", close. Blocking calls, one client at a
// time (the bench sends one message at a time): no event loop, no parsing.
//
// Prints "ready" on stdout once it listens; runs until killed.
#ifndef _GNU_SOURCE
#define _GNU_SOURCE  // meson defines it; a bare cc does not
#endif
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

int main(int argc, char** argv) {
  if (argc != 3) {
    fprintf(stderr, "usage: notify_floor_server SOCKET OUT\n");
    return 2;
  }
  int out = open(argv[2], O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
  int ls = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  struct sockaddr_un addr;
  memset(&addr, 0, sizeof addr);
  addr.sun_family = AF_UNIX;
  if (strlen(argv[1]) >= sizeof addr.sun_path) {
    fprintf(stderr, "notify_floor_server: socket path too long\n");
    return 2;
  }
  strcpy(addr.sun_path, argv[1]);
  unlink(argv[1]);
  if (out < 0 || ls < 0 || bind(ls, (struct sockaddr*)&addr, sizeof addr) != 0 ||
      listen(ls, 64) != 0) {
    fprintf(stderr, "notify_floor_server: %s\n", strerror(errno));
    return 1;
  }
  printf("ready\n");
  fflush(stdout);
  static char buf[65536];
  for (;;) {
    int c = accept4(ls, NULL, NULL, SOCK_CLOEXEC);
    if (c < 0) {
      if (errno == EINTR || errno == ECONNABORTED) continue;
      fprintf(stderr, "notify_floor_server: accept: %s\n", strerror(errno));
      return 1;
    }
    size_t len = 0;
    while (len < sizeof buf) {
      ssize_t n = read(c, buf + len, sizeof buf - len);
      if (n < 0 && errno == EINTR) continue;
      if (n <= 0) break;
      len += (size_t)n;
      if (memchr(buf + len - (size_t)n, '\n', (size_t)n) != NULL) break;
    }
    char* nl = memchr(buf, '\n', len);
    if (nl != NULL) {
      size_t line = (size_t)(nl - buf) + 1;
      if (write(out, buf, line) == (ssize_t)line) {
        static const char ok[] = "{\"ok\":true}\n";
        (void)!write(c, ok, sizeof ok - 1);
      }
    }
    close(c);
  }
}
