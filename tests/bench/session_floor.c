// session_floor ROOT AGENTS: the result-session floor.
//
// The least a watcher can do to move complete sessions: a bare inotify loop on
// ROOT/temp that adds a watch on each new session directory (scanning it once
// for files that landed before the watch), counts the distinct files that land
// in it by close-write or rename, and renames the directory into
// ROOT/completed once AGENTS + 1 (the manifest) are there. It reads no file
// and judges nothing: agentwatch's shipped rules also validate every result as
// JSON and read the manifest. Prints "ready", then runs until SIGTERM and
// prints "done SESSIONS CPU_NS".
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/inotify.h>
#include <sys/resource.h>
#include <unistd.h>

#define MAX_SESSIONS 1048576

struct session {
  char name[64];
  unsigned long long seen;  // bit i: file i (names are a0..aN, session.json) has landed
  int done;
};

static struct session* by_wd;  // indexed by watch descriptor
static int agents;
static volatile sig_atomic_t stop;

static void on_term(int sig) {
  (void)sig;
  stop = 1;
}

// Bit of a file name: agent i → i, the manifest → agents; -1 for others.
static int bit_of(const char* name) {
  if (strcmp(name, "session.json") == 0) return agents;
  if (name[0] != 'a') return -1;
  char* end;
  long i = strtol(name + 1, &end, 10);
  if (strcmp(end, ".json") != 0 || i < 0 || i >= agents) return -1;
  return (int)i;
}

static long long sessions_done;

static void landed(int root, struct session* s, const char* name) {
  int b = bit_of(name);
  if (b < 0 || s->done) return;
  s->seen |= 1ULL << b;
  if (s->seen != (1ULL << (agents + 1)) - 1) return;
  char from[96], to[96];
  snprintf(from, sizeof from, "temp/%s", s->name);
  snprintf(to, sizeof to, "completed/%s", s->name);
  if (renameat(root, from, root, to) == 0) {
    s->done = 1;
    ++sessions_done;
  }
}

int main(int argc, char** argv) {
  if (argc != 3) {
    fprintf(stderr, "usage: session_floor ROOT AGENTS\n");
    return 2;
  }
  agents = atoi(argv[2]);
  int root = open(argv[1], O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  by_wd = calloc(MAX_SESSIONS, sizeof *by_wd);
  int fd = inotify_init1(IN_CLOEXEC | IN_NONBLOCK);
  char temp[4096];
  snprintf(temp, sizeof temp, "%s/temp", argv[1]);
  int temp_wd = fd < 0 ? -1 : inotify_add_watch(fd, temp, IN_CREATE | IN_MOVED_TO | IN_ONLYDIR);
  if (root < 0 || !by_wd || temp_wd < 0) {
    fprintf(stderr, "session_floor: %s: %s\n", temp, strerror(errno));
    return 1;
  }
  signal(SIGTERM, on_term);
  printf("ready\n");
  fflush(stdout);
  _Alignas(struct inotify_event) char buf[256 * 1024];
  while (!stop) {
    struct pollfd pfd = {fd, POLLIN, 0};
    if (poll(&pfd, 1, 100) <= 0) continue;
    ssize_t n = read(fd, buf, sizeof buf);
    for (char* p = buf; n > 0 && p < buf + n;) {
      const struct inotify_event* ev = (const struct inotify_event*)p;
      p += sizeof *ev + ev->len;
      if (ev->wd == temp_wd && (ev->mask & IN_ISDIR) && ev->len > 0) {
        char dir[4096 + 64];
        snprintf(dir, sizeof dir, "%s/%s", temp, ev->name);
        int wd = inotify_add_watch(fd, dir, IN_CLOSE_WRITE | IN_MOVED_TO | IN_ONLYDIR);
        if (wd < 0 || wd >= MAX_SESSIONS) continue;
        struct session* s = &by_wd[wd];
        snprintf(s->name, sizeof s->name, "%s", ev->name);
        // Files written before the watch was in place.
        DIR* d = opendir(dir);
        for (struct dirent* e; d && (e = readdir(d));) landed(root, s, e->d_name);
        if (d) closedir(d);
      } else if (ev->wd > 0 && ev->wd < MAX_SESSIONS && ev->len > 0 &&
                 (ev->mask & (IN_CLOSE_WRITE | IN_MOVED_TO))) {
        landed(root, &by_wd[ev->wd], ev->name);
      }
    }
  }
  struct rusage ru;
  getrusage(RUSAGE_SELF, &ru);
  const long long cpu = ((long long)ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) * 1000000000LL +
                        ((long long)ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) * 1000LL;
  printf("done %lld %lld\n", sessions_done, cpu);
  return 0;
}
