#include "watchers/notify/notify_client.h"

#include <fcntl.h>
#include <poll.h>
#include <sys/random.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <charconv>
#include <thread>

#include "src/os/errno_text.h"
#include "src/os/unique_fd.h"
#include "src/uvx/unix_listener.h"
#include "watchers/notify/notify_protocol.h"
#include "watchers/notify/notify_server.h"
#include "watchers/notify/notify_spool.h"

namespace aw {

namespace {

using SteadyTime = std::chrono::steady_clock::time_point;

std::uint64_t random_id() {
  std::uint64_t id = 0;
  if (getrandom(&id, sizeof id, GRND_NONBLOCK) != static_cast<ssize_t>(sizeof id)) {
    // No entropy yet (early boot): unique enough for deduplication.
    static std::atomic<std::uint64_t> counter{0};
    id = static_cast<std::uint64_t>(std::chrono::system_clock::now().time_since_epoch().count()) ^
         (static_cast<std::uint64_t>(getpid()) << 40) ^ (++counter * 0x9E3779B97F4A7C15ull);
  }
  return id ? id : 1;
}

int ms_left(SteadyTime deadline) {
  auto left =
      std::chrono::ceil<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now());
  return left.count() > 0 ? static_cast<int>(left.count()) : 0;
}

// The runtime dir must be ours and private, or the socket and spool in it
// could be someone else's. Created 0700 when missing (first hook since boot).
Status check_runtime_dir(const std::string& dir) {
  if (mkdir(dir.c_str(), 0700) != 0 && errno != EEXIST)
    return errno_error("cannot create runtime dir " + dir, errno);
  struct stat st {};
  if (lstat(dir.c_str(), &st) != 0) return errno_error("cannot stat runtime dir " + dir, errno);
  if (!S_ISDIR(st.st_mode)) return make_error("runtime dir " + dir + " is not a directory");
  if (st.st_uid != geteuid())
    return make_error("runtime dir " + dir + " belongs to uid " + std::to_string(st.st_uid) +
                      ", not to us (uid " + std::to_string(geteuid()) + ")");
  if ((st.st_mode & 077) != 0)
    return make_error("runtime dir " + dir + " is accessible to others (expected mode 0700)");
  return Status::Ok();
}

enum class Attempt { kWritten, kNotReached };

struct SendState {
  UniqueFd fd;
  std::string why_not;          // when not reached
  bool closed_by_peer = false;  // the daemon closed while we wrote: it may have said why
};

// Connects and writes the whole line before the deadline, or says why not.
// Result errors are hard errors (not worth spooling).
Result<Attempt> connect_and_write(const std::string& socket_path, std::string_view line,
                                  SteadyTime deadline, SendState& st) {
  auto addr = uvx::make_unix_address(socket_path);
  if (!addr) return addr.error();
  for (;;) {
    st.fd.reset(socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0));
    if (!st.fd.valid()) return errno_error("socket", errno);
    if (connect(st.fd.get(), addr->get(), addr->len) == 0) break;
    const int err = errno;
    if (err == EINTR) continue;
    if (err == ENOENT || err == ECONNREFUSED) {
      st.why_not = "no daemon listening on " + socket_path + " (" + errno_text(err) + ")";
      return Attempt::kNotReached;
    }
    if (err == EAGAIN) {  // the daemon's accept backlog is full
      if (ms_left(deadline) == 0) {
        st.why_not = "the daemon is not accepting connections (backlog full)";
        return Attempt::kNotReached;
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(2));
      continue;
    }
    return errno_error("cannot connect to " + socket_path, err);
  }
  std::size_t off = 0;
  while (off < line.size()) {
    ssize_t n = send(st.fd.get(), line.data() + off, line.size() - off, MSG_NOSIGNAL);
    if (n > 0) {
      off += static_cast<std::size_t>(n);
      continue;
    }
    const int err = errno;
    if (err == EINTR) continue;
    if (err == EAGAIN) {
      pollfd p{st.fd.get(), POLLOUT, 0};
      const int left = ms_left(deadline);
      if (left > 0 && poll(&p, 1, left) > 0) continue;
      // A partial line is refused by the daemon (no '\n'), so spooling it
      // whole cannot deliver it twice.
      st.why_not = "the daemon did not take the message within the timeout";
      return Attempt::kNotReached;
    }
    st.why_not = "the daemon closed the connection (" + errno_text(err) + ")";
    st.closed_by_peer = true;
    return Attempt::kNotReached;
  }
  return Attempt::kWritten;
}

// Reads one reply line before the deadline; nullopt if none came in time.
std::optional<NotifyReply> read_reply(int fd, SteadyTime deadline) {
  std::string buf;
  char chunk[512];
  for (;;) {
    const std::size_t nl = buf.find('\n');
    if (nl != std::string::npos) return parse_notify_reply(std::string_view(buf).substr(0, nl));
    ssize_t n = recv(fd, chunk, sizeof chunk, 0);
    if (n > 0) {
      buf.append(chunk, static_cast<std::size_t>(n));
      if (buf.size() > 64 * 1024) return std::nullopt;
      continue;
    }
    if (n == 0) return std::nullopt;
    if (errno == EINTR) continue;
    if (errno != EAGAIN) return std::nullopt;
    pollfd p{fd, POLLIN, 0};
    const int left = ms_left(deadline);
    if (left == 0 || poll(&p, 1, left) <= 0) return std::nullopt;
  }
}

bool is_clear_integer(std::string_view v, std::int64_t& out) {
  std::string_view digits = v;
  if (!digits.empty() && digits.front() == '-') digits.remove_prefix(1);
  if (digits.empty() || (digits.front() == '0' && v.size() > 1)) return false;  // "007", "-0"
  for (char c : digits)
    if (c < '0' || c > '9') return false;
  auto [ptr, ec] = std::from_chars(v.data(), v.data() + v.size(), out);
  return ec == std::errc() && ptr == v.data() + v.size();
}

}  // namespace

Result<NotifyDelivery> send_notification(const std::string& runtime_dir, const Event& e,
                                         const NotifyClientOptions& options) {
  const SteadyTime deadline = std::chrono::steady_clock::now() + options.timeout;
  if (Status s = check_notify_kind_syntax(e.kind); !s) return s.error();
  for (const auto& [key, value] : e.fields)
    if (Status s = check_notify_field_key(key); !s) return s.error();
  NotifyMessage m;
  m.kind = e.kind;
  m.entity = e.entity;
  m.fields = e.fields;
  m.time = SystemClock().wall();
  m.id = random_id();
  const std::string line = encode_notify_line(m);
  if (line.size() - 1 > kNotifyMaxLineBytes)
    return make_error("the message is " + std::to_string(line.size() - 1) +
                      " bytes encoded; the limit is " + std::to_string(kNotifyMaxLineBytes));
  if (Status s = check_runtime_dir(runtime_dir); !s) return s.error();

  auto spool = [&](std::string why) -> Result<NotifyDelivery> {
    if (Status s = append_to_notify_spool(runtime_dir, line, options.spool_lock_timeout); !s)
      return make_error(why + ", and spooling failed: " + s.error().message, s.error().code);
    NotifyDelivery d;
    d.spooled = true;
    d.spool_reason = std::move(why);
    return d;
  };

  SendState st;
  auto attempt = connect_and_write(notify_socket_path(runtime_dir), line, deadline, st);
  if (!attempt) return attempt.error();
  // A refusal at accept (connection limit, foreign uid) arrives as a reply
  // and a close, before or while we write: the line was never read. So does
  // an eviction at the cap (only possible with a budget longer than the
  // daemon's eviction age): our line was not complete, so it was not counted.
  auto refused = [&](const NotifyReply& reply) -> Result<NotifyDelivery> {
    if (reply.reason == refusal_reason(NotifyRefusal::kTooManyConnections) ||
        reply.reason == refusal_reason(NotifyRefusal::kEvicted))
      return spool("the daemon is at its connection limit (" + reply.error + ")");
    return make_error("the daemon refused the message (" + reply.reason + "): " + reply.error);
  };
  if (*attempt == Attempt::kNotReached) {
    if (st.closed_by_peer) {
      auto reply = read_reply(st.fd.get(), std::chrono::steady_clock::now());
      if (reply && !reply->ok) return refused(*reply);
    }
    return spool(std::move(st.why_not));
  }

  // The whole line is with the daemon. Half-close so it sees the end at once,
  // then take a short look for the reply: {"ok":true} comes once the event is
  // in the event log.
  (void)shutdown(st.fd.get(), SHUT_WR);
  if (auto reply = read_reply(st.fd.get(), deadline)) {
    if (!reply->ok) return refused(*reply);
    NotifyDelivery d;
    d.confirmed = true;
    return d;
  }
  // No reply in time: a daemon too busy to answer, or one that died with the
  // line unread in its socket. Only the spool survives the second, so the line
  // goes there as well, with the same id; the daemon delivers an id once
  // (notify_ids.h), whichever copy comes first.
  return spool(
      "no reply from the daemon within the timeout (spooled as well; delivered once, by id)");
}

Result<Event> parse_notify_args(std::string_view kind, const std::vector<std::string>& args) {
  if (Status s = check_notify_kind_syntax(kind); !s) return s.error();
  Event e;
  e.kind = std::string(kind);
  bool have_entity = false;
  for (std::size_t i = 0; i < args.size(); ++i) {
    const std::string& arg = args[i];
    const std::string where = "argument " + std::to_string(i + 1) + " (\"" + arg + "\")";
    const std::size_t eq = arg.find('=');
    if (eq == std::string::npos) return make_error(where + ": expected key=value");
    const std::string_view key = std::string_view(arg).substr(0, eq);
    const std::string_view value = std::string_view(arg).substr(eq + 1);
    if (key == "entity") {
      if (have_entity) return make_error(where + ": entity given twice");
      have_entity = true;
      e.entity = std::string(value);
      continue;
    }
    if (Status s = check_notify_field_key(key); !s)
      return make_error(where + ": " + s.error().message);
    if (e.fields.find(key))
      return make_error(where + ": key \"" + std::string(key) + "\" given twice");
    std::int64_t n = 0;
    if (is_clear_integer(value, n)) {
      e.fields.set(key, FieldValue(n));
    } else {
      e.fields.set(key, FieldValue(std::string(value)));
    }
  }
  return e;
}

}  // namespace aw
