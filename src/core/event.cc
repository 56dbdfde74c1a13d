#include "src/core/event.h"

#include <simdjson.h>

#include <array>
#include <charconv>
#include <ctime>

#include "src/core/field_json.h"
#include "src/core/json_writer.h"

namespace aw {

std::string field_to_string(const FieldValue& v) {
  struct Visitor {
    std::string operator()(const std::string& s) const { return s; }
    std::string operator()(std::int64_t i) const { return std::to_string(i); }
    std::string operator()(double d) const {
      char buf[32];
      auto [end, ec] = std::to_chars(buf, buf + sizeof buf, d);
      return std::string(buf, end);
    }
    std::string operator()(bool b) const { return b ? "true" : "false"; }
  };
  return std::visit(Visitor{}, v);
}

void Fields::set(std::string_view key, FieldValue value) {
  for (auto& e : entries_) {
    if (e.key == key) {
      e.value = std::move(value);
      return;
    }
  }
  entries_.push_back(Entry{std::string(key), std::move(value)});
}

const FieldValue* Fields::find(std::string_view key) const {
  for (const auto& e : entries_)
    if (e.key == key) return &e.value;
  return nullptr;
}

std::optional<std::string> Fields::get_string(std::string_view key) const {
  const FieldValue* v = find(key);
  if (!v) return std::nullopt;
  return field_to_string(*v);
}

std::optional<std::int64_t> Fields::get_int(std::string_view key) const {
  const FieldValue* v = find(key);
  if (!v) return std::nullopt;
  if (const auto* i = std::get_if<std::int64_t>(v)) return *i;
  if (const auto* s = std::get_if<std::string>(v)) {
    std::int64_t out = 0;
    auto [ptr, ec] = std::from_chars(s->data(), s->data() + s->size(), out);
    if (ec == std::errc() && ptr == s->data() + s->size()) return out;
  }
  return std::nullopt;
}

bool Fields::erase(std::string_view key) {
  for (auto it = entries_.begin(); it != entries_.end(); ++it) {
    if (it->key == key) {
      entries_.erase(it);
      return true;
    }
  }
  return false;
}

std::string format_time_utc(WallTime t) {
  std::string out;
  append_time_utc(out, t);
  return out;
}

void append_time_utc(std::string& out, WallTime t) {
  const std::int64_t ns = t.time_since_epoch().count();
  std::int64_t secs = ns / 1'000'000'000;
  std::int64_t ms = (ns % 1'000'000'000) / 1'000'000;
  if (ms < 0) {
    ms += 1000;
    secs -= 1;
  }
  std::time_t tt = static_cast<std::time_t>(secs);
  std::tm tm{};
  gmtime_r(&tt, &tm);
  // A WallTime is int64 nanoseconds: years 1677 to 2262, always four digits.
  const int year = tm.tm_year + 1900;
  // Every event carries its time: digits by hand, not printf, on this path.
  char buf[] = "0000-00-00T00:00:00.000Z";
  auto put = [&buf](std::size_t at, int value, int width) {
    for (int i = width - 1; i >= 0; --i, value /= 10)
      buf[at + static_cast<std::size_t>(i)] = static_cast<char>('0' + value % 10);
  };
  put(0, year, 4);
  put(5, tm.tm_mon + 1, 2);
  put(8, tm.tm_mday, 2);
  put(11, tm.tm_hour, 2);
  put(14, tm.tm_min, 2);
  put(17, tm.tm_sec, 2);
  put(20, static_cast<int>(ms), 3);
  out.append(buf, sizeof buf - 1);
}

std::optional<WallTime> parse_time_utc(std::string_view s) {
  int year = 0, mon = 0, day = 0, hour = 0, min = 0, sec = 0;
  auto num = [&](std::size_t pos, std::size_t len, int& out) {
    if (pos + len > s.size()) return false;
    auto [ptr, ec] = std::from_chars(s.data() + pos, s.data() + pos + len, out);
    return ec == std::errc() && ptr == s.data() + pos + len;
  };
  if (!num(0, 4, year) || s.size() < 10 || s[4] != '-' || !num(5, 2, mon) || s[7] != '-' ||
      !num(8, 2, day))
    return std::nullopt;
  std::size_t i = 10;
  std::int64_t frac_ns = 0;
  int offset_min = 0;
  if (i < s.size()) {
    if ((s[i] != 'T' && s[i] != ' ') || !num(11, 2, hour) || s.size() < 19 || s[13] != ':' ||
        !num(14, 2, min) || s[16] != ':' || !num(17, 2, sec))
      return std::nullopt;
    i = 19;
    if (i < s.size() && s[i] == '.') {
      std::int64_t scale = 100'000'000;
      ++i;
      while (i < s.size() && s[i] >= '0' && s[i] <= '9') {
        frac_ns += (s[i] - '0') * scale;
        scale /= 10;
        ++i;
      }
    }
    if (i < s.size()) {
      if (s[i] == 'Z' || s[i] == 'z') {
        ++i;
      } else if (s[i] == '+' || s[i] == '-') {
        int oh = 0, om = 0;
        if (!num(i + 1, 2, oh) || i + 3 >= s.size() || s[i + 3] != ':' || !num(i + 4, 2, om))
          return std::nullopt;
        offset_min = (oh * 60 + om) * (s[i] == '-' ? -1 : 1);
        i += 6;
      }
    }
    if (i != s.size()) return std::nullopt;
  }
  std::tm tm{};
  tm.tm_year = year - 1900;
  tm.tm_mon = mon - 1;
  tm.tm_mday = day;
  tm.tm_hour = hour;
  tm.tm_min = min;
  tm.tm_sec = sec;
  const std::time_t secs = timegm(&tm);
  // A WallTime is int64 nanoseconds (years 1677 to 2262): a time outside is none.
  std::int64_t ns = 0;
  if (__builtin_mul_overflow(static_cast<std::int64_t>(secs) - offset_min * 60LL, 1'000'000'000LL,
                             &ns) ||
      __builtin_add_overflow(ns, frac_ns, &ns))
    return std::nullopt;
  return WallTime(Duration(ns));
}

std::string to_json_line(const Event& e) {
  std::string out;
  out.reserve(160 + e.path.size());
  append_json_line(out, e);
  return out;
}

void append_json_line(std::string& out, const Event& e) {
  JsonObjectWriter w(out);
  w.unum("seq", e.seq)
      .value("time",
             [&e](std::string& o) {
               o.push_back('"');
               append_time_utc(o, e.time);
               o.push_back('"');
             })
      .str("kind", e.kind);
  if (!e.source.empty()) w.str("source", e.source);
  if (!e.path.empty()) w.str("path", e.path);
  if (!e.entity.empty()) w.str("entity", e.entity);
  if (e.cause) w.unum("cause", e.cause);
  if (!e.rule.empty()) w.str("rule", e.rule);
  if (e.depth) w.unum("depth", e.depth);
  if (!e.fields.empty())
    w.value("fields", [&e](std::string& o) { append_fields_json(o, e.fields); });
  w.close();
  out.push_back('\n');
}

namespace {

Result<FieldValue> read_scalar(simdjson::dom::element v, std::string_view key) {
  if (auto value = field_value_from_json(v)) return std::move(*value);
  return make_error("field \"" + std::string(key) +
                    "\": expected a string, number or boolean (fields are flat)");
}

}  // namespace

void append_fields_json(std::string& out, const Fields& fields) {
  JsonObjectWriter w(out);
  for (const auto& [k, v] : fields) {
    if (const auto* s = std::get_if<std::string>(&v))
      w.str(k, *s);
    else if (const auto* i = std::get_if<std::int64_t>(&v))
      w.num(k, *i);
    else if (const auto* d = std::get_if<double>(&v))
      w.dbl(k, *d);
    else
      w.boolean(k, std::get<bool>(v));
  }
  w.close();
}

// Each branch reads into a plain local through the checked get(): GCC 12 under
// ASan warns about value_unsafe() inside std::variant (a false positive).
std::optional<FieldValue> field_value_from_json(simdjson::dom::element v) {
  switch (v.type()) {
    case simdjson::dom::element_type::STRING: {
      std::string_view s;
      if (!v.get_string().get(s)) return FieldValue(std::string(s));
      break;
    }
    case simdjson::dom::element_type::INT64: {
      std::int64_t i = 0;
      if (!v.get_int64().get(i)) return FieldValue(i);
      break;
    }
    case simdjson::dom::element_type::UINT64:
    case simdjson::dom::element_type::DOUBLE: {
      double d = 0;
      if (!v.get_double().get(d)) return FieldValue(d);
      break;
    }
    case simdjson::dom::element_type::BOOL: {
      bool b = false;
      if (!v.get_bool().get(b)) return FieldValue(b);
      break;
    }
    default:
      break;
  }
  return std::nullopt;
}

// The DOM API (runtime CPU dispatch, strict: trailing content is an error) suits
// these small, once-off documents; bulk readers use parse_many.
Result<Event> parse_event_json(std::string_view json) {
  thread_local simdjson::dom::parser parser;
  simdjson::padded_string padded(json);
  simdjson::dom::element root;
  if (auto err = parser.parse(padded).get(root))
    return make_error(std::string("not JSON: ") + simdjson::error_message(err));
  simdjson::dom::object obj;
  if (root.get_object().get(obj)) return make_error("expected a JSON object");
  Event e;
  for (simdjson::dom::key_value_pair member : obj) {
    const std::string key(member.key);
    const simdjson::dom::element v = member.value;
    bool ok = true;
    auto get_str = [&](std::string& out) {
      std::string_view s;
      if (v.get_string().get(s)) return false;
      out.assign(s);
      return true;
    };
    auto get_u64 = [&](std::uint64_t& out) { return !v.get_uint64().get(out); };
    if (key == "kind")
      ok = get_str(e.kind);
    else if (key == "source")
      ok = get_str(e.source);
    else if (key == "path")
      ok = get_str(e.path);
    else if (key == "entity")
      ok = get_str(e.entity);
    else if (key == "rule")
      ok = get_str(e.rule);
    else if (key == "seq")
      ok = get_u64(e.seq);
    else if (key == "cause")
      ok = get_u64(e.cause);
    else if (key == "depth") {
      std::uint64_t d = 0;
      ok = get_u64(d);
      e.depth = static_cast<std::uint32_t>(d);
    } else if (key == "time") {
      std::string t;
      ok = get_str(t);
      if (ok) {
        auto parsed = parse_time_utc(t);
        if (!parsed) return make_error("\"time\": expected an RFC 3339 time, got \"" + t + "\"");
        e.time = *parsed;
      }
    } else if (key == "fields") {
      simdjson::dom::object fo;
      if (v.get_object().get(fo)) return make_error("\"fields\": expected an object");
      for (auto [fk, fv] : fo) {
        auto scalar = read_scalar(fv, fk);
        if (!scalar) return scalar.error();
        e.fields.set(fk, std::move(*scalar));
      }
    } else {
      return make_error("unknown key \"" + key +
                        "\" (expected kind, source, time, seq, path, entity, cause, rule, depth, "
                        "fields)");
    }
    if (!ok) return make_error("\"" + key + "\": wrong type");
  }
  if (e.kind.empty()) return make_error("missing \"kind\"");
  return e;
}

bool is_canonical_time_utc(std::string_view t) {
  return t.size() == 24 && t[4] == '-' && t[7] == '-' && t[10] == 'T' && t[13] == ':' &&
         t[16] == ':' && t[19] == '.' && t[23] == 'Z';
}

bool is_failure_kind(std::string_view kind) {
  static constexpr std::array<std::string_view, 5> kSuffixes = {".failed", ".rejected", ".refused",
                                                                ".interrupted", ".degraded"};
  for (std::string_view suffix : kSuffixes)
    if (kind.ends_with(suffix)) return true;
  return false;
}

bool is_failure(const Event& e) {
  if (is_failure_kind(e.kind)) return true;
  const FieldValue* ok = e.fields.find("ok");
  const bool* b = ok ? std::get_if<bool>(ok) : nullptr;
  return b && !*b;
}

}  // namespace aw
