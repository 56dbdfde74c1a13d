// The JSON grammar as check_json defines it (json_check.h: RFC 8259 plus
// simdjson's limits), read byte by byte (strings a word at a time) so that the
// first offending byte can be named. Shared by check_json, which runs
// scan_json when simdjson's DOM parser rejected a text and, for texts over
// 1 MiB, instead of that parser; and by repair_json (json_repair.h), whose
// lenient pass reads every token with the same functions so that what it
// keeps is valid by the same rules.
//
// One simdjson quirk is kept, because agreeing with simdjson is the point: a
// float with more than 19 significant digits has its exponent digits read only
// until their value reaches 65536, so "0.<65300 zeros>123...e655370" is
// finite to simdjson (exponent read as 65537), and to scan_json too.
//
// The token functions never read past text.size() and take time linear in the
// token; a token cut by the end of the text is reported as kTruncated (not
// kInvalid) when some continuation could still make it valid, because that is
// the difference between a file an agent stopped writing and a broken one.
#pragma once

#include <cstddef>
#include <optional>
#include <string>
#include <string_view>

#include "src/json/json_check.h"

namespace aw::json_scan {

// The deepest a value may sit; the top-level value is at depth 1. simdjson
// counts the same way (it counts non-empty containers and allows 1023, so an
// empty container may be the 1024th level).
inline constexpr std::size_t kMaxDepth = 1024;

inline bool is_space(char c) {
  return c == ' ' || c == '\t' || c == '\n' || c == '\r';
}

// The first offset at or after `pos` that is not JSON whitespace (text.size() if none).
std::size_t skip_space(std::string_view text, std::size_t pos);

enum class TokenStatus : unsigned char {
  kComplete,    // a whole token: `end` is one past it
  kTruncated,   // the text ends inside the token, which could still become valid
  kInvalid,     // `end` is the offending byte
  kOutOfRange,  // a number that simdjson refuses: `end` is one past it
};

struct Token {
  TokenStatus status = TokenStatus::kComplete;
  std::size_t end = 0;
  // For a kTruncated string: one past its last whole character, where the
  // partial escape or UTF-8 sequence at the cut begins (end when none).
  std::size_t whole_end = 0;
  // For everything but kComplete: a static phrase in JsonError::message style.
  std::string_view message;
};

// Whether the caller already knows the whole text is valid UTF-8
// (simdjson::validate_utf8, many GB/s): strings then skip 8 bytes at a time.
enum class Utf8 : unsigned char { kCheck, kAlreadyChecked };

// A string starting at the '"' at text[quote]: valid escapes (a \u high
// surrogate paired with a low one), valid UTF-8, no raw byte below 0x20.
Token scan_string(std::string_view text, std::size_t quote, Utf8 utf8 = Utf8::kCheck);

// A number starting at text[start] ('-' or a digit). The token ends at the
// first byte that cannot continue it; that byte is the caller's business.
Token scan_number(std::string_view text, std::size_t start);

// `true`, `false` or `null` starting at text[start] ('t', 'f' or 'n'); the byte
// after the literal is the caller's business.
Token scan_literal(std::string_view text, std::size_t start);

// Whether a byte starts a number or a literal.
bool starts_number_or_literal(char c);

// A byte for a message: 'x' for printable ASCII, "byte 0x1F" otherwise.
std::string describe_byte(char c);

// The first error of `text`, or nullopt when it is valid JSON. Linear time,
// O(depth) memory, no other allocation.
std::optional<JsonError> scan_json(std::string_view text, Utf8 utf8 = Utf8::kCheck);

}  // namespace aw::json_scan
