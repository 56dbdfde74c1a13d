#include "src/agents/time_zone.h"

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <string>

#include "src/core/event.h"

namespace aw::agents {
namespace {

using std::chrono::hours;
using std::chrono::seconds;

constexpr const char* kZoneinfo = "/usr/share/zoneinfo";

WallTime at(std::string_view iso) {
  auto t = parse_time_utc(iso);
  EXPECT_TRUE(t) << iso;
  return t.value_or(WallTime{});
}

std::string iso(WallTime t) {
  return format_time_utc(t);
}

std::string read_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(in), {});
}

// A scratch directory of its own per test.
class ScratchDir {
 public:
  ScratchDir() {
    path_ = std::filesystem::temp_directory_path() /
            ("aw_tz_" + std::to_string(::getpid()) + "_" +
             ::testing::UnitTest::GetInstance()->current_test_info()->name());
    std::filesystem::remove_all(path_);
    std::filesystem::create_directories(path_);
  }
  ~ScratchDir() { std::filesystem::remove_all(path_); }
  std::string path() const { return path_.string(); }
  void write(const std::string& name, const std::string& bytes) const {
    std::filesystem::create_directories((path_ / name).parent_path());
    std::ofstream(path_ / name, std::ios::binary) << bytes;
  }

 private:
  std::filesystem::path path_;
};

TEST(TimeZoneTest, LondonOffsetsAcrossTheYear) {
  ZoneinfoDirectory zones(kZoneinfo);
  const TimeZone* london = zones.find("Europe/London");
  ASSERT_NE(london, nullptr);
  EXPECT_EQ(london->offset_at(at("2026-01-15T12:00:00Z")), seconds(0));
  EXPECT_EQ(london->offset_at(at("2026-07-15T12:00:00Z")), hours(1));
}

TEST(TimeZoneTest, LondonSpringForwardIsAtOneUtc) {
  ZoneinfoDirectory zones(kZoneinfo);
  const TimeZone* london = zones.find("Europe/London");
  ASSERT_NE(london, nullptr);
  // 2026-03-29: clocks go from 01:00 GMT to 02:00 BST.
  EXPECT_EQ(london->offset_at(at("2026-03-29T00:59:59Z")), seconds(0));
  EXPECT_EQ(london->offset_at(at("2026-03-29T01:00:00Z")), hours(1));
}

TEST(TimeZoneTest, FromLocalInTheSpringGapMovesForwardByTheGap) {
  ZoneinfoDirectory zones(kZoneinfo);
  const TimeZone* london = zones.find("Europe/London");
  ASSERT_NE(london, nullptr);
  // 01:30 does not exist on 2026-03-29 in London: read by the offset before
  // the change (GMT), it is 01:30Z, which the clock shows as 02:30 BST.
  EXPECT_EQ(iso(london->from_local({2026, 3, 29, 1, 30, 0})), "2026-03-29T01:30:00.000Z");
  EXPECT_EQ(iso(london->from_local({2026, 3, 29, 2, 30, 0})), "2026-03-29T01:30:00.000Z");
  EXPECT_EQ(iso(london->from_local({2026, 3, 29, 0, 30, 0})), "2026-03-29T00:30:00.000Z");
}

TEST(TimeZoneTest, FromLocalInTheAutumnOverlapTakesTheEarlier) {
  ZoneinfoDirectory zones(kZoneinfo);
  const TimeZone* ny = zones.find("America/New_York");
  ASSERT_NE(ny, nullptr);
  // 2026-11-01: 01:30 happens at 05:30Z (EDT) and again at 06:30Z (EST).
  EXPECT_EQ(iso(ny->from_local({2026, 11, 1, 1, 30, 0})), "2026-11-01T05:30:00.000Z");
  EXPECT_EQ(iso(ny->from_local({2026, 11, 1, 3, 0, 0})), "2026-11-01T08:00:00.000Z");
}

TEST(TimeZoneTest, ToLocalReadsTheWallClock) {
  ZoneinfoDirectory zones(kZoneinfo);
  const TimeZone* tokyo = zones.find("Asia/Tokyo");
  ASSERT_NE(tokyo, nullptr);
  EXPECT_EQ(tokyo->to_local(at("2026-12-31T20:15:30Z")), (CivilTime{2027, 1, 1, 5, 15, 30}));
}

TEST(TimeZoneTest, SouthernHemisphereDaylightTimeSpansNewYear) {
  ZoneinfoDirectory zones(kZoneinfo);
  const TimeZone* sydney = zones.find("Australia/Sydney");
  ASSERT_NE(sydney, nullptr);
  EXPECT_EQ(sydney->offset_at(at("2026-01-10T00:00:00Z")), hours(11));
  EXPECT_EQ(sydney->offset_at(at("2026-07-10T00:00:00Z")), hours(10));
}

TEST(TimeZoneTest, FarFutureUsesTheFooterRule) {
  ZoneinfoDirectory zones(kZoneinfo);
  const TimeZone* london = zones.find("Europe/London");
  ASSERT_NE(london, nullptr);
  EXPECT_TRUE(london->has_rule());
  // Past the last transition Debian lists (2037): the POSIX rule decides.
  EXPECT_EQ(london->offset_at(at("2050-07-01T12:00:00Z")), hours(1));
  EXPECT_EQ(london->offset_at(at("2050-01-01T12:00:00Z")), seconds(0));
  // Last Sunday of March 2050 is the 27th.
  EXPECT_EQ(london->offset_at(at("2050-03-27T00:59:59Z")), seconds(0));
  EXPECT_EQ(london->offset_at(at("2050-03-27T01:00:00Z")), hours(1));
}

TEST(TimeZoneTest, FixedOffsetAndUtc) {
  const TimeZone gmt3 = TimeZone::fixed("GMT-3", hours(-3));
  EXPECT_EQ(gmt3.offset_at(at("2026-01-01T00:00:00Z")), hours(-3));
  EXPECT_EQ(iso(gmt3.from_local({2026, 3, 16, 22, 57, 0})), "2026-03-17T01:57:00.000Z");
  EXPECT_EQ(TimeZone::utc().offset_at(at("2026-06-01T00:00:00Z")), seconds(0));
  EXPECT_EQ(TimeZone::utc().name(), "UTC");
}

TEST(TimeZoneTest, PosixRuleParsesTheCommonForms) {
  auto us = parse_posix_tz("EST5EDT,M3.2.0,M11.1.0");
  ASSERT_TRUE(us);
  EXPECT_EQ(us->std_offset, -5 * 3600);
  EXPECT_EQ(us->dst_offset, -4 * 3600);
  EXPECT_EQ(us->start.month, 3);
  EXPECT_EQ(us->start.week, 2);
  EXPECT_EQ(us->start.time, 7200);

  auto india = parse_posix_tz("<+0530>-5:30");
  ASSERT_TRUE(india);
  EXPECT_EQ(india->std_offset, 5 * 3600 + 1800);
  EXPECT_FALSE(india->dst_offset);

  auto europe = parse_posix_tz("CET-1CEST,M3.5.0,M10.5.0/3");
  ASSERT_TRUE(europe);
  EXPECT_EQ(europe->end.time, 3 * 3600);

  auto julian = parse_posix_tz("XXX3YYY,J60/2,300/-1");
  ASSERT_TRUE(julian);
  EXPECT_EQ(julian->start.kind, PosixTzRule::Change::Kind::kJulianNoLeap);
  EXPECT_EQ(julian->end.kind, PosixTzRule::Change::Kind::kZeroBasedDay);
  EXPECT_EQ(julian->end.time, -3600);
}

TEST(TimeZoneTest, PosixRuleRefusesWhatItDoesNotKnow) {
  EXPECT_FALSE(parse_posix_tz(""));
  EXPECT_FALSE(parse_posix_tz("EST"));      // no offset
  EXPECT_FALSE(parse_posix_tz("EST5EDT"));  // daylight without rules
  EXPECT_FALSE(parse_posix_tz("EST5EDT,M13.2.0,M11.1.0"));
  EXPECT_FALSE(parse_posix_tz("EST5EDT,M3.2.0"));
  EXPECT_FALSE(parse_posix_tz("EST5EDT,M3.2.0,M11.1.0junk"));
}

TEST(TimeZoneTest, ZoneNamesAreStrict) {
  EXPECT_TRUE(valid_zone_name("Europe/London"));
  EXPECT_TRUE(valid_zone_name("America/Argentina/Buenos_Aires"));
  EXPECT_TRUE(valid_zone_name("Etc/GMT+5"));
  EXPECT_TRUE(valid_zone_name("Etc/GMT-14"));
  EXPECT_TRUE(valid_zone_name("UTC"));
  EXPECT_FALSE(valid_zone_name(""));
  EXPECT_FALSE(valid_zone_name("/etc/passwd"));
  EXPECT_FALSE(valid_zone_name("../../etc/passwd"));
  EXPECT_FALSE(valid_zone_name("Europe/../../etc"));
  EXPECT_FALSE(valid_zone_name("Europe//London"));
  EXPECT_FALSE(valid_zone_name("Europe/London/"));
  EXPECT_FALSE(valid_zone_name("Europe/Lon don"));
  EXPECT_FALSE(valid_zone_name("Europe/London.tzif"));
  EXPECT_FALSE(valid_zone_name(std::string(129, 'a')));
}

TEST(TimeZoneTest, LoadRefusesAnInvalidNameWithoutTouchingTheDisk) {
  ZoneinfoDirectory zones("/nonexistent");
  Result<const TimeZone*> z = zones.load("../passwd");
  ASSERT_FALSE(z.ok());
  EXPECT_NE(z.error().message.find("invalid time zone name \"../passwd\""), std::string::npos);
  EXPECT_EQ(zones.find("../passwd"), nullptr);
}

TEST(TimeZoneTest, LoadNamesAMissingFile) {
  ScratchDir dir;
  ZoneinfoDirectory zones(dir.path());
  Result<const TimeZone*> z = zones.load("Mars/Olympus");
  ASSERT_FALSE(z.ok());
  EXPECT_NE(z.error().message.find(dir.path() + "/Mars/Olympus"), std::string::npos);
}

TEST(TimeZoneTest, LoadCachesZonesAndFailures) {
  ScratchDir dir;
  dir.write("Test/Zone", read_file(std::string(kZoneinfo) + "/Europe/London"));
  ZoneinfoDirectory zones(dir.path());
  const TimeZone* first = zones.find("Test/Zone");
  ASSERT_NE(first, nullptr);
  EXPECT_EQ(first->name(), "Test/Zone");
  std::filesystem::remove(dir.path() + "/Test/Zone");
  EXPECT_EQ(zones.find("Test/Zone"), first);  // read once
  EXPECT_EQ(zones.find("Test/Later"), nullptr);
  dir.write("Test/Later", read_file(std::string(kZoneinfo) + "/Europe/London"));
  EXPECT_EQ(zones.find("Test/Later"), nullptr);  // a failure is remembered
}

TEST(TimeZoneTest, RefusesADirectory) {
  ZoneinfoDirectory zones(kZoneinfo);
  Result<const TimeZone*> z = zones.load("Europe");
  ASSERT_FALSE(z.ok());
  EXPECT_NE(z.error().message.find("not a regular file"), std::string::npos);
}

TEST(TimeZoneTest, LocalZoneComesFromTheLocaltimeFile) {
  ZoneinfoDirectory zones(kZoneinfo, std::string(kZoneinfo) + "/Asia/Tokyo");
  const TimeZone* local = zones.local();
  ASSERT_NE(local, nullptr);
  EXPECT_EQ(local->offset_at(at("2026-01-01T00:00:00Z")), hours(9));
  ZoneinfoDirectory none(kZoneinfo, "/nonexistent/localtime");
  EXPECT_EQ(none.local(), nullptr);
}

TEST(TimeZoneTest, TzifV1WithoutFooterKeepsTheLastOffset) {
  // A hand-built v1 file: one transition at t=1000 from +1h to +2h.
  std::string b = "TZif";
  b += std::string(16, '\0');  // version 1 (NUL) + 15 unused
  auto be32 = [&](std::uint32_t v) {
    for (int s = 24; s >= 0; s -= 8) b += static_cast<char>((v >> s) & 0xff);
  };
  be32(0);  // isutcnt
  be32(0);  // isstdcnt
  be32(0);  // leapcnt
  be32(1);  // timecnt
  be32(2);  // typecnt
  be32(4);  // charcnt
  be32(1000);
  b += '\1';
  be32(3600);
  b += '\0';
  b += '\0';
  be32(7200);
  b += '\1';
  b += '\0';
  b += std::string("AAA\0", 4);
  Result<TimeZone> z = TimeZone::from_tzif(b, "Test/V1");
  ASSERT_TRUE(z.ok()) << z.error().message;
  EXPECT_FALSE(z->has_rule());
  EXPECT_EQ(z->offset_at(WallTime(seconds(999))), hours(1));
  EXPECT_EQ(z->offset_at(WallTime(seconds(1000))), hours(2));
  EXPECT_EQ(z->offset_at(WallTime(seconds(4000000000LL))), hours(2));
}

TEST(TimeZoneTest, TzifErrorsNameTheZone) {
  Result<TimeZone> short_data = TimeZone::from_tzif("TZif2", "X/Y");
  ASSERT_FALSE(short_data.ok());
  EXPECT_EQ(short_data.error().message, "X/Y: TZif data truncated");

  std::string bad(44, '\0');
  bad.replace(0, 4, "TZxx");
  Result<TimeZone> magic = TimeZone::from_tzif(bad, "X/Y");
  ASSERT_FALSE(magic.ok());
  EXPECT_EQ(magic.error().message, "X/Y: not TZif data (no 'TZif' magic)");

  const std::string london = read_file(std::string(kZoneinfo) + "/Europe/London");
  Result<TimeZone> cut = TimeZone::from_tzif(london.substr(0, london.size() / 2), "Cut");
  ASSERT_FALSE(cut.ok());
  EXPECT_EQ(cut.error().message, "Cut: TZif data truncated");

  std::string version = london;
  version[4] = '9';
  Result<TimeZone> v9 = TimeZone::from_tzif(version, "V9");
  ASSERT_FALSE(v9.ok());
  EXPECT_EQ(v9.error().message, "V9: TZif version '9' is not 1 to 4");
}

TEST(TimeZoneTest, EveryZoneOfTheSystemParses) {
  // Debian's tzdata: every regular file under the zone areas is TZif.
  std::size_t n = 0;
  for (const char* area : {"Africa", "America", "Asia", "Australia", "Europe", "Pacific", "Etc"}) {
    for (const auto& e :
         std::filesystem::recursive_directory_iterator(std::string(kZoneinfo) + "/" + area)) {
      if (!e.is_regular_file()) continue;
      Result<TimeZone> z = TimeZone::from_tzif(read_file(e.path().string()), e.path().string());
      EXPECT_TRUE(z.ok()) << z.error().message;
      ++n;
    }
  }
  EXPECT_GT(n, 300u);
}

TEST(TimeZoneTest, CivilTimeValidity) {
  EXPECT_TRUE(valid_civil_time({2024, 2, 29, 0, 0, 0}));
  EXPECT_FALSE(valid_civil_time({2026, 2, 29, 0, 0, 0}));
  EXPECT_FALSE(valid_civil_time({2026, 4, 31, 0, 0, 0}));
  EXPECT_FALSE(valid_civil_time({2026, 1, 1, 24, 0, 0}));
  EXPECT_FALSE(valid_civil_time({2026, 13, 1, 0, 0, 0}));
}

}  // namespace
}  // namespace aw::agents
