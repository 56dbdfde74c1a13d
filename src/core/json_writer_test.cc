#include "src/core/json_writer.h"

#include <gtest/gtest.h>

namespace aw {
namespace {

std::string json_quoted(std::string_view s) {
  std::string out;
  append_json_string(out, s);
  return out;
}

TEST(JsonString, EscapesQuotesBackslashesAndControls) {
  EXPECT_EQ(json_quoted("a\"b\\c"), R"("a\"b\\c")");
  EXPECT_EQ(json_quoted("l1\nl2\r\t"), R"("l1\nl2\r\t")");
  EXPECT_EQ(json_quoted(std::string("\x01\x1f\x7f", 3)), R"("\u0001\u001f\u007f")");
  EXPECT_EQ(json_quoted(std::string("nul\0x", 5)), R"("nul\u0000x")");
}

TEST(JsonString, KeepsValidUtf8) {
  EXPECT_EQ(json_quoted("h\xC3\xA9 \xF0\x9F\x98\x80"), "\"h\xC3\xA9 \xF0\x9F\x98\x80\"");
}

TEST(JsonString, ReplacesInvalidUtf8) {
  EXPECT_EQ(json_quoted("a\xFF"), "\"a\xEF\xBF\xBD\"");
  EXPECT_EQ(json_quoted("\xC3"), "\"\xEF\xBF\xBD\"");                  // truncated sequence
  EXPECT_EQ(json_quoted("\xC0\xAF"), "\"\xEF\xBF\xBD\xEF\xBF\xBD\"");  // overlong '/'
  EXPECT_EQ(json_quoted("\xED\xA0\x80"), "\"\xEF\xBF\xBD\xEF\xBF\xBD\xEF\xBF\xBD\"");  // surrogate
}

TEST(JsonObject, WritesTypedMembers) {
  std::string out;
  JsonObjectWriter(out)
      .str("s", "x")
      .num("i", -3)
      .unum("u", 7)
      .dbl("d", 2.0)
      .boolean("b", true)
      .close();
  EXPECT_EQ(out, R"({"s":"x","i":-3,"u":7,"d":2.0,"b":true})");
}

// Plain text is copied a run at a time: each kind of byte that ends a run must
// still be escaped, wherever it falls (first, last, back to back).
TEST(JsonString, RunsOfPlainTextEndAtEveryEscapedByte) {
  EXPECT_EQ(json_quoted(""), R"("")");
  EXPECT_EQ(json_quoted("\"plain\""), R"("\"plain\"")");
  EXPECT_EQ(json_quoted("\\\\"), R"("\\\\")");
  EXPECT_EQ(json_quoted("ab\x01"
                        "cd\xC3\xA9"
                        "ef\xFFgh\n"),
            "\"ab\\u0001"
            "cd\xC3\xA9"
            "ef\xEF\xBF\xBDgh\\n\"");
  EXPECT_EQ(json_quoted(std::string(1000, 'x') + "\t"), "\"" + std::string(1000, 'x') + "\\t\"");
}

TEST(JsonObject, AValueIsWrittenInPlaceByItsWriter) {
  std::string out;
  JsonObjectWriter(out)
      .str("a", "1")
      .value("nested", [](std::string& o) { JsonObjectWriter(o).num("n", 2).close(); })
      .close();
  EXPECT_EQ(out, R"({"a":"1","nested":{"n":2}})");
}

TEST(JsonObject, NonFiniteDoubleIsNull) {
  std::string out;
  JsonObjectWriter(out).dbl("d", 1.0 / 0.0).close();
  EXPECT_EQ(out, R"({"d":null})");
}

}  // namespace
}  // namespace aw
