#include "src/control/control_protocol.h"

#include <simdjson.h>

#include "src/core/field_json.h"
#include "src/core/json_writer.h"

namespace aw {
namespace {

// A printable, bounded copy of untrusted text for an error message.
std::string printable(std::string_view s) {
  constexpr std::size_t kMax = 64;
  std::string out;
  append_json_string(out, s.substr(0, kMax));
  if (s.size() > kMax) out.insert(out.size() - 1, "...");
  return out;
}

// One parser per thread, reused (STYLE §11); callers copy what they keep
// before the next parse.
simdjson::dom::parser& thread_parser() {
  thread_local simdjson::dom::parser parser;
  return parser;
}

DecodedControlRequest bad_request(std::optional<std::uint64_t> id, std::string error) {
  DecodedControlRequest d;
  d.id = id;
  d.error = std::move(error);
  return d;
}

void append_id(JsonObjectWriter& w, std::optional<std::uint64_t> id) {
  if (id) {
    w.unum("id", *id);
  } else {
    w.raw("id", "null");
  }
}

}  // namespace

const char* control_error_code_name(ControlErrorCode code) {
  switch (code) {
    case ControlErrorCode::kUnknownMethod:
      return "unknown_method";
    case ControlErrorCode::kBadRequest:
      return "bad_request";
    case ControlErrorCode::kNotFound:
      return "not_found";
    case ControlErrorCode::kRefused:
      return "refused";
    case ControlErrorCode::kFailed:
      return "failed";
  }
  return "failed";
}

DecodedControlRequest decode_control_request(std::string_view line) {
  if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
  simdjson::padded_string padded(line);
  simdjson::dom::element root;
  if (auto err = thread_parser().parse(padded).get(root))
    return bad_request(std::nullopt, std::string("not JSON (") + simdjson::error_message(err) +
                                         "); expected one JSON object per line");
  simdjson::dom::object obj;
  if (root.get_object().get(obj))
    return bad_request(std::nullopt,
                       "expected a JSON object such as "
                       "{\"id\":1,\"method\":\"ping\",\"params\":{}}");

  // The id first, so every later error reply can carry it.
  std::optional<std::uint64_t> id;
  simdjson::dom::element id_value;
  if (!obj["id"].get(id_value)) {
    std::uint64_t n = 0;
    if (!id_value.is_null()) {
      if (id_value.get_uint64().get(n))
        return bad_request(std::nullopt, "\"id\": expected an unsigned integer");
      id = n;
    }
  }

  DecodedControlRequest out;
  ControlRequest& r = out.request;
  bool have_method = false;
  for (auto [key, v] : obj) {
    if (key == "id") continue;
    if (key == "method") {
      std::string_view s;
      if (v.get_string().get(s) || s.empty())
        return bad_request(id, "\"method\": expected a non-empty string such as \"workers.list\"");
      r.method.assign(s);
      have_method = true;
    } else if (key == "params") {
      if (v.is_null()) continue;
      simdjson::dom::object params;
      if (v.get_object().get(params))
        return bad_request(id, "\"params\": expected an object of key: value");
      for (auto [pk, pv] : params) {
        if (pv.is_null()) continue;  // null is "not given"
        auto scalar = field_value_from_json(pv);
        if (!scalar)
          return bad_request(id, "params " + printable(pk) +
                                     ": expected a string, number or boolean (params are flat; "
                                     "give a list as a comma-separated string)");
        if (r.params.find(pk)) return bad_request(id, "params " + printable(pk) + " given twice");
        r.params.set(pk, std::move(*scalar));
      }
    } else {
      return bad_request(id, "unknown key " + printable(key) + " (expected id, method, params)");
    }
  }
  if (!have_method) return bad_request(id, "missing \"method\"");
  r.id = id.value_or(0);
  out.id = id;
  out.ok = true;
  return out;
}

std::string encode_control_request(std::uint64_t id, std::string_view method,
                                   std::string_view params_json) {
  std::string out;
  out.reserve(48 + method.size() + params_json.size());
  JsonObjectWriter w(out);
  w.unum("id", id).str("method", method).raw("params", params_json.empty() ? "{}" : params_json);
  w.close();
  out.push_back('\n');
  return out;
}

std::string encode_control_ok(std::optional<std::uint64_t> id, std::string_view result_json) {
  std::string out;
  out.reserve(32 + result_json.size());
  JsonObjectWriter w(out);
  append_id(w, id);
  w.boolean("ok", true).raw("result", result_json.empty() ? "null" : result_json);
  w.close();
  out.push_back('\n');
  return out;
}

std::string encode_control_error(std::optional<std::uint64_t> id, ControlErrorCode code,
                                 std::string_view text) {
  std::string out;
  out.reserve(64 + text.size());
  JsonObjectWriter w(out);
  append_id(w, id);
  w.boolean("ok", false).str("error", text).str("code", control_error_code_name(code));
  w.close();
  out.push_back('\n');
  return out;
}

Result<std::string> compact_json(std::string_view json) {
  simdjson::padded_string padded(json);
  simdjson::dom::element root;
  if (auto err = thread_parser().parse(padded).get(root))
    return make_error(std::string("not valid JSON: ") + simdjson::error_message(err));
  return simdjson::minify(root);
}

Result<DecodedControlReply> decode_control_reply(std::string_view line) {
  if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
  auto malformed = [&](const std::string& what) {
    return make_error("malformed reply from the daemon (" + what + "): " + printable(line));
  };
  simdjson::padded_string padded(line);
  simdjson::dom::element root;
  if (auto err = thread_parser().parse(padded).get(root))
    return malformed(std::string("not JSON: ") + simdjson::error_message(err));
  simdjson::dom::object obj;
  if (root.get_object().get(obj)) return malformed("expected an object");

  DecodedControlReply out;
  bool have_ok = false;
  bool have_result = false;
  for (auto [key, v] : obj) {
    if (key == "id") {
      std::uint64_t n = 0;
      if (v.is_null()) continue;
      if (v.get_uint64().get(n)) return malformed("\"id\": expected an unsigned integer or null");
      out.id = n;
    } else if (key == "ok") {
      if (v.get_bool().get(out.reply.ok)) return malformed("\"ok\": expected true or false");
      have_ok = true;
    } else if (key == "result") {
      out.reply.result_json = simdjson::minify(v);
      have_result = true;
    } else if (key == "error" || key == "code") {
      std::string_view s;
      if (v.get_string().get(s))
        return malformed("\"" + std::string(key) + "\": expected a string");
      (key == "error" ? out.reply.error : out.reply.code).assign(s);
    }
    // Other keys are a newer daemon's additions: ignored.
  }
  if (!have_ok) return malformed("missing \"ok\"");
  if (out.reply.ok && !have_result) out.reply.result_json = "null";
  if (!out.reply.ok && out.reply.code.empty()) out.reply.code = "failed";
  return out;
}

}  // namespace aw
