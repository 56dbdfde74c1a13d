#include "src/schedule/probe.h"

#include <signal.h>

#include <algorithm>
#include <cstring>

#include "src/core/duration.h"
#include "src/os/child_process.h"
// Header-only and pure: the tailer's line splitter (hold partials, cut long lines).
#include "src/core/line_splitter.h"

namespace aw {
namespace {

constexpr std::size_t kCacheLimit = 64;
constexpr std::size_t kStderrTail = 4096;

std::string where(const std::string& rule) {
  return "probe of rule '" + rule + "'";
}
std::string where(const ProbeSpec& spec) {
  return where(spec.rule);
}

Status validate(const ProbeSpec& spec) {
  if (spec.argv.empty() || spec.argv[0].empty())
    return make_error(where(spec) + ": empty command (expected argv with a program first)");
  if (spec.timeout <= Duration{0})
    return make_error(where(spec) + ": timeout " + format_duration(spec.timeout) +
                      " (expected more than 0)");
  if (spec.max_output == 0)
    return make_error(where(spec) + ": max_output 0 (expected at least 1 byte)");
  if (spec.max_line == 0)
    return make_error(where(spec) + ": max_line 0 (expected at least 1 byte)");
  return Status::Ok();
}

std::string cache_key(const std::vector<ProbeLinePattern>& patterns) {
  std::string key;
  for (const ProbeLinePattern& p : patterns) {
    key += std::to_string(p.match.size()) + ':' + p.match;
    key += std::to_string(p.kind.size()) + ':' + p.kind;
  }
  return key;
}

std::string signal_text(int sig) {
  const char* name = sigabbrev_np(sig);
  return name ? std::string("SIG") + name : "signal " + std::to_string(sig);
}

}  // namespace

Result<std::shared_ptr<const ProbeMatcher>> compile_probe(const ProbeSpec& spec) {
  if (Status s = validate(spec); !s.ok()) return s.error();
  auto m = ProbeMatcher::compile(spec.patterns, where(spec));
  if (!m.ok()) return m.error();
  return std::shared_ptr<const ProbeMatcher>(
      std::make_shared<const ProbeMatcher>(std::move(m).value()));
}

struct ProbeRunner::Run {
  Run(RunId id_, const ProbeSpec& spec, EventCallback ev, DoneCallback done)
      : id(id_),
        rule(spec.rule),
        max_output(spec.max_output),
        splitter(spec.max_line),
        on_event(std::move(ev)),
        on_done(std::move(done)),
        kill_grace(std::max(spec.kill_grace, Duration{0})) {}

  RunId id;
  std::string rule;
  std::size_t max_output;
  LineSplitter splitter;
  EventCallback on_event;
  DoneCallback on_done;
  std::shared_ptr<const ProbeMatcher> matcher;
  std::size_t read = 0;  // stdout bytes taken (at most max_output)
  StopCause stopped = StopCause::kNone;
  bool finished = false;
  ProbeOutcome outcome;
  std::vector<Event> scratch;
  Duration kill_grace;
  std::unique_ptr<ChildProcess> child;
  std::unique_ptr<uvx::Timer> timeout;  // the run's deadline, then the kill grace
};

ProbeRunner::ProbeRunner(uv_loop_t* loop, const Clock& clock)
    : loop_(loop), clock_(clock), reaper_(loop, [this] { reap(); }) {}

// Each Run's ChildProcess kills and reaps its child on destruction.
ProbeRunner::~ProbeRunner() = default;

ProbeRunner::RunId ProbeRunner::run(const ProbeSpec& spec, EventCallback on_event,
                                    DoneCallback on_done) {
  std::shared_ptr<const ProbeMatcher> matcher;
  if (validate(spec).ok()) {
    const std::string key = cache_key(spec.patterns);
    auto it = cache_.find(key);
    if (it != cache_.end()) {
      matcher = it->second;
    } else if (auto compiled = compile_probe(spec); compiled.ok()) {
      if (cache_.size() >= kCacheLimit) cache_.clear();
      matcher = cache_.emplace(key, std::move(compiled).value()).first->second;
    }
  }
  // A spec that failed validation or compilation: run() reports it properly.
  return run(spec, std::move(matcher), std::move(on_event), std::move(on_done));
}

ProbeRunner::RunId ProbeRunner::run(const ProbeSpec& spec,
                                    std::shared_ptr<const ProbeMatcher> matcher,
                                    EventCallback on_event, DoneCallback on_done) {
  const RunId id = next_id_++;
  auto owned = std::make_unique<Run>(id, spec, std::move(on_event), std::move(on_done));
  Run& r = *owned;
  runs_.emplace(id, std::move(owned));

  Status valid = validate(spec);
  if (valid.ok() && !matcher) {
    auto compiled = compile_probe(spec);
    if (compiled.ok())
      matcher = std::move(compiled).value();
    else
      valid = compiled.error();
  }
  if (!valid.ok()) {
    r.outcome.error = valid.error().message;
    finish(r);
    return id;
  }
  r.matcher = std::move(matcher);

  SpawnOptions opts;
  opts.argv = spec.argv;
  opts.cwd = spec.cwd;
  opts.env = spec.env;
  opts.tail_limit = kStderrTail;
  opts.on_output = [this, &r](int stream, std::string_view bytes) {
    if (stream == 1) on_output(r, bytes);
  };
  auto child = ChildProcess::spawn(loop_, clock_, std::move(opts),
                                   [this, &r](const ChildExit& e) { on_exit(r, e); });
  if (!child.ok()) {
    r.outcome.error = where(spec) + ": " + child.error().message;
    finish(r);
    return id;
  }
  r.child = std::move(child).value();
  r.timeout = std::make_unique<uvx::Timer>(loop_, [this, &r] {
    if (r.stopped == StopCause::kNone)
      stop(r, StopCause::kTimeout);
    else
      r.child->kill_group(SIGKILL);  // the grace is over
  });
  start_timer(*r.timeout, spec.timeout);
  return id;
}

void ProbeRunner::start_timer(uvx::Timer& t, Duration d) {
  // Count from now, not the loop's cached time; never early.
  uv_update_time(loop_);
  t.start(static_cast<std::uint64_t>(std::chrono::ceil<std::chrono::milliseconds>(d).count()));
}

void ProbeRunner::on_output(Run& r, std::string_view bytes) {
  if (r.stopped != StopCause::kNone) return;
  const std::size_t take = std::min(bytes.size(), r.max_output - r.read);
  r.read += take;
  r.splitter.feed(bytes.substr(0, take),
                  [this, &r](std::string_view line, bool cut) { on_line(r, line, cut); });
  if (take < bytes.size() && r.stopped == StopCause::kNone) stop(r, StopCause::kOverflow);
}

void ProbeRunner::on_line(Run& r, std::string_view line, bool cut) {
  if (r.stopped != StopCause::kNone) return;  // cancelled by an earlier event's callback
  ++r.outcome.lines;
  if (cut) ++r.outcome.cut_lines;
  r.scratch.clear();
  const std::size_t n = r.matcher->match(line, cut, r.rule, clock_.wall(), r.scratch);
  if (n == 0) return;
  ++r.outcome.matched;
  r.outcome.events += n;
  // Moved out first: on_event may start another probe or cancel this one.
  std::vector<Event> events = std::move(r.scratch);
  for (Event& e : events) {
    if (r.on_event) r.on_event(std::move(e));
  }
}

void ProbeRunner::stop(Run& r, StopCause cause) {
  if (r.finished || r.stopped != StopCause::kNone || !r.child) return;
  r.stopped = cause;
  // Whatever is left of its group dies with it; stragglers must not outlive a stop.
  r.child->kill_group_on_exit(true);
  if (r.kill_grace <= Duration{0}) {
    r.child->kill_group(SIGKILL);
    return;
  }
  r.child->kill_group(SIGTERM);
  start_timer(*r.timeout, r.kill_grace);  // re-armed: SIGKILL when it fires
}

void ProbeRunner::on_exit(Run& r, const ChildExit& e) {
  // A last line without '\n' is a line, once the command has ended by itself;
  // the line an overflow cut, or one cut short by a kill, is not.
  if (r.stopped == StopCause::kNone)
    r.splitter.flush([this, &r](std::string_view line, bool cut) { on_line(r, line, cut); });
  ProbeOutcome& o = r.outcome;
  o.wall = e.wall;
  o.stderr_tail = e.stderr_tail;
  o.exit_code = e.exited ? e.exit_code : -1;
  o.term_signal = e.exited ? 0 : e.term_signal;
  switch (r.stopped) {
    case StopCause::kNone:
      o.ok = e.exited;
      if (!e.exited) o.error = where(r.rule) + ": killed by " + signal_text(e.term_signal);
      break;
    case StopCause::kTimeout:
      o.timed_out = true;
      o.error = where(r.rule) + ": timed out; it was stopped";
      break;
    case StopCause::kOverflow:
      o.truncated = true;
      o.error = where(r.rule) + ": more than " + std::to_string(r.max_output) +
                " bytes of output (max_output); the rest was not read and it was stopped";
      break;
    case StopCause::kCancel:
      o.error = where(r.rule) + ": cancelled";
      break;
  }
  finish(r);
}

void ProbeRunner::finish(Run& r) {
  r.finished = true;
  if (r.timeout) r.timeout->stop();
  reaper_.start();
}

void ProbeRunner::reap() {
  std::vector<std::unique_ptr<Run>> done;
  for (auto it = runs_.begin(); it != runs_.end();) {
    if (it->second->finished) {
      done.push_back(std::move(it->second));
      it = runs_.erase(it);
    } else {
      ++it;
    }
  }
  reaper_.stop();
  for (auto& r : done) {
    // Handles first (we are in the reaper's callback, not theirs), then the news.
    r->child.reset();
    r->timeout.reset();
    DoneCallback cb = std::move(r->on_done);
    if (cb) cb(std::move(r->outcome));
  }
}

bool ProbeRunner::cancel(RunId id) {
  auto it = runs_.find(id);
  if (it == runs_.end() || it->second->finished) return false;
  stop(*it->second, StopCause::kCancel);
  return true;
}

bool ProbeRunner::busy(const std::string& rule) const {
  for (const auto& [id, r] : runs_)
    if (!r->finished && r->rule == rule) return true;
  return false;
}

std::size_t ProbeRunner::running() const {
  std::size_t n = 0;
  for (const auto& [id, r] : runs_) n += r->finished ? 0 : 1;
  return n;
}

}  // namespace aw
