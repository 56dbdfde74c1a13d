#include "watchers/notify/notify_spool_watch.h"

#include <sys/inotify.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <exception>
#include <span>
#include <vector>

#include "watchers/inotify_decoder.h"

namespace aw {

namespace {

constexpr std::size_t kInotifyBuf = 16 * 1024;
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
      inotify_buf_(new char[kInotifyBuf]),
      retry_(loop, [this] { uvx::guarded("notify spool", [&] { kick(); }); }) {}

NotifySpoolWatch::~NotifySpoolWatch() {
  stop();
}

Status NotifySpoolWatch::start(const std::string& runtime_dir) {
  if (started_ || stopped_) return make_error("notify spool watch: start() called twice");
  started_ = true;
  runtime_dir_ = runtime_dir;
  Status watching = watch_dir();
  if (!watching) {
    poll_.reset();
    inotify_fd_.reset();
  }
  // Level at start: what was spooled before the watch existed (even without
  // a watch, as the daemon did before it had one).
  kick();
  return watching;
}

Status NotifySpoolWatch::watch_dir() {
  inotify_fd_.reset(inotify_init1(IN_NONBLOCK | IN_CLOEXEC));
  if (!inotify_fd_.valid()) {
    const int err = errno;
    return make_error(std::string("notify spool watch: inotify_init1: ") + std::strerror(err) +
                          (err == EMFILE ? " (fs.inotify.max_user_instances reached)" : ""),
                      -err);
  }
  if (inotify_add_watch(inotify_fd_.get(), runtime_dir_.c_str(),
                        IN_CLOSE_WRITE | IN_MOVED_TO | IN_ONLYDIR) < 0) {
    const int err = errno;
    return make_error("cannot watch " + runtime_dir_ +
                          " for the notify spool: " + std::strerror(err) +
                          (err == ENOSPC ? " (fs.inotify.max_user_watches reached)" : ""),
                      -err);
  }
  poll_ = std::make_unique<uvx::Poll>(loop_, inotify_fd_.get(), [this](int status, int) {
    uvx::guarded("notify spool", [&] {
      if (status < 0) {
        report(
            make_error(std::string("notify spool watch: inotify: ") + uv_strerror(status), status));
        return;
      }
      on_readable();
    });
  });
  if (int rc = poll_->init_status(); rc != 0)
    return make_error(std::string("notify spool watch: uv_poll_init: ") + uv_strerror(rc), rc);
  if (int rc = poll_->start(UV_READABLE); rc != 0)
    return make_error(std::string("notify spool watch: uv_poll_start: ") + uv_strerror(rc), rc);
  return Status::Ok();
}

void NotifySpoolWatch::stop() {
  if (stopped_) return;
  stopped_ = true;
  poll_.reset();  // before the fd closes: libuv must not poll a closed fd
  inotify_fd_.reset();
  retry_.stop();
  // A job on the pool keeps its share of the ingestion and is dropped when it
  // comes back: .ingesting stays, and the next start resumes it.
  ingestion_.reset();
}

void NotifySpoolWatch::on_readable() {
  bool spool_changed = false;
  std::vector<InotifyRecord> records;
  for (;;) {
    const ssize_t n = read(inotify_fd_.get(), inotify_buf_.get(), kInotifyBuf);
    if (n < 0) {
      if (errno == EINTR) continue;
      if (errno == EAGAIN) break;
      report(make_error(std::string("notify spool watch: read: ") + std::strerror(errno), -errno));
      return;
    }
    if (n == 0) break;
    records.clear();
    const auto* bytes = reinterpret_cast<const std::uint8_t*>(inotify_buf_.get());
    const InotifyDecodeResult r =
        InotifyDecoder::decode(std::span(bytes, static_cast<std::size_t>(n)), records);
    // Lost sync with the queue, like an overflow: look, rather than guess.
    if (r.malformed) spool_changed = true;
    for (const InotifyRecord& rec : records) {
      if (rec.overflow || rec.name == kSpoolName) spool_changed = true;
      if (rec.ignored)
        report(make_error("notify spool watch: the watch on " + runtime_dir_ +
                          " is gone (the runtime dir was removed?); spooled messages wait for "
                          "the next start"));
    }
  }
  if (spool_changed) kick();
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
