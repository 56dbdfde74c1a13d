// The worker machine's detectors (docs/workers.md, "Health"): hung (runtime
// limit, timing_out, extensions), heartbeat, zombie and phantom. Each works
// from an absolute deadline in the state, never a periodic check; the verdicts
// themselves are detectors.h's and heartbeat_tracker.h's.
#include <csignal>

#include "src/core/duration.h"
#include "src/supervise/supervisor_events.h"
#include "src/supervise/worker_machine_step.h"

namespace aw::worker_machine_detail {

namespace ev = supervisor_events;
namespace cmd = worker_command;
using worker_input::SamplePurpose;

namespace {

std::string describe_progress(Progress p, const std::optional<FileSample>& before,
                              const std::optional<FileSample>& after) {
  switch (p) {
    case Progress::kNoHeartbeat:
      return "no heartbeat declared";
    case Progress::kSeen:
      return "heartbeat grew (" + std::to_string(before->size) + " -> " +
             std::to_string(after->size) + " bytes)";
    case Progress::kNone:
      return "heartbeat unchanged (" + std::to_string(after->size) + " bytes, mtime " +
             format_time_utc(after->mtime) + ")";
    case Progress::kUnknown: {
      std::string why = after && !after->ok     ? after->error
                        : before && !before->ok ? before->error
                                                : "no sample";
      return "heartbeat unknown (" + why + ")";
    }
  }
  return "?";
}

}  // namespace

void Stepper::entity_completed() {
  // Its work is done: not hung (whatever its runtime), not a phantom.
  w.runtime_due.reset();
  w.timing_out = false;
  drop_phantom("the entity completed");
}

// ---- hung: runtime limit, timing_out, extensions ----

void Stepper::on_runtime_deadline() {
  if (!w.process || w.phase != WorkerPhase::kRunning) return;
  if (!w.timing_out) {
    begin_timing_out();
    return;
  }
  if (spec.heartbeat.empty()) {
    end_of_grace(std::nullopt);
    return;
  }
  // The verdict waits for a last look at the heartbeat (no deadline meanwhile).
  result_.commands.emplace_back(cmd::StatHeartbeat{SamplePurpose::kGraceEnd, w.run});
}

void Stepper::begin_timing_out() {
  const Duration ran = runtime();
  w.timing_out = true;
  w.progress_baseline.reset();
  w.run_deadline = now.mono + spec.timeout_grace;
  std::string detail =
      "ran " + format_duration(ran) + ", limit " + format_duration(spec.runtime_limit);
  if (w.extensions > 0) detail += " (after " + std::to_string(w.extensions) + " extensions)";
  EvidenceList evidence = {
      Evidence{"runtime", detail, now.wall},
      Evidence{"pidfd", "pid " + std::to_string(w.process->pid) + " still running", now.wall}};
  note("timing_out", detail + "; grace " + format_duration(spec.timeout_grace));
  emit(ev::timing_out(spec.name, now.wall, w.process->pid, ran, spec.runtime_limit,
                      spec.timeout_grace, w.extensions, spec.max_extensions,
                      spec.heartbeat.empty() ? "none" : heartbeat_status_name(w.heartbeat.status()),
                      evidence));
  request(LifecycleState::kTimingOut, "runtime over its limit", evidence);
  if (!spec.heartbeat.empty())
    result_.commands.emplace_back(cmd::StatHeartbeat{SamplePurpose::kBaseline, w.run});
  w.runtime_due = w.run_deadline;
}

void Stepper::end_of_grace(const std::optional<FileSample>& sample) {
  if (!w.timing_out || !w.process || w.phase != WorkerPhase::kRunning) return;
  Progress progress = progress_between(!spec.heartbeat.empty(), w.progress_baseline, sample);
  std::string said = describe_progress(progress, w.progress_baseline, sample);
  if (judge_grace_end(progress, w.extensions, spec.max_extensions) == GraceVerdict::kExtend) {
    ++w.extensions;
    w.timing_out = false;
    // A full runtime_limit from now: the worker showed it is working, and a
    // shorter slice would only re-run the grace's verdict sooner, with less
    // growth to see. Total runtime stays bounded: (max_extensions + 1) ×
    // (runtime_limit + timeout_grace).
    w.run_deadline = now.mono + spec.runtime_limit;
    persist_run();
    std::string what =
        "extension " + std::to_string(w.extensions) + " of " + std::to_string(spec.max_extensions);
    note("extended", what + ": " + said);
    emit(ev::extended(spec.name, now.wall, w.process->pid, w.extensions, spec.max_extensions,
                      runtime(), spec.runtime_limit, said));
    request(LifecycleState::kProcessing, what + ": progress",
            {Evidence{"heartbeat", said, now.wall}});
    w.runtime_due = w.run_deadline;
    return;
  }
  std::string why =
      progress == Progress::kSeen
          ? "progress, but all " + std::to_string(spec.max_extensions) + " extensions are used"
          : "no progress during the grace";
  note("hung", why + ": " + said);
  EvidenceList evidence = {
      Evidence{"runtime",
               "ran " + format_duration(runtime()) + ", limit " +
                   format_duration(spec.runtime_limit) + ", extensions " +
                   std::to_string(w.extensions) + "/" + std::to_string(spec.max_extensions),
               now.wall},
      Evidence{"heartbeat", said, now.wall}};
  kill(SIGTERM, spec.kill_grace, "hung", evidence, /*asked=*/false);
}

// ---- heartbeat ----

void Stepper::check_heartbeat() {
  if (!w.process || spec.heartbeat.empty() || w.heartbeat_in_flight) return;
  w.heartbeat_in_flight = true;
  w.heartbeat_due.reset();
  result_.commands.emplace_back(cmd::StatHeartbeat{SamplePurpose::kTrack, w.run});
}

void Stepper::heartbeat_hint() {
  if (!w.process || spec.heartbeat.empty()) return;
  HeartbeatStatus hs = w.heartbeat.status();
  if (hs == HeartbeatStatus::kStale || hs == HeartbeatStatus::kUnknown) check_heartbeat();
}

void Stepper::heartbeat_sampled(const worker_input::HeartbeatSampled& in) {
  if (!w.process || in.run != w.run) return;  // that run is over
  const FileSample& sample = in.sample;
  switch (in.purpose) {
    case SamplePurpose::kBaseline:
      if (w.timing_out && !w.progress_baseline) w.progress_baseline = sample;
      return;
    case SamplePurpose::kGraceEnd:
      end_of_grace(sample);
      return;
    case SamplePurpose::kTrack:
      break;
  }
  w.heartbeat_in_flight = false;
  const MonoTime growth_before = w.heartbeat.last_growth();
  HeartbeatStep hs = w.heartbeat.observe(sample, now);
  const std::string last_growth = format_time_utc(now.to_wall(w.heartbeat.last_growth()));
  switch (hs.signal) {
    case HeartbeatStep::Signal::kNothing:
      break;
    case HeartbeatStep::Signal::kLost:
      note("heartbeat", "lost: no growth since " + last_growth + " (timeout " +
                            format_duration(spec.heartbeat_timeout) + ")");
      emit(ev::heartbeat_lost(spec.name, now.wall, spec.heartbeat, last_growth,
                              spec.heartbeat_timeout, sample.size));
      break;
    case HeartbeatStep::Signal::kResumed:
      note("heartbeat", "resumed: grew to " + std::to_string(sample.size) + " bytes");
      emit(ev::heartbeat_resumed(spec.name, now.wall, spec.heartbeat, last_growth,
                                 w.heartbeat.last_growth() - growth_before, sample.size));
      break;
    case HeartbeatStep::Signal::kUnknown:
      note("heartbeat", "unknown: " + sample.error + " (not evidence of a loss)");
      emit(ev::heartbeat_unknown(spec.name, now.wall, spec.heartbeat, sample.error));
      break;
  }
  w.heartbeat_due = hs.next_check;
}

// ---- zombie and phantom ----

void Stepper::evaluate_presence() {
  if (world.stopping_all) return;
  PresenceFacts f;
  f.process_watched = w.process.has_value();
  f.session = world.session;
  f.entity = entity_state();
  f.action_pending = action_pending();
  if (f.process_watched) {
    if (f.action_pending || f.session != SessionPresence::kAbsent) return;
    const Duration up = now.mono - w.started;
    if (up < spec.start_grace) {
      w.presence_due = w.started + spec.start_grace;
      return;
    }
    // Only now, with the session confirmed gone, is /proc asked (small procfs
    // reads, by the shell): the answer is LivenessProbed.
    result_.commands.emplace_back(cmd::ProbeLiveness{});
    return;
  }
  if (judge_presence(f) != PresenceVerdict::kPhantom) {
    std::string why =
        f.action_pending                         ? std::string("a start or stop is pending")
        : f.session == SessionPresence::kPresent ? "session '" + spec.tmux_session + "' seen"
        : f.session == SessionPresence::kUnknown
            ? std::string("the tmux sessions are unknown")
            : "the entity is " +
                  std::string(f.entity ? lifecycle_state_name(*f.entity) : "in an unknown state");
    drop_phantom(why);
    return;
  }
  if (!w.phantom_since) {
    w.phantom_since = now.mono;
    const WallTime deadline = now.to_wall(now.mono + spec.phantom_grace);
    note("phantom",
         "suspected: processing with no process (" +
             (w.absence.empty() ? std::string("none watched") : w.absence) + ") and " +
             (f.session == SessionPresence::kNone ? std::string("no tmux_session declared")
                                                  : "session '" + spec.tmux_session + "' absent") +
             "; failed at " + format_time_utc(deadline) + " unless it shows life");
    w.presence_due = now.mono + spec.phantom_grace;
    return;
  }
  const Duration waited = now.mono - *w.phantom_since;
  if (waited < spec.phantom_grace) {
    w.presence_due = *w.phantom_since + spec.phantom_grace;
    return;
  }
  declare_phantom();
}

void Stepper::liveness_probed(const LivenessVerdict& v) {
  // The facts may have changed since the probe was asked for: judge again.
  if (world.stopping_all || !w.process || action_pending() ||
      world.session != SessionPresence::kAbsent || now.mono - w.started < spec.start_grace)
    return;
  PresenceFacts f;
  f.process_watched = true;
  f.session = world.session;
  f.entity = entity_state();
  f.past_start_grace = true;
  f.process = v.liveness;
  if (judge_presence(f) == PresenceVerdict::kZombie) {
    declare_zombie(v);
  } else if (v.liveness == Liveness::kUnknown) {
    note("zombie", "session '" + spec.tmux_session + "' absent, process liveness unknown (" +
                       format_evidence(v.evidence) + "): not acting");
  }
}

void Stepper::drop_phantom(const std::string& why) {
  if (!w.phantom_since) return;
  w.phantom_since.reset();
  if (!w.process) w.presence_due.reset();
  note("phantom", "suspicion dropped: " + why);
}

void Stepper::declare_zombie(const LivenessVerdict& alive) {
  w.zombie = true;
  const pid_t pid = w.process->pid;
  EvidenceList evidence;
  evidence.push_back({"pidfd", "pid " + std::to_string(pid) + " watched, no exit seen", now.wall});
  evidence.insert(evidence.end(), alive.evidence.begin(), alive.evidence.end());
  evidence.push_back({"tmux",
                      "session '" + spec.tmux_session + "' absent from the listing of " +
                          format_time_utc(world.sessions_at),
                      now.wall});
  note("zombie", "pid " + std::to_string(pid) + " alive, session '" + spec.tmux_session +
                     "' gone: terminating");
  emit(ev::zombie(spec.name, now.wall, pid, spec.tmux_session, evidence));
  auto state = entity_state();
  if (!state || *state == LifecycleState::kProcessing)
    request(LifecycleState::kZombie, "process alive but its session is gone", evidence);
  if (w.phase == WorkerPhase::kRunning)
    kill(SIGTERM, spec.kill_grace, "zombie", evidence, /*asked=*/false);
}

void Stepper::declare_phantom() {
  const WallTime since = now.to_wall(w.phantom_since.value_or(now.mono));
  w.phantom_since.reset();
  EvidenceList evidence = {
      {"process", w.absence.empty() ? std::string("none watched") : w.absence, now.wall},
      {"tmux",
       spec.tmux_session.empty()
           ? std::string("no tmux_session declared")
           : "session '" + spec.tmux_session + "' absent from the listing of " +
                 format_time_utc(world.sessions_at),
       now.wall},
      {"state", "processing with neither since " + format_time_utc(since), now.wall}};
  note("phantom", "failed after " + format_duration(spec.phantom_grace));
  emit(ev::phantom(spec.name, now.wall,
                   spec.tmux_session.empty() ? std::string("none") : spec.tmux_session,
                   format_time_utc(since), spec.phantom_grace, evidence));
  request(LifecycleState::kFailed, "phantom", evidence);
}

}  // namespace aw::worker_machine_detail
