// Event fields to and from JSON: shared by the event log (src/core/event.cc)
// and the notify protocol, so both read and write fields the same way.
#pragma once

#include <simdjson.h>

#include <optional>
#include <string>

#include "src/core/event.h"

namespace aw {

// Appends `fields` as one JSON object ({} when empty).
void append_fields_json(std::string& out, const Fields& fields);

// A flat scalar (string, integer, number, boolean) as a FieldValue; nullopt for
// null, arrays and objects (fields are flat). Unsigned integers above INT64_MAX
// become doubles.
std::optional<FieldValue> field_value_from_json(simdjson::dom::element v);

}  // namespace aw
