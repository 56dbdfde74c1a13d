// The notify protocol (docs/notify.md): one compact JSON object per line, each
// way, on <runtime_dir>/notify.sock; the same lines are what the spool stores.
//
//   client → daemon  {"id":"9f2c…","time":"2026-…Z","kind":"tmux.session-closed",
//                     "entity":"w1","fields":{"session":"w1","pane_pid":123}}
//   daemon → client  {"ok":true}   or   {"ok":false,"reason":"unknown_kind","error":"…"}
//
// Only "kind" is required. "id" (16 hex digits, random, made by the client) lets
// spool ingestion deliver a message exactly once; "time" is when the hook ran
// (only spooled messages keep it: a live message is stamped on arrival).
//
// Everything here is pure (no I/O, no loop): the server, the client and the spool
// reader share it, and it is unit-tested alone.
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "src/core/event.h"
#include "src/core/event_kinds.h"
#include "src/core/result.h"

namespace aw {

// A line longer than this (without its '\n') is refused; the server never
// buffers more than this per connection.
inline constexpr std::size_t kNotifyMaxLineBytes = 64 * 1024;

// Why a line or a connection was refused: the `reason` field of notify.refused
// and of an error reply. The strings are stable (rules may match on them).
enum class NotifyRefusal {
  kForeignUid,          // "foreign_uid": the peer's uid (SO_PEERCRED) is not ours
  kTooManyConnections,  // "too_many_connections": over the concurrent-connection cap
  kLineTooLong,         // "line_too_long": no '\n' within the line limit
  kInvalidJson,         // "invalid_json": the line is not one JSON object
  kInvalidMessage,      // "invalid_message": JSON, but not a notify message (keys, types, nesting)
  kUnknownKind,         // "unknown_kind": kind syntax or prefix not allowed
  kRejected,            // "rejected": the daemon's validator said no
  kTruncated,           // "truncated": the stream or spool ended inside a line
  kIdleTimeout,         // "idle_timeout": nothing complete arrived within the idle timeout
  kReplyBacklog,        // "reply_backlog": the client does not read its replies
  kEvicted,             // "evicted": closed at the connection cap to admit a new client
};
const char* refusal_reason(NotifyRefusal r);

// One message as the client sends it and as the spool stores it.
struct NotifyMessage {
  std::string kind;
  std::string entity;  // optional subject (worker / session / project)
  Fields fields;       // flat; never holds the reserved keys below
  std::optional<WallTime> time;
  std::uint64_t id = 0;  // 0 = none (a hand-written line); then no dedupe
};

// Field keys the daemon sets itself; a message carrying one is refused so a
// client cannot forge them.
inline constexpr std::string_view kReservedNotifyFields[] = {"peer_pid", "spooled", "notify_id"};

// Which kinds a client may send. Copied into the server; `validate` is called
// on the loop thread (server) or the ingesting thread (spool).
struct NotifyKindPolicy {
  // Not "notify.": those kinds are the daemon's own (notify.refused) and must
  // not be forgeable by a client.
  std::vector<std::string> allowed_prefixes = {
      std::string(kind::kTmuxPrefix), std::string(kind::kWorkerPrefix),
      std::string(kind::kAgentPrefix), std::string(kind::kUserPrefix)};
  // Optional extra check the daemon may set, after syntax and prefix passed.
  // Return an error (its message goes back to the client) to refuse.
  std::function<Status(const NotifyMessage&)> validate;
};

// Kind syntax: 1..128 of [a-z0-9._-], dotted segments, no empty segment
// ("tmux.session-closed"). Does not look at the prefixes.
Status check_notify_kind_syntax(std::string_view kind);
// Field key syntax: 1..64 of [A-Za-z0-9_.-], and not reserved.
Status check_notify_field_key(std::string_view key);

// The outcome of decoding one line. On success `refusal`/`detail` are unset.
struct DecodedNotifyLine {
  bool ok = false;
  NotifyMessage message;                                // when ok
  NotifyRefusal refusal = NotifyRefusal::kInvalidJson;  // when !ok
  std::string detail;  // when !ok: what was wrong and what was expected
};

// Decodes one line (without its '\n'; a trailing '\r' is tolerated) and applies
// the policy. Never throws; any input is either a message or a refusal.
DecodedNotifyLine decode_notify_line(std::string_view line, const NotifyKindPolicy& policy);

// Encodes a message as one line ending in '\n' (id as 16 hex digits, time as
// RFC 3339 UTC with milliseconds). decode_notify_line(encode(m)) == m up to the
// millisecond.
std::string encode_notify_line(const NotifyMessage& m);

// "%016x" and back. parse_notify_id accepts exactly 16 hex digits, nonzero.
std::string format_notify_id(std::uint64_t id);
std::optional<std::uint64_t> parse_notify_id(std::string_view s);

// Reply lines (each ends in '\n').
std::string notify_ok_reply();
std::string notify_error_reply(NotifyRefusal reason, std::string_view detail);

// A reply as the client reads it.
struct NotifyReply {
  bool ok = false;
  std::string reason;  // when !ok
  std::string error;   // when !ok
};
// Parses one reply line (without '\n'); nullopt if it is not a reply.
std::optional<NotifyReply> parse_notify_reply(std::string_view line);

}  // namespace aw
