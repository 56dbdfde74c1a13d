#include "src/supervise/worker_spec.h"

#include <algorithm>
#include <cstdlib>
#include <functional>
#include <map>
#include <optional>
#include <set>

#include "src/core/duration.h"
#include "src/core/suggest.h"

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
    if (const char* home = std::getenv("HOME"); home && *home) return home + path.substr(1);
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

// Collects positioned errors: one pass reports every problem.
class Problems {
 public:
  explicit Problems(std::string source) : source_(std::move(source)) {}
  void add(const toml::source_region& where, const std::string& message) {
    std::string loc = source_;
    if (where.begin) {
      loc += ":" + std::to_string(where.begin.line) + ":" + std::to_string(where.begin.column);
    }
    lines_ += loc + ": error: " + message + "\n";
  }
  void add(const toml::node& n, const std::string& message) { add(n.source(), message); }
  bool empty() const { return lines_.empty(); }
  Error error() const {
    std::string m = lines_;
    if (!m.empty()) m.pop_back();
    return make_error(m);
  }
  const std::string& source() const { return source_; }

 private:
  std::string source_;
  std::string lines_;
};

class WorkerParser {
 public:
  WorkerParser(const toml::table& t, Problems& p) : t_(t), p_(p) {}

  WorkerSpec parse() {
    WorkerSpec w;
    w.source = p_.source();
    w.line = t_.source().begin.line;
    for (const auto& [key, node] : t_) {
      if (std::find(kWorkerKeys.begin(), kWorkerKeys.end(), key.str()) == kWorkerKeys.end()) {
        p_.add(key.source(), "unknown key '" + std::string(key.str()) + "' in [[worker]]" +
                                 did_you_mean(key.str(), kWorkerKeys));
      }
    }
    if (const toml::node* n = t_.get("name")) {
      if (auto s = n->value<std::string>(); s && n->is_string()) {
        if (!is_worker_name(*s))
          p_.add(*n, "'name': \"" + *s +
                         "\" is not a valid worker name (expected letters, digits, '_', '-' or "
                         "'.', starting with a letter or digit)");
        w.name = *s;
      } else {
        p_.add(*n, "'name': expected a string");
      }
    } else {
      p_.add(t_, "[[worker]] needs a 'name'");
    }
    read_string_array("argv", w.argv, /*non_empty_items=*/true);
    if (const toml::node* n = t_.get("argv"); n && n->is_array() && w.argv.empty())
      p_.add(*n, "'argv': expected at least the program, e.g. [\"claude\", \"-p\", \"...\"]");
    read_string("cwd", w.cwd);
    w.cwd = expand_home(w.cwd);
    read_env(w.env);
    read_string("pid_file", w.pid_file);
    w.pid_file = expand_home(w.pid_file);
    if (!w.pid_file.empty() && w.pid_file[0] != '/')
      p_.add(*t_.get("pid_file"), "'pid_file': expected an absolute path (or one under \"~/\")");
    read_string("tmux_session", w.tmux_session);
    read_string_array("depends_on", w.depends_on, true);
    read_string("heartbeat", w.heartbeat);
    w.heartbeat = expand_home(w.heartbeat);
    if (t_.get("argv") == nullptr && t_.get("pid_file") == nullptr &&
        t_.get("tmux_session") == nullptr)
      p_.add(t_, "[[worker]] '" + w.name +
                     "' needs 'argv' (to start it), or 'pid_file' or 'tmux_session' (to adopt "
                     "it when another tool starts it)");

    RestartPolicyConfig& r = w.restart;
    if (const toml::node* n = t_.get("restart")) {
      auto s = n->value<std::string>();
      if (!s || !n->is_string()) {
        p_.add(*n, "'restart': expected " + join(kRestartModes));
      } else if (*s == "on-failure") {
        r.mode = RestartMode::kOnFailure;
      } else if (*s == "always") {
        r.mode = RestartMode::kAlways;
      } else if (*s == "never") {
        r.mode = RestartMode::kNever;
      } else {
        p_.add(*n, "'restart': unknown mode \"" + *s + "\"" + did_you_mean(*s, kRestartModes) +
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
    if (!n->is_string()) return p_.add(*n, "'" + std::string(key) + "': expected a string");
    out = *n->value<std::string>();
    if (out.empty()) p_.add(*n, "'" + std::string(key) + "': expected a non-empty string");
  }

  void read_string_array(std::string_view key, std::vector<std::string>& out,
                         bool non_empty_items) {
    const toml::node* n = t_.get(key);
    if (!n) return;
    const toml::array* a = n->as_array();
    if (!a) return p_.add(*n, "'" + std::string(key) + "': expected an array of strings");
    for (const toml::node& item : *a) {
      if (!item.is_string()) {
        p_.add(item, "'" + std::string(key) + "': expected only strings in the array");
        continue;
      }
      std::string s = *item.value<std::string>();
      if (non_empty_items && s.empty())
        p_.add(item, "'" + std::string(key) + "': expected non-empty strings");
      out.push_back(std::move(s));
    }
  }

  void read_env(std::vector<std::pair<std::string, std::string>>& out) {
    const toml::node* n = t_.get("env");
    if (!n) return;
    const toml::table* t = n->as_table();
    if (!t) return p_.add(*n, "'env': expected a table of strings, e.g. { KEY = \"value\" }");
    for (const auto& [key, value] : *t) {
      if (!is_env_name(key.str()))
        p_.add(key.source(), "'env': \"" + std::string(key.str()) +
                                 "\" is not a valid variable name (letters, digits and '_')");
      if (!value.is_string()) {
        p_.add(value, "'env." + std::string(key.str()) + "': expected a string");
        continue;
      }
      out.emplace_back(std::string(key.str()), *value.value<std::string>());
    }
  }

  void read_int(std::string_view key, int& out, std::int64_t lo, std::int64_t hi) {
    const toml::node* n = t_.get(key);
    if (!n) return;
    const auto* i = n->as_integer();
    if (!i || i->get() < lo || i->get() > hi)
      return p_.add(*n, "'" + std::string(key) + "': expected an integer from " +
                            std::to_string(lo) + " to " + std::to_string(hi));
    out = static_cast<int>(i->get());
  }

  bool duration_of(const toml::node& n, std::string_view key, Duration& out, bool allow_zero) {
    if (const auto* i = n.as_integer()) {
      if (i->get() < 0 || i->get() > 10LL * 365 * 86400) {
        p_.add(n, "'" + std::string(key) + "': expected a non-negative number of seconds");
        return false;
      }
      out = std::chrono::seconds(i->get());
    } else if (const auto* s = n.as_string()) {
      auto d = parse_duration(s->get());
      if (!d) {
        p_.add(n, "'" + std::string(key) + "': " + d.error().message +
                      " (expected a duration like \"30s\", \"5m\" or \"1h30m\")");
        return false;
      }
      out = *d;
    } else {
      p_.add(n, "'" + std::string(key) + "': expected a duration like \"30s\" or seconds");
      return false;
    }
    if (!allow_zero && out <= Duration{0}) {
      p_.add(n, "'" + std::string(key) + "': expected a duration above zero");
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
    const toml::table* t = n->as_table();
    if (!t)
      return p_.add(*n,
                    "'backoff': expected a table, e.g. { initial = \"1s\", factor = 2.0, max = "
                    "\"5m\", jitter = 0.2 }");
    for (const auto& [key, value] : *t) {
      std::string k(key.str());
      if (std::find(kBackoffKeys.begin(), kBackoffKeys.end(), k) == kBackoffKeys.end()) {
        p_.add(key.source(), "unknown key '" + k + "' in 'backoff'" +
                                 did_you_mean(k, kBackoffKeys) +
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
          p_.add(value, "'backoff.factor': expected a number from 1 to 100");
        else
          b.factor = *x;
      } else {  // jitter
        if (!x || *x < 0.0 || *x > 1.0)
          p_.add(value, "'backoff.jitter': expected a fraction from 0 to 1");
        else
          b.jitter = *x;
      }
    }
    if (t->get("max") && t->get("cap"))
      p_.add(*t->get("cap"), "'backoff': give 'max' or its alias 'cap', not both");
    if (b.max < b.initial)
      p_.add(*n, "'backoff': 'max' (" + format_duration(b.max) + ") is below 'initial' (" +
                     format_duration(b.initial) + ")");
  }

  const toml::table& t_;
  Problems& p_;
};

// Dependencies must name declared workers (a typo would wait for ever) and must
// not form a cycle (which would too).
void check_dependencies(const std::vector<WorkerSpec>& specs,
                        const std::vector<const toml::table*>& tables, Problems& p) {
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
        p.add(*at, "'depends_on': worker '" + d + "' cannot depend on itself");
      } else if (!index.count(d)) {
        p.add(*at,
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
        p.add(*tables[u], "'depends_on': the dependencies form a cycle (" + cycle +
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

Result<std::vector<WorkerSpec>> parse_worker_specs(const toml::array& workers,
                                                   const std::string& source_name) {
  Problems p(source_name);
  std::vector<WorkerSpec> specs;
  std::vector<const toml::table*> tables;
  std::map<std::string, std::uint32_t> seen;
  for (const toml::node& n : workers) {
    const toml::table* t = n.as_table();
    if (!t) {
      p.add(n, "'worker': expected tables ([[worker]] sections)");
      continue;
    }
    WorkerSpec w = WorkerParser(*t, p).parse();
    if (!w.name.empty()) {
      auto [it, fresh] = seen.emplace(w.name, w.line);
      if (!fresh) {
        p.add(*t->get("name"), "worker '" + w.name + "' is declared twice (first at line " +
                                   std::to_string(it->second) + ")");
      }
    }
    specs.push_back(std::move(w));
    tables.push_back(t);
  }
  if (p.empty()) check_dependencies(specs, tables, p);
  if (!p.empty()) return p.error();
  return specs;
}

Result<std::vector<WorkerSpec>> parse_worker_specs_from_string(std::string_view text,
                                                               const std::string& source_name) {
  toml::table root;
  try {
    root = toml::parse(text, source_name);
  } catch (const toml::parse_error& e) {
    return make_error(source_name + ":" + std::to_string(e.source().begin.line) + ":" +
                      std::to_string(e.source().begin.column) +
                      ": error: " + std::string(e.description()));
  }
  const toml::node* n = root.get("worker");
  if (!n) return std::vector<WorkerSpec>{};
  const toml::array* a = n->as_array();
  if (!a) {
    Problems p(source_name);
    p.add(*n, "'worker': expected [[worker]] sections (an array of tables)");
    return p.error();
  }
  return parse_worker_specs(*a, source_name);
}

}  // namespace aw
