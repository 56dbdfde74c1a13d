// session_storm --root ROOT --sessions N --agents A [--timeout-s S]
//
// Lands N result sessions of A agents each under ROOT/temp the way fleets
// write them: the session directory, its manifest session.json (written to a
// dot-name and renamed), then each agent's <agent>.json by close-write. Then
// waits until ROOT/completed holds N sessions (counted every 2 ms). Prints
//   start_ns=... gen_end_ns=... done_ns=... completed=...
// (CLOCK_MONOTONIC; done_ns = 0 when the timeout passed first).
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "session_land.h"

static long count_entries(const char* dir) {
  DIR* d = opendir(dir);
  if (!d) return 0;
  long n = 0;
  for (struct dirent* e; (e = readdir(d));)
    if (e->d_name[0] != '.') ++n;
  closedir(d);
  return n;
}

int main(int argc, char** argv) {
  const char* root = NULL;
  long sessions = 0, agents = 10, timeout_s = 120;
  for (int i = 1; i + 1 < argc; i += 2) {
    if (strcmp(argv[i], "--root") == 0)
      root = argv[i + 1];
    else if (strcmp(argv[i], "--sessions") == 0)
      sessions = atol(argv[i + 1]);
    else if (strcmp(argv[i], "--agents") == 0)
      agents = atol(argv[i + 1]);
    else if (strcmp(argv[i], "--timeout-s") == 0)
      timeout_s = atol(argv[i + 1]);
  }
  if (!root || sessions <= 0 || agents <= 0 || agents > 60) {
    fprintf(stderr, "usage: session_storm --root ROOT --sessions N --agents A [--timeout-s S]\n");
    return 2;
  }
  char manifest[4096] = "{\"agents\": [";
  for (long a = 0; a < agents; ++a) {
    char item[32];
    snprintf(item, sizeof item, "%s\"a%ld\"", a ? ", " : "", a);
    strcat(manifest, item);
  }
  strcat(manifest, "]}\n");
  const long long start = mono_ns();
  for (long s = 0; s < sessions; ++s) {
    char name[32];
    snprintf(name, sizeof name, "s%06ld", s);
    if (land_session("session_storm", root, name, manifest, agents) != 0) return 1;
  }
  const long long gen_end = mono_ns();
  char completed[8192];
  snprintf(completed, sizeof completed, "%s/completed", root);
  long long done = 0;
  long got = 0;
  const long long deadline = gen_end + timeout_s * 1000000000LL;
  while (mono_ns() < deadline) {
    got = count_entries(completed);
    if (got >= sessions) {
      done = mono_ns();
      break;
    }
    struct timespec nap = {0, 2000000};
    nanosleep(&nap, NULL);
  }
  printf("start_ns=%lld gen_end_ns=%lld done_ns=%lld completed=%ld\n", start, gen_end, done, got);
  return done ? 0 : 1;
}
