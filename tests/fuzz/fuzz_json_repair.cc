// JSON validation and repair (src/json/json_check.h, src/json/json_repair.h):
// any bytes, as an agent's result file may hold.
//
// Holds beyond "no crash":
//   - check_json and the strict scanner alone (json_scanner.h) both agree with
//     simdjson's DOM parser on validity, and the scanner finds the same error
//     when told the text is valid UTF-8 (as for texts over 1 MiB); an error's
//     offset is within the text;
//   - a valid text is "already valid JSON" to repair_json;
//   - an invalid text is either repaired into text that simdjson and
//     check_json accept, with changes in offset order within the input, or
//     refused with check_json's own error and a reason that is not an
//     internal error (the repair's safety net never fires);
//   - a cut of the repaired text (or of a valid input) that is an object or
//     array, anywhere after its opener, is repaired into the same type.
#include <simdjson.h>

#include <optional>
#include <string>
#include <variant>

#include "src/json/json_check.h"
#include "src/json/json_repair.h"
#include "src/json/json_scanner.h"
#include "tests/fuzz/fuzz_support.h"

using namespace aw;

namespace {

simdjson::dom::parser& parser() {
  static simdjson::dom::parser p;
  return p;
}

bool simdjson_accepts(std::string_view text) {
  return parser().parse(text.data(), text.size(), true).error() == simdjson::SUCCESS;
}

// '{', '[' or '"' ... the first byte of the top-level value (0 if none).
char first_byte(std::string_view json) {
  const std::size_t at = json_scan::skip_space(json, 0);
  return at < json.size() ? json[at] : '\0';
}

// Returns the repaired text, if any.
std::optional<std::string> check_repair(std::string_view text,
                                        const std::optional<JsonError>& error) {
  const std::variant<JsonRepair, JsonUnrepairable> r = repair_json(text);
  if (const auto* no = std::get_if<JsonUnrepairable>(&r)) {
    FUZZ_CHECK(error.has_value() ? no->error == *error : no->why == "already valid JSON");
    FUZZ_CHECK(no->error.offset <= text.size());
    FUZZ_CHECK(!no->why.empty());
    FUZZ_CHECK(!no->why.starts_with("internal error"));
    return std::nullopt;
  }
  const JsonRepair& fix = std::get<JsonRepair>(r);
  FUZZ_CHECK(error.has_value());
  FUZZ_CHECK(simdjson_accepts(fix.text));
  FUZZ_CHECK(!check_json(fix.text).has_value());
  FUZZ_CHECK(!fix.changes.empty());
  for (std::size_t k = 0; k < fix.changes.size(); ++k) {
    FUZZ_CHECK(fix.changes[k].offset <= text.size());
    FUZZ_CHECK(!fix.changes[k].what.empty());
    FUZZ_CHECK(k == 0 || fix.changes[k - 1].offset <= fix.changes[k].offset);
  }
  return fix.text;
}

// `json` is valid: a prefix of it that still holds the opener of a top-level
// object or array is valid or repaired into a value of the same type.
void check_cut(std::string_view json, std::size_t cut) {
  const char first = first_byte(json);
  if (first != '{' && first != '[') return;
  const std::size_t opener = json_scan::skip_space(json, 0);
  if (cut <= opener) return;
  const std::string_view prefix = json.substr(0, cut);
  if (!check_json(prefix)) return;
  const std::variant<JsonRepair, JsonUnrepairable> r = repair_json(prefix);
  const auto* fix = std::get_if<JsonRepair>(&r);
  FUZZ_CHECK(fix != nullptr);
  FUZZ_CHECK(first_byte(fix->text) == first);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view text = fuzz::as_text(data, size);
  const bool valid = simdjson_accepts(text);
  const std::optional<JsonError> error = check_json(text);
  FUZZ_CHECK(error.has_value() == !valid);
  FUZZ_CHECK(json_scan::scan_json(text).has_value() == !valid);
  if (simdjson::validate_utf8(text.data(), text.size())) {
    // The word-at-a-time string scan of texts over 1 MiB, on any text.
    FUZZ_CHECK(json_scan::scan_json(text, json_scan::Utf8::kAlreadyChecked) == error);
  }
  if (error) {
    FUZZ_CHECK(error->offset <= size);
    FUZZ_CHECK(!error->message.empty());
    FUZZ_CHECK(!error->message.starts_with("invalid JSON ("));  // the scanner found it
  }
  const std::optional<std::string> repaired = check_repair(text, error);

  // A cut somewhere in the middle, chosen by the input's first byte.
  const std::size_t pick = size == 0 ? 0 : static_cast<unsigned char>(text[0]);
  if (valid) {
    check_cut(text, size * pick / 256);
  } else if (repaired) {
    check_cut(*repaired, repaired->size() * pick / 256);
  }
  return 0;
}
