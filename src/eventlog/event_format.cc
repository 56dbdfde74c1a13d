#include "src/eventlog/event_format.h"

#include "src/core/terminal_text.h"
#include "src/eventlog/event_filter.h"

namespace aw {
namespace {

constexpr const char* kDim = "\x1b[2m";
constexpr const char* kBold = "\x1b[1m";
constexpr const char* kFailure = "\x1b[1;31m";
constexpr const char* kReset = "\x1b[0m";

bool needs_quotes(std::string_view s) {
  if (s.empty()) return true;
  for (std::size_t i = 0; i < s.size(); ++i) {
    const auto c = static_cast<unsigned char>(s[i]);
    if (c == ' ' || c == '"' || c == '\\' || c == '=' || terminal_control_at(s, i)) return true;
  }
  return false;
}

// `s` as it is safe to show on a terminal: verbatim when it is one plain word,
// otherwise quoted with escapes.
void append_text(std::string& out, std::string_view s) {
  if (!needs_quotes(s)) {
    out.append(s);
    return;
  }
  out.push_back('"');
  append_terminal_safe(out, s, true);
  out.push_back('"');
}

void append_styled(std::string& out, const char* style, bool color, auto&& body) {
  if (color) out += style;
  body();
  if (color) out += kReset;
}

}  // namespace

std::string format_event_line(const Event& e, const EventFormatOptions& options) {
  const bool color = options.color;
  std::string out;
  out.reserve(128 + e.path.size());
  append_styled(out, kDim, color, [&] {
    out += format_time_utc(e.time);
    out += "  #";
    out += std::to_string(e.seq);
  });
  out += "  ";
  const bool failure = is_failure(e);
  append_styled(out, failure ? kFailure : kBold, color, [&] {
    if (failure) out.push_back('!');
    append_text(out, e.kind);
  });
  if (!e.path.empty()) {
    out += "  ";
    append_text(out, e.path);
  }
  if (!e.entity.empty()) {
    out += "  @";
    append_text(out, e.entity);
  }
  if (!e.fields.empty()) {
    out += " ";
    for (const auto& [key, value] : e.fields) {
      out += " ";
      append_text(out, key);
      out += "=";
      if (const auto* s = std::get_if<std::string>(&value))
        append_text(out, *s);
      else
        out += field_to_string(value);
    }
  }
  if (!e.rule.empty() || e.cause != 0 || e.depth != 0) {
    out += "  ";
    append_styled(out, kDim, color, [&] {
      std::string trailer;
      if (!e.rule.empty()) {
        trailer += "rule=";
        append_text(trailer, e.rule);
      }
      if (e.cause != 0) {
        if (!trailer.empty()) trailer += " ";
        trailer += "\xe2\x86\x90 #";  // ←
        trailer += std::to_string(e.cause);
      }
      if (e.depth != 0) {
        if (!trailer.empty()) trailer += ", ";
        trailer += "depth " + std::to_string(e.depth);
      }
      out += "(" + trailer + ")";
    });
  }
  return out;
}

}  // namespace aw
