// Percent-escaping for the line-based state files (file index, log offsets):
// a text field with a TAB, a newline or another control byte stays on its line.
#pragma once

#include <optional>
#include <string>
#include <string_view>

namespace aw {

// Appends `s` with '%', control bytes (< 0x20) and DEL written as %XX.
void append_percent_escaped(std::string& out, std::string_view s);
inline std::string percent_escaped(std::string_view s) {
  std::string out;
  append_percent_escaped(out, s);
  return out;
}
// Decodes every %XX (either case); nullopt when a '%' lacks two hex digits.
std::optional<std::string> percent_unescape(std::string_view s);

}  // namespace aw
