#include "src/tmux/tmux_watch.h"

#include <sys/syscall.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <optional>

#include "src/core/event_kinds.h"

namespace aw {

TmuxWatch::TmuxWatch(uv_loop_t* loop, const Clock& clock, TmuxClient& client, EmitFn emit,
                     SnapshotFn on_snapshot, TmuxWatchOptions options)
    : clock_(clock),
      client_(client),
      emit_(std::move(emit)),
      on_snapshot_(std::move(on_snapshot)),
      options_(options),
      loop_(loop),
      retry_(loop, [this] { reconcile("retry"); }) {}

TmuxWatch::~TmuxWatch() {
  stop_watching_server();
}

void TmuxWatch::reconcile(std::string reason) {
  if (in_flight_) {
    if (!queued_) queued_reason_ = std::move(reason);
    queued_ = true;
    return;
  }
  retry_.stop();
  start(std::move(reason));
}

void TmuxWatch::start(std::string reason) {
  in_flight_ = true;
  ++queries_;
  std::weak_ptr<char> alive = alive_;
  client_.run(list_panes_args(), [this, alive, reason = std::move(reason)](Result<TmuxReply> r) {
    if (alive.expired()) return;
    on_reply(reason, std::move(r));
  });
}

TmuxServerView TmuxWatch::server_view() const {
  TmuxServerView v;
  v.known = failures_ == 0 && last_.known;
  v.server_pid = server_pid_;
  v.server_exited = server_ == Server::kExited;
  v.failures = failures_;
  v.error = last_error_;
  return v;
}

void TmuxWatch::stop_watching_server() {
  server_poll_.reset();  // before its fd is closed
  server_fd_.reset();
}

void TmuxWatch::watch_server(pid_t pid) {
  if (server_ == Server::kAlive && server_pid_ == pid) return;
  stop_watching_server();
  server_pid_ = pid;
  server_ = Server::kAlive;
  server_fd_.reset(static_cast<int>(::syscall(SYS_pidfd_open, pid, 0)));
  if (!server_fd_) {
    // ESRCH: it answered, then ended before we could hold it. Anything else
    // (no pidfd support): the server stays unwatched, and unreachable stays
    // unknown — never absent.
    if (errno == ESRCH) on_server_exit();
    return;
  }
  server_poll_ = std::make_unique<uvx::Poll>(loop_, server_fd_.get(), [this](int status, int) {
    // A pidfd becomes readable once its process has ended; an error from the
    // poll says nothing about the process, so it is not an exit.
    if (status < 0) return;
    on_server_exit();
  });
  if (server_poll_->init_status() != 0 || server_poll_->start(UV_READABLE) != 0) {
    server_poll_.reset();
    server_fd_.reset();
  }
}

void TmuxWatch::on_server_exit() {
  if (server_ != Server::kAlive) return;
  if (server_poll_) server_poll_->stop();  // destroyed later, not inside its own callback
  server_ = Server::kExited;
  exit_unreported_ = true;
  // The answer is reported from the client's callback, like every other.
  reconcile(std::string(kind::kTmuxServerExited));
}

void TmuxWatch::on_reply(const std::string& asked_for, Result<TmuxReply> reply) {
  // in_flight_ stays set until the follow-up below: a reconcile() from inside
  // (a server gone before we could watch it) is queued, never a second query.
  std::optional<TmuxSnapshot> fresh;
  std::string error;
  bool unreachable = false;
  if (!reply) {
    error = reply.error().message;
  } else if (reply->ok()) {
    auto parsed = parse_list_panes(reply->out);
    if (!parsed)
      error = parsed.error().message;
    else if (server_ == Server::kExited && parsed->server_pid == server_pid_)
      fresh = TmuxSnapshot{};  // answered before it died: its sessions are gone now
    else
      fresh = std::move(*parsed);
  } else {
    unreachable = reply->unreachable();
    error = reply_status(reply, "tmux list-panes").error().message;
  }
  // The server that held the sessions ended: whatever this query met (no
  // socket, no tmux), those sessions are confirmed gone.
  if (!fresh && server_ == Server::kExited) fresh = TmuxSnapshot{};

  // What this answer reports is the server's exit, whatever asked.
  const std::string reason = exit_unreported_ ? std::string(kind::kTmuxServerExited) : asked_for;
  std::vector<Event> events;
  if (exit_unreported_) {
    exit_unreported_ = false;
    Event e;
    e.kind = kind::kTmuxServerExited;
    e.source = "tmux";
    e.time = clock_.wall();
    e.fields.set("pid", FieldValue(static_cast<std::int64_t>(server_pid_)));
    events.push_back(std::move(e));
  }
  if (fresh) {
    // A server answered with panes: it is the one to watch from now on. One
    // that answered with none named no PID: a new server we cannot watch, so
    // its "unreachable" is unknown again.
    if (fresh->server_pid != 0)
      watch_server(fresh->server_pid);
    else if (server_ == Server::kExited && reply && reply->ok())
      server_ = Server::kUnnamed;
    if (failures_ > 0) {
      Event e;
      e.kind = kind::kTmuxReconcileRecovered;
      e.source = "tmux";
      e.time = clock_.wall();
      e.fields.set("reason", FieldValue(reason));
      e.fields.set("failures", FieldValue(std::int64_t{failures_}));
      events.push_back(std::move(e));
    }
    for (Event& e : diff_snapshots(last_, *fresh, clock_.wall())) {
      e.fields.set("reason", FieldValue(reason));
      events.push_back(std::move(e));
    }
    last_ = std::move(*fresh);
    failures_ = 0;
    last_error_.clear();
  } else {
    ++failures_;
    last_error_ = error;
    Event e;
    e.kind = kind::kTmuxReconcileFailed;
    e.source = "tmux";
    e.time = clock_.wall();
    e.fields.set("reason", FieldValue(reason));
    e.fields.set("error", FieldValue(error));
    e.fields.set("failures", FieldValue(std::int64_t{failures_}));
    if (unreachable) e.fields.set("unreachable", FieldValue(true));
    const bool server_alive = server_ == Server::kAlive;
    if (server_alive)
      e.fields.set("server_pid", FieldValue(static_cast<std::int64_t>(server_pid_)));
    // No server ever answered and none can be reached: asking again finds the
    // same until one starts, and a starting server's hooks ask for us. Idle
    // means idle on a machine without tmux.
    const bool never_seen = unreachable && server_ == Server::kUnnamed;
    if (!queued_ && !never_seen && (failures_ <= options_.max_retries || server_alive)) {
      Duration delay = options_.first_retry;
      for (int i = 1; i < failures_ && delay < options_.max_retry; ++i) delay *= 2;
      if (failures_ > options_.max_retries) delay = options_.max_retry;
      delay = std::min(delay, options_.max_retry);
      e.fields.set("retry_ms", FieldValue(to_ms(delay)));
      retry_.start(static_cast<std::uint64_t>(std::max<std::int64_t>(0, to_ms(delay))));
    }
    events.push_back(std::move(e));
  }

  // The follow-up starts before any callback runs, so a reconcile() from
  // inside one is queued behind it instead of starting a second query.
  in_flight_ = false;
  if (queued_) {
    queued_ = false;
    start(std::move(queued_reason_));
  }
  std::weak_ptr<char> alive = alive_;
  for (Event& e : events) {
    if (emit_) emit_(std::move(e));
    if (alive.expired()) return;
  }
  if (on_snapshot_) on_snapshot_(last_, fresh.has_value());
}

}  // namespace aw
