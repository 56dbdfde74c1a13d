// HttpRequestParser: HTTP/1.1 requests out of a byte stream, one at a time,
// with the server's caps (docs/http.md). It wraps http_parser 2.9 (Debian's
// libhttp-parser), which does the grammar, and adds what a small server on
// the loop needs:
//
//   - one request at a time: feed() stops right after a request's last byte
//     (http_parser is paused there), so a pipelined second request waits,
//     unparsed, until the first is answered; answers go out in order without
//     a queue of parsed requests;
//   - caps, checked as bytes arrive rather than once a request is whole: a
//     request target longer than `max_url_bytes` is 414; a request line plus
//     header section longer than `max_header_bytes` is 431 (counted to the end
//     of the last header field seen, so the final CRLFs may pass the cap by at
//     most 4 bytes); a body, announced by Content-Length > 0 or chunked
//     Transfer-Encoding, is 413 before any of it is read;
//   - a version other than HTTP/1.x is 505; everything else http_parser
//     rejects (a bad method token, both Content-Length and chunked), a header
//     name that is not a token ("Host : x", which Debian's lenient
//     http_parser lets through) and a query that does not percent-decode is
//     400.
// After an error the parser is done: the connection answers and closes (the
// rest of the stream cannot be framed).
//
// Pure: no libuv, no I/O. Not copyable or movable (http_parser's `data`
// points at it).
#pragma once

#include <http_parser.h>

#include <cstddef>
#include <string>
#include <string_view>

#include "src/http/http_message.h"

namespace aw::http {

struct HttpParseError {
  int status = 400;  // 400, 413, 414, 431 or 505
  std::string detail;
};

class HttpRequestParser {
 public:
  struct Limits {
    std::size_t max_header_bytes = 8 * 1024;
    std::size_t max_url_bytes = 2 * 1024;
  };
  enum class Outcome {
    kNeedMore,  // every byte was consumed; the request is not complete yet
    kRequest,   // a request completed: take_request(); the rest is the next one's
    kError,     // error(); feed no more
  };
  struct Step {
    Outcome outcome = Outcome::kNeedMore;
    std::size_t consumed = 0;  // bytes of `data` used (the rest is not looked at)
  };

  explicit HttpRequestParser(Limits limits);
  HttpRequestParser(const HttpRequestParser&) = delete;
  HttpRequestParser& operator=(const HttpRequestParser&) = delete;

  // Parses from the start of `data`; call again with what was not consumed.
  Step feed(std::string_view data);
  // After kRequest: the request (moved out); the parser is ready for the next.
  HttpRequest take_request();
  // After kError.
  const HttpParseError& error() const { return error_; }
  // Some of a request has been read: a stream that ends now truncated it.
  bool in_request() const { return in_request_; }

 private:
  static int on_message_begin(http_parser* p);
  static int on_url(http_parser* p, const char* at, std::size_t len);
  static int on_header_field(http_parser* p, const char* at, std::size_t len);
  static int on_header_value(http_parser* p, const char* at, std::size_t len);
  static int on_headers_complete(http_parser* p);
  static int on_message_complete(http_parser* p);

  // The head's size so far, from a data callback's end pointer; refuses it
  // (431) past the cap. False: stop parsing.
  bool check_head(const char* end);
  bool fail(int status, std::string detail);
  bool finish_request();

  Limits limits_;
  http_parser parser_{};
  http_parser_settings settings_{};
  const char* feed_begin_ = nullptr;  // the data of the feed() in progress
  std::size_t head_before_ = 0;       // bytes of this request's head in earlier feeds
  bool in_head_ = true;
  bool in_request_ = false;
  bool complete_ = false;
  bool last_was_value_ = false;  // header callbacks: a field name starts a new header
  HttpRequest request_;
  HttpParseError error_;
  bool failed_ = false;
};

}  // namespace aw::http
