// Human durations as rule files and flags spell them: "250ms", "30s", "5m", "1h30m", "7d".
#pragma once

#include <string>
#include <string_view>

#include "src/core/clock.h"
#include "src/core/result.h"

namespace aw {

// Units: ns, us, ms, s, m, h, d. A bare "0" is zero. Fractions allowed ("1.5s").
Result<Duration> parse_duration(std::string_view s);
// The shortest exact spelling, e.g. 90s → "1m30s", 1500ms → "1.5s".
std::string format_duration(Duration d);

}  // namespace aw
