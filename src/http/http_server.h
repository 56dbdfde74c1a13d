// HttpServer: the daemon's embedded HTTP/1.1 server on the libuv loop, for
// observability on this machine: Prometheus metrics, JSON, server-sent event
// streams and one HTML page (docs/http.md).
//
// Requests go to the Handler registered for their exact path (the target's
// path, not decoded; the query is parsed apart). Only GET and HEAD are
// served; another method on a known path is 405 with "Allow: GET, HEAD", an
// unknown path is 404. A handler answers before it returns, through its
// HttpResponder: with a complete HttpResponse, or by taking an HttpStream
// (server-sent events) that it writes to later. HEAD gets GET's head with
// its Content-Length and no body.
//
// Checks, in order, before a handler runs (docs/http.md has the why):
//   - the parser's caps (http_request_parser.h): 414 (target), 431 (request
//     line + headers), 413 (any body), 400 (malformed), 505 (not HTTP/1.x);
//     each closes;
//   - HTTP/1.1 without a Host header: 400;
//   - on a loopback address, a Host that names no loopback host: 403 (DNS
//     rebinding: a web page that points its own name at 127.0.0.1 still
//     sends its own name);
//   - with a bearer token, "Authorization: Bearer <token>" (compared in
//     constant time): else 401 with "WWW-Authenticate: Bearer".
//
// Connections: keep-alive by default, "Connection: close" (or HTTP/1.0
// without keep-alive) honoured. Pipelined requests are parsed and answered
// one at a time, in order; while more than `max_queued_response_bytes` of
// answers sit unread, nothing more is read. At most `max_connections` are
// served at once: one more is answered 503 and closed. A connection with no
// request in progress, or one whose request does not complete, closes after
// `idle_timeout` without a completed request or write. Answers that close
// the connection are followed by a graceful close (http_connection.h).
//
// Streams: the server writes 200 with "Content-Type: text/event-stream",
// "Cache-Control: no-cache" and no Content-Length (the body ends when the
// connection closes); the connection then belongs to the stream, and no
// idle timeout applies. Writes never block: a chunk goes to the socket or
// to libuv's queue, and a client whose queue passes `max_stream_queue_bytes`
// is closed (stats: streams_dropped_slow). A stream outlives its client
// safely: once the client is gone, write() is a no-op returning false.
//
// Ownership and threads: loop thread only; the loop and clock outlive the
// server. Handlers run from the loop, one at a time, never from inside a
// write: HttpStream::write() and close() call nobody back, and close
// notifications come on a later loop turn. A handler may call stop() but must
// not destroy the server. Destroying the server stops it (as stop()); close
// notifications not yet delivered are then dropped. Not movable (its uv
// handles point at it).
#pragma once

#include <array>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include <uv.h>

#include "src/core/clock.h"
#include "src/core/result.h"
#include "src/http/http_message.h"
#include "src/uvx/handle.h"

namespace aw::http {

class HttpConnection;
class HttpServer;
enum class CloseReason;  // http_connection.h

// One long-lived response (server-sent events) a handler took. Hold it in a
// shared_ptr as long as you like; it never dangles. Loop thread only.
class HttpStream {
 public:
  HttpStream(const HttpStream&) = delete;
  HttpStream& operator=(const HttpStream&) = delete;

  // Queues `chunk` as is (frame it with sse_event() / sse_comment()). Never
  // blocks and calls nobody back. False when the stream has ended, or when
  // this chunk took the client's unsent bytes past the cap and the client was
  // dropped for it (the stream has then ended).
  bool write(std::string_view chunk);
  // Ends the stream: what was written is sent, then the connection closes.
  // on_close is not called for it. Idempotent.
  void close();
  // False once the stream ended (the client left or was dropped, close(),
  // the server stopped), and for the stream of a HEAD request.
  bool open() const;
  // `fn` runs once, on a later loop turn, when the stream ends for any reason
  // but close(): the client left or was dropped, or the server stopped. Set
  // it before the handler returns and it is never missed. It may write to
  // other streams and drop this one.
  void on_close(std::function<void()> fn) { on_close_ = std::move(fn); }
  // Bytes written and not yet taken by the socket (0 once ended).
  std::size_t queued_bytes() const;

 private:
  friend class HttpServer;
  friend class HttpResponder;
  HttpStream() = default;

  std::weak_ptr<HttpConnection> conn_;
  std::function<void()> on_close_;
  bool ended_ = false;
};

// How a handler answers its request, once, before it returns. Only the first
// answer counts. A handler that returns without answering (or throws first)
// gets a 500 sent for it.
class HttpResponder {
 public:
  HttpResponder(const HttpResponder&) = delete;
  HttpResponder& operator=(const HttpResponder&) = delete;

  void respond(const HttpResponse& response);
  // Answers with a stream (see HttpServer); `headers` are added to its head.
  // Never null: after another answer, or for HEAD, or when the client
  // already left, the stream returned has already ended.
  std::shared_ptr<HttpStream> start_stream(const std::vector<HttpHeader>& headers = {});
  bool answered() const { return answered_; }

 private:
  friend class HttpServer;
  HttpResponder(HttpServer& server, std::uint64_t client, const HttpRequest& request)
      : server_(server), client_(client), request_(request) {}

  HttpServer& server_;
  std::uint64_t client_;
  const HttpRequest& request_;
  bool answered_ = false;
};

struct HttpServerStats {
  std::size_t connections_open = 0;        // served now (streams included)
  std::size_t streams_open = 0;            // streams not yet ended
  std::uint64_t connections_accepted = 0;  // served (those refused 503 at the cap aside)
  // Requests answered: handled, or refused by a check (not the 503s at accept).
  std::uint64_t requests = 0;
  // Answers by status class, [status / 100]: [2] counts 2xx (a stream counts
  // once, when it starts), [5] the 503s at accept too. So the sum over
  // classes is requests + rejected_connections, less the refusals closed
  // unanswered (when as many refusals as max_connections were still closing).
  std::array<std::uint64_t, 6> responses_by_class{};
  std::uint64_t rejected_connections = 0;       // 503: max_connections reached
  std::uint64_t rejected_bad_request = 0;       // 400 (malformed, no Host), 505
  std::uint64_t rejected_body = 0;              // 413
  std::uint64_t rejected_url_too_long = 0;      // 414
  std::uint64_t rejected_header_too_large = 0;  // 431
  std::uint64_t rejected_unauthorized = 0;      // 401
  std::uint64_t rejected_host = 0;              // 403: Host names no loopback host
  std::uint64_t idle_timeouts = 0;              // connections closed for idling
  std::uint64_t streams_started = 0;
  std::uint64_t streams_dropped_slow = 0;  // closed: unsent bytes passed the cap
};

class HttpServer {
 public:
  struct Options {
    std::size_t max_header_bytes = 8 * 1024;  // request line + headers, else 431
    std::size_t max_url_bytes = 2 * 1024;     // the request target, else 414
    std::size_t max_connections = 64;         // served at once; one more gets 503
    // No completed request or write for this long: closed (not streams).
    Duration idle_timeout = std::chrono::seconds(30);
    // After the FIN that ends a connection, how long the client has to close.
    Duration linger_timeout = std::chrono::seconds(2);
    // Answers unread by a pipelining client before reading pauses.
    std::size_t max_queued_response_bytes = 1024 * 1024;
    // A stream's unsent bytes before its client is dropped.
    std::size_t max_stream_queue_bytes = 1024 * 1024;
    // When not empty, every request needs "Authorization: Bearer <token>".
    std::string bearer_token;
    // Listening on an address that is not loopback needs this AND a token.
    bool allow_non_loopback = false;
    // On a loopback address, refuse (403) a Host that names no loopback host.
    // Off only behind a reverse proxy that rewrites Host.
    bool require_loopback_host = true;
    int backlog = 64;
  };
  using Handler = std::function<void(const HttpRequest& request, HttpResponder& out)>;

  HttpServer(uv_loop_t* loop, const Clock& clock, const Options& options);
  HttpServer(uv_loop_t* loop, const Clock& clock) : HttpServer(loop, clock, Options{}) {}
  ~HttpServer();
  HttpServer(const HttpServer&) = delete;
  HttpServer& operator=(const HttpServer&) = delete;

  // Registers (or replaces) the handler for exactly `path` ("/metrics"),
  // before or after listen().
  void handle(std::string path, Handler handler);

  // Listens on `host` (an IPv4 or IPv6 address, or "localhost" for
  // 127.0.0.1) and `port` (0: any free port; see port()). An address that is
  // not loopback is refused unless allow_non_loopback is set and a bearer
  // token is configured. Errors name the address. Call once.
  Status listen(const std::string& host, std::uint16_t port);
  // The port listened on (0 before listen()).
  std::uint16_t port() const { return port_; }

  // Closes the listener and every connection; streams end (their on_close
  // runs on a later loop turn). Idempotent.
  void stop();

  HttpServerStats stats() const;
  // True while the idle alarm is armed (tests: no connection, no wake-ups).
  bool alarm_armed() const { return alarm_.active(); }

 private:
  friend class HttpResponder;
  struct Client {
    std::shared_ptr<HttpConnection> conn;
    std::shared_ptr<HttpStream> stream;
    bool served = true;  // false: refused at the cap, being closed
  };

  void on_connection(int status);
  std::size_t count_clients(bool served) const;
  void handle_request(std::uint64_t id, HttpRequest&& request);
  std::optional<HttpResponse> check_request(const HttpRequest& request);
  void refuse(std::uint64_t id, int status, std::string_view detail);
  void send_response(std::uint64_t id, const HttpRequest* request, const HttpResponse& response,
                     bool close);
  std::shared_ptr<HttpStream> start_stream(std::uint64_t id, const HttpRequest& request,
                                           const std::vector<HttpHeader>& headers);
  void on_closed(std::uint64_t id, CloseReason reason);
  void drop(std::uint64_t id);
  void end_stream(Client& client);
  void deliver_close_notifications();
  void count_response(int status);

  void arm_alarm();
  void on_alarm();

  uv_loop_t* loop_;
  const Clock& clock_;
  Options options_;
  std::map<std::string, Handler, std::less<>> handlers_;
  std::optional<uvx::Handle<uv_tcp_t>> listener_;
  std::string address_;  // "127.0.0.1:8080", for messages
  std::uint16_t port_ = 0;
  bool loopback_ = true;
  bool listened_ = false;
  bool stopped_ = false;
  std::uint64_t next_id_ = 1;
  std::unordered_map<std::uint64_t, Client> clients_;
  // Streams whose on_close is due; delivered from `notifier_`, a loop turn
  // later, so that no callback runs inside a write() or stop().
  std::vector<std::shared_ptr<HttpStream>> to_notify_;
  uvx::Idle notifier_;
  uvx::Timer alarm_;
  HttpServerStats stats_;
};

}  // namespace aw::http
