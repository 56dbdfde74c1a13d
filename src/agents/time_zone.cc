#include "src/agents/time_zone.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <system_error>
#include <utility>

namespace aw::agents {
namespace {

using std::chrono::seconds;

constexpr std::int64_t kDay = 86400;

std::int64_t days_from_civil(int y, int m, int d) {
  using namespace std::chrono;
  return sys_days(year_month_day(year(y), month(static_cast<unsigned>(m)),
                                 day(static_cast<unsigned>(d))))
      .time_since_epoch()
      .count();
}

CivilTime civil_from_seconds(std::int64_t s) {
  using namespace std::chrono;
  std::int64_t days = s / kDay;
  std::int64_t rem = s % kDay;
  if (rem < 0) {
    rem += kDay;
    --days;
  }
  const year_month_day ymd{sys_days(std::chrono::days(days))};
  CivilTime c;
  c.year = static_cast<int>(ymd.year());
  c.month = static_cast<int>(static_cast<unsigned>(ymd.month()));
  c.day = static_cast<int>(static_cast<unsigned>(ymd.day()));
  c.hour = static_cast<int>(rem / 3600);
  c.minute = static_cast<int>(rem % 3600 / 60);
  c.second = static_cast<int>(rem % 60);
  return c;
}

std::int64_t seconds_from_civil(const CivilTime& c) {
  return days_from_civil(c.year, c.month, c.day) * kDay + c.hour * 3600 + c.minute * 60 + c.second;
}

std::int64_t to_seconds(WallTime t) {
  return std::chrono::floor<seconds>(t.time_since_epoch()).count();
}

bool is_leap(int y) {
  return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
}

int days_in_month(int y, int m) {
  static constexpr std::array<int, 12> kDays{31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
  return m == 2 && is_leap(y) ? 29 : kDays[static_cast<std::size_t>(m - 1)];
}

// ---- POSIX TZ strings ----

class TzText {
 public:
  explicit TzText(std::string_view s) : s_(s) {}
  bool done() const { return i_ == s_.size(); }
  bool eat(char c) {
    if (i_ < s_.size() && s_[i_] == c) return ++i_, true;
    return false;
  }
  char peek() const { return i_ < s_.size() ? s_[i_] : '\0'; }

  // "EST" or "<+0530>".
  bool name() {
    if (eat('<')) {
      const std::size_t close = s_.find('>', i_);
      if (close == std::string_view::npos || close == i_) return false;
      i_ = close + 1;
      return true;
    }
    const std::size_t start = i_;
    while (i_ < s_.size() && ((s_[i_] >= 'A' && s_[i_] <= 'Z') || (s_[i_] >= 'a' && s_[i_] <= 'z')))
      ++i_;
    return i_ - start >= 3;
  }

  std::optional<int> number(int max_digits) {
    int v = 0;
    int n = 0;
    while (n < max_digits && i_ < s_.size() && s_[i_] >= '0' && s_[i_] <= '9') {
      v = v * 10 + (s_[i_++] - '0');
      ++n;
    }
    if (n == 0) return std::nullopt;
    return v;
  }

  // [+-]hh[:mm[:ss]] as seconds (hours up to 167, as TZif v3 allows).
  std::optional<std::int32_t> hms() {
    int sign = 1;
    if (eat('-')) {
      sign = -1;
    } else {
      eat('+');
    }
    auto h = number(3);
    if (!h || *h > 167) return std::nullopt;
    int total = *h * 3600;
    if (eat(':')) {
      auto m = number(2);
      if (!m || *m > 59) return std::nullopt;
      total += *m * 60;
      if (eat(':')) {
        auto sec = number(2);
        if (!sec || *sec > 59) return std::nullopt;
        total += *sec;
      }
    }
    return sign * total;
  }

  std::optional<PosixTzRule::Change> change() {
    using Kind = PosixTzRule::Change::Kind;
    PosixTzRule::Change c;
    if (eat('J')) {
      auto d = number(3);
      if (!d || *d < 1 || *d > 365) return std::nullopt;
      c.kind = Kind::kJulianNoLeap;
      c.day = *d;
    } else if (eat('M')) {
      auto m = number(2);
      if (!m || *m < 1 || *m > 12 || !eat('.')) return std::nullopt;
      auto w = number(1);
      if (!w || *w < 1 || *w > 5 || !eat('.')) return std::nullopt;
      auto d = number(1);
      if (!d || *d > 6) return std::nullopt;
      c.kind = Kind::kMonthWeekDay;
      c.month = *m;
      c.week = *w;
      c.day = *d;
    } else {
      auto d = number(3);
      if (!d || *d > 365) return std::nullopt;
      c.kind = Kind::kZeroBasedDay;
      c.day = *d;
    }
    if (eat('/')) {
      auto t = hms();
      if (!t) return std::nullopt;
      c.time = *t;
    }
    return c;
  }

 private:
  std::string_view s_;
  std::size_t i_ = 0;
};

// Local seconds since the epoch at which `c` happens in year `y` (before
// applying any offset).
std::int64_t change_local_seconds(const PosixTzRule::Change& c, int y) {
  using Kind = PosixTzRule::Change::Kind;
  std::int64_t day = 0;
  switch (c.kind) {
    case Kind::kJulianNoLeap: {
      int doy = c.day - 1;  // Feb 29 is never counted
      if (is_leap(y) && c.day >= 60) ++doy;
      day = days_from_civil(y, 1, 1) + doy;
      break;
    }
    case Kind::kZeroBasedDay:
      day = days_from_civil(y, 1, 1) + c.day;
      break;
    case Kind::kMonthWeekDay: {
      const std::int64_t first = days_from_civil(y, c.month, 1);
      // 1970-01-01 was a Thursday (4).
      const int first_wd = static_cast<int>(((first % 7) + 7 + 4) % 7);
      int dom = 1 + (c.day - first_wd + 7) % 7 + (c.week - 1) * 7;
      while (dom > days_in_month(y, c.month)) dom -= 7;
      day = first + dom - 1;
      break;
    }
  }
  return day * kDay + c.time;
}

// ---- TZif ----

class TzifReader {
 public:
  TzifReader(std::string_view b, const std::string& name) : b_(b), name_(name) {}

  // Fills the outputs; an error when the data is not valid TZif.
  std::optional<Error> read(std::int32_t& initial, std::vector<std::int64_t>& trans,
                            std::vector<std::int32_t>& trans_offset,
                            std::optional<PosixTzRule>& rule) {
    Header h1;
    if (auto e = header(0, h1)) return e;
    std::size_t pos = 44;
    Header h = h1;
    int time_size = 4;
    if (h1.version >= '2') {
      pos += block_size(h1, 4);
      if (auto e = header(pos, h)) return e;
      pos += 44;
      time_size = 8;
    }
    const std::size_t size = block_size(h, time_size);
    if (pos + size > b_.size()) return err("TZif data truncated");
    if (h.typecnt == 0) return err("TZif data has no local time types");
    if (h.charcnt == 0) return err("TZif data has no abbreviations");

    std::vector<std::int64_t> times(h.timecnt);
    for (std::uint32_t i = 0; i < h.timecnt; ++i)
      times[i] = time_size == 8 ? static_cast<std::int64_t>(be64(pos + 8 * i))
                                : static_cast<std::int32_t>(be32(pos + 4 * i));
    std::size_t p = pos + static_cast<std::size_t>(h.timecnt) * time_size;
    std::vector<std::uint8_t> idx(h.timecnt);
    for (std::uint32_t i = 0; i < h.timecnt; ++i) {
      idx[i] = static_cast<std::uint8_t>(b_[p + i]);
      if (idx[i] >= h.typecnt) return err("TZif transition names a local time type it lacks");
      if (i > 0 && times[i] <= times[i - 1]) return err("TZif transitions are not in order");
    }
    p += h.timecnt;
    std::vector<std::int32_t> offsets(h.typecnt);
    for (std::uint32_t i = 0; i < h.typecnt; ++i) {
      offsets[i] = static_cast<std::int32_t>(be32(p + 6 * i));
      // RFC 8536: -89999..93599 (under 25 and 26 hours).
      if (offsets[i] < -89999 || offsets[i] > 93599) return err("TZif UTC offset out of range");
    }
    p = pos + size;

    initial = offsets[0];
    trans = std::move(times);
    trans_offset.resize(idx.size());
    for (std::size_t i = 0; i < idx.size(); ++i) trans_offset[i] = offsets[idx[i]];

    if (h1.version >= '2' && p < b_.size()) {
      // Footer: "\n" POSIX-TZ "\n". An empty TZ string means "no rule".
      if (b_[p] != '\n') return err("TZif footer does not start with a newline");
      const std::size_t end = b_.find('\n', p + 1);
      if (end == std::string_view::npos) return err("TZif footer does not end with a newline");
      const std::string_view tz = b_.substr(p + 1, end - p - 1);
      if (!tz.empty()) rule = parse_posix_tz(tz);
    }
    return std::nullopt;
  }

 private:
  struct Header {
    char version = 0;
    std::uint32_t isutcnt = 0, isstdcnt = 0, leapcnt = 0, timecnt = 0, typecnt = 0, charcnt = 0;
  };

  std::optional<Error> header(std::size_t at, Header& h) const {
    if (at + 44 > b_.size()) return err("TZif data truncated");
    if (b_.substr(at, 4) != "TZif") return err("not TZif data (no 'TZif' magic)");
    h.version = b_[at + 4];
    if (h.version != '\0' && (h.version < '2' || h.version > '4'))
      return err("TZif version '" + std::string(1, h.version) + "' is not 1 to 4");
    h.isutcnt = be32(at + 20);
    h.isstdcnt = be32(at + 24);
    h.leapcnt = be32(at + 28);
    h.timecnt = be32(at + 32);
    h.typecnt = be32(at + 36);
    h.charcnt = be32(at + 40);
    // Bounds that keep the size arithmetic far from overflow; real zones
    // have a few hundred transitions and a dozen types.
    if (h.timecnt > 100000 || h.typecnt > 256 || h.charcnt > 100000 || h.leapcnt > 100000 ||
        h.isutcnt > h.typecnt || h.isstdcnt > h.typecnt)
      return err("TZif header counts out of range");
    return std::nullopt;
  }

  static std::size_t block_size(const Header& h, int time_size) {
    return static_cast<std::size_t>(h.timecnt) * time_size + h.timecnt +
           static_cast<std::size_t>(h.typecnt) * 6 + h.charcnt +
           static_cast<std::size_t>(h.leapcnt) * (time_size + 4) + h.isstdcnt + h.isutcnt;
  }

  std::uint32_t be32(std::size_t at) const {
    std::uint32_t v = 0;
    for (std::size_t i = 0; i < 4; ++i) v = (v << 8) | static_cast<std::uint8_t>(b_[at + i]);
    return v;
  }
  std::uint64_t be64(std::size_t at) const {
    return (static_cast<std::uint64_t>(be32(at)) << 32) | be32(at + 4);
  }

  Error err(const std::string& what) const { return make_error(name_ + ": " + what); }

  std::string_view b_;
  const std::string& name_;
};

Result<std::string> read_small_file(const std::string& path) {
  constexpr off_t kMax = 1 << 20;  // a TZif file is a few KiB
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NOCTTY);
  if (fd < 0) {
    const int e = errno;
    return make_error(path + ": " + std::error_code(e, std::generic_category()).message(), -e);
  }
  struct stat st {};
  std::string out;
  std::optional<Error> error;
  if (::fstat(fd, &st) != 0) {
    error = make_error(path + ": cannot stat");
  } else if (!S_ISREG(st.st_mode)) {
    error = make_error(path + ": not a regular file");
  } else if (st.st_size > kMax) {
    error = make_error(path + ": larger than 1 MiB, not a time zone file");
  } else {
    out.resize(static_cast<std::size_t>(st.st_size));
    std::size_t got = 0;
    while (got < out.size()) {
      const ssize_t n = ::read(fd, out.data() + got, out.size() - got);
      if (n < 0 && errno == EINTR) continue;
      if (n <= 0) break;
      got += static_cast<std::size_t>(n);
    }
    out.resize(got);
  }
  ::close(fd);
  if (error) return *error;
  return out;
}

}  // namespace

bool valid_civil_time(const CivilTime& c) {
  return c.year >= 1 && c.year <= 9999 && c.month >= 1 && c.month <= 12 && c.day >= 1 &&
         c.day <= days_in_month(c.year, c.month) && c.hour >= 0 && c.hour <= 23 && c.minute >= 0 &&
         c.minute <= 59 && c.second >= 0 && c.second <= 59;
}

std::optional<PosixTzRule> parse_posix_tz(std::string_view s) {
  TzText t(s);
  PosixTzRule r;
  if (!t.name()) return std::nullopt;
  auto std_off = t.hms();
  if (!std_off) return std::nullopt;
  r.std_offset = -*std_off;  // POSIX counts west of UTC
  if (t.done()) return r;
  if (!t.name()) return std::nullopt;
  r.dst_offset = r.std_offset + 3600;
  if (t.peek() != ',' && !t.done()) {
    auto dst_off = t.hms();
    if (!dst_off) return std::nullopt;
    r.dst_offset = -*dst_off;
  }
  // A daylight name without rules means implementation-defined rules: refuse.
  if (!t.eat(',')) return std::nullopt;
  auto start = t.change();
  if (!start || !t.eat(',')) return std::nullopt;
  auto end = t.change();
  if (!end || !t.done()) return std::nullopt;
  r.start = *start;
  r.end = *end;
  return r;
}

TimeZone TimeZone::utc() {
  return fixed("UTC", seconds(0));
}

TimeZone TimeZone::fixed(std::string name, std::chrono::seconds offset) {
  TimeZone z;
  z.name_ = std::move(name);
  z.initial_offset_ = static_cast<std::int32_t>(offset.count());
  return z;
}

Result<TimeZone> TimeZone::from_tzif(std::string_view bytes, std::string name) {
  TimeZone z;
  z.name_ = std::move(name);
  TzifReader reader(bytes, z.name_);
  std::int32_t initial = 0;
  std::vector<std::int64_t> trans;
  std::vector<std::int32_t> offsets;
  std::optional<PosixTzRule> rule;
  if (auto e = reader.read(initial, trans, offsets, rule)) return *e;
  z.initial_offset_ = initial;
  z.trans_ = std::move(trans);
  z.trans_offset_ = std::move(offsets);
  z.rule_ = rule;
  return z;
}

std::int32_t TimeZone::rule_offset_at(std::int64_t t) const {
  const PosixTzRule& r = *rule_;
  if (!r.dst_offset) return r.std_offset;
  const int y = civil_from_seconds(t + r.std_offset).year;
  // The changes of the year around `t`, in time order (southern zones start
  // daylight time late in the year, so order by time, not by kind).
  std::array<std::pair<std::int64_t, std::int32_t>, 6> changes{};
  std::size_t n = 0;
  for (int year = y - 1; year <= y + 1; ++year) {
    changes[n++] = {change_local_seconds(r.start, year) - r.std_offset, *r.dst_offset};
    changes[n++] = {change_local_seconds(r.end, year) - *r.dst_offset, r.std_offset};
  }
  std::sort(changes.begin(), changes.end());
  std::int32_t off = r.std_offset;
  for (const auto& [when, offset] : changes)
    if (when <= t) off = offset;
  return off;
}

std::int32_t TimeZone::offset_at_seconds(std::int64_t t) const {
  if (trans_.empty() || t < trans_.front()) {
    // No transitions at all: the footer rule (if any) is the whole story.
    if (trans_.empty() && rule_) return rule_offset_at(t);
    return initial_offset_;
  }
  const auto it = std::upper_bound(trans_.begin(), trans_.end(), t);
  const std::size_t i = static_cast<std::size_t>(it - trans_.begin()) - 1;
  if (i + 1 == trans_.size() && rule_) return rule_offset_at(t);
  return trans_offset_[i];
}

std::chrono::seconds TimeZone::offset_at(WallTime t) const {
  return seconds(offset_at_seconds(to_seconds(t)));
}

CivilTime TimeZone::to_local(WallTime t) const {
  const std::int64_t s = to_seconds(t);
  return civil_from_seconds(s + offset_at_seconds(s));
}

WallTime TimeZone::from_local(const CivilTime& local) const {
  const std::int64_t l = seconds_from_civil(local);
  const std::int32_t before = offset_at_seconds(l - kDay);
  const std::int32_t after = offset_at_seconds(l + kDay);
  std::optional<std::int64_t> best;
  for (std::int32_t o : {before, after}) {
    const std::int64_t u = l - o;
    if (offset_at_seconds(u) == o && (!best || u < *best)) best = u;
  }
  // In a gap: by the offset before the change.
  const std::int64_t u = best ? *best : l - before;
  return WallTime(seconds(u));
}

bool valid_zone_name(std::string_view name) {
  if (name.empty() || name.size() > 128 || name.front() == '/' || name.back() == '/') return false;
  std::size_t start = 0;
  while (start <= name.size()) {
    std::size_t end = name.find('/', start);
    if (end == std::string_view::npos) end = name.size();
    const std::string_view part = name.substr(start, end - start);
    if (part.empty() || part == "." || part == "..") return false;
    for (char c : part) {
      const bool ok = (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
                      c == '_' || c == '+' || c == '-';
      if (!ok) return false;
    }
    start = end + 1;
  }
  return true;
}

ZoneinfoDirectory::ZoneinfoDirectory(std::string root, std::string localtime)
    : root_(std::move(root)), localtime_(std::move(localtime)) {}

Result<const TimeZone*> ZoneinfoDirectory::load_file(const std::string& key,
                                                     const std::string& path, std::string name) {
  if (auto it = zones_.find(key); it != zones_.end()) return it->second.get();
  if (auto it = failures_.find(key); it != failures_.end()) return it->second;
  Result<std::string> bytes = read_small_file(path);
  Result<TimeZone> zone =
      bytes.ok() ? TimeZone::from_tzif(*bytes, std::move(name)) : Result<TimeZone>(bytes.error());
  if (!zone.ok()) {
    failures_.emplace(key, zone.error());
    return zone.error();
  }
  auto& slot = zones_[key];
  slot = std::make_unique<TimeZone>(std::move(zone).value());
  return slot.get();
}

Result<const TimeZone*> ZoneinfoDirectory::load(std::string_view name) {
  if (!valid_zone_name(name))
    return make_error("invalid time zone name \"" + std::string(name) +
                      "\": expected names like Europe/London ([A-Za-z0-9_+-] and '/')");
  const std::string key(name);
  return load_file(key, root_ + "/" + key, key);
}

const TimeZone* ZoneinfoDirectory::find(std::string_view name) {
  Result<const TimeZone*> z = load(name);
  return z.ok() ? *z : nullptr;
}

const TimeZone* ZoneinfoDirectory::local() {
  // The key cannot collide with a zone name: those never start with '/'.
  Result<const TimeZone*> z = load_file("/localtime", localtime_, "localtime");
  return z.ok() ? *z : nullptr;
}

}  // namespace aw::agents
