#include "src/json/json_check.h"

#include <gtest/gtest.h>
#include <simdjson.h>

#include <ostream>
#include <string>
#include <vector>

#include "src/json/json_scanner.h"

namespace aw {

void PrintTo(const JsonError& e, std::ostream* os) {
  *os << "{" << e.offset << ", \"" << e.message << "\"}";
}

namespace {

using namespace std::string_literals;

bool simdjson_accepts(const std::string& text) {
  simdjson::dom::parser parser;
  return parser.parse(text.data(), text.size(), true).error() == simdjson::SUCCESS;
}

// check_json's verdict, with the scanner's own verdict checked against it: on
// a valid text check_json never runs the scanner, so this is where its
// acceptance is tested.
std::optional<JsonError> check(const std::string& text) {
  std::optional<JsonError> error = check_json(text);
  EXPECT_EQ(json_scan::scan_json(text), error) << text;
  if (simdjson::validate_utf8(text.data(), text.size())) {
    EXPECT_EQ(json_scan::scan_json(text, json_scan::Utf8::kAlreadyChecked), error) << text;
  }
  EXPECT_EQ(simdjson_accepts(text), !error.has_value()) << text;
  return error;
}

TEST(CheckJson, AcceptsObjectsAndArrays) {
  EXPECT_EQ(check(R"({"agent": "a1", "n": [1, -2.5e+3, 0, true, false, null, {}, []]})"),
            std::nullopt);
  EXPECT_EQ(check(" \t\r\n[ ]\n"), std::nullopt);
  EXPECT_EQ(check(R"({"a":{"b":{"c":[[[]]]}}})"), std::nullopt);
}

TEST(CheckJson, AcceptsScalarsAtTheTopLevel) {
  for (const char* text : {"1", "-0", "0.5e-3", "\"text\"", "true", "false", "null", " 42 "}) {
    EXPECT_EQ(check(text), std::nullopt) << text;
  }
}

TEST(CheckJson, AcceptsEscapesAndUtf8InStrings) {
  EXPECT_EQ(check(R"(["\"\\\/\b\f\n\r\t", "\u00e9\uD83D\uDE00\udbff\udfff"])"), std::nullopt);
  EXPECT_EQ(check("[\"caf\xC3\xA9 \xF0\x9F\x98\x80 \xE2\x82\xAC \x7F\"]"), std::nullopt);
}

TEST(CheckJson, RejectsTrailingGarbageAfterAValue) {
  EXPECT_EQ(check(R"({"a":1} x)"), (JsonError{8, "unexpected 'x' after the top-level value"}));
  EXPECT_EQ(check("1 2"), (JsonError{2, "unexpected '2' after the top-level value"}));
  EXPECT_EQ(check("true false"), (JsonError{5, "unexpected 'f' after the top-level value"}));
  EXPECT_EQ(check("[1]]"), (JsonError{3, "unexpected ']' after the top-level value"}));
  EXPECT_EQ(check("{}\n\0"s), (JsonError{3, "unexpected byte 0x00 after the top-level value"}));
}

TEST(CheckJson, RejectsEmptyAndWhitespace) {
  EXPECT_EQ(check(""), (JsonError{0, "empty input"}));
  EXPECT_EQ(check(" \n\t"), (JsonError{3, "no JSON value, only whitespace"}));
}

struct Invalid {
  std::string text;
  JsonError error;
};

TEST(CheckJson, NamesTheFirstOffendingByte) {
  const std::vector<Invalid> cases = {
      {R"({"a":1,})", {7, "trailing comma before '}'"}},
      {"[1,2,]", {5, "trailing comma before ']'"}},
      {"{a:1}", {1, "expected a double-quoted key, found 'a'"}},
      {R"({"a" 1})", {5, "expected ':' after an object key"}},
      {R"({"a":1 "b":2})", {7, "expected ',' or '}' after an object member"}},
      {"[1 2]", {3, "expected ',' or ']' after an array element"}},
      {R"({"a":1])", {6, "expected ',' or '}' after an object member"}},
      {"[tru]", {4, "invalid literal (expected 'true')"}},
      {"[nul", {4, "unexpected end of input inside a literal"}},
      {"[01]", {2, "leading zeros are not allowed in a number"}},
      {"[1.]", {3, "expected a digit after '.' in a number"}},
      {"[-x]", {2, "expected a digit after '-'"}},
      {"[1e+]", {4, "expected a digit in the exponent of a number"}},
      {"[1e309]", {1, "number too large for a double"}},
      {"[-9223372036854775809]",
       {1, "integer out of range (at most 64 bits; write it with a fraction or exponent)"}},
      {"[\"a\x01\"]", {3, "raw control character in a string (it must be escaped)"}},
      {"[\"a\nb\"]", {3, "raw control character in a string (it must be escaped)"}},
      {"[\"\xC3\x28\"]", {2, "invalid UTF-8 in a string"}},
      {"[\"\xED\xA0\x80\"]", {2, "invalid UTF-8 in a string"}},  // an encoded surrogate
      {"[\"\xC0\x80\"]", {2, "invalid UTF-8 in a string"}},      // overlong
      {R"(["\x"])", {2, "invalid escape sequence in a string"}},
      {R"(["\u12G4"])", {2, "\\u in a string must be followed by 4 hex digits"}},
      {R"(["ab\ud800"])",
       {4, "a \\u high surrogate in a string must be followed by a low surrogate"}},
      {R"(["\ud800\u0041"])",
       {2, "a \\u high surrogate in a string must be followed by a low surrogate"}},
      {R"(["\udc00"])", {2, "a \\u low surrogate in a string must follow a high surrogate"}},
      {R"({"a": "b)", {8, "unexpected end of input inside a string"}},
      {"<html>", {0, "expected a value, found '<'"}},
      {"[\0]"s, {1, "expected a value, found byte 0x00"}},
      {"\xEF\xBB\xBF{}", {0, "expected a value, found byte 0xEF"}},  // a byte-order mark
      {"[1,", {3, "unexpected end of input after ','"}},
      {R"({"a":)", {5, "unexpected end of input after ':'"}},
      {R"({"a")", {4, "unexpected end of input after an object key"}},
      {R"({"a":1,)", {7, "unexpected end of input after ','"}},
      {"[", {1, "unexpected end of input inside an array"}},
      {"{ ", {2, "unexpected end of input inside an object"}},
      {"[[1]", {4, "unexpected end of input inside an array"}},
      {"[-", {2, "unexpected end of input inside a number"}},
  };
  for (const Invalid& c : cases) EXPECT_EQ(check(c.text), c.error) << c.text;
}

TEST(CheckJson, LimitsNestingTo1024LevelsAsSimdjsonDoes) {
  // The innermost of 1024 levels may be an empty container, nothing deeper.
  EXPECT_EQ(check(std::string(1024, '[') + std::string(1024, ']')), std::nullopt);
  EXPECT_EQ(check(std::string(1024, '[') + "1" + std::string(1024, ']')),
            (JsonError{1024, "nested deeper than 1024"}));
  EXPECT_EQ(check(std::string(1025, '[') + std::string(1025, ']')),
            (JsonError{1024, "nested deeper than 1024"}));
  std::string objects;
  for (int i = 0; i < 1023; ++i) objects += R"({"k":)";
  EXPECT_EQ(check(objects + "{}" + std::string(1023, '}')), std::nullopt);
  EXPECT_EQ(check(objects + "[1]" + std::string(1023, '}')),
            (JsonError{objects.size() + 1, "nested deeper than 1024"}));
}

TEST(CheckJson, NumberLimitsAgreeWithSimdjson) {
  // 2^1024 - 2^970: the midpoint between DBL_MAX and 2^1024, which rounds up.
  const std::string midpoint =
      "17976931348623158079372897140530341507993413271003782693617377898044496829276475094664901"
      "79775872070963302864166928879109465555478519404026306574886715058206819089020007083836762"
      "73854845817711531764475730270069855571366959622842914819860834936475292719074168444365510"
      "704342711559699508093042880177904174497792";
  std::string below = midpoint;
  below.back() = '1';
  const std::vector<std::string> valid = {
      "18446744073709551615",
      "-9223372036854775808",
      "1.7976931348623158e308",
      "1e-400",
      "0e99999999999999999999999",
      "1e-9223372036854775809310",
      "1e000000000000000000000000308",
      below + ".0",
      "0." + std::string(400, '0') + "1e400",
      "-0.0",
  };
  const std::vector<std::string> invalid = {
      "18446744073709551616",
      "100000000000000000000",
      "-9223372036854775809",
      "1.7976931348623159e308",
      midpoint + ".0",
      "2" + midpoint.substr(1) + "e0",
      "1e99999999999999999999999",
      "1e9223372036854775809310",
      "0.1e310",
      "-1e309",
  };
  for (const std::string& n : valid) {
    EXPECT_EQ(check(n), std::nullopt) << n;
    EXPECT_EQ(check("[" + n + "]"), std::nullopt) << n;
  }
  for (const std::string& n : invalid) {
    EXPECT_TRUE(check(n).has_value()) << n;
    EXPECT_EQ(check("[" + n + "]").value_or(JsonError{}).offset, 1U) << n;
  }
}

TEST(CheckJson, FollowsSimdjsonsSlowRouteForLongFloats) {
  // Over 19 significant digits, simdjson reads at most the exponent digits
  // that reach 65536: 655370 counts as 65537, so these are finite to it.
  const std::string zeros(65300, '0');
  EXPECT_EQ(check("[0." + zeros + "12345678901234567890123e655370]"), std::nullopt);
  EXPECT_EQ(check("[" + std::string(66400, '1') + "e-6600000]").value_or(JsonError{}).message,
            "number too large for a double");
  // With few digits it reads the whole exponent.
  EXPECT_EQ(check("[0." + zeros + "1e655370]").value_or(JsonError{}).offset, 1U);
  EXPECT_EQ(check("[1.0000000000000000000001e700000]").value_or(JsonError{}).offset, 1U);
  EXPECT_EQ(check("[1.000000000000000000e700000]").value_or(JsonError{}).offset, 1U);
}

TEST(CheckJson, StopsAtEveryKindOfByteAtEveryPlaceInAString) {
  // Strings are read 8 bytes at a time: put what must stop the scan at each
  // place of a word, in strings of each length around one.
  const std::vector<std::string> stops = {"\"",       "\\n",  "\x01", "\x1F", "\\u00e9",
                                          "\xC3\xA9", "\xC3", "\xFF", "\x7F", " "};
  for (std::size_t len = 0; len <= 20; ++len) {
    for (std::size_t at = 0; at <= len; ++at) {
      for (const std::string& stop : stops) {
        const std::string body = std::string(at, 'a') + stop + std::string(len - at, 'b');
        check("[\"" + body + "\"]");
        check("[\"" + body);
      }
    }
  }
}

TEST(CheckJson, ChecksTextsOverOneMebibyteWithoutTheDomParser) {
  std::string big = "[";
  while (big.size() < (std::size_t{3} << 20)) {
    big += R"({"agent": "a1", "summary": "caf\u00e9 Ã© ð", "n": -1.5e-3}, )";
  }
  const std::string valid = big + "[]]";
  EXPECT_EQ(check(valid), std::nullopt);
  EXPECT_EQ(check(big + "tru]"), (JsonError{big.size() + 3, "invalid literal (expected 'true')"}));
  EXPECT_EQ(check(big + "\"\xFF\"]"), (JsonError{big.size() + 1, "invalid UTF-8 in a string"}));
  EXPECT_EQ(check(big), (JsonError{big.size(), "unexpected end of input after ','"}));
  EXPECT_EQ(check(valid + std::string(1 << 20, ' ') + "x"),
            (JsonError{valid.size() + (1 << 20), "unexpected 'x' after the top-level value"}));
}

TEST(CheckJson, ReportsTheFirstOfSeveralErrors) {
  EXPECT_EQ(check("{a:1, \"b\": [1 2]}"),
            (JsonError{1, "expected a double-quoted key, found 'a'"}));
  EXPECT_EQ(check("[\"\xFF\", 01]"), (JsonError{2, "invalid UTF-8 in a string"}));
}

}  // namespace
}  // namespace aw
