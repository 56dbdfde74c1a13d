#include "src/hooks/json_tree.h"

#include <simdjson.h>

#include <charconv>
#include <cmath>

#include "src/json/json_check.h"

namespace aw {

JsonValue* JsonValue::find(std::string_view key) {
  if (!is_object()) return nullptr;
  for (auto& [k, v] : members())
    if (k == key) return &v;
  return nullptr;
}

const JsonValue* JsonValue::find(std::string_view key) const {
  return const_cast<JsonValue*>(this)->find(key);
}

JsonValue& JsonValue::get_or_add(std::string_view key) {
  if (JsonValue* v = find(key)) return *v;
  members().emplace_back(std::string(key), JsonValue());
  return members().back().second;
}

std::size_t JsonValue::erase(std::string_view key) {
  if (!is_object()) return 0;
  auto& m = members();
  const std::size_t before = m.size();
  std::erase_if(m, [&](const auto& kv) { return kv.first == key; });
  return before - m.size();
}

std::string line_col(std::string_view text, std::size_t offset) {
  std::size_t line = 1;
  std::size_t col = 1;
  for (std::size_t i = 0; i < offset && i < text.size(); ++i) {
    if (text[i] == '\n') {
      ++line;
      col = 1;
    } else {
      ++col;
    }
  }
  return std::to_string(line) + ":" + std::to_string(col);
}

namespace {

JsonValue from_dom(simdjson::dom::element e) {
  using simdjson::dom::element_type;
  switch (e.type()) {
    case element_type::OBJECT: {
      JsonMembers m;
      for (auto field : simdjson::dom::object(e))
        m.emplace_back(std::string(field.key), from_dom(field.value));
      return JsonValue(std::move(m));
    }
    case element_type::ARRAY: {
      JsonArray a;
      for (auto item : simdjson::dom::array(e)) a.push_back(from_dom(item));
      return JsonValue(std::move(a));
    }
    case element_type::STRING:
      return JsonValue(std::string(std::string_view(e)));
    case element_type::INT64:
      return JsonValue(std::int64_t(e));
    case element_type::UINT64:
      return JsonValue(std::uint64_t(e));
    case element_type::DOUBLE:
      return JsonValue(double(e));
    case element_type::BOOL:
      return JsonValue(bool(e));
    case element_type::NULL_VALUE:
      break;
  }
  return {};
}

void append_escaped(std::string& out, const std::string& s) {
  out += '"';
  for (char c : s) {
    switch (c) {
      case '"':
        out += "\\\"";
        break;
      case '\\':
        out += "\\\\";
        break;
      case '\n':
        out += "\\n";
        break;
      case '\t':
        out += "\\t";
        break;
      case '\r':
        out += "\\r";
        break;
      case '\b':
        out += "\\b";
        break;
      case '\f':
        out += "\\f";
        break;
      default:
        if (static_cast<unsigned char>(c) < 0x20) {
          static constexpr char kHex[] = "0123456789abcdef";
          out += "\\u00";
          out += kHex[(c >> 4) & 0xf];
          out += kHex[c & 0xf];
        } else {
          out += c;
        }
    }
  }
  out += '"';
}

template <class N>
void append_number(std::string& out, N n) {
  char buf[64];
  auto [end, ec] = std::to_chars(buf, buf + sizeof buf, n);
  out.append(buf, ec == std::errc() ? end : buf);
}

void append_value(std::string& out, const JsonValue& v, int indent) {
  const auto newline = [&](int level) {
    out += '\n';
    out.append(static_cast<std::size_t>(level) * 2, ' ');
  };
  std::visit(
      [&](const auto& x) {
        using T = std::decay_t<decltype(x)>;
        if constexpr (std::is_same_v<T, JsonValue::Null>) {
          out += "null";
        } else if constexpr (std::is_same_v<T, bool>) {
          out += x ? "true" : "false";
        } else if constexpr (std::is_same_v<T, double>) {
          // simdjson only yields finite doubles; keep the output valid JSON anyway.
          if (std::isfinite(x)) {
            append_number(out, x);
          } else {
            out += "null";
          }
        } else if constexpr (std::is_integral_v<T>) {
          append_number(out, x);
        } else if constexpr (std::is_same_v<T, std::string>) {
          append_escaped(out, x);
        } else if constexpr (std::is_same_v<T, JsonArray>) {
          if (x.empty()) {
            out += "[]";
            return;
          }
          out += '[';
          for (std::size_t i = 0; i < x.size(); ++i) {
            if (i) out += ',';
            newline(indent + 1);
            append_value(out, x[i], indent + 1);
          }
          newline(indent);
          out += ']';
        } else {
          if (x.empty()) {
            out += "{}";
            return;
          }
          out += '{';
          for (std::size_t i = 0; i < x.size(); ++i) {
            if (i) out += ',';
            newline(indent + 1);
            append_escaped(out, x[i].first);
            out += ": ";
            append_value(out, x[i].second, indent + 1);
          }
          newline(indent);
          out += '}';
        }
      },
      v.variant());
}

}  // namespace

Result<JsonValue> parse_json_tree(std::string_view text) {
  // check_json names the first bad byte (simdjson alone only says "invalid"),
  // and accepts exactly what simdjson's DOM parser accepts.
  if (auto bad = check_json(text))
    return make_error(line_col(text, bad->offset) + ": " + bad->message);
  simdjson::dom::parser parser;
  simdjson::padded_string padded(text);
  simdjson::dom::element root;
  if (auto err = parser.parse(padded).get(root))
    return make_error("1:1: " + std::string(simdjson::error_message(err)));
  return from_dom(root);
}

std::string format_json_tree(const JsonValue& v) {
  std::string out;
  append_value(out, v, 0);
  out += '\n';
  return out;
}

}  // namespace aw
