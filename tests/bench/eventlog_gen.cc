// eventlog_gen --dir DIR --bytes N [--segment-bytes N] [--seed S]
//
// Writes a realistic event log of about N bytes into DIR, for the `stats`
// benchmark (docs/benchmarks.md): rotated segments events.000001.jsonl,
// events.000002.jsonl, ... of --segment-bytes each (the daemon's default
// max_size, 64 MiB; a segment ends at the first line boundary past it, as the
// writer rotates only between whole lines), then the live events.jsonl with the
// rest. Segments are left plain; the harness gzips copies of them when it wants
// the compressed form.
//
// The lines are what a fleet's daemon writes (docs/events.md, docs/actions.md):
// a result lands (file.landed), each matching rule's action starts
// (action.started) and reports one outcome (action.succeeded / action.failed,
// with category, attempts, duration_ms, and for programs pid, exit status,
// wall/user/sys ms, max_rss_kb, output tails), entities change state, workers
// exit and restart, timers fire. Keys in the writer's order, empty ones left
// out. Deterministic for a seed. Prints one line:
//   bytes=... lines=... outcomes=... failed=... files=...
#include <fcntl.h>
#include <unistd.h>

#include <cinttypes>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <string>
#include <vector>

#include "tests/bench/driver_support.h"

namespace {

struct Rng {
  std::uint64_t s;
  std::uint64_t next() {
    // splitmix64
    std::uint64_t z = (s += 0x9e3779b97f4a7c15ULL);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
  }
  std::uint64_t below(std::uint64_t n) { return next() % n; }
  double unit() { return static_cast<double>(next() >> 11) * (1.0 / 9007199254740992.0); }
  // A long-tailed duration: most small, a few large (the shape of real runs).
  std::int64_t duration_ms(std::int64_t typical) {
    const double u = unit();
    double x = typical * (0.2 + 1.6 * unit());
    if (u > 0.95) x *= 8;
    if (u > 0.995) x *= 10;
    return static_cast<std::int64_t>(x);
  }
};

enum class Kind { kRun, kMove, kCompleteSession, kMark, kQuarantine, kIntegrate };

struct RuleSpec {
  const char* name;
  Kind kind;
  const char* program;
  std::int64_t typical_ms;
  double fail_rate;
  int weight;
};

// A fleet's rule set: collectors and validators that run programs, movers,
// the shipped session rules.
const RuleSpec kRules[] = {
    {"collect", Kind::kRun, "/usr/local/bin/collect-result", 900, 0.05, 20},
    {"validate-result", Kind::kRun, "/usr/bin/python3", 120, 0.03, 18},
    {"file-away", Kind::kMove, nullptr, 2, 0.002, 16},
    {"session-check", Kind::kCompleteSession, nullptr, 8, 0.01, 12},
    {"record", Kind::kRun, "/bin/sh", 40, 0.01, 10},
    {"mark-done", Kind::kMark, nullptr, 1, 0.0, 8},
    {"quarantine-invalid", Kind::kQuarantine, nullptr, 3, 0.02, 4},
    {"integrate", Kind::kIntegrate, "/usr/local/bin/integrate", 15000, 0.08, 3},
    {"notify-slack", Kind::kRun, "/usr/bin/curl", 300, 0.12, 3},
    {"archive", Kind::kRun, "/usr/bin/tar", 2500, 0.01, 2},
    {"reindex", Kind::kRun, "/usr/local/bin/reindex", 7000, 0.04, 1},
    {"lint-patch", Kind::kRun, "/usr/bin/git", 1800, 0.15, 3},
};

const char* const kFailCategories[] = {"execution", "execution",  "execution", "timeout",
                                       "not_found", "permission", "resource",  "unknown"};

class Writer {
 public:
  // Rotated segments while more than one segment's worth remains of `target`,
  // then the live file.
  Writer(std::string dir, std::uint64_t segment_bytes, std::uint64_t target)
      : dir_(std::move(dir)), segment_bytes_(segment_bytes), target_(target) {
    buf_.reserve(kBlock + 8192);
    live_ = target_ < segment_bytes_;
  }

  // One line (without its newline) into the current file; rotates after it
  // when the file reached the segment size.
  void line(const char* text, std::size_t n) {
    if (fd_ < 0) open_next();
    buf_.append(text, n);
    buf_.push_back('\n');
    file_bytes_ += n + 1;
    total_ += n + 1;
    ++lines_;
    if (buf_.size() >= kBlock) flush();
    if (!live_ && file_bytes_ >= segment_bytes_) {
      close_file();
      live_ = target_ < total_ + segment_bytes_;
    }
  }

  void finish() {
    if (fd_ < 0) open_next();
    close_file();
  }

  std::uint64_t total() const { return total_; }
  std::uint64_t lines() const { return lines_; }
  int files() const { return files_; }

 private:
  static constexpr std::size_t kBlock = 4 << 20;

  void open_next() {
    char name[64];
    if (live_)
      std::snprintf(name, sizeof name, "events.jsonl");
    else
      std::snprintf(name, sizeof name, "events.%06d.jsonl", ++segment_);
    const std::string path = dir_ + "/" + name;
    fd_ = ::open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    if (fd_ < 0) bench::die_errno("open " + path);
    file_bytes_ = 0;
    ++files_;
  }

  void flush() {
    std::size_t off = 0;
    while (off < buf_.size()) {
      const ssize_t w = ::write(fd_, buf_.data() + off, buf_.size() - off);
      if (w < 0) bench::die_errno("write");
      off += static_cast<std::size_t>(w);
    }
    buf_.clear();
  }

  void close_file() {
    flush();
    if (::close(fd_) != 0) bench::die_errno("close");
    fd_ = -1;
  }

  std::string dir_;
  std::uint64_t segment_bytes_, target_;
  std::string buf_;
  int fd_ = -1;
  int segment_ = 0;
  int files_ = 0;
  bool live_ = false;
  std::uint64_t file_bytes_ = 0, total_ = 0, lines_ = 0;
};

// RFC 3339 UTC with milliseconds, from ms since 2026-11-22T00:00:00Z (the
// log spans days at most: no month arithmetic needed within November/December).
void format_time(std::int64_t ms, char* out) {
  const std::int64_t day = ms / 86'400'000;
  std::int64_t rest = ms % 86'400'000;
  const int h = static_cast<int>(rest / 3'600'000);
  rest %= 3'600'000;
  const int m = static_cast<int>(rest / 60'000);
  rest %= 60'000;
  const int s = static_cast<int>(rest / 1000);
  const int milli = static_cast<int>(rest % 1000);
  int month = 11, mday = 22 + static_cast<int>(day);
  if (mday > 30) {
    month = 12;
    mday -= 30;
  }
  std::snprintf(out, 64, "2026-%02d-%02dT%02d:%02d:%02d.%03dZ", month, mday, h, m, s, milli);
}

}  // namespace

int main(int argc, char** argv) {
  std::string dir;
  std::uint64_t bytes = 0, segment_bytes = 64ULL << 20, seed = 1;
  for (int i = 1; i + 1 < argc; i += 2) {
    const std::string k = argv[i];
    if (k == "--dir")
      dir = argv[i + 1];
    else if (k == "--bytes")
      bytes = std::strtoull(argv[i + 1], nullptr, 10);
    else if (k == "--segment-bytes")
      segment_bytes = std::strtoull(argv[i + 1], nullptr, 10);
    else if (k == "--seed")
      seed = std::strtoull(argv[i + 1], nullptr, 10);
  }
  if (dir.empty() || bytes == 0 || segment_bytes == 0) {
    std::fprintf(stderr,
                 "usage: eventlog_gen --dir DIR --bytes N [--segment-bytes N] [--seed S]\n");
    return 2;
  }
  Rng rng{seed};
  Writer out(dir, segment_bytes, bytes);
  int total_weight = 0;
  for (const RuleSpec& r : kRules) total_weight += r.weight;

  constexpr int kWorkers = 40;
  std::vector<int> worker_state(kWorkers, 0);
  const char* const kStates[] = {"working", "idle", "completed", "stale"};
  std::int64_t seq = 0, now_ms = 9 * 3'600'000, outcomes = 0, failed = 0, inode = 5'382'000;
  std::uint64_t session = 0;
  char line[8192], t[64], path[256], rel[128], entity[32], msg[512];

  auto emit = [&](int n) {
    if (n < 0 || static_cast<std::size_t>(n) >= sizeof line) bench::die("line too long");
    out.line(line, static_cast<std::size_t>(n));
  };

  while (out.total() < bytes) {
    now_ms += static_cast<std::int64_t>(rng.below(40));
    format_time(now_ms, t);
    const int w = static_cast<int>(rng.below(kWorkers));
    std::snprintf(entity, sizeof entity, "w%03d", w);
    const std::uint64_t roll = rng.below(1000);

    if (roll < 12) {  // a worker ends and is restarted
      const int code = rng.below(4) == 0 ? 1 : 0;
      const std::int64_t wall = rng.duration_ms(600'000);
      emit(
          std::snprintf(
              line, sizeof line,
              "{\"seq\":%" PRId64 ",\"time\":\"%s\",\"kind\":\"worker.exited\",\"source\":"
              "\"supervisor\",\"entity\":\"%s\",\"fields\":{\"pid\":%" PRIu64 ",\"exit_code\":%d,"
              "\"wall_ms\":%" PRId64
              ",\"by_us\":false,\"adopted\":false,\"attempt\":0,\"evidence\":"
              "\"pidfd: readable: the process ended @ %s; pidfd_info: exited with code %d @ %s\"}}",
              ++seq, t, entity, 10'000 + rng.below(400'000), code, wall, t, code, t));
      emit(std::snprintf(line, sizeof line,
                         "{\"seq\":%" PRId64 ",\"time\":\"%s\",\"kind\":\"worker.started\","
                         "\"source\":\"supervisor\",\"entity\":\"%s\",\"fields\":{\"pid\":%" PRIu64
                         ",\"attempt\":1,\"argv\":\"/usr/local/bin/agent --worker %s\"}}",
                         ++seq, t, entity, 10'000 + rng.below(400'000), entity));
      continue;
    }
    if (roll < 20) {  // a timer rule fires
      emit(std::snprintf(line, sizeof line,
                         "{\"seq\":%" PRId64 ",\"time\":\"%s\",\"kind\":\"timer.fired\","
                         "\"source\":\"timer\",\"rule\":\"check-disk\",\"fields\":{\"every_ms\":"
                         "900000,\"late_ms\":%" PRIu64 ",\"catch_up\":false}}",
                         ++seq, t, rng.below(3)));
      continue;
    }
    if (roll < 60) {  // an agent's notification through a tmux hook
      emit(std::snprintf(line, sizeof line,
                         "{\"seq\":%" PRId64 ",\"time\":\"%s\",\"kind\":\"agent.idle\","
                         "\"source\":\"notify\",\"entity\":\"%s\",\"fields\":{\"pane\":\"%%%d\","
                         "\"session\":\"fleet\",\"window\":\"%s\",\"uid\":1000}}",
                         ++seq, t, entity, w + 3, entity));
      continue;
    }

    // A result lands, and the rules that match it act on it.
    ++session;
    std::snprintf(rel, sizeof rel, "temp/s%07" PRIu64 "/%s.json", session, entity);
    std::snprintf(path, sizeof path, "/srv/fleet/results/%s", rel);
    const std::int64_t landed = ++seq;
    emit(std::snprintf(
        line, sizeof line,
        "{\"seq\":%" PRId64
        ",\"time\":\"%s\",\"kind\":\"file.landed\",\"source\":\"inotify\","
        "\"path\":\"%s\",\"entity\":\"%s\",\"fields\":{\"watch\":\"results\",\"root\":"
        "\"/srv/fleet/results\",\"rel\":\"%s\",\"via\":\"%s\",\"size\":%" PRIu64
        ",\"inode\":%" PRId64 ",\"dev\":65024,\"mtime_ns\":%" PRId64 "}}",
        landed, t, path, entity, rel, rng.below(3) ? "close_write" : "rename",
        200 + rng.below(60'000), ++inode,
        static_cast<std::int64_t>(1'795'800'000'000'000'000) + now_ms * 1'000'000));
    const int n_rules = 1 + static_cast<int>(rng.below(3));
    for (int r = 0; r < n_rules; ++r) {
      int pick = static_cast<int>(rng.below(static_cast<std::uint64_t>(total_weight)));
      const RuleSpec* spec = &kRules[0];
      for (const RuleSpec& cand : kRules) {
        if (pick < cand.weight) {
          spec = &cand;
          break;
        }
        pick -= cand.weight;
      }
      const char* action = "run";
      switch (spec->kind) {
        case Kind::kRun:
          action = "run";
          break;
        case Kind::kMove:
          action = "move";
          break;
        case Kind::kCompleteSession:
          action = "complete_session";
          break;
        case Kind::kMark:
          action = "mark";
          break;
        case Kind::kQuarantine:
          action = "quarantine";
          break;
        case Kind::kIntegrate:
          action = "integrate_session";
          break;
      }
      const bool program = spec->kind == Kind::kRun || spec->kind == Kind::kIntegrate;
      const std::uint64_t pid = 20'000 + rng.below(4'000'000);
      char started_extra[48] = "";
      if (program) std::snprintf(started_extra, sizeof started_extra, ",\"pid\":%" PRIu64, pid);
      emit(
          std::snprintf(line, sizeof line,
                        "{\"seq\":%" PRId64 ",\"time\":\"%s\",\"kind\":\"action.started\","
                        "\"source\":\"action\",\"path\":\"%s\",\"entity\":\"%s\",\"cause\":%" PRId64
                        ",\"rule\":\"%s\",\"depth\":1,\"fields\":{\"action\":\"%s\",\"index\":0,"
                        "\"attempt\":1%s}}",
                        ++seq, t, path, entity, landed, spec->name, action, started_extra));

      const bool fail = rng.unit() < spec->fail_rate;
      const int attempts = fail ? 1 + static_cast<int>(rng.below(3)) : (rng.below(50) == 0 ? 2 : 1);
      const char* category = fail ? kFailCategories[rng.below(8)] : "ok";
      const bool timed_out = fail && std::strcmp(category, "timeout") == 0;
      const std::int64_t wall = rng.duration_ms(spec->typical_ms);
      const std::int64_t duration = wall + (attempts - 1) * 1000;
      char o_time[64];
      format_time(now_ms + duration, o_time);
      int exit_code = fail ? (std::strcmp(category, "not_found") == 0 ? 127 : 1) : 0;
      if (std::strcmp(category, "permission") == 0) exit_code = 126;
      const int sig = timed_out ? 15 : (std::strcmp(category, "resource") == 0 ? 9 : 0);
      if (sig) exit_code = 0;
      const char* suggestion = "";
      if (fail) {
        if (timed_out)
          suggestion = ",\"suggestion\":\"raise the action's timeout, or find why it hangs\"";
        else if (std::strcmp(category, "not_found") == 0)
          suggestion = ",\"suggestion\":\"check the program's path and the working directory\"";
        else
          suggestion =
              ",\"suggestion\":\"the command reported failure: see stderr_tail and its "
              "own logs\"";
      }
      if (program) {
        if (fail)
          std::snprintf(msg, sizeof msg, "'%s' %s after %" PRId64 "ms", spec->program,
                        sig ? "was killed by signal" : "exited 1", wall);
        else
          std::snprintf(msg, sizeof msg, "'%s' exited 0 after %" PRId64 "ms", spec->program, wall);
        const std::int64_t user = wall * static_cast<std::int64_t>(rng.below(60)) / 100;
        const std::int64_t sys = wall * static_cast<std::int64_t>(rng.below(15)) / 100;
        const char* err_tail = fail ? "Traceback (most recent call last):\\n  File \\\"/srv/fleet/"
                                      "bin/collect\\\", line 42, in <module>\\nValueError: bad "
                                      "score\\n"
                                    : "";
        const char* out_tail = rng.below(4) == 0 ? "collected 12 items\\nok\\n" : "";
        emit(std::snprintf(
            line, sizeof line,
            "{\"seq\":%" PRId64
            ",\"time\":\"%s\",\"kind\":\"%s\",\"source\":\"action\","
            "\"path\":\"%s\",\"entity\":\"%s\",\"cause\":%" PRId64
            ",\"rule\":\"%s\",\"depth\":1,"
            "\"fields\":{\"action\":\"%s\",\"index\":0,\"category\":\"%s\",\"message\":\"%s\"%s,"
            "\"attempts\":%d,\"duration_ms\":%" PRId64 ",\"pid\":%" PRIu64
            ",\"exit_code\":%d,"
            "\"signal\":%d,\"wall_ms\":%" PRId64 ",\"user_ms\":%" PRId64 ",\"sys_ms\":%" PRId64
            ",\"max_rss_kb\":%" PRIu64
            ",\"stdout_tail\":\"%s\",\"stderr_tail\":\"%s\","
            "\"stdout_bytes\":%zu,\"stderr_bytes\":%zu,\"timed_out\":%s}}",
            ++seq, o_time, fail ? "action.failed" : "action.succeeded", path, entity, landed,
            spec->name, action, category, msg, suggestion, attempts, duration, pid, exit_code, sig,
            wall, user, sys, 4'000 + rng.below(spec->typical_ms > 1000 ? 2'000'000 : 60'000),
            out_tail, err_tail, std::strlen(out_tail) * 7, std::strlen(err_tail) * 3,
            timed_out ? "true" : "false"));
      } else {
        char extra[600];
        if (spec->kind == Kind::kMark) {
          std::snprintf(msg, sizeof msg, "marked %s completed", entity);
          std::snprintf(extra, sizeof extra, ",\"state\":\"completed\"");
        } else if (spec->kind == Kind::kCompleteSession) {
          std::snprintf(msg, sizeof msg,
                        "complete_session: session 's%07" PRIu64
                        "' is complete (by manifest), moved to "
                        "'/srv/fleet/results/completed/s%07" PRIu64 "'",
                        session, session);
          std::snprintf(extra, sizeof extra,
                        ",\"from\":\"/srv/fleet/results/temp/s%07" PRIu64
                        "\",\"session\":\"s%07" PRIu64
                        "\",\"valid\":\"a0,a1,a2,a3\",\"how\":\"manifest\",\"state\":"
                        "\"completed\",\"to\":\"/srv/fleet/results/completed/s%07" PRIu64 "\"",
                        session, session, session);
        } else {
          const char* where = spec->kind == Kind::kMove ? "done" : "quarantine";
          std::snprintf(msg, sizeof msg, "moved '%s' to '/srv/fleet/%s/%s.json'", path, where,
                        entity);
          std::snprintf(extra, sizeof extra, ",\"from\":\"%s\",\"to\":\"/srv/fleet/%s/%s.json\"",
                        path, where, entity);
        }
        emit(std::snprintf(
            line, sizeof line,
            "{\"seq\":%" PRId64
            ",\"time\":\"%s\",\"kind\":\"%s\",\"source\":\"action\","
            "\"path\":\"%s\",\"entity\":\"%s\",\"cause\":%" PRId64
            ",\"rule\":\"%s\",\"depth\":1,"
            "\"fields\":{\"action\":\"%s\",\"index\":0,\"category\":\"%s\",\"message\":\"%s\"%s,"
            "\"attempts\":%d,\"duration_ms\":%" PRId64 "%s}}",
            ++seq, o_time, fail ? "action.failed" : "action.succeeded", path, entity, landed,
            spec->name, action, category, msg, suggestion, attempts, duration, extra));
      }
      ++outcomes;
      if (fail) ++failed;
      if (spec->kind == Kind::kMark || spec->kind == Kind::kCompleteSession) {
        const int from = worker_state[w];
        const int to = 2;
        worker_state[w] = to;
        emit(std::snprintf(line, sizeof line,
                           "{\"seq\":%" PRId64 ",\"time\":\"%s\",\"kind\":\"state.changed\","
                           "\"source\":\"action\",\"entity\":\"%s\",\"cause\":%" PRId64
                           ",\"rule\":\"%s\",\"depth\":1,\"fields\":{\"from\":\"%s\",\"to\":"
                           "\"%s\",\"run\":%" PRId64 "}}",
                           ++seq, o_time, entity, landed, spec->name, kStates[from], kStates[to],
                           1 + static_cast<std::int64_t>(rng.below(20))));
        worker_state[w] = static_cast<int>(rng.below(2));
      }
    }
  }
  out.finish();
  std::printf("bytes=%" PRIu64 " lines=%" PRIu64 " outcomes=%" PRId64 " failed=%" PRId64
              " files=%d\n",
              out.total(), out.lines(), outcomes, failed, out.files());
  return 0;
}
