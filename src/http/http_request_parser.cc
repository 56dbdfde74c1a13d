#include "src/http/http_request_parser.h"

#include <cstdint>
#include <limits>
#include <utility>

namespace aw::http {

namespace {

HttpRequestParser* self(http_parser* p) {
  return static_cast<HttpRequestParser*>(p->data);
}

void trim_trailing_space(std::string& s) {
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.pop_back();
}

// RFC 9110 tchar. Debian's http_parser is built lenient and lets a space into
// a header name ("Host : x" becomes "Host "); RFC 9112 says to refuse it, and
// a lookup of "Host" would miss it.
bool is_token(std::string_view s) {
  if (s.empty()) return false;
  for (char c : s) {
    const bool alnum = (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
    if (!alnum && std::string_view("!#$%&'*+-.^_`|~").find(c) == std::string_view::npos)
      return false;
  }
  return true;
}

}  // namespace

HttpRequestParser::HttpRequestParser(Limits limits) : limits_(limits) {
  http_parser_init(&parser_, HTTP_REQUEST);
  parser_.data = this;
  http_parser_settings_init(&settings_);
  settings_.on_message_begin = &HttpRequestParser::on_message_begin;
  settings_.on_url = &HttpRequestParser::on_url;
  settings_.on_header_field = &HttpRequestParser::on_header_field;
  settings_.on_header_value = &HttpRequestParser::on_header_value;
  settings_.on_headers_complete = &HttpRequestParser::on_headers_complete;
  settings_.on_message_complete = &HttpRequestParser::on_message_complete;
}

HttpRequestParser::Step HttpRequestParser::feed(std::string_view data) {
  if (failed_) return {Outcome::kError, 0};
  if (data.empty()) return {Outcome::kNeedMore, 0};
  feed_begin_ = data.data();
  complete_ = false;
  const std::size_t n = http_parser_execute(&parser_, &settings_, data.data(), data.size());
  feed_begin_ = nullptr;
  if (complete_) {
    // Paused on the request's last byte: `n` ends there.
    http_parser_pause(&parser_, 0);
    return {Outcome::kRequest, n};
  }
  if (HTTP_PARSER_ERRNO(&parser_) != HPE_OK) {
    if (!failed_) {
      // http_parser's own verdict. Its header cap (80 KiB, compiled in) is
      // above ours, but a 431 is what it means either way.
      const auto err = HTTP_PARSER_ERRNO(&parser_);
      fail(err == HPE_HEADER_OVERFLOW ? 431 : 400, http_errno_description(err));
    }
    return {Outcome::kError, n};
  }
  if (in_request_ && in_head_) {
    // Whitespace between tokens reaches no data callback; counted here.
    head_before_ += n;
    if (head_before_ > limits_.max_header_bytes) {
      fail(431, "the request line and headers exceed " + std::to_string(limits_.max_header_bytes) +
                    " bytes");
      return {Outcome::kError, n};
    }
  }
  return {Outcome::kNeedMore, n};
}

HttpRequest HttpRequestParser::take_request() {
  HttpRequest r = std::move(request_);
  request_ = HttpRequest{};
  return r;
}

bool HttpRequestParser::fail(int status, std::string detail) {
  failed_ = true;
  error_ = HttpParseError{status, std::move(detail)};
  return false;
}

bool HttpRequestParser::check_head(const char* end) {
  const auto seen = head_before_ + static_cast<std::size_t>(end - feed_begin_);
  if (seen <= limits_.max_header_bytes) return true;
  return fail(431, "the request line and headers exceed " +
                       std::to_string(limits_.max_header_bytes) + " bytes");
}

int HttpRequestParser::on_message_begin(http_parser* p) {
  HttpRequestParser* s = self(p);
  s->request_ = HttpRequest{};
  s->head_before_ = 0;
  s->in_head_ = true;
  s->in_request_ = true;
  s->last_was_value_ = false;
  return 0;
}

int HttpRequestParser::on_url(http_parser* p, const char* at, std::size_t len) {
  HttpRequestParser* s = self(p);
  s->request_.target.append(at, len);
  if (s->request_.target.size() > s->limits_.max_url_bytes) {
    s->fail(414,
            "the request target exceeds " + std::to_string(s->limits_.max_url_bytes) + " bytes");
    return 1;
  }
  return s->check_head(at + len) ? 0 : 1;
}

int HttpRequestParser::on_header_field(http_parser* p, const char* at, std::size_t len) {
  HttpRequestParser* s = self(p);
  // A name may come in pieces (split across reads); a new one follows a value.
  if (s->last_was_value_ || s->request_.headers.empty()) s->request_.headers.emplace_back();
  s->last_was_value_ = false;
  s->request_.headers.back().name.append(at, len);
  return s->check_head(at + len) ? 0 : 1;
}

int HttpRequestParser::on_header_value(http_parser* p, const char* at, std::size_t len) {
  HttpRequestParser* s = self(p);
  s->last_was_value_ = true;
  s->request_.headers.back().value.append(at, len);
  return s->check_head(at + len) ? 0 : 1;
}

int HttpRequestParser::on_headers_complete(http_parser* p) {
  HttpRequestParser* s = self(p);
  s->in_head_ = false;
  // http_parser also takes HTTP/0.9 ("GET /") and any one-digit version.
  if (p->http_major != 1) {
    s->fail(505, "HTTP/" + std::to_string(p->http_major) + "." + std::to_string(p->http_minor) +
                     " is not supported (HTTP/1.0 and HTTP/1.1 are)");
    return -1;
  }
  for (HttpHeader& h : s->request_.headers) {
    if (!is_token(h.name)) {
      s->fail(400, "malformed header name");
      return -1;
    }
    trim_trailing_space(h.value);
  }
  // No endpoint takes a body: refused before a byte of it is read, so a
  // client that sent "Expect: 100-continue" sends none at all.
  const bool chunked = (p->flags & F_CHUNKED) != 0;
  // http_parser keeps "no Content-Length" as the largest value.
  constexpr std::uint64_t kNoLength = std::numeric_limits<std::uint64_t>::max();
  const bool has_length = p->content_length > 0 && p->content_length != kNoLength;
  if (chunked || has_length) {
    s->fail(413, "request bodies are not accepted");
    return -1;  // not 1 or 2: those mean "no body" / "upgrade" to http_parser
  }
  return 0;
}

int HttpRequestParser::on_message_complete(http_parser* p) {
  HttpRequestParser* s = self(p);
  if (!s->finish_request()) return 1;
  s->complete_ = true;
  s->in_request_ = false;
  // Stop right after this request: a pipelined next one stays unparsed
  // until this one is answered.
  http_parser_pause(p, 1);
  return 0;
}

bool HttpRequestParser::finish_request() {
  HttpRequest& r = request_;
  r.method = http_method_str(static_cast<enum http_method>(parser_.method));
  r.http_major = parser_.http_major;
  r.http_minor = parser_.http_minor;
  // An upgrade (WebSocket, CONNECT) is answered as a plain request, and the
  // connection closes after it: what the client sends next is no HTTP.
  r.keep_alive = http_should_keep_alive(&parser_) != 0 && parser_.upgrade == 0;

  http_parser_url url;
  http_parser_url_init(&url);
  const int is_connect = parser_.method == HTTP_CONNECT ? 1 : 0;
  if (http_parser_parse_url(r.target.data(), r.target.size(), is_connect, &url) != 0)
    return fail(400, "malformed request target");
  auto field = [&](int f) -> std::string_view {
    if ((url.field_set & (1U << f)) == 0) return {};
    return std::string_view(r.target).substr(url.field_data[f].off, url.field_data[f].len);
  };
  r.path = field(UF_PATH);
  if (r.path.empty()) r.path = "/";  // "http://host" and CONNECT's "host:port"
  auto query = parse_query(field(UF_QUERY));
  if (!query) return fail(400, "malformed query string (a '%' without two hex digits)");
  r.query = std::move(*query);
  return true;
}

}  // namespace aw::http
