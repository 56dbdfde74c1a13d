#include "watchers/logtail/log_tailer.h"

#include <fcntl.h>
#include <sys/inotify.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <deque>
#include <exception>

#include "src/core/event_kinds.h"
#include "src/os/errno_text.h"
#include "src/os/unique_fd.h"
#include "watchers/logtail/line_scanner.h"

namespace aw {
namespace {

// Writes and closes show the file grew; creations, moves and deletions of the
// name show a rotation. DELETE_SELF / MOVE_SELF / IGNORED of the directory
// itself are reported whatever the mask.
constexpr std::uint32_t kDirMask = IN_MODIFY | IN_CLOSE_WRITE | IN_MOVED_FROM | IN_MOVED_TO |
                                   IN_CREATE | IN_DELETE | IN_DELETE_SELF | IN_MOVE_SELF |
                                   IN_ONLYDIR;
constexpr std::uint32_t kNameChange = IN_MOVED_FROM | IN_MOVED_TO | IN_CREATE | IN_DELETE;
// Renames of the name whose destination is awaited, and finished files
// remembered (so a late IN_MOVED_TO never makes us read a file twice).
constexpr std::size_t kMaxPendingMoves = 8;
constexpr std::size_t kMaxFinished = 16;

}  // namespace

struct LogTailer::OpenFile {
  UniqueFd fd;
  std::int64_t dev = 0;
  std::int64_t inode = 0;
  std::int64_t pos = 0;  // next byte to read

  OpenFile(UniqueFd f, const struct stat& st, std::int64_t p)
      : fd(std::move(f)),
        dev(static_cast<std::int64_t>(st.st_dev)),
        inode(static_cast<std::int64_t>(st.st_ino)),
        pos(p) {}
  OpenFile(const OpenFile&) = delete;
  OpenFile& operator=(const OpenFile&) = delete;
  bool same(const struct stat& st) const {
    return dev == static_cast<std::int64_t>(st.st_dev) &&
           inode == static_cast<std::int64_t>(st.st_ino);
  }
  bool deleted() const {
    struct stat st;
    return fstat(fd.get(), &st) == 0 && st.st_nlink == 0;
  }
  std::int64_t size() const {
    struct stat st;
    return fstat(fd.get(), &st) == 0 ? static_cast<std::int64_t>(st.st_size) : -1;
  }
};

struct LogTailer::Log {
  Log(LogSpec s, LineMatcher m)
      : spec(std::move(s)), matcher(std::move(m)), scanner(matcher, spec.max_line_bytes) {}

  LogSpec spec;
  LineMatcher matcher;
  LineScanner scanner;  // holds the partial line of the front file
  std::string dir, base;
  int wd = -1;
  bool active = false;
  bool watch_lost = false;

  // The file at the name, and the files rotated away from it that are still
  // being read (oldest first). Only the front one (draining.front(), else
  // current) is ever read: lines come out in the order they were written.
  std::unique_ptr<OpenFile> current;
  std::deque<std::unique_ptr<OpenFile>> draining;
  OpenFile* front() const { return draining.empty() ? current.get() : draining.front().get(); }

  // Renames away from the name whose IN_MOVED_TO (the new name) is still to
  // come, by cookie; and the files already read to their end and closed
  // (dev, inode), newest last. Both bounded.
  std::vector<std::uint32_t> moved_cookies;
  std::deque<std::pair<std::int64_t, std::int64_t>> finished;
  bool known(const struct stat& st) const {
    if (current && current->same(st)) return true;
    for (const auto& f : draining)
      if (f->same(st)) return true;
    for (const auto& [dev, ino] : finished)
      if (dev == static_cast<std::int64_t>(st.st_dev) &&
          ino == static_cast<std::int64_t>(st.st_ino))
        return true;
    return false;
  }

  std::int64_t lines_done = 0;  // complete lines of the front file handled
  bool line_no_known = false;   // the front file was read from its start (or resumed knowing)
  bool want_read = false;

  MonoTime last_growth{};
  bool stalled = false;
  std::string last_error;  // the same error is reported once, until things recover
};

LogTailer::LogTailer(uv_loop_t* loop, const Clock& clock, std::function<void(Event)> emit,
                     Options options)
    : loop_(loop), clock_(clock), emit_(std::move(emit)), options_(options), alarm_(loop, [this] {
        on_alarm();
      }) {
  if (uv_idle_init(loop, resume_.get()) == 0) resume_.initialized(this);
  if (options_.read_chunk_bytes == 0) options_.read_chunk_bytes = 64 * 1024;
  if (options_.max_read_bytes_per_tick == 0) options_.max_read_bytes_per_tick = 1;
  read_buf_.resize(options_.read_chunk_bytes);
}

LogTailer::~LogTailer() {
  stop();
}

// ---------------------------------------------------------------- registration

Status LogTailer::validate(const LogSpec& spec) const {
  if (spec.name.empty())
    return make_error("log " + spec.path + ": empty name (expected a unique log name)");
  const std::string what = "log '" + spec.name + "'";
  for (const auto& l : logs_)
    if (l->spec.name == spec.name)
      return make_error(what + ": duplicate log name (already tails " + l->spec.path + ")");
  const std::string& p = spec.path;
  if (p.empty() || p[0] != '/')
    return make_error(what + ": path '" + p + "' is not absolute (expected /dir/file.log)");
  if (p.back() == '/')
    return make_error(what + ": path '" + p + "' ends in '/' (expected a file, not a directory)");
  const std::string base = p.substr(p.find_last_of('/') + 1);
  if (base == "." || base == ".." || p.find("/../") != std::string::npos ||
      p.find("/./") != std::string::npos)
    return make_error(what + ": path '" + p +
                      "' has '.' or '..' components (expected a plain path)");
  if (spec.max_line_bytes == 0)
    return make_error(what + ": max_line_bytes is 0 (expected at least 1)");
  if (spec.stall_after < Duration::zero())
    return make_error(what + ": stall_after is negative (expected 0 = off, or a duration)");
  return Status::Ok();
}

Status LogTailer::add_file(LogSpec spec) {
  if (stopped_) return make_error("log '" + spec.name + "': the tailer is stopped");
  if (Status s = validate(spec); !s.ok()) return s;
  auto matcher = LineMatcher::compile(spec.patterns, "log '" + spec.name + "'");
  if (!matcher.ok()) return matcher.error();
  if (!source_) {
    InotifySource::Callbacks cb;
    cb.on_records = [this](std::span<const InotifyRecord> records) {
      for (const auto& rec : records) {
        if (stopped_) return;
        handle(rec);
      }
    };
    cb.on_malformed = [this](const std::string&) {
      InotifyRecord overflow;  // lost sync with the queue: like an overflow
      overflow.overflow = true;
      handle(overflow);
    };
    cb.on_error = [this](const char* what, int err) {
      const std::string text = std::strcmp(what, "poll") == 0
                                   ? std::string("inotify: ") + uv_strerror(-err)
                                   : std::string("read: ") + errno_text(err);
      for (auto& l : logs_)
        report_error(*l, std::strcmp(what, "poll") == 0 ? "poll" : "inotify", text);
    };
    cb.on_drained = [this] {
      read_wanted();
      rearm();
    };
    auto source = InotifySource::open(loop_, std::move(cb));
    if (!source.ok())
      return make_error("log '" + spec.name + "': " + source.error().message, source.error().code);
    source_ = std::move(source.value());
    if (started_) source_->start();
  }
  auto log = std::make_unique<Log>(std::move(spec), std::move(matcher.value()));
  const std::size_t slash = log->spec.path.find_last_of('/');
  log->dir = slash == 0 ? "/" : log->spec.path.substr(0, slash);
  log->base = log->spec.path.substr(slash + 1);
  auto wd = watch_dir(log->dir);
  if (!wd.ok())
    return make_error("log '" + log->spec.name + "': " + wd.error().message, wd.error().code);
  log->wd = *wd;
  dirs_[log->wd].logs.push_back(log.get());
  Log& raw = *log;
  logs_.push_back(std::move(log));
  if (started_) {
    activate(raw);
    read_wanted();
    rearm();
  }
  return Status::Ok();
}

Result<int> LogTailer::watch_dir(const std::string& dir) {
  const int wd = source_->add_watch(dir.c_str(), kDirMask);
  if (wd < 0) {
    const int err = -wd;
    std::string hint;
    if (err == ENOENT) hint = " (expected the log's directory to exist)";
    if (err == ENOTDIR) hint = " (expected a directory)";
    if (err == ENOSPC) hint = " (fs.inotify.max_user_watches reached)";
    return make_error("cannot watch directory " + dir + ": " + errno_text(err) + hint, -err);
  }
  dirs_[wd].path = dir;  // the same directory twice gives the same wd
  return wd;
}

void LogTailer::unwatch_dir(Log& log) {
  auto it = dirs_.find(log.wd);
  if (it == dirs_.end()) return;
  auto& v = it->second.logs;
  v.erase(std::remove(v.begin(), v.end(), &log), v.end());
  if (v.empty()) {
    if (!log.watch_lost) source_->rm_watch(log.wd);
    dirs_.erase(it);
  }
  log.wd = -1;
}

Status LogTailer::remove_file(std::string_view name) {
  for (auto it = logs_.begin(); it != logs_.end(); ++it) {
    Log& l = **it;
    if (l.spec.name != name) continue;
    save_offset(l);
    unwatch_dir(l);
    logs_.erase(it);
    next_reader_ = 0;
    rearm();
    return Status::Ok();
  }
  return make_error("log '" + std::string(name) + "': not tailed (expected a registered log name)");
}

void LogTailer::start() {
  if (started_ || stopped_) return;
  started_ = true;
  if (source_) {
    if (int rc = source_->start(); rc != 0)
      for (auto& l : logs_) report_error(*l, "poll", std::string("inotify: ") + uv_strerror(rc));
  }
  for (auto& l : logs_) activate(*l);
  read_wanted();
  rearm();
}

void LogTailer::stop() {
  if (stopped_) return;
  for (auto& l : logs_) save_offset(*l);
  stopped_ = true;
  alarm_.stop();
  alarm_due_.reset();
  if (resume_active_) uv_idle_stop(resume_.get());
  resume_active_ = false;
  // Closed, not destroyed: stop() may run inside the source's own callback.
  if (source_) source_->close();
  dirs_.clear();
  for (auto& l : logs_) {
    l->current.reset();
    l->draining.clear();
  }
}

void LogTailer::activate(Log& log) {
  if (log.active) return;
  log.active = true;
  log.last_growth = clock_.mono();
  open_initial(log);
  log.want_read = true;
}

// ---------------------------------------------------------------- opening

UniqueFd LogTailer::open_regular(Log& log, struct stat& st) {
  // O_NONBLOCK: a FIFO at the name must not block the loop in open().
  UniqueFd fd(::open(log.spec.path.c_str(), O_RDONLY | O_CLOEXEC | O_NONBLOCK | O_NOCTTY));
  if (!fd) {
    const int err = errno;
    if (err != ENOENT) report_error(log, "open", log.spec.path + ": " + errno_text(err));
    return {};
  }
  if (fstat(fd.get(), &st) != 0 || !S_ISREG(st.st_mode)) {
    fd.reset();
    report_error(log, "open", log.spec.path + ": not a regular file (expected a log file)");
    return {};
  }
  log.last_error.clear();
  return fd;
}

void LogTailer::open_initial(Log& log) {
  struct stat st;
  UniqueFd fd = open_regular(log, st);
  if (!fd) return;  // read from 0 when it appears
  const std::int64_t size = st.st_size;
  std::optional<LogOffset> stored;
  if (options_.offsets) stored = options_.offsets->get(log.spec.name);
  std::int64_t pos = 0;
  log.lines_done = 0;
  log.line_no_known = true;
  log.scanner.splitter().reset();
  if (stored && stored->dev == static_cast<std::int64_t>(st.st_dev) &&
      stored->inode == static_cast<std::int64_t>(st.st_ino)) {
    if (size >= stored->offset) {
      pos = stored->offset;
      log.lines_done = stored->line_no;
      log.line_no_known = stored->offset == 0 || stored->line_no > 0;
      if (stored->skipping) log.scanner.splitter().skip_to_newline();
    } else {
      // Truncated while we were away: everything in it is new.
      ++stats_.truncations;
      Event e = make_event(kind::kLogRotated, log);
      e.fields.set("how", "truncate");
      e.fields.set("old_size", stored->offset);
      emit(std::move(e));
    }
  } else if (!stored && !log.spec.from_start) {
    // First sight: the log's past is not news. Start at the end; if the last
    // line is still being written, skip the rest of it.
    pos = size;
    log.line_no_known = size == 0;
    char last = '\n';
    if (size > 0 && pread(fd.get(), &last, 1, size - 1) == 1 && last != '\n')
      log.scanner.splitter().skip_to_newline();
  }
  // (A stored offset for another file: replaced while we were away, read from 0.)
  log.current = std::make_unique<OpenFile>(std::move(fd), st, pos);
}

void LogTailer::reconcile(Log& log) {
  struct stat st;
  UniqueFd fd = open_regular(log, st);
  if (!fd) {
    if (log.current) rotate_away(log);
    return;
  }
  if (log.current && log.current->same(st)) return;
  if (log.current) rotate_away(log);
  // A new file at the name: all of it is new. It is read once the rotated
  // files before it are finished.
  log.current = std::make_unique<OpenFile>(std::move(fd), st, 0);
  if (log.draining.empty()) {
    log.scanner.splitter().reset();
    log.lines_done = 0;
    log.line_no_known = true;
  }
}

void LogTailer::adopt_moved(Log& log, const std::string& new_name) {
  // A file just renamed away from the name. Usually the one being read (the
  // rename was handled when IN_MOVED_FROM came); but when we fell behind by
  // more than one rotation, it is a generation that came and went before we
  // looked at the name: read it now, after the files rotated away before it
  // and before the one at the name. Only while nothing newer has been read
  // yet (the order of lines, and the held partial line, belong to the front).
  const bool safe = !log.draining.empty() || !log.current ||
                    (log.current->pos == 0 && log.scanner.splitter().held() == 0);
  if (!safe) return;
  const std::string path = (log.dir == "/" ? "" : log.dir) + "/" + new_name;
  UniqueFd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NONBLOCK | O_NOCTTY));
  if (!fd) return;  // moved on again or deleted: nothing left to read
  struct stat st;
  if (fstat(fd.get(), &st) != 0 || !S_ISREG(st.st_mode) || log.known(st)) return;
  ++stats_.rotations;
  Event e = make_event(kind::kLogRotated, log);
  e.fields.set("how", "rename");
  e.fields.set("old_size", static_cast<std::int64_t>(st.st_size));
  if (log.draining.empty() && !log.current) {
    log.scanner.splitter().reset();
    log.lines_done = 0;
    log.line_no_known = true;
  }
  log.draining.push_back(std::make_unique<OpenFile>(std::move(fd), st, 0));
  log.want_read = true;
  emit(std::move(e));
}

void LogTailer::rotate_away(Log& log) {
  ++stats_.rotations;
  Event e = make_event(kind::kLogRotated, log);
  e.fields.set("how", "rename");
  e.fields.set("old_size", log.current->size());
  log.draining.push_back(std::move(log.current));
  emit(std::move(e));
}

// ---------------------------------------------------------------- reading

void LogTailer::handle(const InotifyRecord& rec) {
  if (rec.overflow) {
    // Events were lost: look at every name and read every file again.
    ++stats_.overflows;
    for (auto& l : logs_) {
      if (!l->active) continue;
      reconcile(*l);
      l->want_read = true;
    }
    return;
  }
  auto it = dirs_.find(rec.wd);
  if (it == dirs_.end()) return;
  // A copy: reconcile() and report_error() emit, but do not change the list.
  const std::vector<Log*> logs = it->second.logs;
  if (rec.ignored || rec.unmount || (rec.mask & (IN_DELETE_SELF | IN_MOVE_SELF))) {
    // The directory itself went away: the watch is gone (or about to be).
    // Open files are still read to their end; nothing new will be seen.
    const char* why = rec.unmount                      ? "its file system was unmounted"
                      : (rec.mask & IN_MOVE_SELF) != 0 ? "it was moved"
                                                       : "it was deleted";
    for (Log* l : logs) {
      if (l->watch_lost) continue;
      l->watch_lost = true;
      report_error(*l, "watch",
                   "directory " + it->second.path + " is no longer watched: " + why +
                       " (re-add the log once the directory exists again)");
      l->want_read = true;
    }
    if (rec.ignored || rec.unmount) dirs_.erase(it);
    return;
  }
  for (Log* l : logs) {
    if (!l->active) continue;
    // Any activity in the directory may be a rotated-away file still being
    // written under its new name: worth one read.
    if (!l->draining.empty()) l->want_read = true;
    if ((rec.mask & IN_MOVED_TO) && rec.cookie != 0) {
      auto it = std::find(l->moved_cookies.begin(), l->moved_cookies.end(), rec.cookie);
      if (it != l->moved_cookies.end()) {
        l->moved_cookies.erase(it);
        adopt_moved(*l, rec.name);
      }
    }
    if (rec.name != l->base) continue;
    if ((rec.mask & IN_MOVED_FROM) && rec.cookie != 0) {
      if (l->moved_cookies.size() >= kMaxPendingMoves)
        l->moved_cookies.erase(l->moved_cookies.begin());
      l->moved_cookies.push_back(rec.cookie);
    }
    if (rec.mask & kNameChange) reconcile(*l);
    l->want_read = true;
  }
}

void LogTailer::read_wanted() {
  if (stopped_ || logs_.empty()) return;
  std::size_t budget = options_.max_read_bytes_per_tick;
  const std::size_t n = logs_.size();
  if (next_reader_ >= n) next_reader_ = 0;
  for (std::size_t i = 0; i < n && budget > 0 && !stopped_; ++i) {
    Log& l = *logs_[(next_reader_ + i) % n];
    if (l.want_read && l.active) pump(l, budget);
  }
  if (budget == 0) {
    ++stats_.deferred_reads;
    next_reader_ = (next_reader_ + 1) % n;  // the next tick starts with someone else
  }
}

bool LogTailer::later_file_has_data(const Log& log) const {
  for (std::size_t i = 1; i < log.draining.size(); ++i)
    if (log.draining[i]->size() > 0) return true;
  return log.current && log.current->size() > 0;
}

void LogTailer::pump(Log& log, std::size_t& budget) {
  bool grew = false;
  while (budget > 0 && !stopped_) {
    OpenFile* f = log.front();
    if (f == nullptr) {
      log.want_read = false;
      break;
    }
    const bool rotated = !log.draining.empty();
    // Asked BEFORE the read that may hit the old file's end: if a newer file
    // already holds data, the writer had finished with this one by then, so
    // that read sees all of it.
    const bool writer_moved_on = rotated && later_file_has_data(log);
    const std::size_t want = std::min(budget, read_buf_.size());
    const ssize_t n = pread(f->fd.get(), read_buf_.data(), want, f->pos);
    if (n < 0) {
      if (errno == EINTR) continue;
      report_error(log, "read", log.spec.path + ": " + errno_text(errno));
      if (rotated) {
        finish_front(log);
        continue;
      }
      log.want_read = false;
      break;
    }
    if (n > 0) {
      f->pos += n;
      budget -= static_cast<std::size_t>(n);
      stats_.bytes_read += static_cast<std::uint64_t>(n);
      if (!grew) {
        grew = true;
        note_growth(log, clock_.mono());  // log.resumed comes before the new lines
      }
      log.scanner.feed(std::string_view(read_buf_.data(), static_cast<std::size_t>(n)),
                       [&](std::string_view line, bool truncated, const std::vector<int>& hits) {
                         on_line(log, line, truncated, false, hits);
                       });
      // A short read of the current file is its end for now: the next write
      // brings an inotify event, so the extra read() that would return 0 is
      // saved. A rotated file is read to a true end (0).
      if (!rotated && static_cast<std::size_t>(n) < want) {
        log.want_read = false;
        break;
      }
      continue;
    }
    // End of file.
    if (rotated) {
      if (writer_moved_on || f->deleted()) {
        // A deleted file is let go at its end too: holding it open would keep
        // its disk space (and its directory) alive for as long as no new file
        // appears at the name.
        finish_front(log);
        continue;
      }
      log.want_read = false;  // more may come under its new name; any dir event re-reads
      break;
    }
    const std::int64_t size = f->size();
    if (size >= 0 && size < f->pos) {
      on_truncated(log, size);
      continue;
    }
    log.want_read = false;
    break;
  }
  save_offset(log);
}

void LogTailer::finish_front(Log& log) {
  // The file ended without a final '\n' (the writer died mid-line, or wrote
  // its last bytes before the rotation): those bytes are still a line.
  log.scanner.flush([&](std::string_view line, bool truncated, const std::vector<int>& hits) {
    on_line(log, line, truncated, true, hits);
  });
  const OpenFile& done = *log.draining.front();
  if (log.finished.size() >= kMaxFinished) log.finished.pop_front();
  log.finished.emplace_back(done.dev, done.inode);
  log.draining.pop_front();
  log.scanner.splitter().reset();
  log.lines_done = 0;
  log.line_no_known = true;
}

void LogTailer::on_truncated(Log& log, std::int64_t new_size) {
  (void)new_size;
  ++stats_.truncations;
  log.scanner.flush([&](std::string_view line, bool truncated, const std::vector<int>& hits) {
    on_line(log, line, truncated, true, hits);
  });
  Event e = make_event(kind::kLogRotated, log);
  e.fields.set("how", "truncate");
  e.fields.set("old_size", log.current->pos);
  log.current->pos = 0;
  log.scanner.splitter().reset();
  log.lines_done = 0;
  log.line_no_known = true;
  emit(std::move(e));
}

void LogTailer::on_line(Log& log, std::string_view line, bool truncated, bool unterminated,
                        const std::vector<int>& hits) {
  ++log.lines_done;
  ++stats_.lines;
  if (truncated) ++stats_.truncated_lines;
  if (hits.empty()) return;
  ++stats_.matched_lines;
  for (int index : hits) {
    Event e = make_event(kind::kLogLine, log);
    e.fields.set("pattern", log.matcher.id(index));
    e.fields.set("line", std::string(line));
    if (log.line_no_known) e.fields.set("line_no", log.lines_done);
    if (truncated) e.fields.set("truncated", true);
    if (unterminated) e.fields.set("unterminated", true);
    log.matcher.add_captures(index, line, e.fields);
    emit(std::move(e));
    if (stopped_) return;
  }
}

void LogTailer::save_offset(Log& log) {
  if (!options_.offsets || !log.current) return;
  const OpenFile& f = *log.current;
  LogOffset o;
  o.dev = f.dev;
  o.inode = f.inode;
  if (log.draining.empty()) {
    // The held partial line is not done: it is read again after a restart.
    o.offset = f.pos - static_cast<std::int64_t>(log.scanner.splitter().held());
    o.skipping = log.scanner.splitter().skipping();
    o.line_no = log.line_no_known ? log.lines_done : 0;
  } else {
    o.offset = f.pos;  // not read yet (0): older files come first
  }
  options_.offsets->put(log.spec.name, o);
}

// ---------------------------------------------------------------- stalls, alarm

void LogTailer::note_growth(Log& log, MonoTime now) {
  const Duration silent = now - log.last_growth;
  log.last_growth = now;
  if (!log.stalled) return;
  log.stalled = false;
  Event e = make_event(kind::kLogResumed, log);
  e.fields.set("since_ms", static_cast<std::int64_t>(to_ms(silent)));
  e.fields.set("size", log.current ? log.current->size() : std::int64_t{0});
  emit(std::move(e));
}

void LogTailer::check_stalls(MonoTime now) {
  for (std::size_t i = 0; i < logs_.size() && !stopped_; ++i) {
    Log& l = *logs_[i];
    if (!l.active || l.stalled || l.spec.stall_after <= Duration::zero()) continue;
    if (now < l.last_growth + l.spec.stall_after) continue;
    // A write whose inotify event is still queued (or was lost) is growth,
    // not a stall: read once more before deciding.
    l.want_read = true;
    std::size_t budget = options_.max_read_bytes_per_tick;
    pump(l, budget);
    if (now < l.last_growth + l.spec.stall_after) continue;
    l.stalled = true;
    Event e = make_event(kind::kLogStalled, l);
    e.fields.set("since_ms", static_cast<std::int64_t>(to_ms(now - l.last_growth)));
    e.fields.set("size", l.current ? l.current->size() : std::int64_t{0});
    emit(std::move(e));
  }
}

void LogTailer::rearm() {
  if (stopped_) return;
  // Deferred reads: the idle handle, once per iteration while any remain.
  const bool pending = reads_pending();
  if (pending && !resume_active_ && resume_.live()) {
    uv_idle_start(resume_.get(), [](uv_idle_t* h) noexcept {
      auto* self = static_cast<LogTailer*>(h->data);
      if (self == nullptr) return;
      try {
        self->on_resume();
      } catch (const std::exception& e) {  // nothing may unwind through libuv
        std::fprintf(stderr, "agentwatch: uncaught exception in log tailer: %s\n", e.what());
      } catch (...) {
        std::fprintf(stderr, "agentwatch: uncaught exception in log tailer\n");
      }
    });
    resume_active_ = true;
  } else if (!pending && resume_active_) {
    uv_idle_stop(resume_.get());
    resume_active_ = false;
  }
  // Stall deadlines: the one timer.
  std::optional<MonoTime> due;
  for (const auto& l : logs_) {
    if (!l->active || l->stalled || l->spec.stall_after <= Duration::zero()) continue;
    const MonoTime d = l->last_growth + l->spec.stall_after;
    if (!due || d < *due) due = d;
  }
  if (!due) {
    alarm_.stop();
    alarm_due_.reset();
    return;
  }
  // Growth only moves deadlines later, so an alarm already set earlier stays:
  // it re-arms for the true deadline when it fires. A busy log thus costs no
  // timer call per read.
  if (alarm_.active() && alarm_due_ && *alarm_due_ <= *due) return;
  const MonoTime now = clock_.mono();
  const Duration wait = *due > now ? *due - now : Duration::zero();
  alarm_due_ = due;
  alarm_.start(
      static_cast<std::uint64_t>(std::chrono::ceil<std::chrono::milliseconds>(wait).count()));
}

void LogTailer::on_alarm() {
  alarm_due_.reset();
  if (stopped_) return;
  check_stalls(clock_.mono());
  rearm();
}

void LogTailer::on_resume() {
  if (stopped_) return;
  read_wanted();
  rearm();
}

// ---------------------------------------------------------------- events

Event LogTailer::make_event(std::string_view kind, const Log& log) const {
  Event e;
  e.kind = kind;
  e.source = "logtail";
  e.time = clock_.wall();
  e.path = log.spec.path;
  e.entity = log.spec.entity;
  e.fields.set("log", log.spec.name);
  return e;
}

void LogTailer::report_error(Log& log, const char* op, const std::string& error) {
  if (log.last_error == error) return;  // once, not once per directory event
  log.last_error = error;
  ++stats_.errors;
  Event e = make_event(kind::kLogError, log);
  e.fields.set("op", op);
  e.fields.set("error", error);
  emit(std::move(e));
}

void LogTailer::emit(Event e) {
  if (stopped_) return;
  ++stats_.events;
  emit_(std::move(e));
}

// ---------------------------------------------------------------- queries

LogTailStats LogTailer::stats() const {
  LogTailStats s = stats_;
  s.logs = logs_.size();
  s.open_files = 0;
  s.set_fallbacks = 0;
  for (const auto& l : logs_) {
    s.open_files += (l->current ? 1 : 0) + l->draining.size();
    s.set_fallbacks += l->matcher.set_fallbacks();
  }
  return s;
}

std::optional<std::int64_t> LogTailer::position(std::string_view name) const {
  for (const auto& l : logs_)
    if (l->spec.name == name) {
      if (!l->current) return std::nullopt;
      return l->current->pos;
    }
  return std::nullopt;
}

bool LogTailer::reads_pending() const {
  for (const auto& l : logs_)
    if (l->want_read && l->active) return true;
  return false;
}

}  // namespace aw
