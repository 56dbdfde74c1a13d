// session_flood --root ROOT --rate R --seconds S [--agents A] [--prefix P]
//
// A storm that lasts: lands result sessions under ROOT/temp as session_storm
// does (the directory, its manifest session.json by rename, then each agent's
// <agent>.json by close-write), R sessions per second on a fixed schedule
// (session i is due at start + i/R; a late generator catches up, it does not
// skip), for S seconds or until SIGTERM. Unlike session_storm it does not wait
// for the sessions to complete: it is the load behind another measurement
// (the /metrics figures of docs/benchmarks.md), and the harness checks the
// daemon kept up. Session names are P%07d (P defaults to "f"), so several
// floods can land in one root. On exit prints
//   start_ns=... end_ns=... landed=...
// (CLOCK_MONOTONIC).
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "session_land.h"

static volatile sig_atomic_t stop;

static void on_term(int sig) {
  (void)sig;
  stop = 1;
}

int main(int argc, char** argv) {
  const char* root = NULL;
  const char* prefix = "f";
  double rate = 0, seconds = 0;
  long agents = 10;
  for (int i = 1; i + 1 < argc; i += 2) {
    if (strcmp(argv[i], "--root") == 0)
      root = argv[i + 1];
    else if (strcmp(argv[i], "--rate") == 0)
      rate = atof(argv[i + 1]);
    else if (strcmp(argv[i], "--seconds") == 0)
      seconds = atof(argv[i + 1]);
    else if (strcmp(argv[i], "--agents") == 0)
      agents = atol(argv[i + 1]);
    else if (strcmp(argv[i], "--prefix") == 0)
      prefix = argv[i + 1];
  }
  if (!root || rate <= 0 || seconds <= 0 || agents <= 0 || agents > 60 || strlen(prefix) > 16) {
    fprintf(stderr,
            "usage: session_flood --root ROOT --rate R --seconds S [--agents A] [--prefix P]\n");
    return 2;
  }
  struct sigaction sa;
  memset(&sa, 0, sizeof sa);
  sa.sa_handler = on_term;
  sigaction(SIGTERM, &sa, NULL);
  sigaction(SIGINT, &sa, NULL);
  char manifest[4096] = "{\"agents\": [";
  for (long a = 0; a < agents; ++a) {
    char item[32];
    snprintf(item, sizeof item, "%s\"a%ld\"", a ? ", " : "", a);
    strcat(manifest, item);
  }
  strcat(manifest, "]}\n");
  const long long start = mono_ns();
  const long long end = start + (long long)(seconds * 1e9);
  const double interval = 1e9 / rate;
  char name[32];
  long s = 0;
  while (!stop) {
    const long long due = start + (long long)(s * interval);
    if (due >= end) break;
    long long now = mono_ns();
    if (due > now) {
      struct timespec at = {(time_t)(due / 1000000000LL), (long)(due % 1000000000LL)};
      clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &at, NULL);
      continue;  // re-check stop and the time
    }
    snprintf(name, sizeof name, "%s%07ld", prefix, s);
    if (land_session("session_flood", root, name, manifest, agents) != 0) return 1;
    ++s;
  }
  printf("start_ns=%lld end_ns=%lld landed=%ld\n", start, mono_ns(), s);
  fflush(stdout);
  return 0;
}
