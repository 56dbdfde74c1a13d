#include "src/uvx/unix_listener.h"

#include <sys/ioctl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstddef>
#include <cstdio>
#include <cstring>
#include <exception>
#include <utility>

#include "src/os/unique_fd.h"

namespace aw::uvx {

namespace {

// errno in words, thread-safe: the one of src/os/errno_text.h, repeated because
// src/uvx sits below src/os in the build (aw_os_process is built on uvx), so
// only the header-only src/os/unique_fd.h may be included from here.
// uv_strerror() would do, but its wording differs from strerror()'s.
std::string errno_text(int err) {
  char buf[256];
  return ::strerror_r(err, buf, sizeof buf);  // GNU: the text, in buf or static
}

}  // namespace

Result<UnixAddress> make_unix_address(const std::string& path) {
  UnixAddress a;
  a.addr.sun_family = AF_UNIX;
  if (path.empty() || path.size() >= sizeof a.addr.sun_path)
    return make_error("socket path " + path + " is " + std::to_string(path.size()) +
                      " bytes; expected 1.." + std::to_string(sizeof a.addr.sun_path - 1) +
                      " (use a shorter runtime dir)");
  std::memcpy(a.addr.sun_path, path.data(), path.size());
  a.len = static_cast<socklen_t>(offsetof(sockaddr_un, sun_path) + path.size() + 1);
  return a;
}

SocketProbeResult probe_unix_socket(const std::string& path) {
  auto addr = make_unix_address(path);
  if (!addr) return {SocketProbe::kOther, EINVAL, addr.error().message};
  UniqueFd fd(socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0));
  if (!fd.valid()) return {SocketProbe::kOther, errno, errno_text(errno)};
  // EAGAIN: a listener whose backlog is full is a listener all the same.
  if (connect(fd.get(), addr->get(), addr->len) == 0 || errno == EAGAIN)
    return {SocketProbe::kListening, 0, ""};
  const int err = errno;
  switch (err) {
    case ENOENT:
    case ENOTDIR:
      return {SocketProbe::kMissing, err, errno_text(err)};
    case ECONNREFUSED:
      return {SocketProbe::kRefused, err, errno_text(err)};
    case EACCES:
    case EPERM:
      return {SocketProbe::kDenied, err, errno_text(err)};
    default:
      return {SocketProbe::kOther, err, errno_text(err)};
  }
}

UnixListener::UnixListener(uv_loop_t* loop, std::string name,
                           std::function<void(int status)> on_connection)
    : loop_(loop), name_(std::move(name)), on_connection_(std::move(on_connection)) {}

UnixListener::~UnixListener() {
  close();
}

Status UnixListener::listen(const std::string& path, int backlog) {
  if (listening()) return make_error(name_ + " socket: already listening on " + path_);
  path_ = path;
  auto addr = make_unix_address(path_);
  if (!addr) return addr.error();

  // A socket file left by a daemon that died is removed; a live one is not
  // stolen: the connect probe tells them apart.
  struct stat st {};
  if (lstat(path_.c_str(), &st) == 0) {
    if (!S_ISSOCK(st.st_mode))
      return make_error(path_ + " exists and is not a socket (expected the " + name_ +
                        " socket or nothing; remove it)");
    const SocketProbeResult probe = probe_unix_socket(path_);
    if (probe.state == SocketProbe::kListening)
      return make_error("another process is listening on " + path_ +
                        " (is another agentwatch running?)");
    if (probe.state != SocketProbe::kRefused)
      return make_error("cannot probe " + path_ + ": " + probe.detail, -probe.error);
    if (unlink(path_.c_str()) != 0 && errno != ENOENT)
      return make_error("cannot remove stale socket " + path_ + ": " + errno_text(errno), -errno);
  } else if (errno != ENOENT) {
    return make_error("cannot stat " + path_ + ": " + errno_text(errno), -errno);
  }

  UniqueFd fd(socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0));
  if (!fd.valid()) return make_error(name_ + " socket: " + errno_text(errno), -errno);
  // Linux creates the socket file with the socket inode's mode (minus umask):
  // restricting it before bind leaves no window in which others could connect,
  // and needs no process-wide umask change (the thread pool creates files too).
  if (fchmod(fd.get(), 0600) != 0)
    return make_error("cannot set mode 0600 on the " + name_ + " socket: " + errno_text(errno),
                      -errno);
  if (bind(fd.get(), addr->get(), addr->len) != 0)
    return make_error("cannot bind " + path_ + ": " + errno_text(errno), -errno);
  dev_ = 0;
  ino_ = 0;
  if (lstat(path_.c_str(), &st) == 0) {
    dev_ = st.st_dev;
    ino_ = st.st_ino;
  }

  handle_.emplace();
  int rc = uv_pipe_init(loop_, handle_->get(), 0);
  if (rc != 0) {
    handle_.reset();
    unlink(path_.c_str());
    return make_error(name_ + " socket: uv_pipe_init: " + uv_strerror(rc), rc);
  }
  handle_->initialized(this);
  rc = uv_pipe_open(handle_->get(), fd.get());
  if (rc == 0) {
    fd.release();  // the pipe owns it now; uv_close closes it
    rc = uv_listen(
        reinterpret_cast<uv_stream_t*>(handle_->get()), backlog,
        [](uv_stream_t* s, int status) noexcept {
          auto* self = static_cast<UnixListener*>(s->data);
          if (!self) return;
          // The owner's callback should catch its own; this is the
          // last line of defence (STYLE §2).
          try {
            self->on_connection_(status);
          } catch (const std::exception& e) {
            std::fprintf(stderr, "agentwatch: uncaught exception in %s socket callback: %s\n",
                         self->name_.c_str(), e.what());
          } catch (...) {
            std::fprintf(stderr, "agentwatch: uncaught exception in %s socket callback\n",
                         self->name_.c_str());
          }
        });
  }
  if (rc != 0) {
    handle_.reset();
    unlink(path_.c_str());
    return make_error("cannot listen on " + path_ + ": " + uv_strerror(rc), rc);
  }
  return Status::Ok();
}

int UnixListener::accept(Handle<uv_pipe_t>& client, void* data) {
  if (!listening()) return UV_EINVAL;
  if (int rc = uv_pipe_init(loop_, client.get(), 0); rc != 0) return rc;
  client.initialized(data);
  return uv_accept(reinterpret_cast<uv_stream_t*>(handle_->get()),
                   reinterpret_cast<uv_stream_t*>(client.get()));
}

std::optional<ucred> peer_credentials(const Handle<uv_pipe_t>& pipe) {
  uv_os_fd_t fd = -1;
  ucred cred{};
  socklen_t len = sizeof cred;
  if (uv_fileno(pipe.base(), &fd) != 0 || getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &len) != 0)
    return std::nullopt;
  return cred;
}

std::size_t unread_bytes(const Handle<uv_pipe_t>& pipe) {
  uv_os_fd_t fd = -1;
  int n = 0;
  if (!pipe.live() || uv_fileno(pipe.base(), &fd) != 0 || ioctl(fd, FIONREAD, &n) != 0 || n < 0)
    return 0;
  return static_cast<std::size_t>(n);
}

std::optional<std::uint64_t> pick_connection_to_evict(std::span<const IdleConnection> candidates,
                                                      MonoTime now, Duration min_idle) {
  const IdleConnection* oldest = nullptr;
  for (const IdleConnection& c : candidates)
    if (!oldest || c.idle_since < oldest->idle_since) oldest = &c;
  if (!oldest || now - oldest->idle_since < min_idle) return std::nullopt;
  return oldest->id;
}

void UnixListener::close() {
  if (!listening()) return;
  handle_.reset();
  // Only our own socket file: a newer daemon may have replaced it.
  struct stat st {};
  if (lstat(path_.c_str(), &st) == 0 && st.st_dev == dev_ && st.st_ino == ino_)
    unlink(path_.c_str());
}

}  // namespace aw::uvx
