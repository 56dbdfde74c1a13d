// Control requests (src/control/control_protocol.h): one line as the daemon
// reads it from the control socket; and, the other way, a reply line as the
// CLI reads it.
//
// Holds beyond "no crash":
//   - decode_control_request() gives a request with a non-empty method, or an
//     error text; a decoded request encodes (encode_control_request with its
//     params as JSON) to a line that decodes to the same id, method and params
//     keys, and re-encodes to the same bytes;
//   - compact_json() of any input that is JSON is one line and a fixed point;
//   - decode_control_reply() of any input does not crash; replies we encode
//     (ok with the input as result when it is JSON, error with the input as
//     text) decode back to what went in.
#include <simdjson.h>

#include <string>

#include "src/control/control_protocol.h"
#include "src/core/field_json.h"
#include "tests/fuzz/fuzz_support.h"

using namespace aw;

namespace {

std::string encode(const ControlRequest& r) {
  std::string params;
  append_fields_json(params, r.params);
  return encode_control_request(r.id, r.method, params);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view line = fuzz::as_text(data, size);

  const DecodedControlRequest d = decode_control_request(line);
  if (!d.ok) {
    FUZZ_CHECK(!d.error.empty());
  } else {
    FUZZ_CHECK(!d.request.method.empty());
    FUZZ_CHECK(d.request.id == d.id.value_or(0));
    const std::string once = encode(d.request);
    const DecodedControlRequest again = decode_control_request(fuzz::without_newline(once));
    FUZZ_CHECK(again.ok);
    FUZZ_CHECK(again.request.method == d.request.method);
    FUZZ_CHECK(again.request.id == d.request.id);
    FUZZ_CHECK(again.request.params.size() == d.request.params.size());
    auto it = again.request.params.begin();
    for (const auto& [key, value] : d.request.params) {
      FUZZ_CHECK(it->key == key);
      ++it;
    }
    FUZZ_CHECK(encode(again.request) == once);
  }

  const auto compact = compact_json(line);
  if (compact) {
    FUZZ_CHECK(compact->find('\n') == std::string::npos);
    const auto twice = compact_json(*compact);
    FUZZ_CHECK(twice.ok());
    FUZZ_CHECK(*twice == *compact);
    const std::string ok_line = encode_control_ok(d.id, *compact);
    const auto ok_reply = decode_control_reply(fuzz::without_newline(ok_line));
    FUZZ_CHECK(ok_reply.ok());
    FUZZ_CHECK(ok_reply->id == d.id);
    FUZZ_CHECK(ok_reply->reply.ok);
    FUZZ_CHECK(ok_reply->reply.result_json == *compact);
  }

  (void)decode_control_reply(line);
  const std::string err_line = encode_control_error(d.id, ControlErrorCode::kBadRequest, line);
  const auto err_reply = decode_control_reply(fuzz::without_newline(err_line));
  FUZZ_CHECK(err_reply.ok());
  FUZZ_CHECK(err_reply->id == d.id);
  FUZZ_CHECK(!err_reply->reply.ok);
  FUZZ_CHECK(err_reply->reply.code == "bad_request");
  if (simdjson::validate_utf8(line.data(), line.size())) FUZZ_CHECK(err_reply->reply.error == line);
  return 0;
}
