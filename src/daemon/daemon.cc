#include "src/daemon/daemon.h"

#include <fcntl.h>
#include <signal.h>
#include <spdlog/sinks/stdout_sinks.h>
#include <spdlog/spdlog.h>
#include <sys/stat.h>
#include <unistd.h>
#include <uv.h>
#include <zlib.h>

#include <algorithm>
#include <cerrno>
#include <cstdlib>
#include <memory>
#include <optional>

#include "src/actions/action_executor.h"
#include "src/control/control_server.h"
#include "src/core/duration.h"
#include "src/core/event_kinds.h"
#include "src/core/json_writer.h"
#include "src/daemon/agent_monitor.h"
#include "src/daemon/control_api.h"
#include "src/daemon/daemon_actions.h"
#include "src/daemon/daemon_alerts.h"
#include "src/daemon/daemon_metrics.h"
#include "src/daemon/diagnosis.h"
#include "src/daemon/disk_monitor.h"
#include "src/daemon/http_api.h"
#include "src/daemon/instance_lock.h"
#include "src/daemon/intent_journal_file.h"
#include "src/daemon/pipeline.h"
#include "src/daemon/pipeline_loop_ports.h"
#include "src/daemon/runtime_dir_watch.h"
#include "src/daemon/sd_notify.h"
#include "src/daemon/statsd_push.h"
#include "src/daemon/supervision_bridge.h"
#include "src/eventlog/event_log_writer.h"
#include "src/eventlog/log_segments.h"
#include "src/os/crash_point.h"
#include "src/os/disk_usage.h"
#include "src/os/environ.h"
#include "src/os/errno_text.h"
#include "src/os/files.h"
#include "src/os/unique_fd.h"
#include "src/recover/session_doctor.h"
#include "src/rules/rule_loader.h"
#include "src/schedule/timer_scheduler.h"
#include "src/supervise/supervisor.h"
#include "src/tmux/tmux_client.h"
#include "src/tmux/tmux_watch.h"
#include "src/uvx/handle.h"
#include "watchers/dir_watcher.h"
#include "watchers/file_index.h"
#include "watchers/git/git_reflog_watch.h"
#include "watchers/logtail/log_tailer.h"
#include "watchers/logtail/offset_store.h"
#include "watchers/notify/notify_ids.h"
#include "watchers/notify/notify_protocol.h"
#include "watchers/notify/notify_server.h"
#include "watchers/notify/notify_spool.h"
#include "watchers/notify/notify_spool_watch.h"

#ifndef AW_VERSION
#define AW_VERSION "0.0.0"
#endif

namespace aw {
namespace {

// How much of the event log's end is read at start: far more than one line
// (the last seq), and than the events a daemon logs between a notification's
// line and its id's record in notify-ids (the ids read back from the log).
constexpr std::size_t kLogTailBytes = 256 * 1024;

// ---------------------------------------------------------------------------
// Reading the last seq back from the log at start.

std::optional<std::uint64_t> seq_of_last_line(std::string_view text) {
  // Skip a torn tail: only bytes up to the last '\n' are records.
  std::size_t end = text.rfind('\n');
  while (end != std::string_view::npos && end > 0) {
    std::size_t start = text.rfind('\n', end - 1);
    start = start == std::string_view::npos ? 0 : start + 1;
    auto e = parse_event_json(text.substr(start, end - start));
    if (e) return e->seq;
    if (start == 0) break;
    end = start - 1;  // a corrupt line: try the one before it
  }
  return std::nullopt;
}

std::optional<std::uint64_t> last_seq_in_plain_file(const std::string& path) {
  auto tail = read_file_tail(path, kLogTailBytes);
  if (!tail || !*tail) return std::nullopt;
  return seq_of_last_line(**tail);
}

std::optional<std::uint64_t> last_seq_in_gzip_file(const std::string& path) {
  gzFile gz = gzopen(path.c_str(), "rb");
  if (!gz) return std::nullopt;
  std::string window;
  char buf[1 << 16];
  int n;
  while ((n = gzread(gz, buf, sizeof buf)) > 0) {
    window.append(buf, static_cast<std::size_t>(n));
    if (window.size() > (1u << 20)) window.erase(0, window.size() - (1u << 19));
  }
  gzclose(gz);
  return seq_of_last_line(window);
}

// ---------------------------------------------------------------------------

std::string version() {
  return AW_VERSION;
}

void setup_diagnostics(const std::string& level) {
  auto logger = spdlog::stderr_logger_st("agentwatch");
  // Under systemd the journal timestamps every line itself.
  if (env_var("JOURNAL_STREAM"))
    logger->set_pattern("%l: %v");
  else
    logger->set_pattern("[%Y-%m-%d %H:%M:%S.%e] [%l] %v");
  logger->set_level(spdlog::level::from_str(level));
  spdlog::set_default_logger(logger);
}

class Daemon {
 public:
  explicit Daemon(const RunOptions& options) : options_(options), paths_(options.paths) {}
  int run();

 private:
  bool open_stores();
  bool load_initial_rules();
  std::vector<RuleLayerPaths> rule_layers() const;
  std::vector<WatchConfig> effective_watches();
  bool start_watchers();
  void start_rule_watcher();
  bool start_notify();
  void start_supervisor();
  bool start_log_tailer();
  bool start_git_watch();
  bool open_log_offsets();
  void start_tmux();
  bool start_control();
  // Not fatal: a daemon that cannot serve its dashboard still watches.
  void start_http();
  void start_statsd();
  void start_alerts();
  std::string entities_json() const;
  bool watch_runtime_dir();
  // The runtime dir was removed under us: make it, its lock and sockets again.
  void restore_runtime_dir();
  void start_scheduler();
  std::vector<ScheduledJob> scheduled_jobs() const;
  DiagnosisInput diagnosis_input() const;
  DaemonMetricsSources metrics_sources();
  std::string status_json(const char* state) const;
  void hint_tmux(const Event& e);
  void feed_supervisor(const Event& e);
  void schedule_reload(const char* why);
  void reload(const std::string& why);
  void apply_rules(RuleLoad load, const std::string& why);
  void on_data_event(Event e);
  // The notify and control sockets of a daemon that died (we hold the lock).
  void remove_dead_daemons_sockets() const;
  // Logs the causes of open intents that the event log lacks (from seq
  // `next_seq` on); returns the seq the next event gets.
  std::uint64_t log_missing_causes(std::uint64_t next_seq);
  // A notification from the socket or the spool: logged once per id.
  void deliver_notification(Event e);
  void begin_shutdown(const char* signal_name);
  // finish_shutdown() once no action is in flight and no worker is stopping.
  void maybe_finish_shutdown();
  void finish_shutdown();
  void release_handles();
  void write_status(const char* state);
  void notify(const std::string& state);

  RunOptions options_;
  Paths paths_;
  SystemClock clock_;
  uv_loop_t loop_{};
  SdNotifier notifier_ = SdNotifier::from_environment();

  std::unique_ptr<EventLogWriter> log_;
  std::unique_ptr<FileIndex> index_;
  std::unique_ptr<IntentJournalFile> intents_;  // outlives pipeline_
  std::optional<InstanceLock> lock_;
  std::unique_ptr<RuntimeDirWatch> runtime_watch_;
  std::unique_ptr<StateStore> state_;
  std::unique_ptr<ActionExecutor> executor_;
  std::unique_ptr<LoopPipelinePorts> pipeline_ports_;  // outlives pipeline_
  std::unique_ptr<Pipeline> pipeline_;
  std::unique_ptr<DirWatcher> data_watcher_;
  std::unique_ptr<DirWatcher> rule_watcher_;
  std::unique_ptr<NotifyServer> notify_server_;
  NotifyIds notify_ids_;
  std::unique_ptr<NotifySpoolWatch> notify_spool_watch_;
  std::unique_ptr<SupervisionBridge> supervision_bridge_;
  std::unique_ptr<Supervisor> supervisor_;
  std::unique_ptr<FileOffsetStore> log_offsets_;
  std::unique_ptr<LogTailer> log_tailer_;
  std::unique_ptr<GitReflogWatch> git_watch_;
  std::unique_ptr<TmuxClient> tmux_client_;
  std::unique_ptr<TmuxWatch> tmux_watch_;
  std::unique_ptr<DaemonActions> actions_;
  std::unique_ptr<DiskMonitor> disk_monitor_;
  std::unique_ptr<TimerScheduler> scheduler_;
  std::unique_ptr<ControlServer> control_server_;
  std::unique_ptr<DaemonMetrics> metrics_;
  std::unique_ptr<HttpApi> http_;  // after metrics_: it reads them
  std::unique_ptr<StatsdPush> statsd_;
  std::unique_ptr<DaemonAlerts> alerts_;
  std::unique_ptr<AgentMonitor> agents_;  // the coding agents' status (issue #13)
  std::string http_error_;                // why it does not listen, when it does not
  std::vector<std::unique_ptr<uvx::Signal>> signals_;
  std::unique_ptr<uvx::Timer> reload_timer_;
  std::unique_ptr<uvx::Timer> watchdog_timer_;
  std::unique_ptr<uvx::Timer> shutdown_timer_;
  // Closes the other handles on a fresh loop turn: finish_shutdown() may run
  // inside one of their callbacks, and a handle must not die in its own callback.
  std::unique_ptr<uvx::Timer> closer_;

  std::vector<WatchConfig> watches_;
  std::string rules_summary_;  // for the status file
  bool reload_in_progress_ = false;
  bool reload_again_ = false;
  bool stopping_ = false;
  bool finished_ = false;
  std::string degraded_reason_;
  std::string rules_error_;  // the last reload's rejection, until a load succeeds
  WallTime started_at_{};
  uvx::WorkOwner work_owner_;  // rule reloads on the pool; last member: dies first
};

bool Daemon::open_stores() {
  if (auto s = make_dirs(paths_.state_dir, 0700); !s) {
    spdlog::critical("{}", s.error().message);
    return false;
  }
  EventLogWriterOptions lo;
  lo.dir = paths_.event_log_dir();
  lo.max_bytes = options_.config.event_log_max_bytes;
  lo.keep = options_.config.event_log_keep;
  lo.on_problem = [](const EventLogProblem& p) {
    if (p.kind == EventLogProblem::Kind::kWriteRecovered)
      spdlog::warn("event log: {}", p.error.message);
    else
      spdlog::error("event log: {}", p.error.message);
  };
  auto log = EventLogWriter::open(&loop_, std::move(lo));
  if (!log) {
    spdlog::critical("cannot open the event log: {}", log.error().message);
    return false;
  }
  log_ = std::move(*log);
  // The ids of the messages delivered lately, so that the other copy of one
  // (the socket's and the spool's) is not delivered again (notify_ids.h): the
  // state file's, then the event log tail's (a kill between the two writes).
  if (auto kept = notify_ids_.persist_to(paths_.state_dir + "/notify-ids"); !kept)
    spdlog::error("notify ids: {} (kept in memory only)", kept.error().message);
  else
    for (const std::string& problem : *kept) spdlog::warn("notify ids: {}", problem);
  if (auto seeded =
          notify_ids_.seed_from_log_file(paths_.event_log_dir() + "/events.jsonl", kLogTailBytes);
      !seeded)
    spdlog::warn("notify ids: {} (a message also spooled may be delivered twice)",
                 seeded.error().message);
  auto index = FileIndex::open(paths_.state_dir, &loop_);
  if (!index) {
    spdlog::critical("cannot open the file index: {}", index.error().message);
    return false;
  }
  index_ = std::move(*index);
  auto intents = IntentJournalFile::open(&loop_, paths_.state_dir);
  if (!intents) {
    spdlog::critical("cannot open the intent log: {}", intents.error().message);
    return false;
  }
  intents_ = std::move(*intents);
  for (const std::string& problem : intents_->problems()) spdlog::error("intent log: {}", problem);
  StateStoreOptions so;
  so.dir = paths_.state_dir;
  so.on_problem = [](const Error& e) { spdlog::error("lifecycle store: {}", e.message); };
  auto state = StateStore::open(&loop_, std::move(so));
  if (!state) {
    spdlog::critical("cannot open the lifecycle store: {}", state.error().message);
    return false;
  }
  state_ = std::move(*state);
  spdlog::info("lifecycle: {}", state_->load_report().summary(state_->table().size()));
  return true;
}

std::vector<RuleLayerPaths> Daemon::rule_layers() const {
  return aw::rule_layers(paths_, options_.config);
}

bool Daemon::load_initial_rules() {
  RuleLoad load = load_rules_from_paths(rule_layers());
  if (!load.ok()) {
    // Refuse to start rather than run without rules: files landing meanwhile
    // would be recorded as handled by nothing. `agentwatch rules check` says the same.
    spdlog::critical("rules rejected, not starting:\n{}", load.error_text());
    return false;
  }
  apply_rules(std::move(load), "start");
  return true;
}

void Daemon::apply_rules(RuleLoad load, const std::string& why) {
  Event e;
  e.source = "rules";
  e.fields.set("reason", why);
  if (!load.ok()) {
    e.kind = kind::kRulesRejected;
    const auto& errors = load.errors();
    e.fields.set("errors", static_cast<std::int64_t>(errors.size()));
    if (!errors.empty()) {
      e.path = errors.front().file;
      e.fields.set("error", errors.front().to_string());
    }
    e.fields.set("detail", load.error_text());
    e.fields.set("kept_hash", pipeline_->rules()->hash());
    spdlog::error("rules rejected ({}), keeping the running set:\n{}", why, load.error_text());
    rules_error_ = errors.empty() ? load.error_text() : errors.front().to_string();
    pipeline_->submit(std::move(e));
    return;
  }
  auto rules = std::make_shared<const RuleSet>(std::move(load).rules());
  e.kind = kind::kRulesLoaded;
  e.fields.set("rules", static_cast<std::int64_t>(rules->size()));
  e.fields.set("files", static_cast<std::int64_t>(rules->files().size()));
  e.fields.set("hash", rules->hash());
  rules_summary_ = std::to_string(rules->size()) + " rules, hash " + rules->hash();
  spdlog::info("rules loaded ({}): {}", why, rules_summary_);
  rules_error_.clear();
  pipeline_->set_rules(std::move(rules));
  pipeline_->submit(std::move(e));
  if (scheduler_) scheduler_->set_jobs(scheduled_jobs());
}

std::vector<ScheduledJob> Daemon::scheduled_jobs() const {
  std::vector<ScheduledJob> jobs;
  for (const Rule& r : pipeline_->rules()->rules())
    if (r.enabled && r.schedule)
      jobs.push_back({r.name, r.schedule->every, r.schedule->jitter, r.schedule->persistent});
  return jobs;
}

// Before the rules are loaded, so the first set_jobs() (in apply_rules) decides
// the catch-ups from the persisted last runs.
void Daemon::start_scheduler() {
  scheduler_ = std::make_unique<TimerScheduler>(
      &loop_, clock_, paths_.timer_state_file(),
      [this](const std::string& name, FireReason reason) {
        pipeline_->submit(timer_fired_event(name, reason, clock_.wall()));
      },
      static_cast<std::uint64_t>(getpid()));
  scheduler_->on_persist_error([](const Error& e) { spdlog::error("timer state: {}", e.message); });
  if (Status s = scheduler_->load(); !s) spdlog::warn("timer state: {}", s.error().message);
}

void Daemon::schedule_reload(const char* why) {
  if (stopping_) return;
  spdlog::debug("rule files changed ({}), reloading after {}", why,
                format_duration(options_.config.reload_debounce));
  reload_timer_->start(static_cast<std::uint64_t>(to_ms(options_.config.reload_debounce)));
}

void Daemon::reload(const std::string& why) {
  if (stopping_) return;
  if (reload_in_progress_) {
    reload_again_ = true;  // a save during the load: load once more afterwards
    return;
  }
  reload_in_progress_ = true;
  // Reading and validating the files is done off the loop; the swap is on it.
  auto result = std::make_shared<std::optional<RuleLoad>>();
  auto layers = rule_layers();
  int rc = uvx::queue_work(
      &loop_, work_owner_, [result, layers] { result->emplace(load_rules_from_paths(layers)); },
      [this, result, why] {
        reload_in_progress_ = false;
        if (finished_) return;
        apply_rules(std::move(**result), why);
        write_status("running");
        if (reload_again_) {
          reload_again_ = false;
          reload("changed during reload");
        }
      });
  if (rc != 0) {
    reload_in_progress_ = false;
    apply_rules(load_rules_from_paths(layers), why);
  }
}

std::vector<WatchConfig> Daemon::effective_watches() {
  std::vector<WatchConfig> ws = aw::effective_watches(paths_, options_.config);
  // No [[watch]] configured: the default workspace is made here, so `./dev
  // run` is useful at once.
  if (options_.config.watches.empty())
    for (const WatchConfig& w : ws)
      if (auto s = make_dirs(w.path, 0700); !s) spdlog::error("{}", s.error().message);
  return ws;
}

void Daemon::on_data_event(Event e) {
  if (e.kind == kind::kWatchDegraded) {
    degraded_reason_ = e.fields.get_string("reason").value_or("degraded");
    spdlog::warn("watching degraded: {} ({})", degraded_reason_, e.path);
    pipeline_->submit(std::move(e));
    write_status("running");
    return;
  }
  pipeline_->submit(std::move(e));
}

bool Daemon::start_watchers() {
  data_watcher_ = std::make_unique<DirWatcher>(&loop_, clock_, index_.get(),
                                               [this](Event e) { on_data_event(std::move(e)); });
  watches_ = effective_watches();
  std::vector<DiskWatch> disks;
  for (const auto& w : watches_) disks.push_back({w.name, w.path, w.min_free, w.min_free_text});
  disk_monitor_ = std::make_unique<DiskMonitor>(
      &loop_, std::move(disks), [this](Event e) { pipeline_->submit(std::move(e)); });
  actions_->set_disk_monitor(disk_monitor_.get());
  for (const auto& w : watches_) {
    if (auto s = data_watcher_->add_root({w.name, w.path, w.recursive, w.ignore}); !s) {
      spdlog::critical("cannot watch {}: {}", w.path, s.error().message);
      return false;
    }
  }
  start_rule_watcher();
  return true;
}

void Daemon::start_rule_watcher() {
  // The rule files are watched like any directory, but their events feed the
  // reload transaction, not the pipeline (a save is not a fleet event).
  rule_watcher_ = std::make_unique<DirWatcher>(&loop_, clock_, nullptr, [this](const Event& e) {
    // Deleting rules.d deletes its files first, so file.removed covers that;
    // watch.root_missing alone (rules.d not created yet) changes nothing.
    if (e.kind.rfind(kind::kFilePrefix, 0) == 0 || e.kind == kind::kWatchRootRestored) {
      if (e.fields.get_string("via").value_or("") == "scan") return;  // the start scan
      schedule_reload(e.kind.c_str());
    }
  });
  int n = 0;
  for (const auto& layer : rule_layers()) {
    for (const auto& dir : layer.paths) {
      WatchRoot root{"rules" + std::to_string(n++), dir, false, {".*", "*~", "*.swp"}};
      if (auto s = rule_watcher_->add_root(root); !s)
        spdlog::warn("rule files in {} are not watched: {}", dir, s.error().message);
    }
  }
}

void Daemon::start_supervisor() {
  if (options_.config.workers.empty()) return;
  supervision_bridge_ = std::make_unique<SupervisionBridge>(
      state_->table(), clock_, [this](Event e) { pipeline_->submit(std::move(e)); });
  SupervisorOptions so;
  so.output_dir = paths_.state_dir + "/workers";
  if (auto s = make_dirs(so.output_dir, 0700); !s) {
    // Without it no worker can start (its output has nowhere to go): say so
    // once here; each spawn then fails with worker.spawn_failed.
    spdlog::error("worker output dir: {}", s.error().message);
  }
  supervisor_ = std::make_unique<Supervisor>(
      &loop_, clock_, options_.config.workers, *supervision_bridge_, *supervision_bridge_,
      [this](Event e) { pipeline_->submit(std::move(e)); }, so);
  // Dependencies completed in an earlier life count: tell the supervisor first.
  for (const EntityRecord* rec : state_->table().list())
    if (rec->state == LifecycleState::kCompleted) supervisor_->on_entity_completed(rec->id);
  supervisor_->recover();  // re-adopt workers still running from before a crash
  supervisor_->start_all();
}

// One offsets file for every followed file (logs and git reflogs), opened only
// when something is followed.
bool Daemon::open_log_offsets() {
  if (log_offsets_) return true;
  auto offsets = FileOffsetStore::open(&loop_, clock_, paths_.state_dir + "/log-offsets");
  if (!offsets) {
    spdlog::critical("cannot open the log offsets: {}", offsets.error().message);
    return false;
  }
  log_offsets_ = std::move(*offsets);
  return true;
}

bool Daemon::start_log_tailer() {
  if (options_.config.logs.empty()) return true;
  if (!open_log_offsets()) return false;
  LogTailer::Options o;
  o.offsets = log_offsets_.get();
  log_tailer_ = std::make_unique<LogTailer>(
      &loop_, clock_, [this](Event e) { pipeline_->submit(std::move(e)); }, o);
  for (const LogConfig& l : options_.config.logs) {
    LogSpec spec;
    spec.name = l.name;
    spec.path = l.path;
    spec.entity = l.entity;
    spec.stall_after = l.stall_after;
    spec.from_start = l.from_start;
    spec.max_line_bytes = static_cast<std::size_t>(l.max_line_bytes);
    for (const auto& [id, regex] : l.patterns) spec.patterns.push_back({id, regex});
    if (Status s = log_tailer_->add_file(std::move(spec)); !s) {
      spdlog::critical("{}: [[log]] {}: {}", paths_.config_file, l.name, s.error().message);
      return false;
    }
  }
  log_tailer_->start();
  return true;
}

bool Daemon::start_git_watch() {
  if (options_.config.git.empty()) return true;
  if (!open_log_offsets()) return false;
  GitReflogWatch::Options o;
  o.offsets = log_offsets_.get();
  git_watch_ = std::make_unique<GitReflogWatch>(
      &loop_, clock_, [this](Event e) { pipeline_->submit(std::move(e)); }, o);
  for (const GitConfig& g : options_.config.git) {
    if (Status s = git_watch_->add_repo({g.name, g.repo, g.entity}); !s) {
      spdlog::critical("{}: [[git]] {}: {}", paths_.config_file, g.name, s.error().message);
      return false;
    }
  }
  git_watch_->start();
  return true;
}

// tmux is asked, never polled: once at start (which sessions and panes exist),
// then once per hook notification (hint_tmux()). The answer feeds the
// supervisor's zombie and phantom judgement and its adoption of pane processes;
// "could not ask" is unknown.
void Daemon::start_tmux() {
  tmux_watch_ = std::make_unique<TmuxWatch>(
      &loop_, clock_, *tmux_client_, [this](Event e) { pipeline_->submit(std::move(e)); },
      [this](const TmuxSnapshot& snapshot, bool known) {
        if (!supervisor_) return;
        std::map<std::string, pid_t> pane_pids;  // each session's first live pane
        for (const PaneInfo& p : snapshot.panes)
          if (!p.dead && p.pane_pid > 0) pane_pids.emplace(p.session, p.pane_pid);
        supervisor_->on_tmux_snapshot(snapshot.sessions(), known, pane_pids);
      });
  tmux_watch_->reconcile("start");
}

bool Daemon::start_control() {
  control_server_ = std::make_unique<ControlServer>(&loop_, clock_, ControlServer::Options{});
  ControlContext c;
  c.clock = &clock_;
  c.pipeline = pipeline_.get();
  c.state = state_.get();
  c.supervisor = [this] { return supervisor_.get(); };
  c.worker_spec = [this](const std::string& name) -> const WorkerSpec* {
    for (const WorkerSpec& w : options_.config.workers)
      if (w.name == name) return &w;
    return nullptr;
  };
  c.scheduler = [this] { return scheduler_.get(); };
  c.stuck = options_.config.stuck;
  c.diagnosis_input = [this] { return diagnosis_input(); };
  c.status_json = [this] { return status_json("running"); };
  c.agents_json = [this] { return agents_ ? agents_->agents_json() : std::string("[]"); };
  register_control_handlers(*control_server_, std::move(c));
  if (Status s = control_server_->start(paths_.control_socket()); !s) {
    spdlog::critical("cannot listen on the control socket: {}", s.error().message);
    return false;
  }
  return true;
}

void Daemon::start_statsd() {
  if (options_.config.statsd.address.empty()) return;
  statsd_ = std::make_unique<StatsdPush>(&loop_, options_.config.statsd, metrics_->registry());
  if (Status s = statsd_->start(); !s) {
    spdlog::error("statsd: {} (nothing is pushed)", s.error().message);
    statsd_.reset();
  }
}

void Daemon::start_alerts() {
  DaemonAlertsPorts ports;
  ports.submit = [this](Event e) { pipeline_->submit(std::move(e)); };
  ports.stuck_entities = [this] {
    return state_ ? state_->table().stuck(clock_.wall(), options_.config.stuck).size() : 0;
  };
  ports.disk_scan = [this] {
    // Roots nested in another are measured with it, once.
    std::vector<std::string> roots{paths_.state_dir};
    std::vector<DoctorRoot> results;
    for (const WatchConfig& w : watches_) {
      roots.push_back(w.path);
      if (w.name == "results") results.push_back(DoctorRoot{w.name, w.path});
    }
    return [outer = outermost_roots(std::move(roots)), results = std::move(results),
            age_out = session_age_out(pipeline_->rules().get()), now = clock_.wall()] {
      DiskGauges g;
      g.stale_sessions = static_cast<double>(count_stale_sessions(results, age_out, now));
      std::uint64_t bytes = 0;
      for (const std::string& root : outer) {
        auto used = disk_usage(root);
        if (used)
          bytes += used->bytes;
        else
          spdlog::warn("alerts: {}", used.error().message);
      }
      g.disk_used_bytes = static_cast<double>(bytes);
      return g;
    };
  };
  alerts_ =
      std::make_unique<DaemonAlerts>(&loop_, clock_, options_.config.alerts,
                                     paths_.state_dir + "/alerts", *metrics_, std::move(ports));
  alerts_->start();
}

void Daemon::start_http() {
  if (options_.config.http.listen.empty()) return;
  HttpApiContext c;
  c.status_json = [this] { return status_json("running"); };
  c.entities_json = [this] { return entities_json(); };
  c.metrics = metrics_.get();
  c.event_log_dir = paths_.event_log_dir();
  c.event_log_index = &log_->seq_index();
  http_ = std::make_unique<HttpApi>(&loop_, clock_, options_.config.http, std::move(c));
  if (Status s = http_->start(); !s) {
    http_error_ = s.error().message;
    spdlog::error("http: {} (no /metrics, no dashboard; the daemon watches on)", http_error_);
    http_.reset();
    return;
  }
  spdlog::info("http: dashboard and /metrics on http://{}/", http_->address());
}

std::string Daemon::entities_json() const {
  std::string out = "[";
  if (state_) {
    for (const EntityRecord* r : state_->table().list()) {
      if (out.size() > 1) out += ',';
      out += entity_json(*r);  // as `health` and `recover` show an entity
    }
  }
  out += ']';
  return out;
}

bool Daemon::watch_runtime_dir() {
  runtime_watch_ = std::make_unique<RuntimeDirWatch>(&loop_, [this] { restore_runtime_dir(); });
  // Not fatal: without the watch, a removed runtime dir stays gone until a restart.
  if (Status s = runtime_watch_->watch(paths_.runtime_dir); !s)
    spdlog::error("{} (a removed runtime dir is not made again)", s.error().message);
  return true;
}

void Daemon::restore_runtime_dir() {
  if (stopping_ || finished_) return;
  spdlog::warn("the runtime dir {} was removed: making it again", paths_.runtime_dir);
  if (Status s = prepare_runtime_dir(paths_.runtime_dir); !s) {
    spdlog::error("cannot make the runtime dir again: {}", s.error().message);
    return;
  }
  // The lock we hold is on a file that no longer has a name: another daemon
  // could start beside us. Take the new file's lock, or leave to the one that has it.
  if (lock_ && lock_->is_at(paths_.lock_file())) return;  // still ours: nothing was lost
  auto lock = InstanceLock::acquire(paths_.lock_file());
  if (!lock) {
    spdlog::critical("runtime dir removed and another daemon took its lock: {}",
                     lock.error().message);
    begin_shutdown("runtime dir lost");
    return;
  }
  lock_.reset();
  lock_.emplace(std::move(*lock));
  notify_spool_watch_.reset();
  notify_server_.reset();
  control_server_.reset();
  if (!start_notify()) spdlog::error("notify socket not restored");
  if (!start_control()) spdlog::error("control socket not restored");
  if (Status s = runtime_watch_->watch(paths_.runtime_dir); !s)
    spdlog::error("{}", s.error().message);
  write_status("running");
  Event e;
  e.kind = kind::kDaemonRuntimeRestored;
  e.source = "daemon";
  e.fields.set("dir", paths_.runtime_dir);
  pipeline_->submit(std::move(e));
}

DiagnosisInput Daemon::diagnosis_input() const {
  DiagnosisInput in;
  in.degraded_reason = degraded_reason_;
  if (tmux_watch_) {
    // A problem only where tmux matters: a server once seen, or a worker that
    // names a session (whose zombie and phantom checks now wait).
    const TmuxServerView t = tmux_watch_->server_view();
    const bool used = t.server_pid != 0 ||
                      std::any_of(options_.config.workers.begin(), options_.config.workers.end(),
                                  [](const WorkerSpec& w) { return !w.tmux_session.empty(); });
    if (t.failures > 0 && used) in.tmux_error = t.error;
  }
  in.rules_error = rules_error_;
  if (state_->load_report().needs_compaction())
    in.store_report = state_->load_report().summary(state_->table().size());
  return in;
}

// Subscriber: a tmux hook is a hint (hooks misfire): it makes us look,
// list-panes says what is.
void Daemon::hint_tmux(const Event& e) {
  if (tmux_watch_ && e.source == "notify" && e.kind.rfind(kind::kTmuxPrefix, 0) == 0)
    tmux_watch_->reconcile(e.kind);
}

// Subscriber: what the supervisor learns from events (completions, launchers'
// worker.pid messages, landed PID files).
void Daemon::feed_supervisor(const Event& e) {
  if (!supervisor_) return;
  if (e.kind == kind::kStateChanged && e.fields.get_string("to") == "completed") {
    supervisor_->on_entity_completed(e.entity);
    return;
  }
  if (e.kind == kind::kStateChanged && e.fields.get_string("from") == "completed") {
    supervisor_->on_entity_reopened(e.entity);
    return;
  }
  // `agentwatch notify worker.pid worker=NAME pid=N`: a launcher tells us which
  // process a worker runs as (the notify-message way to adopt, beside PID files).
  if (e.source == "notify" && e.kind == kind::kWorkerPid) {
    const std::string name = e.fields.get_string("worker").value_or(e.entity);
    const auto pid = e.fields.get_int("pid");
    Status s = pid && *pid > 0 ? supervisor_->adopt(name, static_cast<pid_t>(*pid), "notify")
                               : Status(make_error("worker.pid needs pid=N (a positive integer)"));
    if (!s) {
      // In the log, not only on stderr: the launcher's message was not acted on.
      Event refused;
      refused.kind = kind::kWorkerAdoptRefused;
      refused.source = "daemon";
      refused.entity = name;
      refused.cause = e.seq;
      refused.fields.set("via", "notify");
      if (pid) refused.fields.set("pid", *pid);
      refused.fields.set("error", s.error().message);
      pipeline_->submit(std::move(refused));
    }
    return;
  }
  if (e.source != "supervisor") supervisor_->on_event(e);
}

void Daemon::remove_dead_daemons_sockets() const {
  // We hold the instance lock, and a record lock dies with its process: no
  // other daemon runs here. A socket file that still answers is then a dead
  // daemon's, kept open a moment by a child it had cloned and not yet exec'd
  // (O_CLOEXEC closes it only at the exec). The listeners would take it for a
  // live daemon's and refuse to start.
  for (const std::string& path :
       {notify_socket_path(paths_.runtime_dir), paths_.control_socket()}) {
    struct stat st {};
    if (::lstat(path.c_str(), &st) == 0 && S_ISSOCK(st.st_mode) && ::unlink(path.c_str()) == 0)
      spdlog::debug("removed {}, left by a daemon before us", path);
  }
}

std::uint64_t Daemon::log_missing_causes(std::uint64_t next_seq) {
  // The intent log is written before the event log (IntentJournal::flush_opens):
  // a daemon killed in between left intents whose causes the event log never
  // got. They are logged now, as they were numbered, before anything else: the
  // log stays in seq order and plan.resumed names an event that is in it.
  std::vector<const Event*> missing;
  for (const OpenIntent& intent : intents_->left_open())
    if (intent.cause.seq >= next_seq) missing.push_back(&intent.cause);
  std::sort(missing.begin(), missing.end(),
            [](const Event* a, const Event* b) { return a->seq < b->seq; });
  for (const Event* cause : missing) {
    if (cause->seq < next_seq) continue;  // two intents of one cause
    spdlog::warn("the event log lacks #{} ({}), the cause of an open intent: logging it now",
                 cause->seq, cause->kind);
    if (Status s = log_->append(*cause); !s) spdlog::error("event log: {}", s.error().message);
    next_seq = cause->seq + 1;
  }
  return next_seq;
}

// What notify clients may send: the default prefixes, less the daemon's own
// kinds under them (a client must not forge an agent's status).
NotifyKindPolicy notify_kind_policy() {
  NotifyKindPolicy policy;
  policy.validate = [](const NotifyMessage& m) -> Status {
    if (m.kind == kind::kAgentStatus)
      return make_error("'" + m.kind + "' is the daemon's own kind (agent hooks send agent.hook)");
    return Status::Ok();
  };
  return policy;
}

void Daemon::deliver_notification(Event e) {
  std::optional<std::uint64_t> id;
  if (auto text = e.fields.get_string("notify_id")) id = parse_notify_id(*text);
  if (id && notify_ids_.contains(*id)) {
    // The other copy of a message its client also spooled (no reply in time),
    // or one a killed daemon logged before it could record it as delivered.
    spdlog::debug("notify: {} {} delivered already", e.kind, format_notify_id(*id));
    return;
  }
  pipeline_->submit(std::move(e));
  // In the file before the server's {"ok":true}, the spool's .delivered record
  // and the id's record: each says the message is delivered, which a SIGKILL
  // must not undo. An id recorded first and then killed would drop the
  // message's other copy while its line was never written.
  (void)log_->commit();
  if (id) notify_ids_.record(*id);
  crash_point("notify-logged");
}

bool Daemon::start_notify() {
  // Hooks (tmux runs them synchronously) reach us here; what they spooled (we
  // were down, or at our connection limit) is taken in by the spool watch,
  // from when we listen on, so nothing spooled meanwhile is stranded there.
  notify_server_ = std::make_unique<NotifyServer>(
      &loop_, clock_, [this](Event e) { deliver_notification(std::move(e)); });
  notify_server_->set_kind_policy(notify_kind_policy());
  if (Status s = notify_server_->start(paths_.runtime_dir); !s) {
    spdlog::critical("cannot listen on the notify socket: {}", s.error().message);
    return false;
  }
  // Off the loop: the spool's reads run on the thread pool, its events come
  // back to the loop in chunks (notify_spool_watch.h).
  notify_spool_watch_ = std::make_unique<NotifySpoolWatch>(
      &loop_, clock_, [this](Event e) { deliver_notification(std::move(e)); },
      [](const Result<NotifySpoolStats>& spool) {
        if (!spool)
          spdlog::error("notify spool: {}", spool.error().message);
        else if (spool->delivered || spool->refused)
          spdlog::info("notify spool: {} delivered, {} refused, {} duplicates", spool->delivered,
                       spool->refused, spool->duplicates);
      });
  notify_spool_watch_->set_kind_policy(notify_kind_policy());
  // Not fatal: what is spooled later then waits for the next start, as before.
  if (Status s = notify_spool_watch_->start(paths_.runtime_dir); !s)
    spdlog::error("notify spool: {}", s.error().message);
  return true;
}

DaemonMetricsSources Daemon::metrics_sources() {
  DaemonMetricsSources s;
  s.entities = [this] {
    return state_ ? state_->table().list() : std::vector<const EntityRecord*>{};
  };
  s.workers = [this] { return supervisor_ ? supervisor_->list() : std::vector<WorkerStatus>{}; };
  s.watches = [this] { return data_watcher_ ? data_watcher_->stats().watches : std::size_t{0}; };
  s.in_flight = [this] { return pipeline_ ? pipeline_->in_flight() : std::size_t{0}; };
  s.event_log = [this] { return log_ ? log_->stats() : EventLogWriterStats{}; };
  return s;
}

std::string Daemon::status_json(const char* state) const {
  std::string out;
  JsonObjectWriter w(out);
  w.str("state", state)
      .num("pid", getpid())
      .str("version", version())
      .str("started", format_time_utc(started_at_))
      .str("updated", format_time_utc(clock_.wall()))
      .str("config", paths_.config_file)
      .str("state_dir", paths_.state_dir)
      .str("rules", rules_summary_)
      .boolean("degraded", !degraded_reason_.empty());
  if (!degraded_reason_.empty()) w.str("degraded_reason", degraded_reason_);
  std::string roots = "[";
  for (std::size_t i = 0; i < watches_.size(); ++i) {
    std::string r;
    JsonObjectWriter(r).str("name", watches_[i].name).str("path", watches_[i].path).close();
    roots += (i ? "," : "") + r;
  }
  roots += "]";
  w.raw("watches", roots);
  if (tmux_watch_) {
    // Unknown is not absent: say which, so an operator sees a hidden socket.
    const TmuxServerView t = tmux_watch_->server_view();
    std::string tmux;
    JsonObjectWriter tw(tmux);
    tw.str("sessions", t.known ? "known" : "unknown").num("server_pid", t.server_pid);
    if (t.server_exited) tw.boolean("server_exited", true);
    if (!t.error.empty()) tw.str("error", t.error).num("failures", t.failures);
    tw.close();
    w.raw("tmux", tmux);
  }
  if (pipeline_) {
    w.unum("events", pipeline_->stats().events)
        .unum("actions_ok", pipeline_->stats().actions_ok)
        .unum("actions_failed", pipeline_->stats().actions_failed)
        .unum("in_flight", pipeline_->in_flight());
  }
  if (metrics_) append_fleet_status(w, *metrics_);
  if (alerts_) w.raw("alerts", alerts_->active_json());
  if (agents_) w.raw("agents", agents_->agents_json());
  if (http_)
    w.str("http", http_->address());
  else if (!http_error_.empty())
    w.str("http_error", http_error_);
  w.close();
  return out;
}

void Daemon::write_status(const char* state) {
  std::string out = status_json(state);
  out.push_back('\n');
  // Small, on tmpfs (the runtime dir): a synchronous tmp + rename is microseconds.
  const std::string path = paths_.status_file();
  const std::string tmp = path + ".tmp";
  UniqueFd fd(open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, 0600));
  if (!fd) return;
  const bool ok = write_all(fd.get(), out).ok();
  fd.reset();
  if (ok) rename(tmp.c_str(), path.c_str());
}

void Daemon::notify(const std::string& state) {
  // systemd may be gone (stopping, or a test's socket closed): not our failure.
  if (Status s = notifier_.send(state); !s) spdlog::debug("sd_notify: {}", s.error().message);
}

void Daemon::begin_shutdown(const char* signal_name) {
  if (stopping_) {
    spdlog::warn("{} again: interrupting in-flight actions now", signal_name);
    executor_->interrupt_all(std::chrono::milliseconds(0));
    if (actions_) actions_->interrupt_all();
    return;
  }
  stopping_ = true;
  spdlog::info("{}: stopping ({} in flight)", signal_name, pipeline_->in_flight());
  notify("STOPPING=1");
  Event e;
  e.kind = kind::kDaemonStopping;
  e.source = "daemon";
  e.fields.set("signal", signal_name);
  e.fields.set("in_flight", static_cast<std::int64_t>(pipeline_->in_flight()));
  pipeline_->submit(std::move(e));
  data_watcher_->stop();
  rule_watcher_->stop();
  if (notify_server_) notify_server_->stop();
  if (notify_spool_watch_) notify_spool_watch_->stop();  // the rest waits for the next start
  if (control_server_) control_server_->stop();
  if (git_watch_) git_watch_->stop();
  if (supervisor_) {
    if (options_.stop_workers) {
      // Their ends are logged (worker.stopped) before the daemon's.
      supervisor_->set_on_all_stopped([this] { maybe_finish_shutdown(); });
      supervisor_->stop_all();
    } else {
      supervisor_->release_all();  // the fleet outlives the watcher
    }
  }
  if (log_tailer_) log_tailer_->stop();  // TERM, grace, KILL: see kill_grace
  reload_timer_->stop();
  pipeline_->drain();
  pipeline_->set_on_idle([this] { maybe_finish_shutdown(); });
  maybe_finish_shutdown();
  // In-flight actions get the grace period, then are interrupted (their
  // outcomes are logged as `interrupted`, and the pipeline goes idle).
  if (!finished_)
    shutdown_timer_->start(static_cast<std::uint64_t>(to_ms(options_.config.shutdown_grace)));
}

void Daemon::maybe_finish_shutdown() {
  if (pipeline_->in_flight() > 0) return;  // the pipeline's on_idle calls again
  // Workers being stopped (--stop-workers) end within their kill_grace.
  if (supervisor_ && supervisor_->running() > 0) return;
  finish_shutdown();
}

void Daemon::finish_shutdown() {
  if (finished_) return;
  finished_ = true;
  Event e;
  e.kind = kind::kDaemonStopped;
  e.source = "daemon";
  e.fields.set("events", static_cast<std::int64_t>(pipeline_->stats().events + 1));
  pipeline_->submit(std::move(e));
  write_status("stopped");
  closer_->start(0);
}

void Daemon::release_handles() {
  // Closing every handle lets uv_run return; queued pool work (gzip of a
  // rotated log segment, index compaction) still completes first.
  pipeline_->set_on_idle(nullptr);
  signals_.clear();
  reload_timer_.reset();
  watchdog_timer_.reset();
  shutdown_timer_.reset();
  data_watcher_.reset();
  rule_watcher_.reset();
  notify_server_.reset();
  notify_spool_watch_.reset();
  control_server_.reset();
  if (http_) http_->stop();
  http_.reset();
  if (statsd_) statsd_->flush();  // daemon.stopped and the last executions
  statsd_.reset();
  if (alerts_) alerts_->stop();  // saves the alerts' state
  alerts_.reset();
  agents_.reset();
  if (metrics_) metrics_->stop();
  runtime_watch_.reset();
  scheduler_.reset();
  tmux_watch_.reset();
  git_watch_.reset();
  log_tailer_.reset();
  log_offsets_.reset();  // saves the last offsets (on the pool; uv_run lets it finish)
  if (actions_) actions_->set_supervisor(nullptr);
  supervisor_.reset();  // what did not stop within the grace gets SIGKILL here
  supervision_bridge_.reset();
  actions_.reset();
  tmux_client_.reset();
}

int Daemon::run() {
  started_at_ = clock_.wall();
  // Rules and the programs they run find files beside the config (hook
  // sources, briefs) as {env.AGENTWATCH_CONFIG_DIR}. Set before any thread starts.
  ::setenv("AGENTWATCH_CONFIG_DIR", paths_.config_dir.c_str(), 1);
  if (Status s = arm_crash_point_from_env(); !s) {  // the crash harness's, never set otherwise
    spdlog::critical("{}", s.error().message);
    return 2;
  }
  if (auto s = prepare_runtime_dir(paths_.runtime_dir); !s) {
    spdlog::critical("{}", s.error().message);
    return 1;
  }
  auto lock = InstanceLock::acquire(paths_.lock_file());
  if (!lock) {
    spdlog::critical("{}", lock.error().message);
    return 1;
  }
  lock_.emplace(std::move(*lock));
  remove_dead_daemons_sockets();
  if (uv_loop_init(&loop_) != 0) return 1;
  // A child's closed pipe must be an EPIPE error, not a fatal signal.
  signal(SIGPIPE, SIG_IGN);

  int exit_code = 0;
  if (!open_stores()) {
    exit_code = 1;
  } else {
    executor_ = std::make_unique<ActionExecutor>(
        &loop_, clock_,
        static_cast<std::uint64_t>(getpid()) ^
            static_cast<std::uint64_t>(clock_.wall().time_since_epoch().count()));
    pipeline_ports_ = std::make_unique<LoopPipelinePorts>(
        &loop_, clock_, *log_, *executor_, index_.get(), &state_->table(), intents_.get());
    pipeline_ = std::make_unique<Pipeline>(
        pipeline_ports_->ports(),
        PipelineOptions{ChainPolicy{options_.config.max_emit_depth, options_.config.derived_rate,
                                    options_.config.derived_burst},
                        options_.config.max_json_bytes});
    pipeline_->set_next_seq(log_missing_causes(last_logged_seq(paths_.event_log_dir()) + 1));
    metrics_ = std::make_unique<DaemonMetrics>(&loop_, clock_, metrics_sources());
    // First: what /metrics and the event stream show is what was logged.
    pipeline_->add_subscriber([this](const Event& e) {
      std::string line = to_json_line(e);
      line.pop_back();  // its newline
      if (http_) http_->publish(e.seq, line);
      if (statsd_) statsd_->observe(e);
      if (alerts_) alerts_->observe(e);
      metrics_->observe(e, std::move(line));
    });
    agents_ = std::make_unique<AgentMonitor>(&loop_, clock_,
                                             [this](Event e) { pipeline_->submit(std::move(e)); });
    pipeline_->add_subscriber([this](const Event& e) {
      if (agents_) agents_->observe(e);
    });
    pipeline_->add_subscriber([this](const Event& e) { hint_tmux(e); });
    pipeline_->add_subscriber([this](const Event& e) { feed_supervisor(e); });
    pipeline_->add_subscriber([this](const Event& e) {
      if (disk_monitor_) disk_monitor_->on_event(e);
    });
    reload_timer_ = std::make_unique<uvx::Timer>(&loop_, [this] { reload("rule files changed"); });
    shutdown_timer_ = std::make_unique<uvx::Timer>(&loop_, [this] {
      spdlog::warn("shutdown grace over: interrupting {} in-flight", pipeline_->in_flight());
      executor_->interrupt_all(std::chrono::seconds(2));
      if (actions_) actions_->interrupt_all();
    });
    closer_ = std::make_unique<uvx::Timer>(&loop_, [this] { release_handles(); });
    tmux_client_ =
        std::make_unique<TmuxClient>(&loop_, clock_, TmuxServer{options_.config.tmux_command});
    actions_ = std::make_unique<DaemonActions>(&loop_, clock_, *pipeline_, *tmux_client_);
    actions_->install();
    start_scheduler();
    if (!load_initial_rules() || !start_watchers() || !start_notify() || !start_control() ||
        !start_log_tailer() || !start_git_watch() || !watch_runtime_dir()) {
      exit_code = 1;
      finished_ = true;
      release_handles();
    } else {
      signals_.push_back(
          std::make_unique<uvx::Signal>(&loop_, SIGTERM, [this] { begin_shutdown("SIGTERM"); }));
      signals_.push_back(
          std::make_unique<uvx::Signal>(&loop_, SIGINT, [this] { begin_shutdown("SIGINT"); }));
      signals_.push_back(std::make_unique<uvx::Signal>(&loop_, SIGHUP, [this] {
        spdlog::info("SIGHUP: reloading rules");
        reload("SIGHUP");
      }));

      // Watches are added here, synchronously; the scans that land what arrived
      // while we were down run in slices on the next loop turns. daemon.started
      // is logged after this, so it means "watching now".
      data_watcher_->start();
      rule_watcher_->start();
      start_http();
      start_statsd();
      start_alerts();
      Event started;
      started.kind = kind::kDaemonStarted;
      started.source = "daemon";
      started.fields.set("pid", static_cast<std::int64_t>(getpid()));
      started.fields.set("version", version());
      started.fields.set("rules", static_cast<std::int64_t>(pipeline_->rules()->size()));
      started.fields.set("rules_hash", pipeline_->rules()->hash());
      started.fields.set("watches", static_cast<std::int64_t>(watches_.size()));
      started.fields.set("config", options_.config.file_found ? paths_.config_file : "defaults");
      if (!http_error_.empty())
        started.fields.set("http_error", http_error_);
      else if (http_)
        started.fields.set("http", http_->address());
      pipeline_->submit(std::move(started));
      start_supervisor();
      if (actions_) actions_->set_supervisor(supervisor_.get());
      start_tmux();
      // What a daemon before us began and did not finish, before the start
      // scans could land those files again (they run on later loop turns).
      pipeline_->resume(intents_->take_open());
      write_status("running");
      for (const auto& w : watches_) spdlog::info("watching {} ({})", w.path, w.name);

      notify("READY=1\nSTATUS=watching " + std::to_string(watches_.size()) + " roots, " +
             rules_summary_);
      if (auto interval = notifier_.watchdog_interval_ms()) {
        // WATCHDOG=1 from the loop itself: if the loop is stuck, no ping, and
        // systemd restarts us. This is the only periodic wake-up, and only
        // when systemd asks for it.
        watchdog_timer_ = std::make_unique<uvx::Timer>(&loop_, [this] { notify("WATCHDOG=1"); });
        watchdog_timer_->start(*interval, *interval);
      }
    }
    uv_run(&loop_, UV_RUN_DEFAULT);
  }
  closer_.reset();
  pipeline_.reset();
  pipeline_ports_.reset();
  executor_.reset();
  state_.reset();  // writes what is pending; the uv_run below lets it finish
  index_.reset();
  intents_.reset();
  log_.reset();
  // Let every close callback and queued pool job finish.
  uv_run(&loop_, UV_RUN_DEFAULT);
  if (uv_loop_close(&loop_) != 0) spdlog::warn("event loop closed with handles still open");
  return exit_code;
}

}  // namespace

std::uint64_t last_logged_seq(const std::string& dir) {
  if (auto s = last_seq_in_plain_file(live_log_path(dir))) return *s;
  auto segments = list_log_segments(dir);
  if (!segments) return 0;
  for (auto it = segments->rbegin(); it != segments->rend(); ++it) {
    std::optional<std::uint64_t> s;
    if (it->has_plain)
      s = last_seq_in_plain_file(log_segment_path(dir, it->number, SegmentForm::kPlain));
    if (!s && it->has_gzip)
      s = last_seq_in_gzip_file(log_segment_path(dir, it->number, SegmentForm::kGzip));
    if (s) return *s;
  }
  return 0;
}

Status append_event_offline(const std::string& dir, Event e) {
  e.seq = last_logged_seq(dir) + 1;
  if (e.time == WallTime{}) e.time = SystemClock().wall();
  std::string line = to_json_line(e);
  if (line.empty() || line.back() != '\n') line.push_back('\n');
  const std::string path = live_log_path(dir);
  const UniqueFd fd(
      open(path.c_str(), O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600));
  if (!fd) return errno_error(path, errno);
  const ssize_t n = write(fd.get(), line.data(), line.size());  // one write(): see the header
  const int err = errno;
  if (n != static_cast<ssize_t>(line.size()))
    return make_error(path + ": short write: " + errno_text(err));
  return Status::Ok();
}

int run_daemon(const RunOptions& options) {
  setup_diagnostics(options.log_level);
  Daemon d(options);
  return d.run();
}

}  // namespace aw
