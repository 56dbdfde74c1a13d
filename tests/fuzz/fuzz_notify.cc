// Notify messages (watchers/notify/notify_protocol.h): one line as a client
// sends it on the notify socket or as the spool stores it.
//
// Holds beyond "no crash":
//   - decode_notify_line() gives a message or a refusal with a detail;
//   - an accepted message obeys the kind and field-key syntax and the policy's
//     prefixes, and never carries a reserved field;
//   - encode_notify_line() of it is one line that decodes again, to the same
//     kind, entity, id and field keys, and encodes to the same bytes (a
//     fixed point after one round: times keep milliseconds);
//   - a reply line parses or not without crashing; an error reply we make
//     from the input parses back with its reason and (valid UTF-8) detail.
#include <simdjson.h>

#include <string>

#include "tests/fuzz/fuzz_support.h"
#include "watchers/notify/notify_protocol.h"

using namespace aw;

namespace {

bool same_shape(const FieldValue& a, const FieldValue& b) {
  // A double that is a whole number is written without a fraction and reads
  // back as an integer; everything else keeps its type.
  const bool a_num = std::holds_alternative<std::int64_t>(a) || std::holds_alternative<double>(a);
  const bool b_num = std::holds_alternative<std::int64_t>(b) || std::holds_alternative<double>(b);
  if (a_num || b_num) return a_num && b_num;
  return a.index() == b.index() && a == b;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view line = fuzz::as_text(data, size);
  static const NotifyKindPolicy policy;  // the daemon's default prefixes
  const DecodedNotifyLine d = decode_notify_line(line, policy);
  if (!d.ok) {
    FUZZ_CHECK(!d.detail.empty());
  } else {
    const NotifyMessage& m = d.message;
    FUZZ_CHECK(check_notify_kind_syntax(m.kind).ok());
    bool allowed = false;
    for (const std::string& p : policy.allowed_prefixes) allowed = allowed || m.kind.starts_with(p);
    FUZZ_CHECK(allowed);
    for (const auto& [key, value] : m.fields) FUZZ_CHECK(check_notify_field_key(key).ok());

    const std::string once = encode_notify_line(m);
    const DecodedNotifyLine again = decode_notify_line(fuzz::without_newline(once), policy);
    FUZZ_CHECK(again.ok);
    FUZZ_CHECK(again.message.kind == m.kind);
    FUZZ_CHECK(again.message.entity == m.entity);
    FUZZ_CHECK(again.message.id == m.id);
    FUZZ_CHECK(again.message.time.has_value() == m.time.has_value());
    FUZZ_CHECK(again.message.fields.size() == m.fields.size());
    auto it = again.message.fields.begin();
    for (const auto& [key, value] : m.fields) {
      FUZZ_CHECK(it->key == key);
      FUZZ_CHECK(same_shape(value, it->value));
      ++it;
    }
    FUZZ_CHECK(encode_notify_line(again.message) == once);
  }

  (void)parse_notify_reply(line);
  const std::string reply = notify_error_reply(NotifyRefusal::kRejected, line);
  const auto parsed = parse_notify_reply(fuzz::without_newline(reply));
  FUZZ_CHECK(parsed.has_value());
  FUZZ_CHECK(!parsed->ok);
  FUZZ_CHECK(parsed->reason == "rejected");
  if (!simdjson::validate_utf8(line.data(), line.size())) return 0;
  FUZZ_CHECK(parsed->error == line);
  return 0;
}
