#include "src/core/byte_size.h"

#include <cctype>
#include <charconv>
#include <cmath>

namespace aw {
namespace {

char lower(char c) {
  return static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
}

}  // namespace

Result<std::uint64_t> parse_byte_size(std::string_view s) {
  auto bad = [&](std::string_view why) {
    return make_error("invalid size \"" + std::string(s) + "\": " + std::string(why) +
                      " (expected e.g. \"4096\", \"512k\", \"10MB\", \"1GiB\"; units are "
                      "powers of 1024)");
  };
  if (s.empty()) return bad("empty");
  std::size_t i = 0;
  while (i < s.size() && (std::isdigit(static_cast<unsigned char>(s[i])) || s[i] == '.')) ++i;
  if (i == 0) return bad("expected a number first");
  std::string_view number = s.substr(0, i);
  std::string_view unit = s.substr(i);

  std::uint64_t scale = 1;
  if (!unit.empty()) {
    int power = -1;
    switch (lower(unit[0])) {
      case 'b':
        power = unit.size() == 1 ? 0 : -1;
        break;
      case 'k':
        power = 1;
        break;
      case 'm':
        power = 2;
        break;
      case 'g':
        power = 3;
        break;
      case 't':
        power = 4;
        break;
      default:
        break;
    }
    if (power > 0) {
      std::string_view rest = unit.substr(1);
      bool ok = rest.empty() || (rest.size() == 1 && lower(rest[0]) == 'b') ||
                (rest.size() == 2 && lower(rest[0]) == 'i' && lower(rest[1]) == 'b');
      if (!ok) power = -1;
    }
    if (power < 0) return bad("unknown unit \"" + std::string(unit) + "\"");
    for (int p = 0; p < power; ++p) scale *= 1024;
  }

  if (number.find('.') == std::string_view::npos) {
    std::uint64_t n = 0;
    auto [ptr, ec] = std::from_chars(number.data(), number.data() + number.size(), n);
    if (ec == std::errc::result_out_of_range) return bad("too large");
    if (ec != std::errc() || ptr != number.data() + number.size()) return bad("malformed number");
    if (n > UINT64_MAX / scale) return bad("too large");
    return n * scale;
  }
  double value = 0;
  auto [ptr, ec] = std::from_chars(number.data(), number.data() + number.size(), value);
  if (ec != std::errc() || ptr != number.data() + number.size() || !std::isfinite(value))
    return bad("malformed number");
  long double bytes = static_cast<long double>(value) * static_cast<long double>(scale);
  if (bytes >= 18446744073709551615.0L) return bad("too large");
  return static_cast<std::uint64_t>(std::floor(bytes));
}

std::string format_byte_size(std::uint64_t bytes) {
  static constexpr const char* kUnits[] = {"B", "KiB", "MiB", "GiB", "TiB"};
  if (bytes == 0) return "0B";
  int unit = 4;
  std::uint64_t scale = 1ull << 40;
  // The largest unit that shows the value exactly with at most 3 decimals.
  for (; unit > 0; --unit, scale >>= 10) {
    if (bytes < scale) continue;
    if ((bytes * 1000) / 1000 != bytes) continue;  // would overflow below
    if ((bytes * 1000) % scale == 0) break;
  }
  if (unit == 0) return std::to_string(bytes) + "B";
  std::uint64_t whole = bytes / scale;
  std::uint64_t milli = (bytes % scale) * 1000 / scale;
  std::string out = std::to_string(whole);
  if (milli != 0) {
    std::string frac = std::to_string(milli);
    frac.insert(0, 3 - frac.size(), '0');
    while (frac.back() == '0') frac.pop_back();
    out += "." + frac;
  }
  return out + kUnits[unit];
}

}  // namespace aw
