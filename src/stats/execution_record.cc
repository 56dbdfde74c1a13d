#include "src/stats/execution_record.h"

#include <cmath>
#include <limits>

#include "src/core/event_kinds.h"

namespace aw {
namespace {

// Integers as the daemon writes them; decimals and huge unsigned values from
// hand-written lines are brought into range rather than refused.
std::optional<std::int64_t> as_int(simdjson::dom::element value) {
  switch (value.type()) {
    case simdjson::dom::element_type::INT64:
      return value.get_int64().value_unsafe();
    case simdjson::dom::element_type::UINT64: {
      const std::uint64_t u = value.get_uint64().value_unsafe();
      constexpr auto kMax = static_cast<std::uint64_t>(std::numeric_limits<std::int64_t>::max());
      return static_cast<std::int64_t>(u > kMax ? kMax : u);
    }
    case simdjson::dom::element_type::DOUBLE: {
      const double d = value.get_double().value_unsafe();
      // Outside this range llround is undefined; such a value is not a duration.
      if (!std::isfinite(d) || std::fabs(d) > 9.0e18) return std::nullopt;
      return static_cast<std::int64_t>(std::llround(d));
    }
    default:
      return std::nullopt;
  }
}

std::string_view as_string(simdjson::dom::element value) {
  std::string_view s;
  if (value.get_string().get(s)) return {};
  return s;
}

void decode_fields(simdjson::dom::object fields, Execution& e) {
  // One pass, switching on the key's length first: the keys not wanted
  // (index, pid, exit_code, stdout_tail, ...) mostly cost one integer compare.
  std::optional<std::int64_t> wall_ms;
  for (const simdjson::dom::key_value_pair field : fields) {
    const std::string_view key = field.key;
    switch (key.size()) {
      case 2:
        if (key == "ok") {
          bool ok = true;
          if (!field.value.get_bool().get(ok) && !ok) e.failed = true;
        }
        break;
      case 6:
        if (key == "action") e.action = as_string(field.value);
        if (key == "sys_ms") e.sys_ms = as_int(field.value);
        break;
      case 7:
        if (key == "wall_ms") wall_ms = as_int(field.value);
        if (key == "user_ms") e.user_ms = as_int(field.value);
        break;
      case 8:
        if (key == "category") e.category = as_string(field.value);
        if (key == "attempts") {
          if (auto n = as_int(field.value)) e.attempts = *n;
        }
        break;
      case 10:
        if (key == "max_rss_kb") e.max_rss_kb = as_int(field.value);
        break;
      case 11:
        if (key == "duration_ms") e.duration_ms = as_int(field.value);
        break;
      default:
        break;
    }
  }
  if (!e.duration_ms) e.duration_ms = wall_ms;  // a log from before duration_ms
}

}  // namespace

bool is_execution_kind(std::string_view kind) {
  return kind == kind::kActionSucceeded || kind == kind::kActionFailed;
}

std::optional<Execution> decode_execution(std::string_view kind, simdjson::dom::object object) {
  if (!is_execution_kind(kind)) return std::nullopt;
  Execution e;
  e.kind = kind;
  e.failed = kind == kind::kActionFailed;
  // The same single pass for the top level: seq, kind, source, path, cause and
  // depth are passed over with a length compare or two.
  for (const simdjson::dom::key_value_pair member : object) {
    const std::string_view key = member.key;
    switch (key.size()) {
      case 4:
        if (key == "time") e.time = as_string(member.value);
        if (key == "rule") e.rule = as_string(member.value);
        break;
      case 6:
        if (key == "entity") {
          e.entity = as_string(member.value);
        } else if (key == "fields") {
          simdjson::dom::object fields;
          if (!member.value.get_object().get(fields)) decode_fields(fields, e);
        }
        break;
      default:
        break;
    }
  }
  return e;
}

}  // namespace aw
