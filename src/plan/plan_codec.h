// A rendered Plan as one JSON object and back, for the intent journal: the
// daemon writes every plan, arguments rendered, durably before acting on it and
// resumes it from that record after a crash. So the round trip is exact (a
// resumed action is the one the rule rendered, byte for byte) and decoding is
// strict: a record that is not exactly what append_plan_json writes is refused
// with an Error naming the key, never half-read.
//
// Shape (one line; the action's header and body keys side by side, every key
// always written):
//   {"rule":"deploy","actions":[{"type":"run","rule":"deploy","index":0,
//    "line":7,"column":1,"timeout_ns":0,"retry":{"retries":2,
//    "initial_ns":500000000,"factor":2.0,"max_ns":30000000000,"jitter":0.2},
//    "on_interrupt":"default","render_error":"","argv":["make","install"],
//    "cwd":"/srv/app","env":[["MODE","prod"]],"shell":false,
//    "kill_grace_ns":5000000000}]}
// - "type" is action_type_name(); tmux "op", rotate "method" and "on_interrupt"
//   ("default", "rerun", "fail") are names too.
// - Durations are integer nanoseconds (Duration's own unit), keys ending "_ns".
// - env is an array of [name, value] pairs: order and repeats are kept.
// - Text that is valid UTF-8 is a JSON string. Text that is not (a file name is
//   any bytes) is {"hex":"<its bytes>"}, so a path survives exactly where
//   json_writer.h would have put U+FFFD in it.
// - An emit's fields are written by append_fields_json (src/core/field_json.h):
//   integers, doubles and booleans keep their type, but a field's key or
//   string value that is not valid UTF-8 gets U+FFFD, as in the event log the
//   emitted event goes to.
// - A probe pattern is stored as written ("match"); decoding compiles it
//   again with the rule loader's RE2 options.
// - ActionHeader::resumed is not written: the pipeline sets it on a resumed
//   action, no rule decides it; a decoded action has it false.
//
// What decoding checks: the JSON types, that every key is present, none is
// unknown or given twice, names are known, integers fit their fields (a
// duration and a count are not negative, a signal is 1..64, keep is at least
// 1), doubles are finite and every regex compiles. It does not redo the rule
// loader's other checks (event kind syntax, reserved capture group names,
// limits such as keep <= 1000): the journal holds plans the loader produced.
//
// Thread safety: parse_plan_json uses a thread_local parser; both functions may
// run on any thread.
#pragma once

#include <string>
#include <string_view>

#include "src/core/result.h"
#include "src/plan/plan.h"

namespace aw {

// Appends `plan` as one JSON object: no newline, no raw control byte, so it is
// one journal line as it stands. Precondition: the retry policies' factor and
// jitter and the emit fields' doubles are finite (JSON has no NaN; such a
// value is written as null and the record would not decode).
void append_plan_json(std::string& out, const Plan& plan);

// Parses what append_plan_json wrote. Any other input gives an Error whose
// message starts with the offending key's path, e.g.
// "actions[1].argv: expected an array of strings"; nothing throws.
Result<Plan> parse_plan_json(std::string_view json);

}  // namespace aw
