// The pure rules of the HTTP server's messages: query decoding, header
// lookup, response framing, the bearer and Host checks, SSE framing.
#include "src/http/http_message.h"

#include <gtest/gtest.h>

#include <chrono>
#include <string>

namespace aw::http {
namespace {

using Pairs = std::vector<std::pair<std::string, std::string>>;

TEST(HttpQuery, DecodesPercentAndPlusKeepsOrderAndEmptyValues) {
  auto q = parse_query("name=a%20b&x=1+2&flag&k=%2F%2f&&name=second&e=");
  ASSERT_TRUE(q.has_value());
  EXPECT_EQ(*q, (Pairs{{"name", "a b"},
                       {"x", "1 2"},
                       {"flag", ""},
                       {"k", "//"},
                       {"name", "second"},
                       {"e", ""}}));
}

TEST(HttpQuery, EmptyIsNoPairsAndABrokenEscapeIsRefused) {
  EXPECT_EQ(parse_query("")->size(), 0u);
  EXPECT_FALSE(parse_query("a=%2").has_value());
  EXPECT_FALSE(parse_query("a=%zz").has_value());
  EXPECT_FALSE(parse_query("%g1=b").has_value());
  // An encoded '&' or '=' is data, not a separator.
  EXPECT_EQ(*parse_query("a=x%26y%3Dz"), (Pairs{{"a", "x&y=z"}}));
}

TEST(HttpRequest, HeaderLookupIgnoresCaseAndTakesTheFirst) {
  HttpRequest r;
  r.headers = {{"Content-Type", "a"}, {"X-Thing", "1"}, {"x-thing", "2"}};
  r.query = {{"since", "10m"}, {"since", "1h"}};
  EXPECT_EQ(r.header("content-type"), "a");
  EXPECT_EQ(r.header("X-THING"), "1");
  EXPECT_FALSE(r.header("Host").has_value());
  EXPECT_EQ(r.query_param("since"), "10m");
  EXPECT_FALSE(r.query_param("Since").has_value()) << "query keys are exact";
}

TEST(HttpResponseText, HasStatusLineLengthAndExtraHeaders) {
  HttpResponse r;
  r.status = 404;
  r.body = "nope\n";
  r.headers = {{"Cache-Control", "no-store"}};
  EXPECT_EQ(serialize_response(r, {"Sun, 06 Nov 1994 08:49:37 GMT", false, false}),
            "HTTP/1.1 404 Not Found\r\n"
            "Date: Sun, 06 Nov 1994 08:49:37 GMT\r\n"
            "Content-Type: text/plain; charset=utf-8\r\n"
            "Content-Length: 5\r\n"
            "Cache-Control: no-store\r\n"
            "\r\n"
            "nope\n");
}

TEST(HttpResponseText, HeadKeepsTheLengthAndDropsTheBodyCloseSaysSo) {
  HttpResponse r;
  r.content_type = "";
  r.body = "0123456789";
  EXPECT_EQ(serialize_response(r, {"", true, true}),
            "HTTP/1.1 200 OK\r\nContent-Length: 10\r\nConnection: close\r\n\r\n");
}

TEST(HttpResponseText, AHeaderValueCannotStartAHeaderOfItsOwn) {
  HttpResponse r;
  r.content_type = "";
  r.headers = {{"X-A", "v\r\nSet-Cookie: evil"}, {"X\nB", std::string("1\0x", 3)}};
  const std::string text = serialize_response(r, {"", false, false});
  EXPECT_EQ(text.find("\r\nSet-Cookie"), std::string::npos) << text;
  EXPECT_NE(text.find("X-A: v  Set-Cookie: evil\r\n"), std::string::npos) << text;
  EXPECT_NE(text.find("X B: 1 x\r\n"), std::string::npos) << text;
}

TEST(HttpResponseText, ReasonPhrases) {
  EXPECT_EQ(reason_phrase(200), "OK");
  EXPECT_EQ(reason_phrase(405), "Method Not Allowed");
  EXPECT_EQ(reason_phrase(413), "Payload Too Large");
  EXPECT_EQ(reason_phrase(414), "URI Too Long");
  EXPECT_EQ(reason_phrase(431), "Request Header Fields Too Large");
  EXPECT_EQ(reason_phrase(503), "Service Unavailable");
  EXPECT_EQ(reason_phrase(299), "Unknown");
  EXPECT_EQ(reason_phrase(-1), "Unknown");
}

TEST(HttpResponseText, TextResponseNamesTheStatusAndTheDetail) {
  HttpResponse r = text_response(404);
  EXPECT_EQ(r.status, 404);
  EXPECT_EQ(r.body, "404 Not Found\n");
  EXPECT_EQ(text_response(400, "why").body, "400 Bad Request\nwhy\n");
}

TEST(HttpResponseText, DateIsAnImfFixdateInGmt) {
  EXPECT_EQ(http_date(WallTime(std::chrono::seconds(784111777))), "Sun, 06 Nov 1994 08:49:37 GMT");
  EXPECT_EQ(http_date(WallTime(std::chrono::seconds(0))), "Thu, 01 Jan 1970 00:00:00 GMT");
}

TEST(HttpStreamHead, IsAnEventStreamWithoutLength) {
  const std::string head = serialize_stream_head({{"X-Stream", "events"}}, "");
  EXPECT_EQ(head,
            "HTTP/1.1 200 OK\r\n"
            "Content-Type: text/event-stream\r\n"
            "Cache-Control: no-cache\r\n"
            "X-Accel-Buffering: no\r\n"
            "X-Stream: events\r\n"
            "\r\n");
}

TEST(HttpAuth, TheTokenCookieIsFoundAmongOthersAndMustBeExact) {
  EXPECT_TRUE(token_cookie_matches("agentwatch_token=s3cret", "s3cret"));
  EXPECT_TRUE(token_cookie_matches("theme=dark; agentwatch_token=s3cret; x=1", "s3cret"));
  EXPECT_FALSE(token_cookie_matches("agentwatch_token=s3cre", "s3cret"));
  EXPECT_FALSE(token_cookie_matches("agentwatch_token=s3cret2", "s3cret"));
  EXPECT_FALSE(token_cookie_matches("other_token=s3cret", "s3cret"));
  EXPECT_FALSE(token_cookie_matches("xagentwatch_token=s3cret", "s3cret"));
  EXPECT_FALSE(token_cookie_matches("", "s3cret"));
  EXPECT_FALSE(token_cookie_matches("agentwatch_token", "s3cret"));
}

TEST(HttpAuth, BearerNeedsTheSchemeAndTheExactToken) {
  EXPECT_TRUE(bearer_matches("Bearer s3cret", "s3cret"));
  EXPECT_TRUE(bearer_matches("bearer   s3cret", "s3cret")) << "scheme in any case, spaces";
  EXPECT_FALSE(bearer_matches("Bearer s3cre", "s3cret"));
  EXPECT_FALSE(bearer_matches("Bearer s3cret2", "s3cret"));
  EXPECT_FALSE(bearer_matches("Bearer S3CRET", "s3cret")) << "the token is exact";
  EXPECT_FALSE(bearer_matches("Basic s3cret", "s3cret"));
  EXPECT_FALSE(bearer_matches("Bearers3cret", "s3cret"));
  EXPECT_FALSE(bearer_matches("Bearer", "s3cret"));
  EXPECT_FALSE(bearer_matches("Bearer ", "s3cret"));
  EXPECT_FALSE(bearer_matches("", "s3cret"));
}

TEST(HttpAuth, ConstantTimeEqualsIsEquality) {
  EXPECT_TRUE(constant_time_equals("", ""));
  EXPECT_TRUE(constant_time_equals("abc", "abc"));
  EXPECT_FALSE(constant_time_equals("abd", "abc"));
  EXPECT_FALSE(constant_time_equals("ab", "abc"));
  EXPECT_FALSE(constant_time_equals("abcd", "abc"));
  EXPECT_FALSE(constant_time_equals(std::string_view("ab\0", 3), "ab"));
  EXPECT_FALSE(constant_time_equals("x", ""));
}

TEST(HttpHost, LoopbackNamesWithOrWithoutPort) {
  for (const char* h : {"localhost", "LOCALHOST:8080", "127.0.0.1", "127.0.0.1:9100", "127.1.2.3:1",
                        "[::1]", "[::1]:9100"})
    EXPECT_TRUE(is_loopback_host_header(h)) << h;
  for (const char* h :
       {"", "evil.example", "evil.example:9100", "localhost.evil.example", "127.0.0.1.evil.example",
        "10.0.0.1", "[::2]:80", "[::1", "[::1]x", "128.0.0.1", "0.0.0.0"})
    EXPECT_FALSE(is_loopback_host_header(h)) << h;
}

TEST(HttpSse, EventFramesEachDataLine) {
  EXPECT_EQ(sse_event("hello"), "data: hello\n\n");
  EXPECT_EQ(sse_event("a\nb\r\nc\rd", "worker.exit", "42"),
            "event: worker.exit\nid: 42\ndata: a\ndata: b\ndata: c\ndata: d\n\n");
  EXPECT_EQ(sse_event(""), "data: \n\n");
  EXPECT_EQ(sse_event("x\n"), "data: x\ndata: \n\n") << "a trailing newline is kept";
}

TEST(HttpSse, FieldsCannotBreakTheFraming) {
  EXPECT_EQ(sse_event("d", "a\nb", std::string_view("1\r\0", 3)),
            "event: a b\nid: 1  \ndata: d\n\n");
  EXPECT_EQ(sse_comment("ping"), ": ping\n\n");
  EXPECT_EQ(sse_comment("a\nb"), ": a b\n\n");
}

}  // namespace
}  // namespace aw::http
