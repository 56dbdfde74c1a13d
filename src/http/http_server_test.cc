// Loop tests of HttpServer on real TCP sockets: a fresh loop per test, one
// server on 127.0.0.1 and an ephemeral port, blocking clients on a thread
// (5 s timeouts) while the loop runs here. Waits are on replies, counters or
// the client thread's end, never sleeps on the loop.
#include "src/http/http_server.h"

#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <csignal>
#include <functional>
#include <future>
#include <memory>
#include <numeric>
#include <optional>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include "src/http/http_test_client.h"
#include "src/uvx/handle.h"
#include "src/uvx/unix_listener_test_support.h"

namespace aw::http {
namespace {

using http_test::request;
using http_test::TcpClient;
using http_test::TestResponse;

class HttpServerTest : public uvx_test::LoopTest {
 protected:
  void SetUp() override {
    std::signal(SIGPIPE, SIG_IGN);  // as the daemon does
    uvx_test::LoopTest::SetUp();
  }
  void release_handles() override {
    timers_.clear();
    server_.reset();
    streams_.clear();
  }

  // A server on 127.0.0.1:<any> with the fixture's handlers:
  //   /hello   "hello\n"
  //   /echo    the method, the path, then each query pair as "k=v" lines
  //   /big     "n=<n>\n" and 256 KiB more
  //   /events  a stream the test holds in streams_ (on_close counts)
  //   /silent  answers nothing; /throws throws
  void start(const HttpServer::Options& options = {}) {
    server_ = std::make_unique<HttpServer>(&loop_, clock_, options);
    server_->handle("/hello", [](const HttpRequest&, HttpResponder& out) {
      out.respond({200, "text/plain", "hello\n", {}});
    });
    server_->handle("/echo", [](const HttpRequest& r, HttpResponder& out) {
      std::string body = r.method + " " + r.path + "\n";
      for (const auto& [k, v] : r.query) body += k + "=" + v + "\n";
      out.respond({200, "text/plain", body, {{"X-Echo", "1"}}});
    });
    server_->handle("/big", [](const HttpRequest& r, HttpResponder& out) {
      out.respond({200,
                   "application/octet-stream",
                   "n=" + std::string(r.query_param("n").value_or("")) + "\n" +
                       std::string(256 * 1024, 'x'),
                   {}});
    });
    server_->handle("/events", [this](const HttpRequest&, HttpResponder& out) {
      std::shared_ptr<HttpStream> s = out.start_stream({{"X-Stream", "yes"}});
      s->on_close([this] { ++closed_streams_; });
      streams_.push_back(s);
    });
    server_->handle("/silent", [](const HttpRequest&, HttpResponder&) {});
    server_->handle("/throws",
                    [](const HttpRequest&, HttpResponder&) { throw std::runtime_error("boom"); });
    Status s = server_->listen("127.0.0.1", 0);
    ASSERT_TRUE(s.ok()) << s.error().message;
    port_ = server_->port();
    ASSERT_NE(port_, 0);
  }

  // One connection, `raw` sent, one response read.
  std::optional<TestResponse> exchange(const std::string& raw, bool head_only = false) {
    std::optional<TestResponse> r;
    run_client([&] {
      TcpClient c(port_);
      if (c.connected() && c.send_all(raw)) r = c.read_response(head_only);
    });
    return r;
  }

  // A timer that runs `fn` on the loop after `ms` (a write "later").
  void after(std::uint64_t ms, std::function<void()> fn) {
    timers_.push_back(std::make_unique<uvx::Timer>(&loop_, std::move(fn)));
    timers_.back()->start(ms);
  }

  HttpServerStats stats() const { return server_->stats(); }
  bool all_closed() const { return stats().connections_open == 0; }

  SystemClock clock_;
  std::unique_ptr<HttpServer> server_;
  std::uint16_t port_ = 0;
  std::vector<std::shared_ptr<HttpStream>> streams_;
  int closed_streams_ = 0;
  std::vector<std::unique_ptr<uvx::Timer>> timers_;
};

// ---- answers -----------------------------------------------------------------

TEST_F(HttpServerTest, GetAnswersWithBodyAndContentLength) {
  start();
  auto r = exchange(request("/hello"));
  ASSERT_TRUE(r.has_value());
  EXPECT_EQ(r->status, 200);
  EXPECT_EQ(r->body, "hello\n");
  EXPECT_EQ(r->header("Content-Length"), "6");
  EXPECT_EQ(r->header("Content-Type"), "text/plain");
  EXPECT_TRUE(r->header("Date").has_value());
  EXPECT_FALSE(r->header("Connection").has_value()) << "kept alive";
  const HttpServerStats s = stats();
  EXPECT_EQ(s.requests, 1u);
  EXPECT_EQ(s.responses_by_class[2], 1u);
  EXPECT_EQ(s.connections_accepted, 1u);
}

TEST_F(HttpServerTest, HeadGetsTheHeadWithoutTheBody) {
  start();
  std::optional<TestResponse> head, get;
  run_client([&] {
    TcpClient c(port_);
    if (!c.connected() || !c.send_all(request("/hello", {}, "HEAD"))) return;
    head = c.read_response(/*head_only=*/true);
    // Had a body followed the head, it would be read here as a response.
    if (!c.send_all(request("/echo"))) return;
    get = c.read_response();
  });
  ASSERT_TRUE(head.has_value());
  EXPECT_EQ(head->status, 200);
  EXPECT_EQ(head->header("Content-Length"), "6") << "the length GET would send";
  ASSERT_TRUE(get.has_value());
  EXPECT_EQ(get->status, 200);
  EXPECT_EQ(get->body, "GET /echo\n");
}

TEST_F(HttpServerTest, HandlersSeeHead) {
  start();
  std::optional<TestResponse> r;
  run_client([&] {
    TcpClient c(port_);
    if (c.connected() && c.send_all(request("/echo", {}, "HEAD"))) r = c.read_response(true);
  });
  ASSERT_TRUE(r.has_value());
  EXPECT_EQ(r->header("Content-Length"), std::to_string(std::string("HEAD /echo\n").size()));
}

TEST_F(HttpServerTest, UnknownPathIs404) {
  start();
  auto r = exchange(request("/nope"));
  ASSERT_TRUE(r.has_value());
  EXPECT_EQ(r->status, 404);
  EXPECT_EQ(r->body, "404 Not Found\n");
  EXPECT_EQ(stats().responses_by_class[4], 1u);
  // Paths match exactly: no prefix, no trailing slash.
  EXPECT_EQ(exchange(request("/hello/"))->status, 404);
  EXPECT_EQ(exchange(request("/hell"))->status, 404);
}

TEST_F(HttpServerTest, OtherMethodsAre405WithAllow) {
  start();
  for (const char* method : {"POST", "DELETE", "OPTIONS", "PUT"}) {
    auto r = exchange(request("/hello", {}, method));
    ASSERT_TRUE(r.has_value()) << method;
    EXPECT_EQ(r->status, 405) << method;
    EXPECT_EQ(r->header("Allow"), "GET, HEAD") << method;
  }
  EXPECT_EQ(exchange(request("/nope", {}, "POST"))->status, 404);
}

TEST_F(HttpServerTest, QueryIsDecoded) {
  start();
  auto r = exchange(request("/echo?name=a%20b&x=1+2&flag&k=%2F%c3%a9&name=again"));
  ASSERT_TRUE(r.has_value());
  EXPECT_EQ(r->status, 200);
  EXPECT_EQ(r->body, "GET /echo\nname=a b\nx=1 2\nflag=\nk=/\xc3\xa9\nname=again\n");
  EXPECT_EQ(r->header("X-Echo"), "1");
}

TEST_F(HttpServerTest, ABrokenQueryIs400AndCloses) {
  start();
  std::optional<TestResponse> r;
  bool closed = false;
  run_client([&] {
    TcpClient c(port_);
    if (!c.connected() || !c.send_all(request("/echo?x=%zz"))) return;
    r = c.read_response();
    closed = c.at_eof();
  });
  ASSERT_TRUE(r.has_value());
  EXPECT_EQ(r->status, 400);
  EXPECT_EQ(r->header("Connection"), "close");
  EXPECT_TRUE(closed);
  EXPECT_EQ(stats().rejected_bad_request, 1u);
}

TEST_F(HttpServerTest, HandlerThatDoesNotAnswerOrThrowsGives500) {
  start();
  auto silent = exchange(request("/silent"));
  ASSERT_TRUE(silent.has_value());
  EXPECT_EQ(silent->status, 500);
  EXPECT_NE(silent->body.find("gave no answer"), std::string::npos) << silent->body;
  auto thrown = exchange(request("/throws"));
  ASSERT_TRUE(thrown.has_value());
  EXPECT_EQ(thrown->status, 500);
  EXPECT_NE(thrown->body.find("boom"), std::string::npos) << thrown->body;
  EXPECT_EQ(stats().responses_by_class[5], 2u);
}

TEST_F(HttpServerTest, OnlyTheFirstAnswerCounts) {
  start();
  std::shared_ptr<HttpStream> late;
  server_->handle("/twice", [&](const HttpRequest&, HttpResponder& out) {
    out.respond({200, "text/plain", "first\n", {}});
    out.respond({500, "text/plain", "second\n", {}});
    late = out.start_stream();
  });
  auto r = exchange(request("/twice"));
  ASSERT_TRUE(r.has_value());
  EXPECT_EQ(r->body, "first\n");
  ASSERT_NE(late, nullptr) << "never null";
  EXPECT_FALSE(late->open());
  EXPECT_FALSE(late->write("x"));
}

// ---- connections -----------------------------------------------------------

TEST_F(HttpServerTest, KeepAliveServesTwoRequestsOnOneConnection) {
  start();
  std::optional<TestResponse> a, b;
  run_client([&] {
    TcpClient c(port_);
    if (!c.connected() || !c.send_all(request("/hello"))) return;
    a = c.read_response();
    if (!c.send_all(request("/echo?n=2"))) return;
    b = c.read_response();
  });
  ASSERT_TRUE(a.has_value());
  ASSERT_TRUE(b.has_value());
  EXPECT_EQ(a->body, "hello\n");
  EXPECT_EQ(b->body, "GET /echo\nn=2\n");
  EXPECT_EQ(stats().connections_accepted, 1u);
  EXPECT_EQ(stats().requests, 2u);
}

TEST_F(HttpServerTest, PipelinedRequestsAreAnsweredInOrder) {
  start();
  std::vector<TestResponse> got;
  bool closed = false;
  run_client([&] {
    TcpClient c(port_);
    const std::string all = request("/echo?n=1") + request("/hello") + request("/nope") +
                            request("/echo?n=4", "Connection: close\r\n");
    if (!c.connected() || !c.send_all(all)) return;
    for (int i = 0; i < 4; ++i) {
      auto r = c.read_response();
      if (!r) return;
      got.push_back(*r);
    }
    closed = c.at_eof();
  });
  ASSERT_EQ(got.size(), 4u);
  EXPECT_EQ(got[0].body, "GET /echo\nn=1\n");
  EXPECT_EQ(got[1].body, "hello\n");
  EXPECT_EQ(got[2].status, 404);
  EXPECT_EQ(got[3].body, "GET /echo\nn=4\n");
  EXPECT_EQ(got[3].header("Connection"), "close");
  EXPECT_TRUE(closed) << "Connection: close is honoured";
  EXPECT_EQ(stats().connections_accepted, 1u);
}

TEST_F(HttpServerTest, PipeliningPausesWhileAnswersGoUnreadAndResumesInOrder) {
  HttpServer::Options o;
  o.max_queued_response_bytes = 64 * 1024;  // a /big answer alone passes it
  start(o);
  // 10 MiB of answers: more than the kernel buffers of a client that does not
  // read (a small receive buffer, and no reads to grow it) can hold.
  constexpr int kRequests = 40;
  std::vector<std::string> firsts;
  bool complete = true;
  std::promise<void> sent, release;
  std::shared_future<void> sent_future = sent.get_future().share();
  std::shared_future<void> released = release.get_future().share();
  auto client = spawn([&] {
    TcpClient c(port_, /*receive_buffer=*/4096);
    std::string all;
    for (int i = 0; i < kRequests; ++i) all += request("/big?n=" + std::to_string(i));
    const bool ok = c.connected() && c.send_all(all);
    sent.set_value();
    if (!ok) return;
    released.wait_for(std::chrono::seconds(20));
    for (int i = 0; i < kRequests; ++i) {
      auto r = c.read_response();
      if (!r) return;
      complete = complete && r->body.size() == 256 * 1024 + 2 + std::to_string(i).size() + 1;
      firsts.push_back(r->body.substr(0, r->body.find('\n')));
    }
  });
  ASSERT_TRUE(run_until(
      [&] { return sent_future.wait_for(std::chrono::seconds(0)) == std::future_status::ready; }));
  // Nobody reads: the server answers until the unsent answers pass the cap,
  // then leaves the other requests unparsed.
  EXPECT_FALSE(run_until([&] { return stats().requests == kRequests; }, 300))
      << "answered every request though the client read none";
  EXPECT_GT(stats().requests, 0u);
  release.set_value();
  ASSERT_TRUE(run_until([&] { return client->finished(); }, 20000));
  client.reset();
  ASSERT_EQ(firsts.size(), static_cast<std::size_t>(kRequests));
  for (int i = 0; i < kRequests; ++i) EXPECT_EQ(firsts[i], "n=" + std::to_string(i));
  EXPECT_TRUE(complete);
  EXPECT_EQ(stats().requests, static_cast<std::uint64_t>(kRequests));
  EXPECT_EQ(stats().connections_accepted, 1u);
}

TEST_F(HttpServerTest, AHalfClosedClientStillGetsItsAnswers) {
  start();
  std::vector<TestResponse> got;
  bool closed = false;
  run_client([&] {
    TcpClient c(port_);
    if (!c.connected() || !c.send_all(request("/hello") + request("/echo"))) return;
    c.shutdown_write();  // printf ... | nc
    for (int i = 0; i < 2; ++i)
      if (auto r = c.read_response()) got.push_back(*r);
    closed = c.at_eof();
  });
  ASSERT_EQ(got.size(), 2u);
  EXPECT_EQ(got[0].body, "hello\n");
  EXPECT_EQ(got[1].body, "GET /echo\n");
  EXPECT_TRUE(closed);
  EXPECT_TRUE(run_until([&] { return all_closed(); }));
}

TEST_F(HttpServerTest, Http10ClosesUnlessKeepAlive) {
  start();
  std::optional<TestResponse> r;
  bool closed = false;
  run_client([&] {
    TcpClient c(port_);
    if (!c.connected() || !c.send_all("GET /hello HTTP/1.0\r\n\r\n")) return;
    r = c.read_response();
    closed = c.at_eof();
  });
  ASSERT_TRUE(r.has_value());
  EXPECT_EQ(r->status, 200) << "HTTP/1.0 needs no Host";
  EXPECT_EQ(r->header("Connection"), "close");
  EXPECT_TRUE(closed);
}

// ---- caps ------------------------------------------------------------------

// Sends `raw`, reads the answer and checks that the server then closed.
struct Refusal {
  std::optional<TestResponse> response;
  bool closed = false;
};

TEST_F(HttpServerTest, HeaderTooLargeIs431AndCloses) {
  HttpServer::Options o;
  o.max_header_bytes = 1024;
  start(o);
  Refusal got;
  run_client([&] {
    TcpClient c(port_);
    if (!c.connected()) return;
    c.send_all(request("/hello", "X-Big: " + std::string(4000, 'b') + "\r\n"));
    got.response = c.read_response();
    got.closed = c.at_eof();
  });
  ASSERT_TRUE(got.response.has_value());
  EXPECT_EQ(got.response->status, 431);
  EXPECT_EQ(got.response->header("Connection"), "close");
  EXPECT_TRUE(got.closed);
  EXPECT_EQ(stats().rejected_header_too_large, 1u);
  // Under the cap: served.
  EXPECT_EQ(exchange(request("/hello", "X-Small: " + std::string(500, 's') + "\r\n"))->status, 200);
}

TEST_F(HttpServerTest, LongTargetIs414) {
  HttpServer::Options o;
  o.max_url_bytes = 128;
  start(o);
  Refusal got;
  run_client([&] {
    TcpClient c(port_);
    if (!c.connected()) return;
    c.send_all(request("/echo?pad=" + std::string(500, 'p')));
    got.response = c.read_response();
    got.closed = c.at_eof();
  });
  ASSERT_TRUE(got.response.has_value());
  EXPECT_EQ(got.response->status, 414);
  EXPECT_TRUE(got.closed);
  EXPECT_EQ(stats().rejected_url_too_long, 1u);
}

TEST_F(HttpServerTest, RequestBodiesAre413) {
  start();
  for (const std::string& extra :
       {std::string("Content-Length: 5\r\n"), std::string("Transfer-Encoding: chunked\r\n")}) {
    Refusal got;
    run_client([&] {
      TcpClient c(port_);
      if (!c.connected()) return;
      const std::string body = extra[0] == 'C' ? "hello" : "5\r\nhello\r\n0\r\n\r\n";
      c.send_all(request("/hello", extra, "GET") + body);
      got.response = c.read_response();
      got.closed = c.at_eof();
    });
    ASSERT_TRUE(got.response.has_value()) << extra;
    EXPECT_EQ(got.response->status, 413) << extra;
    EXPECT_TRUE(got.closed) << extra;
  }
  EXPECT_EQ(stats().rejected_body, 2u);
}

TEST_F(HttpServerTest, MalformedRequestIs400AndCloses) {
  start();
  Refusal got;
  run_client([&] {
    TcpClient c(port_);
    if (!c.connected()) return;
    c.send_all("GET /hello HTTP/1.1\r\nHost : x\r\n\r\nmore garbage after it");
    got.response = c.read_response();
    got.closed = c.at_eof();
  });
  ASSERT_TRUE(got.response.has_value());
  EXPECT_EQ(got.response->status, 400);
  EXPECT_TRUE(got.closed);
  EXPECT_EQ(stats().rejected_bad_request, 1u);
}

TEST_F(HttpServerTest, ConnectionCapAnswers503) {
  HttpServer::Options o;
  o.max_connections = 1;
  start(o);
  std::optional<TestResponse> first, refused;
  bool refused_closed = false;
  run_client([&] {
    TcpClient a(port_);
    if (!a.connected() || !a.send_all(request("/hello"))) return;
    first = a.read_response();  // `a` is served and stays open
    TcpClient b(port_);
    if (!b.connected()) return;
    b.send_all(request("/hello"));
    refused = b.read_response();
    refused_closed = b.at_eof();
  });
  ASSERT_TRUE(first.has_value());
  EXPECT_EQ(first->status, 200);
  ASSERT_TRUE(refused.has_value());
  EXPECT_EQ(refused->status, 503);
  EXPECT_EQ(refused->header("Retry-After"), "1");
  EXPECT_EQ(refused->header("Connection"), "close");
  EXPECT_TRUE(refused_closed);
  EXPECT_EQ(stats().rejected_connections, 1u);
  // Once `a` has gone, there is room again.
  ASSERT_TRUE(run_until([&] { return all_closed(); }));
  auto again = exchange(request("/hello"));
  ASSERT_TRUE(again.has_value());
  EXPECT_EQ(again->status, 200);
  const HttpServerStats s = stats();
  EXPECT_EQ(s.connections_accepted, 2u);
  const std::uint64_t answers =
      std::accumulate(s.responses_by_class.begin(), s.responses_by_class.end(), std::uint64_t{0});
  EXPECT_EQ(answers, s.requests + s.rejected_connections);
}

TEST_F(HttpServerTest, RefusalsPastTheCapAreClosedUnanswered) {
  HttpServer::Options o;
  o.max_connections = 1;
  start(o);
  std::optional<TestResponse> served, refused;
  std::optional<std::string> unanswered;
  run_client([&] {
    TcpClient a(port_);
    if (!a.connected() || !a.send_all(request("/hello"))) return;
    served = a.read_response();
    TcpClient b(port_);  // refused with a 503, and holds its refusal open
    refused = b.read_response();
    TcpClient c(port_);  // one refusal is already being closed: no answer
    unanswered = c.read_to_eof();
  });
  ASSERT_TRUE(served.has_value());
  ASSERT_TRUE(refused.has_value());
  EXPECT_EQ(refused->status, 503);
  ASSERT_TRUE(unanswered.has_value());
  EXPECT_EQ(*unanswered, "");
  EXPECT_EQ(stats().rejected_connections, 2u);
  EXPECT_EQ(stats().responses_by_class[5], 1u);
}

TEST_F(HttpServerTest, AClientThatStaysAfterTheLastAnswerIsClosedAfterTheLinger) {
  HttpServer::Options o;
  o.linger_timeout = std::chrono::milliseconds(50);
  start(o);
  std::promise<void> release;
  std::shared_future<void> released = release.get_future().share();
  std::optional<TestResponse> r;
  std::atomic<bool> fin{false};  // read by the loop thread while the client waits
  auto client = spawn([&] {
    TcpClient c(port_);
    if (!c.connected() || !c.send_all(request("/hello", "Connection: close\r\n"))) return;
    r = c.read_response();
    fin = c.at_eof();  // the server's FIN; this client does not close back
    released.wait_for(std::chrono::seconds(20));
  });
  // The server lets go of the connection although the client holds it open.
  EXPECT_TRUE(run_until([&] { return fin.load() && all_closed(); }));
  release.set_value();
  ASSERT_TRUE(run_until([&] { return client->finished(); }));
  client.reset();
  ASSERT_TRUE(r.has_value());
  EXPECT_EQ(r->status, 200);
  EXPECT_EQ(stats().idle_timeouts, 0u) << "a linger is no idle timeout";
}

TEST_F(HttpServerTest, IdleConnectionsAreClosed) {
  HttpServer::Options o;
  o.idle_timeout = std::chrono::milliseconds(300);
  start(o);
  bool silent_closed = false, partial_closed = false, kept_alive_closed = false;
  std::optional<TestResponse> r;
  run_client([&] {
    TcpClient silent(port_);   // connects and says nothing
    TcpClient partial(port_);  // starts a request and never ends it
    TcpClient served(port_);   // one request, then nothing
    if (!silent.connected() || !partial.connected() || !served.connected()) return;
    partial.send_all("GET /hello HTTP/1.1\r\nHost: 127.0");
    served.send_all(request("/hello"));
    r = served.read_response();
    silent_closed = silent.at_eof();
    partial_closed = partial.at_eof();
    kept_alive_closed = served.at_eof();
  });
  EXPECT_TRUE(silent_closed);
  EXPECT_TRUE(partial_closed);
  ASSERT_TRUE(r.has_value());
  EXPECT_EQ(r->status, 200);
  EXPECT_TRUE(kept_alive_closed);
  EXPECT_EQ(stats().idle_timeouts, 3u);
  // Idle means idle: no connection, no alarm.
  EXPECT_TRUE(run_until([&] { return all_closed() && !server_->alarm_armed(); }));
}

TEST_F(HttpServerTest, ATrickleOfBytesDoesNotHoldAConnection) {
  HttpServer::Options o;
  o.idle_timeout = std::chrono::milliseconds(200);
  start(o);
  bool closed = false;
  run_client([&] {
    TcpClient c(port_);
    if (!c.connected()) return;
    // One header byte every 20 ms: progress on the wire, but no request.
    const std::string text = "GET /hello HTTP/1.1\r\nX-Slow: " + std::string(100, 's');
    for (char ch : text) {
      if (!c.send_all(std::string(1, ch))) break;
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
    closed = c.at_eof();
  });
  EXPECT_TRUE(closed);
  EXPECT_EQ(stats().idle_timeouts, 1u);
}

// ---- auth and Host -----------------------------------------------------------

TEST_F(HttpServerTest, BearerTokenIsRequired) {
  HttpServer::Options o;
  o.bearer_token = "s3cret-token";
  start(o);
  std::optional<TestResponse> none, wrong, right;
  run_client([&] {
    TcpClient c(port_);
    if (!c.connected() || !c.send_all(request("/hello"))) return;
    none = c.read_response();
    // A 401 keeps the connection: the client may retry with the token.
    if (!c.send_all(request("/hello", "Authorization: Bearer s3cret-tokeN\r\n"))) return;
    wrong = c.read_response();
    if (!c.send_all(request("/hello", "Authorization: Bearer s3cret-token\r\n"))) return;
    right = c.read_response();
  });
  ASSERT_TRUE(none.has_value());
  EXPECT_EQ(none->status, 401);
  EXPECT_EQ(none->header("WWW-Authenticate"), "Bearer realm=\"agentwatch\"");
  ASSERT_TRUE(wrong.has_value());
  EXPECT_EQ(wrong->status, 401);
  ASSERT_TRUE(right.has_value());
  EXPECT_EQ(right->status, 200);
  EXPECT_EQ(right->body, "hello\n");
  EXPECT_EQ(stats().rejected_unauthorized, 2u);
  // Auth comes before routing: an unknown path tells a stranger nothing.
  EXPECT_EQ(exchange(request("/nope"))->status, 401);
}

TEST_F(HttpServerTest, ABrowserOpensThePageOnceWithTheTokenAndThenUsesItsCookie) {
  HttpServer::Options o;
  o.bearer_token = "s3cret-token";
  start(o);
  server_->handle("/", [](const HttpRequest&, HttpResponder& out) {
    HttpResponse r;
    r.body = "page\n";
    out.respond(r);
  });
  std::optional<TestResponse> wrong, opened, cookie, bad_cookie, elsewhere;
  run_client([&] {
    TcpClient c(port_);
    if (!c.connected() || !c.send_all(request("/?token=s3cret-tokeN"))) return;
    wrong = c.read_response();
    if (!c.send_all(request("/?token=s3cret-token"))) return;
    opened = c.read_response();
    if (!c.send_all(request("/hello", "Cookie: theme=x; agentwatch_token=s3cret-token\r\n")))
      return;
    cookie = c.read_response();
    if (!c.send_all(request("/hello", "Cookie: agentwatch_token=s3cret-tokeN\r\n"))) return;
    bad_cookie = c.read_response();
    // Only the page takes the token in its address: not the API, not the stream.
    if (!c.send_all(request("/hello?token=s3cret-token"))) return;
    elsewhere = c.read_response();
  });
  ASSERT_TRUE(wrong && opened && cookie && bad_cookie && elsewhere);
  EXPECT_EQ(wrong->status, 401);
  EXPECT_EQ(opened->status, 303);
  EXPECT_EQ(opened->header("Location"), "/");
  EXPECT_EQ(opened->header("Set-Cookie"),
            "agentwatch_token=s3cret-token; Path=/; HttpOnly; SameSite=Strict");
  EXPECT_EQ(cookie->status, 200);
  EXPECT_EQ(cookie->body, "hello\n");
  EXPECT_EQ(bad_cookie->status, 401);
  EXPECT_EQ(elsewhere->status, 401);
}

TEST_F(HttpServerTest, NonLoopbackAddressesAreRefused) {
  {
    HttpServer s(&loop_, clock_);
    Status st = s.listen("0.0.0.0", 0);
    ASSERT_FALSE(st.ok());
    EXPECT_NE(st.error().message.find("0.0.0.0:0"), std::string::npos) << st.error().message;
    EXPECT_NE(st.error().message.find("not a loopback address"), std::string::npos)
        << st.error().message;
  }
  {
    HttpServer::Options o;
    o.allow_non_loopback = true;  // but no token
    HttpServer s(&loop_, clock_, o);
    Status st = s.listen("0.0.0.0", 0);
    ASSERT_FALSE(st.ok());
    EXPECT_NE(st.error().message.find("needs a bearer token"), std::string::npos)
        << st.error().message;
  }
  {
    HttpServer::Options o;
    o.bearer_token = "t";  // but not allowed
    HttpServer s(&loop_, clock_, o);
    EXPECT_FALSE(s.listen("0.0.0.0", 0).ok());
  }
  {
    HttpServer::Options o;
    o.allow_non_loopback = true;
    o.bearer_token = "t";
    HttpServer s(&loop_, clock_, o);
    Status st = s.listen("0.0.0.0", 0);
    EXPECT_TRUE(st.ok()) << st.error().message;
    EXPECT_NE(s.port(), 0);
  }
  {
    HttpServer s(&loop_, clock_);
    Status st = s.listen("not-an-address", 0);
    ASSERT_FALSE(st.ok());
    EXPECT_NE(st.error().message.find("not an IP address"), std::string::npos);
  }
  {
    HttpServer s(&loop_, clock_);
    Status st = s.listen("localhost", 0);
    EXPECT_TRUE(st.ok()) << st.error().message;
    EXPECT_FALSE(s.listen("localhost", 0).ok()) << "once";
  }
}

TEST_F(HttpServerTest, ListensOnIpv6Loopback) {
  HttpServer s(&loop_, clock_);
  Status st = s.listen("::1", 0);
  if (!st.ok()) GTEST_SKIP() << "no IPv6 loopback here: " << st.error().message;
  EXPECT_NE(s.port(), 0);
  HttpServer bracketed(&loop_, clock_);
  EXPECT_TRUE(bracketed.listen("[::1]", 0).ok());
  HttpServer any(&loop_, clock_);
  Status refused = any.listen("::", 0);
  ASSERT_FALSE(refused.ok());
  EXPECT_NE(refused.error().message.find("[::]:0"), std::string::npos) << refused.error().message;
}

TEST_F(HttpServerTest, APortInUseIsAClearError) {
  start();
  HttpServer other(&loop_, clock_);
  Status st = other.listen("127.0.0.1", port_);
  ASSERT_FALSE(st.ok());
  EXPECT_NE(st.error().message.find("cannot listen on 127.0.0.1:" + std::to_string(port_)),
            std::string::npos)
      << st.error().message;
}

TEST_F(HttpServerTest, AForeignHostIs403AndAMissingOneIs400) {
  start();
  auto foreign = exchange("GET /hello HTTP/1.1\r\nHost: evil.example:9100\r\n\r\n");
  ASSERT_TRUE(foreign.has_value());
  EXPECT_EQ(foreign->status, 403);
  auto local = exchange("GET /hello HTTP/1.1\r\nHost: localhost:9100\r\n\r\n");
  ASSERT_TRUE(local.has_value());
  EXPECT_EQ(local->status, 200);
  auto missing = exchange("GET /hello HTTP/1.1\r\n\r\n");
  ASSERT_TRUE(missing.has_value());
  EXPECT_EQ(missing->status, 400);
  EXPECT_EQ(stats().rejected_host, 1u);
}

TEST_F(HttpServerTest, TheHostCheckCanBeTurnedOff) {
  HttpServer::Options o;
  o.require_loopback_host = false;
  start(o);
  auto r = exchange("GET /hello HTTP/1.1\r\nHost: metrics.internal\r\n\r\n");
  ASSERT_TRUE(r.has_value());
  EXPECT_EQ(r->status, 200);
}

// ---- streams ---------------------------------------------------------------

TEST_F(HttpServerTest, AStreamReceivesChunksWrittenLater) {
  start();
  std::optional<TestResponse> head;
  std::vector<std::string> events;
  auto client = spawn([&] {
    TcpClient c(port_);
    if (!c.connected() || !c.send_all(request("/events"))) return;
    head = c.read_response(/*head_only=*/true);
    for (int i = 0; i < 3; ++i) {
      auto e = c.read_until("\n\n");
      if (!e) return;
      events.push_back(*e);
    }
  });
  ASSERT_TRUE(run_until([&] { return streams_.size() == 1; }));
  EXPECT_TRUE(streams_[0]->open());
  EXPECT_EQ(stats().streams_open, 1u);
  EXPECT_FALSE(server_->alarm_armed()) << "a stream has no idle deadline";
  after(1, [&] { EXPECT_TRUE(streams_[0]->write(sse_event("one"))); });
  after(5, [&] { EXPECT_TRUE(streams_[0]->write(sse_event("two\nlines", "update"))); });
  after(10, [&] { EXPECT_TRUE(streams_[0]->write(sse_event("three", "", "3"))); });
  ASSERT_TRUE(run_until([&] { return client->finished(); }));
  client.reset();
  ASSERT_TRUE(head.has_value());
  EXPECT_EQ(head->status, 200);
  EXPECT_EQ(head->header("Content-Type"), "text/event-stream");
  EXPECT_EQ(head->header("Cache-Control"), "no-cache");
  EXPECT_EQ(head->header("X-Stream"), "yes");
  EXPECT_FALSE(head->header("Content-Length").has_value());
  EXPECT_FALSE(head->header("Connection").has_value());
  ASSERT_EQ(events.size(), 3u);
  EXPECT_EQ(events[0], "data: one\n\n");
  EXPECT_EQ(events[1], "event: update\ndata: two\ndata: lines\n\n");
  EXPECT_EQ(events[2], "id: 3\ndata: three\n\n");
  // The client has gone: the stream ends, and says so on a later turn.
  ASSERT_TRUE(run_until([&] { return closed_streams_ == 1; }));
  EXPECT_EQ(stats().streams_open, 0u);
  EXPECT_EQ(stats().streams_started, 1u);
  EXPECT_EQ(stats().responses_by_class[2], 1u);
}

TEST_F(HttpServerTest, AClientLeavingMidStreamMakesWritesNoOps) {
  start();
  auto client = spawn([&] {
    TcpClient c(port_);
    if (!c.connected() || !c.send_all(request("/events"))) return;
    c.read_response(true);
    c.close_now();  // mid-stream
  });
  ASSERT_TRUE(run_until([&] { return client->finished() && streams_.size() == 1; }));
  client.reset();
  ASSERT_TRUE(run_until([&] { return closed_streams_ == 1; }));
  std::shared_ptr<HttpStream> s = streams_[0];
  EXPECT_FALSE(s->open());
  EXPECT_FALSE(s->write(sse_event("nobody listens")));
  EXPECT_EQ(s->queued_bytes(), 0u);
  s->close();  // also harmless
  EXPECT_EQ(closed_streams_, 1) << "once";
  const HttpServerStats st = stats();
  EXPECT_EQ(st.streams_open, 0u);
  EXPECT_EQ(st.connections_open, 0u);
  EXPECT_EQ(st.streams_dropped_slow, 0u);
}

TEST_F(HttpServerTest, ASlowStreamClientIsDroppedPastTheCap) {
  HttpServer::Options o;
  o.max_stream_queue_bytes = 64 * 1024;
  start(o);
  std::promise<void> release;
  std::shared_future<void> released = release.get_future().share();
  std::optional<std::string> rest;
  auto client = spawn([&] {
    TcpClient c(port_, /*receive_buffer=*/4096);
    if (!c.connected() || !c.send_all(request("/events"))) return;
    // Reads nothing until the server has given up on it.
    released.wait_for(std::chrono::seconds(20));
    rest = c.read_to_eof();
  });
  ASSERT_TRUE(run_until([&] { return streams_.size() == 1; }));
  const std::string chunk = sse_event(std::string(16 * 1024, 'x'));
  std::size_t written = 0;
  bool dropped = false;
  // The kernel's buffers take a few MiB; then libuv's queue grows to the cap.
  while (written < 64u * 1024 * 1024) {
    if (!streams_[0]->write(chunk)) {
      dropped = true;
      break;
    }
    written += chunk.size();
  }
  release.set_value();
  EXPECT_TRUE(dropped);
  EXPECT_EQ(closed_streams_, 0) << "never called from inside write()";
  EXPECT_FALSE(streams_[0]->open());
  EXPECT_FALSE(streams_[0]->write(chunk));
  EXPECT_EQ(stats().streams_dropped_slow, 1u);
  EXPECT_EQ(stats().streams_open, 0u);
  ASSERT_TRUE(run_until([&] { return closed_streams_ == 1 && client->finished(); }, 20000));
  client.reset();
  ASSERT_TRUE(rest.has_value()) << "the client sees the connection end";
  EXPECT_LT(rest->size(), written + 1024) << "what was queued past the cap was never sent";
}

TEST_F(HttpServerTest, AHandlerMayWriteAtOnceAndCloseItsStream) {
  start();
  server_->handle("/once", [](const HttpRequest&, HttpResponder& out) {
    std::shared_ptr<HttpStream> s = out.start_stream();
    s->write(sse_comment("hello"));
    s->write(sse_event("only"));
    s->close();
    EXPECT_FALSE(s->open());
    EXPECT_FALSE(s->write("after close"));
  });
  std::optional<TestResponse> head;
  std::optional<std::string> body;
  run_client([&] {
    TcpClient c(port_);
    if (!c.connected() || !c.send_all(request("/once"))) return;
    head = c.read_response(true);
    body = c.read_to_eof();
  });
  ASSERT_TRUE(head.has_value());
  EXPECT_EQ(head->status, 200);
  ASSERT_TRUE(body.has_value());
  EXPECT_EQ(*body, ": hello\n\ndata: only\n\n");
  ASSERT_TRUE(run_until([&] { return all_closed(); }));
  EXPECT_EQ(stats().streams_open, 0u);
}

TEST_F(HttpServerTest, AStreamForHeadIsJustItsHead) {
  start();
  std::optional<TestResponse> head, next;
  run_client([&] {
    TcpClient c(port_);
    if (!c.connected() || !c.send_all(request("/events", {}, "HEAD"))) return;
    head = c.read_response(true);
    if (!c.send_all(request("/hello"))) return;
    next = c.read_response();
  });
  ASSERT_TRUE(head.has_value());
  EXPECT_EQ(head->header("Content-Type"), "text/event-stream");
  ASSERT_TRUE(next.has_value());
  EXPECT_EQ(next->body, "hello\n");
  ASSERT_EQ(streams_.size(), 1u);
  EXPECT_FALSE(streams_[0]->open());
  EXPECT_EQ(stats().streams_started, 0u);
}

TEST_F(HttpServerTest, StopEndsStreamsAndTellsOnALaterTurn) {
  start();
  auto client = spawn([&] {
    TcpClient c(port_);
    if (!c.connected() || !c.send_all(request("/events"))) return;
    c.read_response(true);
    c.read_to_eof();
  });
  ASSERT_TRUE(run_until([&] { return streams_.size() == 1; }));
  server_->stop();
  EXPECT_FALSE(streams_[0]->open());
  EXPECT_FALSE(streams_[0]->write("x"));
  EXPECT_EQ(closed_streams_, 0) << "not from inside stop()";
  ASSERT_TRUE(run_until([&] { return closed_streams_ == 1 && client->finished(); }));
  client.reset();
  server_->stop();  // idempotent
}

TEST_F(HttpServerTest, AStreamOutlivesTheServer) {
  start();
  auto client = spawn([&] {
    TcpClient c(port_);
    if (!c.connected() || !c.send_all(request("/events"))) return;
    c.read_response(true);
    c.read_to_eof();
  });
  ASSERT_TRUE(run_until([&] { return streams_.size() == 1; }));
  std::shared_ptr<HttpStream> s = streams_[0];
  server_.reset();
  EXPECT_FALSE(s->open());
  EXPECT_FALSE(s->write("x"));
  s->close();
  ASSERT_TRUE(run_until([&] { return client->finished(); }));
  client.reset();
}

}  // namespace
}  // namespace aw::http
