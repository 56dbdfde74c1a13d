#include "src/core/percent_escape.h"

#include <gtest/gtest.h>

namespace aw {
namespace {

TEST(PercentEscape, ControlBytesAndPercentAreEscaped) {
  EXPECT_EQ(percent_escaped("a\tb\nc%d\x7f"), "a%09b%0Ac%25d%7F");
  EXPECT_EQ(percent_escaped("plain/name.json"), "plain/name.json");
  // Escaped bytes first, last and back to back, between runs of plain ones.
  EXPECT_EQ(percent_escaped("%%ab\n"), "%25%25ab%0A");
  EXPECT_EQ(percent_escaped(""), "");
}

TEST(PercentEscape, RoundTripsAndAcceptsEitherCase) {
  const std::string nasty = std::string("x\ty\r\n%\0z", 8);
  EXPECT_EQ(percent_unescape(percent_escaped(nasty)), nasty);
  EXPECT_EQ(percent_unescape("%0a%0A"), "\n\n");
}

TEST(PercentEscape, MalformedIsRefused) {
  EXPECT_FALSE(percent_unescape("abc%"));
  EXPECT_FALSE(percent_unescape("abc%4"));
  EXPECT_FALSE(percent_unescape("%zz"));
}

}  // namespace
}  // namespace aw
