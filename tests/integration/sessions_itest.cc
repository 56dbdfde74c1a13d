// Result sessions through the real daemon and its shipped rules
// (rules/sessions.toml, docs/sessions.md): agents' results landing in
// temp/<session>/, repaired or quarantined when broken, and each complete
// session moved to completed/<session>/ once and integrated (into
// integrated/<session>/) at most once, also across a SIGKILL.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <map>
#include <set>
#include <thread>

#include "tests/integration/harness.h"

namespace aw::testing {
namespace {

bool is_session_outcome(const Event& e, const std::string& session, const std::string& state) {
  return e.kind == "action.succeeded" && e.fields.get_string("action") == "complete_session" &&
         e.fields.get_string("session") == session && e.fields.get_string("state") == state;
}

std::string agent_name(int i) {
  return "a" + std::to_string(i);
}

class SessionsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    results = d.home() + "/results";
    make_dirs(results + "/temp");
    d.write_config("[[watch]]\nname = \"results\"\npath = \"" + results + "\"\n");
  }
  std::string session_dir(const std::string& s) const { return results + "/temp/" + s; }
  void manifest(const std::string& s, int agents) {
    std::string list;
    for (int i = 0; i < agents; ++i) list += (i ? ", \"" : "\"") + agent_name(i) + "\"";
    make_dirs(session_dir(s));
    write_file_atomically(session_dir(s) + "/session.json", "{\"agents\": [" + list + "]}");
  }
  std::size_t completions(const std::string& s) const {
    return d.count([&](const Event& e) { return is_session_outcome(e, s, "completed"); });
  }

  DaemonUnderTest d;
  std::string results;
};

TEST_F(SessionsTest, AManifestSessionCompletesWithARepairedResultAndMovesOnce) {
  d.start();
  manifest("s1", 3);
  write_file(session_dir("s1") + "/a0.json", R"({"agent": "a0", "status": "done"})");
  write_file(session_dir("s1") + "/a1.json", R"({"agent": "a1", "status": "do)");  // truncated
  write_file_atomically(session_dir("s1") + "/a2.json", R"({"agent": "a2", "items": [1, 2,]})");
  ASSERT_TRUE(d.wait_for([](const Event& e) { return is_session_outcome(e, "s1", "completed"); }))
      << d.stderr_text();

  const std::string done = results + "/completed/s1";
  EXPECT_FALSE(exists(session_dir("s1")));
  EXPECT_EQ(read_file(done + "/a0.json"), R"({"agent": "a0", "status": "done"})");
  EXPECT_EQ(read_file(done + "/a1.repaired.json"), R"({"agent": "a1", "status": "do"})");
  EXPECT_TRUE(exists(done + "/a2.repaired.json"));
  EXPECT_TRUE(exists(done + "/session.json"));
  // The broken originals are kept, with what was done to them.
  EXPECT_EQ(read_file(results + "/quarantine/s1/a1.json"), R"({"agent": "a1", "status": "do)");
  const std::string reason = read_file(results + "/quarantine/s1/a1.json.reason");
  EXPECT_NE(reason.find("repaired into " + session_dir("s1") + "/a1.repaired.json"),
            std::string::npos)
      << reason;
  EXPECT_TRUE(exists(results + "/quarantine/s1/a2.json.reason"));

  // The session's entity is completed, once.
  EXPECT_EQ(d.count([](const Event& e) {
    return e.kind == "state.changed" && e.entity == "s1" &&
           e.fields.get_string("to") == "completed";
  }),
            1u);
  EXPECT_EQ(completions("s1"), 1u);
  EXPECT_EQ(d.stop(), 0);
}

TEST_F(SessionsTest, AMarkerCompletesASessionWithoutAManifest) {
  d.start();
  make_dirs(session_dir("s2"));
  write_file(session_dir("s2") + "/x.json", "{}");
  ASSERT_TRUE(d.wait_for([](const Event& e) { return is_session_outcome(e, "s2", "waiting"); }));
  write_file(session_dir("s2") + "/session.done", "");
  ASSERT_TRUE(d.wait_for([](const Event& e) { return is_session_outcome(e, "s2", "completed"); }));
  EXPECT_TRUE(exists(results + "/completed/s2/x.json"));
  EXPECT_EQ(d.stop(), 0);
}

TEST_F(SessionsTest, AnUnrepairableResultIsQuarantinedWithItsErrorAndTheSessionWaits) {
  d.start();
  manifest("s3", 2);
  write_file(session_dir("s3") + "/a0.json", "{}");
  write_file(session_dir("s3") + "/a1.json", "Traceback (most recent call last):\n");
  ASSERT_TRUE(d.wait_for([](const Event& e) {
    return e.kind == "action.succeeded" && e.fields.get_string("action") == "repair_json" &&
           e.fields.get_string("result") == "quarantined";
  }));
  const std::string reason = read_file(results + "/quarantine/s3/a1.json.reason");
  EXPECT_NE(reason.find("\"error_offset\":0"), std::string::npos) << reason;
  // Judged before the repair moved a1 out (invalid) or after (missing).
  ASSERT_TRUE(d.wait_for([](const Event& e) {
    return is_session_outcome(e, "s3", "waiting") &&
           (e.fields.get_string("missing") == "a1" || e.fields.get_string("invalid") == "a1");
  }));
  EXPECT_TRUE(exists(session_dir("s3") + "/a0.json"));
  EXPECT_EQ(completions("s3"), 0u);
  EXPECT_EQ(d.stop(), 0);
}

TEST_F(SessionsTest, AResultRewrittenInPlaceWithTheSameSizeIsSeenAgain) {
  d.start();
  manifest("s4", 2);
  const std::string a0 = session_dir("s4") + "/a0.json";
  write_file(a0, R"({"v": 1})");
  const auto landed = [&](const Event& e) { return e.kind == "file.landed" && e.path == a0; };
  auto first = d.wait_for(landed);
  ASSERT_TRUE(first) << d.stderr_text();
  std::this_thread::sleep_for(20ms);  // a later mtime, as a real rewrite has
  write_file(a0, R"({"v": 2})");      // same inode, same size
  ASSERT_EQ(d.wait_for_count(landed, 2), 2u) << "the rewrite was not seen";
  const std::vector<Event> all = d.events();
  std::vector<const Event*> both;
  for (const Event& e : all)
    if (landed(e)) both.push_back(&e);
  ASSERT_EQ(both.size(), 2u);
  EXPECT_EQ(both[0]->fields.get_int("size"), both[1]->fields.get_int("size"));
  EXPECT_EQ(both[0]->fields.get_int("inode"), both[1]->fields.get_int("inode"));
  EXPECT_EQ(d.stop(), 0);
}

// Many sessions landing at once, with every kind of result: each session and
// each file ends in exactly one place, none handled twice, nothing outside the
// root touched. AW_SESSIONS raises the count (the issue's figure is 1,000).
class SessionStormTest : public SessionsTest {
 protected:
  static constexpr int kAgents = 10;
  enum class Kind { kValid, kSlow, kTruncated, kUnquoted, kGarbage, kEmpty, kSymlink, kMissing };

  // What agent i of session n writes: sessions cycle through one broken
  // variant each; agent 9 of every 7th session never writes.
  static Kind kind_of(int n, int i) {
    if (i == 9 && n % 7 == 3) return Kind::kMissing;
    // Still being written when the watcher first sees it: half now, the rest
    // after the next session has been written (a pause well within the
    // watcher's settle period, docs/watching.md: a writer that pauses longer
    // mid-write, in a directory made a moment before, is judged by its half).
    if (i == 7 && n % 5 == 2) return Kind::kSlow;
    if (i != 4) return Kind::kValid;
    switch (n % 6) {
      case 1:
        return Kind::kTruncated;
      case 2:
        return Kind::kUnquoted;
      case 3:
        return Kind::kGarbage;
      case 4:
        return Kind::kEmpty;
      case 5:
        return Kind::kSymlink;
      default:
        return Kind::kValid;
    }
  }
  static bool completes(int n) {
    for (int i = 0; i < kAgents; ++i) {
      const Kind k = kind_of(n, i);
      if (k == Kind::kGarbage || k == Kind::kEmpty || k == Kind::kSymlink || k == Kind::kMissing)
        return false;
    }
    return true;
  }
  void write_sessions(int from, int to) {
    std::vector<std::pair<int, std::string>> unfinished;  // fd, the rest to write
    const auto finish_slow_writes = [&] {
      for (auto& [fd, rest] : unfinished) {
        ASSERT_EQ(::write(fd, rest.data(), rest.size()), static_cast<ssize_t>(rest.size()));
        ASSERT_EQ(::close(fd), 0);
      }
      unfinished.clear();
    };
    for (int n = from; n < to; ++n) {
      if (n % 5 == 3) finish_slow_writes();  // the slow writer of session n - 1
      const std::string s = "s" + std::to_string(n);
      manifest(s, kAgents);
      for (int i = 0; i < kAgents; ++i) {
        const std::string file = session_dir(s) + "/" + agent_name(i) + ".json";
        const std::string body = "{\"session\": \"" + s + "\", \"agent\": " + std::to_string(i);
        switch (kind_of(n, i)) {
          case Kind::kValid:
            // Half by close-write, half by atomic rename.
            if (i % 2)
              write_file_atomically(file, body + "}");
            else
              write_file(file, body + "}");
            break;
          case Kind::kSlow: {
            const std::string whole = body + ", \"note\": \"written in two steps\"}";
            const int fd = ::open(file.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
            ASSERT_GE(fd, 0) << file;
            const std::size_t half = whole.size() / 2;
            ASSERT_EQ(::write(fd, whole.data(), half), static_cast<ssize_t>(half));
            unfinished.emplace_back(fd, whole.substr(half));
            break;
          }
          case Kind::kTruncated:
            write_file(file, body + ", \"items\": [1, 2");
            break;
          case Kind::kUnquoted:
            write_file(file, "{session: \"" + s + "\", agent: 4}");
            break;
          case Kind::kGarbage:
            write_file(file, "<html>502 Bad Gateway</html>");
            break;
          case Kind::kEmpty:
            write_file(file, "");
            break;
          case Kind::kSymlink:
            ASSERT_EQ(::symlink(outside_file.c_str(), file.c_str()), 0);
            break;
          case Kind::kMissing:
            break;
        }
      }
    }
    finish_slow_writes();
  }
  int sessions() const {
    const char* n = std::getenv("AW_SESSIONS");
    return n ? std::atoi(n) : 120;
  }
  // Waits until every session that can complete did, and every broken result
  // was repaired or quarantined.
  // `killed`: the daemon was SIGKILLed on the way. A session's entity may then
  // have its completion logged twice: the lifecycle journal commits on the
  // thread pool after the state.changed line is in the event log, so a kill
  // between the two loses the state and the next daemon records it again
  // (a known gap, noted in the closing note of the sessions work).
  void wait_until_settled(int count, bool killed) {
    int expected = 0, broken = 0;
    for (int n = 0; n < count; ++n) {
      expected += completes(n);
      const Kind k = kind_of(n, 4);
      broken +=
          k == Kind::kTruncated || k == Kind::kUnquoted || k == Kind::kGarbage || k == Kind::kEmpty;
    }
    // The session entity's completion: once per session, whichever check
    // moved it (a killed daemon's check may have moved it unlogged).
    const auto completed = [](const Event& e) {
      return e.kind == "state.changed" && e.fields.get_string("to") == "completed";
    };
    EXPECT_GE(d.wait_for_count(completed, expected, 120s), static_cast<std::size_t>(expected))
        << d.stderr_text();
    if (!killed) {
      EXPECT_EQ(d.count(completed), static_cast<std::size_t>(expected));
    }
    const auto repaired = [](const Event& e) {
      return e.kind == "action.succeeded" && e.fields.get_string("action") == "repair_json" &&
             e.fields.get_string("result") != "valid";
    };
    if (d.wait_for_count(repaired, broken, 60s) < static_cast<std::size_t>(broken)) {
      std::string failures;  // what kept a broken result from an outcome
      for (const Event& e : d.events())
        if (e.kind == "action.failed" && e.fields.get_string("action") == "repair_json")
          failures += "#" + std::to_string(e.seq) + " " +
                      e.fields.get_string("message").value_or("") + "\n";
      ADD_FAILURE() << "fewer than " << broken << " broken results repaired or quarantined; "
                    << "repair_json failures:\n"
                    << failures;
    }
  }
  void expect_end_state(int count, bool killed) {
    // From one read of the log: per session, the checks that moved it, and
    // its entity's completions.
    std::map<std::string, std::size_t> moves, completions;
    for (const Event& e : d.events()) {
      if (e.kind == "action.succeeded" && e.fields.get_string("action") == "complete_session" &&
          e.fields.get_string("state") == "completed")
        ++moves[e.fields.get_string("session").value_or("")];
      if (e.kind == "state.changed" && e.fields.get_string("to") == "completed")
        ++completions[e.entity];
    }
    const std::map<std::string, int> commands = integrated_by_command();
    for (int n = 0; n < count; ++n) {
      const std::string s = "s" + std::to_string(n);
      const std::string integrated = results + "/integrated/" + s;
      const std::string completed = results + "/completed/" + s;
      // In doubt (killed only): left in completed/ with its claim.
      const bool in_doubt = killed && exists(completed + "/session.integrating");
      const std::string done = in_doubt ? completed : integrated;
      const std::string temp = session_dir(s);
      SCOPED_TRACE(s);
      const auto ran = commands.find(s);
      const int runs = ran == commands.end() ? 0 : ran->second;
      if (in_doubt) {
        EXPECT_LE(runs, 1) << "integrated twice";
        EXPECT_FALSE(exists(integrated));
      } else {
        EXPECT_EQ(runs, completes(n) ? 1 : 0) << "integrations";
        EXPECT_FALSE(exists(completed)) << "left in completed/";
      }
      if (completes(n) && killed) {
        EXPECT_GE(completions[s], 1u);
        EXPECT_LE(completions[s], 2u);
      } else {
        EXPECT_EQ(completions[s], completes(n) ? 1u : 0u);
      }
      EXPECT_LE(moves[s], 1u);
      EXPECT_EQ(exists(done), completes(n));
      EXPECT_EQ(exists(temp), !completes(n));
      EXPECT_FALSE(exists(done + ".1")) << "moved twice";
      EXPECT_FALSE(exists(completed + ".1")) << "completed twice";
      const std::string home = completes(n) ? done : temp;
      for (int i = 0; i < kAgents; ++i) {
        const std::string a = agent_name(i);
        const std::string q = results + "/quarantine/" + s + "/" + a + ".json";
        switch (kind_of(n, i)) {
          case Kind::kValid:
          case Kind::kSlow:
            EXPECT_TRUE(exists(home + "/" + a + ".json")) << a;
            EXPECT_FALSE(exists(q)) << a << ": a file still being written was judged early";
            break;
          case Kind::kTruncated:
          case Kind::kUnquoted:
            EXPECT_TRUE(exists(home + "/" + a + ".repaired.json")) << a;
            EXPECT_FALSE(exists(home + "/" + a + ".repaired.1.json")) << a << " repaired twice";
            EXPECT_TRUE(exists(q)) << a;
            break;
          case Kind::kGarbage:
          case Kind::kEmpty:
            EXPECT_TRUE(exists(q)) << a;
            EXPECT_TRUE(exists(q + ".reason")) << a;
            EXPECT_FALSE(exists(home + "/" + a + ".json")) << a;
            break;
          case Kind::kSymlink:
            EXPECT_FALSE(exists(q)) << a << ": the link was followed";
            break;
          case Kind::kMissing:
            break;
        }
        EXPECT_FALSE(exists(q.substr(0, q.size() - 5) + ".1.json")) << a << " quarantined twice";
      }
    }
    EXPECT_EQ(read_file(outside_file), "outside the root") << "never read into, never moved";
  }

  void SetUp() override {
    SessionsTest::SetUp();
    outside_file = outside / "secret.json";
    write_file(outside_file, "outside the root");
    // Integration on: each complete session ends in integrated/, integrated
    // by a command that logs it, so a second integration would show.
    d.write_rule("integrate.toml", R"([[rule]]
name = "session-integrate"
on = "file.landed"
when = [
  { field = "fields.watch", equals = "results" },
  { field = "fields.rel", glob = "completed/*/session.completed" },
]
  [[rule.action]]
  do = "integrate_session"
  argv = ['echo "$AGENTWATCH_SESSION" >> ")" +
                                       integrations + R"("']
  shell = true
  to = "{root}/integrated"
  on_interrupt = "rerun"
)");
  }
  // Sessions the integration command ran for, and how often.
  std::map<std::string, int> integrated_by_command() const {
    std::map<std::string, int> runs;
    if (!exists(integrations)) return runs;
    std::string text = read_file(integrations);
    for (std::size_t at = 0, nl; (nl = text.find('\n', at)) != std::string::npos; at = nl + 1)
      ++runs[text.substr(at, nl - at)];
    return runs;
  }
  // Waits until each session that completes is integrated, or (after a
  // SIGKILL) found in doubt: claimed by a daemon that died while its command
  // may have run, so never run again by itself.
  void wait_until_integrated(int count, bool killed) {
    int expected = 0;
    for (int n = 0; n < count; ++n) expected += completes(n);
    std::set<std::string> done;
    const auto settled = [&] {
      done.clear();
      for (const Event& e : d.events()) {
        if (e.fields.get_string("action") != "integrate_session") continue;
        const auto state = e.fields.get_string("state");
        // integrated_before: moved by the attempt a killed daemon had in
        // flight, whose outcome was never logged; its resumed plan finds it.
        if (state == "integrated" ||
            (killed && (state == "in_doubt" || state == "integrated_before")))
          done.insert(e.fields.get_string("session").value_or(""));
      }
      return static_cast<int>(done.size());
    };
    const auto deadline = std::chrono::steady_clock::now() + 120s;
    while (settled() < expected && std::chrono::steady_clock::now() < deadline)
      std::this_thread::sleep_for(100ms);
    if (settled() == expected) return;
    std::string missing;  // what each unsettled session's directories hold
    for (int n = 0; n < count; ++n) {
      const std::string s = "s" + std::to_string(n);
      if (!completes(n) || done.count(s)) continue;
      const std::string c = results + "/completed/" + s;
      missing += s + ": completed/ " + (exists(c) ? "yes" : "no") + ", record " +
                 (exists(c + "/session.completed") ? "yes" : "no") + ", claim " +
                 (exists(c + "/session.integrating") ? "yes" : "no") + ", integrated/ " +
                 (exists(results + "/integrated/" + s) ? "yes" : "no") + ", temp/ " +
                 (exists(session_dir(s)) ? "yes" : "no") + "\n";
    }
    ADD_FAILURE() << expected - settled() << " sessions neither integrated nor in doubt:\n"
                  << missing;
  }

  TempDir outside;
  std::string outside_file;
  std::string integrations = d.home() + "/integrations.log";
};

TEST_F(SessionStormTest, EverySessionAndFileEndsInExactlyOnePlace) {
  d.start();
  const int n = sessions();
  write_sessions(0, n);
  wait_until_settled(n, false);
  wait_until_integrated(n, false);
  expect_end_state(n, false);
  EXPECT_EQ(d.stop(), 0);
}

TEST_F(SessionStormTest, ASigkillInTheMiddleChangesNothingInTheEnd) {
  d.start();
  const int n = sessions();
  write_sessions(0, n / 2);
  d.wait_for_count([](const Event& e) { return e.kind == "action.succeeded"; },
                   static_cast<std::size_t>(n / 4), 60s);
  d.kill9();
  write_sessions(n / 2, n);  // while it is down
  d.start();
  wait_until_settled(n, true);
  wait_until_integrated(n, true);
  expect_end_state(n, true);
  EXPECT_EQ(d.stop(), 0);
}

}  // namespace
}  // namespace aw::testing

int main(int argc, char** argv) {
  aw::testing::become_subreaper();
  ::testing::InitGoogleTest(&argc, argv);
  return RUN_ALL_TESTS();
}
