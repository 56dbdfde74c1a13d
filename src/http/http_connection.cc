#include "src/http/http_connection.h"

#include <sys/ioctl.h>

#include <utility>

#include "src/uvx/stream_io.h"

namespace aw::http {

namespace {

using uvx::kReadChunk;
using uvx::shared_read_buffer;
using uvx::WriteRequest;

// Reaches the connection a libuv request's handle points at, holding it for
// the call; nothing once the socket was closed (`data` is cleared then).
template <class F>
void with_connection(uv_stream_t* handle, F&& f) noexcept {
  auto* conn = static_cast<HttpConnection*>(handle->data);
  if (!conn) return;
  std::shared_ptr<HttpConnection> keep = conn->shared_from_this();
  uvx::guarded("http", [&] { f(*keep); });
}

}  // namespace

HttpConnection::HttpConnection(uv_loop_t* loop, const Clock& clock, const Options& options)
    : loop_(loop), clock_(clock), options_(options), parser_(options.limits) {}

HttpConnection::~HttpConnection() {
  close();
}

int HttpConnection::accept(uv_stream_t* listener) {
  if (int rc = uv_tcp_init(loop_, tcp_.get()); rc != 0) return rc;
  tcp_.initialized(this);
  if (int rc = uv_accept(listener, stream()); rc != 0) return rc;
  // Events are small and should leave at once, not wait for Nagle.
  uv_tcp_nodelay(tcp_.get(), 1);
  idle_since_ = clock_.mono();
  return 0;
}

int HttpConnection::start(Handlers handlers) {
  if (closed_ || !tcp_.live()) return UV_EINVAL;
  handlers_ = std::move(handlers);
  return start_reading();
}

int HttpConnection::start_reading() {
  if (reading_) return 0;
  const int rc = uv_read_start(
      stream(),
      [](uv_handle_t* h, std::size_t, uv_buf_t* buf) noexcept {
        // A null buffer makes libuv report UV_ENOBUFS; only a closing handle gets one.
        *buf = h->data ? uv_buf_init(shared_read_buffer(), kReadChunk) : uv_buf_init(nullptr, 0);
      },
      [](uv_stream_t* s, ssize_t nread, const uv_buf_t*) noexcept {
        with_connection(s, [&](HttpConnection& c) { c.on_read(nread); });
      });
  if (rc == 0) reading_ = true;
  return rc;
}

void HttpConnection::stop_reading() {
  if (!reading_) return;
  uv_read_stop(stream());
  reading_ = false;
}

void HttpConnection::on_read(ssize_t nread) {
  if (closed_) return;
  if (nread == UV_EOF) return on_eof();
  if (nread < 0) return close_self(CloseReason::kPeerClosed);  // ECONNRESET and friends
  if (nread == 0) return;
  // Streams and finishing connections read only to notice the client
  // leaving; what it sends is not looked at.
  if (mode_ != Mode::kRequests) return;
  input_.append(shared_read_buffer(), static_cast<std::size_t>(nread));
  process();
}

void HttpConnection::on_eof() {
  eof_ = true;
  stop_reading();
  switch (mode_) {
    case Mode::kStreaming:
      // Nobody left to stream to (a half-close counts as leaving: no
      // EventSource half-closes).
      return close_self(CloseReason::kPeerClosed);
    case Mode::kFinishing:
      if (shutdown_done_) close_self(CloseReason::kFinished);
      return;  // else the shutdown's completion closes
    case Mode::kRequests:
      // A half-close still gets the answers to the requests it sent;
      // process() finishes once they are all answered.
      return process();
  }
}

bool HttpConnection::backlogged() const {
  return uv_stream_get_write_queue_size(stream()) > options_.max_queued_response_bytes;
}

void HttpConnection::process() {
  if (processing_ || closed_) return;
  processing_ = true;
  // The owner may close us from a handler: hold on until this returns.
  std::shared_ptr<HttpConnection> keep = shared_from_this();
  while (!closed_ && mode_ == Mode::kRequests && input_pos_ < input_.size() && !backlogged()) {
    const auto step = parser_.feed(std::string_view(input_).substr(input_pos_));
    input_pos_ += step.consumed;
    if (step.outcome == HttpRequestParser::Outcome::kNeedMore) break;
    if (step.outcome == HttpRequestParser::Outcome::kError) {
      call([&] { handlers_.on_parse_error(parser_.error()); });
      if (!closed_) finish();  // the rest of the stream cannot be framed
      break;
    }
    idle_since_ = clock_.mono();
    HttpRequest request = parser_.take_request();
    call([&] { handlers_.on_request(std::move(request)); });
  }
  processing_ = false;
  if (closed_) return;
  // Parsed bytes go; a held-back pipelined request stays.
  if (input_pos_ == input_.size() || mode_ != Mode::kRequests) {
    input_.clear();
    input_pos_ = 0;
  } else if (input_pos_ > 0) {
    input_.erase(0, input_pos_);
    input_pos_ = 0;
  }
  if (mode_ != Mode::kRequests) return;
  if (backlogged()) {
    stop_reading();
  } else if (eof_) {
    finish();  // every request the client sent is answered
  } else if (start_reading() != 0) {
    close_self(CloseReason::kError);
  }
}

void HttpConnection::resume() {
  if (closed_ || mode_ != Mode::kRequests || backlogged()) return;
  process();
}

void HttpConnection::send(std::string bytes) {
  if (closed_ || bytes.empty()) return;
  auto* w = new WriteRequest{};
  w->text = std::move(bytes);
  uv_buf_t b = uv_buf_init(w->text.data(), static_cast<unsigned>(w->text.size()));
  const int rc = uv_write(&w->req, stream(), &b, 1, [](uv_write_t* req, int status) noexcept {
    uv_stream_t* handle = req->handle;
    delete reinterpret_cast<WriteRequest*>(req);
    with_connection(handle, [&](HttpConnection& c) { c.on_write_done(status); });
  });
  if (rc != 0) {
    delete w;
    return close_self(CloseReason::kError);
  }
}

void HttpConnection::on_write_done(int status) {
  if (closed_) return;
  if (status < 0) return close_self(CloseReason::kPeerClosed);  // EPIPE: the client left
  idle_since_ = clock_.mono();                                  // progress: the client reads
  resume();
}

void HttpConnection::finish() {
  if (closed_ || mode_ == Mode::kFinishing) return;
  mode_ = Mode::kFinishing;
  input_.clear();
  input_pos_ = 0;
  // libuv sends the FIN once every queued write is done.
  auto* req = new uv_shutdown_t{};
  const int rc = uv_shutdown(req, stream(), [](uv_shutdown_t* r, int status) noexcept {
    uv_stream_t* handle = r->handle;
    delete r;
    with_connection(handle, [&](HttpConnection& c) { c.on_shutdown_done(status); });
  });
  if (rc != 0) {
    delete req;
    return close_self(CloseReason::kError);
  }
  // Read on (and discard) until the client closes: see the header.
  if (!eof_ && start_reading() != 0) return close_self(CloseReason::kError);
  if (handlers_.on_deadline_changed) call([&] { handlers_.on_deadline_changed(); });
}

void HttpConnection::on_shutdown_done(int status) {
  if (closed_) return;
  if (status < 0) return close_self(CloseReason::kPeerClosed);
  shutdown_done_ = true;
  if (eof_) return close_self(CloseReason::kFinished);
  linger_since_ = clock_.mono();
  if (handlers_.on_deadline_changed) call([&] { handlers_.on_deadline_changed(); });
}

void HttpConnection::begin_stream() {
  if (closed_ || mode_ != Mode::kRequests) return;
  mode_ = Mode::kStreaming;
  // Keep reading: it is how a client that leaves is noticed.
  if (!eof_ && start_reading() != 0) close_self(CloseReason::kError);
}

bool HttpConnection::write_stream(std::string_view chunk) {
  if (closed_ || mode_ != Mode::kStreaming) return false;
  if (chunk.empty()) return true;
  send(std::string(chunk));
  if (closed_) return false;
  // libuv writes at once what the socket takes and queues the rest: a client
  // that does not read makes the queue grow, and is dropped rather than
  // buffered without bound.
  if (queued_bytes() <= options_.max_stream_queue_bytes) return true;
  close_self(CloseReason::kSlowStream);
  return false;
}

std::optional<MonoTime> HttpConnection::deadline() const {
  switch (mode_) {
    case Mode::kStreaming:
      return std::nullopt;
    case Mode::kFinishing:
      // While the last answers are still being written, a client that reads
      // slowly gets the idle timeout per write, as before; after the FIN it
      // gets the linger time to close.
      if (shutdown_done_) return linger_since_ + options_.linger_timeout;
      return idle_since_ + options_.idle_timeout;
    case Mode::kRequests:
      return idle_since_ + options_.idle_timeout;
  }
  return std::nullopt;
}

std::size_t HttpConnection::queued_bytes() const {
  return closed_ ? 0 : uv_stream_get_write_queue_size(stream());
}

std::size_t HttpConnection::unread_bytes() const {
  uv_os_fd_t fd = -1;
  int n = 0;
  if (closed_ || uv_fileno(tcp_.base(), &fd) != 0 || ioctl(fd, FIONREAD, &n) != 0 || n < 0)
    return 0;
  return static_cast<std::size_t>(n);
}

void HttpConnection::close_self(CloseReason reason) {
  if (closed_) return;
  close();
  if (handlers_.on_closed) call([&] { handlers_.on_closed(reason); });
}

void HttpConnection::close() {
  if (closed_) return;
  closed_ = true;
  reading_ = false;
  // Pending writes and the shutdown complete with UV_ECANCELED and find
  // `data` cleared: they free their requests and call nobody.
  tcp_.reset();
}

}  // namespace aw::http
