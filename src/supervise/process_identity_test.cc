#include "src/supervise/process_identity.h"
#include "src/supervise/pid_file_reader.h"  // resolve_program_exe

#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <climits>
#include <cstdlib>

#include "src/supervise/supervise_test_support.h"

namespace aw {
namespace {

// A real line shape, with a command name holding spaces and parentheses.
const char* kStat =
    "4242 (my (odd) name) S 1 4242 4242 0 -1 4194560 100 0 0 0 5 3 0 0 20 0 1 0 987654 "
    "1234567 89 18446744073709551615 1 1 0 0 0 0 0 0 0 0 0 0 17 1 0 0 0 0 0\n";

TEST(ProcStat, StartTicksIsField22AfterTheLastParenthesis) {
  auto t = parse_stat_start_ticks(kStat);
  ASSERT_TRUE(t.ok()) << t.error().message;
  EXPECT_EQ(*t, 987654u);
  EXPECT_EQ(*parse_stat_state(kStat), 'S');
}

TEST(ProcStat, MalformedLines) {
  EXPECT_FALSE(parse_stat_start_ticks("").ok());
  EXPECT_FALSE(parse_stat_start_ticks("12 (x) S 1 2").ok());
  EXPECT_FALSE(parse_stat_start_ticks("12 no-parens S").ok());
  EXPECT_FALSE(parse_stat_state("12 (x)").ok());
}

TEST(ProcStat, OwnProcessHasAStartTime) {
  auto stat = Env::real().read_proc_stat(::getpid());
  ASSERT_TRUE(stat.ok());
  auto t = parse_stat_start_ticks(*stat);
  ASSERT_TRUE(t.ok());
  EXPECT_GT(*t, 0u);
}

TEST(ProcessIdentity, FormatAndParseRoundTrip) {
  ProcessIdentity id{123, 4567, "/usr/bin/my tool"};
  EXPECT_EQ(format_identity(id), "pid=123 start=4567 exe=/usr/bin/my tool");
  EXPECT_EQ(parse_identity(format_identity(id)), id);
  ProcessIdentity no_exe{9, 1, ""};
  EXPECT_EQ(parse_identity(format_identity(no_exe)), no_exe);
  EXPECT_FALSE(parse_identity("pid=x start=1"));
  EXPECT_FALSE(parse_identity("pid=0 start=1"));
  EXPECT_FALSE(parse_identity("pid=1 start=1 junk"));
}

TEST(ProbeProcess, SelfIsAliveAndMatchesItself) {
  SystemClock clock;
  LivenessVerdict v = probe_process(Env::real(), clock, ::getpid(), std::nullopt);
  EXPECT_EQ(v.liveness, Liveness::kAlive);
  EXPECT_FALSE(v.seen.exe.empty());
  LivenessVerdict again = probe_process(Env::real(), clock, ::getpid(), v.seen);
  EXPECT_EQ(again.liveness, Liveness::kAlive);
  EXPECT_FALSE(again.evidence.empty());
}

TEST(ProbeProcess, DifferentStartTimeMeansReused) {
  SystemClock clock;
  LivenessVerdict v = probe_process(Env::real(), clock, ::getpid(), std::nullopt);
  ProcessIdentity wrong = v.seen;
  wrong.start_ticks += 1;
  LivenessVerdict r = probe_process(Env::real(), clock, ::getpid(), wrong);
  EXPECT_EQ(r.liveness, Liveness::kAbsent);
  EXPECT_NE(format_evidence(r.evidence).find("the PID was reused"), std::string::npos)
      << format_evidence(r.evidence);
}

TEST(ProbeProcess, DifferentExeWithoutStartTimeIsAnotherProgram) {
  SystemClock clock;
  ProcessIdentity other{::getpid(), 0, "/no/such/program"};
  EXPECT_EQ(probe_process(Env::real(), clock, ::getpid(), other).liveness, Liveness::kAbsent);
  // With the start time matching, a different exe means it exec'd: still alive.
  LivenessVerdict v = probe_process(Env::real(), clock, ::getpid(), std::nullopt);
  ProcessIdentity execd = v.seen;
  execd.exe = "/bin/sh";
  LivenessVerdict r = probe_process(Env::real(), clock, ::getpid(), execd);
  EXPECT_EQ(r.liveness, Liveness::kAlive);
  EXPECT_NE(format_evidence(r.evidence).find("exec'd"), std::string::npos);
}

TEST(ProbeProcess, FailedQueryIsUnknownNeverAbsent) {
  SystemClock clock;
  testing::FakeEnv env;
  env.stat_errno[::getpid()] = EACCES;
  LivenessVerdict v = probe_process(env, clock, ::getpid(), std::nullopt);
  EXPECT_EQ(v.liveness, Liveness::kUnknown);
  EXPECT_NE(format_evidence(v.evidence).find("unreadable"), std::string::npos);
  // ENOENT is the kernel's answer "no such process".
  env.stat_errno[::getpid()] = ENOENT;
  EXPECT_EQ(probe_process(env, clock, ::getpid(), std::nullopt).liveness, Liveness::kAbsent);
  // An unreadable exe is noted, not fatal.
  env.stat_errno.clear();
  env.exe_errno[::getpid()] = EPERM;
  LivenessVerdict e = probe_process(env, clock, ::getpid(), std::nullopt);
  EXPECT_EQ(e.liveness, Liveness::kAlive);
  EXPECT_TRUE(e.seen.exe.empty());
}

// ---- PID files ----

using std::chrono::milliseconds;
using std::chrono::seconds;

const WallTime kBoot = WallTime(seconds(1'700'000'000));
const WallTime kAt = kBoot + std::chrono::hours(5);  // when the judgement is made

// kStat's process (start time 987654 ticks), alive, running /usr/bin/agent.
ProcAnswers answers(std::string stat = kStat) {
  return ProcAnswers{std::move(stat), std::string("/usr/bin/agent"), kBoot};
}
WallTime stat_start() {
  return process_start_time(kBoot, 987654);
}

TEST(ProcessStartTime, BootPlusTicks) {
  const long hz = ::sysconf(_SC_CLK_TCK);
  ASSERT_GT(hz, 0);
  EXPECT_EQ(process_start_time(kBoot, 0), kBoot);
  EXPECT_EQ(process_start_time(kBoot, static_cast<std::uint64_t>(hz) * 3 / 2),
            kBoot + milliseconds(1500));
  // Our own start is after the boot and before now, by the real clocks.
  auto boot = Env::real().boot_time();
  ASSERT_TRUE(boot.ok()) << boot.error().message;
  auto ticks = parse_stat_start_ticks(*Env::real().read_proc_stat(::getpid()));
  ASSERT_TRUE(ticks.ok());
  const WallTime started = process_start_time(*boot, *ticks);
  EXPECT_GE(started, *boot);
  EXPECT_LE(started, SystemClock().wall());
}

TEST(JudgePidFile, WrittenWhileItsProcessRanIsPlausible) {
  // Written an hour after the process started (a launcher that found it) or
  // just after: both plausible. No lower bound.
  for (Duration after :
       {Duration{0}, Duration(milliseconds(20)), Duration(std::chrono::hours(1))}) {
    PidFileJudgement j = judge_pid_file({4242, stat_start() + after}, answers(), "", kAt);
    EXPECT_EQ(j.verdict, PidFileVerdict::kPlausible) << j.reason;
    EXPECT_EQ(j.seen, (ProcessIdentity{4242, 987654, "/usr/bin/agent"}));
  }
  // A coarse file clock may stamp it a little before the start tick.
  EXPECT_EQ(judge_pid_file({4242, stat_start() - milliseconds(900)}, answers(), "", kAt).verdict,
            PidFileVerdict::kPlausible);
}

TEST(JudgePidFile, FileOlderThanTheProcessItNamesIsStale) {
  // The file was written a minute before this process existed: the PID it
  // names was handed to this process afterwards.
  const WallTime written = stat_start() - std::chrono::minutes(1);
  PidFileJudgement j = judge_pid_file({4242, written}, answers(), "", kAt);
  EXPECT_EQ(j.verdict, PidFileVerdict::kStale);
  EXPECT_EQ(j.reason, "stale PID file: pid 4242 started at " + format_time_utc(stat_start()) +
                          ", after the file was written at " + format_time_utc(written) +
                          " (mtime): the PID was reused since");
  std::string evidence = format_evidence(j.evidence);
  EXPECT_NE(evidence.find("pid_file: names pid 4242, written at"), std::string::npos) << evidence;
  EXPECT_NE(evidence.find("/proc/4242/stat: started at"), std::string::npos) << evidence;
  // Just past the tolerance is enough.
  EXPECT_EQ(judge_pid_file({4242, stat_start() - kPidFileClockTolerance - milliseconds(1)},
                           answers(), "", kAt)
                .verdict,
            PidFileVerdict::kStale);
}

TEST(JudgePidFile, ProgramMismatchIsRefusedAnUpgradedBinaryIsNot) {
  const WallTime written = stat_start() + seconds(1);
  PidFileJudgement j = judge_pid_file({4242, written}, answers(), "/usr/bin/other", kAt);
  EXPECT_EQ(j.verdict, PidFileVerdict::kWrongProgram);
  EXPECT_EQ(j.reason,
            "pid 4242 runs \"/usr/bin/agent\", not the worker's program "
            "\"/usr/bin/other\"");
  EXPECT_EQ(judge_pid_file({4242, written}, answers(), "/usr/bin/agent", kAt).verdict,
            PidFileVerdict::kPlausible);
  ProcAnswers upgraded{std::string(kStat), std::string("/usr/bin/agent (deleted)"), kBoot};
  EXPECT_EQ(judge_pid_file({4242, written}, upgraded, "/usr/bin/agent", kAt).verdict,
            PidFileVerdict::kPlausible);
  // An exe that cannot be read is not a mismatch: noted, not compared.
  ProcAnswers hidden{std::string(kStat), make_error("EACCES", -EACCES), kBoot};
  PidFileJudgement h = judge_pid_file({4242, written}, hidden, "/usr/bin/other", kAt);
  EXPECT_EQ(h.verdict, PidFileVerdict::kPlausible);
  EXPECT_NE(format_evidence(h.evidence).find("not compared"), std::string::npos);
}

TEST(JudgePidFile, AProcessThatCannotBeCheckedIsNotAdoptedOnTheFileAlone) {
  const WallTime written = stat_start() + seconds(1);
  ProcAnswers denied{make_error("/proc/4242/stat: Permission denied", -EACCES),
                     std::string("/usr/bin/agent"), kBoot};
  PidFileJudgement j = judge_pid_file({4242, written}, denied, "", kAt);
  EXPECT_EQ(j.verdict, PidFileVerdict::kUnverifiable);
  EXPECT_NE(j.reason.find("cannot be read"), std::string::npos) << j.reason;
  ProcAnswers garbled = answers("4242 (x) S 1");
  EXPECT_EQ(judge_pid_file({4242, written}, garbled, "", kAt).verdict,
            PidFileVerdict::kUnverifiable);
  ProcAnswers no_boot{std::string(kStat), std::string("/usr/bin/agent"),
                      make_error("clock_gettime: EINVAL", -EINVAL)};
  EXPECT_EQ(judge_pid_file({4242, written}, no_boot, "", kAt).verdict,
            PidFileVerdict::kUnverifiable);
}

TEST(JudgePidFile, NoSuchProcessOrAZombieIsGone) {
  const WallTime written = stat_start() + seconds(1);
  ProcAnswers none{make_error("ENOENT", -ENOENT), make_error("ENOENT", -ENOENT), kBoot};
  EXPECT_EQ(judge_pid_file({4242, written}, none, "", kAt).verdict, PidFileVerdict::kGone);
  std::string zombie = kStat;
  zombie[zombie.find(") S ") + 2] = 'Z';
  EXPECT_EQ(judge_pid_file({4242, written}, answers(zombie), "", kAt).verdict,
            PidFileVerdict::kGone);
  EXPECT_STREQ(pid_file_verdict_name(PidFileVerdict::kWrongProgram), "wrong_program");
}

TEST(ResolveProgramExe, BinariesResolveScriptsDoNot) {
  char self[PATH_MAX];
  ssize_t n = ::readlink("/proc/self/exe", self, sizeof self - 1);
  ASSERT_GT(n, 0);
  self[n] = '\0';
  EXPECT_EQ(resolve_program_exe(self, ""), self);
  // Through $PATH, and through symlinks, to the file /proc/PID/exe would name.
  std::string sh = resolve_program_exe("sh", "");
  ASSERT_FALSE(sh.empty());
  char* real = ::realpath("/bin/sh", nullptr);
  ASSERT_NE(real, nullptr);
  EXPECT_EQ(sh, real);
  std::free(real);
  testing::TempDir dir;
  testing::write_file(dir / "agent.sh", "#!/bin/sh\nexec sleep 1\n");
  ASSERT_EQ(::chmod((dir / "agent.sh").c_str(), 0755), 0);
  EXPECT_EQ(resolve_program_exe(dir / "agent.sh", ""), "") << "a script runs its interpreter";
  EXPECT_EQ(resolve_program_exe("./agent.sh", dir.path()), "");
  EXPECT_EQ(resolve_program_exe("/no/such/program", ""), "");
  EXPECT_EQ(resolve_program_exe("", ""), "");
}

}  // namespace
}  // namespace aw
