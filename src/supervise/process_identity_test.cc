#include "src/supervise/process_identity.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <cerrno>

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
  auto stat = real_proc_fs().read_stat(::getpid());
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
  LivenessVerdict v = probe_process(real_proc_fs(), clock, ::getpid(), std::nullopt);
  EXPECT_EQ(v.liveness, Liveness::kAlive);
  EXPECT_FALSE(v.seen.exe.empty());
  LivenessVerdict again = probe_process(real_proc_fs(), clock, ::getpid(), v.seen);
  EXPECT_EQ(again.liveness, Liveness::kAlive);
  EXPECT_FALSE(again.evidence.empty());
}

TEST(ProbeProcess, DifferentStartTimeMeansReused) {
  SystemClock clock;
  LivenessVerdict v = probe_process(real_proc_fs(), clock, ::getpid(), std::nullopt);
  ProcessIdentity wrong = v.seen;
  wrong.start_ticks += 1;
  LivenessVerdict r = probe_process(real_proc_fs(), clock, ::getpid(), wrong);
  EXPECT_EQ(r.liveness, Liveness::kAbsent);
  EXPECT_NE(format_evidence(r.evidence).find("the PID was reused"), std::string::npos)
      << format_evidence(r.evidence);
}

TEST(ProbeProcess, DifferentExeWithoutStartTimeIsAnotherProgram) {
  SystemClock clock;
  ProcessIdentity other{::getpid(), 0, "/no/such/program"};
  EXPECT_EQ(probe_process(real_proc_fs(), clock, ::getpid(), other).liveness, Liveness::kAbsent);
  // With the start time matching, a different exe means it exec'd: still alive.
  LivenessVerdict v = probe_process(real_proc_fs(), clock, ::getpid(), std::nullopt);
  ProcessIdentity execd = v.seen;
  execd.exe = "/bin/sh";
  LivenessVerdict r = probe_process(real_proc_fs(), clock, ::getpid(), execd);
  EXPECT_EQ(r.liveness, Liveness::kAlive);
  EXPECT_NE(format_evidence(r.evidence).find("exec'd"), std::string::npos);
}

TEST(ProbeProcess, FailedQueryIsUnknownNeverAbsent) {
  SystemClock clock;
  testing::FakeProcFs fs;
  fs.stat_errno[::getpid()] = EACCES;
  LivenessVerdict v = probe_process(fs, clock, ::getpid(), std::nullopt);
  EXPECT_EQ(v.liveness, Liveness::kUnknown);
  EXPECT_NE(format_evidence(v.evidence).find("unreadable"), std::string::npos);
  // ENOENT is the kernel's answer "no such process".
  fs.stat_errno[::getpid()] = ENOENT;
  EXPECT_EQ(probe_process(fs, clock, ::getpid(), std::nullopt).liveness, Liveness::kAbsent);
  // An unreadable exe is noted, not fatal.
  fs.stat_errno.clear();
  fs.exe_errno[::getpid()] = EPERM;
  LivenessVerdict e = probe_process(fs, clock, ::getpid(), std::nullopt);
  EXPECT_EQ(e.liveness, Liveness::kAlive);
  EXPECT_TRUE(e.seen.exe.empty());
}

}  // namespace
}  // namespace aw
