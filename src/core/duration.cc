#include "src/core/duration.h"

#include <cctype>
#include <charconv>
#include <cmath>

namespace aw {

Result<Duration> parse_duration(std::string_view s) {
  auto bad = [&](std::string_view why) {
    return make_error("invalid duration \"" + std::string(s) + "\": " + std::string(why) +
                      " (expected e.g. \"250ms\", \"30s\", \"5m\", \"1h30m\")");
  };
  if (s.empty()) return bad("empty");
  if (s == "0") return Duration::zero();
  long double total_ns = 0;
  std::size_t i = 0;
  while (i < s.size()) {
    std::size_t start = i;
    while (i < s.size() && (std::isdigit(static_cast<unsigned char>(s[i])) || s[i] == '.')) ++i;
    if (start == i) return bad("expected a number");
    double value = 0;
    auto [ptr, ec] = std::from_chars(s.data() + start, s.data() + i, value);
    if (ec != std::errc() || ptr != s.data() + i) return bad("malformed number");
    std::size_t unit_start = i;
    while (i < s.size() && std::isalpha(static_cast<unsigned char>(s[i]))) ++i;
    std::string_view unit = s.substr(unit_start, i - unit_start);
    long double scale;
    if (unit == "ns")
      scale = 1;
    else if (unit == "us")
      scale = 1e3;
    else if (unit == "ms")
      scale = 1e6;
    else if (unit == "s")
      scale = 1e9;
    else if (unit == "m")
      scale = 60e9;
    else if (unit == "h")
      scale = 3600e9;
    else if (unit == "d")
      scale = 86400e9;
    else if (unit.empty())
      return bad("missing unit");
    else
      return bad("unknown unit \"" + std::string(unit) + "\"");
    total_ns += static_cast<long double>(value) * scale;
  }
  if (total_ns > 9.2e18L) return bad("too large");
  return Duration(static_cast<std::int64_t>(std::llround(static_cast<double>(total_ns))));
}

std::string format_duration(Duration d) {
  std::int64_t ns = d.count();
  if (ns == 0) return "0s";
  std::string out;
  if (ns < 0) {
    out.push_back('-');
    ns = -ns;
  }
  if (ns < 1'000'000'000) {
    if (ns % 1'000'000 == 0) return out + std::to_string(ns / 1'000'000) + "ms";
    if (ns % 1'000 == 0) return out + std::to_string(ns / 1'000) + "us";
    return out + std::to_string(ns) + "ns";
  }
  const std::int64_t day = 86400'000'000'000, hour = 3600'000'000'000, minute = 60'000'000'000,
                     sec = 1'000'000'000;
  if (ns >= day && ns % day == 0) return out + std::to_string(ns / day) + "d";
  if (ns >= hour) {
    out += std::to_string(ns / hour) + "h";
    ns %= hour;
  }
  if (ns >= minute) {
    out += std::to_string(ns / minute) + "m";
    ns %= minute;
  }
  if (ns > 0) {
    out += std::to_string(ns / sec);
    std::int64_t frac_ms = (ns % sec) / 1'000'000;
    if (frac_ms) {
      std::string f = std::to_string(frac_ms + 1000).substr(1);
      while (!f.empty() && f.back() == '0') f.pop_back();
      out += "." + f;
    }
    out += "s";
  }
  return out;
}

}  // namespace aw
