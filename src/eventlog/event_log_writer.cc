#include "src/eventlog/event_log_writer.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <deque>
#include <utility>

#include "src/eventlog/log_segments.h"
#include "src/eventlog/segment_maintenance.h"
#include "src/os/crash_point.h"
#include "src/os/errno_text.h"
#include "src/os/files.h"
#include "src/os/unique_fd.h"
#include "src/uvx/handle.h"

namespace aw {
namespace {

constexpr int kLiveFlags = O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC;

Error errno_error(const std::string& what, const std::string& path, int err) {
  return aw::errno_error(what + " " + path, err);
}

std::uint64_t count_lines(std::string_view bytes) {
  return static_cast<std::uint64_t>(std::count(bytes.begin(), bytes.end(), '\n'));
}

}  // namespace

// The pool side of rotation. Shared with the in-flight job's callbacks so it outlives
// the writer: queued segments are still compressed after the writer is destroyed.
// Touched only on the loop thread (the pool job sees copies of dir/number/keep).
struct EventLogWriter::Maintenance {
  uv_loop_t* loop;
  std::string dir;
  std::size_t keep;
  std::deque<std::uint64_t> queue;
  bool in_flight = false;
  bool sampling = false;
  std::uint64_t compressed = 0;
  std::uint64_t pruned = 0;
  std::uint64_t errors = 0;
  // Cleared by the writer's destructor: nobody to tell after that.
  std::function<void(const EventLogProblem&)> on_problem;

  std::size_t pending() const { return queue.size() + (in_flight ? 1 : 0) + (sampling ? 1 : 0); }

  // Indexes what was on disk before the writer opened: every segment, and the
  // live file up to `live_size` (past it is what the writer appends and
  // indexes itself).
  static void sample(const std::shared_ptr<Maintenance>& self, std::weak_ptr<SeqIndex> index,
                     std::vector<LogSegment> segments, std::uint64_t live_segment,
                     std::uint64_t live_size, std::uint64_t stride) {
    auto found = std::make_shared<std::vector<LogPosition>>();
    auto problem = std::make_shared<std::optional<Error>>();
    self->sampling = true;
    const int rc = uvx::queue_work(
        self->loop,
        [dir = self->dir, segments = std::move(segments), live_segment, live_size, stride, found,
         problem] {
          auto add = [&](Result<std::vector<LogPosition>> r) {
            if (!r) {
              if (!*problem) *problem = r.error();
              return;
            }
            found->insert(found->end(), r->begin(), r->end());
          };
          for (const LogSegment& seg : segments) {
            const std::size_t before = found->size();
            if (seg.has_plain)
              add(sample_log_file(log_segment_path(dir, seg.number, SegmentForm::kPlain),
                                  seg.number, false, stride));
            // No plain file, or it was compressed (and removed) meanwhile.
            if (found->size() == before)
              add(sample_log_file(log_segment_path(dir, seg.number, SegmentForm::kGzip), seg.number,
                                  true, stride));
          }
          if (live_size > 0)
            add(sample_log_file(live_log_path(dir), live_segment, false, stride, live_size));
        },
        [self, index = std::move(index), found, problem] {
          self->sampling = false;
          if (auto live = index.lock()) live->add_sampled(*found);
          // Only slower reconnects come of it: worth a word, not a failure.
          if (*problem) self->fail(**problem);
        });
    if (rc != 0) self->sampling = false;  // no index of the old files: readers start at the top
  }

  static void enqueue(const std::shared_ptr<Maintenance>& self, std::uint64_t number) {
    self->queue.push_back(number);
    kick(self);
  }

  static void kick(const std::shared_ptr<Maintenance>& self) {
    if (self->in_flight || self->queue.empty()) return;
    const std::uint64_t number = self->queue.front();
    self->queue.pop_front();
    struct Outcome {
      Result<CompressOutcome> compress = CompressOutcome{};
      Result<std::size_t> prune = std::size_t{0};
    };
    auto outcome = std::make_shared<Outcome>();
    self->in_flight = true;
    const int rc = uvx::queue_work(
        self->loop,
        [dir = self->dir, keep = self->keep, number, outcome] {
          outcome->compress = compress_log_segment(dir, number);
          outcome->prune = prune_log_segments(dir, keep);
        },
        [self, outcome] {
          self->in_flight = false;
          if (outcome->compress) {
            if (outcome->compress->compressed) ++self->compressed;
          } else {
            self->fail(outcome->compress.error());
          }
          if (outcome->prune)
            self->pruned += *outcome->prune;
          else
            self->fail(outcome->prune.error());
          kick(self);
        });
    if (rc != 0) {
      // The plain segment stays on disk; the next open() compresses it.
      self->in_flight = false;
      self->fail(make_error("cannot queue compression of " +
                                log_segment_path(self->dir, number, SegmentForm::kPlain) + ": " +
                                uv_strerror(rc),
                            rc));
      kick(self);
    }
  }

  void fail(Error e) {
    ++errors;
    if (on_problem)
      on_problem(EventLogProblem{EventLogProblem::Kind::kMaintenanceFailed, std::move(e)});
  }
};

EventLogWriter::EventLogWriter(uv_loop_t* loop, EventLogWriterOptions options)
    : loop_(loop),
      options_(std::move(options)),
      ops_(options_.env ? *options_.env : Env::real()),
      index_(std::make_shared<SeqIndex>(options_.index_stride)),
      maintenance_(std::make_shared<Maintenance>()) {
  maintenance_->loop = loop_;
  maintenance_->dir = options_.dir;
  maintenance_->keep = options_.keep;
  maintenance_->on_problem = options_.on_problem;
}

Result<std::unique_ptr<EventLogWriter>> EventLogWriter::open(uv_loop_t* loop,
                                                             EventLogWriterOptions options) {
  while (options.dir.size() > 1 && options.dir.back() == '/') options.dir.pop_back();
  if (options.dir.empty()) return make_error("event log dir is empty");
  if (Status s = make_dirs(options.dir, 0700); !s) return s.error();
  auto segments = list_log_segments(options.dir);
  if (!segments) return segments.error();

  std::unique_ptr<EventLogWriter> w(new EventLogWriter(loop, std::move(options)));
  w->next_segment_ = highest_log_segment_number(*segments) + 1;
  const std::string path = live_log_path(w->options_.dir);
  w->fd_.reset(w->ops_.open(path.c_str(), kLiveFlags, 0600));
  if (!w->fd_) return errno_error("cannot open", path, errno);
  struct stat st;
  if (::fstat(w->fd_.get(), &st) != 0) return errno_error("cannot stat", path, errno);
  w->file_size_ = static_cast<std::uint64_t>(st.st_size);

  if (w->file_size_ > 0) {
    // A previous writer died mid-line: end that line so it stays one corrupt record
    // instead of gluing itself to our first one.
    const UniqueFd rfd(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
    char last = '\n';
    if (rfd && ::pread(rfd.get(), &last, 1, static_cast<off_t>(w->file_size_ - 1)) != 1)
      last = '\n';
    if (last != '\n') {
      std::size_t written = 0;
      if (const int err = w->write_fully("\n", 1, written); err != 0)
        return errno_error("cannot repair torn last line of", path, err);
      w->file_size_ += 1;
      w->stats_.bytes_written += 1;
      w->stats_.repaired_torn_tail = true;
    }
  }

  // What the writer appends from here on, it indexes itself; what was there
  // before is sampled on the pool.
  w->index_->restart_segment(w->next_segment_, w->file_size_, true);
  if (w->file_size_ > 0 || !segments->empty())
    Maintenance::sample(w->maintenance_, w->index_, *segments, w->next_segment_, w->file_size_,
                        w->options_.index_stride);
  for (const LogSegment& seg : *segments)
    if (seg.has_plain) Maintenance::enqueue(w->maintenance_, seg.number);
  return w;
}

EventLogWriter::~EventLogWriter() {
  backlog_ += staged_;
  if (!backlog_.empty() && ensure_open()) {
    std::size_t written = 0;
    write_fully(backlog_.data(), backlog_.size(), written);
  }
  fd_.reset();
  maintenance_->on_problem = nullptr;
}

Status EventLogWriter::append(const Event& e) {
  if (staged_.empty()) return write_lines(to_json_line(e));
  append_json_line(staged_, e);
  return commit();
}

void EventLogWriter::stage(const Event& e) {
  append_json_line(staged_, e);
  if (staged_.size() >= options_.max_staged_bytes) {
    (void)commit();  // a failure is reported through on_problem; the lines wait in the backlog
    return;
  }
  if (!commit_timer_) {
    commit_timer_ = std::make_unique<uvx::Timer>(loop_, [this] { (void)commit(); });
  }
  if (!commit_timer_->active()) commit_timer_->start(0);
}

Status EventLogWriter::commit() {
  if (commit_timer_) commit_timer_->stop();
  if (staged_.empty()) return Status::Ok();
  // The lines leave staged_ before they are written: a report written from
  // inside write_lines (on_problem) stages into an empty buffer, never into
  // the one being written. The buffer comes back afterwards, so a storm of
  // events does not grow a new one each loop turn.
  std::string lines = std::exchange(staged_, std::string());
  Status s = write_lines(lines);
  if (staged_.empty()) {
    lines.clear();
    staged_.swap(lines);
  }
  return s;
}

Status EventLogWriter::append_many(std::span<const Event> events) {
  if (events.empty()) return commit();
  std::string buf = std::exchange(staged_, std::string());
  for (const Event& e : events) append_json_line(buf, e);
  return write_lines(buf);
}

Status EventLogWriter::flush_backlog() {
  Status s = drain_backlog();
  if (s) maybe_rotate();
  emit_reports();
  return s;
}

EventLogWriterStats EventLogWriter::stats() const {
  EventLogWriterStats s = stats_;
  s.backlog_bytes = backlog_.size();
  s.compressed_segments = maintenance_->compressed;
  s.pruned_segments = maintenance_->pruned;
  s.maintenance_errors = maintenance_->errors;
  return s;
}

std::size_t EventLogWriter::pending_work() const {
  return maintenance_->pending();
}

Status EventLogWriter::write_lines(std::string_view data) {
  // Keep the order of appends: older bytes waiting in the backlog go first.
  Status s = drain_backlog();
  if (!s) {
    hold_in_backlog(data);
    emit_reports();
    return s;
  }
  if (s = ensure_open(); !s) {
    hold_in_backlog(data);
    emit_reports();
    return s;
  }
  std::size_t written = 0;
  const int err = write_fully(data.data(), data.size(), written);
  note_written(data.substr(0, written));
  if (err != 0) {
    Error e = errno_error("cannot write to", live_log_path(options_.dir), err);
    if (!write_failing_) report(EventLogProblem::Kind::kWriteFailed, e);
    hold_in_backlog(data.substr(written));
    emit_reports();
    return e;
  }
  note_recovered();
  crash_point("events-written");
  maybe_rotate();
  emit_reports();
  return Status::Ok();
}

int EventLogWriter::write_fully(const char* data, std::size_t len, std::size_t& written) {
  written = 0;
  // A short write to a regular file means the disk is (nearly) full; looping makes
  // the next write() return the real errno (ENOSPC), which is what gets counted.
  while (written < len) {
    const ssize_t n = ops_.write(fd_.get(), data + written, len - written);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) {
      const int err = n < 0 ? errno : EIO;
      ++stats_.write_errors;
      return err;
    }
    written += static_cast<std::size_t>(n);
  }
  return 0;
}

Status EventLogWriter::drain_backlog() {
  if (backlog_.empty()) return Status::Ok();
  const std::string path = live_log_path(options_.dir);
  if (Status s = ensure_open(); !s) return s;
  std::size_t written = 0;
  const int err = write_fully(backlog_.data(), backlog_.size(), written);
  note_written(std::string_view(backlog_).substr(0, written));
  backlog_.erase(0, written);
  if (err != 0) return errno_error("cannot write to", path, err);
  note_recovered();
  return Status::Ok();
}

void EventLogWriter::note_recovered() {
  if (!write_failing_ || !backlog_.empty()) return;
  write_failing_ = false;
  std::string msg = "writes to " + live_log_path(options_.dir) + " work again";
  if (dropped_this_episode_)
    msg += "; " + std::to_string(stats_.dropped_lines) + " line(s) dropped so far";
  dropped_this_episode_ = false;
  report(EventLogProblem::Kind::kWriteRecovered, make_error(std::move(msg)));
}

void EventLogWriter::hold_in_backlog(std::string_view unwritten) {
  if (unwritten.empty()) return;
  write_failing_ = true;  // the caller has reported the failure that brought us here
  std::size_t keep = 0;
  if (backlog_.empty()) {
    // If the head is the rest of a line whose start is already on disk, it must be
    // kept whatever its size: dropping it would glue two records together.
    const std::size_t nl = unwritten.find('\n');
    keep = nl == std::string_view::npos ? unwritten.size() : nl + 1;
  }
  // Then whole lines while they fit.
  while (keep < unwritten.size()) {
    const std::size_t nl = unwritten.find('\n', keep);
    const std::size_t end = nl == std::string_view::npos ? unwritten.size() : nl + 1;
    if (backlog_.size() + end > options_.max_backlog_bytes) break;
    keep = end;
  }
  backlog_.append(unwritten.substr(0, keep));
  const std::string_view dropped = unwritten.substr(keep);
  if (!dropped.empty()) {
    stats_.dropped_lines += count_lines(dropped);
    if (!dropped_this_episode_) {
      dropped_this_episode_ = true;
      report(EventLogProblem::Kind::kLinesDropped,
             make_error("event log backlog full (" + std::to_string(options_.max_backlog_bytes) +
                        " bytes) while " + live_log_path(options_.dir) +
                        " is not writable: dropping lines"));
    }
  }
}

void EventLogWriter::note_written(std::string_view bytes) {
  index_->note_appended(next_segment_, file_size_, bytes);
  stats_.bytes_written += bytes.size();
  stats_.lines_written += count_lines(bytes);
  file_size_ += bytes.size();
}

Status EventLogWriter::ensure_open() {
  if (fd_) return Status::Ok();
  const std::string path = live_log_path(options_.dir);
  fd_.reset(ops_.open(path.c_str(), kLiveFlags, 0600));
  if (!fd_) {
    Error e = errno_error("cannot open", path, errno);
    if (!write_failing_) report(EventLogProblem::Kind::kWriteFailed, e);
    write_failing_ = true;
    return e;
  }
  struct stat st;
  file_size_ = ::fstat(fd_.get(), &st) == 0 ? static_cast<std::uint64_t>(st.st_size) : 0;
  // Perhaps another file than the one indexed under this number (removed by
  // hand meanwhile): start its index afresh.
  index_->restart_segment(next_segment_, file_size_, false);
  return Status::Ok();
}

void EventLogWriter::maybe_rotate() {
  // Only between whole lines: with bytes still in the backlog the file may end
  // mid-line, and the rest of that line must land in the same file.
  if (!fd_ || !backlog_.empty() || file_size_ < options_.max_bytes) return;
  const std::string live = live_log_path(options_.dir);
  const std::string rotated = log_segment_path(options_.dir, next_segment_, SegmentForm::kPlain);
  if (ops_.rename(live.c_str(), rotated.c_str()) != 0) {
    Error e = errno_error("cannot rotate " + live + " to", rotated, errno);
    if (!rotate_failing_) report(EventLogProblem::Kind::kRotateFailed, std::move(e));
    rotate_failing_ = true;  // keep appending to the big file; retry after the next append
    return;
  }
  rotate_failing_ = false;
  ++stats_.rotations;
  const std::uint64_t number = next_segment_++;
  // Pruning keeps the newest `keep` segments: the index forgets the others now.
  index_->forget_segments_below(next_segment_ > options_.keep ? next_segment_ - options_.keep : 0);
  // Never write to the renamed file again: it is about to be compressed.
  fd_.reset();
  file_size_ = 0;
  // If the new file cannot be opened, ensure_open() has reported it; lines wait in
  // the backlog and every append retries the open.
  (void)ensure_open();
  Maintenance::enqueue(maintenance_, number);
}

void EventLogWriter::report(EventLogProblem::Kind kind, Error error) {
  reports_.push_back(EventLogProblem{kind, std::move(error)});
}

void EventLogWriter::emit_reports() {
  if (reports_.empty() || !options_.on_problem) {
    reports_.clear();
    return;
  }
  // Swap out first: the callback may append again and queue new reports.
  std::vector<EventLogProblem> pending;
  pending.swap(reports_);
  for (const EventLogProblem& p : pending) options_.on_problem(p);
}

}  // namespace aw
