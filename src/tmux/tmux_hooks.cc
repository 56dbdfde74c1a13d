#include "src/tmux/tmux_hooks.h"

#include <fcntl.h>
#include <limits.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>

#include "src/core/event_kinds.h"
#include "src/os/errno_text.h"
#include "src/os/files.h"
#include "src/os/unique_fd.h"
#include "src/tmux/tmux_client.h"

namespace aw {
namespace {

struct HookSpec {
  std::string_view kind;    // the notify event, tmux.<hook>
  std::string_view fields;  // key=format pairs; every format through q:
  constexpr std::string_view hook() const { return kind.substr(kind::kTmuxPrefix.size()); }
};

// Which formats are right differs per hook (tmux 3.3a, checked by the tests):
// session-closed and window-(un)linked only know the session through
// hook_session_name (session_name is some other session); pane-exited only
// through hook_pane (pane_id and session_name describe another pane, the
// exited one is gone). pane-died and client-detached have the right pane and
// session in the ordinary formats.
constexpr HookSpec kHooks[] = {
    {kind::kTmuxHookSessionCreated,
     "entity=#{q:hook_session_name} session=#{q:hook_session_name} "
     "session_id=#{q:hook_session} pane=#{q:pane_id} pane_pid=#{q:pane_pid} "
     "window=#{q:window_index}"},
    {kind::kTmuxHookSessionClosed,
     "entity=#{q:hook_session_name} session=#{q:hook_session_name} "
     "session_id=#{q:hook_session}"},
    {kind::kTmuxHookPaneDied,
     "entity=#{q:session_name} session=#{q:session_name} session_id=#{q:session_id} "
     "pane=#{q:hook_pane} pane_pid=#{q:pane_pid} window=#{q:window_index} "
     "status=#{q:pane_dead_status} signal=#{q:pane_dead_signal}"},
    {kind::kTmuxHookPaneExited, "pane=#{q:hook_pane}"},
    {kind::kTmuxHookClientDetached,
     "entity=#{q:session_name} session=#{q:session_name} client=#{q:hook_client}"},
    {kind::kTmuxHookAlertSilence,
     "entity=#{q:hook_session_name} session=#{q:hook_session_name} window=#{q:window_index} "
     "window_id=#{q:hook_window} pane=#{q:pane_id} pane_pid=#{q:pane_pid}"},
    {kind::kTmuxHookWindowLinked,
     "entity=#{q:hook_session_name} session=#{q:hook_session_name} window_id=#{q:hook_window}"},
    {kind::kTmuxHookWindowUnlinked,
     "entity=#{q:hook_session_name} session=#{q:hook_session_name} window_id=#{q:hook_window}"},
};

bool plainly_safe(std::string_view s) {
  if (s.empty()) return false;
  for (char c : s) {
    bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
              std::string_view("_./=:,+@-").find(c) != std::string_view::npos;
    if (!ok) return false;
  }
  return true;
}

std::string hook_name(std::string_view hook) {
  return std::string(hook) + "[" + std::to_string(kHookIndex) + "]";
}

std::string set_hook_value(const HookCommand& h) {
  return "run-shell -b " + tmux_quote(h.command);
}

}  // namespace

std::string shell_quote(std::string_view s) {
  if (plainly_safe(s)) return std::string(s);
  std::string out = "'";
  for (char c : s) {
    if (c == '\'')
      out += "'\\''";
    else
      out += c;
  }
  out += "'";
  return out;
}

// tmux's parser (cmd-parse.y) reads single quotes literally and a backslash
// outside quotes as an escape, as sh does, so sh's quoting works unchanged.
std::string tmux_quote(std::string_view s) {
  return shell_quote(s);
}

std::vector<HookCommand> hook_commands(const HookOptions& options) {
  std::string prefix = escape_tmux_format(shell_quote(options.agentwatch));
  for (const std::string& a : options.extra_args)
    prefix += " " + escape_tmux_format(shell_quote(a));
  std::vector<HookCommand> out;
  for (const HookSpec& spec : kHooks) {
    HookCommand h;
    h.hook = spec.hook();
    h.command = prefix + " notify -q " + std::string(spec.kind) + " " + std::string(spec.fields) +
                " >/dev/null 2>&1";
    out.push_back(std::move(h));
  }
  return out;
}

std::vector<std::string> hook_lines(const HookOptions& options) {
  std::vector<std::string> out;
  for (const HookCommand& h : hook_commands(options))
    out.push_back("set-hook -g " + hook_name(h.hook) + " " + tmux_quote(set_hook_value(h)));
  return out;
}

std::vector<std::vector<std::string>> hook_set_commands(const HookOptions& options) {
  std::vector<std::vector<std::string>> out;
  for (const HookCommand& h : hook_commands(options))
    out.push_back({"set-hook", "-g", hook_name(h.hook), set_hook_value(h)});
  return out;
}

std::vector<std::vector<std::string>> hook_unset_commands() {
  std::vector<std::vector<std::string>> out;
  for (const HookSpec& spec : kHooks) out.push_back({"set-hook", "-gu", hook_name(spec.hook())});
  return out;
}

std::vector<std::string> join_tmux_commands(const std::vector<std::vector<std::string>>& commands) {
  std::vector<std::string> out;
  for (const auto& c : commands) {
    if (!out.empty()) out.emplace_back(";");
    out.insert(out.end(), c.begin(), c.end());
  }
  return out;
}

Result<std::string> with_hook_block(std::string_view conf, const std::vector<std::string>& lines,
                                    std::string_view path) {
  // Offsets of the marker lines: [begin_at, begin_end) and [end_at, end_end),
  // each end including the line's '\n' when there is one.
  std::size_t begin_at = std::string_view::npos, end_end = std::string_view::npos;
  std::size_t begin_line = 0;
  std::size_t line_no = 0;
  for (std::size_t pos = 0; pos < conf.size();) {
    std::size_t nl = conf.find('\n', pos);
    std::size_t next = nl == std::string_view::npos ? conf.size() : nl + 1;
    std::string_view line =
        conf.substr(pos, (nl == std::string_view::npos ? conf.size() : nl) - pos);
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
    ++line_no;
    auto where = [&] { return std::string(path) + ":" + std::to_string(line_no) + ": "; };
    if (line == kHookBlockBegin) {
      if (begin_at != std::string_view::npos)
        return make_error(where() + "a second '" + std::string(kHookBlockBegin) +
                          "' (the block starting on line " + std::to_string(begin_line) +
                          " has no end, or there are two blocks); expected one block");
      begin_at = pos;
      begin_line = line_no;
    } else if (line == kHookBlockEnd) {
      if (begin_at == std::string_view::npos || end_end != std::string_view::npos)
        return make_error(where() + "'" + std::string(kHookBlockEnd) + "' without a '" +
                          std::string(kHookBlockBegin) + "' before it");
      end_end = next;
    }
    pos = next;
  }
  if (begin_at != std::string_view::npos && end_end == std::string_view::npos)
    return make_error(std::string(path) + ":" + std::to_string(begin_line) + ": '" +
                      std::string(kHookBlockBegin) + "' without its '" +
                      std::string(kHookBlockEnd) + "'; fix or remove the block by hand");

  std::string block;
  if (!lines.empty()) {
    block += std::string(kHookBlockBegin) + "\n";
    block += "# Written by `agentwatch`: replaced on every install. Edit outside this block.\n";
    for (const std::string& l : lines) block += l + "\n";
    block += std::string(kHookBlockEnd) + "\n";
  }
  std::string out;
  if (begin_at != std::string_view::npos) {
    out.append(conf.substr(0, begin_at));
    out.append(block);
    out.append(conf.substr(end_end));
    return out;
  }
  out.append(conf);
  if (!block.empty() && !out.empty() && out.back() != '\n') out += '\n';
  out.append(block);
  return out;
}

Status install_into_tmux_conf(const std::string& path, const std::vector<std::string>& lines) {
  std::string target = path;
  struct stat st {};
  bool exists = false;
  if (::lstat(path.c_str(), &st) == 0) {
    exists = true;
    if (S_ISLNK(st.st_mode)) {
      char resolved[PATH_MAX];
      if (!::realpath(path.c_str(), resolved))
        return errno_error(path + ": a symlink whose target cannot be resolved", errno);
      target = resolved;
      if (::stat(target.c_str(), &st) != 0) return errno_error(target, errno);
    }
    if (!S_ISREG(st.st_mode)) return make_error(target + ": not a regular file");
  } else if (errno != ENOENT) {
    return errno_error(path, errno);
  }

  std::string conf;
  if (exists) {
    UniqueFd fd(::open(target.c_str(), O_RDONLY | O_CLOEXEC));
    if (!fd) return errno_error(target + ": cannot read", errno);
    char buf[65536];
    while (true) {
      ssize_t n = ::read(fd.get(), buf, sizeof buf);
      if (n < 0 && errno == EINTR) continue;
      if (n < 0) return errno_error(target + ": cannot read", errno);
      if (n == 0) break;
      conf.append(buf, static_cast<std::size_t>(n));
    }
  }
  auto updated = with_hook_block(conf, lines, target);
  if (!updated) return updated.error();
  if (exists && *updated == conf) return Status::Ok();

  std::size_t slash = target.rfind('/');
  // Same directory, so the rename is atomic; hidden, so nothing picks it up.
  std::string dir = slash == std::string::npos ? "." : target.substr(0, slash);
  std::string base = slash == std::string::npos ? target : target.substr(slash + 1);
  std::string tmp = dir + "/." + base + ".agentwatch-XXXXXX";
  UniqueFd fd(::mkostemp(tmp.data(), O_CLOEXEC));
  if (!fd) return errno_error(tmp + ": cannot create", errno);
  auto fail = [&](std::string what, int err) {
    ::unlink(tmp.c_str());
    return Status(errno_error(tmp + ": " + std::move(what), err));
  };
  mode_t mode = exists ? (st.st_mode & 07777) : 0644;
  if (::fchmod(fd.get(), mode) != 0) return fail("cannot set its mode", errno);
  if (Status s = write_all(fd.get(), *updated); !s) return fail("cannot write", -s.error().code);
  if (::fsync(fd.get()) != 0) return fail("cannot sync", errno);
  if (fd.close() != 0) return fail("cannot close", errno);
  if (::rename(tmp.c_str(), target.c_str()) != 0)
    return fail("cannot rename over " + target, errno);
  return Status::Ok();
}

}  // namespace aw
