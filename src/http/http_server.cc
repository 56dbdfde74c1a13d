#include "src/http/http_server.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include <algorithm>
#include <exception>
#include <utility>

#include "src/http/http_connection.h"

namespace aw::http {

namespace {

struct ListenAddress {
  sockaddr_storage storage{};
  std::string text;  // "127.0.0.1:8080", "[::1]:8080"
  bool loopback = false;
  const sockaddr* get() const { return reinterpret_cast<const sockaddr*>(&storage); }
};

Result<ListenAddress> make_listen_address(const std::string& host, std::uint16_t port) {
  ListenAddress a;
  std::string ip = host == "localhost" ? "127.0.0.1" : host;
  if (ip.size() > 2 && ip.front() == '[' && ip.back() == ']') ip = ip.substr(1, ip.size() - 2);
  auto* in4 = reinterpret_cast<sockaddr_in*>(&a.storage);
  auto* in6 = reinterpret_cast<sockaddr_in6*>(&a.storage);
  if (uv_ip4_addr(ip.c_str(), port, in4) == 0) {
    a.text = ip + ":" + std::to_string(port);
    a.loopback = (ntohl(in4->sin_addr.s_addr) >> 24) == 127;
  } else if (uv_ip6_addr(ip.c_str(), port, in6) == 0) {
    a.text = "[" + ip + "]:" + std::to_string(port);
    const in6_addr& v6 = in6->sin6_addr;
    // ::1, or an IPv4-mapped 127.x.y.z.
    a.loopback = IN6_IS_ADDR_LOOPBACK(&v6) || (IN6_IS_ADDR_V4MAPPED(&v6) && v6.s6_addr[12] == 127);
  } else {
    return make_error("http server: cannot listen on \"" + host +
                      "\": not an IP address (expected e.g. 127.0.0.1, ::1 or localhost)");
  }
  return a;
}

}  // namespace

// ---- HttpStream --------------------------------------------------------------

bool HttpStream::write(std::string_view chunk) {
  if (ended_) return false;
  std::shared_ptr<HttpConnection> conn = conn_.lock();
  // A connection that closes for this write ends the stream through the
  // server (on_closed) before write_stream() returns.
  return conn && conn->write_stream(chunk);
}

void HttpStream::close() {
  if (ended_) return;
  ended_ = true;
  std::shared_ptr<HttpConnection> conn = conn_.lock();
  conn_.reset();
  if (conn) conn->finish();
}

bool HttpStream::open() const {
  if (ended_) return false;
  std::shared_ptr<HttpConnection> conn = conn_.lock();
  return conn && conn->open();
}

std::size_t HttpStream::queued_bytes() const {
  if (ended_) return 0;
  std::shared_ptr<HttpConnection> conn = conn_.lock();
  return conn ? conn->queued_bytes() : 0;
}

// ---- HttpResponder -----------------------------------------------------------

void HttpResponder::respond(const HttpResponse& response) {
  if (answered_) return;
  answered_ = true;
  server_.send_response(client_, &request_, response, false);
}

std::shared_ptr<HttpStream> HttpResponder::start_stream(const std::vector<HttpHeader>& headers) {
  if (answered_) {
    std::shared_ptr<HttpStream> ended(new HttpStream());
    ended->ended_ = true;
    return ended;
  }
  answered_ = true;
  return server_.start_stream(client_, request_, headers);
}

// ---- HttpServer --------------------------------------------------------------

HttpServer::HttpServer(uv_loop_t* loop, const Clock& clock, const Options& options)
    : loop_(loop),
      clock_(clock),
      options_(options),
      notifier_(loop, [this] { deliver_close_notifications(); }),
      alarm_(loop, [this] { on_alarm(); }) {}

HttpServer::~HttpServer() {
  stop();
}

void HttpServer::handle(std::string path, Handler handler) {
  handlers_[std::move(path)] = std::move(handler);
}

Status HttpServer::listen(const std::string& host, std::uint16_t port) {
  if (listened_ || stopped_) return make_error("http server: listen() called twice");
  auto addr = make_listen_address(host, port);
  if (!addr) return addr.error();
  address_ = addr->text;
  // The server answers questions about this machine's agents; a network may
  // ask only when the operator said so and a token guards it.
  if (!addr->loopback && !options_.allow_non_loopback)
    return make_error("http server: refusing to listen on " + address_ +
                      ": not a loopback address (to serve other hosts, set allow_non_loopback "
                      "and a bearer token)");
  if (!addr->loopback && options_.bearer_token.empty())
    return make_error("http server: refusing to listen on " + address_ +
                      ": a non-loopback address needs a bearer token");
  loopback_ = addr->loopback;

  listener_.emplace();
  int rc = uv_tcp_init(loop_, listener_->get());
  if (rc == 0) {
    listener_->initialized(this);
    rc = uv_tcp_bind(listener_->get(), addr->get(), 0);
  }
  if (rc == 0) {
    rc = uv_listen(reinterpret_cast<uv_stream_t*>(listener_->get()), options_.backlog,
                   [](uv_stream_t* s, int status) noexcept {
                     auto* self = static_cast<HttpServer*>(s->data);
                     if (!self) return;
                     uvx::guarded("http", [&] { self->on_connection(status); });
                   });
  }
  if (rc != 0) {
    listener_.reset();
    return make_error("http server: cannot listen on " + address_ + ": " + uv_strerror(rc), rc);
  }
  listened_ = true;
  sockaddr_storage bound{};
  int len = sizeof bound;
  if (uv_tcp_getsockname(listener_->get(), reinterpret_cast<sockaddr*>(&bound), &len) == 0)
    port_ = ntohs(bound.ss_family == AF_INET6 ? reinterpret_cast<sockaddr_in6*>(&bound)->sin6_port
                                              : reinterpret_cast<sockaddr_in*>(&bound)->sin_port);
  return Status::Ok();
}

void HttpServer::stop() {
  if (stopped_) return;
  stopped_ = true;
  listener_.reset();
  for (auto& [id, client] : clients_) {
    client.conn->close();
    end_stream(client);
  }
  clients_.clear();
  alarm_.stop();
}

std::size_t HttpServer::count_clients(bool served) const {
  return static_cast<std::size_t>(
      std::count_if(clients_.begin(), clients_.end(),
                    [&](const auto& kv) { return kv.second.served == served; }));
}

HttpServerStats HttpServer::stats() const {
  HttpServerStats s = stats_;
  s.connections_open = count_clients(true);
  s.streams_open =
      static_cast<std::size_t>(std::count_if(clients_.begin(), clients_.end(), [](const auto& kv) {
        return kv.second.stream && !kv.second.stream->ended_;
      }));
  return s;
}

void HttpServer::on_connection(int status) {
  if (status < 0 || stopped_ || !listener_) return;
  HttpConnection::Options co;
  co.limits.max_header_bytes = options_.max_header_bytes;
  co.limits.max_url_bytes = options_.max_url_bytes;
  co.idle_timeout = options_.idle_timeout;
  co.linger_timeout = options_.linger_timeout;
  co.max_queued_response_bytes = options_.max_queued_response_bytes;
  co.max_stream_queue_bytes = options_.max_stream_queue_bytes;
  auto conn = std::make_shared<HttpConnection>(loop_, clock_, co);
  // Always accept: libuv stops watching the listener while one is pending.
  if (conn->accept(reinterpret_cast<uv_stream_t*>(listener_->get())) != 0) return;

  const bool served = count_clients(true) < options_.max_connections;
  if (!served) {
    ++stats_.rejected_connections;
    // Refusals close gracefully too, so each holds an fd for a moment; past
    // as many of those as served connections, a newcomer is just closed.
    if (count_clients(false) >= std::max<std::size_t>(options_.max_connections, 1)) return;
  }
  const std::uint64_t id = next_id_++;
  HttpConnection::Handlers h;
  h.on_request = [this, id](HttpRequest&& request) { handle_request(id, std::move(request)); };
  h.on_parse_error = [this, id](const HttpParseError& e) { refuse(id, e.status, e.detail); };
  h.on_closed = [this, id](CloseReason reason) { on_closed(id, reason); };
  h.on_deadline_changed = [this] { arm_alarm(); };
  if (conn->start(std::move(h)) != 0) return;  // conn dies here, closing the socket
  clients_.emplace(id, Client{conn, nullptr, served});
  if (served) {
    ++stats_.connections_accepted;
  } else {
    count_response(503);
    HttpResponse r =
        text_response(503, "the server already serves " + std::to_string(options_.max_connections) +
                               " connections (its limit); try again");
    r.headers.push_back({"Retry-After", "1"});
    conn->send(serialize_response(r, {http_date(clock_.wall()), true, false}));
    conn->finish();
  }
  arm_alarm();
}

void HttpServer::count_response(int status) {
  const int cls = status / 100;
  if (cls >= 0 && cls < static_cast<int>(stats_.responses_by_class.size()))
    ++stats_.responses_by_class[static_cast<std::size_t>(cls)];
}

void HttpServer::send_response(std::uint64_t id, const HttpRequest* request,
                               const HttpResponse& response, bool close) {
  auto it = clients_.find(id);
  if (it == clients_.end()) return;  // the client left, or a handler stopped the server
  std::shared_ptr<HttpConnection> conn = it->second.conn;
  count_response(response.status);
  close = close || !request || !request->keep_alive;
  ResponseFraming framing{http_date(clock_.wall()), close, request && request->is_head()};
  conn->send(serialize_response(response, framing));
  if (close) conn->finish();
}

void HttpServer::refuse(std::uint64_t id, int status, std::string_view detail) {
  ++stats_.requests;
  switch (status) {
    case 413:
      ++stats_.rejected_body;
      break;
    case 414:
      ++stats_.rejected_url_too_long;
      break;
    case 431:
      ++stats_.rejected_header_too_large;
      break;
    default:  // 400, 505
      ++stats_.rejected_bad_request;
      break;
  }
  // The stream past a refused request cannot be framed: closed after this.
  send_response(id, nullptr, text_response(status, detail), true);
}

std::optional<HttpResponse> HttpServer::check_request(const HttpRequest& request) {
  const std::optional<std::string_view> host = request.header("Host");
  if (!host && (request.http_major > 1 || (request.http_major == 1 && request.http_minor >= 1))) {
    ++stats_.rejected_bad_request;
    return text_response(400, "HTTP/1.1 requests need a Host header");
  }
  if (host && loopback_ && options_.require_loopback_host && !is_loopback_host_header(*host)) {
    ++stats_.rejected_host;
    return text_response(403,
                         "this server answers only requests addressed to this machine "
                         "(Host: localhost or a loopback address)");
  }
  if (!options_.bearer_token.empty()) {
    const std::string& token = options_.bearer_token;
    const std::optional<std::string_view> auth = request.header("Authorization");
    const std::optional<std::string_view> cookie = request.header("Cookie");
    const bool allowed =
        (auth && bearer_matches(*auth, token)) || (cookie && token_cookie_matches(*cookie, token));
    if (!allowed) {
      // A browser opens the page once as /?token=…: it gets the token as an
      // HttpOnly cookie and the page again without it in the address, so the
      // token leaves the URL bar and history, and the page's own requests
      // (its EventSource too) carry the cookie.
      const std::optional<std::string_view> given = request.query_param("token");
      if (request.path == "/" && given && constant_time_equals(*given, token)) {
        HttpResponse r = text_response(303);
        r.headers.push_back({"Location", "/"});
        r.headers.push_back({"Set-Cookie", std::string(kTokenCookie) + "=" + token +
                                               "; Path=/; HttpOnly; SameSite=Strict"});
        r.headers.push_back({"Cache-Control", "no-store"});
        return r;
      }
      ++stats_.rejected_unauthorized;
      HttpResponse r = text_response(
          401, "send \"Authorization: Bearer <token>\" (a browser: open /?token=<token> once)");
      r.headers.push_back({"WWW-Authenticate", "Bearer realm=\"agentwatch\""});
      return r;
    }
  }
  const auto route = handlers_.find(request.path);
  if (route == handlers_.end()) return text_response(404);
  if (request.method != "GET" && request.method != "HEAD") {
    HttpResponse r = text_response(405, request.method + " is not served here");
    r.headers.push_back({"Allow", "GET, HEAD"});
    return r;
  }
  return std::nullopt;
}

void HttpServer::handle_request(std::uint64_t id, HttpRequest&& request) {
  ++stats_.requests;
  if (std::optional<HttpResponse> refusal = check_request(request)) {
    send_response(id, &request, *refusal, false);
    return;
  }
  // A copy: the handler may register another handler for its own path.
  Handler handler = handlers_.find(request.path)->second;
  HttpResponder out(*this, id, request);
  try {
    handler(request, out);
  } catch (const std::exception& e) {
    out.respond(text_response(500, "the handler for " + request.path + " failed: " + e.what()));
  } catch (...) {
    out.respond(text_response(500, "the handler for " + request.path + " failed"));
  }
  if (!out.answered())
    out.respond(text_response(500, "the handler for " + request.path + " gave no answer"));
}

std::shared_ptr<HttpStream> HttpServer::start_stream(std::uint64_t id, const HttpRequest& request,
                                                     const std::vector<HttpHeader>& headers) {
  std::shared_ptr<HttpStream> stream(new HttpStream());
  stream->ended_ = true;  // until it is attached below
  auto it = clients_.find(id);
  if (it == clients_.end()) return stream;
  std::shared_ptr<HttpConnection> conn = it->second.conn;
  count_response(200);
  conn->send(serialize_stream_head(headers, http_date(clock_.wall())));
  if (request.is_head()) {
    // The head is the whole answer; the connection carries on.
    if (!request.keep_alive) conn->finish();
    return stream;
  }
  conn->begin_stream();
  if (!conn->open()) return stream;
  ++stats_.streams_started;
  stream->ended_ = false;
  stream->conn_ = conn;
  it->second.stream = stream;
  arm_alarm();  // a stream has no deadline: the alarm may have nothing left to wait for
  return stream;
}

void HttpServer::on_closed(std::uint64_t id, CloseReason reason) {
  auto it = clients_.find(id);
  if (it == clients_.end()) return;
  if (reason == CloseReason::kSlowStream) ++stats_.streams_dropped_slow;
  end_stream(it->second);
  clients_.erase(it);
  arm_alarm();
}

void HttpServer::drop(std::uint64_t id) {
  auto it = clients_.find(id);
  if (it == clients_.end()) return;
  it->second.conn->close();
  end_stream(it->second);
  clients_.erase(it);
}

void HttpServer::end_stream(Client& client) {
  std::shared_ptr<HttpStream> stream = std::move(client.stream);
  if (!stream) return;
  stream->conn_.reset();
  if (stream->ended_) return;  // the handler closed it: no notification
  stream->ended_ = true;
  to_notify_.push_back(std::move(stream));
  notifier_.start();
}

void HttpServer::deliver_close_notifications() {
  notifier_.stop();
  std::vector<std::shared_ptr<HttpStream>> due = std::move(to_notify_);
  to_notify_.clear();
  for (const std::shared_ptr<HttpStream>& s : due) {
    std::function<void()> fn = std::move(s->on_close_);
    s->on_close_ = nullptr;  // once; and what it captured goes with it
    if (fn) uvx::guarded("http", fn);
  }
}

void HttpServer::arm_alarm() {
  MonoTime earliest = MonoTime::max();
  for (const auto& [id, client] : clients_)
    if (auto d = client.conn->deadline()) earliest = std::min(earliest, *d);
  if (earliest == MonoTime::max()) {
    alarm_.stop();  // idle means idle: no deadline, no wake-up
    return;
  }
  const Duration wait = earliest - clock_.mono();
  // Round up so the alarm never fires just before a deadline; at least 1 ms,
  // because libuv 1.44 runs a timer re-armed with 0 from its own callback
  // again in the same pass, before any read (control_server.cc says more).
  const std::int64_t ms =
      std::max<std::int64_t>(1, std::chrono::ceil<std::chrono::milliseconds>(wait).count());
  alarm_.start(static_cast<std::uint64_t>(ms));
}

void HttpServer::on_alarm() {
  const MonoTime now = clock_.mono();
  std::vector<std::uint64_t> expired;
  for (const auto& [id, client] : clients_) {
    const std::optional<MonoTime> d = client.conn->deadline();
    if (!d || *d > now) continue;
    const bool serving = client.conn->mode() == HttpConnection::Mode::kRequests;
    // Bytes the loop has not read yet (a stall) are a request, not idleness.
    if (serving && client.conn->unread_bytes() > 0) continue;
    if (serving) ++stats_.idle_timeouts;
    expired.push_back(id);
  }
  // Quietly: a client that is done and merely stayed open did nothing wrong.
  for (std::uint64_t id : expired) drop(id);
  arm_alarm();
}

}  // namespace aw::http
