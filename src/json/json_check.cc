#include "src/json/json_check.h"

#include <simdjson.h>

#include "src/json/json_scanner.h"

namespace aw {

namespace {

// Texts up to this size go through the thread's DOM parser, whose buffers
// (about 15 bytes per input byte) stay for the next call.
constexpr std::size_t kDomMaxBytes = std::size_t{1} << 20;

}  // namespace

std::optional<JsonError> check_json(std::string_view text) {
  if (text.size() > kDomMaxBytes) {
    // No buffers: simdjson vouches for the UTF-8, the scanner for the rest.
    const bool utf8 = simdjson::validate_utf8(text.data(), text.size());
    return json_scan::scan_json(text,
                                utf8 ? json_scan::Utf8::kAlreadyChecked : json_scan::Utf8::kCheck);
  }
  // The scanner names an empty text's error; simdjson would be handed a null pointer.
  if (text.empty()) return json_scan::scan_json(text);
  thread_local simdjson::dom::parser parser;
  // realloc_if_needed: a string_view promises no padding after its end, so the
  // parser reads a padded copy.
  const simdjson::error_code code = parser.parse(text.data(), text.size(), true).error();
  if (code == simdjson::SUCCESS) return std::nullopt;
  std::optional<JsonError> error = json_scan::scan_json(text);
  if (error || code == simdjson::MEMALLOC) return error;
  // The scanner missed what simdjson saw (a bug the fuzz target hunts): still
  // invalid, as simdjson says, without a place.
  return JsonError{0, std::string("invalid JSON (") + simdjson::error_message(code) + ")"};
}

}  // namespace aw
