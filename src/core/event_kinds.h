// Every event kind the daemon emits, by name (docs/events.md; each group's doc
// lists its fields). Production code builds and compares kinds through these
// constants, never through string literals, so a misspelt kind does not compile
// and kAllKinds is the one list of what can appear in the event log.
//
// Kinds are dotted lowercase words (`[a-z0-9_-]+` separated by dots). Besides
// these, the log holds kinds the daemon does not invent: a rule's `emit` and a
// probe's patterns name their own kinds, and `agentwatch notify` clients send
// kinds under the allowed prefixes (watchers/notify/notify_protocol.h).
//
// event_kinds_test.cc checks that every kind here is well formed, listed once
// and documented.
#pragma once

#include <array>
#include <string_view>

namespace aw::kind {

// Directory watcher, files and directories (watchers/dir_watcher.cc; docs/watching.md).
inline constexpr std::string_view kFilePrefix = "file.";
inline constexpr std::string_view kFileLanded = "file.landed";
inline constexpr std::string_view kFileRemoved = "file.removed";
inline constexpr std::string_view kFileAttrib = "file.attrib";
inline constexpr std::string_view kDirCreated = "dir.created";
inline constexpr std::string_view kDirRemoved = "dir.removed";

// Directory watcher, the watch itself (watchers/dir_watcher.cc; docs/watching.md).
inline constexpr std::string_view kWatchOverflow = "watch.overflow";
inline constexpr std::string_view kWatchRescanned = "watch.rescanned";
inline constexpr std::string_view kWatchDegraded = "watch.degraded";
inline constexpr std::string_view kWatchRootMissing = "watch.root_missing";
inline constexpr std::string_view kWatchRootRestored = "watch.root_restored";
inline constexpr std::string_view kWatchSymlinkRefused = "watch.symlink_refused";

// Log tailer (watchers/logtail; docs/logs.md).
inline constexpr std::string_view kLogLine = "log.line";
inline constexpr std::string_view kLogStalled = "log.stalled";
inline constexpr std::string_view kLogResumed = "log.resumed";
inline constexpr std::string_view kLogRotated = "log.rotated";
inline constexpr std::string_view kLogError = "log.error";

// Git reflog watch: `git.<class>` of the reflog's action (watchers/git; docs/logs.md).
inline constexpr std::string_view kGitPrefix = "git.";
inline constexpr std::string_view kGitCommit = "git.commit";
inline constexpr std::string_view kGitMerge = "git.merge";
inline constexpr std::string_view kGitCheckout = "git.checkout";
inline constexpr std::string_view kGitReset = "git.reset";
inline constexpr std::string_view kGitRebase = "git.rebase";
inline constexpr std::string_view kGitCherryPick = "git.cherry-pick";
inline constexpr std::string_view kGitRevert = "git.revert";
inline constexpr std::string_view kGitPull = "git.pull";
inline constexpr std::string_view kGitClone = "git.clone";
inline constexpr std::string_view kGitAm = "git.am";
inline constexpr std::string_view kGitBranch = "git.branch";
inline constexpr std::string_view kGitOther = "git.other";
inline constexpr std::string_view kGitError = "git.error";

// Notify server and spool (watchers/notify; docs/notify.md).
inline constexpr std::string_view kNotifyRefused = "notify.refused";

// The prefixes `agentwatch notify` clients may send kinds under (notify_protocol.h).
inline constexpr std::string_view kTmuxPrefix = "tmux.";
inline constexpr std::string_view kWorkerPrefix = "worker.";
inline constexpr std::string_view kAgentPrefix = "agent.";
inline constexpr std::string_view kUserPrefix = "user.";

// tmux hooks agentwatch installs: `tmux.<hook>` via notify (src/tmux/tmux_hooks.cc; docs/tmux.md).
inline constexpr std::string_view kTmuxHookSessionCreated = "tmux.session-created";
inline constexpr std::string_view kTmuxHookSessionClosed = "tmux.session-closed";
inline constexpr std::string_view kTmuxHookPaneDied = "tmux.pane-died";
inline constexpr std::string_view kTmuxHookPaneExited = "tmux.pane-exited";
inline constexpr std::string_view kTmuxHookClientDetached = "tmux.client-detached";
inline constexpr std::string_view kTmuxHookAlertSilence = "tmux.alert-silence";
inline constexpr std::string_view kTmuxHookWindowLinked = "tmux.window-linked";
inline constexpr std::string_view kTmuxHookWindowUnlinked = "tmux.window-unlinked";

// tmux reconciliation: what list-panes says changed (src/tmux; docs/tmux.md).
inline constexpr std::string_view kTmuxSessionSeen = "tmux.session.seen";
inline constexpr std::string_view kTmuxSessionAppeared = "tmux.session.appeared";
inline constexpr std::string_view kTmuxSessionVanished = "tmux.session.vanished";
inline constexpr std::string_view kTmuxPaneAppeared = "tmux.pane.appeared";
inline constexpr std::string_view kTmuxPaneDied = "tmux.pane.died";
inline constexpr std::string_view kTmuxPaneVanished = "tmux.pane.vanished";
inline constexpr std::string_view kTmuxServerExited = "tmux.server.exited";
inline constexpr std::string_view kTmuxReconcileFailed = "tmux.reconcile.failed";
inline constexpr std::string_view kTmuxReconcileRecovered = "tmux.reconcile.recovered";

// Launchers tell the daemon a worker's pid through notify (src/daemon/daemon.cc; docs/workers.md).
inline constexpr std::string_view kWorkerPid = "worker.pid";

// Supervisor (src/supervise/supervisor_events.cc; docs/workers.md).
inline constexpr std::string_view kWorkerStarted = "worker.started";
inline constexpr std::string_view kWorkerExited = "worker.exited";
inline constexpr std::string_view kWorkerRestartScheduled = "worker.restart_scheduled";
inline constexpr std::string_view kWorkerCircuitOpen = "worker.circuit_open";
inline constexpr std::string_view kWorkerCircuitClosed = "worker.circuit_closed";
inline constexpr std::string_view kWorkerWaiting = "worker.waiting";
inline constexpr std::string_view kWorkerGaveUp = "worker.gave_up";
inline constexpr std::string_view kWorkerStopped = "worker.stopped";
inline constexpr std::string_view kWorkerKillEscalated = "worker.kill_escalated";
inline constexpr std::string_view kWorkerKilling = "worker.killing";
inline constexpr std::string_view kWorkerTimingOut = "worker.timing_out";
inline constexpr std::string_view kWorkerExtended = "worker.extended";
inline constexpr std::string_view kWorkerHeartbeatLost = "worker.heartbeat_lost";
inline constexpr std::string_view kWorkerHeartbeatResumed = "worker.heartbeat_resumed";
inline constexpr std::string_view kWorkerHeartbeatUnknown = "worker.heartbeat_unknown";
inline constexpr std::string_view kWorkerZombie = "worker.zombie";
inline constexpr std::string_view kWorkerPhantom = "worker.phantom";
inline constexpr std::string_view kWorkerAdopted = "worker.adopted";
inline constexpr std::string_view kWorkerAdoptRefused = "worker.adopt_refused";
inline constexpr std::string_view kWorkerPidFileRemoved = "worker.pid_file_removed";
inline constexpr std::string_view kWorkerAdoptFailed = "worker.adopt_failed";
inline constexpr std::string_view kWorkerLost = "worker.lost";
inline constexpr std::string_view kWorkerReleased = "worker.released";
inline constexpr std::string_view kWorkerSpawnFailed = "worker.spawn_failed";
inline constexpr std::string_view kSupervisorStoreError = "supervisor.store_error";

// Action outcomes, logged by the pipeline (src/daemon/pipeline.cc; docs/actions.md).
inline constexpr std::string_view kActionStarted = "action.started";
inline constexpr std::string_view kActionSucceeded = "action.succeeded";
inline constexpr std::string_view kActionFailed = "action.failed";
// An intent a daemon left open, resumed at start (src/daemon/pipeline.cc; docs/intents.md).
inline constexpr std::string_view kPlanResumed = "plan.resumed";

// The chain guard cut or throttled a rule (src/daemon/pipeline.cc; docs/rules.md "Loops").
inline constexpr std::string_view kRuleLoop = "rule.loop";
inline constexpr std::string_view kRuleThrottled = "rule.throttled";
// A rule's circuit breaker changed state (src/rules/rule_breaker.h; docs/rules.md "Circuit
// breaker").
inline constexpr std::string_view kRuleCircuitOpen = "rule.circuit_open";
inline constexpr std::string_view kRuleCircuitHalfOpen = "rule.circuit_half_open";
inline constexpr std::string_view kRuleCircuitClosed = "rule.circuit_closed";

// Disk space of a watched filesystem and retention (src/daemon/disk_monitor.h; docs/sessions.md).
inline constexpr std::string_view kDiskLow = "disk.low";
inline constexpr std::string_view kDiskOk = "disk.ok";
inline constexpr std::string_view kRetentionDeleted = "retention.deleted";

// Rule set loads and reloads (src/daemon/daemon.cc; docs/rules.md "All or nothing").
inline constexpr std::string_view kRulesLoaded = "rules.loaded";
inline constexpr std::string_view kRulesRejected = "rules.rejected";

// Lifecycle transitions and refusals (src/state/state_event.cc; docs/lifecycle.md).
inline constexpr std::string_view kStateChanged = "state.changed";
inline constexpr std::string_view kStateRefused = "state.refused";

// Timer rules (src/schedule/timer_scheduler.cc; docs/schedule.md).
inline constexpr std::string_view kTimerFired = "timer.fired";

// Control socket audit, `control.<method>` (src/daemon/control_api.cc; docs/control.md).
inline constexpr std::string_view kControlPrefix = "control.";
inline constexpr std::string_view kControlWorkersStart = "control.workers.start";
inline constexpr std::string_view kControlWorkersStop = "control.workers.stop";
inline constexpr std::string_view kControlWorkersRestart = "control.workers.restart";
inline constexpr std::string_view kControlRecoverReset = "control.recover.reset";
inline constexpr std::string_view kControlRecoverKillZombie = "control.recover.kill-zombie";
inline constexpr std::string_view kControlTrigger = "control.trigger";
// `agentwatch recover fix` applied a fix (src/recover/session_doctor.h; docs/recover.md).
inline constexpr std::string_view kControlRecoverFix = "control.recover.fix";

// Alerts of agentwatch.toml (src/daemon/daemon_alerts.h; docs/alerts.md).
inline constexpr std::string_view kAlertRaised = "alert.raised";
inline constexpr std::string_view kAlertResolved = "alert.resolved";

// A coding agent's status changed (src/daemon/agent_monitor.h; docs/agents.md). Under the
// prefix notify clients may use, so the daemon refuses it from them (a forged status).
inline constexpr std::string_view kAgentStatus = "agent.status";

// The daemon's own start and stop (src/daemon/daemon.cc; docs/configuration.md "Signals").
inline constexpr std::string_view kDaemonStarted = "daemon.started";
inline constexpr std::string_view kDaemonStopping = "daemon.stopping";
inline constexpr std::string_view kDaemonStopped = "daemon.stopped";
inline constexpr std::string_view kDaemonRuntimeRestored = "daemon.runtime_restored";

// Every full kind above (not the prefixes), in the order of this header.
inline constexpr std::array kAllKinds = {
    kFileLanded,
    kFileRemoved,
    kFileAttrib,
    kDirCreated,
    kDirRemoved,
    kWatchOverflow,
    kWatchRescanned,
    kWatchDegraded,
    kWatchRootMissing,
    kWatchRootRestored,
    kWatchSymlinkRefused,
    kLogLine,
    kLogStalled,
    kLogResumed,
    kLogRotated,
    kLogError,
    kGitCommit,
    kGitMerge,
    kGitCheckout,
    kGitReset,
    kGitRebase,
    kGitCherryPick,
    kGitRevert,
    kGitPull,
    kGitClone,
    kGitAm,
    kGitBranch,
    kGitOther,
    kGitError,
    kNotifyRefused,
    kTmuxHookSessionCreated,
    kTmuxHookSessionClosed,
    kTmuxHookPaneDied,
    kTmuxHookPaneExited,
    kTmuxHookClientDetached,
    kTmuxHookAlertSilence,
    kTmuxHookWindowLinked,
    kTmuxHookWindowUnlinked,
    kTmuxSessionSeen,
    kTmuxSessionAppeared,
    kTmuxSessionVanished,
    kTmuxPaneAppeared,
    kTmuxPaneDied,
    kTmuxPaneVanished,
    kTmuxServerExited,
    kTmuxReconcileFailed,
    kTmuxReconcileRecovered,
    kWorkerPid,
    kWorkerStarted,
    kWorkerExited,
    kWorkerRestartScheduled,
    kWorkerCircuitOpen,
    kWorkerCircuitClosed,
    kWorkerWaiting,
    kWorkerGaveUp,
    kWorkerStopped,
    kWorkerKillEscalated,
    kWorkerKilling,
    kWorkerTimingOut,
    kWorkerExtended,
    kWorkerHeartbeatLost,
    kWorkerHeartbeatResumed,
    kWorkerHeartbeatUnknown,
    kWorkerZombie,
    kWorkerPhantom,
    kWorkerAdopted,
    kWorkerAdoptRefused,
    kWorkerPidFileRemoved,
    kWorkerAdoptFailed,
    kWorkerLost,
    kWorkerReleased,
    kWorkerSpawnFailed,
    kSupervisorStoreError,
    kActionStarted,
    kActionSucceeded,
    kActionFailed,
    kPlanResumed,
    kRuleLoop,
    kRuleThrottled,
    kRuleCircuitOpen,
    kRuleCircuitHalfOpen,
    kRuleCircuitClosed,
    kDiskLow,
    kDiskOk,
    kRetentionDeleted,
    kRulesLoaded,
    kRulesRejected,
    kStateChanged,
    kStateRefused,
    kTimerFired,
    kControlWorkersStart,
    kControlWorkersStop,
    kControlWorkersRestart,
    kControlRecoverReset,
    kControlRecoverKillZombie,
    kControlTrigger,
    kControlRecoverFix,
    kAlertRaised,
    kAlertResolved,
    kAgentStatus,
    kDaemonStarted,
    kDaemonStopping,
    kDaemonStopped,
    kDaemonRuntimeRestored,
};

// Whether `k` is one of kAllKinds: a kind the daemon itself emits.
constexpr bool is_known(std::string_view k) {
  for (std::string_view known : kAllKinds)
    if (known == k) return true;
  return false;
}

}  // namespace aw::kind
