// `agentwatch recover diagnose` and `recover fix` on result sessions (issue
// #11, docs/recover.md): a layout with one problem of each kind, diagnosed with
// the fix of each, a dry run and a run without a terminal that change nothing,
// `--auto` that fixes each and records who did it, and a daemon that takes the
// fixes up when it starts (an integration in doubt runs again).
#include <fcntl.h>
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <string>
#include <vector>

#include "tests/integration/harness.h"

namespace aw::testing {
namespace {

bool contains(const std::string& haystack, const std::string& needle) {
  return haystack.find(needle) != std::string::npos;
}

// Everything under `root`, symlinks not followed: path, mode, inode, and the
// content of each file. Equal listings: nothing created, removed, renamed,
// rewritten or chmod'ed.
std::string listing(const std::string& root) {
  std::vector<std::string> lines;
  for (const auto& e : std::filesystem::recursive_directory_iterator(root)) {
    const std::string path = e.path().string();
    struct stat st {};
    if (::lstat(path.c_str(), &st) != 0) continue;
    std::string line = path.substr(root.size()) + " mode " + std::to_string(st.st_mode) + " ino " +
                       std::to_string(st.st_ino) + " mtime " + std::to_string(st.st_mtim.tv_sec) +
                       "." + std::to_string(st.st_mtim.tv_nsec);
    if (S_ISREG(st.st_mode)) line += " content " + read_file(path);
    lines.push_back(line);
  }
  std::sort(lines.begin(), lines.end());
  std::string out;
  for (const std::string& l : lines) out += l + "\n";
  return out;
}

// The objects of a JSON array of flat objects (diagnose --json), as text.
std::vector<std::string> objects(const std::string& json) {
  std::vector<std::string> out;
  std::size_t start = json.find('{');
  while (start != std::string::npos) {
    const std::size_t end = json.find('}', start);
    if (end == std::string::npos) break;
    out.push_back(json.substr(start, end - start + 1));
    start = json.find('{', end);
  }
  return out;
}

std::string object_with(const std::vector<std::string>& objs, const std::string& member) {
  for (const std::string& o : objs)
    if (contains(o, member)) return o;
  return "";
}

void set_age(const std::string& path, std::chrono::seconds age) {
  const auto t = std::chrono::system_clock::now() - age;
  const auto ns =
      std::chrono::duration_cast<std::chrono::nanoseconds>(t.time_since_epoch()).count();
  const timespec ts{.tv_sec = ns / 1'000'000'000, .tv_nsec = ns % 1'000'000'000};
  const timespec times[2] = {ts, ts};
  ASSERT_EQ(::utimensat(AT_FDCWD, path.c_str(), times, AT_SYMLINK_NOFOLLOW), 0)
      << path << ": " << std::strerror(errno);
}

// `path` and everything in it.
void age_tree(const std::string& path, std::chrono::seconds age) {
  for (const auto& e : std::filesystem::recursive_directory_iterator(path))
    set_age(e.path().string(), age);
  set_age(path, age);
}

ino_t inode_of(const std::string& path) {
  struct stat st {};
  return ::lstat(path.c_str(), &st) == 0 ? st.st_ino : 0;
}

mode_t mode_of(const std::string& path) {
  struct stat st {};
  return ::lstat(path.c_str(), &st) == 0 ? (st.st_mode & 07777) : 0;
}

// The shipped session-integrate, enabled, with a command that leaves a trace in
// the session it integrates.
const char* const kIntegrateRule = R"(
[[rule]]
name = "session-integrate"
on = "file.landed"
when = [
  { field = "fields.watch", equals = "results" },
  { field = "fields.rel", glob = "completed/*/session.completed" },
]
  [[rule.action]]
  do = "integrate_session"
  argv = ["/usr/bin/touch", "{dir}/ran"]
  to = "{root}/integrated"
)";

constexpr std::chrono::seconds kMinutes10{600};
constexpr std::chrono::seconds kHours2{7200};
constexpr std::chrono::seconds kDays8{8 * 86400};

class RecoverTest : public ::testing::Test {
 protected:
  void SetUp() override {
    results = d.home() + "/results";
    hooks = d.home() + "/hooks";
    make_dirs(results + "/temp");
    make_dirs(hooks);
    make_dirs(d.config_dir() + "/hooks");
    // min_free = 100%: every filesystem is "low", so retention is a problem to fix.
    d.write_config("[[watch]]\nname = \"results\"\npath = \"" + results +
                   "\"\nmin_free = \"100%\"\n\n[[watch]]\nname = \"hooks\"\npath = \"" + hooks +
                   "\"\n");
    d.write_rule("integrate.toml", kIntegrateRule);
  }

  std::string r(const std::string& rel) const { return results + "/" + rel; }

  // A session the running daemon claimed and could not integrate: the claim of
  // a process that died, then its session.completed landing.
  void claimed_session(const std::string& s) {
    make_dirs(r("completed/" + s));
    write_file(r("completed/" + s + "/a1.json"), "{}");
    write_file(r("completed/" + s + "/session.integrating"),
               "{\"session\":\"" + s + "\",\"daemon\":\"1-dead\"}\n");
    write_file_atomically(r("completed/" + s + "/session.completed"),
                          "{\"session\":\"" + s + "\",\"how\":\"manifest\"}\n");
  }

  // One problem of each kind that has a fix, and one without (the daemon is
  // not running).
  void broken_layout() {
    make_dirs(r("temp/stale"));  // an agent never wrote: failed
    write_file(r("temp/stale/session.json"), R"({"agents": ["a1", "a2"]})");
    write_file(r("temp/stale/a1.json"), R"({"ok": true})");
    age_tree(r("temp/stale"), kHours2);
    make_dirs(r("temp/done"));  // complete, never moved: completed
    write_file(r("temp/done/session.json"), R"({"agents": ["a1"]})");
    write_file(r("temp/done/a1.json"), R"({"ok": true})");
    age_tree(r("temp/done"), kMinutes10);
    make_dirs(r("completed/waiting"));  // never integrated: landed again
    write_file(r("completed/waiting/a1.json"), "{}");
    write_file(r("completed/waiting/session.completed"), "{\"session\":\"waiting\"}\n");
    age_tree(r("completed/waiting"), kMinutes10);
    make_dirs(r("integrated/old"));  // low disk: deleted by retention
    write_file(r("integrated/old/a1.json"), "{}");
    age_tree(r("integrated/old"), kDays8);
    make_dirs(r("quarantine/q"));  // a human decides
    write_file(r("quarantine/q/a1.json"), "oops");
    write_file(r("quarantine/q/a1.json.reason"),
               R"({"reason":"not valid JSON at byte 0: expected a value"})"
               "\n");
    write_file(d.config_dir() + "/hooks/h.sh", "#!/bin/sh\necho hook\n");  // made 0644: restored
    write_file(hooks + "/h.sh", "#!/bin/sh\necho hook\n");
    ASSERT_EQ(::chmod((hooks + "/h.sh").c_str(), 0644), 0);
  }

  DaemonUnderTest d;
  std::string results, hooks;
};

bool in_doubt(const Event& e, const std::string& session) {
  return e.kind == "action.failed" && e.fields.get_string("action") == "integrate_session" &&
         e.fields.get_string("session") == session && e.fields.get_string("state") == "in_doubt";
}

TEST_F(RecoverTest, DiagnoseNamesEachFixDryRunAndNoTerminalChangeNothingAutoFixesAndAudits) {
  // A daemon killed while integrating left a claim: the next one refuses to
  // run it again.
  d.start();
  claimed_session("doubt");
  ASSERT_TRUE(d.wait_for([](const Event& e) { return in_doubt(e, "doubt"); })) << d.stderr_text();
  ASSERT_EQ(d.stop(), 0);
  broken_layout();

  // 1. diagnose: every problem, with its fix.
  const CommandResult diag = d.cli({"recover", "diagnose", "--json"});
  EXPECT_EQ(diag.exit_code, 1) << diag.out << diag.err;
  const std::vector<std::string> found = objects(diag.out);
  const struct {
    std::string id, fix;
  } expected[] = {
      {"incomplete_session:results/temp/stale", "fail it: move it to " + r("failed/stale")},
      {"incomplete_session:results/temp/done", "complete it: move it to " + r("completed/done")},
      {"integration_in_doubt:results/completed/doubt",
       "release the claim (remove session.integrating) and land session.completed again"},
      {"missing_integration:results/completed/waiting", "land session.completed again"},
      {"corrupt_result:results/quarantine/q/a1.json", "none: read a1.json.reason"},
      {"broken_hook:hooks/h.sh", "restore it from " + d.config_dir() + "/hooks/h.sh, mode 0700"},
      {"low_disk:results",
       "run retention: delete completed/ older than 7d, integrated/ older "
       "than 7d, failed/ older than 30d"},
  };
  for (const auto& want : expected) {
    const std::string o = object_with(found, "\"id\":\"" + want.id + "\"");
    ASSERT_FALSE(o.empty()) << want.id << " not in " << diag.out;
    EXPECT_TRUE(contains(o, "\"fix\":\"" + want.fix)) << o;
  }
  EXPECT_TRUE(contains(object_with(found, "temp/stale\""), "missing: a2")) << diag.out;
  EXPECT_TRUE(contains(object_with(found, "quarantine/q/a1.json\""),
                       "not valid JSON at byte 0: expected a value"))
      << diag.out;
  const CommandResult text = d.cli({"recover", "diagnose"});
  EXPECT_EQ(text.exit_code, 1);
  EXPECT_TRUE(contains(text.out, "error: " + r("temp/stale") +
                                     ": session stale has had no new "
                                     "file for 2h"))
      << text.out;
  EXPECT_TRUE(contains(text.out, "\n    fix: fail it: move it to " + r("failed/stale")))
      << text.out;

  // 2. a dry run changes nothing, and says what it would do.
  const std::string before = listing(d.home());
  const CommandResult dry = d.cli({"recover", "fix", "--dry-run"});
  EXPECT_EQ(dry.exit_code, 0) << dry.out << dry.err;
  EXPECT_EQ(listing(d.home()), before);
  EXPECT_TRUE(contains(dry.out, "    would fix: fail it: move it to " + r("failed/stale")))
      << dry.out;
  EXPECT_TRUE(contains(dry.out,
                       "dry run: 6 fixes would be applied, 1 needs a human; nothing was "
                       "changed"))
      << dry.out;
  const CommandResult dry_json = d.cli({"recover", "fix", "--dry-run", "--json", "--auto"});
  EXPECT_EQ(dry_json.exit_code, 0) << dry_json.err;
  EXPECT_TRUE(contains(dry_json.out, R"("would":6,"none":1)")) << dry_json.out;
  EXPECT_EQ(listing(d.home()), before);

  // 3. without a terminal (stdin is /dev/null) and without --auto: refused.
  const CommandResult no_tty = d.cli({"recover", "fix"});
  EXPECT_EQ(no_tty.exit_code, 2) << no_tty.out << no_tty.err;
  EXPECT_TRUE(contains(no_tty.err, "stdin is not a terminal")) << no_tty.err;
  EXPECT_EQ(listing(d.home()), before);

  // 4. --auto: each fixed, each recorded with who ran it.
  const ino_t waiting_record = inode_of(r("completed/waiting/session.completed"));
  const CommandResult fix = d.cli({"recover", "fix", "--auto"});
  EXPECT_EQ(fix.exit_code, 0) << fix.out << fix.err;
  EXPECT_TRUE(contains(fix.out, "6 fixed, 0 failed, 0 declined, 1 needs a human")) << fix.out;
  EXPECT_FALSE(exists(r("temp/stale")));
  EXPECT_TRUE(contains(read_file(r("failed/stale/recovery_report.json")), "\"missing\":[\"a2\"]"));
  EXPECT_FALSE(exists(r("temp/done")));
  EXPECT_TRUE(exists(r("completed/done/session.completed")));
  EXPECT_FALSE(exists(r("completed/doubt/session.integrating")));
  EXPECT_NE(inode_of(r("completed/waiting/session.completed")), waiting_record);
  EXPECT_FALSE(exists(r("integrated/old")));
  EXPECT_EQ(mode_of(hooks + "/h.sh"), 0700u);
  EXPECT_TRUE(exists(r("quarantine/q/a1.json")));  // never touched

  std::vector<Event> audits;
  for (const Event& e : d.events())
    if (e.kind == "control.recover.fix") audits.push_back(e);
  ASSERT_EQ(audits.size(), 6u) << fix.out;
  std::vector<std::string> problems;
  for (const Event& e : audits) {
    EXPECT_EQ(e.fields.get_int("uid"), static_cast<std::int64_t>(::getuid()));
    EXPECT_FALSE(e.fields.get_string("user").value_or("").empty());
    EXPECT_EQ(e.fields.get_string("fixed"), "true") << e.fields.get_string("result").value_or("");
    EXPECT_EQ(e.fields.get_string("offline"), "true");
    EXPECT_FALSE(e.fields.get_string("fix").value_or("").empty());
    EXPECT_FALSE(e.fields.get_string("result").value_or("").empty());
    problems.push_back(e.fields.get_string("problem").value_or("") + " " +
                       e.fields.get_string("subject").value_or(""));
  }
  EXPECT_EQ(problems, (std::vector<std::string>{
                          "incomplete_session " + r("temp/done"),
                          "incomplete_session " + r("temp/stale"),
                          "integration_in_doubt " + r("completed/doubt"),
                          "missing_integration " + r("completed/waiting"),
                          "broken_hook " + hooks + "/h.sh",
                          "low_disk " + results,
                      }));

  // 5. the daemon takes the fixes up: the session in doubt and the ones that
  // were never integrated are integrated now, once.
  d.start();
  for (const std::string s : {"doubt", "waiting", "done"}) {
    EXPECT_TRUE(d.wait_for([&](const Event& e) {
      return e.kind == "action.succeeded" && e.fields.get_string("action") == "integrate_session" &&
             e.fields.get_string("session") == s && e.fields.get_string("state") == "integrated";
    })) << s
        << " not integrated\n"
        << d.stderr_text();
    EXPECT_TRUE(exists(r("integrated/" + s + "/ran"))) << s;
  }
  const CommandResult after = d.cli({"recover", "diagnose", "--json"});
  const std::vector<std::string> left = objects(after.out);
  EXPECT_EQ(left.size(), 2u) << after.out;  // the quarantined result, and the disk (100%)
  EXPECT_FALSE(object_with(left, "corrupt_result:").empty()) << after.out;
  EXPECT_FALSE(object_with(left, "low_disk:").empty()) << after.out;
  EXPECT_EQ(d.stop(), 0);
}

// On a terminal, each fix is asked for: only the accepted ones are applied and
// recorded. `script` gives the command a terminal and types the answers.
TEST_F(RecoverTest, OnATerminalEachFixIsAskedFor) {
  for (const char* h : {"a.sh", "b.sh"}) write_file(d.config_dir() + "/hooks/" + h, "#!/bin/sh\n");
  std::string command = agentwatch_bin();
  for (const std::string& f : d.path_flags()) command += " '" + f + "'";
  command += " recover fix";
  const CommandResult run = run_command(
      {"/bin/sh", "-c", "printf 'n\\ny\\n' | script -qec \"" + command + "\" /dev/null"});
  EXPECT_EQ(run.exit_code, 0) << run.out << run.err;
  const std::string& out = run.out;
  // a.sh, b.sh, and the disk (min_free 100%): the third answer is the end of input, a no.
  EXPECT_EQ(std::count(out.begin(), out.end(), '?'), 3) << out;
  EXPECT_TRUE(contains(out, "fix? [y/N] ")) << out;
  EXPECT_TRUE(contains(out, "1 fixed, 0 failed, 2 declined")) << out;
  EXPECT_FALSE(exists(hooks + "/a.sh"));
  EXPECT_EQ(read_file(hooks + "/b.sh"), "#!/bin/sh\n");
  std::vector<Event> audits;
  for (const Event& e : d.events())
    if (e.kind == "control.recover.fix") audits.push_back(e);
  ASSERT_EQ(audits.size(), 1u);
  EXPECT_EQ(audits[0].fields.get_string("subject"), hooks + "/b.sh");
}

// With the daemon running, the daemon records each fix (control method
// recover.fix) with who ran it; a dry run changes nothing.
TEST_F(RecoverTest, WithTheDaemonRunningItRecordsEachFix) {
  d.start();
  make_dirs(r("integrated/old"));
  write_file(r("integrated/old/a1.json"), "{}");
  age_tree(r("integrated/old"), kDays8);
  const std::string before = listing(results);
  const CommandResult dry = d.cli({"recover", "fix", "--dry-run"});
  EXPECT_EQ(dry.exit_code, 0) << dry.err;
  EXPECT_TRUE(contains(dry.out, "low_disk: " + results)) << dry.out;
  EXPECT_EQ(listing(results), before);

  const CommandResult fix = d.cli({"recover", "fix", "--auto"});
  EXPECT_EQ(fix.exit_code, 0) << fix.out << fix.err;
  EXPECT_FALSE(exists(r("integrated/old")));
  auto audit = d.wait_for_kind("control.recover.fix");
  ASSERT_TRUE(audit) << d.stderr_text();
  EXPECT_EQ(audit->fields.get_string("problem"), "low_disk");
  EXPECT_EQ(audit->fields.get_int("uid"), static_cast<std::int64_t>(::getuid()));
  EXPECT_EQ(audit->fields.get_string("outcome"), "ok");
  EXPECT_FALSE(audit->fields.find("offline")) << "recorded by the running daemon";
  EXPECT_EQ(d.stop(), 0);
}

}  // namespace
}  // namespace aw::testing
