#include "src/supervise/process_identity.h"

#include <unistd.h>

#include <cerrno>
#include <charconv>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

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

// The text from field `n` (3 or more: after the command name) to the line's end.
Result<std::string_view> from_field(std::string_view stat, int n) {
  auto rest = fields_after_comm(stat);
  if (!rest) return rest.error();
  std::string_view s = *rest;
  for (int field = 3; field < n; ++field) {
    std::size_t sp = s.find(' ');
    if (sp == std::string_view::npos) return make_error("malformed /proc stat line (too short)");
    s.remove_prefix(sp + 1);
  }
  return s;
}

}  // namespace

Result<std::uint64_t> parse_stat_start_ticks(std::string_view stat) {
  auto field = from_field(stat, 22);
  if (!field) return field.error();
  std::string_view s = *field;
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

Result<pid_t> parse_stat_process_group(std::string_view stat) {
  auto field = from_field(stat, 5);
  if (!field) return field.error();
  std::string_view s = *field;
  pid_t group = 0;
  auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), group);
  if (ec != std::errc() || p == s.data() || group <= 0)
    return make_error("malformed /proc stat line (field 5 is not a process group)");
  return group;
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

LivenessVerdict probe_process(Env& env, const Clock& clock, pid_t pid,
                              const std::optional<ProcessIdentity>& expected) {
  LivenessVerdict v;
  v.seen.pid = pid;
  const std::string stat_name = "/proc/" + std::to_string(pid) + "/stat";
  auto say = [&](std::string signal, std::string said) {
    v.evidence.push_back(Evidence{std::move(signal), std::move(said), clock.wall()});
  };

  auto stat = env.read_proc_stat(pid);
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

  auto exe = env.read_proc_exe(pid);
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

WallTime process_start_time(WallTime boot, std::uint64_t start_ticks) {
  static const long hz = [] {
    long v = ::sysconf(_SC_CLK_TCK);
    return v > 0 ? v : 100;  // USER_HZ, fixed at 100 by the /proc ABI
  }();
  const auto ticks = static_cast<std::int64_t>(start_ticks);
  return boot + std::chrono::seconds(ticks / hz) +
         std::chrono::duration_cast<Duration>(std::chrono::seconds(ticks % hz)) / hz;
}

ProcAnswers ask_proc_about(Env& env, pid_t pid) {
  return ProcAnswers{env.read_proc_stat(pid), env.read_proc_exe(pid), env.boot_time()};
}

const char* pid_file_verdict_name(PidFileVerdict v) {
  switch (v) {
    case PidFileVerdict::kPlausible:
      return "plausible";
    case PidFileVerdict::kGone:
      return "gone";
    case PidFileVerdict::kUnverifiable:
      return "unverifiable";
    case PidFileVerdict::kStale:
      return "stale";
    case PidFileVerdict::kWrongProgram:
      return "wrong_program";
  }
  return "?";
}

namespace {

std::string_view without_deleted(std::string_view exe) {
  constexpr std::string_view kDeleted = " (deleted)";
  if (exe.size() > kDeleted.size() && exe.substr(exe.size() - kDeleted.size()) == kDeleted)
    exe.remove_suffix(kDeleted.size());
  return exe;
}

}  // namespace

PidFileJudgement judge_pid_file(const PidFileClaim& claim, const ProcAnswers& proc,
                                std::string_view expected_exe, WallTime at, Duration tolerance) {
  PidFileJudgement j;
  j.seen.pid = claim.pid;
  const std::string pid = std::to_string(claim.pid);
  const std::string stat_name = "/proc/" + pid + "/stat";
  const std::string written = format_time_utc(claim.written);
  auto say = [&](std::string signal, std::string said) {
    j.evidence.push_back(Evidence{std::move(signal), std::move(said), at});
  };
  auto decide = [&](PidFileVerdict v, std::string reason) {
    j.verdict = v;
    j.reason = std::move(reason);
    return j;
  };
  say("pid_file", "names pid " + pid + ", written at " + written + " (mtime)");

  if (!proc.stat) {
    const bool gone = proc.stat.error().code == -ENOENT || proc.stat.error().code == -ESRCH;
    say(stat_name, gone ? "no such process" : "unreadable: " + proc.stat.error().message);
    if (gone) return decide(PidFileVerdict::kGone, "pid " + pid + " does not exist");
    return decide(PidFileVerdict::kUnverifiable,
                  "the start time of pid " + pid + " cannot be read (" + proc.stat.error().message +
                      "): the PID file alone does not say which process it names");
  }
  auto ticks = parse_stat_start_ticks(*proc.stat);
  auto state = parse_stat_state(*proc.stat);
  if (!ticks || !state) {
    const std::string why = ticks ? state.error().message : ticks.error().message;
    say(stat_name, why);
    return decide(PidFileVerdict::kUnverifiable, "the start time of pid " + pid +
                                                     " cannot be read (" + why +
                                                     "): the PID file alone does not say "
                                                     "which process it names");
  }
  j.seen.start_ticks = *ticks;
  if (*state == 'Z' || *state == 'X') {
    say(stat_name, "state Z: the process ended");
    return decide(PidFileVerdict::kGone, "pid " + pid + " has ended (state Z)");
  }
  if (!proc.boot) {
    say("boot_time", "unreadable: " + proc.boot.error().message);
    return decide(PidFileVerdict::kUnverifiable,
                  "when pid " + pid +
                      " started cannot be told (boot time: " + proc.boot.error().message +
                      "): the PID file alone does not say which process it names");
  }
  const WallTime started = process_start_time(*proc.boot, *ticks);
  say(stat_name,
      "started at " + format_time_utc(started) + " (start time " + std::to_string(*ticks) + ")");
  if (started > claim.written + tolerance) {
    return decide(PidFileVerdict::kStale, "stale PID file: pid " + pid + " started at " +
                                              format_time_utc(started) +
                                              ", after the file was written at " + written +
                                              " (mtime): the PID was reused since");
  }
  if (!proc.exe) {
    say("/proc/" + pid + "/exe", "unreadable (not compared): " + proc.exe.error().message);
  } else {
    j.seen.exe = *proc.exe;
    if (!expected_exe.empty()) {
      if (without_deleted(*proc.exe) != without_deleted(expected_exe)) {
        say("/proc/" + pid + "/exe", "\"" + *proc.exe + "\"");
        return decide(PidFileVerdict::kWrongProgram, "pid " + pid + " runs \"" + *proc.exe +
                                                         "\", not the worker's program \"" +
                                                         std::string(expected_exe) + "\"");
      }
      say("/proc/" + pid + "/exe", "\"" + *proc.exe + "\", the worker's program");
    }
  }
  return decide(PidFileVerdict::kPlausible, "pid " + pid + " started at " +
                                                format_time_utc(started) +
                                                ", before the file was written at " + written);
}

}  // namespace aw
