#include "watchers/inotify_source.h"

#include <sys/inotify.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>  // memmove

#include "src/os/errno_text.h"

namespace aw {
namespace {

// The longest record: the header and NAME_MAX + 1 bytes of name, padded.
constexpr std::size_t kMaxRecord = sizeof(struct inotify_event) + 256;

}  // namespace

Result<std::unique_ptr<InotifySource>> InotifySource::open(uv_loop_t* loop, Callbacks callbacks,
                                                           Options options, Env& env) {
  UniqueFd fd(inotify_init1(IN_NONBLOCK | IN_CLOEXEC));
  if (!fd) {
    const int err = errno;
    return make_error("inotify_init1: " + errno_text(err) +
                          (err == EMFILE ? " (fs.inotify.max_user_instances reached)" : ""),
                      -err);
  }
  std::unique_ptr<InotifySource> src(
      new InotifySource(loop, std::move(fd), std::move(callbacks), options, env));
  if (int rc = src->poll_->init_status(); rc != 0)
    return make_error(std::string("uv_poll_init: ") + uv_strerror(rc), rc);
  return src;
}

InotifySource::InotifySource(uv_loop_t* loop, UniqueFd fd, Callbacks callbacks, Options options,
                             Env& env)
    : fd_(std::move(fd)), env_(env), cb_(std::move(callbacks)), options_(options) {
  if (options_.read_buffer_bytes < 2 * kMaxRecord) options_.read_buffer_bytes = 2 * kMaxRecord;
  if (options_.max_backlog_bytes < options_.read_buffer_bytes)
    options_.max_backlog_bytes = options_.read_buffer_bytes;
  if (options_.max_records_per_tick == 0) options_.max_records_per_tick = 1;
  poll_ = std::make_unique<uvx::Poll>(loop, fd_.get(), [this](int status, int) {
    if (status < 0) {
      if (cb_.on_error) cb_.on_error("poll", -status);
      return;
    }
    turn();
  });
  more_ = std::make_unique<uvx::Idle>(loop, [this] { turn(); });
}

InotifySource::~InotifySource() {
  close();
}

int InotifySource::start() {
  if (!fd_) return UV_EBADF;
  return poll_->start(UV_READABLE);
}

void InotifySource::close() {
  // uv_close before the fd goes away; both may be inside their own callback.
  poll_.reset();
  more_.reset();
  fd_.reset();
  begin_ = end_ = 0;
}

int InotifySource::add_watch(const char* path, std::uint32_t mask) const {
  errno = 0;
  const int wd = env_.add_watch(fd_.get(), path, mask);
  return wd >= 0 ? wd : -(errno != 0 ? errno : EINVAL);
}

void InotifySource::rm_watch(int wd) const {
  if (fd_ && wd >= 0) inotify_rm_watch(fd_.get(), wd);
}

void InotifySource::turn() {
  // Both the poll (the kernel has records) and the idle continuation (a
  // backlog is left) land here, at most once each per iteration.
  fill();
  deliver();
  if (!fd_) return;  // closed by a callback
  if (begin_ == end_) {
    more_->stop();
    begin_ = end_ = 0;
    // A storm's backlog is not kept while idle.
    if (buf_.capacity() > 4 * options_.read_buffer_bytes) std::vector<std::uint8_t>().swap(buf_);
  } else {
    more_->start();
  }
  if (cb_.on_drained) cb_.on_drained();
}

void InotifySource::fill() {
  while (fd_ && end_ - begin_ < options_.max_backlog_bytes) {
    // Room for one full read at the end: move the backlog to the front first
    // when the consumed part is the larger, else grow.
    if (buf_.size() - end_ < options_.read_buffer_bytes) {
      if (begin_ > 0 && begin_ >= end_ - begin_) {
        std::memmove(buf_.data(), buf_.data() + begin_, end_ - begin_);
        end_ -= begin_;
        begin_ = 0;
      }
      if (buf_.size() - end_ < options_.read_buffer_bytes)
        buf_.resize(end_ + options_.read_buffer_bytes);
    }
    const ssize_t n = read(fd_.get(), buf_.data() + end_, options_.read_buffer_bytes);
    if (n < 0) {
      if (errno == EINTR) continue;
      if (errno != EAGAIN && cb_.on_error) cb_.on_error("read", errno);
      return;
    }
    if (n == 0) return;
    ++reads_;
    end_ += static_cast<std::size_t>(n);
    if (end_ - begin_ > backlog_peak_) backlog_peak_ = end_ - begin_;
    // A read that left room for the longest record emptied the queue: the read
    // that would say EAGAIN is skipped.
    if (static_cast<std::size_t>(n) + kMaxRecord <= options_.read_buffer_bytes) return;
  }
}

void InotifySource::deliver() {
  if (!fd_ || begin_ == end_) return;
  records_.clear();
  const auto res =
      InotifyDecoder::decode(std::span<const std::uint8_t>(buf_.data() + begin_, end_ - begin_),
                             records_, options_.max_records_per_tick);
  begin_ += res.consumed;
  records_read_ += records_.size();
  if (!records_.empty() && cb_.on_records) cb_.on_records(records_);
  if (!fd_) return;
  if (res.malformed) {
    begin_ = end_ = 0;  // sync is lost: what is left cannot be trusted
    if (cb_.on_malformed) cb_.on_malformed(res.error);
  }
}

}  // namespace aw
