#include "src/core/duration.h"

#include <gtest/gtest.h>

namespace aw {
namespace {

using namespace std::chrono_literals;

TEST(Duration, ParsesUnitsAndCompounds) {
  EXPECT_EQ(*parse_duration("250ms"), 250ms);
  EXPECT_EQ(*parse_duration("30s"), 30s);
  EXPECT_EQ(*parse_duration("5m"), 5min);
  EXPECT_EQ(*parse_duration("1h30m"), 90min);
  EXPECT_EQ(*parse_duration("7d"), 168h);
  EXPECT_EQ(*parse_duration("1.5s"), 1500ms);
  EXPECT_EQ(*parse_duration("0"), 0s);
}

TEST(Duration, RejectsMalformedWithReason) {
  auto r = parse_duration("5");
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.error().message.find("missing unit"), std::string::npos);
  EXPECT_FALSE(parse_duration("").ok());
  EXPECT_FALSE(parse_duration("5x").ok());
  EXPECT_FALSE(parse_duration("ms").ok());
  EXPECT_FALSE(parse_duration("-5s").ok());
}

TEST(Duration, FormatsShortest) {
  EXPECT_EQ(format_duration(90s), "1m30s");
  EXPECT_EQ(format_duration(1500ms), "1.5s");
  EXPECT_EQ(format_duration(250ms), "250ms");
  EXPECT_EQ(format_duration(48h), "2d");
  EXPECT_EQ(format_duration(0s), "0s");
}

TEST(Duration, RoundTrips) {
  for (auto d : {Duration(1ms), Duration(61s), Duration(3h + 5s), Duration(2500ms)})
    EXPECT_EQ(*parse_duration(format_duration(d)), d) << format_duration(d);
}

}  // namespace
}  // namespace aw
