// The words of the embedded HTTP/1.1 server (docs/http.md): a parsed request,
// a complete response and how it is written, the bearer-token and Host checks,
// and server-sent-event framing. Pure: no libuv, no I/O, so every rule here is
// tested without a socket (http_message_test.cc); the server
// (http_server.h) only applies them.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "src/core/clock.h"

namespace aw::http {

struct HttpHeader {
  std::string name;
  std::string value;
};

// ASCII case-insensitive equality: header names, the "Bearer" scheme.
bool equals_ignore_case(std::string_view a, std::string_view b);

struct HttpRequest {
  std::string method;  // as http_parser names it: "GET", "HEAD", "POST", ...
  std::string target;  // the request target as sent: "/api/x?since=10m"
  std::string path;    // the target's path, not decoded: "/api/x" (handlers match it exactly)
  // The query's key=value pairs in order, percent-decoded ('+' is a space,
  // as browsers send forms); a key without '=' has the value "".
  std::vector<std::pair<std::string, std::string>> query;
  std::vector<HttpHeader> headers;  // in order; names as sent
  unsigned http_major = 1;
  unsigned http_minor = 1;
  // The client lets the connection serve another request after this one
  // (HTTP/1.1 without "Connection: close", or HTTP/1.0 with keep-alive).
  bool keep_alive = true;

  // The first header named `name` (case-insensitive), or nullopt.
  std::optional<std::string_view> header(std::string_view name) const;
  // The first value of query key `key` (exact), or nullopt.
  std::optional<std::string_view> query_param(std::string_view key) const;
  bool is_head() const { return method == "HEAD"; }
};

// A query string ("a=1&b=x%20y") as decoded pairs; nullopt when a '%' is not
// followed by two hex digits (the server answers 400). Empty pieces ("a=1&&b")
// are skipped.
std::optional<std::vector<std::pair<std::string, std::string>>> parse_query(std::string_view query);

// A complete answer. Content-Length is computed; the server adds
// Date and, when the connection closes after it, "Connection: close".
struct HttpResponse {
  int status = 200;
  std::string content_type = "text/plain; charset=utf-8";  // "" omits the header
  std::string body;
  std::vector<HttpHeader> headers;  // extra: Cache-Control, Allow, WWW-Authenticate, ...
};

// A short text/plain response, for the server's own errors: "404 Not Found\n"
// plus `detail` on a line of its own when given.
HttpResponse text_response(int status, std::string_view detail = {});

// The reason phrase of `status` ("Not Found"); "Unknown" for a code
// http_parser does not name.
std::string_view reason_phrase(int status);

// An IMF-fixdate, as the Date header wants it: "Sun, 06 Nov 1994 08:49:37 GMT".
std::string http_date(WallTime t);

// What surrounds a response's body on the wire.
struct ResponseFraming {
  std::string date;      // http_date(), or "" for none (tests)
  bool close = false;    // the connection closes after this response
  bool is_head = false;  // the head only: Content-Length still counts the body
};

// The status line, headers and (unless HEAD) body. A CR, LF or NUL in a
// header name or value is written as a space: a handler's value can never
// start a header of its own or end the head.
std::string serialize_response(const HttpResponse& response, const ResponseFraming& framing);

// The head of a server-sent-event stream: 200, text/event-stream, no-cache,
// no Content-Length (the body ends when the connection closes), plus `extra`.
std::string serialize_stream_head(const std::vector<HttpHeader>& extra, std::string_view date);

// True when `authorization` (the header's value) is "Bearer <token>" (the
// scheme in any case, then one or more spaces) with exactly `token`. The
// token comparison takes the same time wherever the values differ, and time
// that depends only on `token`'s length otherwise: a client cannot learn the
// token a byte at a time by timing answers.
bool bearer_matches(std::string_view authorization, std::string_view token);

// The cookie a browser gets in place of the header (a page and its
// EventSource cannot send "Authorization"): HttpServer sets it when `/` is
// opened with ?token=, then accepts it as it accepts the header.
inline constexpr std::string_view kTokenCookie = "agentwatch_token";
// True when `cookie` (a Cookie header's value, "a=1; agentwatch_token=x")
// has kTokenCookie with exactly `token` (compared as bearer_matches does).
bool token_cookie_matches(std::string_view cookie, std::string_view token);
// Constant-time equality as above (exposed for its test).
bool constant_time_equals(std::string_view given, std::string_view expected);

// True when a Host header names this machine's loopback: "localhost", an
// IPv4 address in 127.0.0.0/8 or "[::1]", each with an optional ":port".
// A server on 127.0.0.1 answers only these: a web page the browser fetched
// from elsewhere can point its own DNS name at 127.0.0.1 (DNS rebinding) and
// then read our answers as same-origin, but its requests still carry its own
// name in Host.
bool is_loopback_host_header(std::string_view host);

// One server-sent event (the EventSource framing, as the WHATWG HTML spec
// reads it): an "event:" line when `event` is not empty, an "id:" line when
// `id` is not empty, one "data:" line per line of `data` (split at "\r\n",
// "\n" or "\r"; an empty `data` is one empty data line), then a blank line.
// A CR, LF or NUL in `event` or `id` would end or corrupt its field and
// becomes a space.
std::string sse_event(std::string_view data, std::string_view event = {}, std::string_view id = {});
// A comment (": text" then a blank line): EventSource ignores it; a stream
// sends one now and then so that proxies and idle timers see traffic.
std::string sse_comment(std::string_view text);

}  // namespace aw::http
