// Decoder throughput, beside the floor it is compared to: a bare walk over the
// same buffer that only reads each header (what any inotify reader must do).
// Report the ratio, not the absolute time (DESIGN §7).
#include <benchmark/benchmark.h>
#include <sys/inotify.h>

#include <cstring>
#include <string>
#include <vector>

#include "watchers/inotify_decoder.h"

namespace {

std::vector<std::uint8_t> make_buffer(std::size_t records) {
  std::vector<std::uint8_t> buf;
  for (std::size_t i = 0; i < records; ++i) {
    std::string name = "result-" + std::to_string(i) + ".json";
    struct inotify_event ev {};
    ev.wd = 1 + static_cast<int>(i % 7);
    ev.mask = (i % 2) ? IN_CLOSE_WRITE : IN_CREATE;
    ev.len = static_cast<std::uint32_t>((name.size() + 1 + 15) / 16 * 16);
    const auto* p = reinterpret_cast<const std::uint8_t*>(&ev);
    buf.insert(buf.end(), p, p + sizeof ev);
    std::vector<std::uint8_t> padded(ev.len, 0);
    std::memcpy(padded.data(), name.data(), name.size());
    buf.insert(buf.end(), padded.begin(), padded.end());
  }
  return buf;
}

// Floor: the header walk alone, no records built.
void BM_BareHeaderWalk(benchmark::State& state) {
  const auto buf = make_buffer(static_cast<std::size_t>(state.range(0)));
  for (auto _ : state) {
    std::uint64_t acc = 0;
    std::size_t off = 0;
    while (off + sizeof(struct inotify_event) <= buf.size()) {
      struct inotify_event ev;
      std::memcpy(&ev, buf.data() + off, sizeof ev);
      acc += ev.mask + static_cast<std::uint64_t>(ev.wd);
      off += sizeof ev + ev.len;
    }
    benchmark::DoNotOptimize(acc);
  }
  state.SetItemsProcessed(state.iterations() * state.range(0));
  state.SetBytesProcessed(state.iterations() * static_cast<std::int64_t>(buf.size()));
}
BENCHMARK(BM_BareHeaderWalk)->Arg(64)->Arg(1024);

void BM_InotifyDecode(benchmark::State& state) {
  const auto buf = make_buffer(static_cast<std::size_t>(state.range(0)));
  std::vector<aw::InotifyRecord> out;
  out.reserve(static_cast<std::size_t>(state.range(0)));
  for (auto _ : state) {
    out.clear();
    auto r = aw::InotifyDecoder::decode(buf, out);
    benchmark::DoNotOptimize(r.consumed);
    benchmark::DoNotOptimize(out.data());
  }
  state.SetItemsProcessed(state.iterations() * state.range(0));
  state.SetBytesProcessed(state.iterations() * static_cast<std::int64_t>(buf.size()));
}
BENCHMARK(BM_InotifyDecode)->Arg(64)->Arg(1024);

}  // namespace

BENCHMARK_MAIN();
