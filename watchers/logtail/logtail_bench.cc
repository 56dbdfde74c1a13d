// Lines per second through a log's patterns (issue #4: at least as fast as
// `grep -E -f patterns.txt file`; the bench harness runs logtail_throughput
// beside grep for that ratio). Here: the parts, in-process, on the corpus of
// log_corpus.h (100 patterns, ~1% matching lines):
//   BM_Scan            LineScanner: block prefilter, then the Set on candidate
//                      lines (what the tailer does)
//   BM_SetMatch        split + one RE2::Set pass on every line (no prefilter)
//   BM_EachPattern     split + each pattern's RE2 in turn (what one Set saves)
//   BM_ScanEvents      BM_Scan + the log.line Event of every match
//   BM_Tailer          a real LogTailer reading the corpus from a file
#include <benchmark/benchmark.h>
#include <re2/re2.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <memory>
#include <string>
#include <vector>

#include <uv.h>

#include "src/core/line_splitter.h"
#include "watchers/logtail/line_matcher.h"
#include "watchers/logtail/line_scanner.h"
#include "watchers/logtail/log_corpus.h"
#include "watchers/logtail/log_tailer.h"

namespace {

using aw::LineMatcher;
using aw::LineSplitter;
using aw::LogPattern;

constexpr std::size_t kLines = 200'000;

std::vector<LogPattern> bench_patterns(std::size_t count) {
  std::vector<LogPattern> out;
  std::size_t i = 0;
  for (auto& p : aw::log_corpus::patterns(count)) out.push_back({"p" + std::to_string(++i), p});
  return out;
}

const std::string& corpus() {
  static const std::string text = aw::log_corpus::log_text(kLines, 100);
  return text;
}

template <class OnLine>
void split_all(const std::string& text, OnLine&& on_line) {
  LineSplitter splitter(64 * 1024);
  for (std::size_t off = 0; off < text.size(); off += 64 * 1024)
    splitter.feed(std::string_view(text).substr(off, 64 * 1024), on_line);
}

void BM_SetMatch(benchmark::State& state) {
  auto matcher =
      LineMatcher::compile(bench_patterns(static_cast<std::size_t>(state.range(0))), "bench");
  if (!matcher.ok()) return state.SkipWithError(matcher.error().message.c_str());
  std::vector<int> hits;
  std::uint64_t matched = 0;
  for (auto _ : state) {
    split_all(corpus(), [&](std::string_view line, bool) {
      if (matcher->match(line, hits)) ++matched;
    });
  }
  benchmark::DoNotOptimize(matched);
  state.SetItemsProcessed(static_cast<std::int64_t>(state.iterations() * kLines));
  state.SetBytesProcessed(static_cast<std::int64_t>(state.iterations() * corpus().size()));
}
BENCHMARK(BM_SetMatch)->Arg(10)->Arg(100)->Unit(benchmark::kMillisecond);

void BM_EachPattern(benchmark::State& state) {
  std::vector<std::unique_ptr<RE2>> res;
  RE2::Options o;
  o.set_log_errors(false);
  for (auto& p : bench_patterns(static_cast<std::size_t>(state.range(0))))
    res.push_back(std::make_unique<RE2>(p.pattern, o));
  std::uint64_t matched = 0;
  for (auto _ : state) {
    split_all(corpus(), [&](std::string_view line, bool) {
      for (auto& re : res)
        if (RE2::PartialMatch(re2::StringPiece(line.data(), line.size()), *re)) {
          ++matched;
          break;
        }
    });
  }
  benchmark::DoNotOptimize(matched);
  state.SetItemsProcessed(static_cast<std::int64_t>(state.iterations() * kLines));
}
BENCHMARK(BM_EachPattern)->Arg(10)->Arg(100)->Unit(benchmark::kMillisecond);

template <class OnLine>
void scan_all(const LineMatcher& matcher, const std::string& text, OnLine&& on_line) {
  aw::LineScanner scanner(matcher, 64 * 1024);
  for (std::size_t off = 0; off < text.size(); off += 64 * 1024)
    scanner.feed(std::string_view(text).substr(off, 64 * 1024), on_line);
}

void BM_Scan(benchmark::State& state) {
  auto matcher =
      LineMatcher::compile(bench_patterns(static_cast<std::size_t>(state.range(0))), "bench");
  if (!matcher.ok()) return state.SkipWithError(matcher.error().message.c_str());
  std::uint64_t matched = 0;
  for (auto _ : state) {
    scan_all(*matcher, corpus(), [&](std::string_view, bool, const std::vector<int>& hits) {
      if (!hits.empty()) ++matched;
    });
  }
  benchmark::DoNotOptimize(matched);
  state.SetItemsProcessed(static_cast<std::int64_t>(state.iterations() * kLines));
  state.SetBytesProcessed(static_cast<std::int64_t>(state.iterations() * corpus().size()));
}
BENCHMARK(BM_Scan)->Arg(10)->Arg(100)->Unit(benchmark::kMillisecond);

void BM_ScanEvents(benchmark::State& state) {
  auto matcher = LineMatcher::compile(bench_patterns(100), "bench");
  if (!matcher.ok()) return state.SkipWithError(matcher.error().message.c_str());
  std::uint64_t events = 0;
  for (auto _ : state) {
    scan_all(*matcher, corpus(), [&](std::string_view line, bool, const std::vector<int>& hits) {
      for (int i : hits) {
        aw::Event e;
        e.kind = "log.line";
        e.fields.set("log", "bench");
        e.fields.set("pattern", matcher->id(i));
        e.fields.set("line", std::string(line));
        matcher->add_captures(i, line, e.fields);
        benchmark::DoNotOptimize(e);
        ++events;
      }
    });
  }
  benchmark::DoNotOptimize(events);
  state.SetItemsProcessed(static_cast<std::int64_t>(state.iterations() * kLines));
}
BENCHMARK(BM_ScanEvents)->Unit(benchmark::kMillisecond);

void BM_Tailer(benchmark::State& state) {
  char dir_tmpl[] = "/tmp/aw-logtail-bench-XXXXXX";
  if (mkdtemp(dir_tmpl) == nullptr) return state.SkipWithError("mkdtemp failed");
  const std::string dir = dir_tmpl, path = dir + "/log.txt";
  if (FILE* f = std::fopen(path.c_str(), "w")) {
    std::fwrite(corpus().data(), 1, corpus().size(), f);
    std::fclose(f);
  }
  const auto patterns = bench_patterns(100);
  aw::SystemClock clock;
  for (auto _ : state) {
    uv_loop_t loop;
    uv_loop_init(&loop);
    std::uint64_t events = 0;
    {
      aw::LogTailer tailer(&loop, clock, [&](const aw::Event&) { ++events; });
      if (!tailer.add_file({"bench", path, patterns, aw::Duration{0}, 64 * 1024, true, ""}).ok()) {
        state.SkipWithError("add_file failed");
        break;
      }
      tailer.start();
      while (tailer.position("bench").value_or(0) < static_cast<std::int64_t>(corpus().size()) ||
             tailer.reads_pending())
        uv_run(&loop, UV_RUN_NOWAIT);  // the file is complete: only deferred reads remain
    }
    uv_run(&loop, UV_RUN_DEFAULT);
    uv_loop_close(&loop);
    benchmark::DoNotOptimize(events);
  }
  unlink(path.c_str());
  rmdir(dir.c_str());
  state.SetItemsProcessed(static_cast<std::int64_t>(state.iterations() * kLines));
  state.SetBytesProcessed(static_cast<std::int64_t>(state.iterations() * corpus().size()));
}
BENCHMARK(BM_Tailer)->Unit(benchmark::kMillisecond);

}  // namespace

BENCHMARK_MAIN();
