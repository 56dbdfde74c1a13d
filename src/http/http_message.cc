#include "src/http/http_message.h"

#include <arpa/inet.h>
#include <http_parser.h>

#include <cstring>
#include <ctime>

#include "src/core/percent_escape.h"

namespace aw::http {

namespace {

char lower(char c) {
  return (c >= 'A' && c <= 'Z') ? static_cast<char>(c - 'A' + 'a') : c;
}

// Header text a handler gave: a CR or LF would end the line (and let the
// value start a header of its own), a NUL is refused by clients.
void append_header_text(std::string& out, std::string_view s) {
  for (char c : s) out += (c == '\r' || c == '\n' || c == '\0') ? ' ' : c;
}

void append_header(std::string& out, std::string_view name, std::string_view value) {
  append_header_text(out, name);
  out += ": ";
  append_header_text(out, value);
  out += "\r\n";
}

void append_status_line(std::string& out, int status) {
  out += "HTTP/1.1 ";
  out += std::to_string(status);
  out += ' ';
  out += reason_phrase(status);
  out += "\r\n";
}

// Query text: '+' is a space (form encoding, which browsers use for queries),
// then %XX escapes.
std::optional<std::string> decode_query_part(std::string_view s) {
  std::string plus_decoded(s);
  for (char& c : plus_decoded)
    if (c == '+') c = ' ';
  return percent_unescape(plus_decoded);
}

// Field text of an SSE event line ("event", "id"): a line break would end the
// field early and a NUL makes EventSource ignore an id.
void append_field_text(std::string& out, std::string_view s) {
  for (char c : s) out += (c == '\r' || c == '\n' || c == '\0') ? ' ' : c;
}

}  // namespace

bool equals_ignore_case(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (std::size_t i = 0; i < a.size(); ++i)
    if (lower(a[i]) != lower(b[i])) return false;
  return true;
}

std::optional<std::string_view> HttpRequest::header(std::string_view name) const {
  for (const HttpHeader& h : headers)
    if (equals_ignore_case(h.name, name)) return std::string_view(h.value);
  return std::nullopt;
}

std::optional<std::string_view> HttpRequest::query_param(std::string_view key) const {
  for (const auto& [k, v] : query)
    if (k == key) return std::string_view(v);
  return std::nullopt;
}

std::optional<std::vector<std::pair<std::string, std::string>>> parse_query(
    std::string_view query) {
  std::vector<std::pair<std::string, std::string>> out;
  while (!query.empty()) {
    const std::size_t amp = query.find('&');
    const std::string_view piece = query.substr(0, amp);
    query = amp == std::string_view::npos ? std::string_view() : query.substr(amp + 1);
    if (piece.empty()) continue;
    const std::size_t eq = piece.find('=');
    auto key = decode_query_part(piece.substr(0, eq));
    auto value =
        decode_query_part(eq == std::string_view::npos ? std::string_view() : piece.substr(eq + 1));
    if (!key || !value) return std::nullopt;
    out.emplace_back(std::move(*key), std::move(*value));
  }
  return out;
}

HttpResponse text_response(int status, std::string_view detail) {
  HttpResponse r;
  r.status = status;
  r.body = std::to_string(status) + " " + std::string(reason_phrase(status)) + "\n";
  if (!detail.empty()) {
    r.body += detail;
    r.body += '\n';
  }
  return r;
}

std::string_view reason_phrase(int status) {
  // 421 and 431 are missing from older http_parser tables; the rest is theirs.
  if (status == 431) return "Request Header Fields Too Large";
  if (status == 421) return "Misdirected Request";
  if (status < 100 || status > 999) return "Unknown";
  std::string_view s = http_status_str(static_cast<enum http_status>(status));
  return s == "<unknown>" ? std::string_view("Unknown") : s;
}

std::string http_date(WallTime t) {
  const std::time_t secs = static_cast<std::time_t>(
      std::chrono::duration_cast<std::chrono::seconds>(t.time_since_epoch()).count());
  std::tm tm{};
  gmtime_r(&secs, &tm);
  // strftime's %a and %b follow the locale; HTTP wants the English names.
  static constexpr const char* kDays[] = {"Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"};
  static constexpr const char* kMonths[] = {"Jan", "Feb", "Mar", "Apr", "May", "Jun",
                                            "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};
  char buf[40];
  std::snprintf(buf, sizeof buf, "%s, %02d %s %04d %02d:%02d:%02d GMT", kDays[tm.tm_wday % 7],
                tm.tm_mday, kMonths[tm.tm_mon % 12], tm.tm_year + 1900, tm.tm_hour, tm.tm_min,
                tm.tm_sec);
  return buf;
}

std::string serialize_response(const HttpResponse& response, const ResponseFraming& framing) {
  std::string out;
  out.reserve(128 + response.body.size());
  append_status_line(out, response.status);
  if (!framing.date.empty()) append_header(out, "Date", framing.date);
  if (!response.content_type.empty()) append_header(out, "Content-Type", response.content_type);
  append_header(out, "Content-Length", std::to_string(response.body.size()));
  if (framing.close) append_header(out, "Connection", "close");
  for (const HttpHeader& h : response.headers) append_header(out, h.name, h.value);
  out += "\r\n";
  if (!framing.is_head) out += response.body;
  return out;
}

std::string serialize_stream_head(const std::vector<HttpHeader>& extra, std::string_view date) {
  std::string out;
  append_status_line(out, 200);
  if (!date.empty()) append_header(out, "Date", date);
  append_header(out, "Content-Type", "text/event-stream");
  append_header(out, "Cache-Control", "no-cache");
  // nginx and friends buffer responses unless told not to; an event that
  // waits in a proxy's buffer is no live stream.
  append_header(out, "X-Accel-Buffering", "no");
  for (const HttpHeader& h : extra) append_header(out, h.name, h.value);
  out += "\r\n";
  return out;
}

bool constant_time_equals(std::string_view given, std::string_view expected) {
  // Every byte of `expected` is compared, whatever `given` holds: the time
  // depends on the expected length only, never on where a mismatch is.
  unsigned diff = given.size() == expected.size() ? 0U : 1U;
  for (std::size_t i = 0; i < expected.size(); ++i) {
    const unsigned char g = i < given.size() ? static_cast<unsigned char>(given[i]) : 0;
    diff |= static_cast<unsigned>(g ^ static_cast<unsigned char>(expected[i]));
  }
  return diff == 0;
}

bool bearer_matches(std::string_view authorization, std::string_view token) {
  constexpr std::string_view kScheme = "Bearer";
  if (authorization.size() <= kScheme.size() ||
      !equals_ignore_case(authorization.substr(0, kScheme.size()), kScheme) ||
      authorization[kScheme.size()] != ' ')
    return false;
  std::string_view given = authorization.substr(kScheme.size());
  while (!given.empty() && given.front() == ' ') given.remove_prefix(1);
  return constant_time_equals(given, token);
}

bool token_cookie_matches(std::string_view cookie, std::string_view token) {
  while (!cookie.empty()) {
    const std::size_t end = std::min(cookie.find(';'), cookie.size());
    std::string_view pair = cookie.substr(0, end);
    cookie.remove_prefix(std::min(end + 1, cookie.size()));
    while (!pair.empty() && pair.front() == ' ') pair.remove_prefix(1);
    const std::size_t eq = pair.find('=');
    if (eq != std::string_view::npos && pair.substr(0, eq) == kTokenCookie)
      return constant_time_equals(pair.substr(eq + 1), token);
  }
  return false;
}

bool is_loopback_host_header(std::string_view host) {
  if (host.empty()) return false;
  std::string_view name = host;
  if (host.front() == '[') {
    const std::size_t close = host.find(']');
    if (close == std::string_view::npos) return false;
    name = host.substr(1, close - 1);
    const std::string_view rest = host.substr(close + 1);
    if (!rest.empty() && rest.front() != ':') return false;
    in6_addr a6{};
    const std::string text(name);
    return inet_pton(AF_INET6, text.c_str(), &a6) == 1 && IN6_IS_ADDR_LOOPBACK(&a6);
  }
  if (const std::size_t colon = host.find(':'); colon != std::string_view::npos)
    name = host.substr(0, colon);
  if (equals_ignore_case(name, "localhost")) return true;
  in_addr a4{};
  const std::string text(name);
  return inet_pton(AF_INET, text.c_str(), &a4) == 1 && (ntohl(a4.s_addr) >> 24) == 127;
}

std::string sse_event(std::string_view data, std::string_view event, std::string_view id) {
  std::string out;
  out.reserve(data.size() + event.size() + id.size() + 24);
  if (!event.empty()) {
    out += "event: ";
    append_field_text(out, event);
    out += '\n';
  }
  if (!id.empty()) {
    out += "id: ";
    append_field_text(out, id);
    out += '\n';
  }
  // Each line of `data` is its own "data:" line; EventSource joins them with
  // '\n' again. A lone '\r' ends a line for EventSource too.
  for (;;) {
    const std::size_t eol = data.find_first_of("\r\n");
    out += "data: ";
    out += data.substr(0, eol);
    out += '\n';
    if (eol == std::string_view::npos) break;
    const std::size_t skip =
        (data[eol] == '\r' && eol + 1 < data.size() && data[eol + 1] == '\n') ? 2 : 1;
    data.remove_prefix(eol + skip);
  }
  out += '\n';
  return out;
}

std::string sse_comment(std::string_view text) {
  std::string out = ": ";
  append_field_text(out, text);
  out += "\n\n";
  return out;
}

}  // namespace aw::http
