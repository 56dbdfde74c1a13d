// The one Event type that flows through the one pipeline (DESIGN §2).
//
// A watcher translates a kernel or IPC signal into an Event; the rules decide
// what to do with it; action outcomes come back as Events too. Every Event is
// appended to the event log as one JSON line (see docs/events.md).
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <variant>
#include <vector>

#include "src/core/clock.h"
#include "src/core/result.h"

namespace aw {

// A field value: flat scalars only, so every event is one easy JSON object and
// every value can be templated into an argv element.
using FieldValue = std::variant<std::string, std::int64_t, double, bool>;

// Renders a value the way templates and readable output show it
// (strings as-is, integers in decimal, doubles shortest round-trip, booleans true/false).
std::string field_to_string(const FieldValue& v);

// Ordered key → value map. Small (a handful of keys), so a vector beats a map,
// and insertion order is kept in the log so lines read naturally.
class Fields {
 public:
  struct Entry {
    std::string key;
    FieldValue value;
    friend bool operator==(const Entry&, const Entry&) = default;
  };

  void set(std::string_view key, FieldValue value);
  // Convenience so that set("k", "literal") stores a string, not a bool.
  void set(std::string_view key, const char* value) { set(key, FieldValue(std::string(value))); }
  const FieldValue* find(std::string_view key) const;
  // The value rendered as text, or nullopt when absent.
  std::optional<std::string> get_string(std::string_view key) const;
  std::optional<std::int64_t> get_int(std::string_view key) const;
  bool erase(std::string_view key);

  bool empty() const { return entries_.empty(); }
  std::size_t size() const { return entries_.size(); }
  auto begin() const { return entries_.begin(); }
  auto end() const { return entries_.end(); }

  friend bool operator==(const Fields&, const Fields&) = default;

 private:
  std::vector<Entry> entries_;
};

struct Event {
  std::string kind;       // dotted, e.g. "file.landed", "action.failed", "rules.rejected"
  std::string source;     // who translated it: "inotify", "daemon", "rules", "action", "cli", ...
  WallTime time{};        // wall clock when it happened
  std::uint64_t seq = 0;  // assigned by the pipeline when the event enters it; 0 = not yet
  std::string path;       // subject path, when there is one
  std::string entity;     // subject entity (worker / session / project), when there is one
  Fields fields;
  std::uint64_t cause = 0;  // seq of the event that led to this one (0 = none)
  std::string rule;         // rule that led to this one, for action outcomes / derived events
  std::uint32_t depth = 0;  // derivation depth: emit chains are bounded

  friend bool operator==(const Event&, const Event&) = default;
};

// Serialises one event as a single JSON object followed by '\n'. The result never
// contains a raw newline other than the terminator, so one write() is one record.
std::string to_json_line(const Event& e);
// The same line, appended to `out` (the event log stages lines this way).
void append_json_line(std::string& out, const Event& e);

// Parses one event from a JSON object (as written by to_json_line, or typed by a
// user for `rules test --event`). Unknown top-level keys are errors; nested
// objects/arrays inside "fields" are refused (fields are flat).
Result<Event> parse_event_json(std::string_view json);

// RFC 3339 UTC with milliseconds: 2026-11-22T11:20:39.123Z
std::string format_time_utc(WallTime t);
void append_time_utc(std::string& out, WallTime t);
// Accepts RFC 3339 (Z or ±hh:mm offset, optional fraction) or a bare date.
std::optional<WallTime> parse_time_utc(std::string_view s);
// True when `t` has exactly the shape format_time_utc writes
// (2026-11-22T11:20:39.123Z): then string order is time order, and a reader
// can compare logged times without parsing them.
bool is_canonical_time_utc(std::string_view t);

// Kinds that are bad news by name (docs/events.md, "Failures"): they end in
// .failed, .rejected, .refused, .interrupted or .degraded.
bool is_failure_kind(std::string_view kind);
// A failure kind, or an event that says fields.ok == false.
bool is_failure(const Event& e);

}  // namespace aw
