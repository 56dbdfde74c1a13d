// Repairs the ways an agent's result file typically breaks, and nothing else:
// the agent was killed mid-write (the file is cut short), or it wrote
// JavaScript-ish JSON (unquoted keys, trailing commas). Anything else is
// refused with a reason, because a guess at what a broken file meant would be
// handed on as if the agent had written it.
//
// Repairs, each reported as a JsonChange:
//  - an unquoted object key [A-Za-z_$][A-Za-z0-9_$-]* gets double quotes;
//  - a trailing comma before ']' or '}' is removed;
//  - a text that ends early is completed: whatever the cut left incomplete
//    is dropped, then every open object and array is closed, innermost first.
//
// Policy at the cut, keeping all the agent wrote that can be kept as is:
//  - inside a string value: the string is closed after its last whole
//    character (a partial escape or UTF-8 sequence at the cut is dropped), so
//    a truncated "summary" keeps its text;
//  - inside a key, or after a key or its ':': the member is dropped (it has
//    no value, and inventing one would be a guess);
//  - inside a number that is not yet a number ('-', '1.', '1e', '1e+') or
//    that simdjson refuses (the 21 digits before the '.' of a valid
//    "100000000000000000000.5" make an integer past 64 bits), or inside a
//    literal ("tru"): the element or member is dropped; a number that is
//    complete at the cut ("12" of what may have been "123") is kept;
//  - after a ',': the ',' is dropped.
// So every prefix of a valid object or array (from its '{' or '[' on) is
// repaired into an object or array. A top-level string cut short is closed
// too; a top-level number or literal that the cut left incomplete is
// unrepairable (nothing would be left).
//
// Never repaired: empty or whitespace-only text, a text that does not start
// like JSON, anything after the top-level value, invalid UTF-8, raw control
// characters in strings, bad escapes, numbers simdjson refuses (unless at the
// cut), nesting deeper than 1024, and every other grammar error.
//
// Guarantees: a JsonRepair's text is valid JSON by check_json (verified before
// it is returned); changes are in offset order and never empty; offsets are
// those of the original text (<= its size). Linear time, O(depth) memory
// besides the output. Pure (no I/O, no libuv); nothing throws except
// std::bad_alloc.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include "src/json/json_check.h"

namespace aw {

struct JsonChange {
  // Byte offset in the original text: the first byte of what was changed or
  // dropped; text.size() for what was appended at the end.
  std::size_t offset = 0;
  // Short and human, e.g. "quoted the key 'name'", "removed a trailing comma",
  // "closed an unterminated string", "closed 2 open objects/arrays".
  std::string what;

  friend bool operator==(const JsonChange&, const JsonChange&) = default;
};

struct JsonRepair {
  std::string text;                 // valid JSON
  std::vector<JsonChange> changes;  // in offset order; never empty
};

struct JsonUnrepairable {
  // check_json's error for the original text ({0, ""} for valid text).
  JsonError error;
  // Why no repair applies, e.g. "empty file", "not JSON: starts with 'G'",
  // "invalid UTF-8 in a string at byte 12", "already valid JSON".
  std::string why;
};

// For a text check_json rejects. A valid text gives JsonUnrepairable with why
// "already valid JSON", so the function is total.
std::variant<JsonRepair, JsonUnrepairable> repair_json(std::string_view text);

}  // namespace aw
