// One execution, as `agentwatch stats` counts it: an action outcome event
// (`action.succeeded` / `action.failed`, written by the pipeline) decoded from
// the simdjson DOM the event log reader already built for the line.
//
// Pure (no libuv). Decoding walks the top-level object and its `fields` once
// each and copies nothing: every string_view points into the parsed line, so an
// Execution lives only as long as the reader's visitor call (LogRecord's rule).
// That is what lets stats run at the speed of the reader over a log of millions
// of lines; the aggregation copies the few strings it keeps (group keys).
//
// docs/stats.md describes the record; docs/actions.md which fields each
// action's outcome has (only programs have durations: `run`, an
// `integrate_session` whose command ran, a probe).
#pragma once

#include <simdjson.h>

#include <cstdint>
#include <optional>
#include <string_view>

namespace aw {

struct Execution {
  std::string_view kind;      // action.succeeded or action.failed
  std::string_view time;      // as logged (RFC 3339); empty when absent
  std::string_view rule;      // top-level `rule`; empty when absent
  std::string_view entity;    // top-level `entity`; empty when absent (the log omits it then)
  std::string_view action;    // fields.action: run, move, mark, ...
  std::string_view category;  // fields.category: ok, timeout, execution, ... (docs/actions.md)
  bool failed = false;        // kind action.failed, or fields.ok == false
  std::int64_t attempts = 1;  // fields.attempts; the pipeline writes at least 1
  // fields.duration_ms: start to outcome, retries included; every outcome of
  // a daemon since 0.1 has it. Older logs: the `wall_ms` of a program that
  // ran (its last attempt), and nothing for the other actions.
  std::optional<std::int64_t> duration_ms;
  // Only outcomes of a program that ran carry these (see the header comment).
  std::optional<std::int64_t> user_ms;
  std::optional<std::int64_t> sys_ms;
  std::optional<std::int64_t> max_rss_kb;
};

// Whether records of this kind are executions. The cheapest test: callers run
// it on every record and decode only the ones it accepts.
bool is_execution_kind(std::string_view kind);

// The execution an outcome record describes, or nullopt when `kind` is not an
// outcome kind. Fields of the wrong type (a hand-edited line) count as absent;
// numbers may be written as decimals (rounded to the nearest integer).
std::optional<Execution> decode_execution(std::string_view kind, simdjson::dom::object object);

}  // namespace aw
