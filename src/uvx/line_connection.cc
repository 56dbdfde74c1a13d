#include "src/uvx/line_connection.h"

#include <algorithm>
#include <deque>
#include <utility>

#include "src/uvx/stream_io.h"

namespace aw::uvx {

// Everything a connection is. The pipe's `data` points here while it is open;
// each libuv callback holds a shared_ptr for its duration, so the owner may
// destroy the LineConnection (which closes the pipe and sets `closed`) from
// inside a handler. Every step that calls out checks `closed` afterwards.
struct LineConnection::Core : std::enable_shared_from_this<Core> {
  Options options;
  Handlers handlers;
  Handle<uv_pipe_t> pipe;
  std::string input;  // read, not yet delivered
  // Replies owed, in request order: nullopt until answered; "" for a slot
  // given up. Only the filled ones at the front can be written.
  std::deque<std::optional<std::string>> slots;
  std::uint64_t first_slot = 0;  // the slot number of slots.front()
  std::uint64_t next_slot = 0;
  std::size_t writes_in_flight = 0;
  std::size_t high_water = 0;
  bool reading = false;
  bool eof = false;         // the peer will send nothing more
  bool stopping = false;    // a line was refused: read nothing more
  bool processing = false;  // delivering lines (no re-entry)
  bool closed = false;

  uv_stream_t* stream() const { return reinterpret_cast<uv_stream_t*>(pipe.get()); }

  bool paused() const {
    if (closed) return true;
    if (stopping || slots.size() >= options.max_pending_replies) return true;
    return options.on_write_backlog == Options::WriteBacklog::kStopReading &&
           uv_stream_get_write_queue_size(stream()) > options.max_write_queue_bytes;
  }

  template <class F>
  void call(F&& f) {
    guarded(options.name, std::forward<F>(f));
  }

  int start_reading() {
    const int rc = uv_read_start(
        stream(),
        [](uv_handle_t* h, std::size_t, uv_buf_t* buf) noexcept {
          // A null buffer makes libuv report UV_ENOBUFS; only a closing handle gets one.
          *buf = h->data ? uv_buf_init(shared_read_buffer(), kReadChunk) : uv_buf_init(nullptr, 0);
        },
        [](uv_stream_t* s, ssize_t nread, const uv_buf_t*) noexcept {
          auto* core = static_cast<Core*>(s->data);
          if (!core) return;
          std::shared_ptr<Core> keep = core->shared_from_this();
          guarded(keep->options.name, [&] { keep->on_read(nread); });
        });
    if (rc == 0) reading = true;
    return rc;
  }

  void stop_reading() {
    if (!reading) return;
    uv_read_stop(stream());
    reading = false;
  }

  void on_read(ssize_t nread) {
    if (closed) return;
    if (nread > 0) {
      on_data(std::string_view(shared_read_buffer(), static_cast<std::size_t>(nread)));
    } else if (nread == UV_EOF) {
      // Half-close: what the peer asked is still answered.
      eof = true;
      stop_reading();
      if (handlers.on_input_end) call([&] { handlers.on_input_end(); });
      if (closed) return;
      process_input();
    } else if (nread < 0) {
      close_self();  // ECONNRESET and friends: nobody left to answer
    }
  }

  void deliver(std::string_view line) {
    if (line.empty() || line == "\r") return;
    if (handlers.on_line) call([&] { handlers.on_line(line); });
  }

  void refuse(LineRefusal reason, std::size_t bytes) {
    if (handlers.on_refusal) call([&] { handlers.on_refusal(reason, bytes); });
  }

  void refuse_too_long(std::size_t bytes) {
    stopping = true;
    input.clear();
    stop_reading();
    refuse(LineRefusal::kLineTooLong, bytes);
  }

  // Reading means no complete line is held (the invariant process_input
  // restores), so lines are delivered straight from the read buffer and only
  // an incomplete one is copied: checked before it grows past the limit.
  void on_data(std::string_view data) {
    const std::size_t max = options.max_line_bytes;
    processing = true;
    while (!data.empty() && !closed && !stopping) {
      if (paused()) {
        input.append(data);  // bounded: reading stops below
        break;
      }
      const std::size_t nl = data.find('\n');
      const std::string_view piece = data.substr(0, nl);  // the whole rest when npos
      if (input.size() + piece.size() > max) {
        refuse_too_long(input.size() + piece.size());
        break;
      }
      if (nl == std::string_view::npos) {
        input.append(piece);
        break;
      }
      data.remove_prefix(nl + 1);
      if (input.empty()) {
        deliver(piece);
      } else {
        input.append(piece);
        high_water = std::max(high_water, input.size());
        const std::string line = std::move(input);
        input.clear();
        deliver(line);
      }
    }
    processing = false;
    if (closed) return;
    high_water = std::max(high_water, input.size());
    settle();
  }

  // Delivers the lines held back (by back-pressure, or the last one at EOF)
  // while nothing holds them back.
  void process_input() {
    if (processing || closed) return;
    const std::size_t max = options.max_line_bytes;
    processing = true;
    std::size_t pos = 0;
    // `line` points into `input`, which nothing else changes while we are here.
    while (!closed && !stopping && !paused()) {
      const std::size_t nl = input.find('\n', pos);
      if (nl == std::string::npos) break;
      if (nl - pos > max) {
        refuse_too_long(nl - pos);
        break;
      }
      const std::string_view line(input.data() + pos, nl - pos);
      pos = nl + 1;
      deliver(line);
    }
    if (!closed && !stopping) {
      input.erase(0, pos);
      const bool partial_only = input.find('\n') == std::string::npos;
      if (partial_only && input.size() > max) {
        refuse_too_long(input.size());
      } else if (partial_only && eof && !input.empty() && !paused()) {
        const std::string last = std::move(input);
        input.clear();
        if (options.partial_line_at_eof == Options::PartialLineAtEof::kDeliver) {
          deliver(last);
        } else {
          refuse(LineRefusal::kTruncated, last.size());
        }
      }
    }
    processing = false;
    if (closed) return;
    if (stopping) input.clear();
    settle();
  }

  // After lines were handled: hold reading while paused, deliver what a reply
  // given meanwhile unblocked, close once done.
  void settle() {
    if (!stopping && !paused() && input.find('\n') != std::string::npos) return process_input();
    if (paused()) stop_reading();
    close_if_done();
  }

  // Reads again once back-pressure is gone.
  void resume() {
    if (processing || closed || paused()) return;
    process_input();
    if (closed || paused() || reading || eof || stopping) return;
    if (start_reading() != 0) close_self();
  }

  void close_if_done() {
    if (closed || processing) return;
    if ((eof || stopping) && slots.empty() && writes_in_flight == 0 && (stopping || input.empty()))
      close_self();
  }

  void close_self() {
    if (closed) return;
    closed = true;
    reading = false;
    pipe.reset();
    if (handlers.on_closed) call([&] { handlers.on_closed(); });
  }

  void close_by_owner() {
    closed = true;
    reading = false;
    pipe.reset();
  }

  std::uint64_t open_slot() {
    slots.emplace_back();
    return next_slot++;
  }

  void fill(std::uint64_t slot, std::string line) {
    if (closed || slot < first_slot || slot - first_slot >= slots.size()) return;
    slots[slot - first_slot] = std::move(line);
    flush();
    if (closed) return;
    resume();
    if (closed) return;
    close_if_done();
  }

  void flush() {
    bool wrote = false;
    while (!closed && !slots.empty() && slots.front().has_value()) {
      std::string line = std::move(*slots.front());
      slots.pop_front();
      ++first_slot;
      if (line.empty()) continue;  // given up
      write(std::move(line));
      wrote = true;
    }
    if (closed || !wrote || !handlers.on_reply_written) return;
    call([&] { handlers.on_reply_written(); });
  }

  void write(std::string text) {
    auto* w = new WriteRequest{};
    w->text = std::move(text);
    uv_buf_t b = uv_buf_init(w->text.data(), static_cast<unsigned>(w->text.size()));
    const int rc = uv_write(&w->req, stream(), &b, 1, [](uv_write_t* req, int status) noexcept {
      auto* core = static_cast<Core*>(req->handle->data);  // null once closed
      delete reinterpret_cast<WriteRequest*>(req);
      if (!core) return;
      std::shared_ptr<Core> keep = core->shared_from_this();
      guarded(keep->options.name, [&] { keep->on_write_done(status); });
    });
    if (rc != 0) {
      delete w;
      close_self();
      return;
    }
    ++writes_in_flight;
    if (options.on_write_backlog != Options::WriteBacklog::kClose) return;
    // libuv writes at once what the socket takes and queues the rest; a peer
    // that never reads makes the queue grow, and is dropped rather than buffered.
    const std::size_t queued = uv_stream_get_write_queue_size(stream());
    if (queued <= options.max_write_queue_bytes) return;
    refuse(LineRefusal::kWriteBacklog, queued);
    close_self();
  }

  void on_write_done(int status) {
    if (closed) return;
    if (writes_in_flight > 0) --writes_in_flight;
    if (status < 0) return close_self();  // EPIPE: the peer left
    if (handlers.on_reply_written) call([&] { handlers.on_reply_written(); });
    if (closed) return;
    resume();
    if (closed) return;
    close_if_done();
  }
};

LineConnection::ReplySlot::~ReplySlot() {
  if (pending_) guarded("line connection", [&] { send(std::string()); });
}

LineConnection::ReplySlot::ReplySlot(ReplySlot&& other) noexcept
    : core_(std::move(other.core_)),
      slot_(other.slot_),
      pending_(std::exchange(other.pending_, false)) {}

LineConnection::ReplySlot& LineConnection::ReplySlot::operator=(ReplySlot&& other) noexcept {
  if (this != &other) {
    if (pending_) guarded("line connection", [&] { send(std::string()); });
    core_ = std::move(other.core_);
    slot_ = other.slot_;
    pending_ = std::exchange(other.pending_, false);
  }
  return *this;
}

void LineConnection::ReplySlot::send(std::string line) {
  if (!pending_) return;
  pending_ = false;
  if (std::shared_ptr<Core> core = core_.lock()) core->fill(slot_, std::move(line));
}

bool LineConnection::ReplySlot::connected() const {
  if (!pending_) return false;
  std::shared_ptr<Core> core = core_.lock();
  return core && !core->closed;
}

LineConnection::LineConnection(Options options) : core_(std::make_shared<Core>()) {
  core_->options = options;
}

LineConnection::~LineConnection() {
  core_->close_by_owner();
}

int LineConnection::accept(UnixListener& listener) {
  return listener.accept(core_->pipe, core_.get());
}

std::optional<ucred> LineConnection::peer() const {
  if (!open()) return std::nullopt;
  return peer_credentials(core_->pipe);
}

int LineConnection::start(Handlers handlers) {
  if (!open()) return UV_EINVAL;
  core_->handlers = std::move(handlers);
  return core_->start_reading();
}

LineConnection::ReplySlot LineConnection::reserve() {
  ReplySlot s;
  if (core_->closed) return s;
  s.core_ = core_;
  s.slot_ = core_->open_slot();
  s.pending_ = true;
  return s;
}

void LineConnection::reply(std::string line) {
  std::shared_ptr<Core> keep = core_;  // the owner may destroy us in a handler
  if (keep->closed) return;
  keep->fill(keep->open_slot(), std::move(line));
}

void LineConnection::try_write_now(std::string_view text) {
  if (!open()) return;
  std::string copy(text);
  uv_buf_t b = uv_buf_init(copy.data(), static_cast<unsigned>(copy.size()));
  (void)uv_try_write(core_->stream(), &b, 1);  // EAGAIN when replies are queued
}

bool LineConnection::open() const {
  return !core_->closed && core_->pipe.live();
}

bool LineConnection::finishing() const {
  return core_->eof || core_->stopping;
}

std::size_t LineConnection::pending_replies() const {
  return core_->slots.size();
}

std::size_t LineConnection::writes_in_flight() const {
  return core_->writes_in_flight;
}

std::size_t LineConnection::buffered_bytes() const {
  return core_->input.size();
}

std::size_t LineConnection::buffered_high_water() const {
  return core_->high_water;
}

std::size_t LineConnection::unread_bytes() const {
  return open() ? uvx::unread_bytes(core_->pipe) : 0;
}

}  // namespace aw::uvx
