#include "src/core/disk_threshold.h"

#include <cctype>
#include <charconv>
#include <string>
#include <system_error>

#include "src/core/byte_size.h"

namespace aw {

Result<DiskThreshold> parse_disk_threshold(std::string_view text) {
  const std::string quoted = "\"" + std::string(text) + "\"";
  constexpr const char* kExpected =
      "expected a percentage of the filesystem such as \"10%\" or a size of free space such as "
      "\"5GiB\" or \"500MB\"";
  if (text.empty()) return make_error(std::string("empty disk threshold: ") + kExpected);
  if (text.back() == '%') {
    const std::string_view number = text.substr(0, text.size() - 1);
    double value = 0;
    bool plain = !number.empty() && number.find_first_not_of("0123456789.") == std::string::npos;
    if (plain) {
      auto [ptr, ec] = std::from_chars(number.data(), number.data() + number.size(), value);
      plain = ec == std::errc() && ptr == number.data() + number.size();
    }
    if (!plain)
      return make_error("invalid disk threshold " + quoted +
                        ": expected a number before the '%', such as \"10%\" or \"2.5%\"");
    if (!(value > 0 && value <= 100))
      return make_error("invalid disk threshold " + quoted +
                        ": a percentage must be more than 0% and at most 100%");
    return DiskThreshold{.percent = value};
  }
  if (std::isdigit(static_cast<unsigned char>(text.front())) == 0 && text.front() != '.')
    return make_error("invalid disk threshold " + quoted + ": " + kExpected);
  Result<std::uint64_t> bytes = parse_byte_size(text);
  if (!bytes) return make_error("invalid disk threshold: " + bytes.error().message);
  if (*bytes == 0)
    return make_error("invalid disk threshold " + quoted +
                      ": a size must be more than 0 bytes (free space is never below nothing)");
  return DiskThreshold{.bytes = *bytes};
}

bool below_threshold(const DiskSpace& d, const DiskThreshold& t) {
  if (t.bytes > 0) return d.free_bytes < t.bytes;
  if (t.percent <= 0 || d.total_bytes == 0) return false;
  return static_cast<long double>(d.free_bytes) * 100.0L <
         static_cast<long double>(t.percent) * static_cast<long double>(d.total_bytes);
}

}  // namespace aw
