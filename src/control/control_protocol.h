// The control protocol (docs/control.md): one compact JSON object per line,
// each way, between `agentwatch <command>` and the running daemon.
//
//   request  {"id":7,"method":"workers.list","params":{"state":"failed"}}
//   reply    {"id":7,"ok":true,"result":<any JSON>}
//            {"id":7,"ok":false,"error":"no worker w9","code":"not_found"}
//
// A reply carries the request's id, or null when the request had none or its
// id could not be read (not JSON, id not an unsigned integer, a refusal before
// anything was read). Replies come in request order.
//
// Pure encoding and decoding: no I/O, no loop. Thread-safe (each thread uses
// its own parser).
#pragma once

#include <sys/types.h>

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "src/core/event.h"
#include "src/core/result.h"

namespace aw {

// The longest request line the daemon reads, without its '\n'.
inline constexpr std::size_t kControlMaxLineBytes = 64 * 1024;

// Why a request failed; on the wire as the "code" string.
enum class ControlErrorCode {
  kUnknownMethod,  // no handler for the method
  kBadRequest,     // not JSON, wrong shape, a params value of the wrong type, line too long
  kNotFound,       // the thing named (worker, rule, ...) does not exist
  kRefused,        // not allowed now: foreign uid, too many connections, an illegal transition
  kFailed,         // the daemon tried and could not
};

// "unknown_method", "bad_request", "not_found", "refused", "failed".
const char* control_error_code_name(ControlErrorCode code);

// Who sent a request, from SO_PEERCRED when the connection was accepted.
struct ControlPeer {
  uid_t uid = static_cast<uid_t>(-1);
  pid_t pid = -1;
};

struct ControlRequest {
  std::string method;
  // "params" flattened to fields: strings, integers, doubles, booleans. A null
  // value is the same as an absent key. Arrays and objects are refused
  // (bad_request) so a handler never meets a shape it did not expect; a
  // method that needs a list takes a comma-separated string.
  Fields params;
  std::uint64_t id = 0;  // 0 when the request had none
  ControlPeer peer;      // set by the server
};

// decode_control_request's answer: a request, or why not (always bad_request)
// with whatever id could be read for the error reply.
struct DecodedControlRequest {
  bool ok = false;
  ControlRequest request;
  std::optional<std::uint64_t> id;
  std::string error;  // what was wrong and what was expected
};

// One request line, without its '\n' (a trailing '\r' is ignored). Keys other
// than id, method and params are refused, so a misspelt key is not silently
// ignored. The method must be a non-empty string; whether it exists is the
// server's question.
DecodedControlRequest decode_control_request(std::string_view line);

// `params_json` must be a JSON object in compact form (no raw newline) or
// empty (sends {}); control_call checks this before encoding. Ends in '\n'.
std::string encode_control_request(std::uint64_t id, std::string_view method,
                                   std::string_view params_json);

// `result_json` must be valid compact JSON (compact_json's output). Ends in '\n'.
std::string encode_control_ok(std::optional<std::uint64_t> id, std::string_view result_json);
// Ends in '\n'. `text` is escaped (any bytes are safe).
std::string encode_control_error(std::optional<std::uint64_t> id, ControlErrorCode code,
                                 std::string_view text);

// Validates `json` and returns it minified: one line, safe to embed in a reply.
// The error says where parsing failed. An empty string is an error.
Result<std::string> compact_json(std::string_view json);

// What the daemon answered, as the CLI sees it.
struct ControlReply {
  bool ok = false;
  std::string result_json;  // when ok: compact JSON ("null" when the daemon sent none)
  std::string error;        // when !ok: the daemon's explanation
  std::string code;  // when !ok: "unknown_method", "not_found", ... (a newer daemon may add codes)
};

struct DecodedControlReply {
  std::optional<std::uint64_t> id;  // nullopt: the reply said null
  ControlReply reply;
};

// One reply line, without its '\n'. An error names what was malformed.
Result<DecodedControlReply> decode_control_reply(std::string_view line);

}  // namespace aw
