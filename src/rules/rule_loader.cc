#include "src/rules/rule_loader.h"

#include <re2/re2.h>

#include <toml++/toml.h>
#include <algorithm>
#include <cerrno>
#include <charconv>
#include <csignal>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <unordered_map>

#include "src/core/byte_size.h"
#include "src/core/duration.h"
#include "src/core/json_writer.h"
#include "src/core/suggest.h"

namespace aw {
namespace {

using Keys = std::vector<std::string_view>;

const Keys kTopKeys = {"rule", "disable"};
const Keys kRuleKeys = {"name", "description", "on",     "enabled",    "debounce", "cooldown",
                        "when", "every",       "jitter", "persistent", "action"};
const Keys kConditionSubjects = {"field", "json", "path", "name", "json_valid"};
const Keys kOperators = {"equals", "not_equals", "in", "matches", "not_matches", "glob",
                         "gt",     "ge",         "lt", "le",      "exists"};
const Keys kFieldNames = {"kind", "source", "path", "name", "dir", "entity", "rule", "seq"};
// In ActionType order (the loader maps an index here to the enum).
const Keys kActionTypes = {"run",  "move",    "quarantine", "mark",   "emit",
                           "kill", "restart", "tmux",       "rotate", "probe"};
const Keys kCommonActionKeys = {"do", "timeout", "retries", "backoff"};
const Keys kRunKeys = {"argv", "cwd", "env", "shell", "kill_grace"};
const Keys kMoveKeys = {"to", "root"};
const Keys kQuarantineKeys = {"to", "reason", "root"};
const Keys kMarkKeys = {"entity", "marker", "state"};
const Keys kEmitKeys = {"kind", "entity", "fields"};
const Keys kKillKeys = {"worker", "signal", "grace", "reason"};
const Keys kRestartKeys = {"worker", "reason"};
const Keys kTmuxKeys = {"op",    "session", "argv", "cwd",      "env",
                        "brief", "submit",  "keys", "wait_for", "ready_timeout"};
const Keys kTmuxOpenKeys = kTmuxKeys;
const Keys kTmuxSendKeys = {"op", "session", "brief", "submit", "keys"};
const Keys kTmuxKillKeys = {"op", "session"};
const Keys kTmuxOps = {"open", "send", "kill"};  // in TmuxOp order
const Keys kRotateKeys = {"path", "max_size", "max_age", "keep", "compress", "method"};
const Keys kRotateMethods = {"rename", "copytruncate"};  // in RotateMethod order
const Keys kProbeKeys = {"argv", "cwd", "env", "patterns", "max_output"};
const Keys kProbePatternKeys = {"match", "kind"};
// Fields a probe sets on the events it emits; a capture group may not shadow them.
const Keys kProbeReservedFields = {"line", "probe", "rule", "truncated"};
// Signals a kill action may send (by name, with or without "SIG").
const std::pair<std::string_view, int> kSignals[] = {
    {"TERM", SIGTERM}, {"INT", SIGINT},   {"HUP", SIGHUP},   {"KILL", SIGKILL},
    {"QUIT", SIGQUIT}, {"USR1", SIGUSR1}, {"USR2", SIGUSR2},
};
const Keys kSignalNames = {"TERM", "INT", "HUP", "KILL", "QUIT", "USR1", "USR2"};
const Keys kBackoffKeys = {"initial", "factor", "max", "jitter"};
// Lifecycle states (DESIGN §1) a `mark` action may record.
const Keys kStates = {"queued", "processing", "timing_out", "zombie", "failed", "completed"};

constexpr std::size_t kMaxRuleFileBytes = 1 << 20;

bool contains(const Keys& keys, std::string_view k) {
  return std::find(keys.begin(), keys.end(), k) != keys.end();
}

std::string join(const Keys& keys, std::string_view last_sep = " or ") {
  std::string s;
  for (std::size_t i = 0; i < keys.size(); ++i) {
    if (i > 0) s += i + 1 == keys.size() ? last_sep : ", ";
    s += keys[i];
  }
  return s;
}

std::string json_quoted(std::string_view s) {
  std::string out;
  append_json_string(out, s);
  return out;
}

const Keys& keys_for(ActionType t) {
  switch (t) {
    case ActionType::kRun:
      return kRunKeys;
    case ActionType::kMove:
      return kMoveKeys;
    case ActionType::kQuarantine:
      return kQuarantineKeys;
    case ActionType::kMark:
      return kMarkKeys;
    case ActionType::kEmit:
      return kEmitKeys;
    case ActionType::kKill:
      return kKillKeys;
    case ActionType::kRestart:
      return kRestartKeys;
    case ActionType::kTmux:
      return kTmuxKeys;
    case ActionType::kRotate:
      return kRotateKeys;
    case ActionType::kProbe:
      return kProbeKeys;
  }
  return kRunKeys;
}

std::string_view type_name(const toml::node& n) {
  switch (n.type()) {
    case toml::node_type::string:
      return "a string";
    case toml::node_type::integer:
      return "an integer";
    case toml::node_type::floating_point:
      return "a float";
    case toml::node_type::boolean:
      return "a boolean";
    case toml::node_type::table:
      return "a table";
    case toml::node_type::array:
      return "an array";
    case toml::node_type::date:
      return "a date";
    case toml::node_type::time:
      return "a time";
    case toml::node_type::date_time:
      return "a date-time";
    default:
      return "nothing";
  }
}

// The value as TOML-ish text, to show a condition as written.
std::string value_text(const toml::node& n) {
  if (auto s = n.value<std::string>(); s && n.is_string()) return json_quoted(*s);
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

bool is_rule_name(std::string_view s) {
  auto ok_first = [](char c) { return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9'); };
  if (s.empty() || !ok_first(s[0])) return false;
  for (char c : s)
    if (!ok_first(c) && c != '_' && c != '.' && c != '-') return false;
  return true;
}

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

bool is_kind_name(std::string_view s) {
  if (s.empty()) return false;
  for (char c : s) {
    bool ok = (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '.' || c == '_' || c == '-';
    if (!ok) return false;
  }
  return true;
}

struct Pos {
  std::uint32_t line = 0;
  std::uint32_t column = 0;
};

struct ParsedRule {
  Rule rule;
  Pos name_pos;
};

struct Disable {
  std::string name;
  std::string file;
  Pos pos;
};

// Parses one file; every problem is appended to `errors` and parsing goes on, so
// one run reports all mistakes of the file.
class FileParser {
 public:
  FileParser(const RuleFile& file, std::vector<RuleError>& errors) : file_(file), errors_(errors) {
    line_starts_.push_back(0);
    for (std::size_t i = 0; i < file.text.size(); ++i)
      if (file.text[i] == '\n') line_starts_.push_back(i + 1);
  }

  void parse(std::vector<ParsedRule>& rules, std::vector<Disable>& disables) {
    toml::table root;
    try {
      root = toml::parse(file_.text, file_.path);
    } catch (const toml::parse_error& e) {
      error(pos(e.source()), std::string(e.description()));
      return;
    }
    for (auto&& [k, v] : root) {
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
  // ---- positions and errors ----

  static Pos pos(const toml::source_region& r) { return Pos{r.begin.line, r.begin.column}; }
  static Pos pos(const toml::node& n) { return pos(n.source()); }
  static Pos pos(const toml::key& k) { return pos(k.source()); }

  void error(Pos p, std::string message) {
    errors_.push_back(RuleError{file_.path, p.line, p.column, std::move(message)});
  }

  // The position of byte `offset` of the decoded value of string node `v`, found
  // by re-reading the literal in the source (escapes make decoded and source
  // offsets differ). Falls back to the value's start for multi-line strings.
  Pos pos_in_string(const toml::node& v, std::size_t offset) const {
    Pos p = pos(v);
    const std::string& t = file_.text;
    if (p.line == 0 || p.line > line_starts_.size()) return p;
    std::size_t i = line_starts_[p.line - 1];
    auto step = [&](std::size_t& j) {  // one code point forward
      ++j;
      while (j < t.size() && (static_cast<unsigned char>(t[j]) & 0xC0) == 0x80) ++j;
    };
    for (std::uint32_t c = 1; c < p.column && i < t.size() && t[i] != '\n'; ++c) step(i);
    if (i >= t.size() || (t[i] != '"' && t[i] != '\'')) return p;
    const char quote = t[i];
    if (t.compare(i, 3, std::string(3, quote)) == 0) return p;  // multi-line string
    std::size_t j = i + 1;
    std::size_t decoded = 0;
    while (decoded < offset && j < t.size() && t[j] != quote && t[j] != '\n') {
      if (quote == '"' && t[j] == '\\' && j + 1 < t.size()) {
        char e = t[j + 1];
        std::size_t raw = e == 'u' ? 6 : e == 'U' ? 10 : 2;
        std::size_t len = 1;
        if (e == 'u' || e == 'U') {
          unsigned long cp = std::strtoul(t.substr(j + 2, raw - 2).c_str(), nullptr, 16);
          len = cp < 0x80 ? 1 : cp < 0x800 ? 2 : cp < 0x10000 ? 3 : 4;
        }
        decoded += len;
        j += raw;
      } else {
        ++decoded;
        ++j;
      }
    }
    std::uint32_t column = p.column + 1;
    for (std::size_t k = i + 1; k < j && k < t.size(); step(k)) ++column;
    return Pos{p.line, column};
  }

  void unknown_key(const toml::key& k, std::string_view where, const Keys& known) {
    error(pos(k), "unknown key '" + std::string(k.str()) + "' " + std::string(where) +
                      did_you_mean(k.str(), known));
  }

  void wrong_type(const toml::node& v, std::string_view key, std::string_view expected) {
    error(pos(v), "'" + std::string(key) + "' expects " + std::string(expected) + ", not " +
                      std::string(type_name(v)));
  }

  // ---- typed values ----

  std::optional<std::string> get_string(const toml::node& v, std::string_view key) {
    if (const auto* s = v.as_string()) return s->get();
    wrong_type(v, key, "a string");
    return std::nullopt;
  }

  std::optional<bool> get_bool(const toml::node& v, std::string_view key) {
    if (const auto* b = v.as_boolean()) return b->get();
    wrong_type(v, key, "true or false");
    return std::nullopt;
  }

  std::optional<double> get_number(const toml::node& v, std::string_view key) {
    if (const auto* i = v.as_integer()) return static_cast<double>(i->get());
    if (const auto* f = v.as_floating_point()) return f->get();
    wrong_type(v, key, "a number");
    return std::nullopt;
  }

  // A duration string; `positive` refuses "0".
  std::optional<Duration> get_duration(const toml::node& v, std::string_view key, bool positive) {
    const auto* s = v.as_string();
    if (!s) {
      wrong_type(v, key, "a duration string like \"30s\"");
      return std::nullopt;
    }
    Result<Duration> d = parse_duration(s->get());
    if (!d.ok()) {
      error(pos(v), "'" + std::string(key) + "': " + d.error().message);
      return std::nullopt;
    }
    if (positive && *d <= Duration::zero()) {
      error(pos(v), "'" + std::string(key) + "' must be longer than 0");
      return std::nullopt;
    }
    return *d;
  }

  std::optional<std::uint64_t> get_byte_size(const toml::node& v, std::string_view key) {
    if (const auto* i = v.as_integer()) {
      if (i->get() >= 0) return static_cast<std::uint64_t>(i->get());
      error(pos(v), "'" + std::string(key) + "' must not be negative");
      return std::nullopt;
    }
    const auto* s = v.as_string();
    if (!s) {
      wrong_type(v, key, "a size like \"10MB\" or a number of bytes");
      return std::nullopt;
    }
    Result<std::uint64_t> n = parse_byte_size(s->get());
    if (!n.ok()) {
      error(pos(v), "'" + std::string(key) + "': " + n.error().message);
      return std::nullopt;
    }
    return *n;
  }

  std::optional<std::int64_t> get_int(const toml::node& v, std::string_view key, std::int64_t min,
                                      std::int64_t max, std::string_view expected) {
    const auto* i = v.as_integer();
    if (!i) {
      wrong_type(v, key, expected);
      return std::nullopt;
    }
    if (i->get() < min || i->get() > max) {
      error(pos(v), "'" + std::string(key) + "' must be between " + std::to_string(min) + " and " +
                        std::to_string(max));
      return std::nullopt;
    }
    return i->get();
  }

  // A plain string (not a template) that must be one of `choices`; its index.
  std::optional<std::size_t> get_choice(const toml::node& v, std::string_view key,
                                        const Keys& choices) {
    auto s = get_string(v, key);
    if (!s) return std::nullopt;
    for (std::size_t i = 0; i < choices.size(); ++i)
      if (*s == choices[i]) return i;
    error(pos(v), "'" + std::string(key) + "': unknown value " + json_quoted(*s) +
                      did_you_mean(*s, choices) + " (expected " + join(choices) + ")");
    return std::nullopt;
  }

  std::optional<Template> get_template(const toml::node& v, std::string_view key) {
    const auto* s = v.as_string();
    if (!s) {
      wrong_type(v, key, "a string (a template such as \"{root}/completed\")");
      return std::nullopt;
    }
    std::size_t offset = 0;
    Result<Template> t = Template::compile(s->get(), &offset);
    if (!t.ok()) {
      error(pos_in_string(v, offset), "'" + std::string(key) + "': " + t.error().message);
      return std::nullopt;
    }
    return std::move(t).value();
  }

  std::optional<std::vector<std::pair<std::string, Template>>> get_template_table(
      const toml::node& v, std::string_view key, bool env_names) {
    const auto* tbl = v.as_table();
    if (!tbl) {
      wrong_type(v, key, "a table of strings, e.g. { NAME = \"value\" }");
      return std::nullopt;
    }
    std::vector<std::pair<std::string, Template>> out;
    bool ok = true;
    for (auto&& [k, val] : *tbl) {
      std::string name(k.str());
      if (env_names ? !is_env_name(name) : !is_field_key(name)) {
        error(pos(k), "'" + std::string(key) + "': " +
                          (env_names ? "'" + name +
                                           "' is not an environment variable name (letters, "
                                           "digits and '_', not starting with a digit)"
                                     : "'" + name +
                                           "' is not a field key (letters, digits, '_', '-', "
                                           "'.')"));
        ok = false;
        continue;
      }
      auto t = get_template(val, std::string(key) + "." + name);
      if (!t) {
        ok = false;
        continue;
      }
      out.emplace_back(std::move(name), std::move(*t));
    }
    if (!ok) return std::nullopt;
    return out;
  }

  // ---- top level ----

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
          error(pos(*n), "rule name " + json_quoted(*s) +
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
      } else if (key == "every") {
        every = get_duration(v, key, true);
      } else if (key == "jitter") {
        jitter = get_duration(v, key, false);
      } else if (key == "persistent") {
        persistent = get_bool(v, key);
      } else if (key == "when") {
        parse_when(v, r, label);
      } else if (key == "action") {
        has_action = true;
        parse_actions(v, r, label);
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
                        join(kActionTypes));
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

  // ---- conditions ----

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
    Pos pos;
  };

  std::optional<Condition> parse_condition(const toml::node& n, const std::string& label,
                                           int index) {
    const auto* tbl = n.as_table();
    if (!tbl) {
      error(pos(n), "condition " + std::to_string(index) + " of rule " + label +
                        " must be a table like { field = \"kind\", equals = \"file.landed\" }, "
                        "not " +
                        std::string(type_name(n)));
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
                        join(kConditionSubjects) + " (what to test)");
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
        error(pos(*subject.value), "invalid JSON Pointer " + json_quoted(*name) + ": " + why);
        return std::nullopt;
      }
      c.subject = ConditionSubject::kJson;
      c.key = *name;
    }
    if (ops.empty()) {
      error(pos(n),
            "condition on " + json_quoted(*name) + " needs an operator: " + join(kOperators));
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
    error(pos(v), "unknown field " + json_quoted(name) +
                      (hint.empty() ? "" : "; did you mean '" + hint + "'?") + " (expected " +
                      join(kFieldNames) + " or fields.<key>)");
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
        error(pos(v), "'" + std::string(k) + "': invalid regular expression " + json_quoted(*s) +
                          ": " + re->error());
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

  // ---- actions ----

  void parse_actions(const toml::node& v, Rule& r, const std::string& label) {
    const auto* arr = v.as_array();
    if (!arr) {
      wrong_type(v, "action", "an array of action tables: [[rule.action]] blocks (two brackets)");
      return;
    }
    if (arr->empty()) error(pos(v), "'action' is empty: a rule needs at least one action");
    int index = 0;
    for (const toml::node& elem : *arr) {
      ++index;
      if (auto a = parse_action(elem, label, index)) r.actions.push_back(std::move(*a));
    }
  }

  std::optional<ActionSpec> parse_action(const toml::node& n, const std::string& label, int index) {
    const auto* tbl = n.as_table();
    const std::string what = "action " + std::to_string(index) + " of rule " + label;
    if (!tbl) {
      error(pos(n), what + " must be a table with 'do', not " + std::string(type_name(n)));
      return std::nullopt;
    }
    ActionSpec a;
    a.line = pos(n).line;
    a.column = pos(n).column;
    const std::size_t errors_before = errors_.size();
    bool known_type = false;
    if (const toml::node* d = tbl->get("do")) {
      if (auto s = get_string(*d, "do")) {
        for (std::size_t i = 0; i < kActionTypes.size(); ++i) {
          if (*s == kActionTypes[i]) {
            a.type = static_cast<ActionType>(i);
            known_type = true;
          }
        }
        if (!known_type)
          error(pos(*d), "unknown action " + json_quoted(*s) + did_you_mean(*s, kActionTypes) +
                             " (expected " + join(kActionTypes) + ")");
      }
    } else {
      error(pos(n), what + " has no 'do' (expected " + join(kActionTypes) + ")");
    }
    const std::string type_name_str = known_type ? action_type_name(a.type) : "";
    const std::string where = "in " + what;

    for (auto&& [k, v] : *tbl) {
      std::string_view key = k.str();
      if (key == "do") continue;
      if (key == "timeout") {
        if (auto d = get_duration(v, key, true)) a.timeout = *d;
        continue;
      }
      if (key == "retries") {
        const auto* i = v.as_integer();
        if (!i) {
          wrong_type(v, key, "a whole number of extra attempts, e.g. 2");
        } else if (i->get() < 0 || i->get() > 1000) {
          error(pos(v), "'retries' must be between 0 and 1000");
        } else {
          a.retry.retries = static_cast<int>(i->get());
        }
        continue;
      }
      if (key == "backoff") {
        parse_backoff(v, a.retry);
        continue;
      }
      if (!known_type) continue;  // cannot judge the other keys without a valid 'do'
      const Keys& own = keys_for(a.type);
      if (!contains(own, key)) {
        bool other = false;
        for (std::size_t t = 0; t < kActionTypes.size(); ++t)
          other = other || contains(keys_for(static_cast<ActionType>(t)), key);
        if (other) {
          error(pos(k), "'" + std::string(key) + "' does not apply to do = \"" + type_name_str +
                            "\" (" + type_name_str + " takes " + join(own, " and ") +
                            "; common keys: timeout, retries, backoff)");
        } else {
          Keys valid = own;
          valid.insert(valid.end(), kCommonActionKeys.begin(), kCommonActionKeys.end());
          unknown_key(k, where, valid);
        }
        continue;
      }
      parse_action_key(key, v, a);
    }
    if (!known_type) return std::nullopt;

    auto require = [&](bool present, std::string_view key, std::string_view meaning) {
      if (!present && !tbl->get(key))
        error(pos(n), what + " (do = \"" + type_name_str + "\") needs '" + std::string(key) +
                          "': " + std::string(meaning));
    };
    switch (a.type) {
      case ActionType::kRun:
        require(!a.argv.empty(), "argv",
                "the command and its arguments, e.g. argv = [\"integrate\", \"{path}\"]");
        break;
      case ActionType::kMove:
        require(a.to.has_value(), "to", "the destination directory, e.g. \"{root}/completed\"");
        break;
      case ActionType::kQuarantine:
        require(a.to.has_value(), "to", "the quarantine directory, e.g. \"{root}/quarantine\"");
        require(a.reason.has_value(), "reason", "why the file is quarantined");
        break;
      case ActionType::kMark:
        require(a.entity.has_value(), "entity", "the entity to mark, e.g. \"{entity}\"");
        break;
      case ActionType::kEmit:
        require(a.emit_kind.has_value(), "kind", "the kind of the derived event");
        break;
      case ActionType::kKill:
        if (!tbl->get("grace")) a.kill_grace = std::chrono::seconds(10);
        break;
      case ActionType::kRestart:
        break;
      case ActionType::kTmux:
        check_tmux(*tbl, a, what);
        break;
      case ActionType::kRotate:
        if (!tbl->get("max_size") && !tbl->get("max_age"))
          error(pos(n), what +
                            " (do = \"rotate\") needs 'max_size' and/or 'max_age': when to "
                            "rotate, e.g. max_size = \"10MB\" or max_age = \"1d\"");
        break;
      case ActionType::kProbe:
        require(!a.argv.empty(), "argv",
                "the command whose output is read, e.g. argv = [\"queue-status\"]");
        break;
    }
    if ((a.type == ActionType::kMove || a.type == ActionType::kQuarantine) && !a.root)
      a.root = Template::compile("{root}").value();
    if (a.type == ActionType::kMark && !a.state) a.state = Template::literal("completed");
    if ((a.type == ActionType::kKill || a.type == ActionType::kRestart) && !a.worker)
      a.worker = Template::compile("{entity}").value();
    if (a.type == ActionType::kRotate && !a.path) a.path = Template::compile("{path}").value();
    if (errors_.size() != errors_before) return std::nullopt;
    return a;
  }

  void parse_action_key(std::string_view key, const toml::node& v, ActionSpec& a) {
    if (key == "argv") {
      const auto* arr = v.as_array();
      if (!arr) {
        wrong_type(v, key,
                   "an array of strings like [\"integrate\", \"{path}\"] (each element is one "
                   "argument; nothing is split on spaces)");
        return;
      }
      if (arr->empty()) error(pos(v), "'argv' is empty: it needs at least the command");
      for (const toml::node& elem : *arr)
        if (auto t = get_template(elem, key)) a.argv.push_back(std::move(*t));
    } else if (key == "cwd") {
      a.cwd = get_template(v, key);
    } else if (key == "env") {
      if (auto e = get_template_table(v, key, true)) a.env = std::move(*e);
    } else if (key == "shell") {
      if (auto b = get_bool(v, key)) a.shell = *b;
    } else if (key == "kill_grace") {
      if (auto d = get_duration(v, key, false)) a.kill_grace = *d;
    } else if (key == "to") {
      a.to = get_template(v, key);
    } else if (key == "root") {
      a.root = get_template(v, key);
    } else if (key == "reason") {
      a.reason = get_template(v, key);
    } else if (key == "marker") {
      a.marker = get_template(v, key);
    } else if (key == "entity") {
      a.entity = get_template(v, key);
    } else if (key == "state") {
      a.state = get_template(v, key);
      if (a.state && a.state->is_literal() && !contains(kStates, a.state->source())) {
        error(pos(v), "unknown state " + json_quoted(a.state->source()) +
                          did_you_mean(a.state->source(), kStates) + " (expected " + join(kStates) +
                          ")");
      }
    } else if (key == "kind") {
      a.emit_kind = get_template(v, key);
      if (a.emit_kind && a.emit_kind->is_literal() && !is_kind_name(a.emit_kind->source())) {
        error(pos(v), "event kind " + json_quoted(a.emit_kind->source()) +
                          " must be lowercase dotted words like \"worker.stale\"");
      }
    } else if (key == "fields") {
      if (auto f = get_template_table(v, key, false)) a.emit_fields = std::move(*f);
    } else if (key == "worker") {
      a.worker = get_template(v, key);
    } else if (key == "signal") {
      if (auto sig = get_string(v, key)) parse_signal(v, *sig, a);
    } else if (key == "grace") {
      if (auto d = get_duration(v, key, false)) a.kill_grace = *d;
    } else if (key == "op") {
      // read by check_tmux, which needs it before judging the other keys
    } else if (key == "session") {
      a.session = get_template(v, key);
    } else if (key == "brief") {
      a.brief = get_template(v, key);
    } else if (key == "submit") {
      if (auto b = get_bool(v, key)) a.submit = *b;
    } else if (key == "keys") {
      const auto* arr = v.as_array();
      if (!arr) {
        wrong_type(v, key,
                   "an array of strings like [\"C-c\", \"Enter\"] (tmux key names or text)");
        return;
      }
      if (arr->empty()) error(pos(v), "'keys' is empty: list at least one key, or omit it");
      for (const toml::node& elem : *arr)
        if (auto t = get_template(elem, key)) a.keys.push_back(std::move(*t));
    } else if (key == "wait_for") {
      a.wait_for = get_template(v, key);
    } else if (key == "ready_timeout") {
      if (auto d = get_duration(v, key, true)) a.ready_timeout = *d;
    } else if (key == "path") {
      a.path = get_template(v, key);
    } else if (key == "max_size") {
      if (auto n = get_byte_size(v, key)) {
        if (*n == 0)
          error(pos(v), "'max_size' must be more than 0 (omit it to rotate by age only)");
        else
          a.max_size = *n;
      }
    } else if (key == "max_age") {
      if (auto d = get_duration(v, key, true)) a.max_age = *d;
    } else if (key == "keep") {
      if (auto i = get_int(v, key, 1, 1000, "a whole number of rotated files to keep, e.g. 5"))
        a.keep = static_cast<int>(*i);
    } else if (key == "compress") {
      if (auto b = get_bool(v, key)) a.compress = *b;
    } else if (key == "method") {
      if (auto m = get_choice(v, key, kRotateMethods)) a.method = static_cast<RotateMethod>(*m);
    } else if (key == "patterns") {
      parse_probe_patterns(v, a);
    } else if (key == "max_output") {
      if (auto n = get_byte_size(v, key)) {
        if (*n == 0)
          error(pos(v), "'max_output' must be more than 0");
        else
          a.max_output = *n;
      }
    }
  }

  void parse_signal(const toml::node& v, std::string_view name, ActionSpec& a) {
    std::string_view bare = name.starts_with("SIG") ? name.substr(3) : name;
    for (const auto& [n, number] : kSignals) {
      if (bare == n) {
        a.signal = number;
        return;
      }
    }
    error(pos(v), "unknown signal " + json_quoted(name) + did_you_mean(bare, kSignalNames) +
                      " (expected " + join(kSignalNames) + ")");
  }

  // op (required) decides which of the other tmux keys apply.
  void check_tmux(const toml::table& tbl, ActionSpec& a, const std::string& what) {
    if (!tbl.get("session"))
      error(pos(tbl), what +
                          " (do = \"tmux\") needs 'session': the tmux session name, e.g. "
                          "\"agent-{entity}\"");
    const toml::node* op_node = tbl.get("op");
    if (!op_node) {
      error(pos(tbl), what + " (do = \"tmux\") needs 'op': " + join(kTmuxOps));
      return;
    }
    auto op = get_choice(*op_node, "op", kTmuxOps);
    if (!op) return;
    a.tmux_op = static_cast<TmuxOp>(*op);
    const std::string op_name = tmux_op_name(a.tmux_op);
    const Keys& own = a.tmux_op == TmuxOp::kOpen   ? kTmuxOpenKeys
                      : a.tmux_op == TmuxOp::kSend ? kTmuxSendKeys
                                                   : kTmuxKillKeys;
    for (auto&& [k, v] : tbl) {
      std::string_view key = k.str();
      if (!contains(kTmuxKeys, key) || contains(own, key)) continue;
      error(pos(k), "'" + std::string(key) + "' does not apply to op = \"" + op_name + "\" (" +
                        op_name + " takes " + join(own, " and ") + ")");
    }
    if (a.tmux_op == TmuxOp::kSend && !tbl.get("keys") && !tbl.get("brief"))
      error(pos(tbl), what + " (op = \"send\") needs 'keys' and/or 'brief': what to type");
  }

  void parse_probe_patterns(const toml::node& v, ActionSpec& a) {
    const auto* arr = v.as_array();
    if (!arr) {
      wrong_type(v, "patterns",
                 "an array of tables like [ { match = \"^FAILED\", kind = \"queue.failed\" } ]");
      return;
    }
    if (arr->empty()) error(pos(v), "'patterns' is empty: give at least one, or omit it");
    int index = 0;
    for (const toml::node& elem : *arr) {
      ++index;
      const std::string what = "pattern " + std::to_string(index);
      const auto* tbl = elem.as_table();
      if (!tbl) {
        error(pos(elem), what + " must be a table like { match = \"...\", kind = \"...\" }, not " +
                             std::string(type_name(elem)));
        continue;
      }
      ProbePattern p;
      bool ok = true, unknown = false;
      for (auto&& [k, val] : *tbl) {
        std::string_view key = k.str();
        if (key == "match") {
          ok = compile_probe_regex(val, p) && ok;
        } else if (key == "kind") {
          auto kind = get_string(val, "kind");
          if (kind && !is_kind_name(*kind)) {
            error(pos(val), "event kind " + json_quoted(*kind) +
                                " must be lowercase dotted words like \"queue.failed\"");
            kind.reset();
          }
          ok = kind.has_value() && ok;
          if (kind) p.kind = std::move(*kind);
        } else {
          unknown_key(k, "in " + what + " of 'patterns'", kProbePatternKeys);
          unknown = true;
          ok = false;
        }
      }
      // An unknown key is most likely the misspelt one: say only that.
      for (std::string_view key : kProbePatternKeys) {
        if (tbl->get(key) || unknown) continue;
        error(pos(elem), what + " of 'patterns' needs '" + std::string(key) + "'" +
                             (key == "match" ? ": an RE2 regular expression"
                                             : ": the kind of the event, e.g. \"queue.failed\""));
        ok = false;
      }
      if (ok) a.patterns.push_back(std::move(p));
    }
  }

  bool compile_probe_regex(const toml::node& v, ProbePattern& p) {
    auto s = get_string(v, "match");
    if (!s) return false;
    RE2::Options options;
    options.set_log_errors(false);
    auto re = std::make_shared<const RE2>(*s, options);
    if (!re->ok()) {
      error(pos(v), "'match': invalid regular expression " + json_quoted(*s) + ": " + re->error());
      return false;
    }
    bool ok = true;
    for (const auto& [name, group] : re->NamedCapturingGroups()) {
      if (!contains(kProbeReservedFields, name)) continue;
      std::size_t at = s->find("<" + name + ">");
      error(at == std::string::npos ? pos(v) : pos_in_string(v, at),
            "'match': capture group '" + name + "' would overwrite the event's own field " + name +
                " (reserved: " + join(kProbeReservedFields, " and ") + "); rename the group");
      ok = false;
    }
    p.match = *s;
    p.regex = std::move(re);
    return ok;
  }

  void parse_backoff(const toml::node& v, RetryPolicy& retry) {
    const auto* tbl = v.as_table();
    if (!tbl) {
      wrong_type(v, "backoff",
                 "a table like { initial = \"500ms\", factor = 2.0, max = \"30s\", jitter = 0.2 }");
      return;
    }
    for (auto&& [k, val] : *tbl) {
      std::string_view key = k.str();
      if (key == "initial") {
        if (auto d = get_duration(val, "backoff.initial", true)) retry.initial = *d;
      } else if (key == "max") {
        if (auto d = get_duration(val, "backoff.max", true)) retry.max = *d;
      } else if (key == "factor") {
        if (auto f = get_number(val, "backoff.factor")) {
          if (*f < 1.0)
            error(pos(val), "'backoff.factor' must be at least 1.0");
          else
            retry.factor = *f;
        }
      } else if (key == "jitter") {
        if (auto f = get_number(val, "backoff.jitter")) {
          if (*f < 0.0 || *f > 1.0)
            error(pos(val), "'backoff.jitter' must be between 0 and 1");
          else
            retry.jitter = *f;
        }
      } else {
        unknown_key(k, "in backoff", kBackoffKeys);
      }
    }
    if (retry.max < retry.initial) {
      const toml::node* m = tbl->get("max");
      error(m ? pos(*m) : pos(v), "'backoff.max' (" + format_duration(retry.max) +
                                      ") is shorter than 'backoff.initial' (" +
                                      format_duration(retry.initial) + ")");
    }
  }

  const RuleFile& file_;
  std::vector<RuleError>& errors_;
  std::vector<std::size_t> line_starts_;
};

std::string location(const std::string& file, Pos p) {
  return file + ":" + std::to_string(p.line) + ":" + std::to_string(p.column);
}

// FNV-1a 64: stable across runs and machines, enough to tell rule sets apart.
struct Fnv1a {
  std::uint64_t h = 0xcbf29ce484222325ull;
  void add(std::string_view s) {
    for (unsigned char c : s) {
      h ^= c;
      h *= 0x100000001b3ull;
    }
    h ^= 0xff;  // separator, so ("ab","c") and ("a","bc") differ
    h *= 0x100000001b3ull;
  }
  std::string hex() const {
    char buf[17];
    std::snprintf(buf, sizeof buf, "%016llx", static_cast<unsigned long long>(h));
    return buf;
  }
};

RuleLoad load_layers(const std::vector<RuleLayer>& layers, std::vector<RuleError> errors) {
  std::vector<Rule> current;
  std::vector<std::string> files;
  Fnv1a hash;
  for (std::size_t li = 0; li < layers.size(); ++li) {
    std::vector<ParsedRule> parsed;
    std::vector<Disable> disables;
    for (const RuleFile& f : layers[li]) {
      files.push_back(f.path);
      hash.add(f.path);
      hash.add(f.text);
      FileParser(f, errors).parse(parsed, disables);
    }
    std::unordered_map<std::string, const ParsedRule*> first;
    std::vector<const ParsedRule*> added;
    for (const ParsedRule& p : parsed) {
      if (p.rule.name.empty()) continue;
      auto [it, inserted] = first.emplace(p.rule.name, &p);
      if (!inserted) {
        errors.push_back(RuleError{p.rule.file, p.name_pos.line, p.name_pos.column,
                                   "duplicate rule name '" + p.rule.name + "' (also defined at " +
                                       location(it->second->rule.file, it->second->name_pos) +
                                       "); a later layer (rules.d) may replace a rule, one layer "
                                       "may not define it twice"});
        continue;
      }
      added.push_back(&p);
    }
    for (const Disable& d : disables) {
      auto it = std::find_if(current.begin(), current.end(),
                             [&](const Rule& r) { return r.name == d.name; });
      if (it != current.end()) {
        current.erase(it);
        continue;
      }
      Keys names;
      for (const Rule& r : current) names.push_back(r.name);
      errors.push_back(RuleError{d.file, d.pos.line, d.pos.column,
                                 "cannot disable '" + d.name +
                                     "': no rule of an earlier layer has that name" +
                                     did_you_mean(d.name, names)});
    }
    for (const ParsedRule* p : added) {
      auto it = std::find_if(current.begin(), current.end(),
                             [&](const Rule& r) { return r.name == p->rule.name; });
      if (it != current.end())
        *it = p->rule;  // an override keeps the replaced rule's place
      else
        current.push_back(p->rule);
    }
  }
  if (!errors.empty()) {
    std::unordered_map<std::string, std::size_t> order;
    for (const std::string& f : files) order.emplace(f, order.size());
    std::stable_sort(errors.begin(), errors.end(), [&](const RuleError& a, const RuleError& b) {
      auto ia = order.count(a.file) ? order[a.file] : 0;
      auto ib = order.count(b.file) ? order[b.file] : 0;
      return std::tie(ia, a.line, a.column) < std::tie(ib, b.line, b.column);
    });
    return RuleLoad(std::move(errors));
  }
  return RuleLoad(RuleSet(std::move(current), std::move(files), hash.hex()));
}

bool read_file(const std::string& path, std::string& out, std::string& why) {
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    why = std::strerror(errno);
    return false;
  }
  std::ostringstream buf;
  buf << in.rdbuf();
  if (in.bad()) {
    why = "read error";
    return false;
  }
  out = std::move(buf).str();
  if (out.size() > kMaxRuleFileBytes) {
    why = "larger than 1 MiB; is this really a rule file?";
    return false;
  }
  return true;
}

}  // namespace

std::string RuleError::to_string() const {
  if (line == 0) return file + ": error: " + message;
  return file + ":" + std::to_string(line) + ":" + std::to_string(column) + ": error: " + message;
}

std::string RuleLoad::error_text() const {
  std::string out;
  for (const RuleError& e : errors_) out += e.to_string() + "\n";
  return out;
}

RuleLoad load_rules(const std::vector<RuleLayer>& layers) {
  return load_layers(layers, {});
}

RuleLoad load_rules_from_string(std::string_view text, std::string_view path) {
  return load_rules({RuleLayer{RuleFile{std::string(path), std::string(text)}}});
}

RuleLayer read_rule_layer(const RuleLayerPaths& layer, std::vector<RuleError>& errors) {
  namespace fs = std::filesystem;
  RuleLayer out;
  auto add_file = [&](const std::string& path) {
    RuleFile f{path, {}};
    std::string why;
    if (read_file(path, f.text, why))
      out.push_back(std::move(f));
    else
      errors.push_back(RuleError{path, 0, 0, "cannot read rule file: " + why});
  };
  for (const std::string& path : layer.paths) {
    std::error_code ec;
    fs::file_status st = fs::status(path, ec);
    if (ec || !fs::exists(st)) {
      if (layer.skip_missing && (!ec || ec == std::errc::no_such_file_or_directory)) continue;
      errors.push_back(RuleError{
          path, 0, 0,
          "cannot read: " + (ec ? ec.message() : std::string("No such file or directory"))});
      continue;
    }
    if (fs::is_directory(st)) {
      std::vector<std::string> names;
      fs::directory_iterator it(path, ec), end;
      for (; !ec && it != end; it.increment(ec)) {
        std::string name = it->path().filename().string();
        if (name.starts_with(".") || !name.ends_with(".toml")) continue;
        std::error_code ec2;
        if (!fs::is_regular_file(it->path(), ec2)) continue;  // follows symlinks
        names.push_back(name);
      }
      if (ec) {
        errors.push_back(RuleError{path, 0, 0, "cannot list rule directory: " + ec.message()});
        continue;
      }
      std::sort(names.begin(), names.end());
      for (const std::string& name : names) add_file((fs::path(path) / name).string());
    } else if (fs::is_regular_file(st)) {
      add_file(path);
    } else {
      errors.push_back(RuleError{path, 0, 0, "not a rule file or a directory of them"});
    }
  }
  return out;
}

RuleLoad load_rules_from_paths(const std::vector<RuleLayerPaths>& layers) {
  std::vector<RuleError> errors;
  std::vector<RuleLayer> read;
  read.reserve(layers.size());
  for (const RuleLayerPaths& l : layers) read.push_back(read_rule_layer(l, errors));
  return load_layers(read, std::move(errors));
}

}  // namespace aw
