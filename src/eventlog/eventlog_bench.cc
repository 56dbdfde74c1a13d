// Event-log throughput: appends on the loop thread, and the reader over a
// generated 100k-line log (plain and gzip), with and without a filter, and with
// the readable formatting `agentwatch events` prints. Compare the filtered read
// with `jq -c 'select(.kind=="file.landed")' events.jsonl`.
#include <benchmark/benchmark.h>
#include <dirent.h>
#include <sys/stat.h>
#include <unistd.h>
#include <uv.h>
#include <zlib.h>

#include <cstdlib>
#include <fstream>
#include <sstream>
#include <string>

#include "src/core/event.h"
#include "src/eventlog/event_filter.h"
#include "src/eventlog/event_format.h"
#include "src/eventlog/event_log_reader.h"
#include "src/eventlog/event_log_writer.h"

namespace aw {
namespace {

constexpr int kLines = 100'000;

Event sample_event(std::uint64_t n) {
  static const char* kKinds[] = {"file.landed", "proc.exited",   "action.succeeded", "log.grew",
                                 "timer.fired", "action.failed", "notify.received",  "log.grew",
                                 "file.landed", "heartbeat.seen"};
  Event e;
  e.kind = kKinds[n % 10];
  e.source = "inotify";
  e.seq = n;
  e.time = WallTime(std::chrono::seconds(1'795'305'600)) + std::chrono::milliseconds(n * 37);
  e.path = "/home/agent/fleet/worker-" + std::to_string(n % 16) + "/results/task-" +
           std::to_string(n) + ".json";
  e.entity = "worker-" + std::to_string(n % 16);
  e.fields.set("via", "close_write");
  e.fields.set("size", static_cast<std::int64_t>(n * 13 % 100'000));
  if (n % 10 == 5) e.fields.set("ok", false);
  if (n % 7 == 0) {
    e.cause = n - 1;
    e.rule = "collect-results";
    e.depth = 1;
  }
  return e;
}

std::string make_temp_dir() {
  char tmpl[] = "/tmp/aw-eventlog-bench-XXXXXX";
  const char* p = ::mkdtemp(tmpl);
  if (!p) std::abort();
  return p;
}

void remove_dir(const std::string& dir) {
  if (DIR* d = ::opendir(dir.c_str())) {
    while (const dirent* e = ::readdir(d)) {
      const std::string name = e->d_name;
      if (name != "." && name != "..") ::unlink((dir + "/" + name).c_str());
    }
    ::closedir(d);
  }
  ::rmdir(dir.c_str());
}

// The generated log, built once: <dir>/plain/events.jsonl and
// <dir>/gzip/events.000001.jsonl.gz holding the same 100k lines.
struct GeneratedLog {
  std::string root = make_temp_dir();
  std::string plain_dir = root + "/plain";
  std::string gzip_dir = root + "/gzip";
  std::size_t bytes = 0;

  GeneratedLog() {
    ::mkdir(plain_dir.c_str(), 0700);
    ::mkdir(gzip_dir.c_str(), 0700);
    std::string all;
    for (int i = 1; i <= kLines; ++i)
      all += to_json_line(sample_event(static_cast<std::uint64_t>(i)));
    bytes = all.size();
    std::ofstream(plain_dir + "/events.jsonl", std::ios::binary) << all;
    gzFile gz = ::gzopen((gzip_dir + "/events.000001.jsonl.gz").c_str(), "wb6");
    ::gzwrite(gz, all.data(), static_cast<unsigned>(all.size()));
    ::gzclose(gz);
  }
  ~GeneratedLog() {
    remove_dir(plain_dir);
    remove_dir(gzip_dir);
    ::rmdir(root.c_str());
  }
};

GeneratedLog& generated() {
  static GeneratedLog log;
  return log;
}

void BM_Append(benchmark::State& state) {
  const std::string dir = make_temp_dir();
  uv_loop_t loop;
  uv_loop_init(&loop);
  {
    EventLogWriterOptions o;
    o.dir = dir;
    o.max_bytes = 1ull << 40;  // no rotation: measure the append path only
    auto w = EventLogWriter::open(&loop, o);
    if (!w) {
      state.SkipWithError(w.error().message.c_str());
      return;
    }
    const Event e = sample_event(12345);
    for (auto _ : state) benchmark::DoNotOptimize((*w)->append(e));
    state.SetItemsProcessed(state.iterations());
    state.SetBytesProcessed(static_cast<std::int64_t>((*w)->stats().bytes_written));
  }
  uv_run(&loop, UV_RUN_DEFAULT);
  uv_loop_close(&loop);
  remove_dir(dir);
}
BENCHMARK(BM_Append);

void BM_AppendMany(benchmark::State& state) {
  const std::string dir = make_temp_dir();
  uv_loop_t loop;
  uv_loop_init(&loop);
  {
    EventLogWriterOptions o;
    o.dir = dir;
    o.max_bytes = 1ull << 40;
    auto w = EventLogWriter::open(&loop, o);
    if (!w) {
      state.SkipWithError(w.error().message.c_str());
      return;
    }
    std::vector<Event> batch;
    batch.reserve(state.range(0));
    for (int i = 0; i < state.range(0); ++i)
      batch.push_back(sample_event(static_cast<std::uint64_t>(i)));
    for (auto _ : state) benchmark::DoNotOptimize((*w)->append_many(batch));
    state.SetItemsProcessed(state.iterations() * state.range(0));
    state.SetBytesProcessed(static_cast<std::int64_t>((*w)->stats().bytes_written));
  }
  uv_run(&loop, UV_RUN_DEFAULT);
  uv_loop_close(&loop);
  remove_dir(dir);
}
BENCHMARK(BM_AppendMany)->Arg(64);

void read_bench(benchmark::State& state, const std::string& dir, const EventFilterSpec& spec) {
  auto filter = EventFilter::compile(spec);
  std::size_t matched = 0;
  for (auto _ : state) {
    EventLogReader reader(dir);
    matched = 0;
    Status s = reader.read_history([&](const LogRecord& r) {
      matched += filter->matches(r) ? 1 : 0;
      return true;
    });
    if (!s || reader.stats().records != static_cast<std::uint64_t>(kLines))
      state.SkipWithError("short read");
  }
  state.counters["matched"] = static_cast<double>(matched);
  state.SetItemsProcessed(state.iterations() * kLines);
  state.SetBytesProcessed(state.iterations() * static_cast<std::int64_t>(generated().bytes));
}

void BM_ReadAll(benchmark::State& state) {
  read_bench(state, generated().plain_dir, {});
}
BENCHMARK(BM_ReadAll)->Unit(benchmark::kMillisecond);

void BM_ReadFilterKind(benchmark::State& state) {
  EventFilterSpec spec;
  spec.kinds = {"file.landed"};
  read_bench(state, generated().plain_dir, spec);
}
BENCHMARK(BM_ReadFilterKind)->Unit(benchmark::kMillisecond);

void BM_ReadFilterFailedSince(benchmark::State& state) {
  EventFilterSpec spec;
  spec.failed_only = true;
  spec.since = sample_event(kLines / 2).time;
  read_bench(state, generated().plain_dir, spec);
}
BENCHMARK(BM_ReadFilterFailedSince)->Unit(benchmark::kMillisecond);

void BM_ReadGzipFilterKind(benchmark::State& state) {
  EventFilterSpec spec;
  spec.kinds = {"file.landed"};
  read_bench(state, generated().gzip_dir, spec);
}
BENCHMARK(BM_ReadGzipFilterKind)->Unit(benchmark::kMillisecond);

// What `agentwatch events --kind file.landed` does per line, readable output
// included: read, filter, parse the matching lines and format them.
void BM_ReadFilterFormatReadable(benchmark::State& state) {
  EventFilterSpec spec;
  spec.kinds = {"file.landed"};
  auto filter = EventFilter::compile(spec);
  const EventFormatOptions format{false};
  for (auto _ : state) {
    EventLogReader reader(generated().plain_dir);
    std::ostringstream out;
    Status s = reader.read_history([&](const LogRecord& r) {
      if (!filter->matches(r)) return true;
      if (auto event = parse_event_json(r.line))
        out << format_event_line(*event, format) << '\n';
      else
        out << "?  " << r.line << '\n';
      return true;
    });
    if (!s) state.SkipWithError("short read");
    std::string text = out.str();
    benchmark::DoNotOptimize(text);
  }
  state.SetBytesProcessed(state.iterations() * static_cast<std::int64_t>(generated().bytes));
}
BENCHMARK(BM_ReadFilterFormatReadable)->Unit(benchmark::kMillisecond);

}  // namespace
}  // namespace aw

BENCHMARK_MAIN();
