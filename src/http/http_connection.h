// HttpConnection: one accepted TCP client of the HTTP server (http_server.h),
// the transport half: reading and parsing requests one at a time, writing
// answers in order, back-pressure, the long-lived stream mode and closing
// gracefully. What a request means, caps on connections, auth and counters are
// the server's. Internal to src/http.
//
//   - requests: each complete request goes to `on_request`, which answers it
//     before returning (send(), then finish() if the connection is to close,
//     or begin_stream()). A pipelined next request is parsed only after that,
//     so answers leave in request order. A request the parser refuses goes to
//     `on_parse_error`, which answers it; the connection then finishes.
//   - back-pressure: while more than `max_queued_response_bytes` of answers
//     sit unsent (the client pipelines and does not read), nothing more is
//     parsed or read; both resume as the queue drains.
//   - stream mode (begin_stream()): input is read only to notice the client
//     leaving (EOF or an error closes the connection) and is discarded;
//     write_stream() queues a chunk and, once more than
//     `max_stream_queue_bytes` sit unsent, closes the connection at once
//     (kSlowStream): a client that stopped reading costs at most the cap.
//   - finishing (finish()): the queued answers are written, then the write
//     side is shut down (FIN) and input is read and discarded until the client
//     closes or `linger_timeout` passes, then the socket closes. Closing with
//     unread input would make the kernel send a reset, which can destroy the
//     last answer before the client read it.
//   - deadlines: deadline() is when the owner's alarm should close the
//     connection: `idle_timeout` after accept, the last request or the last
//     completed write while serving requests (a partial request does not
//     count: a client that sends a byte a minute cannot hold the connection);
//     none while streaming; `linger_timeout` after the FIN while finishing.
//
// Ownership, lifetimes and threads: loop thread only. Held by a shared_ptr
// (streams reach it through weak_ptrs): every libuv callback holds one while
// it runs, so the owner may drop the connection from inside any handler.
// close() closes the socket at once; no handler is called after it. Not
// movable (the socket's `data` points at it).
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include <uv.h>

#include "src/core/clock.h"
#include "src/http/http_request_parser.h"
#include "src/uvx/handle.h"

namespace aw::http {

enum class CloseReason {
  kPeerClosed,  // the client closed or reset the connection
  kError,       // a read, write or shutdown failed
  kFinished,    // finish() ran its course (the client closed after the FIN)
  kSlowStream,  // a stream's unsent bytes passed the cap
};

class HttpConnection : public std::enable_shared_from_this<HttpConnection> {
 public:
  struct Options {
    HttpRequestParser::Limits limits;
    Duration idle_timeout = std::chrono::seconds(30);
    Duration linger_timeout = std::chrono::seconds(2);
    std::size_t max_queued_response_bytes = 1024 * 1024;
    std::size_t max_stream_queue_bytes = 1024 * 1024;
  };
  struct Handlers {
    std::function<void(HttpRequest&& request)> on_request;
    std::function<void(const HttpParseError& error)> on_parse_error;
    // The connection closed itself; not called after close().
    std::function<void(CloseReason reason)> on_closed;
    // deadline() moved for a reason other than progress (finishing): the
    // owner's alarm may have to fire sooner.
    std::function<void()> on_deadline_changed;
  };
  enum class Mode { kRequests, kStreaming, kFinishing };

  HttpConnection(uv_loop_t* loop, const Clock& clock, const Options& options);
  ~HttpConnection();
  HttpConnection(const HttpConnection&) = delete;
  HttpConnection& operator=(const HttpConnection&) = delete;

  // Accepts one pending connection of `listener`. 0, or a negative errno.
  int accept(uv_stream_t* listener);
  // Starts reading (and parsing, in kRequests mode). 0, or a negative errno
  // (then destroy it).
  int start(Handlers handlers);

  // Queues bytes to write, after everything queued before.
  void send(std::string bytes);
  // No more answers: see "finishing" above. Idempotent.
  void finish();
  // From now on the connection carries one stream (see "stream mode").
  void begin_stream();
  // Queues a stream chunk. False when the connection is closed, or when this
  // chunk took the unsent bytes past the cap and the connection was closed
  // for it (on_closed(kSlowStream) has run).
  bool write_stream(std::string_view chunk);
  // Closes at once: queued bytes are dropped, no handler runs after.
  void close();

  bool open() const { return !closed_; }
  Mode mode() const { return mode_; }
  std::optional<MonoTime> deadline() const;
  // Bytes handed to libuv and not yet written to the socket.
  std::size_t queued_bytes() const;
  // Bytes in the socket the loop has not read yet (FIONREAD): a connection
  // with some is not idle, the loop has just not got to it.
  std::size_t unread_bytes() const;

 private:
  uv_stream_t* stream() const { return reinterpret_cast<uv_stream_t*>(tcp_.get()); }
  template <class F>
  void call(F&& f) {
    uvx::guarded("http", std::forward<F>(f));
  }

  int start_reading();
  void stop_reading();
  void on_read(ssize_t nread);
  void on_eof();
  void process();
  bool backlogged() const;
  void resume();
  void on_write_done(int status);
  void on_shutdown_done(int status);
  void close_self(CloseReason reason);

  uv_loop_t* loop_;
  const Clock& clock_;
  Options options_;
  Handlers handlers_;
  uvx::Handle<uv_tcp_t> tcp_;
  HttpRequestParser parser_;
  std::string input_;          // read, not yet parsed (back-pressure holds it)
  std::size_t input_pos_ = 0;  // input_ before this was parsed
  Mode mode_ = Mode::kRequests;
  MonoTime idle_since_{};
  MonoTime linger_since_{};
  bool reading_ = false;
  bool eof_ = false;            // the client sends nothing more
  bool shutdown_done_ = false;  // FIN sent after every queued write
  bool processing_ = false;     // in process(): no re-entry
  bool closed_ = false;
};

}  // namespace aw::http
