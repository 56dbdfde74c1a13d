// When an agent's usage limit lifts, read from what the agent printed
// (docs/agents.md, "Reset times"). The forms, first match wins:
//
//   "Claude AI usage limit reached|1767225600"   epoch seconds after '|'
//   "2026-04-01 at 00:00 UTC", "2026-04-01T00:00:00Z", "...+02:00"
//                                                 ISO date and time; no zone = local
//   "try again in 5 days 22 hours 11 minutes", "Resets in 8h 6m"
//                                                 `now` plus the amounts
//   "resets 4:20pm (Europe/London)", "resets 4pm", "reset at 5pm (Etc/GMT+5)",
//   "resets 10:57 PM GMT-3", "resets 16:20 (UTC)" the next such wall-clock time at
//                                                 or after `now` in that zone
//   "resets Feb 20, 5pm (Africa/Libreville)", "resets Sep 15 at 7pm",
//   "try again at Jul 5th, 2026 8:19 PM"         that date (this year, or next
//                                                 year when more than a day past)
//
// A zone in parentheses is a zoneinfo name, looked up through `zones`; "GMT-3"
// and "UTC+5:30" are fixed offsets in the everyday sense (GMT-3 is three hours
// behind); no zone means the machine's own (`zones.local()`).
//
// Never invented: nullopt when the text has none of these forms, a zone cannot
// be found, a date does not exist, or a relative time is cut off ("try again in
// 5 days 22 hours 11" with "minutes." wrapped onto the next line: the amount is
// unknown, and a guess would resume the agent too early).
//
// Pure apart from what `zones` reads (ZoneinfoDirectory reads a zone file the
// first time it is named).
#pragma once

#include <optional>
#include <string_view>

#include "src/agents/time_zone.h"
#include "src/core/clock.h"

namespace aw::agents {

std::optional<WallTime> parse_reset_time(std::string_view text, WallTime now, ZoneLookup& zones);

}  // namespace aw::agents
