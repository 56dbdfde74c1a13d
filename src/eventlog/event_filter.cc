#include "src/eventlog/event_filter.h"

#include <chrono>

namespace aw {

Result<EventFilter> EventFilter::compile(const EventFilterSpec& spec) {
  EventFilter f;
  for (const std::string& k : spec.kinds) {
    auto g = Glob::compile(k, GlobMode::kPlain);
    if (!g) return make_error("--kind \"" + k + "\": " + g.error().message);
    f.kinds_.push_back(std::move(*g));
  }
  if (spec.entity) {
    auto g = Glob::compile(*spec.entity, GlobMode::kPlain);
    if (!g) return make_error("--entity \"" + *spec.entity + "\": " + g.error().message);
    f.entity_ = std::move(*g);
  }
  if (spec.since) {
    f.since_ = spec.since;
    f.since_text_ = format_time_utc(*spec.since);
  }
  f.failed_only_ = spec.failed_only;
  return f;
}

bool EventFilter::time_ok(std::string_view logged_time) const {
  if (!since_) return true;
  if (is_canonical_time_utc(logged_time)) return logged_time >= since_text_;
  // Hand-written lines may use offsets or other precisions.
  const auto t = parse_time_utc(logged_time);
  return t && *t >= *since_;
}

bool EventFilter::matches(const LogRecord& r) const {
  if (!kinds_.empty()) {
    bool any = false;
    for (const Glob& g : kinds_) {
      if (g.matches(r.kind)) {
        any = true;
        break;
      }
    }
    if (!any) return false;
  }
  if (since_) {
    const auto t = r.string_member("time");
    if (!t || !time_ok(*t)) return false;
  }
  if (entity_) {
    const auto entity = r.string_member("entity");
    if (!entity || !entity_->matches(*entity)) return false;
  }
  if (failed_only_ && !is_failure_kind(r.kind)) {
    const auto ok = r.bool_field("ok");
    if (!ok || *ok) return false;
  }
  return true;
}

bool EventFilter::matches(const Event& e) const {
  if (!kinds_.empty()) {
    bool any = false;
    for (const Glob& g : kinds_) any = any || g.matches(e.kind);
    if (!any) return false;
  }
  // Millisecond precision, like the log itself, so both overloads agree on a record.
  using std::chrono::floor;
  using std::chrono::milliseconds;
  if (since_ && floor<milliseconds>(e.time) < floor<milliseconds>(*since_)) return false;
  if (entity_ && (e.entity.empty() || !entity_->matches(e.entity))) return false;
  if (failed_only_ && !is_failure(e)) return false;
  return true;
}

}  // namespace aw
