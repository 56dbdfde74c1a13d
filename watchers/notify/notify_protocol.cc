#include "watchers/notify/notify_protocol.h"

#include <simdjson.h>

#include <charconv>

#include "src/core/field_json.h"
#include "src/core/json_writer.h"

namespace aw {
namespace {

constexpr std::size_t kMaxKindBytes = 128;
constexpr std::size_t kMaxKeyBytes = 64;

bool is_kind_char(char c) {
  return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '.' || c == '_' || c == '-';
}
bool is_key_char(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '.' ||
         c == '_' || c == '-';
}

// A printable, bounded copy of untrusted text for an error message.
std::string printable(std::string_view s) {
  constexpr std::size_t kMax = 64;
  std::string out;
  append_json_string(out, s.substr(0, kMax));
  if (s.size() > kMax) out.insert(out.size() - 1, "...");
  return out;
}

DecodedNotifyLine refuse(NotifyRefusal r, std::string detail) {
  DecodedNotifyLine d;
  d.refusal = r;
  d.detail = std::move(detail);
  return d;
}

}  // namespace

const char* refusal_reason(NotifyRefusal r) {
  switch (r) {
    case NotifyRefusal::kForeignUid:
      return "foreign_uid";
    case NotifyRefusal::kTooManyConnections:
      return "too_many_connections";
    case NotifyRefusal::kLineTooLong:
      return "line_too_long";
    case NotifyRefusal::kInvalidJson:
      return "invalid_json";
    case NotifyRefusal::kInvalidMessage:
      return "invalid_message";
    case NotifyRefusal::kUnknownKind:
      return "unknown_kind";
    case NotifyRefusal::kRejected:
      return "rejected";
    case NotifyRefusal::kTruncated:
      return "truncated";
    case NotifyRefusal::kIdleTimeout:
      return "idle_timeout";
    case NotifyRefusal::kReplyBacklog:
      return "reply_backlog";
    case NotifyRefusal::kEvicted:
      return "evicted";
  }
  return "unknown";
}

Status check_notify_kind_syntax(std::string_view kind) {
  if (kind.empty()) return make_error("kind is empty (expected e.g. \"tmux.session-closed\")");
  if (kind.size() > kMaxKindBytes)
    return make_error("kind is longer than " + std::to_string(kMaxKindBytes) + " bytes");
  for (char c : kind) {
    if (!is_kind_char(c))
      return make_error("kind " + printable(kind) +
                        ": expected lowercase letters, digits, '.', '_' or '-'");
  }
  if (kind.front() == '.' || kind.back() == '.' || kind.find("..") != std::string_view::npos)
    return make_error("kind " + printable(kind) + ": expected dotted segments, none empty");
  return Status::Ok();
}

Status check_notify_field_key(std::string_view key) {
  if (key.empty()) return make_error("field key is empty");
  if (key.size() > kMaxKeyBytes)
    return make_error("field key " + printable(key) + " is longer than " +
                      std::to_string(kMaxKeyBytes) + " bytes");
  for (char c : key) {
    if (!is_key_char(c))
      return make_error("field key " + printable(key) +
                        ": expected letters, digits, '.', '_' or '-'");
  }
  for (std::string_view reserved : kReservedNotifyFields) {
    if (key == reserved)
      return make_error("field \"" + std::string(key) + "\" is reserved (set by the daemon)");
  }
  return Status::Ok();
}

DecodedNotifyLine decode_notify_line(std::string_view line, const NotifyKindPolicy& policy) {
  if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
  // One parser per thread, reused (STYLE §11). Every string_view taken from it
  // is copied before this function returns.
  thread_local simdjson::dom::parser parser;
  simdjson::padded_string padded(line);
  simdjson::dom::element root;
  if (auto err = parser.parse(padded).get(root))
    return refuse(NotifyRefusal::kInvalidJson,
                  std::string("not JSON: ") + simdjson::error_message(err));
  simdjson::dom::object obj;
  if (root.get_object().get(obj))
    return refuse(NotifyRefusal::kInvalidJson, "expected one JSON object per line");

  DecodedNotifyLine out;
  NotifyMessage& m = out.message;
  bool have_kind = false;
  for (auto [key, v] : obj) {
    if (key == "kind") {
      std::string_view s;
      if (v.get_string().get(s))
        return refuse(NotifyRefusal::kInvalidMessage, "\"kind\": expected a string");
      m.kind.assign(s);
      have_kind = true;
    } else if (key == "entity") {
      std::string_view s;
      if (v.get_string().get(s))
        return refuse(NotifyRefusal::kInvalidMessage, "\"entity\": expected a string");
      m.entity.assign(s);
    } else if (key == "id") {
      std::string_view s;
      std::optional<std::uint64_t> id;
      if (!v.get_string().get(s)) id = parse_notify_id(s);
      if (!id)
        return refuse(NotifyRefusal::kInvalidMessage,
                      "\"id\": expected 16 hex digits, not all zero");
      m.id = *id;
    } else if (key == "time") {
      std::string_view s;
      std::optional<WallTime> t;
      if (!v.get_string().get(s)) t = parse_time_utc(s);
      if (!t)
        return refuse(NotifyRefusal::kInvalidMessage,
                      "\"time\": expected an RFC 3339 time such as 2026-01-02T03:04:05.678Z");
      m.time = *t;
    } else if (key == "fields") {
      simdjson::dom::object fo;
      if (v.get_object().get(fo))
        return refuse(NotifyRefusal::kInvalidMessage, "\"fields\": expected an object");
      for (auto [fk, fv] : fo) {
        if (Status s = check_notify_field_key(fk); !s)
          return refuse(NotifyRefusal::kInvalidMessage, s.error().message);
        auto scalar = field_value_from_json(fv);
        if (!scalar)
          return refuse(NotifyRefusal::kInvalidMessage,
                        "field \"" + std::string(fk) +
                            "\": expected a string, number or boolean (fields are flat)");
        m.fields.set(fk, std::move(*scalar));
      }
    } else {
      return refuse(NotifyRefusal::kInvalidMessage,
                    "unknown key " + printable(key) + " (expected kind, entity, fields, time, id)");
    }
  }
  if (!have_kind) return refuse(NotifyRefusal::kInvalidMessage, "missing \"kind\"");
  if (Status s = check_notify_kind_syntax(m.kind); !s)
    return refuse(NotifyRefusal::kUnknownKind, s.error().message);
  bool allowed = false;
  for (const auto& prefix : policy.allowed_prefixes) {
    if (m.kind.compare(0, prefix.size(), prefix) == 0) {
      allowed = true;
      break;
    }
  }
  if (!allowed) {
    std::string list;
    for (const auto& prefix : policy.allowed_prefixes) {
      if (!list.empty()) list += ", ";
      list += prefix + "*";
    }
    return refuse(NotifyRefusal::kUnknownKind,
                  "kind " + printable(m.kind) + " is not allowed (expected one of: " + list + ")");
  }
  if (policy.validate) {
    if (Status s = policy.validate(m); !s)
      return refuse(NotifyRefusal::kRejected, s.error().message);
  }
  out.ok = true;
  return out;
}

std::string encode_notify_line(const NotifyMessage& m) {
  std::string out;
  out.reserve(128);
  JsonObjectWriter w(out);
  if (m.id) w.str("id", format_notify_id(m.id));
  if (m.time) w.str("time", format_time_utc(*m.time));
  w.str("kind", m.kind);
  if (!m.entity.empty()) w.str("entity", m.entity);
  if (!m.fields.empty()) {
    std::string f;
    append_fields_json(f, m.fields);
    w.raw("fields", f);
  }
  w.close();
  out.push_back('\n');
  return out;
}

std::string format_notify_id(std::uint64_t id) {
  static constexpr char kHex[] = "0123456789abcdef";
  std::string out(16, '0');
  for (int i = 15; i >= 0; --i) {
    out[static_cast<std::size_t>(i)] = kHex[id & 0xF];
    id >>= 4;
  }
  return out;
}

std::optional<std::uint64_t> parse_notify_id(std::string_view s) {
  if (s.size() != 16) return std::nullopt;
  std::uint64_t id = 0;
  auto [ptr, ec] = std::from_chars(s.data(), s.data() + s.size(), id, 16);
  if (ec != std::errc() || ptr != s.data() + s.size() || id == 0) return std::nullopt;
  return id;
}

std::string notify_ok_reply() {
  return "{\"ok\":true}\n";
}

std::string notify_error_reply(NotifyRefusal reason, std::string_view detail) {
  std::string out;
  JsonObjectWriter w(out);
  w.boolean("ok", false).str("reason", refusal_reason(reason)).str("error", detail);
  w.close();
  out.push_back('\n');
  return out;
}

std::optional<NotifyReply> parse_notify_reply(std::string_view line) {
  if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
  simdjson::dom::parser parser;
  simdjson::padded_string padded(line);
  simdjson::dom::element root;
  if (parser.parse(padded).get(root)) return std::nullopt;
  NotifyReply r;
  if (root["ok"].get_bool().get(r.ok)) return std::nullopt;
  std::string_view s;
  if (!root["reason"].get_string().get(s)) r.reason.assign(s);
  if (!root["error"].get_string().get(s)) r.error.assign(s);
  return r;
}

}  // namespace aw
