#include "src/agents/reset_time.h"

#include <re2/re2.h>

#include <array>
#include <charconv>
#include <string>

namespace aw::agents {
namespace {

using std::chrono::seconds;
// This RE2 (Debian 12) takes StringPiece out-parameters; it converts to and
// from std::string_view.
using Piece = re2::StringPiece;

std::optional<long long> to_number(std::string_view s) {
  long long v = 0;
  const auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
  if (ec != std::errc() || p != s.data() + s.size()) return std::nullopt;
  return v;
}

std::string lower(std::string_view s) {
  std::string out(s);
  for (char& c : out)
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
  return out;
}

// ---- |<epoch> ----

std::optional<WallTime> epoch_form(std::string_view text) {
  static const RE2 re(R"(\|(\d{10})(?:\D|$))");
  Piece digits;
  if (!RE2::PartialMatch(text, re, &digits)) return std::nullopt;
  auto v = to_number(digits);
  if (!v) return std::nullopt;
  return WallTime(seconds(*v));
}

// "+05:30", "-3", "+0530" (the everyday sense: east of UTC is positive).
std::optional<seconds> parse_offset(std::string_view s) {
  static const RE2 re(R"(([+-])\s*(\d{1,2})(?::?(\d{2}))?)");
  Piece sign, hh, mm;
  if (!RE2::FullMatch(s, re, &sign, &hh, &mm)) return std::nullopt;
  const long long h = *to_number(hh);
  const long long m = mm.empty() ? 0 : *to_number(mm);
  if (h > 14 || m > 59) return std::nullopt;
  const seconds off = seconds(h * 3600 + m * 60);
  return sign == "-" ? -off : off;
}

// The zone a reset time is in: a zoneinfo name in parentheses, "UTC"/"GMT"
// with or without an offset, or none (the local zone).
const TimeZone* zone_for(std::string_view paren_name, std::string_view utc_text, ZoneLookup& zones,
                         std::optional<TimeZone>& fixed) {
  if (!paren_name.empty()) {
    const std::string l = lower(paren_name);
    if (l == "utc" || l == "gmt" || l == "z") return &fixed.emplace(TimeZone::utc());
    if (!valid_zone_name(paren_name)) return nullptr;
    return zones.find(paren_name);
  }
  if (!utc_text.empty()) {
    const std::size_t sign = utc_text.find_first_of("+-");
    if (sign == std::string_view::npos) return &fixed.emplace(TimeZone::utc());
    auto off = parse_offset(utc_text.substr(sign));
    if (!off) return nullptr;
    return &fixed.emplace(TimeZone::fixed(std::string(utc_text), *off));
  }
  return zones.local();
}

// ---- ISO dates ----

std::optional<WallTime> iso_form(std::string_view text, ZoneLookup& zones) {
  static const RE2 re(
      R"((?i)\b(\d{4})-(\d{2})-(\d{2})(?:T|\s+at\s+|\s+)(\d{1,2}):(\d{2})(?::(\d{2}))?(?:\.\d+)?)"
      R"((?:\s*(Z|UTC|GMT)\b|\s*([+-]\d{2}:?\d{2}))?)");
  Piece y, mo, d, h, mi, s, utc, off;
  if (!RE2::PartialMatch(text, re, &y, &mo, &d, &h, &mi, &s, &utc, &off)) return std::nullopt;
  CivilTime c;
  c.year = static_cast<int>(*to_number(y));
  c.month = static_cast<int>(*to_number(mo));
  c.day = static_cast<int>(*to_number(d));
  c.hour = static_cast<int>(*to_number(h));
  c.minute = static_cast<int>(*to_number(mi));
  c.second = s.empty() ? 0 : static_cast<int>(*to_number(s));
  if (!valid_civil_time(c)) return std::nullopt;
  std::optional<TimeZone> fixed;
  const TimeZone* zone = nullptr;
  if (!off.empty()) {
    auto o = parse_offset(off);
    if (!o) return std::nullopt;
    zone = &fixed.emplace(TimeZone::fixed(std::string(off), *o));
  } else {
    zone = zone_for(utc, {}, zones, fixed);
  }
  if (!zone) return std::nullopt;
  return zone->from_local(c);
}

// ---- "in 5 days 22 hours" ----

std::optional<seconds> unit_seconds(std::string_view unit) {
  struct Unit {
    std::string_view name;
    long long secs;
  };
  static constexpr std::array<Unit, 21> kUnits{{
      {"w", 604800},   {"week", 604800}, {"weeks", 604800}, {"d", 86400},  {"day", 86400},
      {"days", 86400}, {"h", 3600},      {"hr", 3600},      {"hrs", 3600}, {"hour", 3600},
      {"hours", 3600}, {"m", 60},        {"min", 60},       {"mins", 60},  {"minute", 60},
      {"minutes", 60}, {"s", 1},         {"sec", 1},        {"secs", 1},   {"second", 1},
      {"seconds", 1},
  }};
  const std::string u = lower(unit);
  for (const Unit& k : kUnits)
    if (k.name == u) return seconds(k.secs);
  return std::nullopt;
}

std::optional<WallTime> relative_form(std::string_view text, WallTime now) {
  static const RE2 re(R"((?i)\bin\s+(\d+\s*[a-z]+(?:(?:\s*,\s*|\s+and\s+|\s*)\d+\s*[a-z]+)*))");
  static const RE2 amount(R"((\d+)\s*([A-Za-z]+))");
  static const RE2 dangling(R"(^[\s,]*(?:and\s+)?\d)");
  Piece list;
  Piece rest = text;
  if (!RE2::FindAndConsume(&rest, re, &list)) return std::nullopt;
  // "... 22 hours 11" then a line break: the last amount has no unit.
  if (RE2::PartialMatch(rest, dangling)) return std::nullopt;
  seconds total{0};
  Piece n, unit;
  while (RE2::FindAndConsume(&list, amount, &n, &unit)) {
    auto count = to_number(n);
    auto per = unit_seconds(unit);
    if (!count || !per || *count > 100000) return std::nullopt;
    total += *per * *count;
  }
  if (total > seconds(400LL * 86400)) return std::nullopt;
  return now + total;
}

// ---- wall-clock times ----

int month_number(std::string_view name) {
  static constexpr std::array<std::string_view, 12> kMonths{
      "jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec"};
  const std::string l = lower(name.substr(0, 3));
  for (std::size_t i = 0; i < kMonths.size(); ++i)
    if (kMonths[i] == l) return static_cast<int>(i) + 1;
  return 0;
}

CivilTime next_day(CivilTime c) {
  const auto ymd = std::chrono::year_month_day{
      std::chrono::sys_days(std::chrono::year_month_day(
          std::chrono::year(c.year), std::chrono::month(static_cast<unsigned>(c.month)),
          std::chrono::day(static_cast<unsigned>(c.day)))) +
      std::chrono::days(1)};
  c.year = static_cast<int>(ymd.year());
  c.month = static_cast<int>(static_cast<unsigned>(ymd.month()));
  c.day = static_cast<int>(static_cast<unsigned>(ymd.day()));
  return c;
}

std::optional<WallTime> clock_form(std::string_view text, WallTime now, ZoneLookup& zones) {
  // [MONTH DAY[st|nd|rd|th][, YEAR][,| at]] H[:MM] am|pm, or HH:MM; then
  // "(Zone/Name)", or GMT/UTC with an optional offset.
  static const RE2 re(
      R"((?i)(?:\b(jan|feb|mar|apr|may|jun|jul|aug|sep|oct|nov|dec)[a-z]*\.?\s+(\d{1,2}))"
      R"((?:st|nd|rd|th)?(?:,?\s+(\d{4}))?(?:,|\s+at)?\s+)?)"
      R"(\b(\d{1,2})(?::(\d{2})(?::\d{2})?\s*(am|pm)?|\s*(am|pm))\b)"
      R"((?:\s*\(([^)]*)\)|\s+((?:GMT|UTC)(?:\s*[+-]\s*\d{1,2}(?::?\d{2})?)?)\b)?)");
  Piece mon, day, year, hour, minute, ampm1, ampm2, paren, utc;
  if (!RE2::PartialMatch(text, re, &mon, &day, &year, &hour, &minute, &ampm1, &ampm2, &paren, &utc))
    return std::nullopt;
  int h = static_cast<int>(*to_number(hour));
  const int m = minute.empty() ? 0 : static_cast<int>(*to_number(minute));
  const std::string ampm = lower(ampm1.empty() ? ampm2 : ampm1);
  if (!ampm.empty()) {
    if (h < 1 || h > 12) return std::nullopt;
    h = (h % 12) + (ampm == "pm" ? 12 : 0);
  }
  if (h > 23 || m > 59) return std::nullopt;

  std::optional<TimeZone> fixed;
  const TimeZone* zone = zone_for(paren, utc, zones, fixed);
  if (!zone) return std::nullopt;

  CivilTime c = zone->to_local(now);
  c.hour = h;
  c.minute = m;
  c.second = 0;
  if (!mon.empty()) {
    c.month = month_number(mon);
    c.day = static_cast<int>(*to_number(day));
    if (!year.empty()) c.year = static_cast<int>(*to_number(year));
    if (!valid_civil_time(c)) return std::nullopt;
    WallTime t = zone->from_local(c);
    if (year.empty() && t < now - std::chrono::hours(24)) {
      ++c.year;
      if (!valid_civil_time(c)) return std::nullopt;  // Feb 29
      t = zone->from_local(c);
    }
    return t;
  }
  WallTime t = zone->from_local(c);
  if (t < now) t = zone->from_local(next_day(c));
  return t;
}

}  // namespace

std::optional<WallTime> parse_reset_time(std::string_view text, WallTime now, ZoneLookup& zones) {
  if (auto t = epoch_form(text)) return t;
  if (auto t = iso_form(text, zones)) return t;
  if (auto t = relative_form(text, now)) return t;
  return clock_form(text, now, zones);
}

}  // namespace aw::agents
