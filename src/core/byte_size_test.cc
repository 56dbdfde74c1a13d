#include "src/core/byte_size.h"

#include <gtest/gtest.h>

namespace aw {
namespace {

std::uint64_t size_of(std::string_view s) {
  Result<std::uint64_t> r = parse_byte_size(s);
  EXPECT_TRUE(r.ok()) << s << ": " << (r.ok() ? "" : r.error().message);
  return r.ok() ? *r : 0;
}

std::string error_of(std::string_view s) {
  Result<std::uint64_t> r = parse_byte_size(s);
  EXPECT_FALSE(r.ok()) << s << " parsed as " << (r.ok() ? *r : 0);
  return r.ok() ? "" : r.error().message;
}

TEST(ByteSize, PlainIntegersAreBytes) {
  EXPECT_EQ(size_of("0"), 0u);
  EXPECT_EQ(size_of("4096"), 4096u);
  EXPECT_EQ(size_of("17B"), 17u);
  EXPECT_EQ(size_of("17b"), 17u);
}

TEST(ByteSize, UnitsArePowersOf1024InEverySpelling) {
  for (std::string_view s : {"512k", "512K", "512kb", "512KB", "512KiB", "512kib"})
    EXPECT_EQ(size_of(s), 512u * 1024) << s;
  EXPECT_EQ(size_of("10MB"), 10u * 1024 * 1024);
  EXPECT_EQ(size_of("10m"), 10u * 1024 * 1024);
  EXPECT_EQ(size_of("1GiB"), 1ull << 30);
  EXPECT_EQ(size_of("2T"), 2ull << 40);
}

TEST(ByteSize, FractionsRoundDown) {
  EXPECT_EQ(size_of("1.5K"), 1536u);
  EXPECT_EQ(size_of("0.5M"), 512u * 1024);
  EXPECT_EQ(size_of("1.0001K"), 1024u);
}

TEST(ByteSize, LargestValuesAndOverflow) {
  EXPECT_EQ(size_of("18446744073709551615"), UINT64_MAX);
  EXPECT_NE(error_of("18446744073709551616").find("too large"), std::string::npos);
  EXPECT_NE(error_of("16777216T").find("too large"), std::string::npos);
  EXPECT_EQ(size_of("16777215T"), 16777215ull << 40);
  EXPECT_NE(error_of("99999999999.5T").find("too large"), std::string::npos);
}

TEST(ByteSize, ErrorsSayWhatWasExpected) {
  EXPECT_EQ(error_of(""),
            "invalid size \"\": empty (expected e.g. \"4096\", \"512k\", \"10MB\", \"1GiB\"; "
            "units are powers of 1024)");
  EXPECT_NE(error_of("MB").find("expected a number first"), std::string::npos);
  EXPECT_NE(error_of("-1").find("expected a number first"), std::string::npos);
  EXPECT_NE(error_of("10 MB").find("unknown unit \" MB\""), std::string::npos);
  EXPECT_NE(error_of("10x").find("unknown unit \"x\""), std::string::npos);
  EXPECT_NE(error_of("10KBB").find("unknown unit \"KBB\""), std::string::npos);
  EXPECT_NE(error_of("10Bi").find("unknown unit \"Bi\""), std::string::npos);
  EXPECT_NE(error_of("1.2.3K").find("malformed number"), std::string::npos);
  EXPECT_NE(error_of(".K").find("malformed number"), std::string::npos);
}

TEST(ByteSize, FormatIsExactAndShort) {
  EXPECT_EQ(format_byte_size(0), "0B");
  EXPECT_EQ(format_byte_size(1000), "1000B");
  EXPECT_EQ(format_byte_size(1024), "1KiB");
  EXPECT_EQ(format_byte_size(1536), "1.5KiB");
  EXPECT_EQ(format_byte_size(1u << 20), "1MiB");
  EXPECT_EQ(format_byte_size(10u << 20), "10MiB");
  EXPECT_EQ(format_byte_size(3ull << 40), "3TiB");
  EXPECT_EQ(format_byte_size(1025), "1025B");
  EXPECT_EQ(format_byte_size(UINT64_MAX), "18446744073709551615B");
}

TEST(ByteSize, FormatRoundTrips) {
  for (std::uint64_t n : {1ull, 1000ull, 1536ull, 1ull << 20, 5ull << 30, 123456789ull})
    EXPECT_EQ(size_of(format_byte_size(n)), n) << n;
}

}  // namespace
}  // namespace aw
