#include "src/alerts/alert_state_file.h"

#include <charconv>
#include <set>

#include "src/core/event.h"
#include "src/core/state_file.h"

namespace aw::alerts {
namespace {

constexpr std::size_t kFieldCount = 8;
constexpr std::string_view kAfresh = " (that alert starts afresh)";

std::string time_field(const std::optional<WallTime>& t) {
  return t ? format_time_utc(*t) : "-";
}

// nullopt inside: "-"; nullopt outside: not a time.
std::optional<std::optional<WallTime>> parse_time_field(std::string_view s) {
  if (s == "-") return std::optional<WallTime>{};
  auto t = parse_time_utc(s);
  if (!t) return std::nullopt;
  return std::optional<WallTime>{*t};
}

// One record as a SavedAlert, or what is wrong with it.
Result<SavedAlert> parse_record(const std::vector<std::string>& f) {
  if (f.size() != kFieldCount)
    return make_error("expected " + std::to_string(kFieldCount) +
                      " fields (name, metric, phase, pending_since, firing_since, "
                      "last_resolved, flaps, evaluated_at), found " +
                      std::to_string(f.size()));
  SavedAlert a;
  a.name = f[0];
  if (a.name.empty()) return make_error("expected an alert name, found an empty field");
  auto measure = measure_by_name(f[1]);
  if (!measure) return make_error("metric: expected a measure's name, found '" + f[1] + "'");
  a.measure = *measure;
  auto phase = phase_by_name(f[2]);
  if (!phase)
    return make_error("phase: expected inactive, pending or firing, found '" + f[2] + "'");
  a.state.phase = *phase;
  const char* time_names[] = {"pending_since", "firing_since", "last_resolved", "evaluated_at"};
  std::optional<WallTime>* times[] = {&a.state.pending_since, &a.state.firing_since,
                                      &a.state.last_resolved, &a.state.evaluated_at};
  const std::size_t time_fields[] = {3, 4, 5, 7};
  for (std::size_t i = 0; i < 4; ++i) {
    auto t = parse_time_field(f[time_fields[i]]);
    if (!t)
      return make_error(std::string(time_names[i]) + ": expected an RFC 3339 time or '-', found '" +
                        f[time_fields[i]].substr(0, 60) + "'");
    *times[i] = *t;
  }
  const std::string& flaps = f[6];
  auto [end, ec] = std::from_chars(flaps.data(), flaps.data() + flaps.size(), a.state.flaps);
  if (ec != std::errc() || end != flaps.data() + flaps.size())
    return make_error("flaps: expected a non-negative integer, found '" + flaps + "'");
  if (a.state.phase == Phase::kPending && !a.state.pending_since)
    return make_error("a pending alert without pending_since (expected the time it began)");
  if (a.state.phase == Phase::kFiring && !a.state.firing_since)
    return make_error("a firing alert without firing_since (expected the time it was raised)");
  return a;
}

}  // namespace

std::string serialize_alert_state(const std::vector<SavedAlert>& alerts) {
  std::string out = state_file_header(kAlertStateKind);
  for (const SavedAlert& a : alerts) {
    const AlertState& s = a.state;
    out += state_record({a.name, std::string(measure_name(a.measure)),
                         std::string(phase_name(s.phase)), time_field(s.pending_since),
                         time_field(s.firing_since), time_field(s.last_resolved),
                         std::to_string(s.flaps), time_field(s.evaluated_at)});
  }
  return out;
}

Result<AlertStateFile> parse_alert_state(std::string_view text, const std::string& path) {
  auto file = parse_state_file(text, path, kAlertStateKind);
  if (!file) return make_error(file.error().message + " (every alert starts afresh)");
  AlertStateFile out;
  for (const std::string& p : file->problems) out.problems.push_back(p + std::string(kAfresh));
  std::set<std::string, std::less<>> seen;
  for (const StateRecord& r : file->records) {
    const std::string where = path + ":" + std::to_string(r.line) + ": ";
    Result<SavedAlert> a = parse_record(r.fields);
    if (!a) {
      out.problems.push_back(where + a.error().message + std::string(kAfresh));
      continue;
    }
    if (!seen.insert(a->name).second) {
      out.problems.push_back(where + "alert '" + a->name +
                             "' appears twice (expected one line per alert; the first is kept)");
      continue;
    }
    out.alerts.push_back(std::move(*a));
  }
  return out;
}

}  // namespace aw::alerts
