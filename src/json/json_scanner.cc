#include "src/json/json_scanner.h"

#include <algorithm>
#include <array>
#include <bit>
#include <cstdint>
#include <cstring>
#include <vector>

namespace aw::json_scan {

namespace {

bool is_digit(char c) {
  return c >= '0' && c <= '9';
}

int hex_value(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

Token complete(std::size_t end) {
  return {TokenStatus::kComplete, end, end, {}};
}
Token truncated(std::size_t size, std::size_t whole_end, std::string_view message) {
  return {TokenStatus::kTruncated, size, whole_end, message};
}
Token invalid(std::size_t at, std::string_view message) {
  return {TokenStatus::kInvalid, at, at, message};
}

// The first of the 8 bytes at `p` that a string's scan must look at: '"',
// '\\', a byte below 0x20 and, unless `non_ascii_ok`, one above 0x7F; 8 if
// none. Word-at-a-time tests (no false negatives, and false positives only
// above a true one, so the lowest flagged byte is exact on little-endian).
std::size_t first_to_look_at(const char* p, bool non_ascii_ok) {
  constexpr std::uint64_t kOnes = 0x0101010101010101;
  constexpr std::uint64_t kHigh = 0x8080808080808080;
  std::uint64_t w = 0;
  std::memcpy(&w, p, sizeof w);
  const auto has_zero = [](std::uint64_t v) { return (v - kOnes) & ~v & kHigh; };
  std::uint64_t flags = ((w - kOnes * 0x20) & ~w & kHigh) | has_zero(w ^ (kOnes * '"')) |
                        has_zero(w ^ (kOnes * '\\'));
  if (!non_ascii_ok) flags |= w & kHigh;
  return static_cast<std::size_t>(std::countr_zero(flags)) / 8;
}

constexpr std::string_view kEndInString = "unexpected end of input inside a string";
constexpr std::string_view kEndInNumber = "unexpected end of input inside a number";

// Reads the 4 hex digits of a \u escape at text[pos]; -1 when one is not hex,
// -2 when the text ends first (every digit before the end being hex).
int read_hex4(std::string_view text, std::size_t pos) {
  int value = 0;
  for (std::size_t k = 0; k < 4; ++k) {
    if (pos + k >= text.size()) return -2;
    const int h = hex_value(text[pos + k]);
    if (h < 0) return -1;
    value = value * 16 + h;
  }
  return value;
}

// Whether `c` may be byte `k` of a "\uDC00".."\uDFFF" escape.
bool fits_low_surrogate(std::size_t k, char c) {
  switch (k) {
    case 0:
      return c == '\\';
    case 1:
      return c == 'u';
    case 2:
      return c == 'd' || c == 'D';
    case 3:
      return (c >= 'c' && c <= 'f') || (c >= 'C' && c <= 'F');
    default:
      return hex_value(c) >= 0;
  }
}

// One escape sequence at text[esc] == '\\'. Returns the token's end (one past
// the escape) as a kComplete token, or why not.
Token scan_escape(std::string_view text, std::size_t esc) {
  const std::size_t n = text.size();
  if (esc + 1 == n) return truncated(n, esc, kEndInString);
  switch (text[esc + 1]) {
    case '"':
    case '\\':
    case '/':
    case 'b':
    case 'f':
    case 'n':
    case 'r':
    case 't':
      return complete(esc + 2);
    case 'u':
      break;
    default:
      return invalid(esc, "invalid escape sequence in a string");
  }
  const int code = read_hex4(text, esc + 2);
  if (code == -2) return truncated(n, esc, kEndInString);
  if (code == -1) return invalid(esc, "\\u in a string must be followed by 4 hex digits");
  if (code >= 0xDC00 && code <= 0xDFFF) {
    return invalid(esc, "a \\u low surrogate in a string must follow a high surrogate");
  }
  if (code < 0xD800 || code > 0xDBFF) return complete(esc + 6);
  // A high surrogate: only "\uDC00".."\uDFFF" may follow.
  const std::size_t low = esc + 6;
  for (std::size_t k = 0; k < 6; ++k) {
    if (low + k == n) return truncated(n, esc, kEndInString);
    if (!fits_low_surrogate(k, text[low + k])) {
      return invalid(esc, "a \\u high surrogate in a string must be followed by a low surrogate");
    }
  }
  return complete(low + 6);
}

// The UTF-8 sequence led by the non-ASCII byte at text[pos] (Unicode's table
// 3-7: no overlong forms, no surrogates, nothing past U+10FFFF).
Token scan_utf8(std::string_view text, std::size_t pos) {
  const std::size_t n = text.size();
  const auto lead = static_cast<unsigned char>(text[pos]);
  std::size_t more = 0;
  unsigned char lo = 0x80;
  unsigned char hi = 0xBF;
  if (lead >= 0xC2 && lead <= 0xDF) {
    more = 1;
  } else if (lead >= 0xE0 && lead <= 0xEF) {
    more = 2;
    if (lead == 0xE0) lo = 0xA0;
    if (lead == 0xED) hi = 0x9F;
  } else if (lead >= 0xF0 && lead <= 0xF4) {
    more = 3;
    if (lead == 0xF0) lo = 0x90;
    if (lead == 0xF4) hi = 0x8F;
  } else {
    return invalid(pos, "invalid UTF-8 in a string");
  }
  for (std::size_t k = 1; k <= more; ++k) {
    if (pos + k == n) return truncated(n, pos, kEndInString);
    const auto c = static_cast<unsigned char>(text[pos + k]);
    if (c < lo || c > hi) return invalid(pos, "invalid UTF-8 in a string");
    lo = 0x80;
    hi = 0xBF;
  }
  return complete(pos + more + 1);
}

// The rest of a string from text[i], a byte the word-at-a-time loop stopped
// at: byte by byte through escapes and UTF-8 sequences.
Token string_from(std::string_view text, std::size_t i, bool utf8_checked);

// Strings are most of a JSON text's bytes, and most hold no escape: this
// part is small enough to inline where strings are read.
inline Token string_token(std::string_view text, std::size_t quote, bool utf8_checked) {
  const std::size_t n = text.size();
  std::size_t i = quote + 1;
  if constexpr (std::endian::native == std::endian::little) {
    while (i + 8 <= n) {
      const std::size_t skip = first_to_look_at(text.data() + i, utf8_checked);
      i += skip;
      if (skip < 8) break;
    }
  }
  if (i < n && text[i] == '"') return complete(i + 1);
  return string_from(text, i, utf8_checked);
}

Token string_from(std::string_view text, std::size_t i, bool utf8_checked) {
  const std::size_t n = text.size();
  for (;;) {
    if constexpr (std::endian::native == std::endian::little) {
      while (i + 8 <= n) {
        const std::size_t skip = first_to_look_at(text.data() + i, utf8_checked);
        i += skip;
        if (skip < 8) break;
      }
    }
    if (i == n) return truncated(n, n, kEndInString);
    const auto c = static_cast<unsigned char>(text[i]);
    if (c == '"') return complete(i + 1);
    if (c == '\\') {
      const Token e = scan_escape(text, i);
      if (e.status != TokenStatus::kComplete) return e;
      i = e.end;
    } else if (c < 0x20) {
      return invalid(i, "raw control character in a string (it must be escaped)");
    } else if (c < 0x80 || utf8_checked) {
      ++i;
    } else {
      const Token u = scan_utf8(text, i);
      if (u.status != TokenStatus::kComplete) return u;
      i = u.end;
    }
  }
}

// 2^1024 - 2^970, the midpoint between DBL_MAX and 2^1024: a decimal at or
// above it rounds (to even) to infinity, which simdjson refuses.
constexpr std::string_view kDoubleOverflow =
    "17976931348623158079372897140530341507993413271003782693617377898044496829276475094664901"
    "79775872070963302864166928879109465555478519404026306574886715058206819089020007083836762"
    "73854845817711531764475730270069855571366959622842914819860834936475292719074168444365510"
    "704342711559699508093042880177904174497792";
static_assert(kDoubleOverflow.size() == 309);

// An exponent's magnitude is counted up to this, which keeps the arithmetic
// in range; a text shorter than 10^17 bytes cannot bring a number scaled by
// 10^(+-10^17) back into a double's range.
constexpr std::int64_t kExponentCap = 100'000'000'000'000'000;

// Whether the integer part [int_begin, int_end) and fraction [frac_begin,
// frac_end) times 10^exponent reaches kDoubleOverflow. Reads at most 309
// significant digits.
bool overflows_double(std::string_view text, std::size_t int_begin, std::size_t int_end,
                      std::size_t frac_begin, std::size_t frac_end, std::int64_t exponent) {
  const std::size_t int_len = int_end - int_begin;
  // Below 10^(int_len + exponent) <= 10^308: the common case, decided at once.
  if (static_cast<std::int64_t>(int_len) + exponent <= 308) return false;
  // The digits as one sequence: integer part, then fraction.
  const std::size_t total = int_len + (frac_end - frac_begin);
  auto digit = [&](std::size_t k) {
    return k < int_len ? text[int_begin + k] : text[frac_begin + (k - int_len)];
  };
  std::size_t first = 0;
  while (first < total && digit(first) == '0') ++first;
  if (first == total) return false;  // zero
  // value = 0.d1d2... * 10^magnitude, d1 the first non-zero digit.
  const std::int64_t magnitude =
      static_cast<std::int64_t>(int_len) - static_cast<std::int64_t>(first) + exponent;
  const auto limit = static_cast<std::int64_t>(kDoubleOverflow.size());
  if (magnitude != limit) return magnitude > limit;
  for (std::size_t k = 0; k < kDoubleOverflow.size(); ++k) {
    const char d = first + k < total ? digit(first + k) : '0';
    if (d != kDoubleOverflow[k]) return d > kDoubleOverflow[k];
  }
  return true;  // equal to the midpoint, or above it
}

// simdjson 3 converts a float with more than 19 significant digits (as it
// counts them: from the first digit other than '0' through the fraction, the
// '.' included) by a slower route that stops taking exponent digits once their
// value reaches 65536: "1.00000000000000000001e700000" is read as 1e70000.
// To agree with simdjson on which numbers are finite, that exponent is used.
constexpr std::int64_t kSlowExponentStop = 0x10000;

bool takes_slow_route(std::string_view text, std::size_t int_begin, std::size_t int_end,
                      std::size_t frac_end) {
  // Characters from the first digit to the end of the fraction, '.' included.
  const std::size_t chars = frac_end > int_end ? frac_end - int_begin : int_end - int_begin;
  if (chars <= 19) return false;
  std::size_t skipped = 0;
  while (skipped < chars &&
         (text[int_begin + skipped] == '0' || text[int_begin + skipped] == '.')) {
    ++skipped;
  }
  return chars - skipped > 19;
}

// Whether the digits [begin, end) (no leading zero) exceed the decimal `max`.
bool exceeds(std::string_view text, std::size_t begin, std::size_t end, std::string_view max) {
  const std::size_t len = end - begin;
  if (len != max.size()) return len > max.size();
  return text.substr(begin, len) > max;
}

enum class Expect : unsigned char {
  kFirstValue,  // after '[': a value or ']'
  kValue,       // at the top, after ':' or after ',' in an array
  kFirstKey,    // after '{': a key or '}'
  kKey,         // after ',' in an object
  kColon,
  kAfterValue,
};

std::string end_message(Expect expect, bool in_object) {
  switch (expect) {
    case Expect::kFirstValue:
      return "unexpected end of input inside an array";
    case Expect::kValue:
      return in_object ? "unexpected end of input after ':'" : "unexpected end of input after ','";
    case Expect::kFirstKey:
      return "unexpected end of input inside an object";
    case Expect::kKey:
      return "unexpected end of input after ','";
    case Expect::kColon:
      return "unexpected end of input after an object key";
    case Expect::kAfterValue:
      break;
  }
  return in_object ? "unexpected end of input inside an object"
                   : "unexpected end of input inside an array";
}

JsonError token_error(const Token& t, std::size_t start) {
  return {t.status == TokenStatus::kOutOfRange ? start : t.end, std::string(t.message)};
}

}  // namespace

std::size_t skip_space(std::string_view text, std::size_t pos) {
  while (pos < text.size() && is_space(text[pos])) ++pos;
  return pos;
}

Token scan_string(std::string_view text, std::size_t quote, Utf8 utf8) {
  return string_token(text, quote, utf8 == Utf8::kAlreadyChecked);
}

Token scan_number(std::string_view text, std::size_t start) {
  const std::size_t n = text.size();
  std::size_t i = start;
  const bool negative = text[i] == '-';
  if (negative) ++i;
  if (i == n) return truncated(n, n, kEndInNumber);
  const std::size_t int_begin = i;
  if (text[i] == '0') {
    ++i;
    if (i < n && is_digit(text[i])) return invalid(i, "leading zeros are not allowed in a number");
  } else if (is_digit(text[i])) {
    while (i < n && is_digit(text[i])) ++i;
  } else {
    return invalid(i, "expected a digit after '-'");
  }
  const std::size_t int_end = i;
  bool is_float = false;
  std::size_t frac_begin = i;
  std::size_t frac_end = i;
  if (i < n && text[i] == '.') {
    is_float = true;
    ++i;
    if (i == n) return truncated(n, n, kEndInNumber);
    if (!is_digit(text[i])) return invalid(i, "expected a digit after '.' in a number");
    frac_begin = i;
    while (i < n && is_digit(text[i])) ++i;
    frac_end = i;
  }
  std::int64_t exponent = 0;
  std::int64_t slow_exponent = 0;  // the exponent as simdjson's slow route reads it
  if (i < n && (text[i] == 'e' || text[i] == 'E')) {
    is_float = true;
    ++i;
    bool exponent_negative = false;
    if (i < n && (text[i] == '+' || text[i] == '-')) {
      exponent_negative = text[i] == '-';
      ++i;
    }
    if (i == n) return truncated(n, n, kEndInNumber);
    if (!is_digit(text[i])) return invalid(i, "expected a digit in the exponent of a number");
    while (i < n && is_digit(text[i])) {
      exponent = std::min(exponent * 10 + (text[i] - '0'), kExponentCap);
      if (slow_exponent < kSlowExponentStop) slow_exponent = slow_exponent * 10 + (text[i] - '0');
      ++i;
    }
    if (exponent_negative) {
      exponent = -exponent;
      slow_exponent = -slow_exponent;
    }
  }
  if (is_float) {
    if (slow_exponent != exponent && takes_slow_route(text, int_begin, int_end, frac_end)) {
      exponent = slow_exponent;
    }
    if (overflows_double(text, int_begin, int_end, frac_begin, frac_end, exponent)) {
      return {TokenStatus::kOutOfRange, i, i, "number too large for a double"};
    }
  } else if (exceeds(text, int_begin, int_end,
                     negative ? "9223372036854775808" : "18446744073709551615")) {
    return {TokenStatus::kOutOfRange, i, i,
            "integer out of range (at most 64 bits; write it with a fraction or exponent)"};
  }
  return complete(i);
}

Token scan_literal(std::string_view text, std::size_t start) {
  std::string_view word = "null";
  std::string_view message = "invalid literal (expected 'null')";
  if (text[start] == 't') {
    word = "true";
    message = "invalid literal (expected 'true')";
  } else if (text[start] == 'f') {
    word = "false";
    message = "invalid literal (expected 'false')";
  }
  for (std::size_t k = 0; k < word.size(); ++k) {
    if (start + k == text.size()) {
      return truncated(text.size(), text.size(), "unexpected end of input inside a literal");
    }
    if (text[start + k] != word[k]) return invalid(start + k, message);
  }
  return complete(start + word.size());
}

bool starts_number_or_literal(char c) {
  return c == '-' || is_digit(c) || c == 't' || c == 'f' || c == 'n';
}

std::string describe_byte(char c) {
  const auto u = static_cast<unsigned char>(c);
  if (u >= 0x20 && u < 0x7F) return std::string{'\'', c, '\''};
  static constexpr std::array<char, 16> kHex = {'0', '1', '2', '3', '4', '5', '6', '7',
                                                '8', '9', 'A', 'B', 'C', 'D', 'E', 'F'};
  return std::string("byte 0x") + kHex[u >> 4] + kHex[u & 0xF];
}

std::optional<JsonError> scan_json(std::string_view text, Utf8 utf8) {
  const std::size_t n = text.size();
  const bool utf8_checked = utf8 == Utf8::kAlreadyChecked;
  std::size_t i = skip_space(text, 0);
  if (i == n) return JsonError{n, n == 0 ? "empty input" : "no JSON value, only whitespace"};
  std::vector<bool> open;  // per open container: is it an object?
  bool in_object = false;  // open.back(), kept at hand
  Expect expect = Expect::kValue;
  // "{}" or "[]": the container closes right after it opened.
  const auto close_empty = [&] {
    open.pop_back();
    in_object = !open.empty() && open.back();
    ++i;
    expect = Expect::kAfterValue;
  };
  for (;;) {
    // Mostly nothing or one space: look before calling.
    if (i < n && is_space(text[i])) i = skip_space(text, i + 1);
    if (i == n) {
      if (expect == Expect::kAfterValue && open.empty()) return std::nullopt;
      return JsonError{n, end_message(expect, in_object)};
    }
    const char c = text[i];
    switch (expect) {
      case Expect::kFirstKey:
        if (c == '}') {
          close_empty();
          break;
        }
        [[fallthrough]];
      case Expect::kKey:
        if (c != '"') {
          if (c == '}') return JsonError{i, "trailing comma before '}'"};
          return JsonError{i, "expected a double-quoted key, found " + describe_byte(c)};
        } else {
          const Token t = string_token(text, i, utf8_checked);
          if (t.status != TokenStatus::kComplete) return token_error(t, i);
          i = t.end;
          expect = Expect::kColon;
        }
        break;
      case Expect::kColon:
        if (c != ':') return JsonError{i, "expected ':' after an object key"};
        ++i;
        expect = Expect::kValue;
        break;
      case Expect::kAfterValue:
        if (open.empty()) {
          return JsonError{i, "unexpected " + describe_byte(c) + " after the top-level value"};
        }
        if (c == ',') {
          expect = in_object ? Expect::kKey : Expect::kValue;
        } else if (c == (in_object ? '}' : ']')) {
          open.pop_back();
          in_object = !open.empty() && open.back();
        } else {
          return JsonError{i, in_object ? "expected ',' or '}' after an object member"
                                        : "expected ',' or ']' after an array element"};
        }
        ++i;
        break;
      case Expect::kFirstValue:
        if (c == ']') {
          close_empty();
          break;
        }
        [[fallthrough]];
      case Expect::kValue:
        if (open.size() >= kMaxDepth) return JsonError{i, "nested deeper than 1024"};
        if (c == '{' || c == '[') {
          in_object = c == '{';
          open.push_back(in_object);
          ++i;
          expect = in_object ? Expect::kFirstKey : Expect::kFirstValue;
          break;
        }
        if (c == '"' || starts_number_or_literal(c)) {
          const Token t = c == '"'                  ? string_token(text, i, utf8_checked)
                          : c == '-' || is_digit(c) ? scan_number(text, i)
                                                    : scan_literal(text, i);
          if (t.status != TokenStatus::kComplete) return token_error(t, i);
          i = t.end;
          expect = Expect::kAfterValue;
          break;
        }
        if (c == ']' && expect == Expect::kValue && !in_object && !open.empty()) {
          return JsonError{i, "trailing comma before ']'"};
        }
        return JsonError{i, "expected a value, found " + describe_byte(c)};
    }
  }
}

}  // namespace aw::json_scan
