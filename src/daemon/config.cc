#include "src/daemon/config.h"

#include <toml++/toml.h>
#include <charconv>
#include <fstream>
#include <set>
#include <sstream>

#include "src/core/duration.h"
#include "src/core/suggest.h"
#include "src/daemon/paths.h"

namespace aw {
namespace {

// Collects positioned errors so one pass reports every problem in the file.
class Problems {
 public:
  explicit Problems(std::string source) : source_(std::move(source)) {}
  void add(const toml::node* node, const std::string& message) {
    std::string loc = source_;
    if (node && node->source().begin) {
      loc += ":" + std::to_string(node->source().begin.line) + ":" +
             std::to_string(node->source().begin.column);
    }
    lines_ += loc + ": error: " + message + "\n";
  }
  // Errors already formatted as "FILE:LINE:COLUMN: error: ..." lines.
  void add_formatted(const std::string& lines) { lines_ += lines + "\n"; }
  bool empty() const { return lines_.empty(); }
  Error error() const {
    std::string m = lines_;
    if (!m.empty() && m.back() == '\n') m.pop_back();
    return make_error(m);
  }

 private:
  std::string source_;
  std::string lines_;
};

void check_keys(const toml::table& t, std::initializer_list<std::string_view> allowed,
                const std::string& where, Problems& p) {
  for (const auto& [key, node] : t) {
    bool ok = false;
    for (auto a : allowed) ok = ok || a == key.str();
    if (ok) continue;
    p.add(&node, "unknown key '" + std::string(key.str()) + "' in " + where +
                     did_you_mean(key.str(), std::vector<std::string_view>(allowed)));
  }
}

void read_duration(const toml::table& t, std::string_view key, Duration& out, Problems& p) {
  const toml::node* n = t.get(key);
  if (!n) return;
  const auto* s = n->as_string();
  if (!s) return p.add(n, "'" + std::string(key) + "': expected a duration string like \"30s\"");
  auto d = parse_duration(s->get());
  if (!d) return p.add(n, "'" + std::string(key) + "': " + d.error().message);
  out = *d;
}

template <class Int>
void read_uint(const toml::table& t, std::string_view key, Int& out, Problems& p) {
  const toml::node* n = t.get(key);
  if (!n) return;
  const auto* i = n->as_integer();
  if (!i || i->get() < 0)
    return p.add(n, "'" + std::string(key) + "': expected a non-negative integer");
  out = static_cast<Int>(i->get());
}

void read_size(const toml::table& t, std::string_view key, std::uint64_t& out, Problems& p) {
  const toml::node* n = t.get(key);
  if (!n) return;
  if (const auto* i = n->as_integer(); i && i->get() > 0) {
    out = static_cast<std::uint64_t>(i->get());
    return;
  }
  const auto* s = n->as_string();
  auto parsed = s ? parse_size(s->get()) : Result<std::uint64_t>(make_error(""));
  if (!parsed)
    return p.add(n, "'" + std::string(key) + "': expected a size like \"64MiB\" or a byte count");
  out = *parsed;
}

// A number > 0 (an integer or a float).
void read_positive(const toml::table& t, std::string_view key, double& out, Problems& p) {
  const toml::node* n = t.get(key);
  if (!n) return;
  std::optional<double> v;
  if (const auto* i = n->as_integer()) v = static_cast<double>(i->get());
  if (const auto* f = n->as_floating_point()) v = f->get();
  if (!v || !(*v > 0))
    return p.add(n, "'" + std::string(key) + "': expected a number greater than 0");
  out = *v;
}

void read_bool(const toml::table& t, std::string_view key, bool& out, Problems& p) {
  const toml::node* n = t.get(key);
  if (!n) return;
  const auto* b = n->as_boolean();
  if (!b) return p.add(n, "'" + std::string(key) + "': expected true or false");
  out = b->get();
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

Result<DaemonConfig> parse_daemon_config(std::string_view text, const std::string& source_name) {
  DaemonConfig c;
  toml::table root;
  try {
    root = toml::parse(text, source_name);
  } catch (const toml::parse_error& e) {
    return make_error(source_name + ":" + std::to_string(e.source().begin.line) + ":" +
                      std::to_string(e.source().begin.column) +
                      ": error: " + std::string(e.description()));
  }
  Problems p(source_name);
  check_keys(root,
             {"daemon", "event_log", "rules", "watch", "worker", "log", "git", "tmux", "recover"},
             "the top level", p);
  if (const toml::node* n = root.get("recover")) {
    if (const auto* t = n->as_table()) {
      check_keys(*t, {"stuck_processing", "stuck_timing_out", "stuck_zombie"}, "[recover]", p);
      read_duration(*t, "stuck_processing", c.stuck.processing, p);
      read_duration(*t, "stuck_timing_out", c.stuck.timing_out, p);
      read_duration(*t, "stuck_zombie", c.stuck.zombie, p);
    } else {
      p.add(n, "'recover' must be a table ([recover])");
    }
  }
  if (const toml::node* n = root.get("git")) {
    const auto* arr = n->as_array();
    if (!arr) p.add(n, "'git' must be an array of tables ([[git]])");
    std::set<std::string> names;
    for (std::size_t i = 0; arr && i < arr->size(); ++i) {
      const toml::node& item = *arr->get(i);
      const auto* t = item.as_table();
      if (!t) {
        p.add(&item, "each [[git]] must be a table");
        continue;
      }
      check_keys(*t, {"name", "repo", "entity"}, "[[git]]", p);
      GitConfig g;
      if (const auto* s = t->get_as<std::string>("repo")) g.repo = expand_home(s->get());
      if (g.repo.empty() || g.repo[0] != '/')
        p.add(t->get("repo") ? t->get("repo") : &item, "[[git]] needs an absolute 'repo'");
      while (g.repo.size() > 1 && g.repo.back() == '/') g.repo.pop_back();
      if (const auto* s = t->get_as<std::string>("name")) g.name = s->get();
      if (g.name.empty()) g.name = g.repo.substr(g.repo.find_last_of('/') + 1);
      if (!names.insert(g.name).second) p.add(&item, "duplicate git name '" + g.name + "'");
      g.entity = g.name;
      if (const auto* s = t->get_as<std::string>("entity")) g.entity = s->get();
      c.git.push_back(std::move(g));
    }
  }
  if (const toml::node* n = root.get("tmux")) {
    if (const auto* t = n->as_table()) {
      check_keys(*t, {"command"}, "[tmux]", p);
      if (const toml::node* cn = t->get("command")) {
        const auto* arr = cn->as_array();
        std::vector<std::string> argv;
        for (std::size_t i = 0; arr && i < arr->size(); ++i)
          if (const auto* s = arr->get(i)->as_string()) argv.push_back(s->get());
        if (!arr || argv.empty() || argv.size() != arr->size())
          p.add(cn,
                "'command': expected a non-empty array of strings like [\"tmux\", \"-L\", "
                "\"agents\"]");
        else
          c.tmux_command = std::move(argv);
      }
    } else {
      p.add(n, "'tmux' must be a table ([tmux])");
    }
  }
  if (const toml::node* n = root.get("log")) {
    const auto* arr = n->as_array();
    if (!arr) p.add(n, "'log' must be an array of tables ([[log]])");
    std::set<std::string> names;
    for (std::size_t i = 0; arr && i < arr->size(); ++i) {
      const toml::node& item = *arr->get(i);
      const auto* t = item.as_table();
      if (!t) {
        p.add(&item, "each [[log]] must be a table");
        continue;
      }
      check_keys(
          *t, {"name", "path", "entity", "patterns", "stall_after", "from_start", "max_line_bytes"},
          "[[log]]", p);
      LogConfig l;
      if (const auto* s = t->get_as<std::string>("path")) l.path = expand_home(s->get());
      if (l.path.empty() || l.path[0] != '/')
        p.add(t->get("path") ? t->get("path") : &item, "[[log]] needs an absolute 'path'");
      if (const auto* s = t->get_as<std::string>("name")) l.name = s->get();
      if (l.name.empty()) l.name = l.path.substr(l.path.find_last_of('/') + 1);
      if (!names.insert(l.name).second) p.add(&item, "duplicate log name '" + l.name + "'");
      if (const auto* s = t->get_as<std::string>("entity")) l.entity = s->get();
      read_duration(*t, "stall_after", l.stall_after, p);
      read_bool(*t, "from_start", l.from_start, p);
      read_size(*t, "max_line_bytes", l.max_line_bytes, p);
      // A line is held in memory until its newline: bound what one log may hold.
      if (l.max_line_bytes > kMaxLogLineBytes)
        p.add(t->get("max_line_bytes"),
              "'max_line_bytes': at most 16MiB (a line is held in memory until its end)");
      if (const toml::node* pn = t->get("patterns")) {
        const auto* pa = pn->as_array();
        if (!pa) p.add(pn, "'patterns': expected an array of { id = \"...\", regex = \"...\" }");
        for (std::size_t k = 0; pa && k < pa->size(); ++k) {
          const toml::node& pat = *pa->get(k);
          const auto* pt = pat.as_table();
          const auto* id = pt ? pt->get_as<std::string>("id") : nullptr;
          const auto* re = pt ? pt->get_as<std::string>("regex") : nullptr;
          if (!id || !re) {
            p.add(&pat, "each pattern is { id = \"name\", regex = \"RE2 pattern\" }");
            continue;
          }
          check_keys(*pt, {"id", "regex"}, "a [[log]] pattern", p);
          l.patterns.emplace_back(id->get(), re->get());
        }
      }
      c.logs.push_back(std::move(l));
    }
  }
  if (const toml::node* n = root.get("worker")) {
    if (const auto* arr = n->as_array()) {
      auto workers = parse_worker_specs(*arr, source_name);
      if (workers)
        c.workers = std::move(*workers);
      else
        p.add_formatted(workers.error().message);
    } else {
      p.add(n, "'worker' must be an array of tables ([[worker]])");
    }
  }

  if (const toml::node* n = root.get("daemon")) {
    if (const auto* t = n->as_table()) {
      check_keys(*t,
                 {"shutdown_grace", "max_emit_depth", "reload_debounce", "max_json_bytes",
                  "derived_rate", "derived_burst"},
                 "[daemon]", p);
      read_duration(*t, "shutdown_grace", c.shutdown_grace, p);
      read_uint(*t, "max_emit_depth", c.max_emit_depth, p);
      read_positive(*t, "derived_rate", c.derived_rate, p);
      read_positive(*t, "derived_burst", c.derived_burst, p);
      if (c.derived_burst < 1)
        p.add(t->get("derived_burst"), "'derived_burst': at least 1 (one firing)");
      read_duration(*t, "reload_debounce", c.reload_debounce, p);
      read_size(*t, "max_json_bytes", c.max_json_bytes, p);
    } else {
      p.add(n, "'daemon' must be a table ([daemon])");
    }
  }
  if (const toml::node* n = root.get("event_log")) {
    if (const auto* t = n->as_table()) {
      check_keys(*t, {"max_size", "keep"}, "[event_log]", p);
      read_size(*t, "max_size", c.event_log_max_bytes, p);
      read_uint(*t, "keep", c.event_log_keep, p);
    } else {
      p.add(n, "'event_log' must be a table ([event_log])");
    }
  }
  if (const toml::node* n = root.get("rules")) {
    if (const auto* t = n->as_table()) {
      check_keys(*t, {"shipped", "dir"}, "[rules]", p);
      read_bool(*t, "shipped", c.shipped_rules, p);
      if (const toml::node* d = t->get("dir")) {
        if (const auto* s = d->as_string())
          c.rules_dir = expand_home(s->get());
        else
          p.add(d, "'dir': expected a path string");
      }
    } else {
      p.add(n, "'rules' must be a table ([rules])");
    }
  }
  if (const toml::node* n = root.get("watch")) {
    const auto* arr = n->as_array();
    if (!arr) {
      p.add(n, "'watch' must be an array of tables ([[watch]])");
    } else {
      std::set<std::string> names;
      for (const toml::node& item : *arr) {
        const auto* t = item.as_table();
        if (!t) {
          p.add(&item, "each [[watch]] must be a table");
          continue;
        }
        check_keys(*t, {"name", "path", "recursive", "ignore"}, "[[watch]]", p);
        WatchConfig w;
        if (const auto* s = t->get_as<std::string>("name")) w.name = s->get();
        if (const auto* s = t->get_as<std::string>("path")) w.path = expand_home(s->get());
        if (w.path.empty())
          p.add(&item, "[[watch]] needs 'path' (a directory to watch)");
        else if (w.path[0] != '/')
          p.add(t->get("path"), "'path' must be absolute (or start with ~/)");
        if (w.name.empty() && !w.path.empty()) w.name = w.path.substr(w.path.find_last_of('/') + 1);
        if (!names.insert(w.name).second) p.add(&item, "duplicate watch name '" + w.name + "'");
        read_bool(*t, "recursive", w.recursive, p);
        if (const toml::node* ig = t->get("ignore")) {
          const auto* ia = ig->as_array();
          if (!ia) {
            p.add(ig, "'ignore': expected an array of glob strings");
          } else {
            for (const toml::node& g : *ia) {
              if (const auto* s = g.as_string())
                w.ignore.push_back(s->get());
              else
                p.add(&g, "'ignore': expected a glob string");
            }
          }
        }
        c.watches.push_back(std::move(w));
      }
    }
  }
  if (!p.empty()) return p.error();
  return c;
}

std::vector<RuleLayerPaths> rule_layers(const Paths& paths, const DaemonConfig& config) {
  std::vector<RuleLayerPaths> layers;
  if (config.shipped_rules) layers.push_back({{paths.shipped_rules_dir}, true});
  layers.push_back({{config.rules_dir.empty() ? paths.rules_dir : config.rules_dir}, true});
  return layers;
}

Result<DaemonConfig> load_daemon_config(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    if (errno == ENOENT) return DaemonConfig{};
    return make_error("cannot read " + path + ": " + std::strerror(errno));
  }
  std::stringstream buf;
  buf << in.rdbuf();
  auto c = parse_daemon_config(buf.str(), path);
  if (c) c->file_found = true;
  return c;
}

}  // namespace aw
