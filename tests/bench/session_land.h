/* Landing one result session as the shipped session rules expect it
 * (docs/sessions.md): temp/NAME/ made, its manifest renamed into place, then
 * one result per agent by close-write. Shared by the bench drivers that
 * write sessions (session_storm: a burst; session_flood: a steady rate). */
#ifndef AW_BENCH_SESSION_LAND_H
#define AW_BENCH_SESSION_LAND_H

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

static inline long long mono_ns(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (long long)ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

static inline int write_file(const char* path, const char* text) {
  int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
  if (fd < 0) return -1;
  ssize_t len = (ssize_t)strlen(text);
  int ok = write(fd, text, (size_t)len) == len;
  return close(fd) == 0 && ok ? 0 : -1;
}

/* Lands session `name` under ROOT/temp with `agents` results; 0, or -1 after
 * saying what failed on stderr (prefixed with `who`). */
static inline int land_session(const char* who, const char* root, const char* name,
                               const char* manifest, long agents) {
  char path[8192], tmp[8192];
  snprintf(path, sizeof path, "%s/temp/%s", root, name);
  if (mkdir(path, 0700) != 0) {
    fprintf(stderr, "%s: mkdir %s: %s\n", who, path, strerror(errno));
    return -1;
  }
  snprintf(tmp, sizeof tmp, "%s/temp/%s/.session.json.tmp", root, name);
  snprintf(path, sizeof path, "%s/temp/%s/session.json", root, name);
  if (write_file(tmp, manifest) != 0 || rename(tmp, path) != 0) {
    fprintf(stderr, "%s: %s: %s\n", who, path, strerror(errno));
    return -1;
  }
  for (long a = 0; a < agents; ++a) {
    char body[256];
    snprintf(body, sizeof body,
             "{\"agent\": \"a%ld\", \"session\": \"%s\", \"status\": \"done\", "
             "\"items\": [1, 2, 3], \"score\": 0.97}\n",
             a, name);
    snprintf(path, sizeof path, "%s/temp/%s/a%ld.json", root, name, a);
    if (write_file(path, body) != 0) {
      fprintf(stderr, "%s: %s: %s\n", who, path, strerror(errno));
      return -1;
    }
  }
  return 0;
}

#endif
