// HttpRequestParser without a socket: requests in one piece and byte by byte,
// pipelining (one request per feed), and every refusal with its status.
#include "src/http/http_request_parser.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

namespace aw::http {
namespace {

using Outcome = HttpRequestParser::Outcome;

struct Parsed {
  std::vector<HttpRequest> requests;
  std::optional<HttpParseError> error;
  std::size_t unconsumed = 0;  // left when feeding stopped
};

// Feeds `text` in pieces of `piece` bytes (0: all at once), as a connection
// does: after a request, the rest is fed again.
Parsed parse(const std::string& text, HttpRequestParser::Limits limits = {},
             std::size_t piece = 0) {
  HttpRequestParser p(limits);
  Parsed out;
  std::string pending;
  std::size_t next = 0;
  while (next < text.size() || !pending.empty()) {
    if (next < text.size()) {
      const std::size_t n = piece == 0 ? text.size() - next : std::min(piece, text.size() - next);
      pending.append(text, next, n);
      next += n;
    }
    bool progressed = false;
    while (!pending.empty()) {
      const auto step = p.feed(pending);
      pending.erase(0, step.consumed);
      if (step.outcome == Outcome::kError) {
        out.error = p.error();
        out.unconsumed = pending.size() + (text.size() - next);
        return out;
      }
      if (step.outcome == Outcome::kNeedMore) break;
      out.requests.push_back(p.take_request());
      progressed = true;
    }
    if (!progressed && next >= text.size()) break;
  }
  out.unconsumed = pending.size();
  return out;
}

TEST(HttpRequestParser, ParsesARequest) {
  auto r = parse(
      "GET /api/workers?state=running&name=a%20b HTTP/1.1\r\n"
      "Host: 127.0.0.1:9100\r\n"
      "Accept:   application/json  \r\n"
      "X-Empty:\r\n"
      "\r\n");
  ASSERT_FALSE(r.error.has_value()) << r.error->detail;
  ASSERT_EQ(r.requests.size(), 1u);
  const HttpRequest& q = r.requests[0];
  EXPECT_EQ(q.method, "GET");
  EXPECT_EQ(q.target, "/api/workers?state=running&name=a%20b");
  EXPECT_EQ(q.path, "/api/workers");
  EXPECT_EQ(q.query_param("state"), "running");
  EXPECT_EQ(q.query_param("name"), "a b");
  EXPECT_EQ(q.header("host"), "127.0.0.1:9100");
  EXPECT_EQ(q.header("Accept"), "application/json") << "surrounding whitespace goes";
  EXPECT_EQ(q.header("X-Empty"), "");
  EXPECT_EQ(q.http_major, 1u);
  EXPECT_EQ(q.http_minor, 1u);
  EXPECT_TRUE(q.keep_alive);
}

TEST(HttpRequestParser, ByteByByteIsTheSame) {
  const std::string text =
      "HEAD /metrics?x=1 HTTP/1.1\r\nHost: localhost\r\nUser-Agent: prometheus/2.45\r\n\r\n";
  auto r = parse(text, {}, 1);
  ASSERT_FALSE(r.error.has_value());
  ASSERT_EQ(r.requests.size(), 1u);
  EXPECT_EQ(r.requests[0].method, "HEAD");
  EXPECT_TRUE(r.requests[0].is_head());
  EXPECT_EQ(r.requests[0].path, "/metrics");
  EXPECT_EQ(r.requests[0].header("User-Agent"), "prometheus/2.45");
}

TEST(HttpRequestParser, StopsAfterEachRequestSoPipelinedOnesWait) {
  HttpRequestParser p({});
  const std::string text =
      "GET /a HTTP/1.1\r\nHost: h\r\n\r\n"
      "GET /b HTTP/1.1\r\nHost: h\r\n\r\n";
  auto step = p.feed(text);
  ASSERT_EQ(step.outcome, Outcome::kRequest);
  EXPECT_EQ(step.consumed, text.size() / 2) << "stopped right after the first request";
  EXPECT_EQ(p.take_request().path, "/a");
  step = p.feed(std::string_view(text).substr(step.consumed));
  ASSERT_EQ(step.outcome, Outcome::kRequest);
  EXPECT_EQ(p.take_request().path, "/b");
  EXPECT_FALSE(p.in_request());
}

TEST(HttpRequestParser, TracksAPartialRequest) {
  HttpRequestParser p({});
  EXPECT_FALSE(p.in_request());
  EXPECT_EQ(p.feed("GET / HT").outcome, Outcome::kNeedMore);
  EXPECT_TRUE(p.in_request());
}

TEST(HttpRequestParser, KeepAliveFollowsVersionAndConnection) {
  auto close = parse("GET / HTTP/1.1\r\nHost: h\r\nConnection: close\r\n\r\n");
  ASSERT_EQ(close.requests.size(), 1u);
  EXPECT_FALSE(close.requests[0].keep_alive);
  auto v10 = parse("GET / HTTP/1.0\r\n\r\n");
  ASSERT_EQ(v10.requests.size(), 1u);
  EXPECT_FALSE(v10.requests[0].keep_alive);
  EXPECT_EQ(v10.requests[0].http_minor, 0u);
  auto v10ka = parse("GET / HTTP/1.0\r\nConnection: keep-alive\r\n\r\n");
  ASSERT_EQ(v10ka.requests.size(), 1u);
  EXPECT_TRUE(v10ka.requests[0].keep_alive);
  // An upgrade is answered as plain HTTP, then the connection closes.
  auto ws =
      parse("GET /events HTTP/1.1\r\nHost: h\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n\r\n");
  ASSERT_EQ(ws.requests.size(), 1u);
  EXPECT_FALSE(ws.requests[0].keep_alive);
}

TEST(HttpRequestParser, AbsoluteFormTargetsGiveTheirPath) {
  auto r = parse("GET http://127.0.0.1:9100/metrics?a=1 HTTP/1.1\r\nHost: h\r\n\r\n");
  ASSERT_EQ(r.requests.size(), 1u);
  EXPECT_EQ(r.requests[0].path, "/metrics");
  EXPECT_EQ(r.requests[0].query_param("a"), "1");
}

TEST(HttpRequestParser, ContentLengthZeroIsNoBody) {
  auto r = parse("GET / HTTP/1.1\r\nHost: h\r\nContent-Length: 0\r\n\r\n");
  ASSERT_FALSE(r.error.has_value());
  EXPECT_EQ(r.requests.size(), 1u);
}

TEST(HttpRequestParser, ABodyIs413BeforeItIsRead) {
  auto r = parse("POST /x HTTP/1.1\r\nHost: h\r\nContent-Length: 5\r\n\r\nhello");
  ASSERT_TRUE(r.error.has_value());
  EXPECT_EQ(r.error->status, 413);
  EXPECT_GE(r.unconsumed, 5u) << "the body was not parsed";
  auto chunked = parse(
      "POST /x HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n");
  ASSERT_TRUE(chunked.error.has_value());
  EXPECT_EQ(chunked.error->status, 413);
}

TEST(HttpRequestParser, ALongTargetIs414) {
  const std::string target = "/" + std::string(300, 'a');
  auto r = parse("GET " + target + " HTTP/1.1\r\nHost: h\r\n\r\n", {8192, 256});
  ASSERT_TRUE(r.error.has_value());
  EXPECT_EQ(r.error->status, 414);
  // Also when it arrives a byte at a time: refused as soon as it passes the cap.
  auto slow = parse("GET " + target + " HTTP/1.1\r\nHost: h\r\n\r\n", {8192, 256}, 1);
  ASSERT_TRUE(slow.error.has_value());
  EXPECT_EQ(slow.error->status, 414);
  EXPECT_GT(slow.unconsumed, 0u) << "refused before the request line ended";
  // At the cap exactly: fine.
  auto at_cap =
      parse("GET /" + std::string(255, 'a') + " HTTP/1.1\r\nHost: h\r\n\r\n", {8192, 256});
  EXPECT_FALSE(at_cap.error.has_value());
}

TEST(HttpRequestParser, LargeHeadersAre431AsTheyArrive) {
  const std::string big = "X-Big: " + std::string(2000, 'b') + "\r\n";
  auto r = parse("GET / HTTP/1.1\r\nHost: h\r\n" + big + "\r\n", {1024, 256});
  ASSERT_TRUE(r.error.has_value());
  EXPECT_EQ(r.error->status, 431);
  // Many small headers add up.
  std::string many;
  for (int i = 0; i < 200; ++i) many += "X-H" + std::to_string(i) + ": v\r\n";
  auto m = parse("GET / HTTP/1.1\r\nHost: h\r\n" + many + "\r\n", {1024, 256}, 7);
  ASSERT_TRUE(m.error.has_value());
  EXPECT_EQ(m.error->status, 431);
  // Whitespace reaches no callback, but it is head all the same.
  auto ws = parse("GET / HTTP/1.1\r\nHost: h\r\nX-Pad:" + std::string(2000, ' '), {1024, 256}, 100);
  ASSERT_TRUE(ws.error.has_value());
  EXPECT_EQ(ws.error->status, 431);
  // Just under the cap: fine.
  const std::string head = "GET / HTTP/1.1\r\nHost: h\r\nX-Fill: ";
  const std::string fits = head + std::string(1024 - head.size() - 4, 'f') + "\r\n\r\n";
  ASSERT_EQ(fits.size(), 1024u);
  EXPECT_FALSE(parse(fits, {1024, 256}).error.has_value());
  EXPECT_FALSE(parse(fits, {1024, 256}, 3).error.has_value());
}

TEST(HttpRequestParser, TheCapIsPerRequest) {
  // Pipelined requests each under the cap pass, whatever their sum.
  const std::string one =
      "GET / HTTP/1.1\r\nHost: h\r\nX-Fill: " + std::string(600, 'f') + "\r\n\r\n";
  auto r = parse(one + one + one, {1024, 256});
  EXPECT_FALSE(r.error.has_value());
  EXPECT_EQ(r.requests.size(), 3u);
}

TEST(HttpRequestParser, MalformedRequestsAre400) {
  for (const char* text : {
           "BREW /pot HTTP/1.1\r\n\r\n",                    // no such method
           "GET / HTTP/1.1\r\nBad Header: x\r\n\r\n",       // a space in a name
           "GET / HTTP/1.1\r\nHost : h\r\n\r\n",            // a space before the colon
           "GET / HTTP/1.1\r\nHost: h\r\nNoColon\r\n\r\n",  // no colon
           "GET /a b HTTP/1.1\r\nHost: h\r\n\r\n",          // a space in the target
           "GET /a?x=%zz HTTP/1.1\r\nHost: h\r\n\r\n",      // a broken escape
           "GET / HTTP/1.1\r\nHost: h\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\n",
           "GET / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: gzip\r\n\r\n",
           "\x01\x02\x03\r\n\r\n",
       }) {
    auto r = parse(text);
    ASSERT_TRUE(r.error.has_value()) << text;
    EXPECT_EQ(r.error->status, 400) << text;
    EXPECT_FALSE(r.error->detail.empty());
  }
}

TEST(HttpRequestParser, OnlyHttp1Is505Otherwise) {
  for (const char* text : {"GET / HTTP/9.9\r\nHost: h\r\n\r\n", "GET / HTTP/2.0\r\n\r\n",
                           "GET /\r\n\r\n"}) {  // the last is HTTP/0.9
    auto r = parse(text);
    ASSERT_TRUE(r.error.has_value()) << text;
    EXPECT_EQ(r.error->status, 505) << text;
  }
}

TEST(HttpRequestParser, AfterAnErrorNothingMoreIsParsed) {
  HttpRequestParser p({});
  EXPECT_EQ(p.feed("BREW / HTTP/1.1\r\n\r\n").outcome, Outcome::kError);
  const auto step = p.feed("GET / HTTP/1.1\r\nHost: h\r\n\r\n");
  EXPECT_EQ(step.outcome, Outcome::kError);
  EXPECT_EQ(step.consumed, 0u);
}

}  // namespace
}  // namespace aw::http
