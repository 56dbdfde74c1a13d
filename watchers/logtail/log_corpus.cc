#include "watchers/logtail/log_corpus.h"

#include <cstdint>
#include <cstdio>

namespace aw::log_corpus {
namespace {

// splitmix64: deterministic and the same everywhere (unlike std::*_distribution).
struct Rng {
  std::uint64_t s;
  std::uint64_t next() {
    std::uint64_t z = (s += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
  }
  std::uint64_t below(std::uint64_t n) { return next() % n; }
};

std::string format(const char* fmt, std::uint64_t a, std::uint64_t b = 0, std::uint64_t c = 0) {
  char buf[256];
  const int n =
      std::snprintf(buf, sizeof buf, fmt, static_cast<unsigned long long>(a),
                    static_cast<unsigned long long>(b), static_cast<unsigned long long>(c));
  return std::string(buf, n > 0 ? static_cast<std::size_t>(n) : 0);
}

// A line that matches pattern `i` (see patterns()).
std::string matching_line(std::size_t i, Rng& rng) {
  const std::uint64_t k = i;
  switch (i % 5) {
    case 0:
      return format(
          "2026-11-22T11:20:39.123Z ERROR worker-%03llu: task %llu failed with status %llu\n", k,
          rng.below(100000), 1 + rng.below(200));
    case 1:
      return format(
          "2026-11-22T11:20:39.123Z FATAL panic: runtime error: index out of range (svc%llu) at "
          "%llu\n",
          k, rng.below(1000));
    case 2:
      return format("E%04llu 11:20:39.123 step %llu of subsystem%llu could not be completed\n",
                    rng.below(10000), rng.below(100), k);
    case 3:
      return format("2026-11-22T11:20:39.123Z WARN heartbeat-missed id=%llu; last seen %llus ago\n",
                    k, rng.below(900));
    default:
      return format("2026-11-22T11:20:39.123Z WARN deadline exceeded after %llums on shard%llu\n",
                    rng.below(60000), k);
  }
}

}  // namespace

std::vector<std::string> patterns(std::size_t count) {
  std::vector<std::string> out;
  out.reserve(count);
  for (std::size_t i = 0; i < count; ++i) {
    const std::uint64_t k = i;
    switch (i % 5) {
      case 0:
        out.push_back(format("worker-%03llu: task [0-9]+ failed", k));
        break;
      case 1:
        out.push_back(format("panic: runtime error: [a-z ]+ \\(svc%llu\\)", k));
        break;
      case 2:
        out.push_back(format("^E[0-9]{4} .* of subsystem%llu ", k));
        break;
      case 3:
        out.push_back(format("heartbeat-missed id=%llu[^0-9]", k));
        break;
      default:
        out.push_back(format("(timeout|deadline exceeded) after [0-9]+ms on shard%llu$", k));
    }
  }
  return out;
}

std::string log_text(std::size_t lines, std::size_t pattern_count) {
  static const char* const kLevels[] = {"INFO", "INFO", "INFO", "DEBUG", "WARN"};
  static const char* const kWords[] = {"processed item",  "fetched page",  "wrote chunk",
                                       "committed batch", "parsed record", "sent reply"};
  Rng rng{42};
  std::string out;
  out.reserve(lines * 104);
  for (std::size_t n = 0; n < lines; ++n) {
    if (pattern_count > 0 && rng.below(100) == 0) {
      out += matching_line(rng.below(pattern_count), rng);
      continue;
    }
    const std::uint64_t ms = n * 7;
    char buf[192];
    const int len = std::snprintf(
        buf, sizeof buf,
        "2026-11-22T%02llu:%02llu:%02llu.%03lluZ %s worker-%03llu step=%llu %s %llu in %llums ok\n",
        static_cast<unsigned long long>(ms / 3600000 % 24),
        static_cast<unsigned long long>(ms / 60000 % 60),
        static_cast<unsigned long long>(ms / 1000 % 60), static_cast<unsigned long long>(ms % 1000),
        kLevels[rng.below(5)], static_cast<unsigned long long>(rng.below(1000)),
        static_cast<unsigned long long>(n), kWords[rng.below(6)],
        static_cast<unsigned long long>(rng.below(1000000)),
        static_cast<unsigned long long>(rng.below(500)));
    out.append(buf, len > 0 ? static_cast<std::size_t>(len) : 0);
  }
  return out;
}

}  // namespace aw::log_corpus
