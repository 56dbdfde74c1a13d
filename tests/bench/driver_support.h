// What the benchmark drivers (latency_driver, restart_driver, notify_driver)
// all need: a monotonic clock in ns, dying with a message, splitting option
// values, nearest-rank percentiles and the raw-sample files that
// tests/bench/run summarises. Header-only: each driver is one small program.
#pragma once

#include <errno.h>  // program_invocation_short_name (glibc)
#include <time.h>

#include <algorithm>
#include <cinttypes>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

namespace bench {

inline std::int64_t mono_ns() {
  timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return std::int64_t{ts.tv_sec} * 1'000'000'000 + ts.tv_nsec;
}

// "<program>: <what>" on stderr, exit 1.
[[noreturn]] inline void die(const std::string& what) {
  std::fprintf(stderr, "%s: %s\n", program_invocation_short_name, what.c_str());
  std::exit(1);
}

[[noreturn]] inline void die_errno(const std::string& what) {
  die(what + ": " + std::strerror(errno));
}

inline std::vector<std::string> split(const std::string& s, char sep) {
  std::vector<std::string> parts;
  std::size_t start = 0;
  for (std::size_t at; (at = s.find(sep, start)) != std::string::npos; start = at + 1)
    parts.push_back(s.substr(start, at - start));
  parts.push_back(s.substr(start));
  return parts;
}

// Nearest rank: the smallest sample with at least p of the samples at or below it.
inline std::int64_t percentile(const std::vector<std::int64_t>& sorted, double p) {
  std::size_t rank = static_cast<std::size_t>(p * static_cast<double>(sorted.size()) + 0.999999);
  rank = std::clamp<std::size_t>(rank, 1, sorted.size());
  return sorted[rank - 1];
}

// Appends the samples to `path`, one per line (the run script reads them back).
inline void append_samples(const std::string& path, const std::vector<std::int64_t>& samples) {
  FILE* f = std::fopen(path.c_str(), "a");
  if (f == nullptr) die_errno("open " + path);
  for (std::int64_t v : samples) std::fprintf(f, "%" PRId64 "\n", v);
  std::fclose(f);
}

}  // namespace bench
