// Actions of a rule file: [[rule.action]] tables → ActionSpec (rule.h).
//
// Each action type has a key table: the keys it takes and how each is read into
// that type's spec. The table is the whole grammar of the type: the keys a
// type "takes" in messages come from it, and a key of another type's table is
// refused as "does not apply" rather than "unknown".
#include <re2/re2.h>

#include <array>
#include <csignal>
#include <memory>
#include <utility>
#include <variant>

#include "src/core/duration.h"
#include "src/core/suggest.h"
#include "src/rules/rule_parse.h"

namespace aw::rule_parse {
namespace {

// In ActionType order (the loader maps an index here to the enum).
const Keys kActionTypes = {"run",          "move",
                           "quarantine",   "mark",
                           "emit",         "kill",
                           "restart",      "tmux",
                           "rotate",       "probe",
                           "repair_json",  "complete_session",
                           "fail_session", "integrate_session",
                           "ensure_file",  "retain",
                           "check_disk"};
const Keys kCommonActionKeys = {"do", "timeout", "retries", "backoff", "on_interrupt"};
const Keys kOnInterrupt = {"rerun", "fail"};
const Keys kTmuxKeys = {"op",    "session", "argv", "cwd",      "env",
                        "brief", "submit",  "keys", "wait_for", "ready_timeout"};
const Keys kTmuxOpenKeys = kTmuxKeys;
const Keys kTmuxSendKeys = {"op", "session", "brief", "submit", "keys"};
const Keys kTmuxKillKeys = {"op", "session"};
const Keys kTmuxOps = {"open", "send", "kill"};          // in TmuxOp order
const Keys kRotateMethods = {"rename", "copytruncate"};  // in RotateMethod order
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

class ActionParser;

// One key of one action type and how it is read into that type's spec.
template <class Spec>
struct KeyRule {
  std::string_view key;
  void (*read)(ActionParser& p, const toml::node& v, Spec& spec);
};
template <class Spec>
using KeyTable = std::vector<KeyRule<Spec>>;

template <class Spec>
const KeyTable<Spec>& key_table();

template <class Spec>
Keys keys_of() {
  Keys keys;
  for (const KeyRule<Spec>& rule : key_table<Spec>()) keys.push_back(rule.key);
  return keys;
}

template <std::size_t... I>
std::array<Keys, sizeof...(I)> all_type_keys(std::index_sequence<I...>) {
  return {keys_of<std::variant_alternative_t<I, ActionSpecBody>>()...};
}

// The keys of action type `t`, from its table.
const Keys& keys_for(ActionType t) {
  static const auto keys =
      all_type_keys(std::make_index_sequence<std::variant_size_v<ActionSpecBody>>());
  return keys[static_cast<std::size_t>(t)];
}

template <std::size_t... I>
ActionSpecBody make_body(std::size_t index, std::index_sequence<I...>) {
  static constexpr ActionSpecBody (*kMake[])() = {
      [] { return ActionSpecBody(std::in_place_index<I>); }...};
  return kMake[index]();
}

// An empty spec of type `t`.
ActionSpecBody make_body(ActionType t) {
  return make_body(static_cast<std::size_t>(t),
                   std::make_index_sequence<std::variant_size_v<ActionSpecBody>>());
}

class ActionParser : RuleReader {
 public:
  explicit ActionParser(TomlReader& r) : RuleReader(r) {}

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
      if (auto a = parse_action(elem, r.name, label, index)) r.actions.push_back(std::move(*a));
    }
  }

  // ---- readers the key tables use ----

  std::optional<Template> get_template(const toml::node& v, std::string_view key);
  std::optional<std::vector<std::pair<std::string, Template>>> get_template_table(
      const toml::node& v, std::string_view key, bool env_names);

  void read_template(const toml::node& v, std::string_view key, Template& out) {
    if (auto t = get_template(v, key)) out = std::move(*t);
  }
  void read_template(const toml::node& v, std::string_view key, std::optional<Template>& out) {
    out = get_template(v, key);
  }
  void read_argv(const toml::node& v, std::vector<Template>& out) {
    const auto* arr = v.as_array();
    if (!arr) {
      wrong_type(v, "argv",
                 "an array of strings like [\"integrate\", \"{path}\"] (each element is one "
                 "argument; nothing is split on spaces)");
      return;
    }
    if (arr->empty()) error(pos(v), "'argv' is empty: it needs at least the command");
    for (const toml::node& elem : *arr)
      if (auto t = get_template(elem, "argv")) out.push_back(std::move(*t));
  }
  void read_keys(const toml::node& v, std::vector<Template>& out) {
    const auto* arr = v.as_array();
    if (!arr) {
      wrong_type(v, "keys",
                 "an array of strings like [\"C-c\", \"Enter\"] (tmux key names or text)");
      return;
    }
    if (arr->empty()) error(pos(v), "'keys' is empty: list at least one key, or omit it");
    for (const toml::node& elem : *arr)
      if (auto t = get_template(elem, "keys")) out.push_back(std::move(*t));
  }
  void read_env(const toml::node& v, TemplateTable& out) {
    if (auto e = get_template_table(v, "env", true)) out = std::move(*e);
  }
  void read_bool(const toml::node& v, std::string_view key, bool& out) {
    if (auto b = get_bool(v, key)) out = *b;
  }
  void read_duration(const toml::node& v, std::string_view key, bool positive, Duration& out) {
    if (auto d = get_duration(v, key, positive)) out = *d;
  }
  // A byte size that must be more than 0.
  void read_positive_size(const toml::node& v, std::string_view key, std::string_view zero_hint,
                          std::uint64_t& out) {
    if (auto n = get_byte_size(v, key)) {
      if (*n == 0)
        error(pos(v), "'" + std::string(key) + "' must be more than 0" + std::string(zero_hint));
      else
        out = *n;
    }
  }
  void read_state(const toml::node& v, Template& out) {
    auto t = get_template(v, "state");
    if (!t) return;
    if (t->is_literal() && !contains(kStates, t->source()))
      error(pos(v), "unknown state " + quoted(t->source()) + did_you_mean(t->source(), kStates) +
                        " (expected " + join_keys(kStates) + ")");
    out = std::move(*t);
  }
  void read_kind(const toml::node& v, Template& out) {
    auto t = get_template(v, "kind");
    if (!t) return;
    if (t->is_literal() && !is_kind_name(t->source()))
      error(pos(v), "event kind " + quoted(t->source()) +
                        " must be lowercase dotted words like \"worker.stale\"");
    out = std::move(*t);
  }
  void read_fields(const toml::node& v, TemplateTable& out) {
    if (auto f = get_template_table(v, "fields", false)) out = std::move(*f);
  }
  void read_signal(const toml::node& v, int& out) {
    auto name = get_string(v, "signal");
    if (!name) return;
    std::string_view bare = std::string_view(*name).starts_with("SIG")
                                ? std::string_view(*name).substr(3)
                                : std::string_view(*name);
    for (const auto& [n, number] : kSignals) {
      if (bare == n) {
        out = number;
        return;
      }
    }
    error(pos(v), "unknown signal " + quoted(*name) + did_you_mean(bare, kSignalNames) +
                      " (expected " + join_keys(kSignalNames) + ")");
  }
  void read_keep(const toml::node& v, int& out) {
    if (auto i = get_int(v, "keep", 1, 1000, "a whole number of rotated files to keep, e.g. 5"))
      out = static_cast<int>(*i);
  }
  // A file mode as an octal string ("0755", "700"): an integer is refused,
  // because 755 in TOML is decimal and would mean something else entirely.
  void read_mode(const toml::node& v, std::uint32_t& out) {
    if (v.is_integer()) {
      error(pos(v),
            "'mode' must be an octal string like \"0755\", not an integer (755 in TOML "
            "is decimal)");
      return;
    }
    auto text = get_string(v, "mode");
    if (!text) return;
    std::uint32_t mode = 0;
    bool ok = !text->empty() && text->size() <= 4;
    for (char c : *text) {
      ok = ok && c >= '0' && c <= '7';
      mode = mode * 8 + static_cast<std::uint32_t>(c - '0');
    }
    if (!ok || mode > 07777) {
      error(pos(v), "'mode' " + quoted(*text) + " is not an octal file mode like \"0755\"");
      return;
    }
    if ((mode & 0400) == 0) {
      error(pos(v), "'mode' " + quoted(*text) +
                        " does not let the owner read the file; a restored file must be usable");
      return;
    }
    out = mode;
  }
  void read_count(const toml::node& v, std::string_view key, std::uint64_t& out) {
    if (auto i = get_int(v, key, 1, 1000000, "a whole number, e.g. 10000"))
      out = static_cast<std::uint64_t>(*i);
  }
  void read_method(const toml::node& v, RotateMethod& out) {
    if (auto m = get_choice(v, "method", kRotateMethods)) out = static_cast<RotateMethod>(*m);
  }

  void parse_probe_patterns(const toml::node& v, ProbeActionSpec& a) {
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
                             std::string(toml_type_name(elem)));
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
            error(pos(val), "event kind " + quoted(*kind) +
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
      error(pos(v), "'match': invalid regular expression " + quoted(*s) + ": " + re->error());
      return false;
    }
    bool ok = true;
    for (const auto& [name, group] : re->NamedCapturingGroups()) {
      if (!contains(kProbeReservedFields, name)) continue;
      std::size_t at = s->find("<" + name + ">");
      error(at == std::string::npos ? pos(v) : pos_in_string(v, at),
            "'match': capture group '" + name + "' would overwrite the event's own field " + name +
                " (reserved: " + join_keys(kProbeReservedFields, " and ") + "); rename the group");
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

 private:
  std::optional<ActionSpec> parse_action(const toml::node& n, const std::string& rule_name,
                                         const std::string& label, int index) {
    const auto* tbl = n.as_table();
    const std::string what = "action " + std::to_string(index) + " of rule " + label;
    if (!tbl) {
      error(pos(n), what + " must be a table with 'do', not " + std::string(toml_type_name(n)));
      return std::nullopt;
    }
    ActionSpec a;
    a.rule = rule_name;
    a.index = static_cast<std::size_t>(index - 1);
    a.line = pos(n).line;
    a.column = pos(n).column;
    const std::size_t errors_before = r_.error_count();
    std::optional<ActionType> type;
    if (const toml::node* d = tbl->get("do")) {
      if (auto s = get_string(*d, "do")) {
        for (std::size_t i = 0; i < kActionTypes.size(); ++i)
          if (*s == kActionTypes[i]) type = static_cast<ActionType>(i);
        if (!type)
          error(pos(*d), "unknown action " + quoted(*s) + did_you_mean(*s, kActionTypes) +
                             " (expected " + join_keys(kActionTypes) + ")");
      }
    } else {
      error(pos(n), what + " has no 'do' (expected " + join_keys(kActionTypes) + ")");
    }

    for (auto&& [k, v] : *tbl) {
      std::string_view key = k.str();
      if (key == "timeout") {
        if (auto d = get_duration(v, key, true)) a.timeout = *d;
      } else if (key == "retries") {
        if (auto i = get_int(v, key, 0, 1000, "a whole number of extra attempts, e.g. 2"))
          a.retry.retries = static_cast<int>(*i);
      } else if (key == "backoff") {
        parse_backoff(v, a.retry);
      } else if (key == "on_interrupt") {
        if (auto s = get_string(v, "on_interrupt")) {
          if (*s == "rerun")
            a.on_interrupt = OnInterrupt::kRerun;
          else if (*s == "fail")
            a.on_interrupt = OnInterrupt::kFail;
          else
            error(pos(v), "on_interrupt must be \"rerun\" or \"fail\", not " + quoted(*s) +
                              did_you_mean(*s, kOnInterrupt));
        }
      }
    }
    if (!type) return std::nullopt;  // cannot judge the other keys without a valid 'do'

    a.body = make_body(*type);
    std::visit([&](auto& spec) { parse_body(*tbl, n, what, spec); }, a.body);
    if (r_.error_count() != errors_before) return std::nullopt;
    return a;
  }

  // The keys of `tbl` for a spec of one type: each read by its table, or refused.
  template <class Spec>
  void parse_body(const toml::table& tbl, const toml::node& n, const std::string& what,
                  Spec& spec) {
    const ActionType type = static_cast<ActionType>(ActionSpecBody(Spec{}).index());
    const std::string name = action_type_name(type);
    for (auto&& [k, v] : tbl) {
      std::string_view key = k.str();
      if (contains(kCommonActionKeys, key)) continue;
      const KeyTable<Spec>& table = key_table<Spec>();
      auto rule = std::find_if(table.begin(), table.end(),
                               [&](const KeyRule<Spec>& r) { return r.key == key; });
      if (rule != table.end()) {
        rule->read(*this, v, spec);
        continue;
      }
      const Keys& own = keys_for(type);
      bool other = false;
      for (std::size_t t = 0; t < kActionTypes.size(); ++t)
        other = other || contains(keys_for(static_cast<ActionType>(t)), key);
      if (other) {
        error(pos(k), "'" + std::string(key) + "' does not apply to do = \"" + name + "\" (" +
                          name + " takes " + join_keys(own, " and ") +
                          "; common keys: timeout, retries, backoff, on_interrupt)");
      } else {
        Keys valid = own;
        valid.insert(valid.end(), kCommonActionKeys.begin(), kCommonActionKeys.end());
        unknown_key(k, "in " + what, valid);
      }
    }
    finish(tbl, n, what, spec);
  }

  // ---- per type: what is required, and the defaults of absent keys ----

  void require(const toml::table& tbl, const toml::node& n, const std::string& what,
               std::string_view type, std::string_view key, std::string_view meaning) {
    if (!tbl.get(key))
      error(pos(n), what + " (do = \"" + std::string(type) + "\") needs '" + std::string(key) +
                        "': " + std::string(meaning));
  }
  static Template default_template(std::string_view text) {
    return Template::compile(text).value();
  }

  void finish(const toml::table& tbl, const toml::node& n, const std::string& what,
              RunActionSpec&) {
    require(tbl, n, what, "run", "argv",
            "the command and its arguments, e.g. argv = [\"integrate\", \"{path}\"]");
  }
  void finish(const toml::table& tbl, const toml::node& n, const std::string& what,
              MoveActionSpec& s) {
    require(tbl, n, what, "move", "to", "the destination directory, e.g. \"{root}/completed\"");
    if (!tbl.get("root")) s.root = default_template("{root}");
  }
  void finish(const toml::table& tbl, const toml::node& n, const std::string& what,
              QuarantineActionSpec& s) {
    require(tbl, n, what, "quarantine", "to",
            "the quarantine directory, e.g. \"{root}/quarantine\"");
    require(tbl, n, what, "quarantine", "reason", "why the file is quarantined");
    if (!tbl.get("root")) s.root = default_template("{root}");
  }
  void finish(const toml::table& tbl, const toml::node& n, const std::string& what,
              MarkActionSpec& s) {
    require(tbl, n, what, "mark", "entity", "the entity to mark, e.g. \"{entity}\"");
    if (!tbl.get("state")) s.state = Template::literal("completed");
  }
  void finish(const toml::table& tbl, const toml::node& n, const std::string& what,
              EmitActionSpec&) {
    require(tbl, n, what, "emit", "kind", "the kind of the derived event");
  }
  void finish(const toml::table& tbl, const toml::node&, const std::string&, KillActionSpec& s) {
    if (!tbl.get("worker")) s.worker = default_template("{entity}");
  }
  void finish(const toml::table& tbl, const toml::node&, const std::string&, RestartActionSpec& s) {
    if (!tbl.get("worker")) s.worker = default_template("{entity}");
  }
  void finish(const toml::table& tbl, const toml::node& n, const std::string& what,
              RotateActionSpec& s) {
    if (!tbl.get("max_size") && !tbl.get("max_age"))
      error(pos(n), what +
                        " (do = \"rotate\") needs 'max_size' and/or 'max_age': when to "
                        "rotate, e.g. max_size = \"10MB\" or max_age = \"1d\"");
    if (!tbl.get("path")) s.path = default_template("{path}");
  }
  void finish(const toml::table& tbl, const toml::node&, const std::string&,
              RepairJsonActionSpec& s) {
    if (!tbl.get("path")) s.path = default_template("{path}");
    if (!tbl.get("root")) s.root = default_template("{root}");
  }
  void finish(const toml::table& tbl, const toml::node& n, const std::string& what,
              CompleteSessionActionSpec& s) {
    require(tbl, n, what, "complete_session", "to",
            "where complete sessions go, e.g. \"{root}/completed\"");
    if (!tbl.get("session")) s.session = default_template("{dir}");
    if (!tbl.get("root")) s.root = default_template("{root}");
    if (!tbl.get("manifest")) s.manifest = Template::literal("session.json");
    if (!tbl.get("marker")) s.marker = Template::literal("session.done");
  }
  void finish(const toml::table& tbl, const toml::node& n, const std::string& what,
              FailSessionActionSpec& s) {
    require(tbl, n, what, "fail_session", "to",
            "where sessions that never completed go, e.g. \"{root}/failed\"");
    if (!tbl.get("session")) s.session = default_template("{dir}");
    if (!tbl.get("root")) s.root = default_template("{root}");
    if (!tbl.get("manifest")) s.manifest = Template::literal("session.json");
    if (!tbl.get("marker")) s.marker = Template::literal("session.done");
    if (!tbl.get("reason"))
      s.reason = Template::literal("the session did not complete in the time its rule allows");
  }
  void finish(const toml::table& tbl, const toml::node& n, const std::string& what,
              IntegrateSessionActionSpec& s) {
    require(tbl, n, what, "integrate_session", "to",
            "where integrated sessions go, e.g. \"{root}/integrated\"");
    require(tbl, n, what, "integrate_session", "argv",
            "the integration command, e.g. argv = [\"integrate\", \"{dir}\"]");
    if (!tbl.get("session")) s.session = default_template("{dir}");
    if (!tbl.get("root")) s.root = default_template("{root}");
    if (!tbl.get("marker")) s.marker = Template::literal("session.integrated");
    if (!tbl.get("claim")) s.claim = Template::literal("session.integrating");
  }
  void finish(const toml::table& tbl, const toml::node& n, const std::string& what,
              EnsureFileActionSpec& s) {
    require(tbl, n, what, "ensure_file", "source",
            "the file to restore from, e.g. \"/usr/share/hooks/{name}\"");
    if (!tbl.get("path")) s.path = default_template("{path}");
    if (!tbl.get("root")) s.root = default_template("{root}");
  }
  void finish(const toml::table& tbl, const toml::node& n, const std::string& what,
              RetainActionSpec& s) {
    require(tbl, n, what, "retain", "dir",
            "the directory whose old entries are deleted, e.g. \"{root}/completed\"");
    require(tbl, n, what, "retain", "max_age", "how old an entry must be to go, e.g. \"7d\"");
    if (!tbl.get("root")) s.root = default_template("{root}");
  }
  void finish(const toml::table&, const toml::node&, const std::string&, CheckDiskActionSpec&) {}
  void finish(const toml::table& tbl, const toml::node& n, const std::string& what,
              ProbeActionSpec&) {
    require(tbl, n, what, "probe", "argv",
            "the command whose output is read, e.g. argv = [\"queue-status\"]");
  }
  // op (required) decides which of the other tmux keys apply.
  void finish(const toml::table& tbl, const toml::node& n, const std::string& what,
              TmuxActionSpec& a) {
    if (!tbl.get("session"))
      error(pos(n), what +
                        " (do = \"tmux\") needs 'session': the tmux session name, e.g. "
                        "\"agent-{entity}\"");
    const toml::node* op_node = tbl.get("op");
    if (!op_node) {
      error(pos(n), what + " (do = \"tmux\") needs 'op': " + join_keys(kTmuxOps));
      return;
    }
    auto op = get_choice(*op_node, "op", kTmuxOps);
    if (!op) return;
    a.op = static_cast<TmuxOp>(*op);
    const std::string op_name = tmux_op_name(a.op);
    const Keys& own = a.op == TmuxOp::kOpen   ? kTmuxOpenKeys
                      : a.op == TmuxOp::kSend ? kTmuxSendKeys
                                              : kTmuxKillKeys;
    for (auto&& [k, v] : tbl) {
      std::string_view key = k.str();
      if (!contains(kTmuxKeys, key) || contains(own, key)) continue;
      error(pos(k), "'" + std::string(key) + "' does not apply to op = \"" + op_name + "\" (" +
                        op_name + " takes " + join_keys(own, " and ") + ")");
    }
    if (a.op == TmuxOp::kSend && !tbl.get("keys") && !tbl.get("brief"))
      error(pos(n), what + " (op = \"send\") needs 'keys' and/or 'brief': what to type");
  }
};

std::optional<Template> ActionParser::get_template(const toml::node& v, std::string_view key) {
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

std::optional<std::vector<std::pair<std::string, Template>>> ActionParser::get_template_table(
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

// ---- the key tables, in the order the keys are documented ----

using P = ActionParser;
using N = toml::node;

template <>
const KeyTable<RunActionSpec>& key_table() {
  static const KeyTable<RunActionSpec> t = {
      {"argv", [](P& p, const N& v, RunActionSpec& s) { p.read_argv(v, s.argv); }},
      {"cwd", [](P& p, const N& v, RunActionSpec& s) { p.read_template(v, "cwd", s.cwd); }},
      {"env", [](P& p, const N& v, RunActionSpec& s) { p.read_env(v, s.env); }},
      {"shell", [](P& p, const N& v, RunActionSpec& s) { p.read_bool(v, "shell", s.shell); }},
      {"kill_grace",
       [](P& p, const N& v, RunActionSpec& s) {
         p.read_duration(v, "kill_grace", false, s.kill_grace);
       }},
  };
  return t;
}

template <>
const KeyTable<MoveActionSpec>& key_table() {
  static const KeyTable<MoveActionSpec> t = {
      {"to", [](P& p, const N& v, MoveActionSpec& s) { p.read_template(v, "to", s.to); }},
      {"root", [](P& p, const N& v, MoveActionSpec& s) { p.read_template(v, "root", s.root); }},
  };
  return t;
}

template <>
const KeyTable<QuarantineActionSpec>& key_table() {
  static const KeyTable<QuarantineActionSpec> t = {
      {"to", [](P& p, const N& v, QuarantineActionSpec& s) { p.read_template(v, "to", s.to); }},
      {"reason",
       [](P& p, const N& v, QuarantineActionSpec& s) { p.read_template(v, "reason", s.reason); }},
      {"root",
       [](P& p, const N& v, QuarantineActionSpec& s) { p.read_template(v, "root", s.root); }},
  };
  return t;
}

template <>
const KeyTable<MarkActionSpec>& key_table() {
  static const KeyTable<MarkActionSpec> t = {
      {"entity",
       [](P& p, const N& v, MarkActionSpec& s) { p.read_template(v, "entity", s.entity); }},
      {"marker",
       [](P& p, const N& v, MarkActionSpec& s) { p.read_template(v, "marker", s.marker); }},
      {"state", [](P& p, const N& v, MarkActionSpec& s) { p.read_state(v, s.state); }},
  };
  return t;
}

template <>
const KeyTable<EmitActionSpec>& key_table() {
  static const KeyTable<EmitActionSpec> t = {
      {"kind", [](P& p, const N& v, EmitActionSpec& s) { p.read_kind(v, s.kind); }},
      {"entity",
       [](P& p, const N& v, EmitActionSpec& s) { p.read_template(v, "entity", s.entity); }},
      {"fields", [](P& p, const N& v, EmitActionSpec& s) { p.read_fields(v, s.fields); }},
  };
  return t;
}

template <>
const KeyTable<KillActionSpec>& key_table() {
  static const KeyTable<KillActionSpec> t = {
      {"worker",
       [](P& p, const N& v, KillActionSpec& s) { p.read_template(v, "worker", s.worker); }},
      {"signal", [](P& p, const N& v, KillActionSpec& s) { p.read_signal(v, s.signal); }},
      {"grace",
       [](P& p, const N& v, KillActionSpec& s) { p.read_duration(v, "grace", false, s.grace); }},
      {"reason",
       [](P& p, const N& v, KillActionSpec& s) { p.read_template(v, "reason", s.reason); }},
  };
  return t;
}

template <>
const KeyTable<RestartActionSpec>& key_table() {
  static const KeyTable<RestartActionSpec> t = {
      {"worker",
       [](P& p, const N& v, RestartActionSpec& s) { p.read_template(v, "worker", s.worker); }},
      {"reason",
       [](P& p, const N& v, RestartActionSpec& s) { p.read_template(v, "reason", s.reason); }},
  };
  return t;
}

template <>
const KeyTable<TmuxActionSpec>& key_table() {
  static const KeyTable<TmuxActionSpec> t = {
      {"op", [](P&, const N&, TmuxActionSpec&) {}},  // read by finish(), before judging the rest
      {"session",
       [](P& p, const N& v, TmuxActionSpec& s) { p.read_template(v, "session", s.session); }},
      {"argv", [](P& p, const N& v, TmuxActionSpec& s) { p.read_argv(v, s.argv); }},
      {"cwd", [](P& p, const N& v, TmuxActionSpec& s) { p.read_template(v, "cwd", s.cwd); }},
      {"env", [](P& p, const N& v, TmuxActionSpec& s) { p.read_env(v, s.env); }},
      {"brief", [](P& p, const N& v, TmuxActionSpec& s) { p.read_template(v, "brief", s.brief); }},
      {"submit", [](P& p, const N& v, TmuxActionSpec& s) { p.read_bool(v, "submit", s.submit); }},
      {"keys", [](P& p, const N& v, TmuxActionSpec& s) { p.read_keys(v, s.keys); }},
      {"wait_for",
       [](P& p, const N& v, TmuxActionSpec& s) { p.read_template(v, "wait_for", s.wait_for); }},
      {"ready_timeout",
       [](P& p, const N& v, TmuxActionSpec& s) {
         p.read_duration(v, "ready_timeout", true, s.ready_timeout);
       }},
  };
  return t;
}

template <>
const KeyTable<RotateActionSpec>& key_table() {
  static const KeyTable<RotateActionSpec> t = {
      {"path", [](P& p, const N& v, RotateActionSpec& s) { p.read_template(v, "path", s.path); }},
      {"max_size",
       [](P& p, const N& v, RotateActionSpec& s) {
         p.read_positive_size(v, "max_size", " (omit it to rotate by age only)", s.max_size);
       }},
      {"max_age", [](P& p, const N& v,
                     RotateActionSpec& s) { p.read_duration(v, "max_age", true, s.max_age); }},
      {"keep", [](P& p, const N& v, RotateActionSpec& s) { p.read_keep(v, s.keep); }},
      {"compress",
       [](P& p, const N& v, RotateActionSpec& s) { p.read_bool(v, "compress", s.compress); }},
      {"method", [](P& p, const N& v, RotateActionSpec& s) { p.read_method(v, s.method); }},
  };
  return t;
}

template <>
const KeyTable<ProbeActionSpec>& key_table() {
  static const KeyTable<ProbeActionSpec> t = {
      {"argv", [](P& p, const N& v, ProbeActionSpec& s) { p.read_argv(v, s.argv); }},
      {"cwd", [](P& p, const N& v, ProbeActionSpec& s) { p.read_template(v, "cwd", s.cwd); }},
      {"env", [](P& p, const N& v, ProbeActionSpec& s) { p.read_env(v, s.env); }},
      {"patterns", [](P& p, const N& v, ProbeActionSpec& s) { p.parse_probe_patterns(v, s); }},
      {"max_output",
       [](P& p, const N& v, ProbeActionSpec& s) {
         p.read_positive_size(v, "max_output", "", s.max_output);
       }},
  };
  return t;
}

template <>
const KeyTable<RepairJsonActionSpec>& key_table() {
  static const KeyTable<RepairJsonActionSpec> t = {
      {"path",
       [](P& p, const N& v, RepairJsonActionSpec& s) { p.read_template(v, "path", s.path); }},
      {"to", [](P& p, const N& v, RepairJsonActionSpec& s) { p.read_template(v, "to", s.to); }},
      {"quarantine",
       [](P& p, const N& v, RepairJsonActionSpec& s) {
         p.read_template(v, "quarantine", s.quarantine);
       }},
      {"root",
       [](P& p, const N& v, RepairJsonActionSpec& s) { p.read_template(v, "root", s.root); }},
  };
  return t;
}

template <>
const KeyTable<CompleteSessionActionSpec>& key_table() {
  using S = CompleteSessionActionSpec;
  static const KeyTable<S> t = {
      {"session", [](P& p, const N& v, S& s) { p.read_template(v, "session", s.session); }},
      {"to", [](P& p, const N& v, S& s) { p.read_template(v, "to", s.to); }},
      {"manifest", [](P& p, const N& v, S& s) { p.read_template(v, "manifest", s.manifest); }},
      {"marker", [](P& p, const N& v, S& s) { p.read_template(v, "marker", s.marker); }},
      {"root", [](P& p, const N& v, S& s) { p.read_template(v, "root", s.root); }},
  };
  return t;
}

template <>
const KeyTable<FailSessionActionSpec>& key_table() {
  using S = FailSessionActionSpec;
  static const KeyTable<S> t = {
      {"session", [](P& p, const N& v, S& s) { p.read_template(v, "session", s.session); }},
      {"to", [](P& p, const N& v, S& s) { p.read_template(v, "to", s.to); }},
      {"manifest", [](P& p, const N& v, S& s) { p.read_template(v, "manifest", s.manifest); }},
      {"marker", [](P& p, const N& v, S& s) { p.read_template(v, "marker", s.marker); }},
      {"reason", [](P& p, const N& v, S& s) { p.read_template(v, "reason", s.reason); }},
      {"root", [](P& p, const N& v, S& s) { p.read_template(v, "root", s.root); }},
  };
  return t;
}

template <>
const KeyTable<IntegrateSessionActionSpec>& key_table() {
  using S = IntegrateSessionActionSpec;
  static const KeyTable<S> t = {
      {"session", [](P& p, const N& v, S& s) { p.read_template(v, "session", s.session); }},
      {"to", [](P& p, const N& v, S& s) { p.read_template(v, "to", s.to); }},
      {"root", [](P& p, const N& v, S& s) { p.read_template(v, "root", s.root); }},
      {"argv", [](P& p, const N& v, S& s) { p.read_argv(v, s.command.argv); }},
      {"cwd", [](P& p, const N& v, S& s) { p.read_template(v, "cwd", s.command.cwd); }},
      {"env", [](P& p, const N& v, S& s) { p.read_env(v, s.command.env); }},
      {"shell", [](P& p, const N& v, S& s) { p.read_bool(v, "shell", s.command.shell); }},
      {"kill_grace", [](P& p, const N& v,
                        S& s) { p.read_duration(v, "kill_grace", false, s.command.kill_grace); }},
      {"marker", [](P& p, const N& v, S& s) { p.read_template(v, "marker", s.marker); }},
      {"claim", [](P& p, const N& v, S& s) { p.read_template(v, "claim", s.claim); }},
  };
  return t;
}

template <>
const KeyTable<EnsureFileActionSpec>& key_table() {
  using S = EnsureFileActionSpec;
  static const KeyTable<S> t = {
      {"path", [](P& p, const N& v, S& s) { p.read_template(v, "path", s.path); }},
      {"source", [](P& p, const N& v, S& s) { p.read_template(v, "source", s.source); }},
      {"root", [](P& p, const N& v, S& s) { p.read_template(v, "root", s.root); }},
      {"keep", [](P& p, const N& v, S& s) { p.read_template(v, "keep", s.keep); }},
      {"mode", [](P& p, const N& v, S& s) { p.read_mode(v, s.mode); }},
  };
  return t;
}

template <>
const KeyTable<RetainActionSpec>& key_table() {
  using S = RetainActionSpec;
  static const KeyTable<S> t = {
      {"dir", [](P& p, const N& v, S& s) { p.read_template(v, "dir", s.dir); }},
      {"root", [](P& p, const N& v, S& s) { p.read_template(v, "root", s.root); }},
      {"glob", [](P& p, const N& v, S& s) { p.read_template(v, "glob", s.glob); }},
      {"max_age", [](P& p, const N& v, S& s) { p.read_duration(v, "max_age", true, s.max_age); }},
      {"max_entries",
       [](P& p, const N& v, S& s) { p.read_count(v, "max_entries", s.max_entries); }},
  };
  return t;
}

template <>
const KeyTable<CheckDiskActionSpec>& key_table() {
  static const KeyTable<CheckDiskActionSpec> t = {};
  return t;
}

}  // namespace

const Keys& action_type_names() {
  return kActionTypes;
}

void parse_actions(TomlReader& r, const toml::node& v, Rule& rule, const std::string& label) {
  ActionParser(r).parse_actions(v, rule, label);
}

}  // namespace aw::rule_parse
