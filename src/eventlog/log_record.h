// One line of the event log as the reader hands it out: the raw bytes and their
// simdjson DOM, so that filters and summaries can look at a key or two without
// materialising a full Event (parse_event_json does that when needed).
//
// Lifetime: every view here points into the reader's buffer and parser and is valid
// only during the visitor call that received it. Copy what you keep (STYLE §11).
#pragma once

#include <simdjson.h>

#include <cstdint>
#include <optional>
#include <string_view>

namespace aw {

struct LogRecord {
  std::string_view line;          // the JSON object, without the '\n'
  simdjson::dom::object object;   // `line`, parsed
  std::string_view kind;          // object["kind"], always present and a string
  std::string_view file;          // the file it came from (for messages)
  std::uint64_t line_number = 0;  // 1-based, within `file`

  // A top-level string member, or nullopt when absent or not a string.
  std::optional<std::string_view> string_member(std::string_view key) const {
    std::string_view s;
    if (object[key].get_string().get(s)) return std::nullopt;
    return s;
  }
  // fields.<key> when it is a boolean.
  std::optional<bool> bool_field(std::string_view key) const {
    bool b = false;
    if (object["fields"][key].get_bool().get(b)) return std::nullopt;
    return b;
  }
};

}  // namespace aw
