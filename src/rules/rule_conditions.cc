// Conditions of a rule file: [[rule.when]] tables → Condition (rule.h).
#include <re2/re2.h>

#include <charconv>
#include <memory>
#include <tuple>

#include "src/core/suggest.h"
#include "src/rules/rule_parse.h"

namespace aw::rule_parse {
namespace {

const Keys kConditionSubjects = {"field", "json", "path", "name", "json_valid"};
const Keys kOperators = {"equals", "not_equals", "in", "matches", "not_matches", "glob",
                         "gt",     "ge",         "lt", "le",      "exists"};
const Keys kFieldNames = {"kind", "source", "path", "name", "dir", "entity", "rule", "seq"};

// The value as TOML-ish text, to show a condition as written.
std::string value_text(const toml::node& n) {
  if (auto s = n.value<std::string>(); s && n.is_string()) return quoted(*s);
  if (auto i = n.as_integer()) return std::to_string(i->get());
  if (auto f = n.as_floating_point()) {
    char buf[32];
    auto [end, ec] = std::to_chars(buf, buf + sizeof buf, f->get());
    return std::string(buf, end);
  }
  if (auto b = n.as_boolean()) return b->get() ? "true" : "false";
  if (auto a = n.as_array()) {
    std::string s = "[";
    for (std::size_t i = 0; i < a->size(); ++i) {
      if (i) s += ", ";
      s += value_text(*a->get(i));
    }
    return s + "]";
  }
  return "...";
}

// A JSON Pointer per RFC 6901 (empty, or '/'-separated tokens where '~' is
// only ever followed by '0' or '1'), plus two agentwatch extensions: a token
// that is exactly "*" is a wildcard ("every element"), and "~2" stands for a
// literal '*'. Cuts the pointer at its wildcards into plain RFC 6901 pointers
// that simdjson understands ("~2" turned into '*'): "/a/*/b" → {"/a", "/b"}.
bool split_json_pointer(std::string_view p, std::vector<std::string>& parts, std::string& why) {
  parts.assign(1, std::string());
  if (p.empty()) return true;
  if (p[0] != '/') {
    why = "it must be empty (the whole document) or start with '/', e.g. \"/status\"";
    return false;
  }
  std::size_t i = 1;
  while (true) {
    std::size_t end = p.find('/', i);
    if (end == std::string_view::npos) end = p.size();
    std::string_view token = p.substr(i, end - i);
    if (token == "*") {
      parts.emplace_back();
    } else {
      std::string& out = parts.back();
      out += '/';
      for (std::size_t k = 0; k < token.size(); ++k) {
        if (token[k] != '~') {
          out += token[k];
          continue;
        }
        char next = k + 1 < token.size() ? token[k + 1] : '\0';
        if (next != '0' && next != '1' && next != '2') {
          why = "'~' must be followed by 0 ('~'), 1 ('/') or 2 ('*')";
          return false;
        }
        if (next == '2') {
          out += '*';
        } else {
          out += '~';
          out += next;
        }
        ++k;
      }
    }
    if (end == p.size()) break;
    i = end + 1;
  }
  return true;
}

class ConditionParser : RuleReader {
 public:
  explicit ConditionParser(TomlReader& r) : RuleReader(r) {}

  void parse_when(const toml::node& v, Rule& r, const std::string& label) {
    const auto* arr = v.as_array();
    if (!arr) {
      wrong_type(v, "when",
                 "an array of conditions: [[rule.when]] blocks, or when = [ { ... }, { ... } ]");
      return;
    }
    int index = 0;
    for (const toml::node& elem : *arr) {
      ++index;
      if (auto c = parse_condition(elem, label, index)) r.when.push_back(std::move(*c));
    }
  }

  struct FoundKey {
    std::string_view key;
    const toml::node* value;
    ConfigPos pos;
  };

  std::optional<Condition> parse_condition(const toml::node& n, const std::string& label,
                                           int index) {
    const auto* tbl = n.as_table();
    if (!tbl) {
      error(pos(n), "condition " + std::to_string(index) + " of rule " + label +
                        " must be a table like { field = \"kind\", equals = \"file.landed\" }, "
                        "not " +
                        std::string(toml_type_name(n)));
      return std::nullopt;
    }
    std::vector<FoundKey> subjects, ops;
    bool bad = false;
    Keys all_keys = kConditionSubjects;
    all_keys.insert(all_keys.end(), kOperators.begin(), kOperators.end());
    for (auto&& [k, v] : *tbl) {
      if (contains(kConditionSubjects, k.str()))
        subjects.push_back({k.str(), &v, pos(k)});
      else if (contains(kOperators, k.str()))
        ops.push_back({k.str(), &v, pos(k)});
      else {
        unknown_key(k, "in a condition of rule " + label, all_keys);
        bad = true;
      }
    }
    auto by_pos = [](const FoundKey& a, const FoundKey& b) {
      return std::tie(a.pos.line, a.pos.column) < std::tie(b.pos.line, b.pos.column);
    };
    std::sort(subjects.begin(), subjects.end(), by_pos);
    std::sort(ops.begin(), ops.end(), by_pos);
    // An unknown key is most likely the misspelt subject or operator: say only that.
    if (bad && (subjects.empty() || ops.empty())) return std::nullopt;
    if (subjects.empty()) {
      error(pos(n), "condition " + std::to_string(index) + " of rule " + label + " needs one of " +
                        join_keys(kConditionSubjects) + " (what to test)");
      return std::nullopt;
    }
    if (subjects.size() > 1) {
      error(subjects[1].pos, "a condition tests one thing, but this one has both '" +
                                 std::string(subjects[0].key) + "' and '" +
                                 std::string(subjects[1].key) + "': write two conditions");
      return std::nullopt;
    }
    if (ops.size() > 1) {
      error(ops[1].pos, "a condition has one operator, but this one has both '" +
                            std::string(ops[0].key) + "' and '" + std::string(ops[1].key) +
                            "': write two conditions");
      return std::nullopt;
    }

    Condition c;
    const FoundKey& subject = subjects[0];
    c.line = pos(n).line;
    c.column = pos(n).column;
    c.text = "{ " + std::string(subject.key) + " = " + value_text(*subject.value);
    if (!ops.empty()) c.text += ", " + std::string(ops[0].key) + " = " + value_text(*ops[0].value);
    c.text += " }";

    if (subject.key == "path" || subject.key == "name" || subject.key == "json_valid") {
      if (!ops.empty()) {
        std::string hint = subject.key == "json_valid"
                               ? "json_valid = true|false takes no operator"
                               : "'" + std::string(subject.key) +
                                     "' is a glob shorthand and takes no operator; use { field "
                                     "= \"" +
                                     std::string(subject.key) + "\", " + std::string(ops[0].key) +
                                     " = ... } instead";
        error(ops[0].pos, hint);
        return std::nullopt;
      }
      if (subject.key == "json_valid") {
        auto b = get_bool(*subject.value, "json_valid");
        if (!b) return std::nullopt;
        c.subject = ConditionSubject::kJsonValid;
        c.op = ConditionOp::kJsonValid;
        c.flag = *b;
        return bad ? std::nullopt : std::optional<Condition>(std::move(c));
      }
      auto g = compile_glob(*subject.value, subject.key);
      if (!g) return std::nullopt;
      c.subject = subject.key == "path" ? ConditionSubject::kPath : ConditionSubject::kName;
      c.op = ConditionOp::kGlob;
      c.glob = std::move(*g);
      return bad ? std::nullopt : std::optional<Condition>(std::move(c));
    }

    auto name = get_string(*subject.value, subject.key);
    if (!name) return std::nullopt;
    if (subject.key == "field") {
      if (!resolve_field(*name, *subject.value, c)) return std::nullopt;
    } else {
      std::string why;
      if (!split_json_pointer(*name, c.json_parts, why)) {
        error(pos(*subject.value), "invalid JSON Pointer " + quoted(*name) + ": " + why);
        return std::nullopt;
      }
      c.subject = ConditionSubject::kJson;
      c.key = *name;
    }
    if (ops.empty()) {
      error(pos(n),
            "condition on " + quoted(*name) + " needs an operator: " + join_keys(kOperators));
      return std::nullopt;
    }
    if (!parse_operator(ops[0], c)) return std::nullopt;
    return bad ? std::nullopt : std::optional<Condition>(std::move(c));
  }

  bool resolve_field(const std::string& name, const toml::node& v, Condition& c) {
    static const std::pair<std::string_view, ConditionSubject> kMap[] = {
        {"kind", ConditionSubject::kKind}, {"source", ConditionSubject::kSource},
        {"path", ConditionSubject::kPath}, {"name", ConditionSubject::kName},
        {"dir", ConditionSubject::kDir},   {"entity", ConditionSubject::kEntity},
        {"rule", ConditionSubject::kRule}, {"seq", ConditionSubject::kSeq},
    };
    for (const auto& [n, s] : kMap) {
      if (name == n) {
        c.subject = s;
        return true;
      }
    }
    if (name.starts_with("fields.") && is_field_key(name.substr(7))) {
      c.subject = ConditionSubject::kField;
      c.key = name.substr(7);
      return true;
    }
    std::string hint = closest_word(name, kFieldNames);
    if (hint.empty()) {
      std::size_t dot = name.find('.');
      if (dot != std::string::npos && !closest_word(name.substr(0, dot), {"fields"}).empty())
        hint = "fields" + name.substr(dot);
    }
    error(pos(v), "unknown field " + quoted(name) +
                      (hint.empty() ? "" : "; did you mean '" + hint + "'?") + " (expected " +
                      join_keys(kFieldNames) + " or fields.<key>)");
    return false;
  }

  std::optional<Glob> compile_glob(const toml::node& v, std::string_view key) {
    auto s = get_string(v, key);
    if (!s) return std::nullopt;
    Result<Glob> g = Glob::compile(*s, GlobMode::kPath);
    if (!g.ok()) {
      error(pos(v), "'" + std::string(key) + "': " + g.error().message);
      return std::nullopt;
    }
    return std::move(g).value();
  }

  std::optional<Operand> get_operand(const toml::node& v, std::string_view key) {
    Operand o;
    if (const auto* s = v.as_string()) {
      o.value = s->get();
      o.text = s->get();
    } else if (const auto* i = v.as_integer()) {
      o.value = i->get();
      o.text = std::to_string(i->get());
      o.is_number = true;
      o.number = static_cast<double>(i->get());
    } else if (const auto* f = v.as_floating_point()) {
      o.value = f->get();
      o.text = field_to_string(o.value);
      o.is_number = true;
      o.number = f->get();
    } else if (const auto* b = v.as_boolean()) {
      o.value = b->get();
      o.text = b->get() ? "true" : "false";
    } else {
      wrong_type(v, key, "a string, number or boolean");
      return std::nullopt;
    }
    return o;
  }

  bool parse_operator(const FoundKey& op, Condition& c) {
    const toml::node& v = *op.value;
    std::string_view k = op.key;
    if (k == "equals" || k == "not_equals") {
      auto o = get_operand(v, k);
      if (!o) return false;
      c.op = k == "equals" ? ConditionOp::kEquals : ConditionOp::kNotEquals;
      c.operand = std::move(*o);
    } else if (k == "in") {
      const auto* arr = v.as_array();
      if (!arr || arr->empty()) {
        wrong_type(v, k, "a non-empty array of values, e.g. [\"a\", \"b\"]");
        return false;
      }
      c.op = ConditionOp::kIn;
      for (const toml::node& elem : *arr) {
        auto o = get_operand(elem, k);
        if (!o) return false;
        c.any_of.push_back(std::move(*o));
      }
    } else if (k == "matches" || k == "not_matches") {
      auto s = get_string(v, k);
      if (!s) return false;
      RE2::Options options;
      options.set_log_errors(false);
      auto re = std::make_shared<const RE2>(*s, options);
      if (!re->ok()) {
        error(pos(v), "'" + std::string(k) + "': invalid regular expression " + quoted(*s) + ": " +
                          re->error());
        return false;
      }
      c.op = k == "matches" ? ConditionOp::kMatches : ConditionOp::kNotMatches;
      c.regex = std::move(re);
    } else if (k == "glob") {
      auto g = compile_glob(v, k);
      if (!g) return false;
      c.op = ConditionOp::kGlob;
      c.glob = std::move(*g);
    } else if (k == "gt" || k == "ge" || k == "lt" || k == "le") {
      auto n = get_number(v, k);
      if (!n) return false;
      auto o = get_operand(v, k);
      c.operand = std::move(*o);
      c.op = k == "gt"   ? ConditionOp::kGt
             : k == "ge" ? ConditionOp::kGe
             : k == "lt" ? ConditionOp::kLt
                         : ConditionOp::kLe;
    } else {  // exists
      auto b = get_bool(v, k);
      if (!b) return false;
      c.op = ConditionOp::kExists;
      c.flag = *b;
    }
    return true;
  }
};

}  // namespace

void parse_when(TomlReader& r, const toml::node& v, Rule& rule, const std::string& label) {
  ConditionParser(r).parse_when(v, rule, label);
}

}  // namespace aw::rule_parse
