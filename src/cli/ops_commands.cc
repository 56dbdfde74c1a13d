// `agentwatch workers …`, `health ID`, `recover …` and `trigger RULE`: the
// operator's commands. Each asks the running daemon over its control socket
// (docs/control.md). When no daemon runs, the read-only ones answer from the
// state files (load_state), `recover reset` writes the journal itself under the
// instance lock, and the ones that need a live process (start, stop, kill,
// trigger) say the daemon is not running (exit 3, like `status`).
#include <simdjson.h>
#include <unistd.h>
#include <CLI/CLI.hpp>

#include <cstdio>
#include <fstream>
#include <iostream>
#include <optional>
#include <sstream>
#include <string>

#include "src/cli/cli_common.h"
#include "src/control/control_client.h"
#include "src/core/duration.h"
#include "src/core/event_kinds.h"
#include "src/core/json_writer.h"
#include "src/daemon/daemon.h"
#include "src/daemon/diagnosis.h"
#include "src/daemon/instance_lock.h"
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
  if (json) {
    std::cout << result << "\n";
  } else if (problems.size() == 0) {
    std::cout << "no problems found\n";
  } else {
    for (simdjson::dom::element pr : problems) {
      std::cout << str_or(pr, "severity") << ": " << str_or(pr, "subject") << ": "
                << str_or(pr, "what") << "\n";
      if (auto hint = str_or(pr, "hint"); !hint.empty()) std::cout << "    " << hint << "\n";
    }
  }
  return problems.size() == 0 ? 0 : kExitProblems;
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

  auto* trigger = app.add_subcommand("trigger", "Run a timer or probe rule now");
  trigger->add_option("rule", name, "The rule's name")->required();
  trigger->add_flag("--json", json, "JSON output");
  trigger->callback([&] { code = cmd_trigger(g, name, json); });
}

}  // namespace aw
