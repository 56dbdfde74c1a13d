#include "src/plan/plan_codec.h"

#include <re2/re2.h>
#include <simdjson.h>

#include <array>
#include <csignal>
#include <cstdint>
#include <limits>
#include <memory>
#include <optional>
#include <string>
#include <type_traits>
#include <utility>
#include <vector>

#include "src/core/field_json.h"
#include "src/core/json_writer.h"

namespace aw {
namespace {

// ---- names ----------------------------------------------------------------

template <class E>
struct NamedValue {
  std::string_view name;
  E value;
};

// Every value of an enum 0..N-1 with the name `name_of` gives it, so the
// decoder accepts exactly what the encoder writes.
template <class E, std::size_t N, class NameOf>
constexpr std::array<NamedValue<E>, N> enum_names(NameOf name_of) {
  std::array<NamedValue<E>, N> out{};
  for (std::size_t i = 0; i < N; ++i) {
    const auto value = static_cast<E>(i);
    out[i] = {name_of(value), value};
  }
  return out;
}

constexpr auto kActionTypes = enum_names<ActionType, std::variant_size_v<ActionBody>>(
    [](ActionType t) { return std::string_view(action_type_name(t)); });
constexpr auto kTmuxOps =
    enum_names<TmuxOp, 3>([](TmuxOp op) { return std::string_view(tmux_op_name(op)); });
constexpr auto kRotateMethods = enum_names<RotateMethod, 2>(
    [](RotateMethod m) { return std::string_view(rotate_method_name(m)); });
// The rule file's on_interrupt values, plus "default" for a rule that sets none.
constexpr std::array<NamedValue<OnInterrupt>, 3> kOnInterrupts = {{
    {"default", OnInterrupt::kDefault},
    {"rerun", OnInterrupt::kRerun},
    {"fail", OnInterrupt::kFail},
}};

template <class E, std::size_t N>
std::string_view name_of(const std::array<NamedValue<E>, N>& names, E value) {
  for (const auto& n : names)
    if (n.value == value) return n.name;
  return "unknown";
}

// "a, b or c", for a message.
template <class E, std::size_t N>
std::string name_list(const std::array<NamedValue<E>, N>& names) {
  std::string out;
  for (std::size_t i = 0; i < N; ++i) {
    if (i) out += i + 1 == N ? " or " : ", ";
    out += names[i].name;
  }
  return out;
}

// ---- writing ----------------------------------------------------------------

constexpr char kHexDigits[] = "0123456789abcdef";

// Text as a JSON string when it is valid UTF-8, else as {"hex":"..."}: a
// JSON string cannot hold other bytes, and a path must come back exact.
void append_text(std::string& out, std::string_view s) {
  if (simdjson::validate_utf8(s.data(), s.size())) {
    append_json_string(out, s);
    return;
  }
  out.append(R"({"hex":")");
  for (char c : s) {
    const auto b = static_cast<unsigned char>(c);
    out.push_back(kHexDigits[b >> 4]);
    out.push_back(kHexDigits[b & 0xF]);
  }
  out.append(R"("})");
}

void append_text_array(std::string& out, const std::vector<std::string>& texts) {
  out.push_back('[');
  for (std::size_t i = 0; i < texts.size(); ++i) {
    if (i) out.push_back(',');
    append_text(out, texts[i]);
  }
  out.push_back(']');
}

void append_env(std::string& out, const EnvList& env) {
  out.push_back('[');
  for (std::size_t i = 0; i < env.size(); ++i) {
    if (i) out.push_back(',');
    out.push_back('[');
    append_text(out, env[i].first);
    out.push_back(',');
    append_text(out, env[i].second);
    out.push_back(']');
  }
  out.push_back(']');
}

void put_text(JsonObjectWriter& w, std::string_view key, std::string_view s) {
  w.value(key, [s](std::string& out) { append_text(out, s); });
}
void put_texts(JsonObjectWriter& w, std::string_view key, const std::vector<std::string>& texts) {
  w.value(key, [&texts](std::string& out) { append_text_array(out, texts); });
}
void put_env(JsonObjectWriter& w, std::string_view key, const EnvList& env) {
  w.value(key, [&env](std::string& out) { append_env(out, env); });
}
void put_duration(JsonObjectWriter& w, std::string_view key, Duration d) {
  w.num(key, d.count());
}

void put_retry(JsonObjectWriter& w, const RetryPolicy& retry) {
  w.value("retry", [&retry](std::string& out) {
    JsonObjectWriter r(out);
    r.num("retries", retry.retries);
    put_duration(r, "initial_ns", retry.initial);
    r.dbl("factor", retry.factor);
    put_duration(r, "max_ns", retry.max);
    r.dbl("jitter", retry.jitter);
    r.close();
  });
}

void put_header(JsonObjectWriter& w, const ActionRequest& a) {
  w.str("type", action_type_name(a.type()));
  put_text(w, "rule", a.rule);
  w.unum("index", a.index).unum("line", a.line).unum("column", a.column);
  put_duration(w, "timeout_ns", a.timeout);
  put_retry(w, a.retry);
  w.str("on_interrupt", name_of(kOnInterrupts, a.on_interrupt));
  put_text(w, "render_error", a.render_error);
}

// One put_body per request type: its fields, in its struct's order.

void put_body(JsonObjectWriter& w, const RunRequest& r) {
  put_texts(w, "argv", r.argv);
  put_text(w, "cwd", r.cwd);
  put_env(w, "env", r.env);
  w.boolean("shell", r.shell);
  put_duration(w, "kill_grace_ns", r.kill_grace);
}

void put_body(JsonObjectWriter& w, const MoveRequest& r) {
  put_text(w, "source", r.source);
  put_text(w, "to", r.to);
  put_text(w, "root", r.root);
}

void put_body(JsonObjectWriter& w, const QuarantineRequest& r) {
  put_text(w, "source", r.source);
  put_text(w, "to", r.to);
  put_text(w, "root", r.root);
  put_text(w, "reason", r.reason);
}

void put_body(JsonObjectWriter& w, const RepairJsonRequest& r) {
  put_text(w, "source", r.source);
  put_text(w, "to", r.to);
  put_text(w, "root", r.root);
  put_text(w, "quarantine", r.quarantine);
}

void put_body(JsonObjectWriter& w, const CompleteSessionRequest& r) {
  put_text(w, "session", r.session);
  put_text(w, "to", r.to);
  put_text(w, "root", r.root);
  put_text(w, "manifest", r.manifest);
  put_text(w, "marker", r.marker);
}

void put_body(JsonObjectWriter& w, const FailSessionRequest& r) {
  put_text(w, "session", r.session);
  put_text(w, "to", r.to);
  put_text(w, "root", r.root);
  put_text(w, "manifest", r.manifest);
  put_text(w, "marker", r.marker);
  put_text(w, "reason", r.reason);
}

void put_body(JsonObjectWriter& w, const IntegrateSessionRequest& r) {
  put_text(w, "session", r.session);
  put_text(w, "to", r.to);
  put_text(w, "root", r.root);
  put_text(w, "marker", r.marker);
  put_text(w, "claim", r.claim);
  put_body(w, r.command);
}

void put_body(JsonObjectWriter& w, const EnsureFileRequest& r) {
  put_text(w, "path", r.path);
  put_text(w, "source", r.source);
  put_text(w, "root", r.root);
  put_text(w, "keep", r.keep);
  w.unum("mode", r.mode);
}

void put_body(JsonObjectWriter& w, const RetainRequest& r) {
  put_text(w, "dir", r.dir);
  put_text(w, "root", r.root);
  put_text(w, "glob", r.glob);
  put_duration(w, "max_age_ns", r.max_age);
  w.unum("max_entries", r.max_entries);
}

void put_body(JsonObjectWriter&, const CheckDiskRequest&) {}

void put_body(JsonObjectWriter& w, const MarkRequest& r) {
  put_text(w, "marker", r.marker);
  put_text(w, "entity", r.entity);
  put_text(w, "state", r.state);
}

void put_body(JsonObjectWriter& w, const EmitRequest& r) {
  put_text(w, "kind", r.kind);
  put_text(w, "entity", r.entity);
  w.value("fields", [&r](std::string& out) { append_fields_json(out, r.fields); });
}

void put_body(JsonObjectWriter& w, const KillRequest& r) {
  put_text(w, "worker", r.worker);
  w.num("signal", r.signal);
  put_duration(w, "grace_ns", r.grace);
  put_text(w, "reason", r.reason);
}

void put_body(JsonObjectWriter& w, const RestartRequest& r) {
  put_text(w, "worker", r.worker);
  put_text(w, "reason", r.reason);
}

void put_body(JsonObjectWriter& w, const TmuxRequest& r) {
  w.str("op", tmux_op_name(r.op));
  put_text(w, "session", r.session);
  put_texts(w, "argv", r.argv);
  put_text(w, "cwd", r.cwd);
  put_env(w, "env", r.env);
  put_text(w, "brief", r.brief);
  w.boolean("submit", r.submit);
  put_texts(w, "keys", r.keys);
  put_text(w, "wait_for", r.wait_for);
  put_duration(w, "ready_timeout_ns", r.ready_timeout);
}

void put_body(JsonObjectWriter& w, const RotateRequest& r) {
  put_text(w, "path", r.path);
  w.unum("max_size", r.max_size);
  put_duration(w, "max_age_ns", r.max_age);
  w.num("keep", r.keep);
  w.boolean("compress", r.compress);
  w.str("method", rotate_method_name(r.method));
}

void put_body(JsonObjectWriter& w, const ProbeRequest& r) {
  put_texts(w, "argv", r.argv);
  put_text(w, "cwd", r.cwd);
  put_env(w, "env", r.env);
  w.value("patterns", [&r](std::string& out) {
    out.push_back('[');
    for (std::size_t i = 0; i < r.patterns.size(); ++i) {
      if (i) out.push_back(',');
      JsonObjectWriter p(out);
      put_text(p, "match", r.patterns[i].match);
      put_text(p, "kind", r.patterns[i].kind);
      p.close();
    }
    out.push_back(']');
  });
  w.unum("max_output", r.max_output);
}

void append_action(std::string& out, const ActionRequest& a) {
  JsonObjectWriter w(out);
  put_header(w, a);
  std::visit([&w](const auto& body) { put_body(w, body); }, a.body);
  w.close();
}

// ---- reading ----------------------------------------------------------------

// `s` as a JSON string literal: a value quoted in a message shows its control
// bytes escaped.
std::string json_quoted(std::string_view s) {
  std::string out;
  append_json_string(out, s);
  return out;
}

// `s` with each control byte as \xNN: an error names keys the input chose and
// quotes RE2's words on a pattern, and must still be one line of a log.
std::string one_line(std::string_view s) {
  std::string out;
  for (char c : s) {
    const auto b = static_cast<unsigned char>(c);
    if (b >= 0x20 && b != 0x7F) {
      out.push_back(c);
      continue;
    }
    out.append("\\x");
    out.push_back(kHexDigits[b >> 4]);
    out.push_back(kHexDigits[b & 0xF]);
  }
  return out;
}

std::optional<std::string> unhex(std::string_view hex) {
  if (hex.size() % 2) return std::nullopt;
  auto digit = [](char c) -> int {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
  };
  std::string out;
  out.reserve(hex.size() / 2);
  for (std::size_t i = 0; i < hex.size(); i += 2) {
    const int hi = digit(hex[i]);
    const int lo = digit(hex[i + 1]);
    if (hi < 0 || lo < 0) return std::nullopt;
    out.push_back(static_cast<char>(hi << 4 | lo));
  }
  return out;
}

// A string, or the {"hex":"..."} append_text writes for bytes that are not UTF-8.
std::optional<std::string> text_from_json(simdjson::dom::element v) {
  std::string_view s;
  if (!v.get_string().get(s)) return std::string(s);
  simdjson::dom::object obj;
  if (v.get_object().get(obj) || obj.size() != 1) return std::nullopt;
  simdjson::dom::element hex;
  if (obj.at_key("hex").get(hex) || hex.get_string().get(s)) return std::nullopt;
  return unhex(s);
}

constexpr std::string_view kExpectedText = R"(expected a string (or {"hex": pairs of hex digits}))";

// Reads the members of one JSON object, each by its key. The first problem
// sticks: later reads do nothing, so a caller reads every member and asks
// error() once. Messages start with the key's path ("actions[1].argv: ...").
class MemberReader {
 public:
  MemberReader(simdjson::dom::object obj, std::string path) : obj_(obj), path_(std::move(path)) {}

  bool ok() const { return !error_; }
  const std::optional<Error>& error() const { return error_; }

  // Fails on the first key that was not read, or that was given twice: the
  // encoder writes each key once, so either is damage. Call after the reads.
  void refuse_other_keys() {
    if (error_) return;
    std::vector<int> seen(read_.size(), 0);
    for (auto [key, value] : obj_) {
      std::size_t i = 0;
      while (i < read_.size() && read_[i] != key) ++i;
      if (i == read_.size()) return fail(key, "unknown key");
      if (++seen[i] > 1) return fail(key, "given twice");
    }
  }

  // The member `key`, or nullopt (and the error) when it is absent.
  std::optional<simdjson::dom::element> member(std::string_view key) {
    if (error_) return std::nullopt;
    read_.push_back(key);
    simdjson::dom::element v;
    if (obj_.at_key(key).get(v)) {
      fail(key, "missing");
      return std::nullopt;
    }
    return v;
  }

  std::optional<simdjson::dom::object> object(std::string_view key) {
    auto v = member(key);
    simdjson::dom::object obj;
    if (!v) return std::nullopt;
    if (v->get_object().get(obj)) {
      fail(key, "expected an object");
      return std::nullopt;
    }
    return obj;
  }

  std::optional<simdjson::dom::array> array(std::string_view key, std::string_view of_what) {
    auto v = member(key);
    simdjson::dom::array arr;
    if (!v) return std::nullopt;
    if (v->get_array().get(arr)) {
      fail(key, "expected an array of " + std::string(of_what));
      return std::nullopt;
    }
    return arr;
  }

  void text(std::string_view key, std::string& out) {
    auto v = member(key);
    if (!v) return;
    if (auto t = text_from_json(*v))
      out = std::move(*t);
    else
      fail(key, kExpectedText);
  }

  void texts(std::string_view key, std::vector<std::string>& out) {
    auto arr = array(key, "strings");
    if (!arr) return;
    std::size_t i = 0;
    for (simdjson::dom::element item : *arr) {
      auto t = text_from_json(item);
      if (!t) return fail(indexed(key, i), kExpectedText);
      out.push_back(std::move(*t));
      ++i;
    }
  }

  void env(std::string_view key, EnvList& out) {
    auto arr = array(key, "[name, value] pairs");
    if (!arr) return;
    std::size_t i = 0;
    for (simdjson::dom::element item : *arr) {
      simdjson::dom::array pair;
      simdjson::dom::element first;
      simdjson::dom::element second;
      std::optional<std::string> name;
      std::optional<std::string> value;
      if (!item.get_array().get(pair) && pair.size() == 2 && !pair.at(0).get(first) &&
          !pair.at(1).get(second)) {
        name = text_from_json(first);
        value = text_from_json(second);
      }
      if (!name || !value) return fail(indexed(key, i), "expected a [name, value] pair of strings");
      out.emplace_back(std::move(*name), std::move(*value));
      ++i;
    }
  }

  void flag(std::string_view key, bool& out) {
    auto v = member(key);
    if (v && v->get_bool().get(out)) fail(key, "expected true or false");
  }

  // An integer in [min, max] (by default, whatever `Int` holds).
  template <class Int>
  void integer(std::string_view key, Int& out, Int min = std::numeric_limits<Int>::min(),
               Int max = std::numeric_limits<Int>::max()) {
    auto v = member(key);
    if (!v) return;
    using Wide = std::conditional_t<std::is_signed_v<Int>, std::int64_t, std::uint64_t>;
    Wide wide = 0;
    if (v->get(wide) || wide < static_cast<Wide>(min) || wide > static_cast<Wide>(max))
      return fail(key,
                  "expected an integer from " + std::to_string(min) + " to " + std::to_string(max));
    out = static_cast<Int>(wide);
  }

  void duration(std::string_view key, Duration& out) {
    auto v = member(key);
    if (!v) return;
    Duration::rep ns = 0;
    if (v->get_int64().get(ns) || ns < 0)
      return fail(key, "expected a non-negative integer (nanoseconds)");
    out = Duration(ns);
  }

  // A double (JSON numbers are finite; an integer is taken as one too).
  void number(std::string_view key, double& out) {
    auto v = member(key);
    if (v && v->get_double().get(out)) fail(key, "expected a number");
  }

  template <class E, std::size_t N>
  void name(std::string_view key, E& out, const std::array<NamedValue<E>, N>& names) {
    auto v = member(key);
    if (!v) return;
    std::string_view s;
    if (v->get_string().get(s)) return fail(key, "expected a string");
    for (const auto& n : names) {
      if (n.name == s) {
        out = n.value;
        return;
      }
    }
    fail(key, "expected " + name_list(names) + ", not " + json_quoted(s));
  }

  void fields(std::string_view key, Fields& out) {
    auto obj = object(key);
    if (!obj) return;
    for (auto [k, value] : *obj) {
      const std::string where = std::string(key) + "." + std::string(k);
      if (out.find(k)) return fail(where, "given twice");
      auto scalar = field_value_from_json(value);
      if (!scalar) return fail(where, "expected a string, number or boolean");
      out.set(k, std::move(*scalar));
    }
  }

  // A reader for the object at `key`, its path below this one's.
  std::optional<MemberReader> nested(std::string_view key) {
    auto obj = object(key);
    if (!obj) return std::nullopt;
    return MemberReader(*obj, path_to(key));
  }

  // Takes on `other`'s error, if any (a nested or element reader).
  void adopt(const MemberReader& other) {
    if (!error_ && other.error_) error_ = other.error_;
  }

  // For a check after a read: `key` is wrong for a reason of the caller's.
  void fail(std::string_view key, std::string_view what) {
    if (!error_) error_ = make_error(one_line(path_to(key) + ": " + std::string(what)));
  }

  std::string path_to(std::string_view key) const {
    return path_.empty() ? std::string(key) : path_ + "." + std::string(key);
  }
  static std::string indexed(std::string_view key, std::size_t i) {
    return std::string(key) + "[" + std::to_string(i) + "]";
  }

 private:
  simdjson::dom::object obj_;
  std::string path_;
  std::vector<std::string_view> read_;  // keys asked for, in order (into the callers' literals)
  std::optional<Error> error_;
};

void read_retry(MemberReader& r, RetryPolicy& retry) {
  auto nested = r.nested("retry");
  if (!nested) return;
  nested->integer("retries", retry.retries, 0);
  nested->duration("initial_ns", retry.initial);
  nested->number("factor", retry.factor);
  nested->duration("max_ns", retry.max);
  nested->number("jitter", retry.jitter);
  nested->refuse_other_keys();
  r.adopt(*nested);
}

void read_header(MemberReader& r, ActionHeader& h) {
  r.text("rule", h.rule);
  r.integer("index", h.index);
  r.integer("line", h.line);
  r.integer("column", h.column);
  r.duration("timeout_ns", h.timeout);
  read_retry(r, h.retry);
  r.name("on_interrupt", h.on_interrupt, kOnInterrupts);
  r.text("render_error", h.render_error);
}

// RE2 as the rule loader compiles a probe's patterns (src/rules/rule_actions.cc).
std::shared_ptr<const RE2> compile_pattern(const std::string& match) {
  RE2::Options options;
  options.set_log_errors(false);
  return std::make_shared<const RE2>(match, options);
}

void read_patterns(MemberReader& r, std::vector<ProbePattern>& out) {
  auto arr = r.array("patterns", R"({"match", "kind"} objects)");
  if (!arr) return;
  std::size_t i = 0;
  for (simdjson::dom::element item : *arr) {
    const std::string at = MemberReader::indexed("patterns", i++);
    simdjson::dom::object obj;
    if (item.get_object().get(obj)) return r.fail(at, "expected an object");
    MemberReader p(obj, r.path_to(at));
    ProbePattern pattern;
    p.text("match", pattern.match);
    p.text("kind", pattern.kind);
    p.refuse_other_keys();
    if (p.ok()) {
      pattern.regex = compile_pattern(pattern.match);
      if (!pattern.regex->ok())
        p.fail("match", "invalid regular expression " + json_quoted(pattern.match) + ": " +
                            pattern.regex->error());
    }
    r.adopt(p);
    if (!r.ok()) return;
    out.push_back(std::move(pattern));
  }
}

// One read_body per request type, the mirror of its put_body.

void read_body(MemberReader& r, RunRequest& b) {
  r.texts("argv", b.argv);
  r.text("cwd", b.cwd);
  r.env("env", b.env);
  r.flag("shell", b.shell);
  r.duration("kill_grace_ns", b.kill_grace);
}

void read_body(MemberReader& r, MoveRequest& b) {
  r.text("source", b.source);
  r.text("to", b.to);
  r.text("root", b.root);
}

void read_body(MemberReader& r, QuarantineRequest& b) {
  r.text("source", b.source);
  r.text("to", b.to);
  r.text("root", b.root);
  r.text("reason", b.reason);
}

void read_body(MemberReader& r, RepairJsonRequest& b) {
  r.text("source", b.source);
  r.text("to", b.to);
  r.text("root", b.root);
  r.text("quarantine", b.quarantine);
}

void read_body(MemberReader& r, CompleteSessionRequest& b) {
  r.text("session", b.session);
  r.text("to", b.to);
  r.text("root", b.root);
  r.text("manifest", b.manifest);
  r.text("marker", b.marker);
}

void read_body(MemberReader& r, FailSessionRequest& b) {
  r.text("session", b.session);
  r.text("to", b.to);
  r.text("root", b.root);
  r.text("manifest", b.manifest);
  r.text("marker", b.marker);
  r.text("reason", b.reason);
}

void read_body(MemberReader& r, IntegrateSessionRequest& b) {
  r.text("session", b.session);
  r.text("to", b.to);
  r.text("root", b.root);
  r.text("marker", b.marker);
  r.text("claim", b.claim);
  read_body(r, b.command);
}

void read_body(MemberReader& r, EnsureFileRequest& b) {
  r.text("path", b.path);
  r.text("source", b.source);
  r.text("root", b.root);
  r.text("keep", b.keep);
  r.integer("mode", b.mode, std::uint32_t{0}, std::uint32_t{07777});
}

void read_body(MemberReader& r, RetainRequest& b) {
  r.text("dir", b.dir);
  r.text("root", b.root);
  r.text("glob", b.glob);
  r.duration("max_age_ns", b.max_age);
  r.integer("max_entries", b.max_entries);
}

void read_body(MemberReader&, CheckDiskRequest&) {}

void read_body(MemberReader& r, MarkRequest& b) {
  r.text("marker", b.marker);
  r.text("entity", b.entity);
  r.text("state", b.state);
}

void read_body(MemberReader& r, EmitRequest& b) {
  r.text("kind", b.kind);
  r.text("entity", b.entity);
  r.fields("fields", b.fields);
}

void read_body(MemberReader& r, KillRequest& b) {
  r.text("worker", b.worker);
  r.integer("signal", b.signal, 1, NSIG - 1);
  r.duration("grace_ns", b.grace);
  r.text("reason", b.reason);
}

void read_body(MemberReader& r, RestartRequest& b) {
  r.text("worker", b.worker);
  r.text("reason", b.reason);
}

void read_body(MemberReader& r, TmuxRequest& b) {
  r.name("op", b.op, kTmuxOps);
  r.text("session", b.session);
  r.texts("argv", b.argv);
  r.text("cwd", b.cwd);
  r.env("env", b.env);
  r.text("brief", b.brief);
  r.flag("submit", b.submit);
  r.texts("keys", b.keys);
  r.text("wait_for", b.wait_for);
  r.duration("ready_timeout_ns", b.ready_timeout);
}

void read_body(MemberReader& r, RotateRequest& b) {
  r.text("path", b.path);
  r.integer("max_size", b.max_size);
  r.duration("max_age_ns", b.max_age);
  r.integer("keep", b.keep, 1);
  r.flag("compress", b.compress);
  r.name("method", b.method, kRotateMethods);
}

void read_body(MemberReader& r, ProbeRequest& b) {
  r.texts("argv", b.argv);
  r.text("cwd", b.cwd);
  r.env("env", b.env);
  read_patterns(r, b.patterns);
  r.integer("max_output", b.max_output);
}

// A default-constructed body of the alternative `type` names.
template <std::size_t... I>
ActionBody empty_body(ActionType type, std::index_sequence<I...> /*alternatives*/) {
  ActionBody body;
  ((static_cast<std::size_t>(type) == I ? static_cast<void>(body.emplace<I>()) : void()), ...);
  return body;
}

Result<ActionRequest> read_action(simdjson::dom::element v, std::string path) {
  simdjson::dom::object obj;
  if (v.get_object().get(obj)) return make_error(path + ": expected an object");
  MemberReader r(obj, std::move(path));
  ActionType type = ActionType::kRun;
  r.name("type", type, kActionTypes);
  if (!r.ok()) return *r.error();
  ActionRequest a;
  a.body = empty_body(type, std::make_index_sequence<std::variant_size_v<ActionBody>>());
  read_header(r, a);
  std::visit([&r](auto& body) { read_body(r, body); }, a.body);
  r.refuse_other_keys();
  if (!r.ok()) return *r.error();
  return a;
}

}  // namespace

void append_plan_json(std::string& out, const Plan& plan) {
  JsonObjectWriter w(out);
  put_text(w, "rule", plan.rule);
  w.value("actions", [&plan](std::string& o) {
    o.push_back('[');
    for (std::size_t i = 0; i < plan.actions.size(); ++i) {
      if (i) o.push_back(',');
      append_action(o, plan.actions[i]);
    }
    o.push_back(']');
  });
  w.close();
}

// The DOM API, as parse_event_json: strict (trailing content is an error) and
// fine for one small document at a time.
Result<Plan> parse_plan_json(std::string_view json) {
  thread_local simdjson::dom::parser parser;
  const simdjson::padded_string padded(json);
  simdjson::dom::element root;
  if (auto err = parser.parse(padded).get(root))
    return make_error(std::string("not JSON: ") + simdjson::error_message(err));
  simdjson::dom::object obj;
  if (root.get_object().get(obj)) return make_error("expected a JSON object");
  MemberReader r(obj, "");
  Plan plan;
  r.text("rule", plan.rule);
  if (auto actions = r.array("actions", "objects")) {
    std::size_t i = 0;
    for (simdjson::dom::element item : *actions) {
      auto action = read_action(item, MemberReader::indexed("actions", i++));
      if (!action) return action.error();
      plan.actions.push_back(std::move(*action));
    }
  }
  r.refuse_other_keys();
  if (!r.ok()) return *r.error();
  return plan;
}

}  // namespace aw
