#include "src/schedule/timer_scheduler.h"

#include <algorithm>
#include <random>

#include "src/core/event_kinds.h"
#include "src/schedule/timer_state_file.h"

namespace aw {

// The background writes outlive the scheduler if they must: they hold this,
// not the scheduler. Loop thread only (the pool sees copies).
struct TimerScheduler::Persister {
  uv_loop_t* loop = nullptr;
  std::string path;
  std::optional<std::string> pending;  // newest content not yet handed to the pool
  bool in_flight = false;
  std::function<void(const Error&)> on_error;

  void report(const Error& e) const {
    if (on_error) on_error(e);
  }

  static void kick(const std::shared_ptr<Persister>& p) {
    if (p->in_flight || !p->pending) return;
    auto content = std::make_shared<const std::string>(std::move(*p->pending));
    p->pending.reset();
    auto status = std::make_shared<Status>();
    int rc = uvx::queue_work(
        p->loop, [path = p->path, content, status] { *status = write_timer_state(path, *content); },
        [p, status] {
          p->in_flight = false;
          if (!status->ok()) p->report(status->error());
          kick(p);  // what changed meanwhile
        });
    if (rc != 0) {
      p->pending = *content;  // the next change tries again
      p->report(make_error(
          "cannot queue the write of the timer state '" + p->path + "': " + uv_strerror(rc), rc));
      return;
    }
    p->in_flight = true;
  }
};

TimerScheduler::TimerScheduler(uv_loop_t* loop, const Clock& clock, std::string state_file,
                               FireCallback fire, std::uint64_t seed)
    : loop_(loop),
      clock_(clock),
      fire_(std::move(fire)),
      plan_(seed ? seed : std::random_device{}()),
      persister_(std::make_shared<Persister>()),
      timer_(loop, [this] { on_timer(); }) {
  persister_->loop = loop;
  persister_->path = std::move(state_file);
}

TimerScheduler::~TimerScheduler() {
  persister_->on_error = nullptr;  // nobody to tell any more; the write itself goes on
}

Status TimerScheduler::load() {
  if (persister_->path.empty()) return Status::Ok();
  auto records = read_timer_state(persister_->path);
  if (!records.ok()) return records.error();
  plan_.restore(std::move(records).value());
  return Status::Ok();
}

void TimerScheduler::set_jobs(const std::vector<ScheduledJob>& jobs) {
  if (plan_.set_jobs(jobs, clock_.mono(), clock_.wall())) persist();
  arm();
}

Status TimerScheduler::trigger(const std::string& name) {
  if (!plan_.trigger(name, clock_.mono(), clock_.wall()))
    return make_error("no timer rule named '" + name +
                      "' (expected the name of a rule with `every`)");
  persist();
  arm();
  fire_(name, FireReason::kTrigger);
  return Status::Ok();
}

std::optional<WallTime> TimerScheduler::next_due(const std::string& name) const {
  auto due = plan_.due(name);
  if (!due) return std::nullopt;
  return clock_.wall() + (*due - clock_.mono());
}

std::vector<TimerStatus> TimerScheduler::list() const {
  const MonoTime mono = clock_.mono();
  const WallTime wall = clock_.wall();
  std::vector<TimerStatus> out;
  for (JobView& v : plan_.view())
    out.push_back(TimerStatus{std::move(v.job), v.record.last_run, v.record.first_seen,
                              wall + (v.due - mono), v.reason});
  return out;
}

void TimerScheduler::on_persist_error(std::function<void(const Error&)> handler) {
  persister_->on_error = std::move(handler);
}

bool TimerScheduler::persisting() const {
  return persister_->in_flight || persister_->pending.has_value();
}

void TimerScheduler::persist() {
  if (persister_->path.empty()) return;
  persister_->pending = serialize_timer_state(plan_.records());
  Persister::kick(persister_);
}

void TimerScheduler::arm() {
  const std::optional<MonoTime> next = plan_.earliest();
  if (!next) {
    timer_.stop();
    return;
  }
  // Count from now, not from the loop's cached time, round up, and add the
  // millisecond libuv's own clock may lag behind (it truncates to whole ms): a
  // wake-up before the deadline would find nothing due and only re-arm.
  uv_update_time(loop_);
  const Duration delay = std::max(*next - clock_.mono(), Duration{0});
  auto ms = std::chrono::ceil<std::chrono::milliseconds>(delay).count();
  if (ms > 0) ++ms;
  timer_.start(static_cast<std::uint64_t>(ms));
}

void TimerScheduler::on_timer() {
  const std::vector<Firing> due = plan_.take_due(clock_.mono(), clock_.wall());
  if (!due.empty()) persist();
  for (const Firing& f : due) {
    // An earlier `fire` may have reloaded the jobs: a job removed since is not fired.
    if (plan_.due(f.name)) fire_(f.name, f.reason);
  }
  arm();
}

Event timer_fired_event(const std::string& name, FireReason reason, WallTime now) {
  Event e;
  e.kind = kind::kTimerFired;
  e.source = "timer";
  e.time = now;
  e.rule = name;
  e.fields.set("rule", name);
  e.fields.set("reason", std::string(fire_reason_name(reason)));
  return e;
}

}  // namespace aw
