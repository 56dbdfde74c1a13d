// `agentwatch workers …`, `health ID`, `recover …` and `trigger RULE`: the
// operator's commands. Each asks the running daemon over its control socket
// (docs/control.md). When no daemon runs, the read-only ones answer from the
// state files (load_state), `recover reset` writes the journal itself under the
// instance lock, and the ones that need a live process (start, stop, kill,
// trigger) say the daemon is not running (exit 3, like `status`).
//
// `recover diagnose` adds what session_doctor.h finds on disk (result sessions,
// quarantined results, hooks, disk space), and `recover fix` applies those
// fixes, each recorded in the event log as control.recover.fix.
#include <pwd.h>
#include <simdjson.h>
#include <sys/stat.h>
#include <unistd.h>
#include <CLI/CLI.hpp>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <iostream>
#include <optional>
#include <sstream>
#include <string>

#include "src/cli/agents_commands.h"
#include "src/cli/cli_common.h"
#include "src/control/control_client.h"
#include "src/core/duration.h"
#include "src/core/event_kinds.h"
#include "src/core/json_writer.h"
#include "src/daemon/daemon.h"
#include "src/daemon/diagnosis.h"
#include "src/daemon/instance_lock.h"
#include "src/recover/session_doctor.h"
#include "src/rules/rule_files.h"
#include "src/state/state_event.h"
#include "src/state/state_store.h"
#include "watchers/notify/notify_spool.h"

namespace aw {
namespace {

constexpr int kExitProblems = 1;
constexpr int kExitNotRunning = 3;
constexpr Duration kCallTimeout = std::chrono::seconds(15);

// What happened when we asked the daemon.
struct Asked {
  bool running = false;  // false: no daemon (the caller may answer offline)
  ControlReply reply;
};

// nullopt after printing why, when the daemon could not be asked for another
// reason than not running (a timeout, a foreign socket).
std::optional<Asked> ask_daemon(const Paths& p, std::string_view method,
                                const std::string& params) {
  auto reply = control_call(p.control_socket(), method, params, kCallTimeout);
  if (reply) return Asked{true, std::move(*reply)};
  if (is_control_unavailable(reply.error())) return Asked{false, {}};
  std::cerr << "agentwatch: cannot ask the daemon: " << reply.error().message << "\n";
  return std::nullopt;
}

int print_failure(const ControlReply& r) {
  std::cerr << "agentwatch: " << r.error << "\n";
  return r.code == "not_found" ? 4 : 1;
}

// [recover] from agentwatch.toml, for the offline answers (defaults when the
// file cannot be read: the daemon's own answer is not at stake here).
StuckThresholds stuck_thresholds(const Paths& p) {
  auto config = load_daemon_config(p.config_file);
  return config ? config->stuck : StuckThresholds{};
}

// The answer to `method`: the daemon's, or, when none runs, `offline` computed
// from the state files (read-only). Returns 0 with `out` set (and `live` saying
// which), or an exit code after printing why.
using OfflineAnswer = std::function<int(const LoadedState& state, std::string& out)>;
int answer_live_or_offline(const Paths& p, std::string_view method, const std::string& params,
                           const OfflineAnswer& offline, std::string& out, bool& live) {
  auto asked = ask_daemon(p, method, params);
  if (!asked) return 1;
  live = asked->running;
  if (asked->running) {
    if (!asked->reply.ok) return print_failure(asked->reply);
    out = asked->reply.result_json;
    return 0;
  }
  auto state = load_state(p.state_dir);
  if (!state) {
    std::cerr << "agentwatch: " << state.error().message << "\n";
    return 1;
  }
  return offline(*state, out);
}

std::string params_with(std::initializer_list<std::pair<std::string_view, std::string_view>> kv,
                        bool force = false) {
  std::string out;
  JsonObjectWriter w(out);
  for (const auto& [k, v] : kv) w.str(k, v);
  if (force) w.boolean("force", true);
  w.close();
  return out;
}

std::string_view str_or(simdjson::dom::element e, std::string_view key,
                        std::string_view dflt = "") {
  std::string_view v;
  return e[key].get_string().get(v) ? dflt : v;
}

std::string num_or_dash(simdjson::dom::element e, std::string_view key) {
  std::int64_t v;
  return e[key].get_int64().get(v) ? "-" : std::to_string(v);
}

std::string json_text(simdjson::dom::element e) {
  if (e.is_string()) return std::string(e.get_string().value_unsafe());
  return simdjson::minify(e);
}

// --- workers ---------------------------------------------------------------

void print_workers_table(simdjson::dom::array workers) {
  std::printf("%-20s %-13s %8s %8s %-11s %s\n", "NAME", "PHASE", "PID", "RESTARTS", "STATE",
              "DETAIL");
  for (simdjson::dom::element w : workers) {
    std::string detail(str_or(w, "detail"));
    std::printf("%-20s %-13s %8s %8s %-11s %s\n", std::string(str_or(w, "name")).c_str(),
                std::string(str_or(w, "phase", "-")).c_str(), num_or_dash(w, "pid").c_str(),
                num_or_dash(w, "restarts").c_str(), std::string(str_or(w, "state", "-")).c_str(),
                detail.c_str());
  }
}

// Offline: the declared workers and what the lifecycle store says of them.
std::string offline_workers_json(const Paths& p, const EntityTable& table) {
  auto config = load_daemon_config(p.config_file);
  std::string out = "[";
  bool first = true;
  if (config) {
    for (const WorkerSpec& spec : config->workers) {
      if (!first) out += ',';
      first = false;
      JsonObjectWriter w(out);
      w.str("name", spec.name).str("phase", "not running");
      if (const EntityRecord* r = table.get(spec.name)) {
        w.str("state", lifecycle_state_name(r->state)).str("detail", r->reason);
      }
      w.close();
    }
  }
  return out + "]";
}

int print_json_result(const std::string& json, bool as_json,
                      const std::function<void(simdjson::dom::element)>& text) {
  if (as_json) {
    std::cout << json << "\n";
    return 0;
  }
  simdjson::dom::parser parser;
  simdjson::dom::element root;
  if (parser.parse(simdjson::padded_string(json)).get(root)) {
    std::cout << json << "\n";
    return 0;
  }
  text(root);
  return 0;
}

int cmd_workers_list(const GlobalFlags& g, bool json) {
  Paths p = resolve_paths(g.overrides);
  std::string result;
  bool live = false;
  const int rc = answer_live_or_offline(
      p, "workers.list", "",
      [&](const LoadedState& state, std::string& out) {
        out = offline_workers_json(p, state.table);
        return 0;
      },
      result, live);
  if (rc != 0) return rc;
  if (!live && !json) std::cout << "agentwatch is not running; from the state files:\n";
  return print_json_result(result, json, [](simdjson::dom::element root) {
    simdjson::dom::array a;
    if (!root.get_array().get(a)) print_workers_table(a);
  });
}

int cmd_worker_verb(const GlobalFlags& g, const std::string& verb, const std::string& name,
                    bool json) {
  Paths p = resolve_paths(g.overrides);
  auto asked = ask_daemon(p, "workers." + verb, params_with({{"name", name}}));
  if (!asked) return 1;
  if (!asked->running) {
    std::cerr << "agentwatch is not running: `workers " << verb << "` needs the daemon\n";
    return kExitNotRunning;
  }
  if (!asked->reply.ok) return print_failure(asked->reply);
  return print_json_result(asked->reply.result_json, json, [&](simdjson::dom::element r) {
    std::cout << name << ": " << str_or(r, "message", verb + " requested") << "\n";
  });
}

// --- health ----------------------------------------------------------------

void print_entity(simdjson::dom::element e) {
  std::cout << "lifecycle: " << str_or(e, "state") << " since " << str_or(e, "since") << " ("
            << str_or(e, "reason") << "), run " << num_or_dash(e, "run") << "\n";
  simdjson::dom::array evidence;
  if (!e["evidence"].get_array().get(evidence)) {
    std::cout << "evidence (oldest first):\n";
    for (simdjson::dom::element ev : evidence)
      std::cout << "  " << str_or(ev, "time") << "  " << str_or(ev, "signal") << ": "
                << str_or(ev, "detail") << "\n";
  }
}

int cmd_health(const GlobalFlags& g, const std::string& id, bool json) {
  Paths p = resolve_paths(g.overrides);
  std::string result;
  bool live = false;
  const int rc = answer_live_or_offline(
      p, "health", params_with({{"id", id}}),
      [&](const LoadedState& state, std::string& out) {
        const EntityRecord* r = state.table.get(id);
        if (!r) {
          std::cerr << "agentwatch: no entity \"" << id << "\" in " << p.state_dir << "\n";
          return 4;
        }
        out = "{\"id\":";
        append_json_string(out, id);
        out += ",\"live\":false,\"entity\":" + entity_json(*r) + "}";
        return 0;
      },
      result, live);
  if (rc != 0) return rc;
  return print_json_result(result, json, [&](simdjson::dom::element r) {
    std::cout << id << (r["live"].get_bool().value_unsafe() ? "" : " (daemon not running)") << "\n";
    simdjson::dom::element worker;
    simdjson::dom::object fields;
    if (!r["worker"].get(worker) && !worker.get_object().get(fields)) {
      for (auto [k, v] : fields) {
        if (k == "evidence") continue;
        std::cout << "  " << k << ": " << json_text(v) << "\n";
      }
      simdjson::dom::array ev;
      if (!worker["evidence"].get_array().get(ev) && ev.size() > 0) {
        std::cout << "  decisions (oldest first):\n";
        for (simdjson::dom::element e : ev)
          std::cout << "    " << str_or(e, "time") << "  " << str_or(e, "signal") << ": "
                    << str_or(e, "detail") << "\n";
      }
    }
    simdjson::dom::element entity;
    if (!r["entity"].get(entity) && entity.is_object())
      print_entity(entity);
    else
      std::cout << "lifecycle: no record\n";
  });
}

// --- recover ---------------------------------------------------------------

void print_stuck(simdjson::dom::array stuck) {
  if (stuck.size() == 0) {
    std::cout << "nothing is stuck\n";
    return;
  }
  std::printf("%-24s %-8s %-11s %-22s %s\n", "ID", "KIND", "STATE", "SINCE", "FOR");
  for (simdjson::dom::element s : stuck) {
    std::int64_t ms = 0;
    if (s["age_ms"].get_int64().get(ms)) ms = 0;
    std::printf("%-24s %-8s %-11s %-22s %s\n", std::string(str_or(s, "id")).c_str(),
                std::string(str_or(s, "kind")).c_str(), std::string(str_or(s, "state")).c_str(),
                std::string(str_or(s, "since")).c_str(),
                format_duration(std::chrono::milliseconds(ms)).c_str());
  }
}

int cmd_list_stuck(const GlobalFlags& g, bool json) {
  Paths p = resolve_paths(g.overrides);
  std::string result;
  bool live = false;
  const int rc = answer_live_or_offline(
      p, "recover.list-stuck", "",
      [&](const LoadedState& state, std::string& out) {
        out = stuck_json(state.table.stuck(SystemClock().wall(), stuck_thresholds(p)));
        return 0;
      },
      result, live);
  if (rc != 0) return rc;
  if (!live && !json) std::cout << "agentwatch is not running; from the state files:\n";
  return print_json_result(result, json, [](simdjson::dom::element root) {
    simdjson::dom::array a;
    if (!root.get_array().get(a)) print_stuck(a);
  });
}

// Lines waiting in the notify spool (each is one notification).
std::uint64_t spooled_notifications(const Paths& p) {
  std::ifstream in(notify_spool_path(p.runtime_dir));
  std::uint64_t n = 0;
  for (std::string line; std::getline(in, line);) n += line.empty() ? 0 : 1;
  return n;
}

// --- result sessions on disk (session_doctor.h) ----------------------------

// What the loaded retention rules may delete: each of `dirs` whose rule (same
// position in `rule_names`) is loaded, enabled and retains, with that rule's
// max_age. A rule that is absent (no shipped rules, rules that do not load) or
// disabled leaves its directory alone: `recover fix` deletes nothing the
// daemon itself would not.
std::vector<RetentionDir> retention_of(const RuleSet* rules,
                                       std::initializer_list<const char*> rule_names,
                                       std::vector<RetentionDir> dirs) {
  std::vector<RetentionDir> out;
  auto name = rule_names.begin();
  for (RetentionDir& d : dirs) {
    const Rule* r = rules ? rules->find(*name++) : nullptr;
    if (!r || !r->enabled) continue;
    for (const ActionSpec& a : r->actions) {
      if (const auto* retain = a.as<RetainActionSpec>()) {
        d.max_age = retain->max_age;
        out.push_back(d);
        break;
      }
    }
  }
  return out;
}

// What find_session_problems looks at: the daemon's watches
// (effective_watches: agentwatch.toml's, or the default workspace), and the
// limits of the rules as `rules check` loads them. nullopt after printing why.
std::optional<DoctorInput> doctor_input(const Paths& p, int daemon_pid) {
  auto config = load_daemon_config(p.config_file);
  if (!config) {
    std::cerr << config.error().message << "\n";
    return std::nullopt;
  }
  std::vector<WatchConfig> watches = effective_watches(p, *config);
  std::optional<RuleSet> rules;
  RuleLoad load = load_rules_from_paths(rule_layers(p, *config));
  if (load.ok())
    rules = std::move(load).rules();
  else
    std::cerr << "agentwatch: the rules do not load, so sessions are judged by the shipped "
                 "defaults:\n"
              << load.error_text() << "\n";
  const RuleSet* rs = rules ? &*rules : nullptr;

  DoctorInput in;
  in.now = SystemClock().wall();
  in.daemon_pid = daemon_pid;
  in.hooks_source = p.config_dir + "/hooks";
  in.age_out = session_age_out(rs);
  const Rule* integrate = rs ? rs->find("session-integrate") : nullptr;
  in.integrate_enabled = integrate && integrate->enabled;
  const Rule* restore = rs ? rs->find("hook-restore") : nullptr;
  in.restore_hooks = !restore || restore->enabled;
  for (const WatchConfig& w : watches) {
    const DoctorRoot root{w.name, w.path};
    if (w.name == "results") {
      in.results.push_back(root);
      in.disks.push_back({root, w.min_free, w.min_free_text,
                          retention_of(rs,
                                       {"retain-completed-sessions", "retain-integrated-sessions",
                                        "retain-failed-sessions"},
                                       default_results_retention())});
    } else if (w.name == "logs") {
      in.disks.push_back({root, w.min_free, w.min_free_text,
                          retention_of(rs, {"retain-rotated-logs"}, default_logs_retention())});
    } else if (w.name == "hooks") {
      in.hooks = root;
    }
  }
  return in;
}

// The problems on disk; what could not be looked at goes to stderr.
std::vector<SessionProblem> session_problems(const DoctorInput& in) {
  std::vector<std::string> errors;
  std::vector<SessionProblem> problems = find_session_problems(in, &errors);
  for (const std::string& e : errors) std::cerr << "agentwatch: skipped: " << e << "\n";
  return problems;
}

int cmd_diagnose(const GlobalFlags& g, bool json) {
  Paths p = resolve_paths(g.overrides);
  std::string result;
  bool live = false;
  const int rc = answer_live_or_offline(
      p, "recover.diagnose", "",
      [&](const LoadedState& state, std::string& out) {
        DiagnosisInput in;
        in.table = &state.table;
        in.now = SystemClock().wall();
        in.thresholds = stuck_thresholds(p);
        in.daemon_running = false;
        if (state.report.needs_compaction())
          in.store_report = state.report.summary(state.table.size());
        in.spooled_notifications = spooled_notifications(p);
        out = problems_json(diagnose(in));
        return 0;
      },
      result, live);
  if (rc != 0) return rc;
  simdjson::dom::parser parser;
  simdjson::dom::array problems;
  if (parser.parse(simdjson::padded_string(result)).get_array().get(problems)) {
    std::cerr << "agentwatch: the daemon's diagnosis is not a list: " << result << "\n";
    return 1;
  }
  std::vector<SessionProblem> on_disk;
  if (std::optional<DoctorInput> in =
          doctor_input(p, live ? InstanceLock::holder(p.lock_file()) : 0))
    on_disk = session_problems(*in);
  const std::size_t total = problems.size() + on_disk.size();
  if (json) {
    std::string merged = "[";
    for (simdjson::dom::element pr : problems) {
      if (merged.size() > 1) merged += ',';
      merged += simdjson::minify(pr);
    }
    for (const SessionProblem& sp : on_disk) {
      if (merged.size() > 1) merged += ',';
      merged += session_problem_json(sp);
    }
    std::cout << merged << "]\n";
  } else if (total == 0) {
    std::cout << "no problems found\n";
  } else {
    for (simdjson::dom::element pr : problems) {
      std::cout << str_or(pr, "severity") << ": " << str_or(pr, "subject") << ": "
                << str_or(pr, "what") << "\n";
      if (auto hint = str_or(pr, "hint"); !hint.empty()) std::cout << "    " << hint << "\n";
    }
    for (const SessionProblem& sp : on_disk)
      std::cout << sp.severity << ": " << sp.subject << ": " << sp.what << "\n    "
                << session_problem_hint(sp) << "\n";
  }
  return total == 0 ? 0 : kExitProblems;
}

std::string user_name() {
  struct passwd pw {};
  struct passwd* found = nullptr;
  char buf[4096];
  if (getpwuid_r(getuid(), &pw, buf, sizeof buf, &found) == 0 && found && found->pw_name)
    return found->pw_name;
  const char* user = std::getenv("USER");
  return user ? user : "";
}

// `recover fix`: the problems session_doctor finds, each fixed (asked, or all
// with --auto) and recorded as control.recover.fix. With a daemon running the
// daemon records it (control method recover.fix, which audits who asked); with
// none we hold its instance lock for the whole run (no daemon starts half way
// and reacts to half of it) and append the events to its log ourselves, as
// `recover reset` does offline.
int cmd_fix(const GlobalFlags& g, bool auto_yes, bool dry_run, bool json) {
  Paths p = resolve_paths(g.overrides);
  auto ping = control_call(p.control_socket(), "ping", "", kCallTimeout);
  if (!ping && !is_control_unavailable(ping.error())) {
    std::cerr << "agentwatch: cannot ask the daemon: " << ping.error().message << "\n";
    return 1;
  }
  const bool live = ping.ok();
  bool daemon_records = false;
  if (live && ping->ok) {
    simdjson::dom::parser parser;
    simdjson::dom::array methods;
    if (!parser.parse(simdjson::padded_string(ping->result_json))["methods"].get_array().get(
            methods))
      for (simdjson::dom::element m : methods)
        if (m.is_string() && m.get_string().value_unsafe() == "recover.fix") daemon_records = true;
  }
  // Only a run that may change something takes the lock (a dry run, or one
  // refused for want of a terminal, leaves even the lock file alone).
  const bool interactive = ::isatty(STDIN_FILENO) == 1;
  std::optional<InstanceLock> lock;
  if (!live && !dry_run && (auto_yes || interactive)) {
    // The daemon may not have run since boot: its runtime dir (0700) holds the lock.
    if (Status s = prepare_runtime_dir(p.runtime_dir); !s) {
      std::cerr << "agentwatch: " << s.error().message << "\n";
      return 1;
    }
    auto acquired = InstanceLock::acquire(p.lock_file());
    if (!acquired) {
      std::cerr << "agentwatch: " << acquired.error().message << "\n";
      return 1;
    }
    lock.emplace(std::move(*acquired));
    if (Status s = make_dirs(p.event_log_dir(), 0700); !s) {  // where the audit events go
      std::cerr << "agentwatch: " << s.error().message << "\n";
      return 1;
    }
  }
  std::optional<DoctorInput> in = doctor_input(p, live ? InstanceLock::holder(p.lock_file()) : 0);
  if (!in) return 1;
  const std::vector<SessionProblem> problems = session_problems(*in);
  const bool fixable = std::any_of(problems.begin(), problems.end(), [](const SessionProblem& sp) {
    return sp.action != FixAction::kNone;
  });
  if (live && !daemon_records && !dry_run && fixable) {
    std::cerr << "agentwatch: the running daemon cannot record fixes in its event log (it has no "
                 "recover.fix control method), so none is applied: stop it (systemctl --user stop "
                 "agentwatch) and run `agentwatch recover fix` again, the fixes are then recorded "
                 "offline and the daemon takes them up when it starts; `--dry-run` shows them; "
                 "nothing was changed\n";
    return 1;
  }
  const std::uint32_t uid = static_cast<std::uint32_t>(getuid());
  const std::string user = user_name();
  FixRecorder record = [&](const SessionProblem& sp, const FixResult& r) -> Status {
    Event e = recover_fix_event(sp, r, uid, user);
    if (!live) {
      e.fields.set("offline", true);
      return append_event_offline(p.event_log_dir(), std::move(e));
    }
    // The daemon adds uid, peer_pid and outcome itself (SO_PEERCRED).
    std::string params;
    JsonObjectWriter w(params);
    for (const auto& [k, v] : e.fields) {
      if (k == "uid" || k == "outcome") continue;
      if (const bool* b = std::get_if<bool>(&v))
        w.boolean(k, *b);
      else
        w.str(k, field_to_string(v));
    }
    if (!e.entity.empty()) w.str("entity", e.entity);
    w.close();
    auto reply = control_call(p.control_socket(), "recover.fix", params, kCallTimeout);
    if (!reply) return reply.error();
    if (!reply->ok) return make_error(reply->error);
    return Status::Ok();
  };
  FixRunOptions o;
  o.auto_yes = auto_yes;
  o.dry_run = dry_run;
  o.json = json;
  o.interactive = interactive;
  return run_fixes(
      problems, o, [&](const SessionProblem& sp) { return apply_fix(sp, SystemClock().wall()); },
      record, std::cin, std::cout, std::cerr);
}

// Offline reset: the daemon is down, so we hold its lock (no daemon can start
// half way), write the journal ourselves and append the audit event to its log.
int offline_reset(const Paths& p, const std::string& id, bool force, bool json) {
  auto lock = InstanceLock::acquire(p.lock_file());
  if (!lock) {
    std::cerr << "agentwatch: " << lock.error().message << "\n";
    return 1;
  }
  StateStoreOptions so;
  so.dir = p.state_dir;
  auto store = StateStore::open(nullptr, std::move(so));
  if (!store) {
    std::cerr << "agentwatch: " << store.error().message << "\n";
    return 1;
  }
  const EntityRecord* r = (*store)->table().get(id);
  if (!r) {
    std::cerr << "agentwatch: no entity \"" << id << "\" in " << p.state_dir << "\n";
    return 4;
  }
  const std::string from(lifecycle_state_name(r->state));
  auto change = (*store)->table().recover_reset(id, {static_cast<std::uint32_t>(getuid()), force},
                                                SystemClock().wall());
  if (!change) {
    std::cerr << "agentwatch: " << change.error().message << "\n";
    return 1;
  }
  Status committed = Status();
  (*store)->commit([&](Status s) { committed = std::move(s); });
  if (!committed) {
    std::cerr << "agentwatch: " << committed.error().message << "\n";
    return 1;
  }
  // The log says what the daemon would have said: the transition, then the audit.
  Event transition = state_changed_event(*change);
  if (Status s = append_event_offline(p.event_log_dir(), std::move(transition)); !s)
    std::cerr << "agentwatch: reset done, but state.changed was not logged: " << s.error().message
              << "\n";
  Event audit;
  audit.kind = kind::kControlRecoverReset;
  audit.source = "cli";
  audit.entity = id;
  audit.fields.set("from", from);
  audit.fields.set("to", "queued");
  audit.fields.set("uid", static_cast<std::int64_t>(getuid()));
  audit.fields.set("offline", true);
  audit.fields.set("force", force);
  audit.fields.set("outcome", "ok");
  if (Status s = append_event_offline(p.event_log_dir(), std::move(audit)); !s)
    std::cerr << "agentwatch: reset done, but the audit event was not logged: " << s.error().message
              << "\n";
  if (json)
    std::cout << params_with({{"id", id}, {"from", from}, {"to", "queued"}}) << "\n";
  else
    std::cout << id << ": " << from << " -> queued (daemon not running; journal written)\n";
  return 0;
}

int cmd_reset(const GlobalFlags& g, const std::string& id, bool force, bool json) {
  Paths p = resolve_paths(g.overrides);
  auto asked = ask_daemon(p, "recover.reset", params_with({{"id", id}}, force));
  if (!asked) return 1;
  if (!asked->running) return offline_reset(p, id, force, json);
  if (!asked->reply.ok) return print_failure(asked->reply);
  return print_json_result(asked->reply.result_json, json, [&](simdjson::dom::element r) {
    std::cout << id << ": " << str_or(r, "from") << " -> " << str_or(r, "to") << "\n";
  });
}

int cmd_kill_zombie(const GlobalFlags& g, const std::string& id, bool force, bool json) {
  Paths p = resolve_paths(g.overrides);
  auto asked = ask_daemon(p, "recover.kill-zombie", params_with({{"id", id}}, force));
  if (!asked) return 1;
  if (!asked->running) {
    std::cerr << "agentwatch is not running: `recover kill-zombie` needs the daemon (it checks "
                 "the process's identity and watches the kill through)\n";
    return kExitNotRunning;
  }
  if (!asked->reply.ok) return print_failure(asked->reply);
  return print_json_result(asked->reply.result_json, json, [&](simdjson::dom::element r) {
    std::cout << id << ": " << str_or(r, "message", "kill requested") << "\n";
  });
}

int cmd_trigger(const GlobalFlags& g, const std::string& rule, bool json) {
  Paths p = resolve_paths(g.overrides);
  auto asked = ask_daemon(p, "trigger", params_with({{"rule", rule}}));
  if (!asked) return 1;
  if (!asked->running) {
    std::cerr << "agentwatch is not running: `trigger` needs the daemon\n";
    return kExitNotRunning;
  }
  if (!asked->reply.ok) return print_failure(asked->reply);
  return print_json_result(asked->reply.result_json, json, [&](simdjson::dom::element r) {
    std::cout << rule << ": triggered (event #" << num_or_dash(r, "seq") << ")\n";
  });
}

}  // namespace

void add_ops_commands(CLI::App& app, GlobalFlags& g, int& code) {
  // Owned by the App's lifetime through the lambdas below.
  static bool json = false;
  static bool force = false;
  static std::string name;

  auto* workers = app.add_subcommand("workers", "List, start, stop and restart workers");
  workers->require_subcommand(1);
  auto* list = workers->add_subcommand("list", "Every declared worker and what it is doing");
  list->add_flag("--json", json, "JSON output");
  list->callback([&] { code = cmd_workers_list(g, json); });
  for (const char* verb : {"start", "stop", "restart"}) {
    auto* sub = workers->add_subcommand(verb, std::string(verb) + " a worker");
    sub->add_option("name", name, "The worker's name")->required();
    sub->add_flag("--json", json, "JSON output");
    sub->callback([&, verb] { code = cmd_worker_verb(g, verb, name, json); });
  }

  auto* health = app.add_subcommand("health", "Why an entity is in its state: evidence, liveness");
  health->add_option("id", name, "Worker, session or project")->required();
  health->add_flag("--json", json, "JSON output");
  health->callback([&] { code = cmd_health(g, name, json); });

  auto* recover = app.add_subcommand("recover", "Find and fix stuck entities (audited)");
  recover->require_subcommand(1);
  auto* stuck = recover->add_subcommand("list-stuck", "Entities in a working state too long");
  stuck->add_flag("--json", json, "JSON output");
  stuck->callback([&] { code = cmd_list_stuck(g, json); });
  auto* reset = recover->add_subcommand("reset", "Put an entity back to queued");
  reset->add_option("id", name, "The entity")->required();
  reset->add_flag("--force", force, "Also reset a completed entity");
  reset->add_flag("--json", json, "JSON output");
  reset->callback([&] { code = cmd_reset(g, name, force, json); });
  auto* kz = recover->add_subcommand("kill-zombie", "TERM, grace, KILL a zombie worker");
  kz->add_option("id", name, "The worker")->required();
  kz->add_flag("--force", force, "Also kill a worker that is not a zombie (it ends failed)");
  kz->add_flag("--json", json, "JSON output");
  kz->callback([&] { code = cmd_kill_zombie(g, name, force, json); });
  auto* diag = recover->add_subcommand("diagnose", "Every problem found; exit 1 if any");
  diag->add_flag("--json", json, "JSON output");
  diag->callback([&] { code = cmd_diagnose(g, json); });
  static bool auto_yes = false;
  static bool dry_run = false;
  auto* fix = recover->add_subcommand(
      "fix", "Apply the fix of each problem on disk (sessions, hooks, disk space); audited");
  fix->add_flag("--auto", auto_yes, "Apply every fix without asking (needed without a terminal)");
  fix->add_flag("--dry-run", dry_run, "Print what would be done; change nothing");
  fix->add_flag("--json", json, "JSON output");
  fix->callback([&] { code = cmd_fix(g, auto_yes, dry_run, json); });

  auto* trigger = app.add_subcommand("trigger", "Run a timer or probe rule now");
  trigger->add_option("rule", name, "The rule's name")->required();
  trigger->add_flag("--json", json, "JSON output");
  trigger->callback([&] { code = cmd_trigger(g, name, json); });
}

int cmd_agents_list(const GlobalFlags& g, bool json) {
  Paths p = resolve_paths(g.overrides);
  auto asked = ask_daemon(p, "agents.list", "");
  if (!asked) return 1;
  if (!asked->running) {
    std::cerr << "agentwatch is not running: the agents' status lives in the daemon\n";
    return kExitNotRunning;
  }
  if (!asked->reply.ok) return print_failure(asked->reply);
  return print_json_result(asked->reply.result_json, json, [](simdjson::dom::element root) {
    simdjson::dom::array a;
    if (root.get_array().get(a)) return;
    if (a.size() == 0) {
      std::cout << "no agents yet (install their hooks: agentwatch agents install-hooks claude)\n";
      return;
    }
    std::printf("%-12s %-8s %-13s %-28s %s\n", "AGENT", "KIND", "STATUS", "DETAIL", "SINCE");
    for (simdjson::dom::element e : a) {
      std::string detail(str_or(e, "reason", ""));
      if (std::string reset(str_or(e, "reset_at", "")); !reset.empty()) detail = "resets " + reset;
      if (std::int64_t pct = 0; !e["context_pct"].get_int64().get(pct))
        detail = std::to_string(pct) + "% context left";
      const std::string session(str_or(e, "session", ""));
      const std::string name = session.empty() ? std::string(str_or(e, "id")) : session;
      std::printf("%-12s %-8s %-13s %-28s %s\n", name.c_str(),
                  std::string(str_or(e, "agent")).c_str(), std::string(str_or(e, "status")).c_str(),
                  detail.c_str(), std::string(str_or(e, "since")).c_str());
    }
  });
}

}  // namespace aw
