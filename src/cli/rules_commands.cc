#include "src/cli/rules_commands.h"

#include <algorithm>
#include <array>
#include <csignal>
#include <cstdio>
#include <fstream>
#include <ostream>
#include <span>
#include <sstream>
#include <variant>

#include "src/core/byte_size.h"
#include "src/core/duration.h"
#include "src/core/event_kinds.h"
#include "src/core/json_writer.h"
#include "src/core/suggest.h"
#include "src/os/environ.h"
#include "src/rules/matcher.h"
#include "src/rules/rule_gate.h"

namespace aw {
namespace {

std::string json_quoted(std::string_view s) {
  std::string out;
  append_json_string(out, s);
  return out;
}

std::string json_array(const std::vector<std::string>& items) {
  std::string out = "[";
  for (std::size_t i = 0; i < items.size(); ++i) {
    if (i) out += ", ";
    append_json_string(out, items[i]);
  }
  return out + "]";
}

template <class Pairs>
std::string json_object(const Pairs& pairs) {
  std::string out = "{";
  bool first = true;
  for (const auto& [k, v] : pairs) {
    if (!first) out += ", ";
    first = false;
    append_json_string(out, k);
    out += ": ";
    append_json_string(out, v);
  }
  return out + "}";
}

std::string on_text(const Rule& r) {
  std::string s;
  for (const Glob& g : r.on) {
    if (!s.empty()) s += ",";
    s += g.pattern();
  }
  if (r.schedule) {
    if (!s.empty()) s += ",";
    s += "every " + format_duration(r.schedule->every);
    if (r.schedule->jitter > Duration::zero()) s += "±" + format_duration(r.schedule->jitter);
  }
  return s;
}

std::string signal_name(int sig) {
  switch (sig) {
    case SIGTERM:
      return "TERM";
    case SIGINT:
      return "INT";
    case SIGHUP:
      return "HUP";
    case SIGKILL:
      return "KILL";
    case SIGQUIT:
      return "QUIT";
    case SIGUSR1:
      return "USR1";
    case SIGUSR2:
      return "USR2";
    default:
      return std::to_string(sig);
  }
}

template <class... F>
struct Overloaded : F... {
  using F::operator()...;
};
template <class... F>
Overloaded(F...) -> Overloaded<F...>;

std::string action_summary(const ActionSpec& a) {
  std::string s = action_type_name(a.type());
  auto argv_text = [&](const std::vector<Template>& argv) {
    for (const Template& t : argv) s += " " + t.source();
  };
  std::visit(Overloaded{
                 [&](const RunActionSpec& r) {
                   argv_text(r.argv);
                   if (r.shell) s += " (shell)";
                 },
                 [&](const MoveActionSpec& m) { s += " → " + m.to.source(); },
                 [&](const QuarantineActionSpec& q) { s += " → " + q.to.source(); },
                 [&](const MarkActionSpec& m) {
                   s += " " + m.entity.source();
                   s += " " + m.state.source();
                 },
                 [&](const EmitActionSpec& e) { s += " " + e.kind.source(); },
                 [&](const KillActionSpec& k) {
                   s += " " + k.worker.source();
                   s += " " + signal_name(k.signal);
                 },
                 [&](const RestartActionSpec& r) { s += " " + r.worker.source(); },
                 [&](const TmuxActionSpec& t) {
                   s += std::string(" ") + tmux_op_name(t.op);
                   s += " " + t.session.source();
                 },
                 [&](const RotateActionSpec& r) { s += " " + r.path.source(); },
                 [&](const ProbeActionSpec& p) { argv_text(p.argv); },
                 [&](const RepairJsonActionSpec& r) {
                   s += " " + r.path.source();
                   if (r.to) s += " → " + r.to->source();
                 },
                 [&](const CompleteSessionActionSpec& c) {
                   s += " " + c.session.source() + " → " + c.to.source();
                 },
                 [&](const FailSessionActionSpec& f) {
                   s += " " + f.session.source() + " → " + f.to.source();
                 },
                 [&](const IntegrateSessionActionSpec& i) {
                   argv_text(i.command.argv);
                   s += ", " + i.session.source() + " → " + i.to.source();
                 },
                 [&](const EnsureFileActionSpec& e) {
                   s += " " + e.path.source() + " from " + e.source.source();
                 },
                 [&](const RetainActionSpec& r) {
                   s += " " + r.dir.source() + " older than " + format_duration(r.max_age);
                 },
                 [&](const CheckDiskActionSpec&) {},
             },
             a.body);
  return s;
}

std::string retry_text(const RetryPolicy& r) {
  std::ostringstream s;
  s << " retries=" << r.retries << " backoff={initial=" << format_duration(r.initial)
    << " factor=" << r.factor << " max=" << format_duration(r.max) << " jitter=" << r.jitter << "}";
  return s.str();
}

void print_request(const ActionRequest& a, std::ostream& out) {
  out << "    " << (a.index + 1) << ". " << action_type_name(a.type());
  if (!a.render_error.empty()) {
    out << ": would fail at once: " << a.render_error << "\n";
    return;
  }
  auto command = [&](const std::vector<std::string>& argv, const std::string& cwd,
                     const EnvList& env) {
    if (!argv.empty()) out << " argv=" << json_array(argv);
    if (!cwd.empty()) out << " cwd=" << json_quoted(cwd);
    if (!env.empty()) out << " env=" << json_object(env);
  };
  std::visit(Overloaded{
                 [&](const RunRequest& r) {
                   out << " argv=" << json_array(r.argv);
                   command({}, r.cwd, r.env);
                   if (r.shell) out << " shell=true (argv[0] is a /bin/sh -c script)";
                   if (r.kill_grace != std::chrono::seconds(5))
                     out << " kill_grace=" << format_duration(r.kill_grace);
                 },
                 [&](const MoveRequest& m) {
                   out << " source=" << json_quoted(m.source) << " to=" << json_quoted(m.to)
                       << " root=" << json_quoted(m.root);
                 },
                 [&](const QuarantineRequest& q) {
                   out << " source=" << json_quoted(q.source) << " to=" << json_quoted(q.to)
                       << " root=" << json_quoted(q.root) << " reason=" << json_quoted(q.reason);
                 },
                 [&](const RepairJsonRequest& r) {
                   out << " source=" << json_quoted(r.source);
                   if (!r.to.empty()) out << " to=" << json_quoted(r.to);
                   out << " root=" << json_quoted(r.root);
                   if (!r.quarantine.empty()) out << " quarantine=" << json_quoted(r.quarantine);
                 },
                 [&](const CompleteSessionRequest& c) {
                   out << " session=" << json_quoted(c.session) << " to=" << json_quoted(c.to)
                       << " root=" << json_quoted(c.root) << " manifest=" << json_quoted(c.manifest)
                       << " marker=" << json_quoted(c.marker);
                 },
                 [&](const MarkRequest& m) {
                   out << " entity=" << json_quoted(m.entity) << " state=" << json_quoted(m.state);
                   if (!m.marker.empty()) out << " marker=" << json_quoted(m.marker);
                 },
                 [&](const EmitRequest& e) {
                   out << " kind=" << json_quoted(e.kind);
                   if (!e.entity.empty()) out << " entity=" << json_quoted(e.entity);
                   std::vector<std::pair<std::string, std::string>> fields;
                   for (const auto& f : e.fields)
                     fields.emplace_back(f.key, field_to_string(f.value));
                   if (!fields.empty()) out << " fields=" << json_object(fields);
                 },
                 [&](const KillRequest& k) {
                   out << " worker=" << json_quoted(k.worker) << " signal=" << signal_name(k.signal)
                       << " grace=" << format_duration(k.grace);
                   if (!k.reason.empty()) out << " reason=" << json_quoted(k.reason);
                 },
                 [&](const RestartRequest& r) {
                   out << " worker=" << json_quoted(r.worker);
                   if (!r.reason.empty()) out << " reason=" << json_quoted(r.reason);
                 },
                 [&](const TmuxRequest& t) {
                   out << " op=" << tmux_op_name(t.op) << " session=" << json_quoted(t.session);
                   command(t.argv, t.cwd, t.env);
                   if (!t.wait_for.empty()) out << " wait_for=" << json_quoted(t.wait_for);
                   if (t.ready_timeout > Duration::zero())
                     out << " ready_timeout=" << format_duration(t.ready_timeout);
                   if (!t.brief.empty()) {
                     out << " brief=" << json_quoted(t.brief);
                     if (!t.submit) out << " submit=false";
                   }
                   if (!t.keys.empty()) out << " keys=" << json_array(t.keys);
                 },
                 [&](const RotateRequest& r) {
                   out << " path=" << json_quoted(r.path);
                   if (r.max_size > 0) out << " max_size=" << format_byte_size(r.max_size);
                   if (r.max_age > Duration::zero())
                     out << " max_age=" << format_duration(r.max_age);
                   out << " keep=" << r.keep << " compress=" << (r.compress ? "true" : "false")
                       << " method=" << rotate_method_name(r.method);
                 },
                 [&](const ProbeRequest& p) {
                   out << " argv=" << json_array(p.argv);
                   command({}, p.cwd, p.env);
                   std::vector<std::pair<std::string, std::string>> patterns;
                   for (const ProbePattern& pat : p.patterns)
                     patterns.emplace_back(pat.match, pat.kind);
                   if (!patterns.empty()) out << " patterns=" << json_object(patterns);
                   out << " max_output=" << format_byte_size(p.max_output);
                 },
                 [&](const FailSessionRequest& f) {
                   out << " session=" << json_quoted(f.session) << " to=" << json_quoted(f.to)
                       << " root=" << json_quoted(f.root) << " reason=" << json_quoted(f.reason);
                 },
                 [&](const IntegrateSessionRequest& i) {
                   out << " session=" << json_quoted(i.session) << " to=" << json_quoted(i.to)
                       << " root=" << json_quoted(i.root) << " argv=" << json_array(i.command.argv);
                   command({}, i.command.cwd, i.command.env);
                   if (i.command.shell) out << " shell=true";
                 },
                 [&](const EnsureFileRequest& e) {
                   char mode[8];
                   std::snprintf(mode, sizeof mode, "%04o", static_cast<unsigned>(e.mode));
                   out << " path=" << json_quoted(e.path) << " source=" << json_quoted(e.source)
                       << " root=" << json_quoted(e.root) << " mode=" << mode;
                   if (!e.keep.empty()) out << " keep=" << json_quoted(e.keep);
                 },
                 [&](const RetainRequest& r) {
                   out << " dir=" << json_quoted(r.dir) << " root=" << json_quoted(r.root)
                       << " max_age=" << format_duration(r.max_age)
                       << " max_entries=" << r.max_entries;
                   if (!r.glob.empty()) out << " glob=" << json_quoted(r.glob);
                 },
                 [&](const CheckDiskRequest&) { out << " (every watched filesystem)"; },
             },
             a.body);
  if (a.timeout > Duration::zero()) out << " timeout=" << format_duration(a.timeout);
  if (a.retry.retries > 0) out << retry_text(a.retry);
  out << "\n";
}

int report_load(const RuleLoad& load, std::ostream& out, std::ostream& err) {
  if (!load.ok()) {
    err << load.error_text();
    err << load.errors().size() << (load.errors().size() == 1 ? " error" : " errors")
        << "; the rule set is rejected\n";
    return 1;
  }
  for (const std::string& w : self_loop_warnings(load.rules())) err << w << "\n";
  for (const std::string& w : unknown_kind_warnings(load.rules())) err << w << "\n";
  out << "ok: " << load.rules().size() << (load.rules().size() == 1 ? " rule" : " rules")
      << ", hash " << load.rules().hash() << "\n";
  return 0;
}

}  // namespace

std::vector<std::string> self_loop_warnings(const RuleSet& rules) {
  std::vector<std::string> out;
  for (const Rule& r : rules.rules()) {
    if (!r.enabled || r.actions.empty()) continue;
    const bool tells_own_apart = std::any_of(r.when.begin(), r.when.end(), [](const Condition& c) {
      return c.subject == ConditionSubject::kRule;
    });
    if (tells_own_apart) continue;
    std::vector<std::string_view> produced = {kind::kActionStarted, kind::kActionSucceeded,
                                              kind::kActionFailed};
    for (const ActionSpec& a : r.actions) {
      if (a.as<MarkActionSpec>())
        produced.insert(produced.end(), {kind::kStateChanged, kind::kStateRefused});
      if (const auto* emit = a.as<EmitActionSpec>(); emit && emit->kind.is_literal())
        produced.push_back(emit->kind.source());
    }
    for (std::string_view kind : produced) {
      const bool hit =
          std::any_of(r.on.begin(), r.on.end(), [&](const Glob& g) { return g.matches(kind); });
      if (!hit) continue;
      out.push_back(r.file + ":" + std::to_string(r.line) + ": warning: rule '" + r.name +
                    "' can match " + std::string(kind) +
                    ", which its own actions produce: it feeds itself (the daemon cuts the chain "
                    "and throttles it); add { field = \"rule\", not_equals = \"" +
                    r.name + "\" } to its conditions");
      break;
    }
  }
  return out;
}

std::vector<std::string> unknown_kind_warnings(const RuleSet& rules) {
  // What the set's own actions produce: emit kinds (a templated one by the
  // text before its first variable) and probe pattern kinds.
  std::vector<std::string_view> produced;
  std::vector<std::string_view> produced_prefixes;
  for (const Rule& r : rules.rules()) {
    for (const ActionSpec& a : r.actions) {
      if (const auto* emit = a.as<EmitActionSpec>()) {
        const std::string& source = emit->kind.source();
        if (emit->kind.is_literal())
          produced.push_back(source);
        else
          produced_prefixes.push_back(std::string_view(source).substr(0, source.find('{')));
      }
      if (const auto* probe = a.as<ProbeActionSpec>())
        for (const ProbePattern& p : probe->patterns) produced.push_back(p.kind);
    }
  }
  std::vector<std::string_view> candidates(kind::kAllKinds.begin(), kind::kAllKinds.end());
  candidates.insert(candidates.end(), produced.begin(), produced.end());
  auto starts_with_any = [](std::string_view k, std::span<const std::string_view> prefixes) {
    return std::any_of(prefixes.begin(), prefixes.end(),
                       [&](std::string_view p) { return k.starts_with(p); });
  };
  constexpr std::array<std::string_view, 2> kClientPrefixes = {kind::kUserPrefix,
                                                               kind::kAgentPrefix};
  constexpr std::array<std::string_view, 2> kSharedPrefixes = {kind::kTmuxPrefix,
                                                               kind::kWorkerPrefix};

  std::vector<std::string> out;
  for (const Rule& r : rules.rules()) {
    for (const Glob& g : r.on) {
      const std::string_view k = g.pattern();
      if (!is_exact_kind_pattern(k) || kind::is_known(k)) continue;
      if (std::find(produced.begin(), produced.end(), k) != produced.end()) continue;
      if (starts_with_any(k, produced_prefixes)) continue;
      // Clients' own namespaces: anything may arrive there.
      if (starts_with_any(k, kClientPrefixes)) continue;
      // Only a near miss of a known kind is worth a word: any other kind may
      // be made by a rule file not checked with this one.
      const std::string suggestion = closest_word(k, candidates);
      if (suggestion.empty()) continue;
      std::string w = r.file + ":" + std::to_string(r.line) + ": warning: rule '" + r.name +
                      "': on = " + json_quoted(k) + ": no event of this kind is emitted";
      // tmux.* and worker.* are agentwatch's, but notify clients may send there too.
      if (starts_with_any(k, kSharedPrefixes))
        w += " (unless an `agentwatch notify` client sends it)";
      out.push_back(w + "; did you mean " + json_quoted(suggestion) + "?");
    }
  }
  return out;
}

int rules_check(const std::vector<std::string>& paths, std::ostream& out, std::ostream& err) {
  return rules_check(std::vector<RuleLayerPaths>{RuleLayerPaths{paths, false}}, out, err);
}

int rules_check(const std::vector<RuleLayerPaths>& layers, std::ostream& out, std::ostream& err) {
  return report_load(load_rules_from_paths(layers), out, err);
}

int rules_list(const RuleSet& rules, std::ostream& out) {
  struct Row {
    std::string name, on, enabled, source, actions;
  };
  std::vector<Row> rows;
  rows.push_back({"NAME", "ON", "ENABLED", "SOURCE", "ACTIONS"});
  for (const Rule& r : rules.rules()) {
    std::string actions;
    for (const ActionSpec& a : r.actions) {
      if (!actions.empty()) actions += "; ";
      actions += action_summary(a);
    }
    rows.push_back({r.name, on_text(r), r.enabled ? "yes" : "no",
                    r.file + ":" + std::to_string(r.line), actions});
  }
  std::size_t w[4] = {0, 0, 0, 0};
  for (const Row& row : rows) {
    w[0] = std::max(w[0], row.name.size());
    w[1] = std::max(w[1], row.on.size());
    w[2] = std::max(w[2], row.enabled.size());
    w[3] = std::max(w[3], row.source.size());
  }
  auto pad = [](const std::string& s, std::size_t width) {
    return s + std::string(width - s.size() + 2, ' ');
  };
  for (const Row& row : rows) {
    out << pad(row.name, w[0]) << pad(row.on, w[1]) << pad(row.enabled, w[2])
        << pad(row.source, w[3]) << row.actions << "\n";
  }
  out << rules.size() << (rules.size() == 1 ? " rule" : " rules") << ", hash " << rules.hash()
      << "\n";
  return 0;
}

std::optional<std::string> read_file_content(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return std::nullopt;
  std::ostringstream buf;
  buf << in.rdbuf();
  if (in.bad()) return std::nullopt;
  return std::move(buf).str();
}

EnvLookup process_env() {
  return [](std::string_view name) -> std::optional<std::string> { return env_var(name); };
}

int rules_test(const RuleSet& rules, const Event& e, std::ostream& out, const ContentLoader& load,
               const EnvLookup& env) {
  std::string line = to_json_line(e);
  out << "event: " << line;  // to_json_line ends with '\n'

  // Read the file when any rule listening to this kind looks into it, so that
  // the explanations below talk about the real content.
  bool wants_content = false;
  for (const Rule& r : rules.rules())
    wants_content = wants_content || (r.enabled && r.reads_content && r.listens_to(e.kind));
  std::optional<std::string> content;
  if (wants_content && !e.path.empty()) {
    content = load ? load(e.path) : std::nullopt;
    out << "content: "
        << (content ? std::to_string(content->size()) + " bytes read from " + json_quoted(e.path)
                    : "cannot read " + json_quoted(e.path))
        << "\n";
  }
  MatchInput input{content ? &*content : nullptr, &env};

  std::vector<const Rule*> matched;
  matching_rules(rules, e, input, matched);
  std::size_t other_kinds = 0;
  for (const Rule& r : rules.rules()) {
    const bool hit = std::find(matched.begin(), matched.end(), &r) != matched.end();
    if (!hit && !r.listens_to_event(e)) {
      ++other_kinds;
      continue;
    }
    out << (hit ? "match  " : "no     ") << r.name << "  (" << r.file << ":" << r.line << ")\n";
    if (!hit) {
      if (auto why = explain_mismatch(r, e, input)) out << "    " << *why << "\n";
      continue;
    }
    if (r.gate.active()) {
      out << "    gate:";
      if (r.gate.debounce > Duration::zero())
        out << " debounce " << format_duration(r.gate.debounce);
      if (r.gate.cooldown > Duration::zero())
        out << " cooldown " << format_duration(r.gate.cooldown);
      out << " per subject " << json_quoted(gate_subject(e)) << " (not applied in a dry run)\n";
    }
    Plan plan = render(r, e, input);
    for (const ActionRequest& a : plan.actions) print_request(a, out);
  }
  out << matched.size() << (matched.size() == 1 ? " rule matches" : " rules match");
  if (other_kinds > 0)
    out << "; " << other_kinds << (other_kinds == 1 ? " rule does" : " rules do")
        << " not listen to kind " << json_quoted(e.kind);
  out << "\n";
  return matched.empty() ? 1 : 0;
}

}  // namespace aw
