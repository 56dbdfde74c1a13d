#include "watchers/notify/notify_spool.h"

#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <thread>
#include <unordered_set>

#include "src/core/unique_fd.h"

namespace aw {

namespace {

constexpr std::size_t kReadChunk = 64 * 1024;

std::string errno_text(int err) {
  return std::strerror(err);
}

Error file_error(const std::string& what, const std::string& path, int err) {
  return make_error(what + " " + path + ": " + errno_text(err), -err);
}

// The spool files must be ours: a regular file owned by our euid.
Status check_own_regular_file(int fd, const std::string& path, struct stat& st) {
  if (fstat(fd, &st) != 0) return file_error("cannot stat", path, errno);
  if (!S_ISREG(st.st_mode)) return make_error(path + " is not a regular file (expected the spool)");
  if (st.st_uid != geteuid())
    return make_error(path + " belongs to uid " + std::to_string(st.st_uid) + ", not to us (uid " +
                      std::to_string(geteuid()) + ")");
  return Status::Ok();
}

Status write_all(int fd, std::string_view data, const std::string& path) {
  while (!data.empty()) {
    ssize_t n = write(fd, data.data(), data.size());
    if (n < 0) {
      if (errno == EINTR) continue;
      return file_error("cannot write", path, errno);
    }
    data.remove_prefix(static_cast<std::size_t>(n));
  }
  return Status::Ok();
}

// Reads the ids a crashed ingestion already delivered. A torn last line (the
// crash hit mid-write) is not an id and is skipped.
Result<std::unordered_set<std::uint64_t>> read_delivered_ids(const std::string& path) {
  std::unordered_set<std::uint64_t> ids;
  UniqueFd fd(open(path.c_str(), O_RDONLY | O_NOFOLLOW | O_CLOEXEC));
  if (!fd.valid()) {
    if (errno == ENOENT) return ids;
    return file_error("cannot open", path, errno);
  }
  std::string content;
  char buf[4096];
  for (;;) {
    ssize_t n = read(fd.get(), buf, sizeof buf);
    if (n < 0) {
      if (errno == EINTR) continue;
      return file_error("cannot read", path, errno);
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
  return ids;
}

class SpoolFileIngester {
 public:
  SpoolFileIngester(const std::string& path, const std::string& delivered_path, const Clock& clock,
                    const NotifyKindPolicy& policy, const std::function<void(Event)>& emit,
                    std::size_t max_line, std::unordered_set<std::uint64_t>& ids,
                    NotifySpoolStats& stats)
      : path_(path),
        delivered_path_(delivered_path),
        clock_(clock),
        policy_(policy),
        emit_(emit),
        max_line_(max_line),
        ids_(ids),
        stats_(stats) {}

  Status run() {
    UniqueFd fd(open(path_.c_str(), O_RDONLY | O_NOFOLLOW | O_CLOEXEC));
    if (!fd.valid()) return file_error("cannot open", path_, errno);
    struct stat st {};
    if (Status s = check_own_regular_file(fd.get(), path_, st); !s) return s;
    owner_uid_ = st.st_uid;
    // Waits out an appender that locked the file before it was renamed here;
    // appenders that lock later see the rename and write to a fresh spool.
    while (flock(fd.get(), LOCK_EX) != 0) {
      if (errno != EINTR) return file_error("cannot lock", path_, errno);
    }
    delivered_fd_.reset(open(delivered_path_.c_str(),
                             O_WRONLY | O_APPEND | O_CREAT | O_NOFOLLOW | O_CLOEXEC, 0600));
    if (!delivered_fd_.valid()) return file_error("cannot open", delivered_path_, errno);

    std::unique_ptr<char[]> chunk(new char[kReadChunk]);
    for (;;) {
      ssize_t n = read(fd.get(), chunk.get(), kReadChunk);
      if (n < 0) {
        if (errno == EINTR) continue;
        return file_error("cannot read", path_, errno);
      }
      if (n == 0) break;
      if (Status s = feed(std::string_view(chunk.get(), static_cast<std::size_t>(n))); !s) return s;
    }
    if (skipping_) {
      ++line_no_;
      refuse(NotifyRefusal::kLineTooLong, too_long_detail(), skipped_bytes_);
    } else if (!buf_.empty()) {
      ++line_no_;
      refuse(NotifyRefusal::kTruncated, "the spool ends inside a line (no '\\n')", buf_.size());
    }
    return Status::Ok();
  }

 private:
  // Same framing as the server: lines are bounded by max_line_; a longer one
  // is skipped to its '\n' (the file is ours, so reading on is safe) and refused.
  Status feed(std::string_view data) {
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
        refuse(NotifyRefusal::kLineTooLong, too_long_detail(), skipped_bytes_);
        skipping_ = false;
        skipped_bytes_ = 0;
        continue;
      }
      Status s = handle_line(buf_);
      buf_.clear();
      if (!s) return s;
    }
    return Status::Ok();
  }

  Status handle_line(std::string_view line) {
    if (line.empty() || line == "\r") return Status::Ok();
    DecodedNotifyLine d = decode_notify_line(line, policy_);
    if (!d.ok) {
      refuse(d.refusal, d.detail, line.size());
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
    e.time = m.time.value_or(clock_.wall());
    e.entity = std::move(m.entity);
    e.fields = std::move(m.fields);
    e.fields.set("spooled", FieldValue(true));
    if (m.id) e.fields.set("notify_id", FieldValue(format_notify_id(m.id)));
    ++stats_.delivered;
    emit_(std::move(e));
    if (m.id) {
      // After the emit: a crash in between repeats this one message (see header).
      ids_.insert(m.id);
      if (Status s = write_all(delivered_fd_.get(), format_notify_id(m.id) + "\n", delivered_path_);
          !s)
        return s;
    }
    return Status::Ok();
  }

  std::string too_long_detail() const {
    return "spool line " + std::to_string(line_no_) + " is longer than " +
           std::to_string(max_line_) + " bytes";
  }

  void refuse(NotifyRefusal reason, const std::string& detail, std::size_t bytes) {
    Event e;
    e.kind = "notify.refused";
    e.source = "notify";
    e.time = clock_.wall();
    e.path = path_;
    e.fields.set("reason", refusal_reason(reason));
    e.fields.set("detail", FieldValue(path_ + ":" + std::to_string(line_no_) + ": " + detail));
    e.fields.set("peer_uid", FieldValue(static_cast<std::int64_t>(owner_uid_)));
    e.fields.set("peer_pid", FieldValue(std::int64_t{-1}));
    e.fields.set("bytes", FieldValue(static_cast<std::int64_t>(bytes)));
    e.fields.set("spooled", FieldValue(true));
    e.fields.set("spool_line", FieldValue(static_cast<std::int64_t>(line_no_)));
    ++stats_.refused;
    emit_(std::move(e));
  }

  const std::string& path_;
  const std::string& delivered_path_;
  const Clock& clock_;
  const NotifyKindPolicy& policy_;
  const std::function<void(Event)>& emit_;
  std::size_t max_line_;
  std::unordered_set<std::uint64_t>& ids_;
  NotifySpoolStats& stats_;
  UniqueFd delivered_fd_;
  uid_t owner_uid_ = 0;
  std::string buf_;
  bool skipping_ = false;
  std::size_t skipped_bytes_ = 0;
  std::size_t line_no_ = 0;
};

Status remove_file(const std::string& path) {
  if (unlink(path.c_str()) != 0 && errno != ENOENT) return file_error("cannot remove", path, errno);
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
    if (!fd.valid()) return file_error("cannot open spool", path, errno);
    // Non-blocking attempts until the deadline: a hook must not hang forever
    // behind a stuck process holding the lock.
    while (flock(fd.get(), LOCK_EX | LOCK_NB) != 0) {
      if (errno != EWOULDBLOCK && errno != EINTR) return file_error("cannot lock", path, errno);
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
    if (Status s = write_all(fd.get(), line, path); !s) {
      // Never leave a torn line that would swallow the next one.
      if (ftruncate(fd.get(), locked.st_size) != 0) { /* the reader refuses the torn line */
      }
      return s;
    }
    return Status::Ok();  // closing the fd releases the lock
  }
}

Result<NotifySpoolStats> ingest_notify_spool(const std::string& runtime_dir, const Clock& clock,
                                             const NotifyKindPolicy& policy,
                                             const std::function<void(Event)>& emit,
                                             std::size_t max_line_bytes) {
  const std::string spool = notify_spool_path(runtime_dir);
  const std::string ingesting = spool + ".ingesting";
  const std::string delivered = spool + ".delivered";
  NotifySpoolStats stats;

  auto ingest = [&](std::unordered_set<std::uint64_t> ids) -> Status {
    SpoolFileIngester ingester(ingesting, delivered, clock, policy, emit, max_line_bytes, ids,
                               stats);
    if (Status s = ingester.run(); !s) return s;
    // .ingesting first: were we to crash in between, a stale .delivered alone
    // is discarded at the next start.
    if (Status s = remove_file(ingesting); !s) return s;
    return remove_file(delivered);
  };

  struct stat st {};
  if (lstat(ingesting.c_str(), &st) == 0) {
    auto ids = read_delivered_ids(delivered);
    if (!ids) return ids.error();
    if (Status s = ingest(std::move(*ids)); !s) return s.error();
  } else if (errno != ENOENT) {
    return file_error("cannot stat", ingesting, errno);
  } else if (Status s = remove_file(delivered); !s) {
    return s.error();
  }

  if (rename(spool.c_str(), ingesting.c_str()) != 0) {
    if (errno == ENOENT) return stats;
    return file_error("cannot rename spool", spool, errno);
  }
  if (Status s = ingest({}); !s) return s.error();
  return stats;
}

}  // namespace aw
