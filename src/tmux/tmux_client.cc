#include "src/tmux/tmux_client.h"

#include <signal.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <optional>

#include "src/os/child_process.h"

namespace aw {

bool is_unreachable_message(std::string_view text) {
  const std::string_view first_line = text.substr(0, text.find('\n'));
  return text.starts_with("no server running on ") || text.starts_with("error connecting to ") ||
         text.starts_with("server exited unexpectedly") ||
         (text.starts_with("directory ") && first_line.ends_with(" has unsafe permissions"));
}

std::string escape_tmux_format(std::string_view s) {
  std::string out;
  out.reserve(s.size());
  for (char c : s) {
    out += c;
    if (c == '#') out += '#';
  }
  return out;
}

bool TmuxReply::unreachable() const {
  return exit_code != 0 && is_unreachable_message(err);
}

std::string TmuxReply::error_text() const {
  std::string_view e = err;
  while (!e.empty() && (e.back() == '\n' || e.back() == '\r')) e.remove_suffix(1);
  return std::string(e);
}

Status reply_status(const Result<TmuxReply>& reply, std::string_view what) {
  if (!reply)
    return make_error(std::string(what) + ": " + reply.error().message, reply.error().code);
  if (reply->ok()) return Status::Ok();
  std::string text = reply->error_text();
  if (text.empty()) text = "exited with status " + std::to_string(reply->exit_code);
  return make_error(std::string(what) + ": " + text);
}

struct TmuxClient::Command {
  std::string what;  // "tmux list-panes", for messages
  Callback on_done;
  std::unique_ptr<ChildProcess> child;
  std::unique_ptr<uvx::Timer> timer;
  std::string out;
  std::string err;
  bool timed_out = false;
  bool overflowed = false;
};

TmuxClient::TmuxClient(uv_loop_t* loop, const Clock& clock, TmuxServer server,
                       TmuxClientOptions options)
    : loop_(loop), clock_(clock), server_(std::move(server)), options_(options) {}

// Members do the work: each running Command's ChildProcess kills and reaps its
// tmux client; the timers close; callbacks are dropped with their Commands.
TmuxClient::~TmuxClient() = default;

void TmuxClient::run(std::vector<std::string> args, Callback on_done) {
  const std::uint64_t id = next_id_++;
  auto cmd = std::make_unique<Command>();
  cmd->what = "tmux" + (args.empty() ? std::string() : " " + args.front());
  cmd->on_done = std::move(on_done);
  Command* c = cmd.get();
  running_.emplace(id, std::move(cmd));

  SpawnOptions so;
  so.argv = server_.command;
  so.argv.insert(so.argv.end(), std::make_move_iterator(args.begin()),
                 std::make_move_iterator(args.end()));
  so.tail_limit = 0;  // the whole output is kept here, through on_output
  so.on_output = [this, c](int stream, std::string_view bytes) {
    if (c->overflowed) return;
    if (c->out.size() + c->err.size() + bytes.size() > options_.max_output) {
      c->overflowed = true;
      c->child->kill_group(SIGKILL);
      return;
    }
    (stream == 1 ? c->out : c->err).append(bytes);
  };
  auto child = ChildProcess::spawn(loop_, clock_, std::move(so), [this, id](const ChildExit& e) {
    on_child_exit(id, e.exited ? e.exit_code : -1, e.exited ? 0 : e.term_signal);
  });
  if (!child) {
    // Reported on the next loop turn, never from inside run(): callers may
    // still be setting up what the callback touches.
    Error error{c->what + ": " + child.error().message, child.error().code};
    c->timer = std::make_unique<uvx::Timer>(
        loop_, [this, id, error = std::move(error)] { finish(id, error); });
    c->timer->start(0);
    return;
  }
  c->child = std::move(*child);
  c->timer = std::make_unique<uvx::Timer>(loop_, [this, id] { on_timeout(id); });
  c->timer->start(static_cast<std::uint64_t>(std::max<std::int64_t>(0, to_ms(options_.timeout))));
}

void TmuxClient::on_timeout(std::uint64_t id) {
  auto it = running_.find(id);
  if (it == running_.end() || !it->second->child) return;
  it->second->timed_out = true;
  it->second->child->kill_group(SIGKILL);
}

void TmuxClient::on_child_exit(std::uint64_t id, int exit_code, int term_signal) {
  auto it = running_.find(id);
  if (it == running_.end()) return;
  Command& c = *it->second;
  if (c.timed_out)
    return finish(id, make_error(c.what + ": timed out after " +
                                     std::to_string(to_ms(options_.timeout)) + " ms",
                                 -ETIMEDOUT));
  if (c.overflowed)
    return finish(
        id, make_error(c.what + ": output over " + std::to_string(options_.max_output) + " bytes",
                       -EMSGSIZE));
  if (exit_code < 0)
    return finish(id, make_error(c.what + ": killed by signal " + std::to_string(term_signal) +
                                     " (" + strsignal(term_signal) + ")",
                                 -EINTR));
  TmuxReply reply;
  reply.exit_code = exit_code;
  reply.out = std::move(c.out);
  reply.err = std::move(c.err);
  finish(id, std::move(reply));
}

// Called from the command's own child or timer callback: destroying them here
// is safe (uvx), and the child was reaped (or never spawned), so it is quick.
void TmuxClient::finish(std::uint64_t id, Result<TmuxReply> result) {
  auto it = running_.find(id);
  if (it == running_.end()) return;
  std::unique_ptr<Command> c = std::move(it->second);
  running_.erase(it);
  Callback cb = std::move(c->on_done);
  c.reset();
  if (cb) cb(std::move(result));  // may destroy the client: nothing of it is touched after
}

}  // namespace aw
