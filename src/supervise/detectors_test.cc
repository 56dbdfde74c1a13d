#include "src/supervise/detectors.h"

#include <gtest/gtest.h>

namespace aw {
namespace {

using S = LifecycleState;
using std::chrono::seconds;

const WallTime kT0 = WallTime(seconds(1'700'000'000));

PresenceFacts zombie_facts() {
  PresenceFacts f;
  f.process_watched = true;
  f.process = Liveness::kAlive;
  f.session = SessionPresence::kAbsent;
  f.past_start_grace = true;
  f.entity = S::kProcessing;
  return f;
}

PresenceFacts phantom_facts() {
  PresenceFacts f;
  f.process_watched = false;
  f.session = SessionPresence::kAbsent;
  f.entity = S::kProcessing;
  return f;
}

TEST(JudgePresence, ZombieNeedsConfirmedLifeAndConfirmedAbsence) {
  EXPECT_EQ(judge_presence(zombie_facts()), PresenceVerdict::kZombie);
  auto f = zombie_facts();
  f.entity.reset();  // the process and session evidence is enough
  EXPECT_EQ(judge_presence(f), PresenceVerdict::kZombie);
  f.entity = S::kTimingOut;
  EXPECT_EQ(judge_presence(f), PresenceVerdict::kZombie);
  // Every missing confirmation keeps it fine.
  for (Liveness l : {Liveness::kAbsent, Liveness::kUnknown}) {
    f = zombie_facts();
    f.process = l;
    EXPECT_EQ(judge_presence(f), PresenceVerdict::kFine) << liveness_name(l);
  }
  for (SessionPresence s :
       {SessionPresence::kPresent, SessionPresence::kUnknown, SessionPresence::kNone}) {
    f = zombie_facts();
    f.session = s;
    EXPECT_EQ(judge_presence(f), PresenceVerdict::kFine) << session_presence_name(s);
  }
  f = zombie_facts();
  f.past_start_grace = false;
  EXPECT_EQ(judge_presence(f), PresenceVerdict::kFine);
  f = zombie_facts();
  f.action_pending = true;  // already being stopped or killed
  EXPECT_EQ(judge_presence(f), PresenceVerdict::kFine);
  for (S s : {S::kCompleted, S::kFailed, S::kZombie, S::kQueued}) {
    f = zombie_facts();
    f.entity = s;
    EXPECT_EQ(judge_presence(f), PresenceVerdict::kFine) << lifecycle_state_name(s);
  }
}

TEST(JudgePresence, PhantomNeedsProcessingNoProcessAndNoSession) {
  EXPECT_EQ(judge_presence(phantom_facts()), PresenceVerdict::kPhantom);
  auto f = phantom_facts();
  f.session = SessionPresence::kNone;  // none declared: only the process counts
  EXPECT_EQ(judge_presence(f), PresenceVerdict::kPhantom);
  f = phantom_facts();
  f.session = SessionPresence::kUnknown;  // tmux did not answer: not absence
  EXPECT_EQ(judge_presence(f), PresenceVerdict::kFine);
  f = phantom_facts();
  f.session = SessionPresence::kPresent;
  EXPECT_EQ(judge_presence(f), PresenceVerdict::kFine);
  f = phantom_facts();
  f.entity.reset();  // the state is not known: only a confirmed processing counts
  EXPECT_EQ(judge_presence(f), PresenceVerdict::kFine);
  for (S s : {S::kQueued, S::kTimingOut, S::kZombie, S::kFailed, S::kCompleted}) {
    f = phantom_facts();
    f.entity = s;
    EXPECT_EQ(judge_presence(f), PresenceVerdict::kFine) << lifecycle_state_name(s);
  }
  f = phantom_facts();
  f.action_pending = true;  // a restart is coming
  EXPECT_EQ(judge_presence(f), PresenceVerdict::kFine);
  f = phantom_facts();
  f.process_watched = true;
  f.process = Liveness::kUnknown;
  EXPECT_EQ(judge_presence(f), PresenceVerdict::kFine);
}

TEST(Progress, BetweenTwoSamples) {
  FileSample a{true, "", 10, kT0};
  FileSample b{true, "", 20, kT0 + seconds(1)};
  FileSample gone{false, "No such file or directory", 0, {}};
  EXPECT_EQ(progress_between(false, a, b), Progress::kNoHeartbeat);
  EXPECT_EQ(progress_between(true, a, b), Progress::kSeen);
  EXPECT_EQ(progress_between(true, a, a), Progress::kNone);
  EXPECT_EQ(progress_between(true, a, gone), Progress::kUnknown);
  EXPECT_EQ(progress_between(true, gone, b), Progress::kUnknown);
  EXPECT_EQ(progress_between(true, std::nullopt, b), Progress::kUnknown);
}

TEST(JudgeGraceEnd, OnlySeenProgressWithinTheBudgetExtends) {
  EXPECT_EQ(judge_grace_end(Progress::kSeen, 0, 3), GraceVerdict::kExtend);
  EXPECT_EQ(judge_grace_end(Progress::kSeen, 2, 3), GraceVerdict::kExtend);
  EXPECT_EQ(judge_grace_end(Progress::kSeen, 3, 3), GraceVerdict::kKill);
  EXPECT_EQ(judge_grace_end(Progress::kSeen, 0, 0), GraceVerdict::kKill);
  for (Progress p : {Progress::kNone, Progress::kUnknown, Progress::kNoHeartbeat})
    EXPECT_EQ(judge_grace_end(p, 0, 3), GraceVerdict::kKill) << progress_name(p);
}

TEST(DetectorNames, AreTheDocumentedWords) {
  EXPECT_STREQ(session_presence_name(SessionPresence::kAbsent), "absent");
  EXPECT_STREQ(session_presence_name(SessionPresence::kNone), "none");
  EXPECT_STREQ(presence_verdict_name(PresenceVerdict::kPhantom), "phantom");
  EXPECT_STREQ(progress_name(Progress::kNoHeartbeat), "no_heartbeat");
}

}  // namespace
}  // namespace aw
