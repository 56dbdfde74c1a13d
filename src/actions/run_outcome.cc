#include "src/actions/run_outcome.h"

#include <signal.h>
#include <string.h>
#include <sys/stat.h>

#include <cerrno>

#include "src/core/duration.h"

namespace aw {
namespace {

constexpr std::size_t kMaxQuotedLine = 200;

std::string quoted(const std::string& s) {
  return "'" + s + "'";
}

// The last non-empty line of a tail, shortened, for a one-line message.
std::string last_line(const std::string& tail) {
  std::size_t end = tail.find_last_not_of(" \t\r\n");
  if (end == std::string::npos) return "";
  std::size_t start = tail.rfind('\n', end);
  start = start == std::string::npos ? 0 : start + 1;
  std::string line = tail.substr(start, end + 1 - start);
  for (char& c : line)
    if (static_cast<unsigned char>(c) < 0x20) c = ' ';
  if (line.size() > kMaxQuotedLine) line = line.substr(0, kMaxQuotedLine) + "...";
  return line;
}

bool is_missing_dir(const std::string& path) {
  struct stat st {};
  return ::stat(path.c_str(), &st) != 0 || !S_ISDIR(st.st_mode);
}

Fields exit_fields(const ChildExit& e, const RunContext& ctx) {
  Fields f;
  f.set("pid", static_cast<std::int64_t>(e.pid));
  f.set("exit_code", static_cast<std::int64_t>(e.exited ? e.exit_code : -1));
  f.set("signal", static_cast<std::int64_t>(e.exited ? 0 : e.term_signal));
  f.set("wall_ms", to_ms(e.wall));
  f.set("user_ms", to_ms(e.user_cpu));
  f.set("sys_ms", to_ms(e.sys_cpu));
  f.set("max_rss_kb", e.max_rss_kb);
  f.set("stdout_tail", e.stdout_tail);
  f.set("stderr_tail", e.stderr_tail);
  f.set("stdout_bytes", static_cast<std::int64_t>(e.stdout_bytes));
  f.set("stderr_bytes", static_cast<std::int64_t>(e.stderr_bytes));
  f.set("timed_out", ctx.timed_out);
  return f;
}

}  // namespace

std::string signal_name(int sig) {
  const char* abbrev = ::sigabbrev_np(sig);
  if (abbrev) return std::string("SIG") + abbrev;
  return "signal " + std::to_string(sig);
}

ActionOutcome classify_spawn_error(const Error& error, const RunContext& ctx) {
  using namespace outcome_category;
  const std::string prog = quoted(ctx.program);
  Fields f;
  f.set("program", ctx.program);
  const int err = -error.code;
  switch (err) {
    case ENOENT:
      if (!ctx.cwd.empty() && is_missing_dir(ctx.cwd))
        return make_failure(
            kNotFound,
            "cannot run " + prog + ": the working directory " + quoted(ctx.cwd) + " does not exist",
            "create the directory " + quoted(ctx.cwd) + " or fix the action's cwd", std::move(f));
      return make_failure(kNotFound, "cannot run " + prog + ": no such file",
                          "argv[0] " + prog + " was not found: use an absolute path or check PATH",
                          std::move(f));
    case EACCES:
    case EPERM:
      if (!ctx.cwd.empty() && is_missing_dir(ctx.cwd))
        return make_failure(kPermission,
                            "cannot run " + prog + ": the working directory " + quoted(ctx.cwd) +
                                " is not accessible",
                            "give the daemon's user access to " + quoted(ctx.cwd), std::move(f));
      return make_failure(kPermission, "cannot run " + prog + ": permission denied",
                          prog +
                              " is not executable or a directory on its path is not "
                              "searchable: chmod +x it or fix the path",
                          std::move(f));
    case EAGAIN:
    case ENOMEM:
    case EMFILE:
    case ENFILE:
      return make_failure(kResource, error.message,
                          "the system refused a new process or file: check ulimit -u / -n, free "
                          "memory and the cgroup's pids limit",
                          std::move(f));
    case E2BIG:
      return make_failure(kValidation, error.message,
                          "the arguments or environment are too large: pass data through a file",
                          std::move(f));
    case ENOEXEC:
      return make_failure(kExecution, "cannot run " + prog + ": not an executable format",
                          "add a #! line to the script or run it through its interpreter",
                          std::move(f));
    case ENOTDIR:
      return make_failure(kNotFound, error.message,
                          "a component of the program's path or of cwd is not a directory",
                          std::move(f));
    default:
      return make_failure(kExecution, error.message,
                          "see the message: the system refused to start the program", std::move(f));
  }
}

ActionOutcome classify_exit(const ChildExit& e, const RunContext& ctx) {
  using namespace outcome_category;
  const std::string prog = quoted(ctx.program);
  Fields f = exit_fields(e, ctx);
  const std::string how = e.exited ? "exited " + std::to_string(e.exit_code)
                                   : "was killed by " + signal_name(e.term_signal) +
                                         (e.core_dumped ? " (core dumped)" : "");
  const std::string after =
      " after " + format_duration(std::chrono::duration_cast<std::chrono::milliseconds>(e.wall));
  std::string err_line = last_line(e.stderr_tail);
  const std::string detail = err_line.empty() ? "" : ": " + err_line;

  if (ctx.interrupted)
    return make_failure(kInterrupted,
                        prog + " was stopped because agentwatch is shutting down; it " + how,
                        "check whether its effect happened before running it again", std::move(f));
  if (ctx.timed_out) {
    std::string stop = ctx.sent_sigkill
                           ? "sent SIGTERM, then SIGKILL after " + format_duration(ctx.kill_grace)
                           : "sent SIGTERM";
    return make_failure(kTimeout,
                        prog + " ran past its " + format_duration(ctx.timeout) + " timeout (" +
                            stop + "); it " + how,
                        "raise the action's timeout if it needs longer, or find out why it hangs "
                        "(see stderr_tail)",
                        std::move(f));
  }
  if (e.exited && e.exit_code == 0) {
    ActionOutcome o = make_success(prog + " exited 0" + after, std::move(f));
    return o;
  }
  if (e.exited && e.exit_code == 127)
    return make_failure(kNotFound, prog + " exited 127 (command not found)" + after + detail,
                        "a command it runs was not found: check the names it runs and PATH",
                        std::move(f));
  if (e.exited && e.exit_code == 126)
    return make_failure(kPermission, prog + " exited 126 (cannot execute)" + after + detail,
                        "a command it runs is not executable: check its permissions", std::move(f));
  if (e.exited)
    return make_failure(kExecution, prog + " " + how + after + detail,
                        "the command reported failure: see stderr_tail and its own logs",
                        std::move(f));
  if (e.term_signal == 0)
    return make_failure(kUnknown, prog + " ended but its exit status was lost" + after,
                        "something else in the daemon reaped the child: report this bug",
                        std::move(f));
  if (e.term_signal == SIGKILL && !ctx.sent_sigkill)
    return make_failure(kResource, prog + " " + how + after + detail,
                        "agentwatch did not send that SIGKILL: most likely the OOM killer; check "
                        "journalctl -k and its memory use (max_rss_kb)",
                        std::move(f));
  return make_failure(kExecution, prog + " " + how + after + detail,
                      "it died of a signal: see stderr_tail and the system log", std::move(f));
}

}  // namespace aw
