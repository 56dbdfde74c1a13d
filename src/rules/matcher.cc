#include "src/rules/matcher.h"

#include <re2/re2.h>
#include <simdjson.h>

#include <charconv>
#include <cmath>
#include <cstring>
#include <limits>

#include "src/core/event_kinds.h"
#include "src/core/json_writer.h"
#include "src/rules/path_parts.h"

namespace aw {
namespace {

// A value a condition looks at, without copying it out of the event or the
// parsed JSON document (string views stay valid for one match() call).
struct Value {
  enum class Type : std::uint8_t { kAbsent, kText, kInt, kDouble, kBool, kNull, kComposite };
  Type type = Type::kAbsent;
  std::string_view text;
  std::int64_t i = 0;
  double d = 0;
  bool b = false;
};

Value text_value(std::string_view s) {
  Value v;
  if (!s.empty()) {
    v.type = Value::Type::kText;
    v.text = s;
  }
  return v;
}

Value int_value(std::int64_t i) {
  Value v;
  v.type = Value::Type::kInt;
  v.i = i;
  return v;
}

Value double_value(double d) {
  Value v;
  v.type = Value::Type::kDouble;
  v.d = d;
  return v;
}

Value field_value(const FieldValue& f) {
  Value v;
  if (const auto* s = std::get_if<std::string>(&f)) {
    v.type = Value::Type::kText;  // present even when empty
    v.text = *s;
  } else if (const auto* i = std::get_if<std::int64_t>(&f)) {
    v = int_value(*i);
  } else if (const auto* d = std::get_if<double>(&f)) {
    v = double_value(*d);
  } else {
    v.type = Value::Type::kBool;
    v.b = std::get<bool>(f);
  }
  return v;
}

// The content of event.path as a JSON document, parsed on first use and at most
// once per match() call. One parser and one padded buffer per thread, reused.
class JsonDoc {
 public:
  explicit JsonDoc(const std::string* content) : content_(content) {}

  bool has_content() const { return content_ != nullptr; }

  // False when there is no content or it is not valid JSON.
  bool load() {
    if (tried_) return valid_;
    tried_ = true;
    if (!content_) return false;
    thread_local simdjson::dom::parser parser;
    thread_local std::vector<char> buffer;
    // simdjson reads up to SIMDJSON_PADDING bytes past the end; copy into a
    // reused padded buffer rather than letting it allocate one per parse.
    const std::size_t n = content_->size();
    if (buffer.size() < n + simdjson::SIMDJSON_PADDING)
      buffer.resize(n + simdjson::SIMDJSON_PADDING);
    std::memcpy(buffer.data(), content_->data(), n);
    std::memset(buffer.data() + n, 0, simdjson::SIMDJSON_PADDING);
    auto result = parser.parse(buffer.data(), n, false);
    if (result.error()) return false;
    root_ = result.value_unsafe();
    valid_ = true;
    return true;
  }

  // The document root; precondition: load() returned true.
  simdjson::dom::element root() const { return root_; }

  Value at(std::string_view pointer) {
    if (!load()) return {};
    auto r = root_.at_pointer(pointer);
    if (r.error()) return {};
    return element_value(r.value_unsafe());
  }

  static Value element_value(simdjson::dom::element el) {
    Value v;
    switch (el.type()) {
      case simdjson::dom::element_type::STRING:
        v.type = Value::Type::kText;
        v.text = el.get_string().value_unsafe();
        break;
      case simdjson::dom::element_type::INT64:
        v = int_value(el.get_int64().value_unsafe());
        break;
      case simdjson::dom::element_type::UINT64: {
        std::uint64_t u = el.get_uint64().value_unsafe();
        if (u <= static_cast<std::uint64_t>(std::numeric_limits<std::int64_t>::max()))
          v = int_value(static_cast<std::int64_t>(u));
        else
          v = double_value(static_cast<double>(u));
        break;
      }
      case simdjson::dom::element_type::DOUBLE:
        v = double_value(el.get_double().value_unsafe());
        break;
      case simdjson::dom::element_type::BOOL:
        v.type = Value::Type::kBool;
        v.b = el.get_bool().value_unsafe();
        break;
      case simdjson::dom::element_type::NULL_VALUE:
        v.type = Value::Type::kNull;
        break;
      default:
        v.type = Value::Type::kComposite;
        break;
    }
    return v;
  }

 private:
  const std::string* content_;
  bool tried_ = false;
  bool valid_ = false;
  simdjson::dom::element root_;
};

Value subject_value(const Condition& c, const Event& e, JsonDoc& doc) {
  switch (c.subject) {
    case ConditionSubject::kKind:
      return text_value(e.kind);
    case ConditionSubject::kSource:
      return text_value(e.source);
    case ConditionSubject::kPath:
      return text_value(e.path);
    case ConditionSubject::kName:
      return text_value(path_basename(e.path));
    case ConditionSubject::kDir:
      return text_value(path_dirname(e.path));
    case ConditionSubject::kEntity:
      return text_value(e.entity);
    case ConditionSubject::kRule:
      return text_value(e.rule);
    case ConditionSubject::kSeq:
      if (e.seq <= static_cast<std::uint64_t>(std::numeric_limits<std::int64_t>::max()))
        return int_value(static_cast<std::int64_t>(e.seq));
      return double_value(static_cast<double>(e.seq));
    case ConditionSubject::kField: {
      const FieldValue* f = e.fields.find(c.key);
      return f ? field_value(*f) : Value{};
    }
    case ConditionSubject::kJson:
      return doc.at(c.json_parts.empty() ? std::string_view(c.key) : c.json_parts[0]);
    case ConditionSubject::kJsonValid:
      return {};
  }
  return {};
}

bool has_text(const Value& v) {
  return v.type != Value::Type::kAbsent && v.type != Value::Type::kComposite;
}

// The value as text; numbers are written into `buf`.
std::string_view value_text(const Value& v, char (&buf)[32]) {
  switch (v.type) {
    case Value::Type::kText:
      return v.text;
    case Value::Type::kInt: {
      auto [end, ec] = std::to_chars(buf, buf + sizeof buf, v.i);
      return std::string_view(buf, end - buf);
    }
    case Value::Type::kDouble: {
      auto [end, ec] = std::to_chars(buf, buf + sizeof buf, v.d);
      return std::string_view(buf, end - buf);
    }
    case Value::Type::kBool:
      return v.b ? "true" : "false";
    case Value::Type::kNull:
      return "null";
    default:
      return {};
  }
}

struct Number {
  bool is_int = false;
  std::int64_t i = 0;
  double d = 0;
};

// Numbers, and text that is entirely a number ("42", "-1.5"): fields from the
// notify socket arrive as text.
bool as_number(const Value& v, Number& n) {
  switch (v.type) {
    case Value::Type::kInt:
      n = Number{true, v.i, static_cast<double>(v.i)};
      return true;
    case Value::Type::kDouble:
      n = Number{false, 0, v.d};
      return !std::isnan(v.d);
    case Value::Type::kText: {
      const char* first = v.text.data();
      const char* last = first + v.text.size();
      std::int64_t i = 0;
      auto ri = std::from_chars(first, last, i);
      if (ri.ec == std::errc() && ri.ptr == last) {
        n = Number{true, i, static_cast<double>(i)};
        return true;
      }
      double d = 0;
      auto rd = std::from_chars(first, last, d);
      if (rd.ec == std::errc() && rd.ptr == last && std::isfinite(d)) {
        n = Number{false, 0, d};
        return true;
      }
      return false;
    }
    default:
      return false;
  }
}

// -1, 0, 1, or nullopt when the value is not a number.
std::optional<int> compare_number(const Value& v, const Operand& o) {
  Number n;
  if (!as_number(v, n)) return std::nullopt;
  if (n.is_int) {
    if (const auto* oi = std::get_if<std::int64_t>(&o.value))
      return n.i < *oi ? -1 : n.i > *oi ? 1 : 0;
  }
  return n.d < o.number ? -1 : n.d > o.number ? 1 : 0;
}

bool equals(const Value& v, const Operand& o) {
  if (!has_text(v)) return false;
  if (o.is_number) {
    if (auto c = compare_number(v, o)) return *c == 0;
  }
  if (v.type == Value::Type::kBool) {
    if (const auto* ob = std::get_if<bool>(&o.value)) return v.b == *ob;
  }
  char buf[32];
  return value_text(v, buf) == o.text;
}

bool op_holds(const Condition& c, const Value& v) {
  if (c.op == ConditionOp::kExists) return (v.type != Value::Type::kAbsent) == c.flag;
  if (v.type == Value::Type::kAbsent) return false;
  char buf[32];
  switch (c.op) {
    case ConditionOp::kEquals:
      return equals(v, c.operand);
    case ConditionOp::kNotEquals:
      return !equals(v, c.operand);
    case ConditionOp::kIn:
      for (const Operand& o : c.any_of)
        if (equals(v, o)) return true;
      return false;
    case ConditionOp::kMatches:
    case ConditionOp::kNotMatches: {
      if (!has_text(v)) return false;
      std::string_view t = value_text(v, buf);
      bool hit = RE2::PartialMatch(re2::StringPiece(t.data(), t.size()), *c.regex);
      return hit == (c.op == ConditionOp::kMatches);
    }
    case ConditionOp::kGlob:
      return has_text(v) && c.glob->matches(value_text(v, buf));
    case ConditionOp::kGt:
    case ConditionOp::kGe:
    case ConditionOp::kLt:
    case ConditionOp::kLe: {
      auto cmp = compare_number(v, c.operand);
      if (!cmp) return false;
      if (c.op == ConditionOp::kGt) return *cmp > 0;
      if (c.op == ConditionOp::kGe) return *cmp >= 0;
      if (c.op == ConditionOp::kLt) return *cmp < 0;
      return *cmp <= 0;
    }
    default:
      return false;
  }
}

// Where and why a wildcard condition failed, for explain_mismatch.
struct WildcardMiss {
  std::string where;     // the concrete pointer: "/phases/2/status"
  std::string why;       // "is absent", "is an empty array", "the value is \"running\""
  bool at_leaf = false;  // `why` is about the value the operator tested
};

std::string describe_value(const Value& v);

// Appends a pointer token for an object key, escaped as RFC 6901 says, and
// '*' as "~2" so the pointer reads back unambiguously.
void append_pointer_key(std::string& out, std::string_view key) {
  out += '/';
  for (char ch : key) {
    if (ch == '~')
      out += "~0";
    else if (ch == '/')
      out += "~1";
    else if (ch == '*')
      out += "~2";
    else
      out += ch;
  }
}

// Whether every element below `base` at json_parts[part] satisfies the rest of
// the condition. Allocates nothing unless `miss` is given.
bool wildcard_holds(const Condition& c, simdjson::dom::element base, std::size_t part,
                    WildcardMiss* miss) {
  const std::string& pointer = c.json_parts[part];
  auto found = base.at_pointer(pointer);
  if (part + 1 == c.json_parts.size()) {
    Value v = found.error() ? Value{} : JsonDoc::element_value(found.value_unsafe());
    if (op_holds(c, v)) return true;
    if (miss) {
      miss->where += pointer;
      miss->why = "the value is " + describe_value(v);
      miss->at_leaf = true;
    }
    return false;
  }
  auto fail = [&](std::string_view why) {
    if (miss) {
      miss->where += pointer;
      miss->why = std::string(why);
    }
    return false;
  };
  if (found.error()) return fail("is absent");
  simdjson::dom::element container = found.value_unsafe();
  const std::size_t depth = miss ? miss->where.size() : 0;
  if (container.type() == simdjson::dom::element_type::ARRAY) {
    simdjson::dom::array array = container.get_array().value_unsafe();
    if (array.size() == 0) return fail("is an empty array (a \"*\" needs at least one element)");
    std::size_t index = 0;
    for (simdjson::dom::element child : array) {
      if (miss) {
        miss->where.resize(depth);
        miss->where += pointer;
        miss->where += '/';
        miss->where += std::to_string(index);
      }
      if (!wildcard_holds(c, child, part + 1, miss)) return false;
      ++index;
    }
    return true;
  }
  if (container.type() == simdjson::dom::element_type::OBJECT) {
    simdjson::dom::object object = container.get_object().value_unsafe();
    if (object.size() == 0) return fail("is an empty object (a \"*\" needs at least one member)");
    for (simdjson::dom::key_value_pair member : object) {
      if (miss) {
        miss->where.resize(depth);
        miss->where += pointer;
        append_pointer_key(miss->where, member.key);
      }
      if (!wildcard_holds(c, member.value, part + 1, miss)) return false;
    }
    return true;
  }
  return fail("is " + describe_value(JsonDoc::element_value(container)) +
              ", not an array or object");
}

bool condition_holds(const Condition& c, const Event& e, JsonDoc& doc) {
  if (c.subject == ConditionSubject::kJsonValid) return doc.has_content() && doc.load() == c.flag;
  if (c.subject == ConditionSubject::kJson && !doc.load()) return false;
  if (c.has_wildcard()) return wildcard_holds(c, doc.root(), 0, nullptr);
  return op_holds(c, subject_value(c, e, doc));
}

// Cheap conditions first, so the file is parsed only if they all hold.
bool conditions_hold(const Rule& r, const Event& e, JsonDoc& doc, bool with_content) {
  for (const Condition& c : r.when)
    if (!c.reads_content() && !condition_holds(c, e, doc)) return false;
  if (!with_content) return true;
  for (const Condition& c : r.when)
    if (c.reads_content() && !condition_holds(c, e, doc)) return false;
  return true;
}

// Calls f(rule) for each enabled rule listening to e (Rule::listens_to_event),
// in load order, by merging the exact-kind bucket with the wildcard list.
template <class F>
void for_each_listener(const RuleSet& set, const Event& e, F&& f) {
  const std::string_view kind = e.kind;
  const std::vector<std::uint32_t>* exact = set.exact_candidates(kind);
  const std::vector<std::uint32_t>& wild = set.wildcard_candidates();
  const std::size_t ne = exact ? exact->size() : 0;
  const bool timer = kind == kind::kTimerFired;
  std::size_t i = 0, j = 0;
  while (i < ne || j < wild.size()) {
    const bool take_exact = j >= wild.size() || (i < ne && (*exact)[i] < wild[j]);
    const Rule& r = set.rules()[take_exact ? (*exact)[i++] : wild[j++]];
    if (!r.enabled) continue;
    if (!take_exact && !r.listens_to(kind)) continue;
    if (timer && r.schedule && !r.listens_to_event(e)) continue;  // another rule's timer
    if (f(r)) return;
  }
}

std::string describe_value(const Value& v) {
  if (v.type == Value::Type::kAbsent) return "absent";
  if (v.type == Value::Type::kComposite) return "an object or array";
  char buf[32];
  std::string out;
  if (v.type == Value::Type::kText)
    append_json_string(out, v.text);
  else
    out = std::string(value_text(v, buf));
  return out;
}

}  // namespace

void matching_rules(const RuleSet& rules, const Event& e, const MatchInput& input,
                    std::vector<const Rule*>& out) {
  JsonDoc doc(input.content);
  for_each_listener(rules, e, [&](const Rule& r) {
    if (conditions_hold(r, e, doc, true)) out.push_back(&r);
    return false;
  });
}

namespace {

// Renders one ActionSpec into its request; the first template that cannot be
// rendered sets the request's render_error (the request then fails as
// "validation" without running).
class ActionRenderer {
 public:
  ActionRenderer(const TemplateContext& ctx, const Event& e, ActionType type, ActionRequest& req)
      : ctx_(ctx), e_(e), type_(type), req_(req) {}

  RunRequest operator()(const RunActionSpec& s) {
    RunRequest r;
    put_command(s.argv, s.cwd, s.env, r.argv, r.cwd, r.env);
    r.shell = s.shell;
    r.kill_grace = s.kill_grace;
    return r;
  }
  MoveRequest operator()(const MoveActionSpec& s) {
    MoveRequest r;
    put(s.to, r.to);
    put(s.root, r.root);
    r.source = source();
    return r;
  }
  QuarantineRequest operator()(const QuarantineActionSpec& s) {
    QuarantineRequest r;
    put(s.to, r.to);
    put(s.root, r.root);
    put(s.reason, r.reason);
    r.source = source();
    return r;
  }
  MarkRequest operator()(const MarkActionSpec& s) {
    MarkRequest r;
    put(s.marker, r.marker);
    put(s.entity, r.entity);
    put(s.state, r.state);
    return r;
  }
  EmitRequest operator()(const EmitActionSpec& s) {
    EmitRequest r;
    put(s.entity, r.entity);
    put(s.kind, r.kind);
    for (const auto& [key, t] : s.fields) {
      std::string value;
      put(t, value);
      r.fields.set(key, FieldValue(std::move(value)));
    }
    return r;
  }
  KillRequest operator()(const KillActionSpec& s) {
    KillRequest r;
    put(s.reason, r.reason);
    put(s.worker, r.worker);
    r.signal = s.signal;
    r.grace = s.grace;
    require_value(r.worker, "the worker name");
    return r;
  }
  RestartRequest operator()(const RestartActionSpec& s) {
    RestartRequest r;
    put(s.reason, r.reason);
    put(s.worker, r.worker);
    require_value(r.worker, "the worker name");
    return r;
  }
  TmuxRequest operator()(const TmuxActionSpec& s) {
    TmuxRequest r;
    put_command(s.argv, s.cwd, s.env, r.argv, r.cwd, r.env);
    r.op = s.op;
    put(s.session, r.session);
    put(s.brief, r.brief);
    r.submit = s.submit;
    for (const Template& t : s.keys) put(t, r.keys.emplace_back());
    put(s.wait_for, r.wait_for);
    r.ready_timeout = s.ready_timeout;
    require_value(r.session, "the session name");
    return r;
  }
  RotateRequest operator()(const RotateActionSpec& s) {
    RotateRequest r;
    put(s.path, r.path);
    r.max_size = s.max_size;
    r.max_age = s.max_age;
    r.keep = s.keep;
    r.compress = s.compress;
    r.method = s.method;
    require_value(r.path, "the file to rotate");
    return r;
  }
  RepairJsonRequest operator()(const RepairJsonActionSpec& s) {
    RepairJsonRequest r;
    put(s.path, r.source);
    put(s.to, r.to);
    put(s.root, r.root);
    put(s.quarantine, r.quarantine);
    require_value(r.source, "the file to repair");
    return r;
  }
  CompleteSessionRequest operator()(const CompleteSessionActionSpec& s) {
    CompleteSessionRequest r;
    put(s.session, r.session);
    put(s.to, r.to);
    put(s.root, r.root);
    put(s.manifest, r.manifest);
    put(s.marker, r.marker);
    require_value(r.session, "the session directory");
    require_value(r.to, "the destination directory");
    require_file_name(r.manifest, "manifest");
    require_file_name(r.marker, "marker");
    return r;
  }
  FailSessionRequest operator()(const FailSessionActionSpec& s) {
    FailSessionRequest r;
    put(s.session, r.session);
    put(s.to, r.to);
    put(s.root, r.root);
    put(s.manifest, r.manifest);
    put(s.marker, r.marker);
    put(s.reason, r.reason);
    require_value(r.session, "the session directory");
    require_value(r.to, "the destination directory");
    require_file_name(r.manifest, "manifest");
    require_file_name(r.marker, "marker");
    return r;
  }
  IntegrateSessionRequest operator()(const IntegrateSessionActionSpec& s) {
    IntegrateSessionRequest r;
    put(s.session, r.session);
    put(s.to, r.to);
    put(s.root, r.root);
    r.command = (*this)(s.command);
    put(s.marker, r.marker);
    put(s.claim, r.claim);
    require_value(r.session, "the session directory");
    require_value(r.to, "the destination directory");
    require_file_name(r.marker, "marker");
    require_file_name(r.claim, "claim");
    return r;
  }
  EnsureFileRequest operator()(const EnsureFileActionSpec& s) {
    EnsureFileRequest r;
    put(s.path, r.path);
    put(s.source, r.source);
    put(s.root, r.root);
    put(s.keep, r.keep);
    r.mode = s.mode;
    require_value(r.path, "the file to ensure");
    require_value(r.source, "the source to restore it from");
    return r;
  }
  RetainRequest operator()(const RetainActionSpec& s) {
    RetainRequest r;
    put(s.dir, r.dir);
    put(s.root, r.root);
    put(s.glob, r.glob);
    r.max_age = s.max_age;
    r.max_entries = s.max_entries;
    require_value(r.dir, "the directory to prune");
    return r;
  }
  CheckDiskRequest operator()(const CheckDiskActionSpec&) { return {}; }
  ProbeRequest operator()(const ProbeActionSpec& s) {
    ProbeRequest r;
    put_command(s.argv, s.cwd, s.env, r.argv, r.cwd, r.env);
    r.patterns = s.patterns;
    r.max_output = s.max_output;
    return r;
  }

 private:
  void put(const Template& t, std::string& out) {
    out.clear();
    std::string error;
    if (!t.render(ctx_, out, error) && req_.render_error.empty()) req_.render_error = error;
  }
  void put(const std::optional<Template>& t, std::string& out) {
    if (t) put(*t, out);
  }
  void put_command(const std::vector<Template>& argv, const std::optional<Template>& cwd,
                   const TemplateTable& env, std::vector<std::string>& argv_out,
                   std::string& cwd_out, EnvList& env_out) {
    for (const Template& t : argv) put(t, argv_out.emplace_back());
    put(cwd, cwd_out);
    for (const auto& [name, t] : env) {
      env_out.emplace_back(name, std::string());
      put(t, env_out.back().second);
    }
  }
  // move / quarantine act on the event's file.
  std::string source() {
    if (e_.path.empty() && req_.render_error.empty())
      req_.render_error = std::string(action_type_name(type())) + ": the event has no path to " +
                          action_type_name(type());
    return e_.path;
  }
  // A template that rendered to "" where a name is needed would act on nothing
  // (or, for tmux, on the current session): refuse it like a missing value.
  void require_value(const std::string& value, std::string_view what) {
    if (value.empty() && req_.render_error.empty())
      req_.render_error =
          std::string(action_type_name(type())) + ": " + std::string(what) + " rendered empty";
  }
  // A name looked up inside a directory: one path component.
  void require_file_name(const std::string& value, std::string_view key) {
    if ((value.empty() || value == "." || value == ".." || value.find('/') != std::string::npos) &&
        req_.render_error.empty())
      req_.render_error = std::string(action_type_name(type())) + ": " + std::string(key) +
                          " must be a file name (no '/'), not \"" + value + "\"";
  }
  ActionType type() const { return type_; }

  const TemplateContext& ctx_;
  const Event& e_;
  const ActionType type_;
  ActionRequest& req_;
};

}  // namespace

Plan render(const Rule& rule, const Event& e, const MatchInput& input) {
  Plan plan;
  plan.rule = rule.name;
  TemplateContext ctx{e, rule.name, input.env};
  for (std::size_t index = 0; index < rule.actions.size(); ++index) {
    const ActionSpec& a = rule.actions[index];
    ActionRequest req;
    static_cast<ActionHeader&>(req) = a;
    req.rule = rule.name;
    req.index = index;
    req.render_error.clear();
    ActionRenderer renderer(ctx, e, a.type(), req);
    req.body = std::visit([&](const auto& spec) { return ActionBody(renderer(spec)); }, a.body);
    plan.actions.push_back(std::move(req));
  }
  return plan;
}

std::vector<Plan> match(const RuleSet& rules, const Event& e, const MatchInput& input) {
  std::vector<const Rule*> matched;
  matching_rules(rules, e, input, matched);
  std::vector<Plan> plans;
  plans.reserve(matched.size());
  for (const Rule* r : matched) plans.push_back(render(*r, e, input));
  return plans;
}

bool needs_content(const RuleSet& rules, const Event& e) {
  if (e.path.empty()) return false;
  JsonDoc doc(nullptr);
  bool needed = false;
  for_each_listener(rules, e, [&](const Rule& r) {
    needed = r.reads_content && conditions_hold(r, e, doc, false);
    return needed;
  });
  return needed;
}

std::optional<std::string> explain_mismatch(const Rule& rule, const Event& e,
                                            const MatchInput& input) {
  if (!rule.enabled) return "the rule is disabled (enabled = false)";
  if (!rule.listens_to(e.kind)) {
    std::string on;
    for (const Glob& g : rule.on) {
      if (!on.empty()) on += ", ";
      append_json_string(on, g.pattern());
    }
    std::string kind;
    append_json_string(kind, e.kind);
    return "kind " + kind + " is not in on = [" + on + "]" +
           (rule.schedule ? " (nor the rule's own timer.fired)" : "");
  }
  if (!rule.listens_to_event(e)) {
    const FieldValue* target = e.fields.find("rule");
    std::string name;
    if (target) append_json_string(name, field_to_string(*target));
    return "this timer.fired is " + (target ? "for rule " + name : std::string("for no rule")) +
           " (fields.rule); a scheduled rule takes only its own";
  }
  JsonDoc doc(input.content);
  auto explain = [&](std::size_t index, const Condition& c) -> std::optional<std::string> {
    if (condition_holds(c, e, doc)) return std::nullopt;
    std::string head = "condition " + std::to_string(index + 1) + " " + c.text + " does not hold: ";
    if (c.reads_content()) {
      if (!doc.has_content()) return head + "the file's content was not read (or is unreadable)";
      if (c.subject == ConditionSubject::kJsonValid)
        return head + (doc.load() ? "the file is valid JSON" : "the file is not valid JSON");
      if (!doc.load()) return head + "the file is not valid JSON";
      if (c.has_wildcard()) {
        WildcardMiss miss;
        wildcard_holds(c, doc.root(), 0, &miss);
        if (miss.at_leaf) return head + "at " + miss.where + " " + miss.why;
        return head + (miss.where.empty() ? "the document" : miss.where) + " " + miss.why;
      }
    }
    return head + "the value is " + describe_value(subject_value(c, e, doc));
  };
  for (std::size_t i = 0; i < rule.when.size(); ++i)
    if (!rule.when[i].reads_content())
      if (auto why = explain(i, rule.when[i])) return why;
  for (std::size_t i = 0; i < rule.when.size(); ++i)
    if (rule.when[i].reads_content())
      if (auto why = explain(i, rule.when[i])) return why;
  return std::nullopt;
}

}  // namespace aw
