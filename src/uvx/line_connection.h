// LineConnection: one accepted client of a line-based unix-socket server (the
// notify and control servers), framed, bounded and with replies in order. The
// server decides what a line means, who may connect and when an idle client
// goes; everything about the stream is here:
//
//   - framing: each complete line ('\n' removed) goes to `on_line`; blank lines
//     ("" or "\r") are skipped. What a line means is the server's business.
//   - bounded input: a line may hold `max_line_bytes`, checked before it is
//     buffered. A longer one is refused (kLineTooLong, with the bytes seen so
//     far) and the connection reads nothing more: the rest of that line cannot
//     be framed. Bytes held never exceed `max_line_bytes` while reading, plus
//     one read (64 KiB) while reading is paused (below).
//   - the stream's end: the peer may half-close and still gets every reply it
//     is owed. An unterminated last line is delivered as a line
//     (kDeliver: `printf ... | socat`) or refused (kRefuse → kTruncated: a
//     client that timed out mid-write and spooled its message must not be
//     delivered twice).
//   - replies in request order: reserve() hands out a ReplySlot per request,
//     answered now or later, from any loop callback; replies leave in slot
//     order whatever order they are answered in. reply() is reserve()+send().
//   - back-pressure: while `max_pending_replies` slots are unanswered, or more
//     than `max_write_queue_bytes` of replies sit unsent (the peer does not
//     read), nothing more is read (kStopReading) — or, for a server whose
//     replies are fire-and-forget, the connection is refused (kWriteBacklog)
//     and closed (kClose).
//   - closing: once the input ended (EOF or a refused line) and every reply is
//     written, or at once on a read or write error or kWriteBacklog, the
//     connection closes itself and calls `on_closed`.
//
// Ownership, lifetimes and threads: loop thread only. The owner holds the
// LineConnection (it cannot be moved: hold it in place or behind a
// unique_ptr). Destroying it closes the socket at once (queued replies are
// dropped) and no handler is called after that — the owner may do it from
// inside any handler, including on_closed: the connection's state lives in a
// shared box that every callback holds while it runs (as handle.h's
// CallbackBox). A ReplySlot may outlive the connection; it then sends nowhere.
// Handlers run from libuv callbacks or from inside reply()/send(), which may
// call on_line (for lines held back by back-pressure) and on_closed: after
// either returns, the owner must not assume the connection is still open.
#pragma once

#include <sys/socket.h>
#include <sys/types.h>

#include <cstddef>
#include <cstdint>
#include <functional>
#include <limits>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include "src/uvx/unix_listener.h"

namespace aw::uvx {

enum class LineRefusal {
  kLineTooLong,   // bytes: the line's bytes seen so far (above the limit)
  kTruncated,     // bytes: the unterminated last line's bytes
  kWriteBacklog,  // bytes: the replies queued and unsent
};

class LineConnection {
  struct Core;  // the shared box every callback holds (line_connection.cc)

 public:
  struct Options {
    const char* name = "line connection";  // in reports of uncaught exceptions
    std::size_t max_line_bytes = 64 * 1024;
    std::size_t max_pending_replies = std::numeric_limits<std::size_t>::max();
    std::size_t max_write_queue_bytes = std::numeric_limits<std::size_t>::max();
    enum class WriteBacklog { kStopReading, kClose } on_write_backlog = WriteBacklog::kStopReading;
    enum class PartialLineAtEof {
      kDeliver,
      kRefuse
    } partial_line_at_eof = PartialLineAtEof::kRefuse;
  };

  struct Handlers {
    // A complete, non-blank line; valid only during the call. Answer it with
    // reply() or reserve() — in the call, so that the reply keeps its place.
    std::function<void(std::string_view line)> on_line;
    // A line the connection will not deliver (see LineRefusal). After
    // kLineTooLong it reads nothing more and closes once its replies are
    // written; after kWriteBacklog it closes at once. The owner may reply (in
    // order, for kLineTooLong and kTruncated), write a last word with
    // try_write_now() and destroy the connection.
    std::function<void(LineRefusal reason, std::size_t bytes)> on_refusal;
    // Optional: the peer ended its stream (before the last line is handled).
    std::function<void()> on_input_end;
    // Optional: replies were handed to the socket, or one finished writing.
    std::function<void()> on_reply_written;
    // The connection closed itself (not called when the owner destroys it).
    std::function<void()> on_closed;
  };

  // One reply's place in the connection's reply order. Move-only. Only the
  // first send() counts; send() after the connection closed is a no-op. A
  // slot dropped without send() gives up its place (nothing is written), so
  // later replies are not held up by it.
  class ReplySlot {
   public:
    ReplySlot() = default;
    ~ReplySlot();
    ReplySlot(ReplySlot&& other) noexcept;
    ReplySlot& operator=(ReplySlot&& other) noexcept;
    ReplySlot(const ReplySlot&) = delete;
    ReplySlot& operator=(const ReplySlot&) = delete;

    // `line` is written as is: it should end in '\n'.
    void send(std::string line);
    // False once the connection is gone (a reply would go nowhere) or sent.
    bool connected() const;

   private:
    friend class LineConnection;
    std::weak_ptr<Core> core_;
    std::uint64_t slot_ = 0;
    bool pending_ = false;
  };

  explicit LineConnection(Options options);
  ~LineConnection();
  LineConnection(const LineConnection&) = delete;
  LineConnection& operator=(const LineConnection&) = delete;

  // Accepts one pending connection of `listener`. 0, or a negative errno.
  int accept(UnixListener& listener);
  // Who connected (SO_PEERCRED); nullopt when the kernel does not say or the
  // connection is closed.
  std::optional<ucred> peer() const;
  // Starts reading. 0, or a negative errno (then nothing is read: destroy it).
  int start(Handlers handlers);

  ReplySlot reserve();
  void reply(std::string line);
  // Best effort, bypassing the reply queue (which it must not interleave: use
  // it when nothing is queued, or just before destroying the connection).
  void try_write_now(std::string_view text);

  bool open() const;
  // The input ended or was refused: no more lines will come.
  bool finishing() const;
  // Reply slots not yet written (reserved, unanswered, or waiting for an
  // earlier one).
  std::size_t pending_replies() const;
  // Replies handed to libuv whose write has not completed.
  std::size_t writes_in_flight() const;
  // Bytes read and not yet delivered: an incomplete line, or lines held back
  // by back-pressure.
  std::size_t buffered_bytes() const;
  // The most bytes this connection ever held (buffered_bytes()).
  std::size_t buffered_high_water() const;
  // Bytes in the socket the loop has not read (unix_listener.h unread_bytes).
  std::size_t unread_bytes() const;

 private:
  std::shared_ptr<Core> core_;
};

}  // namespace aw::uvx
