#include "watchers/notify/notify_spool.h"

#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <thread>
#include <unordered_set>

#include "src/core/event_kinds.h"
#include "src/os/errno_text.h"
#include "src/os/files.h"
#include "src/os/unique_fd.h"

namespace aw {

namespace {

// The spool files must be ours: a regular file owned by our euid.
Status check_own_regular_file(int fd, const std::string& path, struct stat& st) {
  if (fstat(fd, &st) != 0) return errno_error("cannot stat " + path, errno);
  if (!S_ISREG(st.st_mode)) return make_error(path + " is not a regular file (expected the spool)");
  if (st.st_uid != geteuid())
    return make_error(path + " belongs to uid " + std::to_string(st.st_uid) + ", not to us (uid " +
                      std::to_string(geteuid()) + ")");
  return Status::Ok();
}

// Reads the ids a crashed ingestion already delivered. A torn last line (the
// crash hit mid-write) is not an id and is skipped.
// (An out-parameter, not a Result: GCC 12 misreads the variant's destructor
// here as freeing a non-heap object.)
Status read_delivered_ids(const std::string& path, std::unordered_set<std::uint64_t>& ids) {
  UniqueFd fd(open(path.c_str(), O_RDONLY | O_NOFOLLOW | O_CLOEXEC));
  if (!fd.valid()) {
    if (errno == ENOENT) return Status::Ok();
    return errno_error("cannot open " + path, errno);
  }
  std::string content;
  char buf[4096];
  for (;;) {
    ssize_t n = read(fd.get(), buf, sizeof buf);
    if (n < 0) {
      if (errno == EINTR) continue;
      return errno_error("cannot read " + path, errno);
    }
    if (n == 0) break;
    content.append(buf, static_cast<std::size_t>(n));
  }
  std::string_view rest(content);
  while (!rest.empty()) {
    const std::size_t nl = rest.find('\n');
    if (nl == std::string_view::npos) break;
    if (auto id = parse_notify_id(rest.substr(0, nl))) ids.insert(*id);
    rest.remove_prefix(nl + 1);
  }
  return Status::Ok();
}

Status remove_file(const std::string& path) {
  if (unlink(path.c_str()) != 0 && errno != ENOENT)
    return errno_error("cannot remove " + path, errno);
  return Status::Ok();
}

}  // namespace

std::string notify_spool_path(const std::string& runtime_dir) {
  return runtime_dir + "/notify.spool";
}

Status append_to_notify_spool(const std::string& runtime_dir, std::string_view line,
                              Duration lock_timeout) {
  const std::string path = notify_spool_path(runtime_dir);
  const auto deadline = std::chrono::steady_clock::now() + lock_timeout;
  for (;;) {
    UniqueFd fd(open(path.c_str(), O_WRONLY | O_APPEND | O_CREAT | O_NOFOLLOW | O_CLOEXEC, 0600));
    if (!fd.valid()) return errno_error("cannot open spool " + path, errno);
    // Non-blocking attempts until the deadline: a hook must not hang forever
    // behind a stuck process holding the lock.
    while (flock(fd.get(), LOCK_EX | LOCK_NB) != 0) {
      if (errno != EWOULDBLOCK && errno != EINTR) return errno_error("cannot lock " + path, errno);
      if (std::chrono::steady_clock::now() >= deadline)
        return make_error("spool " + path + " stayed locked for " +
                          std::to_string(to_ms(lock_timeout)) + " ms (another process holds it)");
      std::this_thread::sleep_for(std::chrono::milliseconds(1));
    }
    struct stat locked {};
    if (Status s = check_own_regular_file(fd.get(), path, locked); !s) return s;
    // The ingester may have renamed the file between our open and our lock:
    // then our line would land in a file it has already read. Start over.
    struct stat now_at_path {};
    if (lstat(path.c_str(), &now_at_path) != 0 || now_at_path.st_dev != locked.st_dev ||
        now_at_path.st_ino != locked.st_ino) {
      if (std::chrono::steady_clock::now() >= deadline)
        return make_error("spool " + path + " kept being replaced while appending");
      continue;
    }
    if (Status s = write_all(fd.get(), line); !s) {
      // Never leave a torn line that would swallow the next one.
      if (ftruncate(fd.get(), locked.st_size) != 0) { /* the reader refuses the torn line */
      }
      return errno_error("cannot write " + path, -s.error().code);
    }
    return Status::Ok();  // closing the fd releases the lock
  }
}

NotifySpoolIngestion::NotifySpoolIngestion(const std::string& runtime_dir,
                                           std::size_t max_line_bytes, Duration lock_timeout)
    : spool_(notify_spool_path(runtime_dir)),
      ingesting_(spool_ + ".ingesting"),
      delivered_(spool_ + ".delivered"),
      max_line_(max_line_bytes),
      lock_timeout_(lock_timeout) {}

void NotifySpoolIngestion::reset_file_state() {
  file_.reset();
  delivered_fd_.reset();
  owner_uid_ = 0;
  ids_.clear();
  chunk_.clear();
  at_end_ = false;
  buf_.clear();
  skipping_ = false;
  skipped_bytes_ = 0;
  line_no_ = 0;
  stats_ = {};
}

Result<NotifySpoolIngestion::Claim> NotifySpoolIngestion::claim() {
  reset_file_state();
  Claim what = Claim::kFresh;
  struct stat st {};
  if (lstat(ingesting_.c_str(), &st) == 0) {
    if (Status s = read_delivered_ids(delivered_, ids_); !s) return s.error();
    what = Claim::kLeftover;
  } else if (errno != ENOENT) {
    return errno_error("cannot stat " + ingesting_, errno);
  } else {
    // Left by a crash between deleting .ingesting and .delivered: its ids
    // belong to a file that is gone, and must not suppress new messages.
    if (Status s = remove_file(delivered_); !s) return s.error();
    if (rename(spool_.c_str(), ingesting_.c_str()) != 0) {
      if (errno == ENOENT) return Claim::kNothing;
      return errno_error("cannot rename spool " + spool_, errno);
    }
  }

  UniqueFd fd(open(ingesting_.c_str(), O_RDONLY | O_NOFOLLOW | O_CLOEXEC));
  if (!fd.valid()) return errno_error("cannot open " + ingesting_, errno);
  if (Status s = check_own_regular_file(fd.get(), ingesting_, st); !s) return s.error();
  // The barrier of the header's protocol: an appender that locked the file
  // before our rename is mid-write; holding the lock once means it is done.
  // Bounded, polled: a stuck lock holder must not pin a pool thread (and the
  // daemon's shutdown, which waits for queued work) for ever.
  const auto deadline = std::chrono::steady_clock::now() + lock_timeout_;
  while (flock(fd.get(), LOCK_EX | LOCK_NB) != 0) {
    if (errno != EWOULDBLOCK && errno != EINTR)
      return errno_error("cannot lock " + ingesting_, errno);
    if (std::chrono::steady_clock::now() >= deadline)
      return make_error(ingesting_ + " stayed locked for " + std::to_string(to_ms(lock_timeout_)) +
                        " ms (a process holds it); it is taken in at the next try");
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
  // No appender can write to it any more (they check the path after locking):
  // let go at once, so one spinning on it restarts on a fresh spool now.
  (void)flock(fd.get(), LOCK_UN);
  delivered_fd_.reset(
      open(delivered_.c_str(), O_WRONLY | O_APPEND | O_CREAT | O_NOFOLLOW | O_CLOEXEC, 0600));
  if (!delivered_fd_.valid()) return errno_error("cannot open " + delivered_, errno);
  owner_uid_ = st.st_uid;
  file_ = std::move(fd);
  return what;
}

Status NotifySpoolIngestion::read_chunk() {
  chunk_.clear();
  if (!file_.valid()) return make_error("notify spool: read_chunk() without a claimed file");
  chunk_.resize(kChunkBytes);
  for (;;) {
    const ssize_t n = read(file_.get(), chunk_.data(), chunk_.size());
    if (n < 0) {
      if (errno == EINTR) continue;
      chunk_.clear();
      return errno_error("cannot read " + ingesting_, errno);
    }
    chunk_.resize(static_cast<std::size_t>(n));
    at_end_ = n == 0;
    return Status::Ok();
  }
}

Status NotifySpoolIngestion::deliver_chunk(const Clock& clock, const NotifyKindPolicy& policy,
                                           const std::function<void(Event)>& emit) {
  Status fed = feed(chunk_, clock, policy, emit);
  chunk_.clear();  // keeps its capacity for the next read
  if (!fed) return fed;
  if (!at_end_) return Status::Ok();
  if (skipping_) {
    ++line_no_;
    refuse(NotifyRefusal::kLineTooLong, too_long_detail(), skipped_bytes_, clock, emit);
    skipping_ = false;
  } else if (!buf_.empty()) {
    ++line_no_;
    refuse(NotifyRefusal::kTruncated, "the spool ends inside a line (no '\\n')", buf_.size(), clock,
           emit);
    buf_.clear();
  }
  return Status::Ok();
}

Status NotifySpoolIngestion::finish() {
  file_.reset();
  delivered_fd_.reset();
  if (Status s = remove_file(ingesting_); !s) return s;
  return remove_file(delivered_);
}

// Same framing as the server: lines are bounded by max_line_; a longer one is
// skipped to its '\n' (the file is ours, so reading on is safe) and refused.
Status NotifySpoolIngestion::feed(std::string_view data, const Clock& clock,
                                  const NotifyKindPolicy& policy,
                                  const std::function<void(Event)>& emit) {
  while (!data.empty()) {
    const std::size_t nl = data.find('\n');
    const std::string_view piece = data.substr(0, nl);
    if (skipping_) {
      skipped_bytes_ += piece.size();
    } else if (buf_.size() + piece.size() > max_line_) {
      skipping_ = true;
      skipped_bytes_ = buf_.size() + piece.size();
      buf_.clear();
    } else {
      buf_.append(piece);
    }
    if (nl == std::string_view::npos) return Status::Ok();
    data.remove_prefix(nl + 1);
    ++line_no_;
    if (skipping_) {
      refuse(NotifyRefusal::kLineTooLong, too_long_detail(), skipped_bytes_, clock, emit);
      skipping_ = false;
      skipped_bytes_ = 0;
      continue;
    }
    Status s = handle_line(buf_, clock, policy, emit);
    buf_.clear();
    if (!s) return s;
  }
  return Status::Ok();
}

Status NotifySpoolIngestion::handle_line(std::string_view line, const Clock& clock,
                                         const NotifyKindPolicy& policy,
                                         const std::function<void(Event)>& emit) {
  if (line.empty() || line == "\r") return Status::Ok();
  DecodedNotifyLine d = decode_notify_line(line, policy);
  if (!d.ok) {
    refuse(d.refusal, d.detail, line.size(), clock, emit);
    return Status::Ok();
  }
  NotifyMessage& m = d.message;
  if (m.id && ids_.count(m.id)) {
    ++stats_.duplicates;
    return Status::Ok();
  }
  Event e;
  e.kind = std::move(m.kind);
  e.source = "notify";
  e.time = m.time.value_or(clock.wall());
  e.entity = std::move(m.entity);
  e.fields = std::move(m.fields);
  e.fields.set("spooled", FieldValue(true));
  if (m.id) e.fields.set("notify_id", FieldValue(format_notify_id(m.id)));
  ++stats_.delivered;
  emit(std::move(e));
  if (m.id) {
    // After the emit: a crash in between repeats this one message (see header).
    ids_.insert(m.id);
    if (Status s = write_all(delivered_fd_.get(), format_notify_id(m.id) + "\n"); !s)
      return errno_error("cannot write " + delivered_, -s.error().code);
  }
  return Status::Ok();
}

std::string NotifySpoolIngestion::too_long_detail() const {
  return "spool line " + std::to_string(line_no_) + " is longer than " + std::to_string(max_line_) +
         " bytes";
}

void NotifySpoolIngestion::refuse(NotifyRefusal reason, const std::string& detail,
                                  std::size_t bytes, const Clock& clock,
                                  const std::function<void(Event)>& emit) {
  Event e;
  e.kind = kind::kNotifyRefused;
  e.source = "notify";
  e.time = clock.wall();
  e.path = ingesting_;
  e.fields.set("reason", refusal_reason(reason));
  e.fields.set("detail", FieldValue(ingesting_ + ":" + std::to_string(line_no_) + ": " + detail));
  e.fields.set("peer_uid", FieldValue(static_cast<std::int64_t>(owner_uid_)));
  e.fields.set("peer_pid", FieldValue(std::int64_t{-1}));
  e.fields.set("bytes", FieldValue(static_cast<std::int64_t>(bytes)));
  e.fields.set("spooled", FieldValue(true));
  e.fields.set("spool_line", FieldValue(static_cast<std::int64_t>(line_no_)));
  ++stats_.refused;
  emit(std::move(e));
}

Result<NotifySpoolStats> ingest_notify_spool(const std::string& runtime_dir, const Clock& clock,
                                             const NotifyKindPolicy& policy,
                                             const std::function<void(Event)>& emit,
                                             std::size_t max_line_bytes) {
  NotifySpoolIngestion ingestion(runtime_dir, max_line_bytes);
  NotifySpoolStats total;
  // At most a leftover and then one fresh spool: hooks that keep appending
  // meanwhile cannot keep a caller here for ever.
  for (;;) {
    auto claimed = ingestion.claim();
    if (!claimed) return claimed.error();
    if (*claimed == NotifySpoolIngestion::Claim::kNothing) break;
    do {
      if (Status s = ingestion.read_chunk(); !s) return s.error();
      if (Status s = ingestion.deliver_chunk(clock, policy, emit); !s) return s.error();
    } while (!ingestion.at_end());
    total += ingestion.stats();
    if (Status s = ingestion.finish(); !s) return s.error();
    if (*claimed == NotifySpoolIngestion::Claim::kFresh) break;
  }
  return total;
}

}  // namespace aw
