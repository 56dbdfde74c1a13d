#include "src/eventlog/event_log_reader.h"

#include <fcntl.h>
#include <poll.h>
#include <sys/inotify.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>

#include <cerrno>
#include <cstring>
#include <utility>

#include "src/os/errno_text.h"
#include "src/os/unique_fd.h"

namespace aw {
namespace {

bool is_blank(std::string_view line) {
  return line.find_first_not_of(" \t\r") == std::string_view::npos;
}

// The kind of a line as the writer writes it (to_json_line: seq, time, kind
// first, no spaces), or nullopt for any other line. Kinds need no escapes
// ([a-z0-9._-]), so the value ends at the next quote.
std::optional<std::string_view> written_kind(std::string_view line) {
  constexpr std::string_view kHead = R"({"seq":)";
  constexpr std::string_view kKey = R"("kind":")";
  constexpr std::size_t kWithin = 96;  // seq and time come before it: at most ~70 bytes
  if (!line.starts_with(kHead)) return std::nullopt;
  const std::size_t at = line.substr(0, kWithin).find(kKey);
  if (at == std::string_view::npos) return std::nullopt;
  const std::size_t from = at + kKey.size();
  const std::size_t end = line.find('"', from);
  if (end == std::string_view::npos) return std::nullopt;
  return line.substr(from, end - from);
}

}  // namespace

// Bytes read but not yet consumed. Reads never fill the last SIMDJSON_PADDING bytes,
// so every complete line inside can be parsed in place (simdjson reads, but ignores,
// up to SIMDJSON_PADDING bytes past the end of a document).
class EventLogReader::LineBuffer {
 public:
  static constexpr std::size_t kInitial = 1 << 20;
  static constexpr std::size_t kMinRead = 64 << 10;

  LineBuffer() : data_(kInitial + simdjson::SIMDJSON_PADDING), cap_(kInitial) {}

  // Room for the next read: compacts the unconsumed tail to the front, and grows when
  // one unfinished line fills most of the buffer.
  char* writable(std::size_t& room) {
    if (begin_ == end_) begin_ = end_ = 0;
    if (cap_ - end_ < kMinRead && begin_ > 0) {
      std::memmove(data_.data(), data_.data() + begin_, end_ - begin_);
      end_ -= begin_;
      begin_ = 0;
    }
    if (cap_ - end_ < kMinRead) {
      cap_ *= 2;
      data_.resize(cap_ + simdjson::SIMDJSON_PADDING);
    }
    room = cap_ - end_;
    return data_.data() + end_;
  }
  void commit(std::size_t n) { end_ += n; }

  bool next_line(std::string_view& line) {
    const char* start = data_.data() + begin_;
    const void* nl = std::memchr(start, '\n', end_ - begin_);
    if (!nl) return false;
    const std::size_t len = static_cast<std::size_t>(static_cast<const char*>(nl) - start);
    line = std::string_view(start, len);
    begin_ += len + 1;
    return true;
  }
  std::size_t unfinished() const { return end_ - begin_; }
  void clear() { begin_ = end_ = 0; }

 private:
  std::vector<char> data_;
  std::size_t cap_;
  std::size_t begin_ = 0;
  std::size_t end_ = 0;
};

EventLogReader::EventLogReader(std::string dir)
    : dir_(std::move(dir)), buffer_(std::make_unique<LineBuffer>()) {
  while (dir_.size() > 1 && dir_.back() == '/') dir_.pop_back();
  live_path_ = live_log_path(dir_);
}

EventLogReader::~EventLogReader() = default;

Status EventLogReader::read_history(const Visitor& visit) {
  visit_ = &visit;
  stopped_ = false;
  last_segment_ = seek_ && seek_->segment > 0 ? seek_->segment - 1 : 0;
  close_live();
  Status s = catch_up_and_open_live();
  if (s && !stopped_ && live_fd_) {
    s = read_live_available();
    finish_file(Tail::kIgnore);
  }
  close_live();
  visit_ = nullptr;
  return s;
}

Status EventLogReader::read_history_from(const LogPosition& from, const Visitor& visit) {
  seek_ = from;
  Status s = read_history(visit);
  seek_.reset();
  return s;
}

Status EventLogReader::follow(const Visitor& visit, const FollowControl& control) {
  visit_ = &visit;
  stopped_ = false;
  last_segment_ = 0;
  close_live();
  const UniqueFd ifd(::inotify_init1(IN_NONBLOCK | IN_CLOEXEC));
  if (!ifd) return errno_error("cannot watch " + dir_, errno);
  // The watch goes in before the first open, so no change after it can be missed.
  constexpr std::uint32_t kMask = IN_MODIFY | IN_CREATE | IN_MOVED_FROM | IN_MOVED_TO |
                                  IN_CLOSE_WRITE | IN_DELETE | IN_DELETE_SELF | IN_MOVE_SELF;
  if (::inotify_add_watch(ifd.get(), dir_.c_str(), kMask) < 0) {
    if (errno == ENOENT)
      return make_error("cannot follow the event log: " + dir_ + " does not exist", -ENOENT);
    return errno_error("cannot watch " + dir_, errno);
  }

  Status s = catch_up_and_open_live();
  while (s && !stopped_) {
    if (control.stop && control.stop()) break;
    if (!live_fd_) {
      if (s = catch_up_and_open_live(); !s) break;
      if (live_fd_) continue;
    } else {
      // Look at the name before reading: if it already points elsewhere, the writer
      // renamed our file after its last write to it, so the read below gets every
      // record the file will ever hold.
      struct stat st;
      const bool gone = ::stat(live_path_.c_str(), &st) != 0;
      if (gone && errno != ENOENT) {
        s = errno_error("cannot stat " + live_path_, errno);
        break;
      }
      const bool rotated = gone || st.st_ino != live_ino_ || st.st_dev != live_dev_;
      if (!rotated && static_cast<std::uint64_t>(st.st_size) < live_offset_) {
        // Truncated in place: start again from the top.
        ::lseek(live_fd_.get(), 0, SEEK_SET);
        live_offset_ = 0;
        current_line_ = 0;
        buffer_->clear();
      }
      if (s = read_live_available(); !s || stopped_) break;
      if (rotated) {
        finish_file(Tail::kDropAsTorn);
        close_live();
        ++last_segment_;  // the file we held is now the newest segment
        ++stats_.rotations_followed;
        s = catch_up_and_open_live();
        continue;
      }
    }
    bool dir_gone = false;
    if (s = wait_for_change(ifd.get(), control, dir_gone); !s) break;
    if (dir_gone) {
      s = make_error("stopped following the event log: " + dir_ + " was removed or moved");
      break;
    }
  }
  close_live();
  visit_ = nullptr;
  return s;
}

Status EventLogReader::catch_up_and_open_live() {
  const std::string& live = live_path_;
  for (;;) {
    auto segments = list_log_segments(dir_);
    if (!segments) return segments.error();
    for (const LogSegment& seg : *segments) {
      if (seg.number <= last_segment_ || (!seg.has_plain && !seg.has_gzip)) continue;
      if (Status s = read_segment(seg); !s) return s;
      last_segment_ = seg.number;
      if (stopped_) return Status::Ok();
    }
    UniqueFd fd(::open(live.c_str(), O_RDONLY | O_CLOEXEC));
    if (!fd && errno != ENOENT) return errno_error("cannot open " + live, errno);
    // A rotation between the listing and the open would leave us holding a file that
    // is already a segment, and skip it: list again, and go round if anything is new.
    auto again = list_log_segments(dir_);
    bool newer = false;
    if (again) {
      for (const LogSegment& seg : *again)
        newer = newer || (seg.number > last_segment_ && (seg.has_plain || seg.has_gzip));
    }
    if (!again || newer) {
      fd.reset();
      if (!again) return again.error();
      continue;
    }
    if (!fd) return Status::Ok();  // no live file yet
    struct stat st;
    if (::fstat(fd.get(), &st) != 0) return errno_error("cannot stat " + live, errno);
    // The live file is the one that will get the next number.
    std::uint64_t offset = 0;
    if (seek_ && seek_->segment == highest_log_segment_number(*again) + 1 &&
        seek_->offset <= static_cast<std::uint64_t>(st.st_size) &&
        ::lseek(fd.get(), static_cast<off_t>(seek_->offset), SEEK_SET) >= 0)
      offset = seek_->offset;
    seek_.reset();
    live_fd_ = std::move(fd);
    live_dev_ = st.st_dev;
    live_ino_ = st.st_ino;
    live_offset_ = offset;
    buffer_->clear();
    current_file_ = live;
    current_line_ = 0;
    return Status::Ok();
  }
}

Status EventLogReader::read_segment(const LogSegment& seg) {
  // The start position applies to its own file only.
  std::uint64_t skip = 0;
  if (seek_ && seek_->segment == seg.number) skip = seek_->offset;
  seek_.reset();
  if (seg.has_plain) {
    const std::string path = log_segment_path(dir_, seg.number, SegmentForm::kPlain);
    const UniqueFd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
    if (fd) {
      ++stats_.segments_read;
      if (skip > 0 && ::lseek(fd.get(), static_cast<off_t>(skip), SEEK_SET) < 0)
        return errno_error("cannot seek in " + path, errno);
      return read_plain_fd(fd.get(), path, Tail::kDropAsTorn);
    }
    if (errno != ENOENT) return errno_error("cannot open " + path, errno);
    // Compressed meanwhile: the .gz holds the same records.
  }
  const std::string path = log_segment_path(dir_, seg.number, SegmentForm::kGzip);
  UniqueFd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
  if (!fd) {
    if (errno != ENOENT) return errno_error("cannot open " + path, errno);
    ++stats_.segments_missing;  // pruned between listing and opening
    return Status::Ok();
  }
  ++stats_.segments_read;
  return read_gzip_fd(std::move(fd), path, skip);
}

Status EventLogReader::read_plain_fd(int fd, const std::string& name, Tail tail) {
  current_file_ = name;
  current_line_ = 0;
  buffer_->clear();
  for (;;) {
    std::size_t room = 0;
    char* dst = buffer_->writable(room);
    const ssize_t n = ::read(fd, dst, room);
    if (n < 0) {
      if (errno == EINTR) continue;
      return errno_error("cannot read " + name, errno);
    }
    if (n == 0) break;
    buffer_->commit(static_cast<std::size_t>(n));
    stats_.bytes_read += static_cast<std::uint64_t>(n);
    if (!deliver_lines()) return Status::Ok();
  }
  finish_file(tail);
  return Status::Ok();
}

Status EventLogReader::read_gzip_fd(UniqueFd fd, const std::string& name, std::uint64_t skip) {
  current_file_ = name;
  current_line_ = 0;
  buffer_->clear();
  gzFile gz = ::gzdopen(fd.get(), "rb");
  if (!gz) return make_error("cannot read " + name + ": not enough memory for zlib");
  fd.release();  // zlib owns it now: gzclose() closes it
  ::gzbuffer(gz, 256 * 1024);
  // zlib reaches a forward offset by decompressing up to it. A damaged stream
  // that fails the seek fails the first read below too, which reports it.
  if (skip > 0) (void)::gzseek(gz, static_cast<z_off_t>(skip), SEEK_SET);
  for (;;) {
    std::size_t room = 0;
    char* dst = buffer_->writable(room);
    const int n = ::gzread(gz, dst, static_cast<unsigned>(std::min<std::size_t>(room, 1 << 30)));
    if (n <= 0) {
      // A damaged or truncated segment is bad news, not the end of the log: note it
      // and go on with the next file, like a corrupt line. (zlib reports truncation
      // as end of file with Z_BUF_ERROR pending.)
      int zerr = Z_OK;
      const char* msg = ::gzerror(gz, &zerr);
      if (n < 0 || (zerr != Z_OK && zerr != Z_STREAM_END)) {
        ++stats_.corrupt_lines;
        if (stats_.first_corrupt.empty())
          stats_.first_corrupt = name + " (" + (msg && *msg ? msg : "damaged gzip") + ")";
      }
      break;
    }
    buffer_->commit(static_cast<std::size_t>(n));
    stats_.bytes_read += static_cast<std::uint64_t>(n);
    if (!deliver_lines()) {
      ::gzclose(gz);
      return Status::Ok();
    }
  }
  ::gzclose(gz);
  finish_file(Tail::kDropAsTorn);
  return Status::Ok();
}

Status EventLogReader::read_live_available() {
  for (;;) {
    std::size_t room = 0;
    char* dst = buffer_->writable(room);
    const ssize_t n = ::read(live_fd_.get(), dst, room);
    if (n < 0) {
      if (errno == EINTR) continue;
      return errno_error("cannot read " + current_file_, errno);
    }
    if (n == 0) return Status::Ok();
    buffer_->commit(static_cast<std::size_t>(n));
    live_offset_ += static_cast<std::uint64_t>(n);
    stats_.bytes_read += static_cast<std::uint64_t>(n);
    if (!deliver_lines()) return Status::Ok();
  }
}

void EventLogReader::finish_file(Tail tail) {
  if (buffer_->unfinished() == 0 || tail == Tail::kHold) return;
  if (tail == Tail::kDropAsTorn) ++stats_.torn_tails;
  buffer_->clear();
}

bool EventLogReader::deliver_lines() {
  std::string_view line;
  while (buffer_->next_line(line))
    if (!deliver(line)) return false;
  return true;
}

bool EventLogReader::deliver(std::string_view line) {
  ++current_line_;
  if (is_blank(line)) return true;
  if (kind_filter_) {
    if (const auto kind = written_kind(line); kind && !kind_filter_(*kind)) return true;
  }
  simdjson::dom::element root;
  simdjson::dom::object object;
  std::string_view kind;
  if (parser_.parse(line.data(), line.size(), /*realloc_if_needed=*/false).get(root) ||
      root.get_object().get(object) || object["kind"].get_string().get(kind)) {
    ++stats_.corrupt_lines;
    if (stats_.first_corrupt.empty())
      stats_.first_corrupt = current_file_ + ":" + std::to_string(current_line_);
    return true;
  }
  if (kind_filter_ && !kind_filter_(kind)) return true;
  ++stats_.records;
  const LogRecord record{line, object, kind, current_file_, current_line_};
  if (!(*visit_)(record)) {
    stopped_ = true;
    return false;
  }
  return true;
}

void EventLogReader::close_live() {
  live_fd_.reset();
}

Status EventLogReader::wait_for_change(int inotify_fd, const FollowControl& control,
                                       bool& dir_gone) {
  using Clock = std::chrono::steady_clock;
  const auto deadline = Clock::now() + control.wake_interval;
  alignas(inotify_event) char buf[16 * 1024];
  for (;;) {
    const auto left =
        std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now());
    if (left.count() <= 0) return Status::Ok();
    pollfd p{inotify_fd, POLLIN, 0};
    const int r = ::poll(&p, 1, static_cast<int>(left.count()));
    if (r < 0) {
      if (errno == EINTR) return Status::Ok();
      return errno_error("cannot wait for changes in " + dir_, errno);
    }
    if (r == 0) return Status::Ok();
    bool relevant = false;
    for (;;) {
      const ssize_t n = ::read(inotify_fd, buf, sizeof buf);
      if (n < 0) {
        if (errno == EINTR) continue;
        if (errno == EAGAIN) break;
        return errno_error("cannot read inotify events for " + dir_, errno);
      }
      for (ssize_t off = 0; off < n;) {
        const auto* ev = reinterpret_cast<const inotify_event*>(buf + off);
        off += static_cast<ssize_t>(sizeof(inotify_event) + ev->len);
        if (ev->mask & (IN_IGNORED | IN_DELETE_SELF | IN_MOVE_SELF)) dir_gone = true;
        // Only the live file's name matters (writes, rotation, re-creation); the
        // compression job's writes to .gz.tmp files are noise.
        if (ev->mask & IN_Q_OVERFLOW) relevant = true;
        if (ev->len > 0 && std::string_view(ev->name) == kLiveLogFileName) relevant = true;
      }
    }
    if (relevant || dir_gone) return Status::Ok();
  }
}

}  // namespace aw
