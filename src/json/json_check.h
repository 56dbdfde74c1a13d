// Is a text one valid JSON value, and if not, where does it stop being one?
// Agents' result files are read by other tools that only accept valid JSON, so
// the daemon checks them before anything else reads them (and repairs them,
// json_repair.h, when they are not).
//
// "Valid" means what simdjson 3's DOM parser accepts, which is RFC 8259 plus
// simdjson's limits: an integer (no fraction, no exponent) fits int64 when
// negative and uint64 otherwise, any other number rounds to a finite double, no
// value is nested deeper than 1024 (the top-level value at depth 1), and a
// \uD800-\uDFFF escape is only valid as a high-low surrogate pair. Scalars are
// valid at the top level (RFC 8259); a UTF-8 byte-order mark is not.
//
// How, and why two ways:
//  - up to 1 MiB (result files are mostly a few KB): simdjson's DOM parser
//    decides, and only when it says "invalid" does the byte-at-a-time scanner
//    (json_scanner.h) find the first bad byte; should the scanner ever miss
//    it, the error still says invalid, at offset 0. Each thread keeps its
//    parser, whose buffers are about 15 bytes per input byte: at most ~15 MiB.
//  - above 1 MiB: simdjson::validate_utf8, then the scanner (strings 8 bytes
//    at a time), which allocates nothing. The DOM parser would need 15 bytes
//    per input byte afresh each time (or pinned per thread for good), and
//    touching new memory is what a big check costs: on the 2-core dev VM a
//    cold 100 MB DOM parse ran at 0.08 GB/s (1.7 GB/s warm), this path at
//    1.4-1.6 GB/s.
//  The scanner implements simdjson's rules, limits and quirks included, and
//  the fuzz target (tests/fuzz/fuzz_json_repair.cc) holds it to the DOM
//  parser's verdict on every input.
//
// Pure: no I/O, no libuv; any bytes (NUL, invalid UTF-8) are fine; nothing
// throws except std::bad_alloc.
#pragma once

#include <cstddef>
#include <optional>
#include <string>
#include <string_view>

namespace aw {

// Where and why a text is not valid JSON.
struct JsonError {
  // The first offending byte (text.size() when the text ends too early).
  std::size_t offset = 0;
  // Lower-case phrase without the offset, e.g. "expected ',' or '}' after an
  // object member", "unexpected end of input inside a string". Printable ASCII:
  // a byte of the text is quoted as 'x' or named as "byte 0x1F".
  std::string message;

  friend bool operator==(const JsonError&, const JsonError&) = default;
};

// nullopt when `text` is exactly one valid JSON value with optional whitespace
// around it; otherwise the first error in reading order.
std::optional<JsonError> check_json(std::string_view text);

}  // namespace aw
