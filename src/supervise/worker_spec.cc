#include "src/supervise/worker_spec.h"

#include <algorithm>
#include <functional>
#include <map>
#include <optional>
#include <set>

#include "src/core/duration.h"
#include "src/core/suggest.h"
#include "src/os/environ.h"

namespace aw {
namespace {

using Keys = std::vector<std::string_view>;

const Keys kWorkerKeys = {"name",
                          "argv",
                          "cwd",
                          "env",
                          "pid_file",
                          "tmux_session",
                          "depends_on",
                          "restart",
                          "max_restarts",
                          "restart_window",
                          "backoff",
                          "stable_after",
                          "min_spawn_interval",
                          "circuit_threshold",
                          "circuit_cooldown",
                          "runtime_limit",
                          "timeout_grace",
                          "heartbeat",
                          "heartbeat_timeout",
                          "max_extensions",
                          "phantom_grace",
                          "kill_grace",
                          "start_grace"};
const Keys kBackoffKeys = {"initial", "factor", "max", "cap", "jitter"};
const Keys kRestartModes = {"on-failure", "always", "never"};

std::string join(const Keys& keys) {
  std::string s;
  for (std::size_t i = 0; i < keys.size(); ++i) {
    if (i) s += i + 1 == keys.size() ? " or " : ", ";
    s += "\"" + std::string(keys[i]) + "\"";
  }
  return s;
}

std::string expand_home(std::string path) {
  if (path.rfind("~/", 0) == 0) {
    if (const auto home = env_var("HOME"); home && !home->empty()) return *home + path.substr(1);
  }
  return path;
}

bool is_worker_name(std::string_view s) {
  auto alnum = [](char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9');
  };
  if (s.empty() || s.size() > 128 || !alnum(s[0])) return false;
  return std::all_of(s.begin(), s.end(),
                     [&](char c) { return alnum(c) || c == '_' || c == '-' || c == '.'; });
}

bool is_env_name(std::string_view s) {
  if (s.empty() || (s[0] >= '0' && s[0] <= '9')) return false;
  return std::all_of(s.begin(), s.end(), [](char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_';
  });
}

class WorkerParser {
 public:
  WorkerParser(const toml::table& t, TomlReader& r) : t_(t), p_(r) {}

  WorkerSpec parse() {
    WorkerSpec w;
    w.source = p_.file();
    w.line = t_.source().begin.line;
    p_.check_keys(t_, kWorkerKeys, "in [[worker]]");
    if (const toml::node* n = t_.get("name")) {
      if (auto s = p_.get_string(*n, "name")) {
        if (!is_worker_name(*s))
          p_.error(*n, "'name': \"" + *s +
                           "\" is not a valid worker name (expected letters, digits, '_', '-' or "
                           "'.', starting with a letter or digit)");
        w.name = *s;
      }
    } else {
      p_.error(t_, "[[worker]] needs a 'name'");
    }
    read_string_array("argv", w.argv, /*non_empty_items=*/true);
    if (const toml::node* n = t_.get("argv"); n && n->is_array() && w.argv.empty())
      p_.error(*n, "'argv': expected at least the program, e.g. [\"claude\", \"-p\", \"...\"]");
    read_string("cwd", w.cwd);
    w.cwd = expand_home(w.cwd);
    read_env(w.env);
    read_string("pid_file", w.pid_file);
    w.pid_file = expand_home(w.pid_file);
    if (!w.pid_file.empty() && w.pid_file[0] != '/')
      p_.error(*t_.get("pid_file"), "'pid_file': expected an absolute path (or one under \"~/\")");
    read_string("tmux_session", w.tmux_session);
    read_string_array("depends_on", w.depends_on, true);
    read_string("heartbeat", w.heartbeat);
    w.heartbeat = expand_home(w.heartbeat);
    if (t_.get("argv") == nullptr && t_.get("pid_file") == nullptr &&
        t_.get("tmux_session") == nullptr)
      p_.error(t_, "[[worker]] '" + w.name +
                       "' needs 'argv' (to start it), or 'pid_file' or 'tmux_session' (to adopt "
                       "it when another tool starts it)");

    RestartPolicyConfig& r = w.restart;
    if (const toml::node* n = t_.get("restart")) {
      auto s = n->value<std::string>();
      if (!s || !n->is_string()) {
        p_.error(*n, "'restart': expected " + join(kRestartModes));
      } else if (*s == "on-failure") {
        r.mode = RestartMode::kOnFailure;
      } else if (*s == "always") {
        r.mode = RestartMode::kAlways;
      } else if (*s == "never") {
        r.mode = RestartMode::kNever;
      } else {
        p_.error(*n, "'restart': unknown mode \"" + *s + "\"" + did_you_mean(*s, kRestartModes) +
                         " (expected " + join(kRestartModes) + ")");
      }
    }
    read_int("max_restarts", r.max_restarts, 0, 1'000'000);
    read_duration("restart_window", r.restart_window, /*allow_zero=*/false);
    read_duration("stable_after", r.stable_after, false);
    read_duration("min_spawn_interval", r.min_spawn_interval, true);
    read_int("circuit_threshold", r.circuit_threshold, 0, 1'000'000);
    read_duration("circuit_cooldown", r.circuit_cooldown, true);
    read_backoff(r.backoff);
    read_duration("runtime_limit", w.runtime_limit, false);
    read_duration("timeout_grace", w.timeout_grace, true);
    read_duration("heartbeat_timeout", w.heartbeat_timeout, false);
    read_int("max_extensions", w.max_extensions, 0, 1'000'000);
    read_duration("phantom_grace", w.phantom_grace, true);
    read_duration("kill_grace", w.kill_grace, true);
    read_duration("start_grace", w.start_grace, true);
    return w;
  }

 private:
  void read_string(std::string_view key, std::string& out) {
    const toml::node* n = t_.get(key);
    if (!n) return;
    auto s = p_.get_string(*n, key);
    if (!s) return;
    out = std::move(*s);
    if (out.empty()) p_.error(*n, "'" + std::string(key) + "': expected a non-empty string");
  }

  void read_string_array(std::string_view key, std::vector<std::string>& out,
                         bool non_empty_items) {
    const toml::node* n = t_.get(key);
    if (!n) return;
    if (auto a = p_.get_string_array(*n, key, "an array of strings", non_empty_items))
      out = std::move(*a);
  }

  void read_env(std::vector<std::pair<std::string, std::string>>& out) {
    const toml::node* n = t_.get("env");
    if (!n) return;
    const toml::table* t = p_.get_table(*n, "env", "a table of strings, e.g. { KEY = \"value\" }");
    if (!t) return;
    for (const auto& [key, value] : *t) {
      if (!is_env_name(key.str()))
        p_.error(key, "'env': \"" + std::string(key.str()) +
                          "\" is not a valid variable name (letters, digits and '_')");
      if (auto s = p_.get_string(value, "env." + std::string(key.str())))
        out.emplace_back(std::string(key.str()), std::move(*s));
    }
  }

  void read_int(std::string_view key, int& out, std::int64_t lo, std::int64_t hi) {
    const toml::node* n = t_.get(key);
    if (!n) return;
    const auto* i = n->as_integer();
    if (!i || i->get() < lo || i->get() > hi)
      return p_.error(*n, "'" + std::string(key) + "': expected an integer from " +
                              std::to_string(lo) + " to " + std::to_string(hi));
    out = static_cast<int>(i->get());
  }

  bool duration_of(const toml::node& n, std::string_view key, Duration& out, bool allow_zero) {
    if (const auto* i = n.as_integer()) {
      if (i->get() < 0 || i->get() > 10LL * 365 * 86400) {
        p_.error(n, "'" + std::string(key) + "': expected a non-negative number of seconds");
        return false;
      }
      out = std::chrono::seconds(i->get());
    } else if (const auto* s = n.as_string()) {
      auto d = parse_duration(s->get());
      if (!d) {
        p_.error(n, "'" + std::string(key) + "': " + d.error().message +
                        " (expected a duration like \"30s\", \"5m\" or \"1h30m\")");
        return false;
      }
      out = *d;
    } else {
      p_.error(n, "'" + std::string(key) + "': expected a duration like \"30s\" or seconds");
      return false;
    }
    if (!allow_zero && out <= Duration{0}) {
      p_.error(n, "'" + std::string(key) + "': expected a duration above zero");
      return false;
    }
    return true;
  }

  void read_duration(std::string_view key, Duration& out, bool allow_zero) {
    if (const toml::node* n = t_.get(key)) {
      Duration d{};
      if (duration_of(*n, key, d, allow_zero)) out = d;
    }
  }

  void read_backoff(RetryPolicy& b) {
    const toml::node* n = t_.get("backoff");
    if (!n) return;
    const toml::table* t = p_.get_table(
        *n, "backoff",
        "a table, e.g. { initial = \"1s\", factor = 2.0, max = \"5m\", jitter = 0.2 }");
    if (!t) return;
    for (const auto& [key, value] : *t) {
      std::string k(key.str());
      if (std::find(kBackoffKeys.begin(), kBackoffKeys.end(), k) == kBackoffKeys.end()) {
        p_.unknown_key(key, "in 'backoff'", kBackoffKeys,
                       " (expected initial, factor, max or jitter)");
        continue;
      }
      if (k == "initial" || k == "max" || k == "cap") {
        Duration d{};
        if (duration_of(value, "backoff." + k, d, k == "initial"))
          (k == "initial" ? b.initial : b.max) = d;
        continue;
      }
      std::optional<double> x;
      if (const auto* f = value.as_floating_point()) x = f->get();
      if (const auto* i = value.as_integer()) x = static_cast<double>(i->get());
      if (k == "factor") {
        if (!x || *x < 1.0 || *x > 100.0)
          p_.error(value, "'backoff.factor': expected a number from 1 to 100");
        else
          b.factor = *x;
      } else {  // jitter
        if (!x || *x < 0.0 || *x > 1.0)
          p_.error(value, "'backoff.jitter': expected a fraction from 0 to 1");
        else
          b.jitter = *x;
      }
    }
    if (t->get("max") && t->get("cap"))
      p_.error(*t->get("cap"), "'backoff': give 'max' or its alias 'cap', not both");
    if (b.max < b.initial)
      p_.error(*n, "'backoff': 'max' (" + format_duration(b.max) + ") is below 'initial' (" +
                       format_duration(b.initial) + ")");
  }

  const toml::table& t_;
  TomlReader& p_;
};

// Dependencies must name declared workers (a typo would wait for ever) and must
// not form a cycle (which would too).
void check_dependencies(const std::vector<WorkerSpec>& specs,
                        const std::vector<const toml::table*>& tables, TomlReader& p) {
  std::map<std::string, std::size_t> index;
  std::vector<std::string_view> names;
  for (std::size_t i = 0; i < specs.size(); ++i) {
    index.emplace(specs[i].name, i);
    names.push_back(specs[i].name);
  }
  for (std::size_t i = 0; i < specs.size(); ++i) {
    const toml::node* deps = tables[i]->get("depends_on");
    for (std::size_t j = 0; j < specs[i].depends_on.size(); ++j) {
      const std::string& d = specs[i].depends_on[j];
      const toml::node* at = deps && deps->as_array() && j < deps->as_array()->size()
                                 ? deps->as_array()->get(j)
                                 : tables[i];
      if (d == specs[i].name) {
        p.error(*at, "'depends_on': worker '" + d + "' cannot depend on itself");
      } else if (!index.count(d)) {
        p.error(*at,
                "'depends_on': no worker named '" + d + "' is declared" + did_you_mean(d, names));
      }
    }
  }
  // Cycle detection: depth-first search with colours.
  std::vector<int> colour(specs.size(), 0);  // 0 new, 1 on the stack, 2 done
  std::vector<std::size_t> stack;
  std::set<std::size_t> reported;
  std::function<void(std::size_t)> visit = [&](std::size_t v) {
    colour[v] = 1;
    stack.push_back(v);
    for (const std::string& d : specs[v].depends_on) {
      auto it = index.find(d);
      if (it == index.end() || it->second == v) continue;
      std::size_t u = it->second;
      if (colour[u] == 1 && !reported.count(u)) {
        reported.insert(u);
        std::string cycle;
        auto from = std::find(stack.begin(), stack.end(), u);
        for (auto k = from; k != stack.end(); ++k) cycle += specs[*k].name + " → ";
        cycle += specs[u].name;
        p.error(*tables[u], "'depends_on': the dependencies form a cycle (" + cycle +
                                "), so none of them could ever start");
      } else if (colour[u] == 0) {
        visit(u);
      }
    }
    stack.pop_back();
    colour[v] = 2;
  };
  for (std::size_t i = 0; i < specs.size(); ++i)
    if (colour[i] == 0) visit(i);
}

}  // namespace

std::vector<WorkerSpec> read_worker_specs(TomlReader& p, const toml::array& workers) {
  const std::size_t errors_before = p.error_count();
  std::vector<WorkerSpec> specs;
  std::vector<const toml::table*> tables;
  std::map<std::string, std::uint32_t> seen;
  for (const toml::node& n : workers) {
    const toml::table* t = n.as_table();
    if (!t) {
      p.error(n, "'worker': expected tables ([[worker]] sections)");
      continue;
    }
    WorkerSpec w = WorkerParser(*t, p).parse();
    if (!w.name.empty()) {
      auto [it, fresh] = seen.emplace(w.name, w.line);
      if (!fresh) {
        p.error(*t->get("name"), "worker '" + w.name + "' is declared twice (first at line " +
                                     std::to_string(it->second) + ")");
      }
    }
    specs.push_back(std::move(w));
    tables.push_back(t);
  }
  if (p.error_count() == errors_before) check_dependencies(specs, tables, p);
  return specs;
}

Result<std::vector<WorkerSpec>> parse_worker_specs(const toml::array& workers,
                                                   const std::string& source_name) {
  std::vector<ConfigError> errors;
  TomlReader reader(source_name, {}, errors);
  std::vector<WorkerSpec> specs = read_worker_specs(reader, workers);
  if (!errors.empty()) return make_error(config_errors_text(errors));
  return specs;
}

Result<std::vector<WorkerSpec>> parse_worker_specs_from_string(std::string_view text,
                                                               const std::string& source_name) {
  std::vector<ConfigError> errors;
  TomlReader reader(source_name, text, errors);
  std::optional<toml::table> root = reader.parse();
  std::vector<WorkerSpec> specs;
  if (const toml::node* n = root ? root->get("worker") : nullptr) {
    if (const toml::array* a = n->as_array())
      specs = read_worker_specs(reader, *a);
    else
      reader.error(*n, "'worker': expected [[worker]] sections (an array of tables)");
  }
  if (!errors.empty()) return make_error(config_errors_text(errors));
  return specs;
}

}  // namespace aw
