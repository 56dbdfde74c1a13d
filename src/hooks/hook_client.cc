#include "src/hooks/hook_client.h"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>

#include "src/daemon/paths.h"
#include "src/os/unique_fd.h"
#include "watchers/notify/notify_client.h"

namespace aw {

namespace {

constexpr std::string_view kUsage =
    "usage: agentwatch-hook [--runtime-dir DIR] claude|gemini EVENT  (payload on stdin)\n"
    "       agentwatch-hook [--runtime-dir DIR] claude statusline     (payload on stdin)\n"
    "       agentwatch-hook [--runtime-dir DIR] codex JSON";

void say(int fd, std::string_view text) {
  std::string line = "agentwatch-hook: ";
  line += text;
  line += '\n';
  // One write; a closed or full stderr is not worth more.
  (void)!::write(fd, line.data(), line.size());
}

// Reads the payload: at most kHookMaxPayloadBytes kept, the rest drained so
// the agent's write to our stdin completes. A terminal is not read (someone
// typing the command by hand would wait for ever).
std::string read_payload(int fd, bool& too_large) {
  std::string data;
  too_large = false;
  if (isatty(fd)) return data;
  char buf[64 * 1024];
  for (;;) {
    const ssize_t n = ::read(fd, buf, sizeof buf);
    if (n > 0) {
      if (!too_large && data.size() + static_cast<std::size_t>(n) <= kHookMaxPayloadBytes) {
        data.append(buf, static_cast<std::size_t>(n));
      } else {
        too_large = true;
        data.clear();
      }
      continue;
    }
    if (n < 0 && errno == EINTR) continue;
    return data;
  }
}

// pid and comm of /proc/PID/stat: "PID (COMM) STATE PPID …". COMM may hold
// spaces and parentheses, so it ends at the last ')'.
bool read_proc_stat(pid_t pid, std::string& comm, pid_t& ppid) {
  const std::string path = "/proc/" + std::to_string(pid) + "/stat";
  UniqueFd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
  if (!fd.valid()) return false;
  char buf[512];
  const ssize_t n = ::read(fd.get(), buf, sizeof buf - 1);
  if (n <= 0) return false;
  const std::string_view s(buf, static_cast<std::size_t>(n));
  const std::size_t open = s.find('(');
  const std::size_t close = s.rfind(')');
  if (open == std::string_view::npos || close == std::string_view::npos || close < open)
    return false;
  comm = std::string(s.substr(open + 1, close - open - 1));
  // After ") " come STATE and PPID.
  const std::string_view rest = s.substr(close + 1);
  long long p = 0;
  char state = 0;
  if (std::sscanf(std::string(rest).c_str(), " %c %lld", &state, &p) != 2) return false;
  ppid = static_cast<pid_t>(p);
  return true;
}

// The agent's pid: our parent, or the parent of the shell the agent ran us
// through (Claude Code and Gemini CLI run a hook's command with a shell, which
// usually execs a lone command but need not).
std::int64_t agent_pid() {
  const pid_t parent = getppid();
  std::string comm;
  pid_t grandparent = 0;
  if (read_proc_stat(parent, comm, grandparent) &&
      (comm == "sh" || comm == "bash" || comm == "dash" || comm == "zsh") && grandparent > 1)
    return grandparent;
  return parent;
}

std::string env_or_empty(const char* name) {
  const char* v = std::getenv(name);
  return v != nullptr ? v : "";
}

// The status line's fingerprint file for a session: the session id kept to
// [A-Za-z0-9_-] (it is a UUID), so it can never name another path.
std::string statusline_state_path(const std::string& runtime_dir, const Event& e) {
  std::string sid = e.fields.get_string("session_id").value_or("none");
  std::string safe;
  for (char c : sid)
    if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' ||
        c == '_')
      safe += c;
  if (safe.empty()) safe = "none";
  if (safe.size() > 64) safe.resize(64);
  return runtime_dir + "/statusline." + safe;
}

// What the status line forwards, without the fields that identify the call
// (pid, pane) rather than what it shows.
std::string statusline_fingerprint(const Event& e) {
  std::string s;
  for (const auto& [key, value] : e.fields) {
    if (key == "agent_pid") continue;
    s += key;
    s += '=';
    s += field_to_string(value);
    s += '\n';
  }
  return s;
}

bool fingerprint_unchanged(const std::string& path, const std::string& fingerprint) {
  UniqueFd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NOFOLLOW));
  if (!fd.valid()) return false;
  std::string old(fingerprint.size() + 1, '\0');
  const ssize_t n = ::read(fd.get(), old.data(), old.size());
  return n == static_cast<ssize_t>(fingerprint.size()) &&
         old.compare(0, fingerprint.size(), fingerprint) == 0;
}

void save_fingerprint(const std::string& path, const std::string& fingerprint) {
  // Rename over the old one, so a concurrent call never reads half of it.
  const std::string tmp = path + ".tmp." + std::to_string(getpid());
  UniqueFd fd(::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, 0600));
  if (!fd.valid()) return;
  if (::write(fd.get(), fingerprint.data(), fingerprint.size()) ==
      static_cast<ssize_t>(fingerprint.size())) {
    (void)::rename(tmp.c_str(), path.c_str());
  } else {
    (void)::unlink(tmp.c_str());
  }
}

}  // namespace

Result<HookArgs> parse_hook_args(const std::vector<std::string_view>& args) {
  HookArgs a;
  std::vector<std::string_view> rest;
  for (std::size_t i = 0; i < args.size(); ++i) {
    if (args[i] == "--runtime-dir") {
      if (i + 1 >= args.size())
        return make_error("--runtime-dir needs a directory\n" + std::string(kUsage));
      a.runtime_dir = std::string(args[++i]);
    } else if (args[i].rfind("--runtime-dir=", 0) == 0) {
      a.runtime_dir = std::string(args[i].substr(14));
    } else {
      rest.push_back(args[i]);
    }
  }
  if (rest.empty()) return make_error("no agent given\n" + std::string(kUsage));
  auto agent = parse_hook_agent(rest[0]);
  if (!agent)
    return make_error("unknown agent \"" + std::string(rest[0]) +
                      "\" (expected claude, codex or gemini)\n" + std::string(kUsage));
  a.agent = *agent;
  if (a.agent == HookAgent::kCodex) {
    // Codex appends its JSON as the last argument.
    if (rest.size() != 2)
      return make_error("codex: expected one JSON argument (Codex appends it)\n" +
                        std::string(kUsage));
    a.argv_payload = std::string(rest[1]);
    return a;
  }
  if (rest.size() != 2)
    return make_error(std::string(rest[0]) + ": expected one EVENT\n" + std::string(kUsage));
  a.event = std::string(rest[1]);
  return a;
}

int run_hook(const HookArgs& args, const HookIo& io) {
  bool too_large = false;
  std::string stdin_payload;
  if (args.agent != HookAgent::kCodex) stdin_payload = read_payload(io.in, too_large);

  HookCall call;
  call.agent = args.agent;
  call.event = args.event;
  call.payload = args.agent == HookAgent::kCodex ? std::string_view(args.argv_payload)
                                                 : std::string_view(stdin_payload);
  HookOrigin origin;
  origin.tmux_pane = env_or_empty("TMUX_PANE");
  origin.tmux_env = env_or_empty("TMUX");
  origin.agent_pid = agent_pid();
  Event event = map_hook_call(call, origin);
  if (too_large)
    event.fields.set(
        "payload_error",
        FieldValue("payload over " + std::to_string(kHookMaxPayloadBytes) + " bytes: not parsed"));

  PathOverrides overrides;
  overrides.runtime_dir = args.runtime_dir;
  const std::string runtime_dir = resolve_paths(overrides).runtime_dir;

  const bool statusline = args.event == kStatusLineEvent;
  std::string state_path;
  std::string fingerprint;
  if (statusline) {
    // The line first: it is what the user sees, whatever the daemon does.
    const std::string line = render_status_line(event, SystemClock().wall()) + "\n";
    (void)!::write(io.out, line.data(), line.size());
    state_path = statusline_state_path(runtime_dir, event);
    fingerprint = statusline_fingerprint(event);
    if (fingerprint_unchanged(state_path, fingerprint)) return 0;
  }

  NotifyClientOptions options;
  options.timeout = kHookSendTimeout;
  auto delivery = send_notification(runtime_dir, event, options);
  if (!delivery) {
    say(io.err, delivery.error().message);
    return 0;
  }
  if (statusline) save_fingerprint(state_path, fingerprint);
  // A session that ended will not draw its status line again.
  if (args.event == "SessionEnd") {
    const std::string path = statusline_state_path(runtime_dir, event);
    (void)::unlink(path.c_str());
  }
  return 0;
}

int hook_main(int argc, char** argv) {
  std::vector<std::string_view> args;
  for (int i = 1; i < argc; ++i) args.emplace_back(argv[i]);
  auto parsed = parse_hook_args(args);
  if (!parsed) {
    say(2, parsed.error().message);
    return 0;
  }
  return run_hook(*parsed, HookIo{});
}

}  // namespace aw
