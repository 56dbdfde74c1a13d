#include "src/supervise/process_identity.h"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <charconv>
#include <cstring>

#include "src/core/event.h"

namespace aw {

std::string format_evidence(const EvidenceList& evidence) {
  std::string out;
  for (const Evidence& e : evidence) {
    if (!out.empty()) out += "; ";
    out += e.signal + ": " + e.detail;
    if (e.time != WallTime{}) out += " @ " + format_time_utc(e.time);
  }
  return out;
}

namespace {

class RealProcFs final : public ProcFs {
 public:
  Result<std::string> read_stat(pid_t pid) const override {
    std::string path = "/proc/" + std::to_string(pid) + "/stat";
    int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0) return error(path, errno);
    char buf[1024];  // a stat line is a few hundred bytes; comm is at most 64
    ssize_t n;
    do {
      n = ::read(fd, buf, sizeof buf);
    } while (n < 0 && errno == EINTR);
    int err = errno;
    ::close(fd);
    if (n < 0) return error(path, err);
    return std::string(buf, static_cast<std::size_t>(n));
  }

  Result<std::string> read_exe(pid_t pid) const override {
    std::string path = "/proc/" + std::to_string(pid) + "/exe";
    char buf[4096];
    ssize_t n = ::readlink(path.c_str(), buf, sizeof buf);
    if (n < 0) return error(path, errno);
    return std::string(buf, static_cast<std::size_t>(n));
  }

 private:
  static Error error(const std::string& path, int err) {
    return make_error(path + ": " + std::strerror(err), -err);
  }
};

}  // namespace

const ProcFs& real_proc_fs() {
  static const RealProcFs fs;
  return fs;
}

std::string format_identity(const ProcessIdentity& id) {
  std::string s = "pid=" + std::to_string(id.pid) + " start=" + std::to_string(id.start_ticks);
  if (!id.exe.empty()) s += " exe=" + id.exe;
  return s;
}

std::optional<ProcessIdentity> parse_identity(std::string_view text) {
  ProcessIdentity id;
  auto take_num = [&](std::string_view prefix, auto& out) -> bool {
    if (text.substr(0, prefix.size()) != prefix) return false;
    text.remove_prefix(prefix.size());
    auto [p, ec] = std::from_chars(text.data(), text.data() + text.size(), out);
    if (ec != std::errc() || p == text.data()) return false;
    text.remove_prefix(static_cast<std::size_t>(p - text.data()));
    return true;
  };
  if (!take_num("pid=", id.pid) || id.pid <= 0) return std::nullopt;
  if (!take_num(" start=", id.start_ticks)) return std::nullopt;
  if (text.empty()) return id;
  // The exe is the rest (it may contain spaces).
  if (text.substr(0, 5) != " exe=") return std::nullopt;
  id.exe = std::string(text.substr(5));
  return id;
}

namespace {

// The fields after the command name: " S ppid pgrp ..." → index 0 is field 3.
Result<std::string_view> fields_after_comm(std::string_view stat) {
  std::size_t close = stat.rfind(')');
  if (close == std::string_view::npos || close + 2 > stat.size())
    return make_error("malformed /proc stat line (no command name)");
  return stat.substr(close + 2);
}

}  // namespace

Result<std::uint64_t> parse_stat_start_ticks(std::string_view stat) {
  auto rest = fields_after_comm(stat);
  if (!rest) return rest.error();
  std::string_view s = *rest;
  // Field 22 is the 20th field after the command name (fields 3..22).
  for (int field = 3; field < 22; ++field) {
    std::size_t sp = s.find(' ');
    if (sp == std::string_view::npos) return make_error("malformed /proc stat line (too short)");
    s.remove_prefix(sp + 1);
  }
  std::uint64_t ticks = 0;
  auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), ticks);
  if (ec != std::errc() || p == s.data())
    return make_error("malformed /proc stat line (field 22 is not a number)");
  return ticks;
}

Result<char> parse_stat_state(std::string_view stat) {
  auto rest = fields_after_comm(stat);
  if (!rest) return rest.error();
  if (rest->empty()) return make_error("malformed /proc stat line (no state)");
  return (*rest)[0];
}

const char* liveness_name(Liveness l) {
  switch (l) {
    case Liveness::kAlive:
      return "alive";
    case Liveness::kAbsent:
      return "absent";
    case Liveness::kUnknown:
      return "unknown";
  }
  return "?";
}

LivenessVerdict probe_process(const ProcFs& fs, const Clock& clock, pid_t pid,
                              const std::optional<ProcessIdentity>& expected) {
  LivenessVerdict v;
  v.seen.pid = pid;
  const std::string stat_name = "/proc/" + std::to_string(pid) + "/stat";
  auto say = [&](std::string signal, std::string said) {
    v.evidence.push_back(Evidence{std::move(signal), std::move(said), clock.wall()});
  };

  auto stat = fs.read_stat(pid);
  if (!stat) {
    // ENOENT and ESRCH are the kernel saying "no such process"; anything else
    // is a failed question, not an answer.
    bool gone = stat.error().code == -ENOENT || stat.error().code == -ESRCH;
    v.liveness = gone ? Liveness::kAbsent : Liveness::kUnknown;
    say(stat_name, gone ? "no such process" : "unreadable: " + stat.error().message);
    return v;
  }
  auto ticks = parse_stat_start_ticks(*stat);
  auto state = parse_stat_state(*stat);
  if (!ticks || !state) {
    v.liveness = Liveness::kUnknown;
    say(stat_name, ticks ? state.error().message : ticks.error().message);
    return v;
  }
  v.seen.start_ticks = *ticks;
  if (expected && expected->start_ticks != 0 && expected->start_ticks != *ticks) {
    v.liveness = Liveness::kAbsent;
    say(stat_name, "start time " + std::to_string(*ticks) + " differs from the recorded " +
                       std::to_string(expected->start_ticks) + ": the PID was reused");
    return v;
  }
  if (*state == 'Z' || *state == 'X') {
    v.liveness = Liveness::kAbsent;
    say(stat_name, "state Z: the process ended and awaits its parent's wait()");
    return v;
  }
  say(stat_name,
      std::string("running (state ") + *state + ", start time " + std::to_string(*ticks) + ")");

  auto exe = fs.read_exe(pid);
  if (!exe) {
    say("/proc/" + std::to_string(pid) + "/exe",
        "unreadable (not compared): " + exe.error().message);
  } else {
    v.seen.exe = *exe;
    if (expected && !expected->exe.empty() && expected->exe != *exe) {
      std::string what = "\"" + *exe + "\" differs from the recorded \"" + expected->exe + "\"";
      if (expected->start_ticks == 0) {
        v.liveness = Liveness::kAbsent;
        say("/proc/" + std::to_string(pid) + "/exe", what + ": another program has the PID");
        return v;
      }
      // Same start tick: the PID cannot have been reused in between, so the
      // process exec'd (a wrapper script's `exec`). Still ours.
      say("/proc/" + std::to_string(pid) + "/exe",
          what + ", but the start time matches: the process exec'd");
    }
  }
  v.liveness = Liveness::kAlive;
  return v;
}

}  // namespace aw
