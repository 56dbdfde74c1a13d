// One rule file: the top level (`rule`, `disable`), each [[rule]] table and its
// `on` and schedule. Conditions and actions have their own files.
#include "src/core/duration.h"
#include "src/core/suggest.h"
#include "src/rules/rule_parse.h"

namespace aw::rule_parse {

bool is_env_name(std::string_view s) {
  if (s.empty() || (s[0] >= '0' && s[0] <= '9')) return false;
  for (char c : s) {
    bool ok =
        (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_';
    if (!ok) return false;
  }
  return true;
}

bool is_field_key(std::string_view s) {
  if (s.empty()) return false;
  for (char c : s) {
    bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
              c == '_' || c == '-' || c == '.';
    if (!ok) return false;
  }
  return true;
}

// A JSON Pointer per RFC 6901 (empty, or '/'-separated tokens where '~' is
// only ever followed by '0' or '1'), plus two agentwatch extensions: a token
// that is exactly "*" is a wildcard ("every element"), and "~2" stands for a
// literal '*'. Cuts the pointer at its wildcards into plain RFC 6901 pointers
bool is_kind_name(std::string_view s) {
  if (s.empty()) return false;
  for (char c : s) {
    bool ok = (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '.' || c == '_' || c == '-';
    if (!ok) return false;
  }
  return true;
}

namespace {

const Keys kTopKeys = {"rule", "disable"};
const Keys kRuleKeys = {"name",     "description", "on",      "enabled", "debounce",
                        "cooldown", "per",         "breaker", "when",    "every",
                        "jitter",   "persistent",  "action"};
const Keys kGateSubjects = {"path", "directory"};  // in GateSubject order
const Keys kBreakerKeys = {"failures", "cool_down"};

bool is_rule_name(std::string_view s) {
  auto ok_first = [](char c) { return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9'); };
  if (s.empty() || !ok_first(s[0])) return false;
  for (char c : s)
    if (!ok_first(c) && c != '_' && c != '.' && c != '-') return false;
  return true;
}

class FileParser : RuleReader {
 public:
  FileParser(TomlReader& r, const RuleFile& file) : RuleReader(r), file_(file) {}

  void parse(std::vector<ParsedRule>& rules, std::vector<Disable>& disables) {
    std::optional<toml::table> root = r_.parse();
    if (!root) return;
    for (auto&& [k, v] : *root) {
      if (k.str() == "rule") {
        const toml::array* arr = v.as_array();
        if (arr && arr->empty()) continue;  // rule = [] : no rules
        if (!arr || !arr->is_array_of_tables()) {
          error(pos(v), "'rule' must be an array of tables: write [[rule]] (two brackets)");
          continue;
        }
        int index = 0;
        for (const toml::node& elem : *arr) rules.push_back(parse_rule(*elem.as_table(), ++index));
      } else if (k.str() == "disable") {
        parse_disable(v, disables);
      } else {
        error(pos(k), "unknown top-level key '" + std::string(k.str()) + "'" +
                          did_you_mean(k.str(), kTopKeys) +
                          " (a rule file holds [[rule]] tables and an optional 'disable' list)");
      }
    }
  }

 private:
  void parse_disable(const toml::node& v, std::vector<Disable>& disables) {
    const auto* arr = v.as_array();
    if (!arr) {
      wrong_type(v, "disable", "an array of rule names, e.g. [\"result-valid\"]");
      return;
    }
    for (const toml::node& elem : *arr) {
      if (auto s = get_string(elem, "disable")) disables.push_back({*s, file_.path, pos(elem)});
    }
  }

  // ---- rules ----

  ParsedRule parse_rule(const toml::table& t, int index) {
    ParsedRule out;
    Rule& r = out.rule;
    r.file = file_.path;
    r.line = pos(t).line;
    std::string label = "#" + std::to_string(index);
    if (const toml::node* n = t.get("name")) {
      out.name_pos = pos(*n);
      if (auto s = get_string(*n, "name")) {
        if (!is_rule_name(*s)) {
          error(pos(*n), "rule name " + quoted(*s) +
                             " must be lowercase letters, digits, '_', '.' and '-', starting "
                             "with a letter or digit");
        }
        r.name = *s;
        label = "'" + *s + "'";
      }
    } else {
      out.name_pos = pos(t);
      error(pos(t), "rule " + label + " in this file has no 'name'");
    }
    const std::string where = "in rule " + label;

    bool has_on = false, has_action = false;
    std::optional<Duration> every, jitter;
    std::optional<bool> persistent;
    for (auto&& [k, v] : t) {
      std::string_view key = k.str();
      if (key == "name") {
        continue;
      } else if (key == "description") {
        if (auto s = get_string(v, key)) r.description = *s;
      } else if (key == "on") {
        has_on = true;
        parse_on(v, r);
      } else if (key == "enabled") {
        if (auto b = get_bool(v, key)) r.enabled = *b;
      } else if (key == "debounce") {
        if (auto d = get_duration(v, key, false)) r.gate.debounce = *d;
      } else if (key == "cooldown") {
        if (auto d = get_duration(v, key, false)) r.gate.cooldown = *d;
      } else if (key == "per") {
        if (auto c = get_choice(v, "per", kGateSubjects)) r.gate.per = static_cast<GateSubject>(*c);
      } else if (key == "breaker") {
        parse_breaker(v, r);
      } else if (key == "every") {
        every = get_duration(v, key, true);
      } else if (key == "jitter") {
        jitter = get_duration(v, key, false);
      } else if (key == "persistent") {
        persistent = get_bool(v, key);
      } else if (key == "when") {
        rule_parse::parse_when(r_, v, r, label);
      } else if (key == "action") {
        has_action = true;
        rule_parse::parse_actions(r_, v, r, label);
      } else {
        unknown_key(k, where, kRuleKeys);
      }
    }
    parse_schedule(t, r, every, jitter, persistent);
    if (!has_on && !t.get("every"))
      error(pos(t), "rule " + label +
                        " has no 'on' (the event kinds it reacts to, e.g. on = \"file.landed\") "
                        "and no 'every' (a period, e.g. every = \"30m\")");
    if (!has_action)
      error(pos(t), "rule " + label + " has no action: add an [[rule.action]] table with do = " +
                        join_keys(action_type_names()));
    for (const Condition& c : r.when) r.reads_content = r.reads_content || c.reads_content();
    return out;
  }

  // `every` makes the rule scheduled; `jitter` and `persistent` only qualify it.
  // The values are nullopt when absent or already reported as wrong.
  void parse_schedule(const toml::table& t, Rule& r, std::optional<Duration> every,
                      std::optional<Duration> jitter, std::optional<bool> persistent) {
    if (!t.get("every")) {
      for (std::string_view key : {"jitter", "persistent"})
        if (const toml::node* n = t.get(key))
          error(pos(*n), "'" + std::string(key) +
                             "' applies only to a scheduled rule: add every = \"30m\" (or "
                             "remove it)");
      return;
    }
    if (!every) return;
    RuleSchedule schedule;
    schedule.every = *every;
    if (jitter) {
      if (*jitter >= *every) {
        error(pos(*t.get("jitter")), "'jitter' (" + format_duration(*jitter) +
                                         ") must be shorter than 'every' (" +
                                         format_duration(*every) + ")");
        return;
      }
      schedule.jitter = *jitter;
    }
    if (persistent) schedule.persistent = *persistent;
    r.schedule = schedule;
  }

  // breaker = { failures = 5, cool_down = "10m" }: both required.
  void parse_breaker(const toml::node& v, Rule& r) {
    const auto* tbl = v.as_table();
    if (!tbl) {
      wrong_type(v, "breaker", "a table like { failures = 5, cool_down = \"10m\" }");
      return;
    }
    for (auto&& [k, val] : *tbl) {
      std::string_view key = k.str();
      if (key == "failures") {
        if (auto n = get_int(val, "breaker.failures", 1, 1000,
                             "a whole number of failed runs in a row, e.g. 5"))
          r.breaker.failures = static_cast<int>(*n);
      } else if (key == "cool_down") {
        if (auto d = get_duration(val, "breaker.cool_down", true)) r.breaker.cool_down = *d;
      } else {
        unknown_key(k, "in breaker", kBreakerKeys);
      }
    }
    for (std::string_view key : kBreakerKeys)
      if (!tbl->get(key))
        error(pos(v), "'breaker' needs '" + std::string(key) + "'" +
                          (key == "failures" ? ": how many failed runs in a row open it, e.g. 5"
                                             : ": how long it stays open, e.g. \"10m\""));
  }

  void parse_on(const toml::node& v, Rule& r) {
    auto add = [&](const toml::node& n) {
      auto s = get_string(n, "on");
      if (!s) return;
      if (s->empty()) {
        error(pos(n), "'on': an empty event kind never matches (e.g. \"file.landed\", \"file.*\")");
        return;
      }
      Result<Glob> g = Glob::compile(*s, GlobMode::kPlain);
      if (!g.ok()) {
        error(pos(n), "'on': " + g.error().message);
        return;
      }
      r.on.push_back(std::move(g).value());
    };
    if (v.is_string()) {
      add(v);
    } else if (const auto* arr = v.as_array()) {
      if (arr->empty()) error(pos(v), "'on' is empty: list at least one event kind");
      for (const toml::node& elem : *arr) add(elem);
    } else {
      wrong_type(v, "on", "an event kind or an array of them, e.g. [\"file.landed\"]");
    }
  }

  const RuleFile& file_;
};

}  // namespace

void parse_rule_file(const RuleFile& file, std::vector<RuleError>& errors,
                     std::vector<ParsedRule>& rules, std::vector<Disable>& disables) {
  TomlReader reader(file.path, file.text, errors);
  FileParser(reader, file).parse(rules, disables);
}

}  // namespace aw::rule_parse
