#include "src/cli/cli.h"

#include "src/cli/cli_common.h"

#include <simdjson.h>
#include <unistd.h>
#include <CLI/CLI.hpp>

#include <climits>
#include <cstdio>
#include <fstream>
#include <iostream>
#include <sstream>

#include "src/cli/agents_commands.h"
#include "src/cli/events_command.h"
#include "src/cli/rules_commands.h"
#include "src/cli/stats_command.h"
#include "src/cli/status_command.h"
#include "src/cli/top_command.h"
#include "src/daemon/config.h"
#include "src/daemon/daemon.h"
#include "src/daemon/instance_lock.h"
#include "src/daemon/paths.h"
#include "src/daemon/systemd_unit.h"
#include "src/os/environ.h"
#include "src/rules/rule_files.h"
#include "src/tmux/tmux_socket.h"
#include "src/uvx/unix_listener.h"
#include "watchers/notify/notify_client.h"

#ifndef AW_VERSION
#define AW_VERSION "0.0.0"
#endif

namespace aw {
namespace {

int cmd_run(const GlobalFlags& g) {
  RunOptions o;
  o.paths = resolve_paths(g.overrides);
  auto config = load_config(o.paths);
  if (!config) return 1;
  o.config = std::move(*config);
  o.log_level = g.log_level;
  o.stop_workers = g.stop_workers;
  if (g.http_listen) {
    // The flag wins over [http] listen, as Prometheus' --web.listen-address.
    o.config.http.listen = *g.http_listen;
    if (!g.http_listen->empty()) {
      auto addr = parse_listen_address(*g.http_listen);
      if (!addr) {
        std::cerr << "agentwatch: --http: " << addr.error().message << "\n";
        return 2;
      }
      o.config.http.host = addr->first;
      o.config.http.port = addr->second;
    }
  }
  return run_daemon(o);
}

int cmd_rules_check(const GlobalFlags& g, const std::vector<std::string>& paths) {
  if (!paths.empty()) return rules_check(paths, std::cout, std::cerr);
  Paths p = resolve_paths(g.overrides);
  auto config = load_config(p);
  if (!config) return 1;
  return rules_check(rule_layers(p, *config), std::cout, std::cerr);
}

std::optional<RuleSet> load_default_rules(const GlobalFlags& g) {
  Paths p = resolve_paths(g.overrides);
  auto config = load_config(p);
  if (!config) return std::nullopt;
  RuleLoad load = load_rules_from_paths(rule_layers(p, *config));
  if (!load.ok()) {
    std::cerr << load.error_text() << "\n";
    return std::nullopt;
  }
  return std::move(load).rules();
}

int cmd_rules_test(const GlobalFlags& g, const std::string& event_json) {
  std::string text = event_json;
  if (text == "-") {
    std::stringstream s;
    s << std::cin.rdbuf();
    text = s.str();
  }
  auto event = parse_event_json(text);
  if (!event) {
    std::cerr << "--event: " << event.error().message << "\n";
    return 2;
  }
  auto rules = load_default_rules(g);
  if (!rules) return 1;
  return rules_test(*rules, *event, std::cout, read_file_content);
}

// Says whether the service will see the agents' tmux server: the socket of
// [tmux] command, whether the unit's namespace settings hide it, and whether
// a server answers there now. A daemon that cannot reach it knows nothing
// about sessions (it then judges no zombie and no phantom): worth a warning,
// not a refusal, since the server may simply not be started yet.
void check_tmux_reachable(const DaemonConfig& config, const std::string& unit) {
  const std::string socket =
      tmux_socket_path(config.tmux_command, getuid(), env_var("TMUX_TMPDIR").value_or(""));
  std::cout << "tmux: the agents' server socket is " << socket << "\n";
  if (auto hidden = unit_hides(unit, socket)) {
    std::cout << "tmux: warning: the unit's " << *hidden
              << " hides it from the daemon: it would never see a session (set [tmux] command "
                 "to a socket outside it, e.g. [\"tmux\", \"-S\", \"/run/user/"
              << getuid() << "/agents.sock\"])\n";
    return;
  }
  const uvx::SocketProbeResult probe = uvx::probe_unix_socket(socket);
  switch (probe.state) {
    case uvx::SocketProbe::kListening:
      std::cout << "tmux: a server answers there, and the unit leaves it visible\n";
      break;
    case uvx::SocketProbe::kMissing:
      std::cout << "tmux: no server runs there yet (" << probe.detail
                << "); the unit leaves the path visible\n";
      break;
    default:
      std::cout << "tmux: warning: the socket does not answer (" << probe.detail
                << "): until a server answers there, tmux sessions are unknown to the daemon\n";
  }
}

int cmd_service(const GlobalFlags& g, const std::string& verb) {
  Paths p = resolve_paths(g.overrides);
  const std::string dir = user_unit_dir();
  if (verb == "uninstall") {
    auto removed = uninstall_unit(dir);
    if (!removed) {
      std::cerr << removed.error().message << "\n";
      return 1;
    }
    std::cout << (*removed ? "removed " : "not installed: ") << dir << "/agentwatch.service\n";
    if (*removed) std::cout << "run: systemctl --user daemon-reload\n";
    return 0;
  }
  auto config = load_config(p);
  if (!config) return 1;
  UnitParams u;
  u.exec_path = self_exe();
  if (!g.overrides.config_file.empty()) u.run_args = {"--config", p.config_file};
  if (!g.overrides.state_dir.empty())
    u.run_args.insert(u.run_args.end(), {"--state-dir", p.state_dir});
  if (!g.overrides.runtime_dir.empty())
    u.run_args.insert(u.run_args.end(), {"--runtime-dir", p.runtime_dir});
  u.read_write_paths = {p.state_dir, p.runtime_dir, p.config_dir};
  for (const auto& w : config->watches) u.read_write_paths.push_back(w.path);
  const std::string unit = render_unit(u);
  if (verb == "print") {
    std::cout << unit;
    return 0;
  }
  auto path = install_unit(dir, unit);
  if (!path) {
    std::cerr << path.error().message << "\n";
    return 1;
  }
  std::cout << "installed " << *path << "\n";
  check_tmux_reachable(*config, unit);
  std::cout << "run: systemctl --user daemon-reload && systemctl --user enable --now agentwatch\n";
  return 0;
}

// `agentwatch notify KIND [key=value…]`: what tmux hooks run. One connect, one
// write, a short timeout; when the daemon is down the message is spooled and
// delivered when it starts, so the hook never fails for that.
int cmd_notify(const GlobalFlags& g, const std::string& kind, const std::vector<std::string>& args,
               bool quiet) {
  auto event = parse_notify_args(kind, args);
  if (!event) {
    std::cerr << "agentwatch notify: " << event.error().message << "\n";
    return 2;
  }
  Paths p = resolve_paths(g.overrides);
  auto delivery = send_notification(p.runtime_dir, *event);
  if (!delivery) {
    std::cerr << "agentwatch notify: " << delivery.error().message << "\n";
    return 1;
  }
  if (delivery->spooled && !quiet)
    std::cerr << "agentwatch notify: spooled (" << delivery->spool_reason << ")\n";
  return 0;
}

}  // namespace

int run_cli(int argc, char** argv) {
  CLI::App app{"agentwatch: an event-driven watcher for fleets of AI coding-agent workers"};
  app.set_version_flag("--version", AW_VERSION);
  app.require_subcommand(1);
  app.fallthrough();
  GlobalFlags g;
  app.add_option("--config", g.overrides.config_file, "agentwatch.toml to use")->type_name("FILE");
  app.add_option("--state-dir", g.overrides.state_dir, "state dir (event log, index)")
      ->type_name("DIR");
  app.add_option("--runtime-dir", g.overrides.runtime_dir, "runtime dir (lock, status)")
      ->type_name("DIR");
  app.add_option("--shipped-rules", g.overrides.shipped_rules_dir, "shipped rules dir")
      ->type_name("DIR");

  int code = 0;

  auto* run = app.add_subcommand("run", "Run the daemon (one per user)");
  run->add_option("--log-level", g.log_level, "trace, debug, info, warn, error")
      ->check(CLI::IsMember({"trace", "debug", "info", "warn", "error", "critical", "off"}));
  run->add_flag("--stop-workers", g.stop_workers,
                "Stop the workers when the daemon stops (default: they keep running, and the "
                "next daemon re-adopts them)");
  run->add_option("--http", g.http_listen,
                  "Serve /metrics, the API and the dashboard on HOST:PORT (\"\" for none; "
                  "overrides [http] listen)")
      ->type_name("HOST:PORT");
  run->callback([&] { code = cmd_run(g); });

  EventsOptions ev;
  std::size_t limit = 0;
  auto* events = app.add_subcommand("events", "Print the event log (the audit trail)");
  events->add_flag("-f,--follow", ev.follow, "Keep printing new events, across rotations");
  events->add_option("--kind", ev.kinds, "Only kinds matching this glob (repeatable)")
      ->type_name("GLOB");
  events->add_option("--since", ev.since, "A duration ago (10m, 2h) or a time (RFC 3339)")
      ->type_name("DURATION|TIME");
  events->add_option("--entity", ev.entity, "Only this entity (exact or glob)")->type_name("NAME");
  events->add_flag("--failed", ev.failed, "Only failures");
  events->add_flag("--json", ev.json, "Raw JSON lines, as logged");
  events->add_option("-n,--limit", limit, "Stop after N events")->type_name("N");
  events->callback([&] {
    ev.state_dir = resolve_paths(g.overrides).state_dir;
    if (limit) ev.limit = limit;
    code = events_command(ev, std::cout, std::cerr);
  });

  StatsOptions st;
  auto* stats = app.add_subcommand("stats", "What the actions came to: counts, durations, CPU");
  stats->add_option("--since", st.since, "From this time on: a duration ago (10m, 2h) or a time")
      ->type_name("DURATION|TIME");
  stats->add_option("--until", st.until, "Before this time: a duration ago (10m, 2h) or a time")
      ->type_name("DURATION|TIME");
  stats->add_option("--group-by", st.group_by, "rule, action, worker, category, entity or kind")
      ->type_name("KEY");
  stats->add_flag("--failed", st.failed, "Only failed executions");
  stats->add_flag("--json", st.json, "One JSON object");
  stats->callback([&] {
    st.state_dir = resolve_paths(g.overrides).state_dir;
    code = stats_command(st, std::cout, std::cerr);
  });

  auto* rules = app.add_subcommand("rules", "Check, list and dry-run rules");
  rules->require_subcommand(1);
  std::vector<std::string> check_paths;
  auto* check = rules->add_subcommand("check", "Validate rule files (default: the loaded set)");
  check->add_option("paths", check_paths, "Rule files or directories")->type_name("PATH");
  check->callback([&] { code = cmd_rules_check(g, check_paths); });
  rules->add_subcommand("list", "List the loaded rules")->callback([&] {
    auto set = load_default_rules(g);
    code = set ? rules_list(*set, std::cout) : 1;
  });
  std::string event_json;
  auto* test = rules->add_subcommand(
      "test", "Dry run: which rules an event matches, and what they would run");
  test->add_option("--event", event_json, "The event as JSON ('-' reads stdin)")->required();
  test->callback([&] { code = cmd_rules_test(g, event_json); });

  auto* service = app.add_subcommand("service", "The systemd user unit");
  service->require_subcommand(1);
  for (const char* verb : {"install", "uninstall", "print"}) {
    service->add_subcommand(verb, std::string(verb) + " ~/.config/systemd/user/agentwatch.service")
        ->callback([&, verb] { code = cmd_service(g, verb); });
  }

  std::string notify_kind;
  std::vector<std::string> notify_args;
  bool notify_quiet = false;
  auto* notify = app.add_subcommand(
      "notify", "Send an event to the daemon (tmux hooks); spooled if it is down");
  notify->add_option("kind", notify_kind, "Event kind, e.g. tmux.session-closed")->required();
  notify->add_option("fields", notify_args, "key=value fields (entity=NAME sets the entity)");
  notify->add_flag("-q,--quiet", notify_quiet, "Say nothing when the message is spooled");
  notify->callback([&] { code = cmd_notify(g, notify_kind, notify_args, notify_quiet); });

  bool status_json = false;
  auto* status = app.add_subcommand("status", "Is the daemon running, and what it watches");
  status->add_flag("--json", status_json, "The status file as JSON");
  status->callback([&] {
    code = status_command(resolve_paths(g.overrides), status_json, std::cout, std::cerr);
  });

  TopOptions top_options;
  auto* top = app.add_subcommand("top", "Live dashboard: status and executions, redrawn on events");
  top->add_flag("--text", top_options.text, "Print one plain report and exit");
  top->callback(
      [&] { code = top_command(resolve_paths(g.overrides), top_options, std::cout, std::cerr); });

  add_ops_commands(app, g, code);
  add_tmux_commands(app, g, code);
  add_agents_commands(app, g, code);

  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    const int rc = app.exit(e);
    return rc == 0 ? 0 : 2;  // usage errors exit 2, like most tools
  }
  return code;
}

}  // namespace aw
