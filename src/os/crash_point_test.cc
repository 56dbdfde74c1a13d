#include "src/os/crash_point.h"

#include <gtest/gtest.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

namespace aw {
namespace {

// The armed pass, and not one before it, SIGKILLs the process: run in a child.
TEST(CrashPoint, TheArmedPassKillsTheProcessAndNotBefore) {
  const pid_t child = fork();
  ASSERT_GE(child, 0);
  if (child == 0) {
    if (!arm_crash_point("events-written:3").ok()) _exit(2);
    crash_point("events-written");
    crash_point("intents-written");  // another point: not counted
    crash_point("events-written");
    (void)!write(1, "", 0);
    crash_point("events-written");  // the third: killed here
    _exit(0);
  }
  int status = 0;
  ASSERT_EQ(waitpid(child, &status, 0), child);
  ASSERT_TRUE(WIFSIGNALED(status)) << "exited " << WEXITSTATUS(status);
  EXPECT_EQ(WTERMSIG(status), SIGKILL);
}

TEST(CrashPoint, UnarmedPassesDoNothing) {
  const pid_t child = fork();
  ASSERT_GE(child, 0);
  if (child == 0) {
    disarm_crash_point();
    for (int i = 0; i < 3; ++i)
      for (const char* name : crash_point_names()) crash_point(name);
    _exit(0);
  }
  int status = 0;
  ASSERT_EQ(waitpid(child, &status, 0), child);
  EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0);
}

TEST(CrashPoint, ASpecThatNamesNoPointOrNoCountIsRefused) {
  for (const char* spec : {"nowhere:1", "events-written", "events-written:0", "events-written:x",
                           "events-written:-1", ":3"}) {
    Status s = arm_crash_point(spec);
    ASSERT_FALSE(s.ok()) << spec;
    EXPECT_NE(s.error().message.find("AGENTWATCH_CRASH_AT"), std::string::npos)
        << s.error().message;
  }
  Status s = arm_crash_point("nowhere:1");
  EXPECT_NE(s.error().message.find("notify-logged"), std::string::npos)
      << "the message lists the points: " << s.error().message;
  disarm_crash_point();
}

}  // namespace
}  // namespace aw
