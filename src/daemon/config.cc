#include "src/daemon/config.h"

#include <toml++/toml.h>
#include <charconv>
#include <set>

#include "src/config/toml_reader.h"
#include "src/core/duration.h"
#include "src/daemon/paths.h"
#include "src/os/errno_text.h"
#include "src/os/files.h"

namespace aw {
namespace {

// Each helper reads `key` of `t` when present; a mistake is reported through
// the document's TomlReader (FILE:LINE:COLUMN and what was expected) and the
// default in `out` is kept.

void read_duration(const toml::table& t, std::string_view key, Duration& out, TomlReader& p) {
  const toml::node* n = t.get(key);
  if (!n) return;
  if (auto d = p.get_duration(*n, key, false)) out = *d;
}

template <class Int>
void read_uint(const toml::table& t, std::string_view key, Int& out, TomlReader& p) {
  const toml::node* n = t.get(key);
  if (!n) return;
  const auto* i = n->as_integer();
  if (!i) return p.wrong_type(*n, key, "a non-negative integer");
  if (i->get() < 0)
    return p.error(*n, "'" + std::string(key) + "': expected a non-negative integer");
  out = static_cast<Int>(i->get());
}

void read_size(const toml::table& t, std::string_view key, std::uint64_t& out, TomlReader& p) {
  const toml::node* n = t.get(key);
  if (!n) return;
  if (const auto* i = n->as_integer(); i && i->get() > 0) {
    out = static_cast<std::uint64_t>(i->get());
    return;
  }
  const auto* s = n->as_string();
  auto parsed = s ? parse_size(s->get()) : Result<std::uint64_t>(make_error(""));
  if (!parsed)
    return p.error(*n,
                   "'" + std::string(key) + "': expected a size like \"64MiB\" or a byte count");
  out = *parsed;
}

// A number > 0 (an integer or a float).
void read_positive(const toml::table& t, std::string_view key, double& out, TomlReader& p) {
  const toml::node* n = t.get(key);
  if (!n) return;
  std::optional<double> v;
  if (const auto* i = n->as_integer()) v = static_cast<double>(i->get());
  if (const auto* f = n->as_floating_point()) v = f->get();
  if (!v || !(*v > 0))
    return p.error(*n, "'" + std::string(key) + "': expected a number greater than 0");
  out = *v;
}

void read_bool(const toml::table& t, std::string_view key, bool& out, TomlReader& p) {
  const toml::node* n = t.get(key);
  if (!n) return;
  if (auto b = p.get_bool(*n, key)) out = *b;
}

// A string `key` when present (a wrong type is reported); "" when absent.
std::string read_string(const toml::table& t, std::string_view key, TomlReader& p) {
  const toml::node* n = t.get(key);
  if (!n) return {};
  return p.get_string(*n, key).value_or(std::string());
}

}  // namespace

Result<std::uint64_t> parse_size(std::string_view s) {
  std::uint64_t value = 0;
  auto [ptr, ec] = std::from_chars(s.data(), s.data() + s.size(), value);
  if (ec != std::errc() || ptr == s.data())
    return make_error("invalid size \"" + std::string(s) + "\"");
  std::string_view unit(ptr, static_cast<std::size_t>(s.data() + s.size() - ptr));
  std::uint64_t scale;
  if (unit.empty() || unit == "B")
    scale = 1;
  else if (unit == "KiB" || unit == "K" || unit == "k")
    scale = 1ull << 10;
  else if (unit == "MiB" || unit == "M")
    scale = 1ull << 20;
  else if (unit == "GiB" || unit == "G")
    scale = 1ull << 30;
  else
    return make_error("invalid size unit \"" + std::string(unit) + "\" (expected KiB, MiB or GiB)");
  return value * scale;
}

Result<std::pair<std::string, int>> parse_listen_address(std::string_view text) {
  const char* expected = "expected HOST:PORT, like \"127.0.0.1:9464\" or \"[::1]:9464\"";
  std::size_t colon = text.rfind(':');
  if (colon == std::string_view::npos || colon == 0) return make_error(expected);
  std::string host(text.substr(0, colon));
  if (host.size() >= 2 && host.front() == '[' && host.back() == ']')
    host = host.substr(1, host.size() - 2);
  else if (host.find(':') != std::string::npos)
    return make_error(std::string("an IPv6 address goes in brackets: ") + expected);
  std::string_view port_text = text.substr(colon + 1);
  int port = 0;
  auto r = std::from_chars(port_text.data(), port_text.data() + port_text.size(), port);
  if (port_text.empty() || r.ec != std::errc() || r.ptr != port_text.data() + port_text.size() ||
      port < 0 || port > 65535)
    return make_error("port \"" + std::string(port_text) + "\" is not 0-65535: " + expected);
  if (host.empty()) return make_error(expected);
  return std::make_pair(host, port);
}

Result<DaemonConfig> parse_daemon_config(std::string_view text, const std::string& source_name) {
  DaemonConfig c;
  std::vector<ConfigError> errors;
  TomlReader p(source_name, text, errors);
  std::optional<toml::table> parsed = p.parse();
  if (!parsed) return make_error(config_errors_text(errors));
  const toml::table& root = *parsed;
  p.check_keys(root,
               {"daemon", "event_log", "rules", "watch", "worker", "log", "git", "tmux", "recover",
                "http", "statsd", "alert", "alerts"},
               "in the top level");
  if (const toml::node* n = root.get("recover")) {
    if (const auto* t = n->as_table()) {
      p.check_keys(*t, {"stuck_processing", "stuck_timing_out", "stuck_zombie"}, "in [recover]");
      read_duration(*t, "stuck_processing", c.stuck.processing, p);
      read_duration(*t, "stuck_timing_out", c.stuck.timing_out, p);
      read_duration(*t, "stuck_zombie", c.stuck.zombie, p);
    } else {
      p.error(*n, "'recover' must be a table ([recover])");
    }
  }
  if (const toml::node* n = root.get("http")) {
    if (const auto* t = n->as_table()) {
      p.check_keys(*t, {"listen", "token_file", "allow_non_loopback"}, "in [http]");
      if (const toml::node* ln = t->get("listen")) {
        c.http.listen = read_string(*t, "listen", p);
        if (!c.http.listen.empty()) {
          if (auto addr = parse_listen_address(c.http.listen)) {
            c.http.host = addr->first;
            c.http.port = addr->second;
          } else {
            p.error(*ln, "'listen': " + addr.error().message);
          }
        }
      }
      if (t->get("token_file")) c.http.token_file = expand_home(read_string(*t, "token_file", p));
      read_bool(*t, "allow_non_loopback", c.http.allow_non_loopback, p);
      if (c.http.allow_non_loopback && c.http.token_file.empty())
        p.error(*n, "[http] allow_non_loopback = true needs a token_file (a bearer token)");
    } else {
      p.error(*n, "'http' must be a table ([http])");
    }
  }
  alerts::read_alerts(root, p, c.alerts);
  if (const toml::node* n = root.get("statsd")) {
    if (const auto* t = n->as_table()) {
      p.check_keys(*t, {"address", "prefix", "interval"}, "in [statsd]");
      if (const toml::node* an = t->get("address")) {
        c.statsd.address = read_string(*t, "address", p);
        if (auto addr = parse_listen_address(c.statsd.address); addr && addr->second > 0) {
          c.statsd.host = addr->first;
          c.statsd.port = addr->second;
        } else {
          p.error(*an, "'address': expected HOST:PORT of a StatsD server, like \"127.0.0.1:8125\"");
        }
      }
      if (t->get("prefix")) c.statsd.prefix = read_string(*t, "prefix", p);
      read_duration(*t, "interval", c.statsd.interval, p);
    } else {
      p.error(*n, "'statsd' must be a table ([statsd])");
    }
  }
  if (const toml::node* n = root.get("git")) {
    const auto* arr = n->as_array();
    if (!arr) p.error(*n, "'git' must be an array of tables ([[git]])");
    std::set<std::string> names;
    for (std::size_t i = 0; arr && i < arr->size(); ++i) {
      const toml::node& item = *arr->get(i);
      const auto* t = item.as_table();
      if (!t) {
        p.error(item, "each [[git]] must be a table");
        continue;
      }
      p.check_keys(*t, {"name", "repo", "entity"}, "in [[git]]");
      GitConfig g;
      g.repo = expand_home(read_string(*t, "repo", p));
      if (g.repo.empty() || g.repo[0] != '/')
        p.error(t->get("repo") ? *t->get("repo") : item, "[[git]] needs an absolute 'repo'");
      while (g.repo.size() > 1 && g.repo.back() == '/') g.repo.pop_back();
      g.name = read_string(*t, "name", p);
      if (g.name.empty()) g.name = g.repo.substr(g.repo.find_last_of('/') + 1);
      if (!names.insert(g.name).second) p.error(item, "duplicate git name '" + g.name + "'");
      g.entity = g.name;
      if (t->get("entity")) g.entity = read_string(*t, "entity", p);
      c.git.push_back(std::move(g));
    }
  }
  if (const toml::node* n = root.get("tmux")) {
    if (const auto* t = n->as_table()) {
      p.check_keys(*t, {"command"}, "in [tmux]");
      if (const toml::node* cn = t->get("command")) {
        const auto* arr = cn->as_array();
        std::vector<std::string> argv;
        for (std::size_t i = 0; arr && i < arr->size(); ++i)
          if (const auto* s = arr->get(i)->as_string()) argv.push_back(s->get());
        if (!arr || argv.empty() || argv.size() != arr->size())
          p.error(*cn,
                  "'command': expected a non-empty array of strings like [\"tmux\", \"-L\", "
                  "\"agents\"]");
        else
          c.tmux_command = std::move(argv);
      }
    } else {
      p.error(*n, "'tmux' must be a table ([tmux])");
    }
  }
  if (const toml::node* n = root.get("log")) {
    const auto* arr = n->as_array();
    if (!arr) p.error(*n, "'log' must be an array of tables ([[log]])");
    std::set<std::string> names;
    for (std::size_t i = 0; arr && i < arr->size(); ++i) {
      const toml::node& item = *arr->get(i);
      const auto* t = item.as_table();
      if (!t) {
        p.error(item, "each [[log]] must be a table");
        continue;
      }
      p.check_keys(
          *t, {"name", "path", "entity", "patterns", "stall_after", "from_start", "max_line_bytes"},
          "in [[log]]");
      LogConfig l;
      l.path = expand_home(read_string(*t, "path", p));
      if (l.path.empty() || l.path[0] != '/')
        p.error(t->get("path") ? *t->get("path") : item, "[[log]] needs an absolute 'path'");
      l.name = read_string(*t, "name", p);
      if (l.name.empty()) l.name = l.path.substr(l.path.find_last_of('/') + 1);
      if (!names.insert(l.name).second) p.error(item, "duplicate log name '" + l.name + "'");
      l.entity = read_string(*t, "entity", p);
      read_duration(*t, "stall_after", l.stall_after, p);
      read_bool(*t, "from_start", l.from_start, p);
      read_size(*t, "max_line_bytes", l.max_line_bytes, p);
      // A line is held in memory until its newline: bound what one log may hold.
      if (l.max_line_bytes > kMaxLogLineBytes)
        p.error(*t->get("max_line_bytes"),
                "'max_line_bytes': at most 16MiB (a line is held in memory until its end)");
      if (const toml::node* pn = t->get("patterns")) {
        const auto* pa = pn->as_array();
        if (!pa) p.error(*pn, "'patterns': expected an array of { id = \"...\", regex = \"...\" }");
        for (std::size_t k = 0; pa && k < pa->size(); ++k) {
          const toml::node& pat = *pa->get(k);
          const auto* pt = pat.as_table();
          const auto* id = pt ? pt->get_as<std::string>("id") : nullptr;
          const auto* re = pt ? pt->get_as<std::string>("regex") : nullptr;
          if (!id || !re) {
            p.error(pat, "each pattern is { id = \"name\", regex = \"RE2 pattern\" }");
            continue;
          }
          p.check_keys(*pt, {"id", "regex"}, "in a [[log]] pattern");
          l.patterns.emplace_back(id->get(), re->get());
        }
      }
      c.logs.push_back(std::move(l));
    }
  }
  if (const toml::node* n = root.get("worker")) {
    if (const auto* arr = n->as_array()) {
      c.workers = read_worker_specs(p, *arr);
    } else {
      p.error(*n, "'worker' must be an array of tables ([[worker]])");
    }
  }

  if (const toml::node* n = root.get("daemon")) {
    if (const auto* t = n->as_table()) {
      p.check_keys(*t,
                   {"shutdown_grace", "max_emit_depth", "reload_debounce", "max_json_bytes",
                    "derived_rate", "derived_burst"},
                   "in [daemon]");
      read_duration(*t, "shutdown_grace", c.shutdown_grace, p);
      read_uint(*t, "max_emit_depth", c.max_emit_depth, p);
      read_positive(*t, "derived_rate", c.derived_rate, p);
      read_positive(*t, "derived_burst", c.derived_burst, p);
      if (c.derived_burst < 1)
        p.error(*t->get("derived_burst"), "'derived_burst': at least 1 (one firing)");
      read_duration(*t, "reload_debounce", c.reload_debounce, p);
      read_size(*t, "max_json_bytes", c.max_json_bytes, p);
    } else {
      p.error(*n, "'daemon' must be a table ([daemon])");
    }
  }
  if (const toml::node* n = root.get("event_log")) {
    if (const auto* t = n->as_table()) {
      p.check_keys(*t, {"max_size", "keep"}, "in [event_log]");
      read_size(*t, "max_size", c.event_log_max_bytes, p);
      read_uint(*t, "keep", c.event_log_keep, p);
    } else {
      p.error(*n, "'event_log' must be a table ([event_log])");
    }
  }
  if (const toml::node* n = root.get("rules")) {
    if (const auto* t = n->as_table()) {
      p.check_keys(*t, {"shipped", "dir"}, "in [rules]");
      read_bool(*t, "shipped", c.shipped_rules, p);
      if (const toml::node* d = t->get("dir")) {
        if (auto s = p.get_string(*d, "dir", "a path string")) c.rules_dir = expand_home(*s);
      }
    } else {
      p.error(*n, "'rules' must be a table ([rules])");
    }
  }
  if (const toml::node* n = root.get("watch")) {
    const auto* arr = n->as_array();
    if (!arr) {
      p.error(*n, "'watch' must be an array of tables ([[watch]])");
    } else {
      std::set<std::string> names;
      for (const toml::node& item : *arr) {
        const auto* t = item.as_table();
        if (!t) {
          p.error(item, "each [[watch]] must be a table");
          continue;
        }
        p.check_keys(*t, {"name", "path", "recursive", "ignore", "min_free"}, "in [[watch]]");
        WatchConfig w;
        w.name = read_string(*t, "name", p);
        w.path = expand_home(read_string(*t, "path", p));
        if (w.path.empty())
          p.error(item, "[[watch]] needs 'path' (a directory to watch)");
        else if (w.path[0] != '/')
          p.error(*t->get("path"), "'path' must be absolute (or start with ~/)");
        if (w.name.empty() && !w.path.empty()) w.name = w.path.substr(w.path.find_last_of('/') + 1);
        if (!names.insert(w.name).second) p.error(item, "duplicate watch name '" + w.name + "'");
        read_bool(*t, "recursive", w.recursive, p);
        if (const toml::node* ig = t->get("ignore")) {
          const auto* ia = ig->as_array();
          if (!ia) {
            p.error(*ig, "'ignore': expected an array of glob strings");
          } else {
            for (const toml::node& g : *ia)
              if (auto s = p.get_string(g, "ignore", "a glob string")) w.ignore.push_back(*s);
          }
        }
        if (const toml::node* mf = t->get("min_free")) {
          if (auto text =
                  p.get_string(*mf, "min_free", "a share like \"5%\" or a size like \"2GiB\"")) {
            Result<DiskThreshold> threshold = parse_disk_threshold(*text);
            if (threshold.ok()) {
              w.min_free = *threshold;
              w.min_free_text = *text;
            } else {
              p.error(*mf, "'min_free': " + threshold.error().message);
            }
          }
        }
        c.watches.push_back(std::move(w));
      }
    }
  }
  if (!errors.empty()) return make_error(config_errors_text(errors));
  return c;
}

std::vector<RuleLayerPaths> rule_layers(const Paths& paths, const DaemonConfig& config) {
  std::vector<RuleLayerPaths> layers;
  if (config.shipped_rules) layers.push_back({{paths.shipped_rules_dir}, true});
  layers.push_back({{config.rules_dir.empty() ? paths.rules_dir : config.rules_dir}, true});
  return layers;
}

std::vector<WatchConfig> effective_watches(const Paths& paths, const DaemonConfig& config) {
  if (!config.watches.empty()) return config.watches;
  std::vector<WatchConfig> ws;
  for (const char* name : {"results", "pids", "logs", "hooks"}) {
    WatchConfig w;
    w.name = name;
    w.path = paths.workspace_dir() + "/" + name;
    w.ignore = {".*.tmp", "*.swp", "*~"};
    ws.push_back(std::move(w));
  }
  return ws;
}

Result<DaemonConfig> load_daemon_config(const std::string& path) {
  auto text = read_file_if_exists(path);
  if (!text) return make_error("cannot read " + path + ": " + errno_text(-text.error().code));
  if (!*text) return DaemonConfig{};
  auto c = parse_daemon_config(**text, path);
  if (c) c->file_found = true;
  return c;
}

}  // namespace aw
