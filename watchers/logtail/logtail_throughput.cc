// logtail_throughput: lines per second through the log tailer's matching, for
// the bench harness to set beside `grep -E -f PATTERNS LOG` on the same files.
//
//   logtail_throughput PATTERNS LOG [--mode tailer|matcher]
//       PATTERNS: one RE2 pattern per line (ERE as grep reads it works), empty
//       lines ignored; pattern N gets the id pN.
//       --mode tailer (default): a real LogTailer on a libuv loop reads LOG
//         from offset 0 with pread in its usual chunks and per-tick cap,
//         splits, matches with one RE2::Set and builds a log.line Event per
//         match: everything the daemon does short of the pipeline.
//       --mode matcher: the file is read into memory first, then only split
//         and matched by the tailer's LineScanner (no I/O, no events): the
//         matching alone.
//   logtail_throughput --generate DIR [--lines N] [--patterns N]
//       writes DIR/patterns.txt and DIR/log.txt (log_corpus.h), the inputs
//       the harness gives both this tool and grep.
//
// Prints one JSON object on stdout:
//   {"mode":"tailer","lines":N,"matched":M,"bytes":B,"seconds":S,
//    "lines_per_s":X,"mb_per_s":Y}
// `matched` counts matching lines, so it equals `grep -c -E -f PATTERNS LOG`.
// Exit status 2 on bad usage or unreadable input (the message names the file).
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <string_view>
#include <vector>

#include <uv.h>

#include "src/core/clock.h"
#include "src/core/event_kinds.h"
#include "src/os/errno_text.h"
#include "src/os/files.h"
#include "src/os/unique_fd.h"
#include "watchers/logtail/line_matcher.h"
#include "watchers/logtail/line_scanner.h"
#include "watchers/logtail/log_corpus.h"
#include "watchers/logtail/log_tailer.h"

namespace {

using aw::LogPattern;

int fail(const std::string& message) {
  std::fprintf(stderr, "logtail_throughput: %s\n", message.c_str());
  return 2;
}

bool read_file(const std::string& path, std::string& out, std::string& error) {
  const aw::UniqueFd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
  if (!fd) {
    error = path + ": " + aw::errno_text(errno);
    return false;
  }
  char buf[1 << 16];
  for (;;) {
    ssize_t n = read(fd.get(), buf, sizeof buf);
    if (n < 0) {
      if (errno == EINTR) continue;
      error = path + ": " + aw::errno_text(errno);
      return false;
    }
    if (n == 0) break;
    out.append(buf, static_cast<std::size_t>(n));
  }
  return true;
}

bool write_file(const std::string& path, const std::string& text, std::string& error) {
  const aw::UniqueFd fd(::open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644));
  if (!fd) {
    error = path + ": " + aw::errno_text(errno);
    return false;
  }
  if (aw::Status s = aw::write_all(fd.get(), text); !s.ok()) {
    error = path + ": " + aw::errno_text(-s.error().code);
    return false;
  }
  return true;
}

struct Totals {
  std::uint64_t lines = 0, matched = 0, bytes = 0;
};

Totals run_matcher(const std::string& text, const aw::LineMatcher& matcher) {
  Totals t;
  aw::LineScanner scanner(matcher, 64 * 1024);
  // The same chunking as the tailer's reads.
  constexpr std::size_t kChunk = 64 * 1024;
  for (std::size_t off = 0; off < text.size(); off += kChunk) {
    scanner.feed(std::string_view(text).substr(off, kChunk),
                 [&](std::string_view, bool, const std::vector<int>& hits) {
                   ++t.lines;
                   if (!hits.empty()) ++t.matched;
                 });
  }
  t.bytes = text.size();
  return t;
}

bool run_tailer(const std::string& path, const std::vector<LogPattern>& patterns, Totals& t,
                std::string& error) {
  struct stat st;
  char* real = realpath(path.c_str(), nullptr);  // the tailer wants an absolute path
  if (real == nullptr) {
    error = path + ": " + aw::errno_text(errno);
    return false;
  }
  const std::string abs_path = real;
  std::free(real);
  if (stat(abs_path.c_str(), &st) != 0) {
    error = path + ": " + aw::errno_text(errno);
    return false;
  }
  uv_loop_t loop;
  uv_loop_init(&loop);
  aw::SystemClock clock;
  std::uint64_t events = 0;
  bool ok = true;
  {
    aw::LogTailer tailer(&loop, clock, [&](const aw::Event& e) {
      if (e.kind == aw::kind::kLogLine) ++events;
      if (e.kind == aw::kind::kLogError) {
        error = e.fields.get_string("error").value_or("log.error");
        ok = false;
      }
    });
    aw::LogSpec spec;
    spec.name = "bench";
    spec.path = abs_path;
    spec.patterns = patterns;
    spec.from_start = true;
    if (aw::Status s = tailer.add_file(spec); !s.ok()) {
      error = s.error().message;
      ok = false;
    } else {
      tailer.start();
      while (ok && (tailer.position("bench").value_or(0) < static_cast<std::int64_t>(st.st_size) ||
                    tailer.reads_pending()))
        uv_run(&loop, UV_RUN_NOWAIT);  // the file is complete: only deferred reads remain
      const aw::LogTailStats stats = tailer.stats();
      t.lines = stats.lines;
      t.matched = stats.matched_lines;
      t.bytes = stats.bytes_read;
    }
  }
  uv_run(&loop, UV_RUN_DEFAULT);  // close callbacks
  uv_loop_close(&loop);
  (void)events;
  return ok;
}

}  // namespace

int main(int argc, char** argv) {
  std::vector<std::string> args(argv + 1, argv + argc);
  if (!args.empty() && args[0] == "--generate") {
    if (args.size() < 2) return fail("--generate needs a directory");
    std::size_t lines = 1'000'000, count = 100;
    for (std::size_t i = 2; i + 1 < args.size(); i += 2) {
      if (args[i] == "--lines")
        lines = std::stoul(args[i + 1]);
      else if (args[i] == "--patterns")
        count = std::stoul(args[i + 1]);
      else
        return fail("unknown option " + args[i]);
    }
    std::string pats, error;
    for (const auto& p : aw::log_corpus::patterns(count)) pats += p + "\n";
    if (!write_file(args[1] + "/patterns.txt", pats, error) ||
        !write_file(args[1] + "/log.txt", aw::log_corpus::log_text(lines, count), error))
      return fail(error);
    return 0;
  }
  if (args.size() < 2)
    return fail(
        "usage: logtail_throughput PATTERNS LOG [--mode tailer|matcher] | --generate DIR "
        "[--lines N] [--patterns N]");
  std::string mode = "tailer";
  for (std::size_t i = 2; i < args.size(); ++i) {
    if (args[i] == "--mode" && i + 1 < args.size())
      mode = args[++i];
    else
      return fail("unknown option " + args[i]);
  }
  if (mode != "tailer" && mode != "matcher")
    return fail("--mode " + mode + ": expected tailer or matcher");

  std::string text, error;
  if (!read_file(args[0], text, error)) return fail(error);
  std::vector<LogPattern> patterns;
  std::size_t line_no = 0;
  for (std::size_t pos = 0; pos < text.size();) {
    std::size_t nl = text.find('\n', pos);
    if (nl == std::string::npos) nl = text.size();
    ++line_no;
    std::string p = text.substr(pos, nl - pos);
    pos = nl + 1;
    if (p.empty()) continue;
    patterns.push_back({"p" + std::to_string(line_no), p});
  }
  auto matcher = aw::LineMatcher::compile(patterns, args[0]);
  if (!matcher.ok()) return fail(matcher.error().message);

  Totals t;
  double seconds = 0;
  if (mode == "matcher") {
    std::string log;
    if (!read_file(args[1], log, error)) return fail(error);
    const auto t0 = std::chrono::steady_clock::now();
    t = run_matcher(log, *matcher);
    seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  } else {
    const auto t0 = std::chrono::steady_clock::now();
    if (!run_tailer(args[1], patterns, t, error)) return fail(error);
    seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  }
  if (seconds <= 0) seconds = 1e-9;
  std::printf(
      "{\"mode\":\"%s\",\"lines\":%llu,\"matched\":%llu,\"bytes\":%llu,\"seconds\":%.6f,"
      "\"lines_per_s\":%.0f,\"mb_per_s\":%.1f}\n",
      mode.c_str(), static_cast<unsigned long long>(t.lines),
      static_cast<unsigned long long>(t.matched), static_cast<unsigned long long>(t.bytes), seconds,
      static_cast<double>(t.lines) / seconds, static_cast<double>(t.bytes) / seconds / 1e6);
  return 0;
}
