// tmux through the real daemon and a real, private tmux server (issue #4's
// tmux items; DESIGN §6 scenarios 3, 7, 17, 18): installed hooks reach the
// daemon and make it reconcile (or are spooled while it is down), hostile
// session names and event text stay inert, a worker whose session vanishes is
// killed as a zombie, a probe's finding opens a session with a briefed agent,
// and a pane's output completes an entity.
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdlib>

#include "tests/integration/harness.h"
#include "tests/integration/private_tmux.h"

namespace aw::testing {
namespace {

bool contains(const std::string& hay, const std::string& needle) {
  return hay.find(needle) != std::string::npos;
}

std::size_t occurrences(const std::string& hay, const std::string& needle) {
  std::size_t n = 0;
  for (auto at = hay.find(needle); at != std::string::npos; at = hay.find(needle, at + 1)) ++n;
  return n;
}

std::function<bool(const Event&)> is(const std::string& kind, const std::string& source,
                                     const std::string& session) {
  return [=](const Event& e) {
    return e.kind == kind && e.source == source && e.fields.get_string("session") == session;
  };
}

std::function<bool(const Event&)> state_to(const std::string& entity, const std::string& to) {
  return [=](const Event& e) {
    return e.kind == "state.changed" && e.entity == entity && e.fields.get_string("to") == to;
  };
}

class TmuxTest : public ::testing::Test {
 protected:
  // Created first so it is destroyed last: the daemon stops before its server.
  PrivateTmux tmux;
  DaemonUnderTest d;
};

// Scenario 17: `agentwatch tmux hooks --install` puts the hooks into the
// running server; a session's creation and end then reach the daemon as notify
// events (the hints) and as reconciled tmux events (the facts).
TEST_F(TmuxTest, InstalledHooksReportSessionsAndReconcile) {
  ASSERT_EQ(tmux({"new-session", "-d", "-s", "keep"}).exit_code, 0);
  d.write_config("[rules]\nshipped = false\n" + tmux.config());
  d.start();
  auto seen = d.wait_for(
      [](const Event& e) { return e.kind == "tmux.session.seen" && e.entity == "keep"; });
  ASSERT_TRUE(seen) << d.stderr_text();
  EXPECT_EQ(*seen->fields.get_string("reason"), "start");

  auto installed = d.cli({"tmux", "hooks", "--install"});
  ASSERT_EQ(installed.exit_code, 0) << installed.err;
  // Installing twice replaces (index 87), it does not add a second hook.
  ASSERT_EQ(d.cli({"tmux", "hooks", "--install"}).exit_code, 0);
  auto hooks = tmux({"show-hooks", "-g", "session-created"});
  EXPECT_EQ(occurrences(hooks.out, "notify"), 1u) << hooks.out;
  EXPECT_TRUE(contains(hooks.out, "session-created[87]")) << hooks.out;

  ASSERT_EQ(tmux({"new-session", "-d", "-s", "alpha"}).exit_code, 0);
  auto created = d.wait_for(is("tmux.session-created", "notify", "alpha"));
  ASSERT_TRUE(created) << d.stderr_text();
  EXPECT_EQ(created->entity, "alpha");
  EXPECT_TRUE(created->fields.get_string("session_id").value_or("").starts_with("$"));
  auto appeared = d.wait_for(is("tmux.session.appeared", "tmux", "alpha"));
  ASSERT_TRUE(appeared) << d.stderr_text();
  EXPECT_EQ(appeared->entity, "alpha");
  EXPECT_GT(appeared->fields.get_int("pane_pid").value_or(0), 0);

  ASSERT_EQ(tmux({"kill-session", "-t", "=alpha"}).exit_code, 0);
  auto closed = d.wait_for(is("tmux.session-closed", "notify", "alpha"));
  ASSERT_TRUE(closed) << d.stderr_text();
  auto vanished = d.wait_for(is("tmux.session.vanished", "tmux", "alpha"));
  ASSERT_TRUE(vanished) << d.stderr_text();
  EXPECT_EQ(vanished->fields.get_string("session_id"), appeared->fields.get_string("session_id"));
  EXPECT_EQ(d.count(is("tmux.session.vanished", "tmux", "keep")), 0u) << "keep is still there";
  EXPECT_EQ(d.stop(), 0);
}

// A session name is chosen by whoever creates the session: with shell
// metacharacters in it, the hook still delivers it intact and runs nothing.
TEST_F(TmuxTest, HostileSessionNamesArriveIntactAndRunNothing) {
  ASSERT_EQ(tmux({"new-session", "-d", "-s", "keep"}).exit_code, 0);
  d.write_config("[rules]\nshipped = false\n" + tmux.config());
  d.start();
  ASSERT_EQ(d.cli({"tmux", "hooks", "--install"}).exit_code, 0);
  const std::string pwned = d.home() + "/pwned";
  // Not "$(…)": a target starting with '$' is a session id to tmux (docs/tmux.md).
  const std::vector<std::string> names{
      "x;touch " + pwned,       "x$(touch " + pwned + ")", "`touch " + pwned + "`",
      "#(touch " + pwned + ")", "a'b\"c >" + pwned,        "* ? [x] & | <",
  };
  for (const auto& name : names) {
    // tmux expands formats in -s (`#(cmd)` would run cmd in tmux itself): ## is a '#'.
    std::string escaped;
    for (char c : name) escaped += c == '#' ? std::string("##") : std::string(1, c);
    auto r = tmux({"new-session", "-d", "-s", escaped});
    ASSERT_EQ(r.exit_code, 0) << name << ": " << r.err;
    ASSERT_TRUE(tmux.has_session(name)) << "tmux changed the name " << name;
  }
  for (const auto& name : names) {
    auto created = d.wait_for(is("tmux.session-created", "notify", name));
    ASSERT_TRUE(created) << "no hook event with the name intact: " << name << "\n"
                         << d.stderr_text();
    EXPECT_EQ(created->entity, name);
    EXPECT_TRUE(d.wait_for(is("tmux.session.appeared", "tmux", name))) << name;
  }
  for (const auto& name : names) ASSERT_EQ(tmux({"kill-session", "-t", "=" + name}).exit_code, 0);
  for (const auto& name : names) {
    EXPECT_TRUE(d.wait_for(is("tmux.session-closed", "notify", name))) << name;
    EXPECT_TRUE(d.wait_for(is("tmux.session.vanished", "tmux", name))) << name;
  }
  EXPECT_FALSE(exists(pwned)) << "a session name was run as a command";
  EXPECT_EQ(d.stop(), 0);
}

// Scenario 17: hooks that fire while the daemon is down are spooled by
// `agentwatch notify` and delivered, marked as spooled, when it starts again.
TEST_F(TmuxTest, HooksFiredWhileTheDaemonIsDownAreDeliveredAtStart) {
  ASSERT_EQ(tmux({"new-session", "-d", "-s", "keep"}).exit_code, 0);
  ASSERT_EQ(tmux({"new-session", "-d", "-s", "gone"}).exit_code, 0);
  d.write_config("[rules]\nshipped = false\n" + tmux.config());
  d.start();
  ASSERT_EQ(d.cli({"tmux", "hooks", "--install"}).exit_code, 0);
  ASSERT_EQ(d.stop(), 0);

  ASSERT_EQ(tmux({"kill-session", "-t", "=gone"}).exit_code, 0);
  ASSERT_EQ(tmux({"new-session", "-d", "-s", "late"}).exit_code, 0);
  // Both hooks ran `agentwatch notify`, which found no daemon. Other hooks
  // (window-linked, window-unlinked) name the same sessions and run at the
  // same time, so wait for these two lines, not for the first mention.
  const std::string spool = d.runtime_dir() + "/notify.spool";
  auto has_line = [](const std::string& text, const std::string& kind, const std::string& name) {
    std::size_t start = 0;
    for (std::size_t end; (end = text.find('\n', start)) != std::string::npos; start = end + 1) {
      const std::string line = text.substr(start, end - start);
      if (contains(line, "\"" + kind + "\"") && contains(line, "\"" + name + "\"")) return true;
    }
    return false;
  };
  const std::string spooled = wait_for_file(spool, [&](const std::string& t) {
    return has_line(t, "tmux.session-closed", "gone") &&
           has_line(t, "tmux.session-created", "late");
  });
  ASSERT_TRUE(has_line(spooled, "tmux.session-created", "late")) << "spool:\n" << spooled;
  ASSERT_TRUE(has_line(spooled, "tmux.session-closed", "gone")) << "spool:\n" << spooled;

  d.start();
  auto is_spooled = [](const Event& e) {
    return e.fields.find("spooled") && field_to_string(*e.fields.find("spooled")) == "true";
  };
  auto closed = d.wait_for(is("tmux.session-closed", "notify", "gone"));
  ASSERT_TRUE(closed) << d.stderr_text();
  EXPECT_TRUE(is_spooled(*closed));
  auto created = d.wait_for(is("tmux.session-created", "notify", "late"));
  ASSERT_TRUE(created) << d.stderr_text();
  EXPECT_TRUE(is_spooled(*created));
  // What tmux says now: late exists (a start has no previous picture: `seen`).
  EXPECT_TRUE(d.wait_for([](const Event& e) {
    return (e.kind == "tmux.session.seen" || e.kind == "tmux.session.appeared") &&
           e.entity == "late";
  }));
  EXPECT_EQ(d.count([](const Event& e) {
    return e.kind == "tmux.session-closed" && e.fields.get_string("session") == "gone";
  }),
            1u)
      << "delivered more than once";
  EXPECT_EQ(d.stop(), 0);
}

// `--tmux-conf FILE` writes the marked block after the user's own lines, and a
// second install replaces it in place.
TEST_F(TmuxTest, TmuxConfGetsOneMarkedBlock) {
  ASSERT_EQ(tmux({"new-session", "-d", "-s", "keep"}).exit_code, 0);
  d.write_config("[rules]\nshipped = false\n" + tmux.config());
  const std::string conf = d.home() + "/tmux.conf";
  const std::string mine = "set -g mouse on\nset-hook -g session-created 'display hi'\n";
  write_file(conf, mine);
  ASSERT_EQ(chmod(conf.c_str(), 0640), 0);

  auto first = d.cli({"tmux", "hooks", "--install", "--tmux-conf", conf});
  ASSERT_EQ(first.exit_code, 0) << first.err;
  const std::string once = read_file(conf);
  EXPECT_TRUE(once.starts_with(mine)) << once;
  EXPECT_EQ(occurrences(once, "# >>> agentwatch hooks >>>\n"), 1u) << once;
  EXPECT_EQ(occurrences(once, "# <<< agentwatch hooks <<<\n"), 1u) << once;
  EXPECT_EQ(occurrences(once, "set-hook -g session-closed[87] "), 1u) << once;
  // The hooks must reach this daemon, not the default one.
  EXPECT_TRUE(contains(once, d.runtime_dir())) << once;

  ASSERT_EQ(d.cli({"tmux", "hooks", "--install", "--tmux-conf", conf}).exit_code, 0);
  EXPECT_EQ(read_file(conf), once) << "a second install changed the file";
  struct stat st {};
  ASSERT_EQ(stat(conf.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 07777, 0640u);

  // The file is valid tmux configuration: a fresh server loads it.
  auto sourced = tmux({"source-file", conf});
  EXPECT_EQ(sourced.exit_code, 0) << sourced.err;
}

// An agent someone starts by hand in tmux: the adopt-only worker declaring
// its session adopts the pane's process (via tmux), at start from the first
// listing and later from the listing a session-created hook asks for.
TEST_F(TmuxTest, AnAgentStartedByHandInTmuxIsAdoptedFromItsPane) {
  auto pane_pid = [&] {
    auto r = tmux({"display-message", "-p", "-t", "=agent:", "#{pane_pid}"});
    return r.exit_code == 0 ? std::stoll(r.out) : 0LL;
  };
  // `keep` keeps the server (and its hooks) alive when the agent's session ends.
  ASSERT_EQ(tmux({"new-session", "-d", "-s", "keep"}).exit_code, 0);
  ASSERT_EQ(tmux({"new-session", "-d", "-s", "agent", "sleep 1000"}).exit_code, 0);
  const long long first = pane_pid();
  ASSERT_GT(first, 0);
  d.write_config("[rules]\nshipped = false\n" + tmux.config() + R"(
[[worker]]
name = "agent"
tmux_session = "agent"
)");
  d.start();
  auto adopted_pid = [](long long pid) {
    return [pid](const Event& e) {
      return e.kind == "worker.adopted" && e.entity == "agent" && e.fields.get_int("pid") == pid &&
             e.fields.get_string("via") == "tmux";
    };
  };
  ASSERT_TRUE(d.wait_for(adopted_pid(first))) << d.stderr_text();
  auto processing = d.wait_for(state_to("agent", "processing"));
  ASSERT_TRUE(processing) << d.stderr_text();
  EXPECT_EQ(processing->fields.get_string("reason"), "adopted via tmux");

  ASSERT_EQ(d.cli({"tmux", "hooks", "--install"}).exit_code, 0);
  ASSERT_EQ(kill(static_cast<pid_t>(first), SIGKILL), 0);
  auto exited = d.wait_for([&](const Event& e) {
    return e.kind == "worker.exited" && e.entity == "agent" && e.fields.get_int("pid") == first;
  });
  ASSERT_TRUE(exited) << d.stderr_text();
  EXPECT_EQ(exited->fields.get_string("adopted"), "true");

  // The agent is started again in a new session of the same name.
  ASSERT_EQ(tmux({"new-session", "-d", "-s", "agent", "sleep 1000"}).exit_code, 0);
  const long long second = pane_pid();
  ASSERT_GT(second, 0);
  ASSERT_NE(second, first);
  ASSERT_TRUE(d.wait_for(adopted_pid(second))) << [&] {
    std::string k;
    for (const Event& e : d.events()) k += e.kind + " " + e.entity + "\n";
    return k;
  }();
  EXPECT_EQ(d.count([](const Event& e) { return e.kind == "worker.adopt_failed"; }), 0u);
  EXPECT_EQ(d.count([](const Event& e) { return e.kind == "worker.started"; }), 0u)
      << "an adopt-only worker was started by agentwatch";
  EXPECT_EQ(d.stop(), 0);
}

// Scenario 3: a worker's process lives on after its tmux session is gone. The
// hook's hint makes the daemon look; the session is confirmed absent, so the
// worker is a zombie, killed, and failed.
TEST_F(TmuxTest, WorkerWhoseSessionVanishesIsKilledAsZombie) {
  ASSERT_EQ(tmux({"new-session", "-d", "-s", "w1"}).exit_code, 0);
  d.write_config("[rules]\nshipped = false\n" + tmux.config() + R"(
[[worker]]
name = "w1"
argv = ["sleep", "1000"]
tmux_session = "w1"
restart = "never"
start_grace = "50ms"
kill_grace = "300ms"
)");
  d.start();
  auto started =
      d.wait_for([](const Event& e) { return e.kind == "worker.started" && e.entity == "w1"; });
  ASSERT_TRUE(started) << d.stderr_text();
  const auto pid = static_cast<pid_t>(started->fields.get_int("pid").value_or(0));
  ASSERT_GT(pid, 0);
  ASSERT_TRUE(d.wait_for([](const Event& e) {
    return e.kind == "tmux.session.seen" && e.entity == "w1";
  })) << d.stderr_text();
  ASSERT_TRUE(d.wait_for(state_to("w1", "processing"))) << d.stderr_text();
  EXPECT_EQ(d.count([](const Event& e) { return e.kind == "worker.zombie"; }), 0u)
      << "judged a zombie while its session exists";

  ASSERT_EQ(tmux({"kill-session", "-t", "=w1"}).exit_code, 0);
  // What the installed session-closed hook would send.
  auto hint = d.cli({"notify", "tmux.session-closed", "entity=w1", "session=w1"});
  ASSERT_EQ(hint.exit_code, 0) << hint.err;

  ASSERT_TRUE(d.wait_for(is("tmux.session.vanished", "tmux", "w1"))) << d.stderr_text();
  auto zombie =
      d.wait_for([](const Event& e) { return e.kind == "worker.zombie" && e.entity == "w1"; });
  ASSERT_TRUE(zombie) << d.stderr_text();
  EXPECT_EQ(zombie->fields.get_int("pid"), pid);
  EXPECT_EQ(zombie->fields.get_string("session"), "w1");
  auto to_zombie = d.wait_for(state_to("w1", "zombie"));
  ASSERT_TRUE(to_zombie);
  EXPECT_EQ(to_zombie->fields.get_string("from"), "processing");
  auto killing =
      d.wait_for([](const Event& e) { return e.kind == "worker.killing" && e.entity == "w1"; });
  ASSERT_TRUE(killing);
  EXPECT_EQ(killing->fields.get_string("reason"), "zombie");
  EXPECT_EQ(killing->fields.get_int("signal"), SIGTERM);
  auto failed = d.wait_for(state_to("w1", "failed"));
  ASSERT_TRUE(failed) << d.stderr_text();
  EXPECT_EQ(failed->fields.get_string("from"), "zombie");
  EXPECT_GT(failed->seq, to_zombie->seq);
  auto exited =
      d.wait_for([](const Event& e) { return e.kind == "worker.exited" && e.entity == "w1"; });
  ASSERT_TRUE(exited);
  EXPECT_EQ(exited->fields.get_int("signal"), SIGTERM);
  // Really gone (and reaped by the daemon), not just reported.
  errno = 0;
  EXPECT_EQ(kill(pid, 0), -1);
  EXPECT_EQ(errno, ESRCH);
  EXPECT_EQ(d.count([](const Event& e) { return e.kind == "worker.started"; }), 1u)
      << "restart = never: no second run";
  EXPECT_EQ(d.stop(), 0);
}

// Scenario 18 and issue #4's last item: a probe reads a queue's status, a
// failure becomes `queue.failed` with its captures, and a second rule opens a
// session running an agent briefed with them.
TEST_F(TmuxTest, ProbeFindingOpensASessionWithABriefedAgent) {
  const std::string status = d.home() + "/queue-status";
  write_file(status, "#!/bin/sh\necho 'project beta OK'\necho 'project alpha FAILED: tests red'\n");
  ASSERT_EQ(chmod(status.c_str(), 0755), 0);
  const std::string inbox = d.home() + "/agent.in";
  // The stub agent: keeps what it is told (its stdin is the pane's terminal).
  const std::string agent = d.home() + "/agent";
  write_file(agent, "#!/bin/sh\nexec cat >> '" + inbox + "'\n");
  ASSERT_EQ(chmod(agent.c_str(), 0755), 0);

  d.write_config("[rules]\nshipped = false\n" + tmux.config());
  d.write_rule("queue.toml", R"(
[[rule]]
name = "queue-check"
every = "1h"
  [[rule.action]]
  do = "probe"
  argv = [")" + status + R"("]
  patterns = [
    { match = '^project (?P<entity>\S+) FAILED: (?P<reason>.*)$', kind = "queue.failed" },
  ]

[[rule]]
name = "brief-agent"
on = "queue.failed"
  [[rule.action]]
  do = "tmux"
  op = "open"
  session = "fix-{entity}"
  argv = [")" + agent + R"("]
  brief = """
Project {entity} failed: {fields.reason}
It said: {fields.line}
Fix it and commit."""
)");
  d.start();
  auto trig = d.cli({"trigger", "queue-check"});
  ASSERT_EQ(trig.exit_code, 0) << trig.out << trig.err;

  auto failed = d.wait_for_kind("queue.failed");
  ASSERT_TRUE(failed) << d.stderr_text();
  EXPECT_EQ(failed->entity, "alpha");
  EXPECT_EQ(failed->source, "probe");
  EXPECT_EQ(failed->fields.get_string("reason"), "tests red");
  EXPECT_EQ(failed->fields.get_string("line"), "project alpha FAILED: tests red");
  EXPECT_EQ(d.count([](const Event& e) { return e.kind == "queue.failed"; }), 1u)
      << "the OK line matched";

  auto opened = d.wait_for(
      [](const Event& e) { return e.kind == "action.succeeded" && e.rule == "brief-agent"; });
  ASSERT_TRUE(opened) << d.stderr_text();
  EXPECT_EQ(opened->fields.get_string("action"), "tmux");
  EXPECT_EQ(d.count([](const Event& e) { return e.kind == "action.failed"; }), 0u);
  ASSERT_TRUE(tmux.has_session("fix-alpha"));

  const std::string want =
      "Project alpha failed: tests red\n"
      "It said: project alpha FAILED: tests red\n"
      "Fix it and commit.\n";
  const std::string got =
      wait_for_file(inbox, [&](const std::string& t) { return contains(t, want); });
  EXPECT_EQ(got, want) << "the agent did not get the brief, once and whole";
  auto screen = tmux({"capture-pane", "-p", "-t", "=fix-alpha:"});
  EXPECT_TRUE(contains(screen.out, "Project alpha failed: tests red")) << screen.out;
  EXPECT_EQ(d.stop(), 0);
}

// The tmux action's session name and brief come from events, i.e. from
// whoever sent them: shell and tmux-format syntax in them stays text.
TEST_F(TmuxTest, HostileEventTextInTheTmuxActionStaysText) {
  const std::string pwned = d.home() + "/pwned";
  const std::string inbox = d.home() + "/agent.in";
  const std::string agent = d.home() + "/agent";
  write_file(agent, "#!/bin/sh\nexec cat >> '" + inbox + "'\n");
  ASSERT_EQ(chmod(agent.c_str(), 0755), 0);
  d.write_config("[rules]\nshipped = false\n" + tmux.config());
  d.write_rule("escalate.toml", R"(
[[rule]]
name = "escalate"
on = "agent.failed"
  [[rule.action]]
  do = "tmux"
  op = "open"
  session = "fix {entity}"
  argv = [")" + agent + R"("]
  brief = "job {entity}: {fields.why}"
)");
  d.start();
  const std::string entity = "#(touch " + pwned + ");$(touch " + pwned + ")`touch " + pwned + "`";
  const std::string why = "#{session_name} $(touch " + pwned + ") '\"";
  auto sent = d.cli({"notify", "agent.failed", "entity=" + entity, "why=" + why});
  ASSERT_EQ(sent.exit_code, 0) << sent.err;
  auto outcome = d.wait_for([](const Event& e) {
    return (e.kind == "action.succeeded" || e.kind == "action.failed") && e.rule == "escalate";
  });
  ASSERT_TRUE(outcome) << d.stderr_text();
  EXPECT_EQ(outcome->kind, "action.succeeded") << d.stderr_text();
  EXPECT_TRUE(tmux.has_session("fix " + entity)) << tmux({"ls", "-F", "#{session_name}"}).out;
  const std::string want = "job " + entity + ": " + why + "\n";
  EXPECT_EQ(wait_for_file(inbox, [&](const std::string& t) { return t == want; }), want);
  EXPECT_FALSE(exists(pwned)) << "event text was run as a command";
  EXPECT_EQ(d.stop(), 0);
}

// Scenario 7 with a tmux output pattern: the pane's output goes through
// `agentwatch logpipe` into a tailed log, and the line the agent prints when it
// is done completes its entity through the shipped rule for that method.
TEST_F(TmuxTest, PaneOutputLineCompletesTheEntity) {
  const std::string logs = d.home() + "/logs";
  make_dirs(logs);
  const std::string log = logs + "/pane.log";
  // The shipped rules are on (the default): rules/completion.toml has one rule
  // per completion method, and the pane-output one acts on pattern id "done".
  d.write_config(tmux.config() + R"(
[[log]]
name = "pane"
path = ")" + log +
                 R"("
entity = "s4"
patterns = [ { id = "done", regex = "^ALL DONE\r?$" } ]
)");
  ASSERT_EQ(tmux({"new-session", "-d", "-s", "s4", "sh"}).exit_code, 0);
  d.start();
  auto piped = tmux(
      {"pipe-pane", "-o", "-t", "=s4:", "'" + agentwatch_bin() + "' logpipe --file '" + log + "'"});
  ASSERT_EQ(piped.exit_code, 0) << piped.err;
  ASSERT_EQ(tmux({"send-keys", "-t", "=s4:", "echo ALL DONE", "Enter"}).exit_code, 0);

  auto line = d.wait_for([](const Event& e) {
    return e.kind == "log.line" && e.fields.get_string("pattern") == "done";
  });
  ASSERT_TRUE(line) << d.stderr_text() << "\nlog:\n" << read_file(log);
  EXPECT_EQ(line->entity, "s4");
  EXPECT_EQ(line->fields.get_string("log"), "pane");
  auto done = d.wait_for(state_to("s4", "completed"));
  ASSERT_TRUE(done) << d.stderr_text();
  EXPECT_EQ(done->rule, "completion-pane-output");
  EXPECT_TRUE(contains(done->fields.get_string("reason").value_or(""), "completion-pane-output"))
      << "the reason does not name the method: " << done->fields.get_string("reason").value_or("");
  EXPECT_EQ(done->cause, line->seq);
  EXPECT_EQ(d.count([](const Event& e) { return e.kind == "log.line"; }), 1u)
      << "the typed command line matched too";
  EXPECT_EQ(d.stop(), 0);
}

}  // namespace
}  // namespace aw::testing

int main(int argc, char** argv) {
  // A test run from inside tmux must not talk to the user's server by accident.
  unsetenv("TMUX");
  aw::testing::become_subreaper();
  ::testing::InitGoogleTest(&argc, argv);
  return RUN_ALL_TESTS();
}
