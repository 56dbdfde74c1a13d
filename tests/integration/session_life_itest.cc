// The rest of a result session's life through the real daemon and its shipped
// rules (rules/sessions.toml, rules/hooks.toml, rules/retention.toml;
// docs/sessions.md): age-out into failed/ with a recovery report, integration
// (retries, the circuit breaker, at most once across restarts), hooks that
// heal themselves, and retention under a low disk.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <chrono>
#include <thread>

#include "tests/integration/harness.h"

namespace aw::testing {
namespace {

using namespace std::chrono_literals;

bool is_outcome(const Event& e, const std::string& action, const std::string& session,
                const std::string& state) {
  return (e.kind == "action.succeeded" || e.kind == "action.failed") &&
         e.fields.get_string("action") == action && e.fields.get_string("session") == session &&
         e.fields.get_string("state") == state;
}

unsigned mode_of(const std::string& path) {
  struct stat st {};
  if (::lstat(path.c_str(), &st) != 0) return 0;
  return st.st_mode & 07777;
}

// Sets the mtime of `path` (not following a symlink) `age` in the past.
void age(const std::string& path, std::chrono::hours by) {
  const auto then = std::chrono::system_clock::now() - by;
  const auto s = std::chrono::duration_cast<std::chrono::seconds>(then.time_since_epoch());
  struct timespec times[2] = {{s.count(), 0}, {s.count(), 0}};
  ASSERT_EQ(::utimensat(AT_FDCWD, path.c_str(), times, AT_SYMLINK_NOFOLLOW), 0) << path;
}

class SessionLifeTest : public ::testing::Test {
 protected:
  void SetUp() override {
    results = d.home() + "/results";
    make_dirs(results + "/temp");
  }
  void watch_results(const std::string& extra = "") {
    d.write_config("[[watch]]\nname = \"results\"\npath = \"" + results + "\"\n" + extra);
  }
  std::string temp(const std::string& s) const { return results + "/temp/" + s; }
  void session_with(const std::string& s, int agents, int written) {
    make_dirs(temp(s));
    std::string list;
    for (int i = 0; i < agents; ++i) list += (i ? ", \"a" : "\"a") + std::to_string(i) + "\"";
    write_file_atomically(temp(s) + "/session.json", "{\"agents\": [" + list + "]}");
    for (int i = 0; i < written; ++i)
      write_file_atomically(temp(s) + "/a" + std::to_string(i) + ".json", "{\"ok\": true}");
  }
  // session-integrate, enabled, running `script` (a /bin/sh script; its
  // positional parameter $1 is the session directory).
  void integrate_with(const std::string& script, int retries, const std::string& breaker) {
    d.write_rule("integrate.toml", R"([[rule]]
name = "session-integrate"
on = "file.landed"
when = [
  { field = "fields.watch", equals = "results" },
  { field = "fields.rel", glob = "completed/*/session.completed" },
]
)" + breaker + R"(
  [[rule.action]]
  do = "integrate_session"
  argv = [')" + script + R"(', "{dir}"]
  shell = true
  to = "{root}/integrated"
  retries = )" + std::to_string(retries) +
                                       R"(
  backoff = { initial = "50ms", factor = 1.0, max = "50ms", jitter = 0.0 }
  on_interrupt = "rerun"
)");
  }
  // The shipped session-age-out rule with a limit of `limit` instead of 30 minutes.
  void age_out_after(const std::string& limit, const std::string& reason) {
    d.write_rule("age.toml", R"([[rule]]
name = "session-age-out"
on = "file.landed"
when = [
  { field = "fields.watch", equals = "results" },
  { field = "fields.rel", glob = "temp/*/*" },
]
debounce = ")" + limit + R"("
per = "directory"
  [[rule.action]]
  do = "fail_session"
  to = "{root}/failed"
  reason = ")" + reason + R"("
)");
  }
  std::string integrations_log() const { return d.home() + "/integrations.log"; }
  std::size_t lines_of(const std::string& path, const std::string& line) const {
    if (!exists(path)) return 0;
    const std::string text = read_file(path);
    std::size_t n = 0;
    for (std::size_t at = 0; (at = text.find(line + "\n", at)) != std::string::npos; ++at)
      if (at == 0 || text[at - 1] == '\n') ++n;
    return n;
  }

  DaemonUnderTest d;
  std::string results;
};

// ---- age-out ------------------------------------------------------------------

TEST_F(SessionLifeTest, AQuietIncompleteSessionMovesToFailedWithARecoveryReport) {
  watch_results();
  age_out_after("1s", "no new result for 1 second");
  d.start();
  session_with("s1", 3, 1);
  session_with("s2", 2, 2);  // complete at once: its wait is cancelled
  ASSERT_TRUE(
      d.wait_for([](const Event& e) { return is_outcome(e, "fail_session", "s1", "failed"); }, 15s))
      << d.stderr_text();

  const std::string failed = results + "/failed/s1";
  EXPECT_FALSE(exists(temp("s1")));
  EXPECT_TRUE(exists(failed + "/a0.json"));
  const std::string report = read_file(failed + "/recovery_report.json");
  EXPECT_NE(report.find(R"("missing":["a1","a2"])"), std::string::npos) << report;
  EXPECT_NE(report.find(R"("valid":["a0"])"), std::string::npos) << report;
  EXPECT_NE(report.find(R"("reason":"no new result for 1 second")"), std::string::npos) << report;
  EXPECT_NE(report.find(R"("name":"a0.json","type":"file","bytes":12)"), std::string::npos)
      << report;
  EXPECT_EQ(mode_of(failed + "/recovery_report.json"), 0600u);
  EXPECT_EQ(mode_of(results + "/failed"), 0700u);
  EXPECT_EQ(d.count([](const Event& e) {
    return e.kind == "state.changed" && e.entity == "s1" && e.fields.get_string("to") == "failed";
  }),
            1u);

  // s2 completed before its deadline: never failed, not even looked at.
  EXPECT_TRUE(exists(results + "/completed/s2/a1.json"));
  std::this_thread::sleep_for(1500ms);
  EXPECT_EQ(d.count([](const Event& e) {
    return e.fields.get_string("action") == "fail_session" &&
           e.fields.get_string("session") == "s2";
  }),
            0u);
  EXPECT_EQ(d.stop(), 0);
}

TEST_F(SessionLifeTest, AWaitingSessionStillAgesOutAfterTheDaemonWasKilled) {
  watch_results();
  age_out_after("2s", "no new result for 2 seconds");
  d.start();
  session_with("s1", 2, 1);
  ASSERT_TRUE(d.wait_for(
      [](const Event& e) { return is_outcome(e, "complete_session", "s1", "waiting"); }));
  d.kill9();  // the wait was in memory only
  d.start();
  ASSERT_TRUE(
      d.wait_for([](const Event& e) { return is_outcome(e, "fail_session", "s1", "failed"); }, 15s))
      << d.stderr_text();
  EXPECT_TRUE(exists(results + "/failed/s1/recovery_report.json"));
  EXPECT_EQ(d.stop(), 0);
}

// ---- integration ----------------------------------------------------------------

TEST_F(SessionLifeTest, ACompletedSessionIsIntegratedOnceAlsoOneFoundAtStart) {
  watch_results();
  const std::string log = integrations_log();
  integrate_with("echo \"$AGENTWATCH_SESSION\" >> " + log, 0, "");
  // Completed while the daemon was down: found by the start scan.
  make_dirs(results + "/completed/early");
  write_file(results + "/completed/early/a0.json", "{}");
  write_file(results + "/completed/early/session.completed", "{}");
  d.start();
  session_with("s1", 2, 2);
  for (const char* s : {"s1", "early"})
    ASSERT_TRUE(d.wait_for([s](const Event& e) {
      return is_outcome(e, "integrate_session", s, "integrated");
    })) << s
        << "\n"
        << d.stderr_text();
  EXPECT_EQ(lines_of(log, "s1"), 1u);
  EXPECT_EQ(lines_of(log, "early"), 1u);
  const std::string done = results + "/integrated/s1";
  EXPECT_TRUE(exists(done + "/a0.json"));
  EXPECT_TRUE(exists(done + "/session.integrated"));
  EXPECT_EQ(mode_of(done + "/session.integrated"), 0600u);
  EXPECT_FALSE(exists(results + "/completed/s1"));

  // A restart integrates nothing again.
  ASSERT_EQ(d.stop(), 0);
  d.start();
  std::this_thread::sleep_for(1s);
  EXPECT_EQ(lines_of(log, "s1"), 1u);
  EXPECT_EQ(lines_of(log, "early"), 1u);
  EXPECT_EQ(d.stop(), 0);
}

TEST_F(SessionLifeTest, AFailingIntegrationIsRetriedWithBackoff) {
  watch_results();
  const std::string count = d.home() + "/attempts";
  // Fails twice, then succeeds.
  integrate_with("echo x >> " + count + "; [ \"$(wc -l < " + count + ")\" -ge 3 ]", 3, "");
  d.start();
  session_with("s1", 1, 1);
  auto done = d.wait_for(
      [](const Event& e) { return is_outcome(e, "integrate_session", "s1", "integrated"); });
  ASSERT_TRUE(done) << d.stderr_text();
  EXPECT_EQ(done->fields.get_int("attempts"), 3);
  EXPECT_EQ(lines_of(count, "x"), 3u);
  EXPECT_EQ(d.stop(), 0);
}

TEST_F(SessionLifeTest, AClaimWithoutAMarkerIsInDoubtAndNeverRunAgain) {
  watch_results();
  const std::string log = integrations_log();
  integrate_with("echo \"$AGENTWATCH_SESSION\" >> " + log, 0, "");
  // What a daemon SIGKILLed while the command ran leaves behind.
  make_dirs(results + "/completed/s1");
  write_file(results + "/completed/s1/session.integrating", "{}");
  write_file(results + "/completed/s1/session.completed", "{}");
  d.start();
  auto doubt = d.wait_for([](const Event& e) {
    return e.kind == "action.failed" && is_outcome(e, "integrate_session", "s1", "in_doubt");
  });
  ASSERT_TRUE(doubt) << d.stderr_text();
  EXPECT_NE(doubt->fields.get_string("suggestion").value_or("").find("recover fix"),
            std::string::npos);
  EXPECT_EQ(lines_of(log, "s1"), 0u);
  EXPECT_TRUE(exists(results + "/completed/s1/session.completed"));
  EXPECT_EQ(d.stop(), 0);
}

TEST_F(SessionLifeTest, TheCircuitOpensHoldsSessionsAndClosesAfterATrial) {
  watch_results();
  const std::string broken = d.home() + "/broken";
  const std::string log = integrations_log();
  write_file(broken, "");
  integrate_with("[ ! -e " + broken + " ] && echo \"$AGENTWATCH_SESSION\" >> " + log, 0,
                 "breaker = { failures = 2, cool_down = \"1s\" }");
  d.start();
  session_with("s1", 1, 1);
  ASSERT_TRUE(d.wait_for([](const Event& e) {
    return e.kind == "action.failed" && e.fields.get_string("session") == "s1";
  }));
  session_with("s2", 1, 1);
  auto open = d.wait_for_kind("rule.circuit_open");
  ASSERT_TRUE(open) << d.stderr_text();
  EXPECT_EQ(open->rule, "session-integrate");
  EXPECT_EQ(open->fields.get_int("failures"), 2);

  // Held while open: not run, not failed.
  session_with("s3", 1, 1);
  ASSERT_TRUE(d.wait_for(
      [](const Event& e) { return is_outcome(e, "complete_session", "s3", "completed"); }));
  std::this_thread::sleep_for(200ms);
  EXPECT_EQ(d.count([](const Event& e) {
    return e.kind == "action.started" && e.fields.get_string("action") == "integrate_session" &&
           e.path.find("/s3/") != std::string::npos;
  }),
            0u);

  // The target is back: the trial after the cool-down integrates s3 and closes.
  ::unlink(broken.c_str());
  ASSERT_TRUE(d.wait_for_kind("rule.circuit_half_open", 5s));
  ASSERT_TRUE(d.wait_for(
      [](const Event& e) { return is_outcome(e, "integrate_session", "s3", "integrated"); }, 5s));
  auto closed = d.wait_for_kind("rule.circuit_closed", 5s);
  ASSERT_TRUE(closed);
  EXPECT_EQ(lines_of(log, "s3"), 1u);
  // The failed ones released their claims: not in doubt. Landing their record
  // again (what `agentwatch recover fix` does) integrates them.
  for (const char* s : {"s1", "s2"}) {
    const std::string dir = results + "/completed/" + s;
    EXPECT_FALSE(exists(dir + "/session.integrating")) << s;
    write_file_atomically(dir + "/session.completed", "{}");
  }
  for (const char* s : {"s1", "s2"})
    ASSERT_TRUE(d.wait_for([s](const Event& e) {
      return is_outcome(e, "integrate_session", s, "integrated");
    })) << s;
  EXPECT_EQ(lines_of(log, "s1"), 1u);
  EXPECT_EQ(d.stop(), 0);
}

// ---- hooks ----------------------------------------------------------------------

TEST_F(SessionLifeTest, AHookDeletedOrMadeNonExecutableIsRestoredAndAMissingSourceIsOneError) {
  const std::string hooks = d.home() + "/hooks";
  make_dirs(hooks);
  d.write_config("[[watch]]\nname = \"hooks\"\npath = \"" + hooks + "\"\n");
  const std::string source = d.config_dir() + "/hooks/stop.sh";
  make_dirs(d.config_dir() + "/hooks");
  write_file(source, "#!/bin/sh\necho stop\n");
  write_file(hooks + "/stop.sh", "#!/bin/sh\necho stop\n");
  ASSERT_EQ(::chmod((hooks + "/stop.sh").c_str(), 0700), 0);
  d.start();

  auto restored = [](const std::string& state) {
    return [state](const Event& e) {
      return e.kind == "action.succeeded" && e.fields.get_string("action") == "ensure_file" &&
             e.fields.get_string("state") == state;
    };
  };
  ASSERT_EQ(::unlink((hooks + "/stop.sh").c_str()), 0);
  ASSERT_TRUE(d.wait_for(restored("restored"))) << d.stderr_text();
  EXPECT_EQ(read_file(hooks + "/stop.sh"), "#!/bin/sh\necho stop\n");
  EXPECT_EQ(mode_of(hooks + "/stop.sh"), 0700u);

  ASSERT_EQ(::chmod((hooks + "/stop.sh").c_str(), 0600), 0);
  ASSERT_TRUE(d.wait_for(restored("mode_fixed")));
  EXPECT_EQ(mode_of(hooks + "/stop.sh"), 0700u);

  write_file(hooks + "/stop.sh", "#!/bin/sh\nrm -rf ~\n");
  ASSERT_TRUE(d.wait_for(restored("replaced")));
  EXPECT_EQ(read_file(hooks + "/stop.sh"), "#!/bin/sh\necho stop\n");
  EXPECT_EQ(read_file(hooks + "/.agentwatch-replaced/stop.sh"), "#!/bin/sh\nrm -rf ~\n");

  // No source: an error, once, not a loop.
  write_file(hooks + "/orphan.sh", "#!/bin/sh\n");
  ASSERT_TRUE(d.wait_for([](const Event& e) {
    return e.kind == "action.failed" && e.fields.get_string("action") == "ensure_file";
  }));
  std::this_thread::sleep_for(1s);
  EXPECT_EQ(d.count([](const Event& e) {
    return e.kind == "action.failed" && e.fields.get_string("action") == "ensure_file";
  }),
            1u);
  EXPECT_LE(d.count([](const Event& e) {
    return e.kind == "action.started" && e.fields.get_string("action") == "ensure_file";
  }),
            12u);
  EXPECT_EQ(d.stop(), 0);
}

// ---- disk space and retention ----------------------------------------------------

TEST_F(SessionLifeTest, ALowDiskDeletesOnlyOldSessionsInsideTheRootAndLogsEachDeletion) {
  // A threshold no filesystem meets: always low.
  watch_results("min_free = \"100%\"\n");
  const std::string outside = d.home() + "/outside";
  make_dirs(outside + "/keepme");
  write_file(outside + "/keepme/data.json", "{}");
  age(outside + "/keepme/data.json", std::chrono::hours(24 * 60));

  auto session = [&](const std::string& where, std::chrono::hours old) {
    make_dirs(where);
    write_file(where + "/a0.json", "{\"ok\": true}");
    age(where + "/a0.json", old);
    age(where, old);
  };
  session(results + "/completed/old", std::chrono::hours(24 * 8));
  session(results + "/completed/young", std::chrono::hours(24 * 2));
  session(results + "/failed/recent", std::chrono::hours(24 * 8));
  session(results + "/failed/ancient", std::chrono::hours(24 * 31));
  ASSERT_EQ(::symlink((outside + "/keepme").c_str(), (results + "/completed/link").c_str()), 0);
  age(results + "/completed/link", std::chrono::hours(24 * 60));

  d.start();
  auto r = d.cli({"trigger", "disk-check"});
  ASSERT_EQ(r.exit_code, 0) << r.out << r.err;
  ASSERT_TRUE(d.wait_for_kind("disk.low")) << d.stderr_text();
  ASSERT_EQ(d.wait_for_count(
                [](const Event& e) {
                  return e.kind == "action.succeeded" && e.fields.get_string("action") == "retain";
                },
                3),
            3u)
      << "completed/, integrated/ (missing: nothing to do) and failed/";

  EXPECT_FALSE(exists(results + "/completed/old"));
  EXPECT_FALSE(exists(results + "/failed/ancient"));
  EXPECT_FALSE(exists(results + "/completed/link"));
  EXPECT_TRUE(exists(results + "/completed/young/a0.json"));
  EXPECT_TRUE(exists(results + "/failed/recent/a0.json"));
  EXPECT_EQ(read_file(outside + "/keepme/data.json"), "{}");

  auto deleted = d.wait_for([&](const Event& e) {
    return e.kind == "retention.deleted" && e.path == results + "/completed/old";
  });
  ASSERT_TRUE(deleted);
  EXPECT_EQ(deleted->fields.get_int("bytes"), 12);
  EXPECT_GE(deleted->fields.get_int("age_s").value_or(0), 8 * 24 * 3600 - 60);
  EXPECT_EQ(d.count([](const Event& e) { return e.kind == "retention.deleted"; }), 3u);
  EXPECT_EQ(d.stop(), 0);
}

}  // namespace
}  // namespace aw::testing

int main(int argc, char** argv) {
  aw::testing::become_subreaper();
  ::testing::InitGoogleTest(&argc, argv);
  return RUN_ALL_TESTS();
}
