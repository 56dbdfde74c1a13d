// Byte sizes as rule files spell them: "10MB", "512k", "1GiB", "4096".
//
// Every unit is a power of 1024, as in logrotate and systemd: a log limit of
// "10MB" is 10 MiB. The unit letters are case-insensitive and "B"/"iB" after
// them is optional, so "512k", "512K", "512KB" and "512KiB" are all 524288.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "src/core/result.h"

namespace aw {

// Units: B (or none) = 1; K = 1024; M = 1024²; G = 1024³; T = 1024⁴, each
// optionally followed by "B" or "iB". A fraction is allowed ("1.5G") and is
// rounded down to whole bytes. No spaces, no sign. Errors say what was expected.
Result<std::uint64_t> parse_byte_size(std::string_view s);

// The shortest exact spelling with a binary unit: 1048576 → "1MiB",
// 1536 → "1.5KiB" when exact to 3 decimals, else plain bytes ("1000B").
std::string format_byte_size(std::uint64_t bytes);

}  // namespace aw
