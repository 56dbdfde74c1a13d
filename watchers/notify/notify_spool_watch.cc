#include "watchers/notify/notify_spool_watch.h"

#include <sys/inotify.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <exception>
#include <span>
#include <vector>

#include "src/os/errno_text.h"
#include "watchers/inotify_decoder.h"

namespace aw {

namespace {

constexpr const char* kSpoolName = "notify.spool";

}  // namespace

// One pool job: what it was asked to do and what came of it. The work part
// touches only `ingestion` (whose share it holds) and its own fields; the done
// part reads them on the loop thread afterwards (uv_queue_work orders the two).
struct NotifySpoolWatch::Job {
  std::shared_ptr<NotifySpoolIngestion> ingestion;
  bool finish_first = false;  // the previous file was emitted to its end: delete it first
  Status status;

  void run() {
    if (finish_first) {
      status = ingestion->finish();
      if (!status) return;
    }
    if (!ingestion->claimed()) {
      auto claimed = ingestion->claim();
      if (!claimed) {
        status = claimed.error();
        return;
      }
      if (*claimed == NotifySpoolIngestion::Claim::kNothing) return;
    }
    status = ingestion->read_chunk();
  }
};

NotifySpoolWatch::NotifySpoolWatch(uv_loop_t* loop, const Clock& clock,
                                   std::function<void(Event)> emit,
                                   std::function<void(const Result<NotifySpoolStats>&)> on_round,
                                   Options options)
    : loop_(loop),
      clock_(clock),
      emit_(std::move(emit)),
      on_round_(std::move(on_round)),
      options_(std::move(options)),
      retry_(loop, [this] { uvx::guarded("notify spool", [&] { kick(); }); }) {}

NotifySpoolWatch::~NotifySpoolWatch() {
  stop();
}

Status NotifySpoolWatch::start(const std::string& runtime_dir) {
  if (started_ || stopped_) return make_error("notify spool watch: start() called twice");
  started_ = true;
  runtime_dir_ = runtime_dir;
  Status watching = watch_dir();
  if (!watching) inotify_.reset();
  // Level at start: what was spooled before the watch existed (even without
  // a watch, as the daemon did before it had one).
  kick();
  return watching;
}

Status NotifySpoolWatch::watch_dir() {
  InotifySource::Callbacks cb;
  cb.on_records = [this](std::span<const InotifyRecord> records) { on_records(records); };
  // Lost sync with the queue, like an overflow: look, rather than guess.
  cb.on_malformed = [this](const std::string&) { spool_changed_ = true; };
  cb.on_error = [this](const char* what, int err) {
    report(make_error(std::string("notify spool watch: ") +
                          (std::string_view(what) == "poll" ? "inotify" : what) + ": " +
                          errno_text(err),
                      -err));
  };
  cb.on_drained = [this] {
    if (std::exchange(spool_changed_, false)) kick();
  };
  auto source = InotifySource::open(loop_, std::move(cb));
  if (!source)
    return make_error("notify spool watch: " + source.error().message, source.error().code);
  inotify_ = std::move(*source);
  if (const int wd =
          inotify_->add_watch(runtime_dir_.c_str(), IN_CLOSE_WRITE | IN_MOVED_TO | IN_ONLYDIR);
      wd < 0) {
    const int err = -wd;
    return make_error("cannot watch " + runtime_dir_ + " for the notify spool: " + errno_text(err) +
                          (err == ENOSPC ? " (fs.inotify.max_user_watches reached)" : ""),
                      -err);
  }
  if (int rc = inotify_->start(); rc != 0)
    return make_error(std::string("notify spool watch: uv_poll_start: ") + uv_strerror(rc), rc);
  return Status::Ok();
}

void NotifySpoolWatch::stop() {
  if (stopped_) return;
  stopped_ = true;
  inotify_.reset();
  retry_.stop();
  // A job on the pool keeps its share of the ingestion and is dropped when it
  // comes back: .ingesting stays, and the next start resumes it.
  ingestion_.reset();
}

void NotifySpoolWatch::on_records(std::span<const InotifyRecord> records) {
  for (const InotifyRecord& rec : records) {
    if (rec.overflow || rec.name == kSpoolName) spool_changed_ = true;
    if (rec.ignored)
      report(make_error("notify spool watch: the watch on " + runtime_dir_ +
                        " is gone (the runtime dir was removed?); spooled messages wait for "
                        "the next start"));
  }
}

void NotifySpoolWatch::kick() {
  if (stopped_ || !started_) return;
  if (busy_) {
    again_ = true;
    return;
  }
  retry_.stop();
  busy_ = true;
  again_ = false;
  ingestion_ = std::make_shared<NotifySpoolIngestion>(runtime_dir_, options_.max_line_bytes,
                                                      options_.lock_timeout);
  queue(false);
}

void NotifySpoolWatch::queue(bool finish_first) {
  auto job = std::make_shared<Job>();
  job->ingestion = ingestion_;
  job->finish_first = finish_first;
  int rc = uvx::queue_work(
      loop_, work_owner_, [job] { job->run(); }, [this, job] { on_job_done(*job); });
  if (rc != 0)
    fail(make_error(std::string("notify spool watch: uv_queue_work: ") + uv_strerror(rc), rc));
}

void NotifySpoolWatch::on_job_done(Job& job) {
  // Stopped meanwhile, or this job belongs to a pass that already failed.
  if (stopped_ || job.ingestion != ingestion_) return;
  if (!job.status) return fail(job.status.error());
  NotifySpoolIngestion& ingestion = *job.ingestion;
  if (!ingestion.claimed()) return end_pass();  // nothing (more) spooled
  if (Status s = ingestion.deliver_chunk(clock_, options_.kinds, emit_); !s) return fail(s.error());
  if (stopped_) return;  // `emit` may have stopped us
  if (!ingestion.at_end()) return queue(false);
  totals_ += ingestion.stats();
  if (on_round_) on_round_(ingestion.stats());
  if (stopped_) return;
  // Delete it, then look for a spool written meanwhile (a fresh claim).
  queue(true);
}

void NotifySpoolWatch::end_pass() {
  ingestion_.reset();
  busy_ = false;
  ++passes_;
  if (again_) kick();
}

void NotifySpoolWatch::report(const Error& error) {
  if (on_round_) on_round_(error);
}

void NotifySpoolWatch::fail(const Error& error) {
  // Only with no job on the pool (a job's failure, or one that could not be
  // queued): two ingestions of one dir must never overlap. .ingesting, if
  // claimed, is resumed by the next pass.
  ingestion_.reset();
  busy_ = false;
  again_ = false;
  ++passes_;
  report(error);
  if (!stopped_) retry_.start(static_cast<std::uint64_t>(to_ms(options_.retry_after)));
}

}  // namespace aw
