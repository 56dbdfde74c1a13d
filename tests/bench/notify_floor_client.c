// notify_floor_client SOCKET LINE: the client of the notify floor.
//
// What a hook could run at the least: connect to a unix socket, write LINE and
// a newline, wait for the one-line reply, exit 0 (1 when anything failed).
// Linked statically when the toolchain allows, like stamp: the floor's exec is
// as cheap as an exec gets.
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

int main(int argc, char** argv) {
  if (argc != 3) {
    fprintf(stderr, "usage: notify_floor_client SOCKET LINE\n");
    return 2;
  }
  struct sockaddr_un addr;
  memset(&addr, 0, sizeof addr);
  addr.sun_family = AF_UNIX;
  if (strlen(argv[1]) >= sizeof addr.sun_path) return 2;
  strcpy(addr.sun_path, argv[1]);
  int s = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (s < 0 || connect(s, (struct sockaddr*)&addr, sizeof addr) != 0) return 1;
  char line[4096];
  int len = snprintf(line, sizeof line, "%s\n", argv[2]);
  if (len <= 0 || len >= (int)sizeof line || write(s, line, (size_t)len) != len) return 1;
  char reply[256];
  size_t got = 0;
  while (got < sizeof reply) {
    ssize_t n = read(s, reply + got, sizeof reply - got);
    if (n <= 0) return 1;
    got += (size_t)n;
    if (memchr(reply, '\n', got) != NULL) return 0;
  }
  return 1;
}
