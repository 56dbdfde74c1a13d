#include "src/tmux/tmux_session.h"

#include <fcntl.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>

#include "src/os/environ.h"
#include "src/os/errno_text.h"
#include "src/os/files.h"
#include "src/os/unique_fd.h"

namespace aw {
namespace {

bool valid_utf8(std::string_view s) {
  for (std::size_t i = 0; i < s.size();) {
    auto c = static_cast<unsigned char>(s[i]);
    std::size_t len = c < 0x80           ? 1
                      : (c >> 5) == 0x6  ? 2
                      : (c >> 4) == 0xE  ? 3
                      : (c >> 3) == 0x1E ? 4
                                         : 0;
    if (len == 0 || i + len > s.size()) return false;
    for (std::size_t k = 1; k < len; ++k)
      if ((static_cast<unsigned char>(s[i + k]) & 0xC0) != 0x80) return false;
    i += len;
  }
  return true;
}

std::string quoted(std::string_view name) {
  return "'" + std::string(name) + "'";
}

// "can't find session: x", "can't find pane: %3", "no current target" (a
// server with no session left, about to exit): a server that answered says the
// session is not there. A server that could not be reached says nothing: that
// is reported in tmux's own words (reply_status), never as "no such session".
bool session_missing(const TmuxReply& r) {
  return !r.ok() && (r.err.starts_with("can't find ") || r.err.starts_with("no current target"));
}

// Written on the thread pool: the brief as a 0600 file (mkostemp's mode).
struct Prepared {
  std::string error;
  std::string file;
};

void prepare(const std::string& cwd, const std::string& brief, const std::string& dir,
             Prepared& out) {
  if (!cwd.empty()) {
    struct stat st {};
    if (::stat(cwd.c_str(), &st) != 0) {
      const int err = errno;
      out.error = "cwd " + cwd + ": " + errno_text(err);
      return;
    }
    if (!S_ISDIR(st.st_mode)) {
      out.error = "cwd " + cwd + ": not a directory";
      return;
    }
  }
  if (brief.empty()) return;
  std::string path = dir + "/aw-brief-XXXXXX";
  UniqueFd fd(::mkostemp(path.data(), O_CLOEXEC));
  if (!fd) {
    const int err = errno;
    out.error = "cannot create a brief file in " + dir + ": " + errno_text(err);
    return;
  }
  if (Status s = write_all(fd.get(), brief); !s) {
    out.error = "cannot write the brief file " + path + ": " + errno_text(-s.error().code);
    ::unlink(path.c_str());
    return;
  }
  out.file = std::move(path);
}

}  // namespace

Status check_session_name(std::string_view name) {
  auto bad = [&](std::string why) {
    return Status(make_error("tmux session name " + quoted(name) + ": " + std::move(why)));
  };
  if (name.empty()) return make_error("tmux session name is empty; expected a name");
  if (name.find_first_of(":.") != std::string_view::npos)
    return bad("contains ':' or '.', which tmux would turn into '_'");
  for (char c : name)
    if (static_cast<unsigned char>(c) < 0x20 || c == 0x7f)
      return bad("contains a control character");
  if (name.find('\\') != std::string_view::npos)
    return bad("contains '\\', which tmux would double");
  if (!valid_utf8(name)) return bad("is not valid UTF-8");
  if (name.front() == '$') return bad("starts with '$', which tmux reads as a session id");
  return Status::Ok();
}

std::vector<std::string> new_session_args(const OpenSession& r) {
  // -s and -c are format-expanded by tmux: "#(cmd)" in a name would run cmd.
  std::vector<std::string> a = {"new-session", "-d", "-s", escape_tmux_format(r.session)};
  if (!r.cwd.empty()) {
    a.emplace_back("-c");
    a.push_back(escape_tmux_format(r.cwd));
  }
  for (const auto& [k, v] : r.env) {
    a.emplace_back("-e");
    a.push_back(k + "=" + v);
  }
  if (r.argv.empty()) return a;
  a.emplace_back("--");
  if (r.argv.size() == 1) {
    // One argument would go to `default-shell -c` as shell text.
    for (const char* s : {"/bin/sh", "-c", "exec \"$0\""}) a.emplace_back(s);
  }
  a.insert(a.end(), r.argv.begin(), r.argv.end());
  return a;
}

struct TmuxSessionControl::Op {
  std::uint64_t id = 0;
  Callback on_done;
  OpenSession req;
  std::string target;      // "=NAME:" (the session's current pane)
  std::string brief_file;  // while it exists
  std::string buffer;
  MonoTime deadline{};
  Duration backoff{};
  std::unique_ptr<uvx::Timer> poll_timer;
  int dead_polls = 0;    // polls that saw the pane dead with no status yet
  bool opening = false;  // open_session (else send: the session must exist)
  int create_attempts = 0;
  // A failure found before anything ran, reported from the pool's completion.
  std::string early_error;
};

TmuxSessionControl::TmuxSessionControl(uv_loop_t* loop, const Clock& clock, TmuxClient& client,
                                       TmuxSessionOptions options)
    : loop_(loop), clock_(clock), client_(client), options_(std::move(options)) {
  if (options_.temp_dir.empty()) options_.temp_dir = env_or("TMPDIR", "/tmp");
}

TmuxSessionControl::~TmuxSessionControl() {
  // Tiny unlinks, only at teardown: not worth the thread pool here.
  for (auto& [id, op] : ops_)
    if (!op->brief_file.empty()) ::unlink(op->brief_file.c_str());
}

std::uint64_t TmuxSessionControl::add(Callback on_done) {
  const std::uint64_t id = next_id_++;
  auto op = std::make_unique<Op>();
  op->id = id;
  op->on_done = std::move(on_done);
  ops_.emplace(id, std::move(op));
  return id;
}

TmuxSessionControl::Op* TmuxSessionControl::find(std::uint64_t id) {
  auto it = ops_.find(id);
  return it == ops_.end() ? nullptr : it->second.get();
}

void TmuxSessionControl::run(std::uint64_t id, std::vector<std::string> args,
                             std::function<void(Op&, Result<TmuxReply>)> next) {
  std::weak_ptr<char> alive = alive_;
  client_.run(std::move(args), [this, alive, id, next = std::move(next)](Result<TmuxReply> r) {
    if (alive.expired()) return;
    if (Op* op = find(id)) next(*op, std::move(r));
  });
}

void TmuxSessionControl::open_session(OpenSession request, Callback on_done) {
  const std::uint64_t id = add(std::move(on_done));
  Op& op = *find(id);
  op.opening = true;
  op.req = std::move(request);
  op.target = "=" + op.req.session + ":";
  if (Status s = check_session_name(op.req.session); !s) op.early_error = s.error().message;
  for (const auto& [k, v] : op.req.env)
    if (op.early_error.empty() && (k.empty() || k.find('=') != std::string::npos))
      op.early_error = "tmux session " + quoted(op.req.session) + ": environment name " +
                       quoted(k) + " is empty or contains '='";
  start_prepare(op);
}

void TmuxSessionControl::send(SendToSession request, Callback on_done) {
  const std::uint64_t id = add(std::move(on_done));
  Op& op = *find(id);
  op.req.session = std::move(request.session);
  op.req.brief = std::move(request.brief);
  op.req.submit = request.submit;
  op.req.keys = std::move(request.keys);
  op.target = "=" + op.req.session + ":";
  if (Status s = check_session_name(op.req.session); !s)
    op.early_error = s.error().message;
  else if (op.req.brief.empty() && op.req.keys.empty())
    op.early_error =
        "tmux session " + quoted(op.req.session) + ": nothing to send (no brief, no keys)";
  start_prepare(op);
}

void TmuxSessionControl::send_keys(std::string session, std::vector<std::string> keys,
                                   Callback on_done) {
  SendToSession r;
  r.session = std::move(session);
  r.keys = std::move(keys);
  send(std::move(r), std::move(on_done));
}

void TmuxSessionControl::start_prepare(Op& op) {
  const std::uint64_t id = op.id;
  auto prep = std::make_shared<Prepared>();
  // After a validation error nothing is checked or written: the pool's
  // completion only reports it (never from inside the caller's call).
  std::string cwd = op.early_error.empty() ? op.req.cwd : std::string();
  std::string brief = op.early_error.empty() ? op.req.brief : std::string();
  std::string dir = options_.temp_dir;
  int rc = uvx::queue_work(
      loop_, work_owner_, [prep, cwd, brief, dir] { prepare(cwd, brief, dir, *prep); },
      [this, id, prep] { after_prepare(id, prep->error, std::move(prep->file)); },
      [prep] {  // nobody will type the brief: do not leave it behind
        if (!prep->file.empty()) ::unlink(prep->file.c_str());
      });
  if (rc != 0) {
    // The pool refused (only while the loop is being torn down): nothing was written.
    finish(id, make_error(std::string("cannot queue work: ") + uv_strerror(rc), rc));
  }
}

void TmuxSessionControl::after_prepare(std::uint64_t id, const std::string& error,
                                       std::string file) {
  Op* op = find(id);
  if (!op) {
    if (!file.empty()) ::unlink(file.c_str());
    return;
  }
  op->brief_file = std::move(file);
  if (!op->early_error.empty()) return finish(id, make_error(op->early_error));
  if (!error.empty())
    return finish(id, make_error("tmux session " + quoted(op->req.session) + ": " + error));
  if (op->opening)
    create(*op);
  else
    paste(*op);
}

Status TmuxSessionControl::step_status(const Op& op, const Result<TmuxReply>& r,
                                       std::string_view what) const {
  if (r && session_missing(*r)) {
    if (!op.opening) return make_error("no such tmux session: " + op.req.session);
    return make_error("tmux session " + quoted(op.req.session) + " vanished while " +
                      std::string(what));
  }
  return reply_status(r, "tmux session " + quoted(op.req.session) + ": " + std::string(what));
}

void TmuxSessionControl::create(Op& op) {
  const std::uint64_t id = op.id;
  run(id, new_session_args(op.req), [this, id](Op& o, Result<TmuxReply> r) {
    // The server was exiting (its last session just ended) as we connected:
    // nothing was created; once more starts a fresh server.
    if (r && !r->ok() && r->err.starts_with("server exited unexpectedly") &&
        o.create_attempts++ == 0)
      return create(o);
    if (r && !r->ok() && r->err.starts_with("duplicate session"))
      return finish(id, make_error("tmux session " + quoted(o.req.session) +
                                   " already exists; refusing to open it again"));
    if (Status s = reply_status(r, "tmux new-session " + quoted(o.req.session)); !s)
      return finish(id, s);
    o.deadline = clock_.mono() + o.req.ready_timeout;
    o.backoff = options_.first_poll;
    o.poll_timer = std::make_unique<uvx::Timer>(loop_, [this, id] {
      if (Op* op = find(id)) poll_ready(*op);
    });
    poll_ready(o);
  });
}

void TmuxSessionControl::poll_ready(Op& op) {
  const std::uint64_t id = op.id;
  run(id,
      {"list-panes", "-f", "#{pane_active}", "-t", op.target, "-F",
       "#{pane_dead}\t#{pane_dead_status}\t#{pane_dead_signal}", ";", "capture-pane", "-p", "-J",
       "-t", op.target},
      [this](Op& o, Result<TmuxReply> r) { on_ready_reply(o, std::move(r)); });
}

void TmuxSessionControl::on_ready_reply(Op& op, Result<TmuxReply> r) {
  const std::uint64_t id = op.id;
  const std::string who = "tmux session " + quoted(op.req.session);
  // Just created: a server gone now went with the session's command (tmux
  // exits with its last session), so here unreachable means ended too.
  if (r && (session_missing(*r) || r->unreachable()))
    return finish(id, make_error(who + " ended before it was ready (its command exited?)"));
  if (Status s = reply_status(r, who + ": tmux capture-pane"); !s) return finish(id, s);

  std::string_view out = r->out;
  std::size_t nl = out.find('\n');
  std::string_view state = out.substr(0, nl);
  std::string_view screen = nl == std::string_view::npos ? std::string_view() : out.substr(nl + 1);
  // "1\tSTATUS\tSIGNAL" once remain-on-exit kept a dead pane. tmux marks it
  // dead when the pty closes, a moment before it has reaped the command:
  // both empty means "ask again", the status is about to be known.
  bool dead = state.starts_with("1\t");
  if (dead) {
    std::string_view rest = state.substr(2);
    std::size_t tab = rest.find('\t');
    std::string_view status = rest.substr(0, tab);
    std::string_view signal = tab == std::string_view::npos ? "" : rest.substr(tab + 1);
    // tmux 3.3a sometimes never learns the status of a command that exited
    // at once: after a few polls, say what is known.
    if (status.empty() && signal.empty() && ++op.dead_polls >= 5)
      return finish(id, make_error(who + ": its command exited before it was ready"));
    if (!status.empty() || !signal.empty())
      return finish(id, make_error(who + ": its command exited " +
                                   (!status.empty() ? "with status " + std::string(status)
                                                    : "by signal " + std::string(signal)) +
                                   " before it was ready"));
  } else if (op.req.wait_for.empty() || screen.find(op.req.wait_for) != std::string_view::npos) {
    return paste(op);
  }

  const MonoTime now = clock_.mono();
  if (now >= op.deadline)
    return finish(id, make_error(who + ": \"" + op.req.wait_for + "\" did not appear within " +
                                 std::to_string(to_ms(op.req.ready_timeout)) + " ms"));
  Duration delay = std::min({op.backoff, options_.max_poll, op.deadline - now});
  op.backoff = std::min(op.backoff * 2, options_.max_poll);
  op.poll_timer->start(static_cast<std::uint64_t>(std::max<std::int64_t>(1, to_ms(delay))));
}

void TmuxSessionControl::paste(Op& op) {
  if (op.brief_file.empty()) return submit(op);
  const std::uint64_t id = op.id;
  op.buffer = "aw-" + std::to_string(::getpid()) + "-" + std::to_string(next_buffer_++);
  run(id,
      {"load-buffer", "-b", op.buffer, escape_tmux_format(op.brief_file), ";", "paste-buffer", "-d",
       "-p", "-b", op.buffer, "-t", op.target},
      [this, id](Op& o, const Result<TmuxReply>& r) {
        if (Status s = step_status(o, r, "pasting the brief"); !s) {
          // Best effort: a buffer loaded but not pasted would linger in tmux.
          client_.run({"delete-buffer", "-b", o.buffer}, [](const Result<TmuxReply>&) {});
          return finish(id, s);
        }
        remove_brief_then(o, [this](Op& again) { submit(again); });
      });
}

void TmuxSessionControl::remove_brief_then(Op& op, const std::function<void(Op&)>& next) {
  const std::uint64_t id = op.id;
  std::string file = std::move(op.brief_file);
  op.brief_file.clear();
  int rc = uvx::queue_work(
      loop_, work_owner_, [file] { ::unlink(file.c_str()); },
      [this, id, next] {
        if (Op* o = find(id)) next(*o);
      });
  if (rc != 0) {
    ::unlink(file.c_str());
    next(op);
  }
}

void TmuxSessionControl::submit(Op& op) {
  if (!op.req.submit || op.req.brief.empty()) return send_final_keys(op);
  const std::uint64_t id = op.id;
  run(id, {"send-keys", "-t", op.target, "Enter"}, [this, id](Op& o, const Result<TmuxReply>& r) {
    if (Status s = step_status(o, r, "pressing Enter"); !s) return finish(id, s);
    send_final_keys(o);
  });
}

void TmuxSessionControl::send_final_keys(Op& op) {
  const std::uint64_t id = op.id;
  if (op.req.keys.empty()) return finish(id, Status::Ok());
  std::vector<std::string> args = {"send-keys", "-t", op.target};
  args.insert(args.end(), op.req.keys.begin(), op.req.keys.end());
  run(id, std::move(args), [this, id](Op& o, const Result<TmuxReply>& r) {
    finish(id, step_status(o, r, "sending keys"));
  });
}

void TmuxSessionControl::finish(std::uint64_t id, Status status) {
  auto it = ops_.find(id);
  if (it == ops_.end()) return;
  std::unique_ptr<Op> op = std::move(it->second);
  ops_.erase(it);
  Callback cb = std::move(op->on_done);
  if (!op->brief_file.empty()) {
    std::string file = std::move(op->brief_file);
    int rc = uvx::queue_work(
        loop_, work_owner_, [file] { ::unlink(file.c_str()); },
        [cb, status] {
          if (cb) cb(status);
        });
    if (rc == 0) return;
    ::unlink(file.c_str());
  }
  if (cb) cb(std::move(status));
}

void TmuxSessionControl::kill_session(std::string session, Callback on_done) {
  std::vector<std::string> args = {"kill-session", "-t", "=" + session};
  run_simple(std::move(session), std::move(args), "kill-session", std::move(on_done));
}

void TmuxSessionControl::run_simple(std::string session, std::vector<std::string> args,
                                    std::string what, Callback on_done) {
  const std::uint64_t id = add(std::move(on_done));
  Op& op = *find(id);
  op.req.session = session;
  if (Status s = check_session_name(session); !s) op.early_error = s.error().message;
  if (!op.early_error.empty()) {
    // Reported from the pool's completion: never from inside the call.
    int rc = uvx::queue_work(
        loop_, work_owner_, [] {},
        [this, id] {
          if (Op* o = find(id)) finish(id, make_error(o->early_error));
        });
    if (rc != 0) finish(id, make_error(op.early_error));
    return;
  }
  run(id, std::move(args),
      [this, id, what = std::move(what), session = std::move(session)](Op&, Result<TmuxReply> r) {
        if (r && session_missing(*r))
          return finish(id, make_error("no such tmux session: " + session));
        finish(id, reply_status(r, "tmux " + what + " " + quoted(session)));
      });
}

}  // namespace aw
