// Time zones from the system's zoneinfo (TZif, RFC 8536), because gcc 12's
// libstdc++ has no std::chrono::tzdb. Agents print usage-limit resets as a
// wall-clock time in a named zone ("resets 4:20pm (Europe/London)") or in the
// machine's own; turning that into an instant needs the zone's UTC offsets.
//
// What is read: the transition times and the UTC offset of each local time
// type (v1, or the 64-bit block of v2+), and the footer's POSIX TZ string
// ("GMT0BST,M3.5.0/1,M10.5.0"), which gives the offsets after the last listed
// transition (slim TZif files list few and rely on it). Not read: leap seconds
// (a "right/" zone is read as if it had none: off by their count), abbreviation
// strings, the std/wall and UT/local indicators (only POSIX rules need those,
// and the footer says them itself).
//
// Limitations, documented rather than hidden: from_local() looks for the
// offsets in effect a day either side of the local time, so two transitions
// less than a day apart (none in current rules) can be resolved wrongly; a
// footer in a form this reader does not know makes the zone keep the last
// transition's offset forever (TimeZone::has_rule() says which).
//
// Pure except ZoneinfoDirectory, the thin reader that opens the files.
#pragma once

#include <chrono>
#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "src/core/clock.h"
#include "src/core/result.h"

namespace aw::agents {

// A date and time on a wall clock, without a zone.
struct CivilTime {
  int year = 1970;
  int month = 1;  // 1..12
  int day = 1;    // 1..31
  int hour = 0;   // 0..23
  int minute = 0;
  int second = 0;

  friend bool operator==(const CivilTime&, const CivilTime&) = default;
};

// True for a real calendar date and a time within 00:00:00..23:59:59.
bool valid_civil_time(const CivilTime& c);

// A POSIX TZ rule: standard offset, and optionally a daylight offset with the
// two yearly changes. Offsets are seconds east of UTC (local = UTC + offset),
// the opposite sign of the POSIX text.
struct PosixTzRule {
  struct Change {
    enum class Kind : std::uint8_t { kJulianNoLeap, kZeroBasedDay, kMonthWeekDay };
    Kind kind = Kind::kMonthWeekDay;
    int day = 0;               // Jn: 1..365; n: 0..365; M: weekday 0 (Sunday)..6
    int month = 0;             // M only: 1..12
    int week = 0;              // M only: 1..5 (5 = last)
    std::int32_t time = 7200;  // seconds after local midnight; may be negative or > 24h (v3)
  };
  std::int32_t std_offset = 0;
  std::optional<std::int32_t> dst_offset;  // absent: no daylight saving
  Change start;                            // into daylight time (in standard time)
  Change end;                              // back to standard time (in daylight time)
};

// Parses a POSIX TZ string such as "EST5EDT,M3.2.0,M11.1.0" or "<+0530>-5:30".
// nullopt when it is not one this reader understands.
std::optional<PosixTzRule> parse_posix_tz(std::string_view s);

class TimeZone {
 public:
  static TimeZone utc();
  // A zone that is always `offset` east of UTC, e.g. "GMT-3" as -3h.
  static TimeZone fixed(std::string name, std::chrono::seconds offset);
  // Parses TZif data (v1, v2, v3 or v4). `name` is what errors and name() say.
  static Result<TimeZone> from_tzif(std::string_view bytes, std::string name);

  const std::string& name() const { return name_; }
  // Whether offsets after the last transition come from a footer rule.
  bool has_rule() const { return rule_.has_value(); }

  // The offset east of UTC in effect at `t`.
  std::chrono::seconds offset_at(WallTime t) const;
  // What a wall clock in this zone reads at `t` (whole seconds).
  CivilTime to_local(WallTime t) const;
  // The instant a wall clock in this zone reads `local`. When it reads it
  // twice (clocks go back), the earlier; when never (clocks go forward over
  // it), the instant it would be by the offset before the change, which a wall
  // clock shows as `local` plus the gap. `local` must be valid_civil_time().
  WallTime from_local(const CivilTime& local) const;

 private:
  std::int32_t offset_at_seconds(std::int64_t t) const;
  std::int32_t rule_offset_at(std::int64_t t) const;

  std::string name_;
  std::int32_t initial_offset_ = 0;         // before the first transition
  std::vector<std::int64_t> trans_;         // UTC seconds, ascending
  std::vector<std::int32_t> trans_offset_;  // offset from trans_[i] on
  std::optional<PosixTzRule> rule_;         // after the last transition
};

// A zone name as `TZ=` or "(Europe/London)" names it, safe to append to the
// zoneinfo root: [A-Za-z0-9_+-] components separated by single '/', not
// starting or ending with '/', no "." or ".." component, at most 128 bytes.
bool valid_zone_name(std::string_view name);

// Where reset_time.h finds zones. Lookups may fail: nullptr then.
class ZoneLookup {
 public:
  virtual ~ZoneLookup() = default;
  // The zone called `name` (e.g. "Europe/London"), or nullptr.
  virtual const TimeZone* find(std::string_view name) = 0;
  // The machine's own zone, or nullptr.
  virtual const TimeZone* local() = 0;
};

// Reads zones from a zoneinfo directory (Debian's tzdata: /usr/share/zoneinfo)
// and the local zone from /etc/localtime; `root` and `localtime` are
// parameters so tests can point elsewhere. Each file is read once, on first
// use (a few KiB, blocking: preload at start-up what must not wait, e.g.
// local()); failures are remembered too and are retried never. Not
// thread-safe. Pointers stay valid as long as the directory object.
class ZoneinfoDirectory final : public ZoneLookup {
 public:
  explicit ZoneinfoDirectory(std::string root = "/usr/share/zoneinfo",
                             std::string localtime = "/etc/localtime");

  const TimeZone* find(std::string_view name) override;
  const TimeZone* local() override;

  // Like find(), with why it failed: an invalid name, a missing or unreadable
  // file, or bad TZif data (the error names the file).
  Result<const TimeZone*> load(std::string_view name);

 private:
  Result<const TimeZone*> load_file(const std::string& key, const std::string& path,
                                    std::string name);

  std::string root_;
  std::string localtime_;
  std::map<std::string, std::unique_ptr<TimeZone>, std::less<>> zones_;
  std::map<std::string, Error, std::less<>> failures_;
};

}  // namespace aw::agents
