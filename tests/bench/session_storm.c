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

static long long mono_ns(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (long long)ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

static int write_file(const char* path, const char* text) {
  int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
  if (fd < 0) return -1;
  ssize_t len = (ssize_t)strlen(text);
  int ok = write(fd, text, (size_t)len) == len;
  return close(fd) == 0 && ok ? 0 : -1;
}

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
  char path[8192], tmp[8192];
  for (long s = 0; s < sessions; ++s) {
    snprintf(path, sizeof path, "%s/temp/s%06ld", root, s);
    if (mkdir(path, 0700) != 0) {
      fprintf(stderr, "session_storm: mkdir %s: %s\n", path, strerror(errno));
      return 1;
    }
    snprintf(tmp, sizeof tmp, "%s/temp/s%06ld/.session.json.tmp", root, s);
    snprintf(path, sizeof path, "%s/temp/s%06ld/session.json", root, s);
    if (write_file(tmp, manifest) != 0 || rename(tmp, path) != 0) {
      fprintf(stderr, "session_storm: %s: %s\n", path, strerror(errno));
      return 1;
    }
    for (long a = 0; a < agents; ++a) {
      char body[256];
      snprintf(body, sizeof body,
               "{\"agent\": \"a%ld\", \"session\": \"s%06ld\", \"status\": \"done\", "
               "\"items\": [1, 2, 3], \"score\": 0.97}\n",
               a, s);
      snprintf(path, sizeof path, "%s/temp/s%06ld/a%ld.json", root, s, a);
      if (write_file(path, body) != 0) {
        fprintf(stderr, "session_storm: %s: %s\n", path, strerror(errno));
        return 1;
      }
    }
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
