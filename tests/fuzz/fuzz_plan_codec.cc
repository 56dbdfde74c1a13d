// Intent-journal plans: the input is one record as parse_plan_json
// (src/plan/plan_codec.h) reads it back after a crash.
//
// Holds beyond "no crash":
//   - an error is one line (no control byte) that starts with what it is
//     about: the JSON as a whole or the path of the offending key ("rule",
//     "actions[2].argv", or an unknown top-level key);
//   - a plan that parses encodes to one line with no raw control byte, which
//     parses again and encodes to the same bytes (the encoding is a fixed
//     point after one round, so a resumed plan is the one recorded);
//   - every probe pattern of a parsed plan holds its compiled regex.
#include <re2/re2.h>

#include <string>
#include <string_view>

#include "src/plan/plan_codec.h"
#include "tests/fuzz/fuzz_support.h"

using namespace aw;

namespace {

bool is_one_line(std::string_view s) {
  for (char c : s) {
    const auto b = static_cast<unsigned char>(c);
    if (b < 0x20 || b == 0x7F) return false;
  }
  return true;
}

void check_error(const Error& error) {
  const std::string_view m = error.message;
  FUZZ_CHECK(is_one_line(m));
  // An unknown key at the top names whatever key the input had.
  FUZZ_CHECK(m.starts_with("not JSON: ") || m == "expected a JSON object" ||
             m.starts_with("rule: ") || m.starts_with("actions") || m.ends_with(": unknown key"));
}

void check_patterns(const Plan& plan) {
  for (const ActionRequest& a : plan.actions) {
    const auto* probe = a.as<ProbeRequest>();
    if (!probe) continue;
    for (const ProbePattern& p : probe->patterns) FUZZ_CHECK(p.regex && p.regex->ok());
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  auto plan = parse_plan_json(fuzz::as_text(data, size));
  if (!plan) {
    check_error(plan.error());
    return 0;
  }
  check_patterns(*plan);
  std::string once;
  append_plan_json(once, *plan);
  FUZZ_CHECK(is_one_line(once));
  auto again = parse_plan_json(once);
  FUZZ_CHECK(again.ok());
  check_patterns(*again);
  std::string twice;
  append_plan_json(twice, *again);
  FUZZ_CHECK(twice == once);
  return 0;
}
