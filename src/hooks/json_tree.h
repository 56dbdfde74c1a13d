// A JSON value tree that keeps what a person wrote in a settings file: object
// members in their order (duplicates included), integers exactly, strings
// as text. install-hooks (hook_settings.h) edits agents' settings files with
// it, and a file must come back with every key it had, in the order it had
// them, so a reviewer's diff shows only the hooks that were added.
//
// What does not survive a round trip: whitespace (the output is always
// pretty-printed with 2-space indentation, as Claude Code and Gemini CLI write
// their own settings), and the spelling of non-integer numbers (1.50 comes
// back as 1.5, 1e3 as 1000: the same value, written shortest). A JSON text has
// no comments, so none are lost.
//
// Pure (no I/O); parse errors say where, as line:column (1-based, columns in
// bytes), and what was expected.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <variant>
#include <vector>

#include "src/core/result.h"

namespace aw {

class JsonValue;

// An object's members in document order. A vector, not a map: order is the
// point, and settings objects have a handful of keys.
using JsonMembers = std::vector<std::pair<std::string, JsonValue>>;
using JsonArray = std::vector<JsonValue>;

class JsonValue {
 public:
  struct Null {
    friend bool operator==(Null, Null) = default;
  };
  // int64 and uint64 keep integers exact; every other number is a double.
  using Variant = std::variant<Null, bool, std::int64_t, std::uint64_t, double, std::string,
                               JsonArray, JsonMembers>;

  JsonValue() = default;
  JsonValue(Variant v) : v_(std::move(v)) {}  // NOLINT(google-explicit-constructor)
  static JsonValue object() { return JsonValue(JsonMembers{}); }
  static JsonValue array() { return JsonValue(JsonArray{}); }
  static JsonValue string(std::string s) { return JsonValue(std::move(s)); }

  bool is_object() const { return std::holds_alternative<JsonMembers>(v_); }
  bool is_array() const { return std::holds_alternative<JsonArray>(v_); }
  bool is_string() const { return std::holds_alternative<std::string>(v_); }
  bool is_null() const { return std::holds_alternative<Null>(v_); }

  // Preconditions: the matching is_*() is true.
  JsonMembers& members() { return std::get<JsonMembers>(v_); }
  const JsonMembers& members() const { return std::get<JsonMembers>(v_); }
  JsonArray& items() { return std::get<JsonArray>(v_); }
  const JsonArray& items() const { return std::get<JsonArray>(v_); }
  const std::string& str() const { return std::get<std::string>(v_); }

  // The first member named `key` of an object; nullptr when there is none or
  // this is not an object. Pointers are valid until the object is changed.
  JsonValue* find(std::string_view key);
  const JsonValue* find(std::string_view key) const;
  // The first member named `key`, appended (as null) when missing.
  // Precondition: is_object().
  JsonValue& get_or_add(std::string_view key);
  // Removes every member named `key`; returns how many.
  std::size_t erase(std::string_view key);

  const Variant& variant() const { return v_; }
  friend bool operator==(const JsonValue&, const JsonValue&) = default;

 private:
  Variant v_;
};

// Parses one JSON text (RFC 8259, as simdjson reads it). Errors read
// "LINE:COL: WHAT" (e.g. "3:17: expected ',' or '}' after an object member").
Result<JsonValue> parse_json_tree(std::string_view text);

// Pretty-prints with 2-space indentation and a final newline; an empty object
// or array is written "{}" / "[]". Strings are escaped minimally (quote,
// backslash, control characters); UTF-8 is written as is.
std::string format_json_tree(const JsonValue& v);

// "LINE:COL" of a byte offset in `text` (both 1-based; the column counts bytes).
std::string line_col(std::string_view text, std::size_t offset);

}  // namespace aw
