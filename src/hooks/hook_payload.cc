#include "src/hooks/hook_payload.h"

#include <simdjson.h>

#include <charconv>
#include <cmath>

namespace aw {

namespace {

using simdjson::dom::element;
using simdjson::dom::object;

// Copies a string member as is (ids, paths, enum-like values).
void copy_string(Fields& f, const object& o, std::string_view key, std::string_view field) {
  std::string_view s;
  if (!o[key].get(s)) f.set(field, FieldValue(std::string(s)));
}

// Copies a string member cut to kHookTextMaxBytes (free text).
void copy_text(Fields& f, const object& o, std::string_view key, std::string_view field) {
  std::string_view s;
  if (!o[key].get(s)) f.set(field, FieldValue(truncate_utf8(s, kHookTextMaxBytes)));
}

void copy_bool(Fields& f, const object& o, std::string_view key, std::string_view field) {
  bool b = false;
  if (!o[key].get(b)) f.set(field, FieldValue(b));
}

// A number as an integer when it is one, else a double.
void copy_number(Fields& f, const element& e, std::string_view field) {
  std::int64_t i = 0;
  if (!e.get(i)) {
    f.set(field, FieldValue(i));
    return;
  }
  double d = 0;
  if (!e.get(d) && std::isfinite(d)) f.set(field, FieldValue(d));
}

void copy_number_at(Fields& f, const object& o, std::string_view key, std::string_view field) {
  element e;
  if (!o[key].get(e)) copy_number(f, e, field);
}

// Fields of one rate-limit window: {"used_percentage": 16.0, "resets_at": 1743973200}.
void copy_rate_window(Fields& f, const object& limits, std::string_view window,
                      std::string_view prefix) {
  object w;
  if (limits[window].get(w)) return;
  copy_number_at(f, w, "used_percentage", std::string(prefix) + "_used_pct");
  copy_number_at(f, w, "resets_at", std::string(prefix) + "_resets_at");
}

void map_statusline(Fields& f, const object& o) {
  object model;
  if (!o["model"].get(model)) copy_string(f, model, "display_name", "model");
  object ctx;
  if (!o["context_window"].get(ctx)) {
    copy_number_at(f, ctx, "used_percentage", "context_used_pct");
    copy_number_at(f, ctx, "context_window_size", "context_window_size");
  }
  object limits;
  if (!o["rate_limits"].get(limits)) {
    copy_rate_window(f, limits, "five_hour", "rate_5h");
    copy_rate_window(f, limits, "seven_day", "rate_7d");
  }
}

// Per-event members of Claude Code and Gemini CLI payloads. Keys that an event
// does not have are simply absent, so one pass over the union is exact.
void map_event_members(Fields& f, const object& o) {
  copy_string(f, o, "notification_type", "notification_type");
  copy_text(f, o, "message", "message");
  copy_string(f, o, "tool_name", "tool_name");
  copy_bool(f, o, "stop_hook_active", "stop_hook_active");
  copy_string(f, o, "trigger", "trigger");
  copy_string(f, o, "source", "source");
  copy_string(f, o, "reason", "reason");
  // StopFailure: `error` is the error type (rate_limit, server_error, …).
  // Some builds name it error_type, with error_message: take either.
  copy_string(f, o, "error", "error");
  if (!f.find("error")) copy_string(f, o, "error_type", "error");
  copy_text(f, o, "error_details", "error_details");
  if (!f.find("error_details")) copy_text(f, o, "error_message", "error_details");
}

void map_codex(Fields& f, const object& o) {
  copy_string(f, o, "thread-id", "session_id");
  copy_string(f, o, "turn-id", "turn_id");
  copy_string(f, o, "cwd", "cwd");
  copy_text(f, o, "last-assistant-message", "message");
}

void add_origin(Fields& f, const HookOrigin& origin) {
  if (!origin.tmux_pane.empty()) f.set("tmux_pane", FieldValue(origin.tmux_pane));
  // $TMUX is "socket_path,server_pid,session_number"; the socket path may
  // itself hold commas, so split from the right.
  const std::string_view t = origin.tmux_env;
  const std::size_t c2 = t.rfind(',');
  const std::size_t c1 =
      c2 == std::string_view::npos || c2 == 0 ? std::string_view::npos : t.rfind(',', c2 - 1);
  if (c1 != std::string_view::npos) {
    f.set("tmux_socket", FieldValue(std::string(t.substr(0, c1))));
    const std::string_view pid = t.substr(c1 + 1, c2 - c1 - 1);
    std::int64_t n = 0;
    auto [p, ec] = std::from_chars(pid.data(), pid.data() + pid.size(), n);
    if (ec == std::errc() && p == pid.data() + pid.size() && n > 0)
      f.set("tmux_server_pid", FieldValue(n));
    const std::string_view session = t.substr(c2 + 1);
    if (!session.empty()) f.set("tmux_session", FieldValue("$" + std::string(session)));
  }
  if (origin.agent_pid > 0) f.set("agent_pid", FieldValue(origin.agent_pid));
}

std::string event_name_of(const HookCall& call, const object* o) {
  if (!call.event.empty()) return call.event;
  std::string_view name;
  if (o != nullptr) {
    const char* key = call.agent == HookAgent::kCodex ? "type" : "hook_event_name";
    if (!(*o)[key].get(name)) return std::string(name);
  }
  return "unknown";
}

}  // namespace

std::optional<HookAgent> parse_hook_agent(std::string_view name) {
  if (name == "claude") return HookAgent::kClaude;
  if (name == "codex") return HookAgent::kCodex;
  if (name == "gemini") return HookAgent::kGemini;
  return std::nullopt;
}

std::string_view hook_agent_name(HookAgent agent) {
  switch (agent) {
    case HookAgent::kClaude:
      return "claude";
    case HookAgent::kCodex:
      return "codex";
    case HookAgent::kGemini:
      return "gemini";
  }
  return "unknown";
}

std::string truncate_utf8(std::string_view text, std::size_t max_bytes) {
  if (text.size() <= max_bytes) return std::string(text);
  std::size_t cut = max_bytes;
  // Back up over continuation bytes (10xxxxxx) to the start of a character.
  while (cut > 0 && (static_cast<unsigned char>(text[cut]) & 0xC0) == 0x80) --cut;
  return std::string(text.substr(0, cut)) + "\u2026";
}

Event map_hook_call(const HookCall& call, const HookOrigin& origin) {
  Event e;
  e.kind = std::string(kAgentHookKind);
  Fields& f = e.fields;
  f.set("agent", FieldValue(std::string(hook_agent_name(call.agent))));

  // One parser per process: a hook process maps one call.
  static simdjson::dom::parser parser;
  object o;
  std::string payload_error;
  if (call.payload.find_first_not_of(" \t\r\n") == std::string_view::npos) {
    payload_error = "empty payload (expected a JSON object)";
  } else {
    const simdjson::padded_string padded(call.payload);
    element root;
    if (auto err = parser.parse(padded).get(root)) {
      payload_error = std::string("invalid JSON: ") + simdjson::error_message(err);
    } else if (root.get(o)) {
      payload_error = "the payload is JSON but not an object";
    }
  }
  const bool have_object = payload_error.empty();
  const std::string event = event_name_of(call, have_object ? &o : nullptr);
  f.set("event", FieldValue(event));

  if (have_object) {
    if (call.agent == HookAgent::kCodex) {
      map_codex(f, o);
    } else {
      copy_string(f, o, "session_id", "session_id");
      copy_string(f, o, "cwd", "cwd");
      copy_string(f, o, "transcript_path", "transcript_path");
      copy_string(f, o, "permission_mode", "permission_mode");
      if (event == kStatusLineEvent) {
        if (!f.find("cwd")) {
          object ws;
          if (!o["workspace"].get(ws)) copy_string(f, ws, "current_dir", "cwd");
        }
        map_statusline(f, o);
      } else {
        map_event_members(f, o);
      }
    }
  } else {
    f.set("payload_error", FieldValue(payload_error));
  }
  add_origin(f, origin);
  return e;
}

namespace {

std::string format_pct(const FieldValue& v) {
  double d = 0;
  if (const auto* i = std::get_if<std::int64_t>(&v)) d = static_cast<double>(*i);
  if (const auto* x = std::get_if<double>(&v)) d = *x;
  return std::to_string(static_cast<long long>(std::llround(d))) + "%";
}

std::string format_until(std::int64_t resets_at, WallTime now) {
  const auto now_s = std::chrono::duration_cast<std::chrono::seconds>(now.time_since_epoch());
  std::int64_t left = resets_at - now_s.count();
  if (left < 0) left = 0;
  const std::int64_t d = left / 86400;
  const std::int64_t h = (left % 86400) / 3600;
  const std::int64_t m = (left % 3600) / 60;
  char buf[48];
  if (d > 0) {
    std::snprintf(buf, sizeof buf, "%lldd%02lldh", static_cast<long long>(d),
                  static_cast<long long>(h));
  } else {
    std::snprintf(buf, sizeof buf, "%lldh%02lldm", static_cast<long long>(h),
                  static_cast<long long>(m));
  }
  return buf;
}

void append_window(std::string& out, const Fields& f, std::string_view label,
                   std::string_view prefix, WallTime now) {
  const FieldValue* used = f.find(std::string(prefix) + "_used_pct");
  if (used == nullptr) return;
  if (!out.empty()) out += " \u00b7 ";
  out += label;
  out += ' ';
  out += format_pct(*used);
  // A reset time already past says nothing about the next one.
  const auto resets = f.get_int(std::string(prefix) + "_resets_at");
  const auto now_s = std::chrono::duration_cast<std::chrono::seconds>(now.time_since_epoch());
  if (resets && *resets > now_s.count()) out += " (resets in " + format_until(*resets, now) + ")";
}

}  // namespace

std::string render_status_line(const Event& statusline, WallTime now) {
  const Fields& f = statusline.fields;
  std::string out;
  if (auto model = f.get_string("model")) out += *model;
  if (const FieldValue* ctx = f.find("context_used_pct")) {
    if (!out.empty()) out += " \u00b7 ";
    out += "ctx " + format_pct(*ctx);
  }
  append_window(out, f, "5h", "rate_5h", now);
  append_window(out, f, "7d", "rate_7d", now);
  return out;
}

}  // namespace aw
