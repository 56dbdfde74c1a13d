#include "src/recover/session_doctor.h"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <map>
#include <sstream>
#include <string>
#include <vector>

#include "src/actions/result_session.h"
#include "src/core/event_kinds.h"
#include "src/os/test_support.h"

namespace aw {
namespace {

using aw::testing::exists;
using aw::testing::make_dirs;
using aw::testing::read_file;
using aw::testing::TempDir;
using aw::testing::write_file;
using namespace std::chrono_literals;

// Everything under `root`, symlinks not followed: "rel type mode [content|target]"
// per entry, sorted. Two listings are equal when nothing was created, removed,
// renamed, rewritten or chmod'ed.
std::string listing(const std::string& root) {
  std::vector<std::string> lines;
  for (const auto& e : std::filesystem::recursive_directory_iterator(root)) {
    const std::string path = e.path().string();
    struct stat st {};
    if (::lstat(path.c_str(), &st) != 0) continue;
    std::string line = path.substr(root.size()) + " " + std::to_string(st.st_mode) + " ino " +
                       std::to_string(st.st_ino);
    if (S_ISREG(st.st_mode)) line += " " + read_file(path);
    if (S_ISLNK(st.st_mode)) line += " -> " + std::filesystem::read_symlink(e.path()).string();
    lines.push_back(line);
  }
  std::sort(lines.begin(), lines.end());
  std::string out;
  for (const std::string& l : lines) out += l + "\n";
  return out;
}

ino_t inode_of(const std::string& path) {
  struct stat st {};
  return ::lstat(path.c_str(), &st) == 0 ? st.st_ino : 0;
}

mode_t mode_of(const std::string& path) {
  struct stat st {};
  return ::lstat(path.c_str(), &st) == 0 ? (st.st_mode & 07777) : 0;
}

class SessionDoctorTest : public ::testing::Test {
 protected:
  void SetUp() override {
    results_ = dir_ / "results";
    hooks_ = dir_ / "hooks";
    sources_ = dir_ / "config/hooks";
    for (const char* d : {"temp", "completed", "integrated", "failed", "quarantine"})
      make_dirs(results_ + "/" + d);
    make_dirs(hooks_);
    make_dirs(sources_);
    now_ = std::chrono::time_point_cast<Duration>(std::chrono::system_clock::now());
  }

  DoctorInput input() const {
    DoctorInput in;
    in.results = {{"results", results_}};
    in.hooks = DoctorRoot{"hooks", hooks_};
    in.hooks_source = sources_;
    in.age_out = 30min;
    in.integrate_enabled = true;
    in.now = now_;
    DoctorDisk disk{{"results", results_}, {0, 5.0}, "5%", default_results_retention()};
    in.disks = {disk};
    in.disk_space = [this](const std::string&) -> Result<DiskSpace> { return space_; };
    return in;
  }

  std::vector<SessionProblem> find(const DoctorInput& in) {
    std::vector<std::string> errors;
    std::vector<SessionProblem> found = find_session_problems(in, &errors);
    errors_ = errors;
    return found;
  }
  std::vector<SessionProblem> find() { return find(input()); }

  // The mtime of `path` itself (never a symlink's target), `age` before now_.
  void age(const std::string& path, Duration a) const { aw::testing::set_mtime(path, now_ - a); }
  void age_tree(const std::string& path, Duration a) const {
    aw::testing::set_tree_mtime(path, now_ - a);
  }

  // temp/<s> with a manifest of `agents` and results of `written`.
  void temp_session(const std::string& s, const std::vector<std::string>& agents,
                    const std::vector<std::string>& written) {
    const std::string d = results_ + "/temp/" + s;
    make_dirs(d);
    std::string list;
    for (const std::string& a : agents) list += (list.empty() ? "\"" : ", \"") + a + "\"";
    write_file(d + "/session.json", "{\"agents\": [" + list + "]}");
    for (const std::string& a : written) write_file(d + "/" + a + ".json", "{\"ok\": true}");
  }
  void completed_session(const std::string& s) {
    const std::string d = results_ + "/completed/" + s;
    make_dirs(d);
    write_file(d + "/a1.json", "{}");
    write_file(d + "/session.completed",
               "{\"session\":\"" + s + "\",\"how\":\"manifest\",\"completed_at\":\"x\"}\n");
  }
  void hook_source(const std::string& rel, const std::string& content) {
    write_file(sources_ + "/" + rel, content);
  }
  void hook(const std::string& rel, const std::string& content, mode_t mode = 0700) {
    write_file(hooks_ + "/" + rel, content);
    ASSERT_EQ(::chmod((hooks_ + "/" + rel).c_str(), mode), 0);
  }

  static std::vector<std::string> ids(const std::vector<SessionProblem>& ps) {
    std::vector<std::string> out;
    out.reserve(ps.size());
    for (const SessionProblem& p : ps) out.push_back(p.id);
    return out;
  }
  static const SessionProblem* by_id(const std::vector<SessionProblem>& ps, const std::string& id) {
    for (const SessionProblem& p : ps)
      if (p.id == id) return &p;
    return nullptr;
  }

  TempDir dir_;
  std::string results_, hooks_, sources_;
  WallTime now_{};
  DiskSpace space_{1000, 500, 0, 0};  // half free
  std::vector<std::string> errors_;
};

TEST_F(SessionDoctorTest, AHealthyLayoutHasNoProblems) {
  temp_session("waiting", {"a1", "a2"}, {"a1"});  // young: the daemon's age-out waits
  age_tree(results_ + "/temp/waiting", 29min);
  completed_session("young");  // integration may be running now
  make_dirs(results_ + "/integrated/done");
  make_dirs(results_ + "/failed/old");
  hook_source("pre.sh", "#!/bin/sh\necho pre\n");
  make_dirs(sources_ + "/sub");
  hook_source("sub/post.sh", "#!/bin/sh\necho post\n");
  hook("pre.sh", "#!/bin/sh\necho pre\n");
  make_dirs(hooks_ + "/sub");
  hook("sub/post.sh", "#!/bin/sh\necho post\n");
  EXPECT_EQ(ids(find()), std::vector<std::string>{});
  EXPECT_EQ(errors_, std::vector<std::string>{});
}

TEST_F(SessionDoctorTest, MissingDirectoriesAreEmptyNotErrors) {
  DoctorInput in = input();
  in.results = {{"results", dir_ / "nowhere"}};
  in.disks[0].root.path = dir_ / "nowhere";
  in.disk_space = nullptr;  // the real statvfs
  in.hooks = DoctorRoot{"hooks", dir_ / "no-hooks"};
  in.hooks_source = dir_ / "no-sources";
  EXPECT_TRUE(find(in).empty());
  EXPECT_TRUE(errors_.empty()) << errors_.front();
}

TEST_F(SessionDoctorTest, AStaleIncompleteSessionIsFailedWithARecoveryReport) {
  temp_session("s1", {"a1", "a2"}, {"a1"});
  age_tree(results_ + "/temp/s1", 2h);
  const std::vector<SessionProblem> found = find();
  ASSERT_EQ(ids(found), std::vector<std::string>{"incomplete_session:results/temp/s1"});
  const SessionProblem& p = found[0];
  EXPECT_EQ(p.kind, "incomplete_session");
  EXPECT_EQ(p.subject, results_ + "/temp/s1");
  EXPECT_EQ(p.entity, "s1");
  EXPECT_EQ(p.action, FixAction::kFailSession);
  EXPECT_NE(p.what.find("no new file for 2h"), std::string::npos) << p.what;
  EXPECT_NE(p.what.find("the limit is 30m"), std::string::npos) << p.what;
  EXPECT_NE(p.what.find("missing: a2"), std::string::npos) << p.what;
  EXPECT_NE(p.fix.find(results_ + "/failed/s1"), std::string::npos) << p.fix;

  const FixResult r = apply_fix(p, now_);
  EXPECT_TRUE(r.applied);
  EXPECT_TRUE(r.ok) << r.result;
  EXPECT_FALSE(exists(results_ + "/temp/s1"));
  EXPECT_EQ(read_file(results_ + "/failed/s1/a1.json"), "{\"ok\": true}");
  const std::string report = read_file(results_ + "/failed/s1/" + kRecoveryReportName);
  EXPECT_NE(report.find("\"missing\":[\"a2\"]"), std::string::npos) << report;
  EXPECT_NE(report.find("\"rule\":\"recover fix\""), std::string::npos) << report;
  EXPECT_TRUE(find().empty());
}

TEST_F(SessionDoctorTest, TheAgeOutLimitDecidesAndADisabledAgeOutReportsNothing) {
  temp_session("s1", {"a1", "a2"}, {"a1"});
  age_tree(results_ + "/temp/s1", 50min);
  DoctorInput in = input();
  in.age_out = 1h;  // a rule with debounce = "1h"
  EXPECT_TRUE(find(in).empty());
  in.age_out = 45min;
  EXPECT_EQ(find(in).size(), 1u);
  in.age_out.reset();  // session-age-out disabled
  EXPECT_TRUE(find(in).empty());
}

TEST_F(SessionDoctorTest, ANewFileRestartsTheWait) {
  temp_session("s1", {"a1", "a2"}, {"a1"});
  age_tree(results_ + "/temp/s1", 2h);
  write_file(results_ + "/temp/s1/notes.txt", "still working");
  EXPECT_TRUE(find().empty());
}

TEST_F(SessionDoctorTest, ASessionWithoutManifestOrMarkerAgesOutToo) {
  make_dirs(results_ + "/temp/bare");
  write_file(results_ + "/temp/bare/x.json", "{}");
  age_tree(results_ + "/temp/bare", 2h);
  const std::vector<SessionProblem> found = find();
  ASSERT_EQ(found.size(), 1u);
  EXPECT_NE(found[0].what.find("no manifest"), std::string::npos) << found[0].what;
}

TEST_F(SessionDoctorTest, ACompleteSessionLeftInTempIsCompleted) {
  temp_session("s2", {"a1", "a2"}, {"a1", "a2"});
  age_tree(results_ + "/temp/s2", 10min);
  const std::vector<SessionProblem> found = find();
  ASSERT_EQ(ids(found), std::vector<std::string>{"incomplete_session:results/temp/s2"});
  EXPECT_EQ(found[0].action, FixAction::kCompleteSession);
  EXPECT_NE(found[0].what.find("complete (by its manifest)"), std::string::npos) << found[0].what;
  const FixResult r = apply_fix(found[0], now_);
  EXPECT_TRUE(r.ok) << r.result;
  EXPECT_TRUE(exists(results_ + "/completed/s2/session.completed"));
  EXPECT_FALSE(exists(results_ + "/temp/s2"));
}

TEST_F(SessionDoctorTest, AMarkerCompletesASessionAndAYoungCompleteOneIsLeftToTheDaemon) {
  make_dirs(results_ + "/temp/m");
  write_file(results_ + "/temp/m/session.done", "");
  EXPECT_TRUE(find().empty());  // just completed: the daemon is moving it
  age_tree(results_ + "/temp/m", 6min);
  const std::vector<SessionProblem> found = find();
  ASSERT_EQ(found.size(), 1u);
  EXPECT_NE(found[0].what.find("by its marker"), std::string::npos) << found[0].what;
}

TEST_F(SessionDoctorTest, AClaimWithoutMarkerIsInDoubtAndTheFixReleasesAndRelands) {
  completed_session("s3");
  const std::string d = results_ + "/completed/s3";
  write_file(d + "/session.integrating", R"({"session":"s3","daemon":"4242-123"})"
                                         "\n");
  const std::string record = read_file(d + "/session.completed");
  const ino_t before = inode_of(d + "/session.completed");
  DoctorInput in = input();
  in.integrate_enabled = false;  // a claim is reported whatever the rule says now
  const std::vector<SessionProblem> found = find(in);
  ASSERT_EQ(ids(found), std::vector<std::string>{"integration_in_doubt:results/completed/s3"});
  EXPECT_EQ(found[0].action, FixAction::kReleaseAndReland);
  EXPECT_NE(found[0].what.find("may have run"), std::string::npos);

  const FixResult r = apply_fix(found[0], now_);
  EXPECT_TRUE(r.ok) << r.result;
  EXPECT_FALSE(exists(d + "/session.integrating"));
  EXPECT_EQ(read_file(d + "/session.completed"), record);  // same record, new file
  EXPECT_NE(inode_of(d + "/session.completed"), before);
  EXPECT_EQ(mode_of(d + "/session.completed"), 0600u);
}

TEST_F(SessionDoctorTest, AClaimOfTheRunningDaemonIsAnIntegrationInProgress) {
  completed_session("s3");
  write_file(results_ + "/completed/s3/session.integrating", R"({"daemon":"4242-99"})");
  DoctorInput in = input();
  in.daemon_pid = 4242;
  EXPECT_TRUE(find(in).empty());
  in.daemon_pid = 4243;
  EXPECT_EQ(find(in).size(), 1u);
}

TEST_F(SessionDoctorTest, ASessionNeverIntegratedIsRelandedOnlyWhenTheRuleIsOn) {
  completed_session("s4");
  const std::string d = results_ + "/completed/s4";
  EXPECT_TRUE(find().empty());  // young: the integration may be starting
  age_tree(d, 10min);
  DoctorInput in = input();
  in.integrate_enabled = false;
  EXPECT_TRUE(find(in).empty());
  const std::vector<SessionProblem> found = find();
  ASSERT_EQ(ids(found), std::vector<std::string>{"missing_integration:results/completed/s4"});
  EXPECT_EQ(found[0].action, FixAction::kReland);
  const ino_t before = inode_of(d + "/session.completed");
  const FixResult r = apply_fix(found[0], now_);
  EXPECT_TRUE(r.ok) << r.result;
  EXPECT_NE(inode_of(d + "/session.completed"), before);
}

TEST_F(SessionDoctorTest, ARelandWritesARecordWhenThereIsNone) {
  make_dirs(results_ + "/completed/s6");
  write_file(results_ + "/completed/s6/a.json", "{}");
  age_tree(results_ + "/completed/s6", 10min);
  const std::vector<SessionProblem> found = find();
  ASSERT_EQ(found.size(), 1u);
  EXPECT_NE(found[0].what.find("it has no session.completed"), std::string::npos);
  ASSERT_TRUE(apply_fix(found[0], now_).ok);
  EXPECT_NE(read_file(results_ + "/completed/s6/session.completed").find("\"session\":\"s6\""),
            std::string::npos);
}

TEST_F(SessionDoctorTest, AnIntegratedMarkerNotMovedIsMissingIntegration) {
  completed_session("s5");
  write_file(results_ + "/completed/s5/session.integrating", R"({"daemon":"1-1"})");
  write_file(results_ + "/completed/s5/session.integrated", "{}");
  age_tree(results_ + "/completed/s5", 10min);
  const std::vector<SessionProblem> found = find();
  ASSERT_EQ(found.size(), 1u);
  EXPECT_EQ(found[0].kind, "missing_integration");
  EXPECT_NE(found[0].what.find("marked integrated"), std::string::npos) << found[0].what;
}

TEST_F(SessionDoctorTest, QuarantinedResultsAreReportedWithTheirReasonAndNoFix) {
  make_dirs(results_ + "/quarantine/s7");
  write_file(results_ + "/quarantine/s7/a1.json", "oops");
  write_file(results_ + "/quarantine/s7/a1.json.reason",
             R"({"reason":"not valid JSON at byte 0: expected a value","time":"t"})"
             "\n");
  write_file(results_ + "/quarantine/job-3.json", "oops");  // no reason file
  write_file(results_ + "/quarantine/s7/a2.json", "{\"a\":");
  write_file(
      results_ + "/quarantine/s7/a2.json.reason",
      R"j({"reason":"not valid JSON at byte 5; repaired into /x/a2.repaired.json (closed)"})j");
  const std::vector<SessionProblem> found = find();
  ASSERT_EQ(ids(found), (std::vector<std::string>{"corrupt_result:results/quarantine/job-3.json",
                                                  "corrupt_result:results/quarantine/s7/a1.json",
                                                  "corrupt_result:results/quarantine/s7/a2.json"}));
  for (const SessionProblem& p : found) {
    EXPECT_EQ(p.action, FixAction::kNone);
    EXPECT_EQ(p.severity, "warning");
    EXPECT_TRUE(p.fix.starts_with("none: ")) << p.fix;
  }
  EXPECT_NE(found[0].what.find("no job-3.json.reason"), std::string::npos) << found[0].what;
  EXPECT_NE(found[1].what.find("not valid JSON at byte 0: expected a value"), std::string::npos)
      << found[1].what;
  EXPECT_NE(found[1].fix.find("temp/s7/"), std::string::npos) << found[1].fix;
  EXPECT_NE(found[2].fix.find("repaired copy counted"), std::string::npos) << found[2].fix;
  const std::string before = listing(dir_.path());
  const FixResult r = apply_fix(found[1], now_);
  EXPECT_FALSE(r.applied);
  EXPECT_EQ(listing(dir_.path()), before);
}

TEST_F(SessionDoctorTest, BrokenHooksAreFoundAndRestored) {
  const std::string outside = dir_ / "outside.sh";
  write_file(outside, "#!/bin/sh\necho a\n");
  const mode_t outside_mode = mode_of(outside);
  for (const char* h : {"missing.sh", "changed.sh", "mode.sh", "link.sh", "ok.sh"})
    hook_source(h, "#!/bin/sh\necho a\n");
  hook("changed.sh", "#!/bin/sh\nrm -rf ~\n");
  hook("mode.sh", "#!/bin/sh\necho a\n", 0644);
  ASSERT_EQ(::symlink(outside.c_str(), (hooks_ + "/link.sh").c_str()), 0);
  hook("ok.sh", "#!/bin/sh\necho a\n");
  hook("extra.sh", "no source: not ours to judge");
  const std::vector<SessionProblem> found = find();
  ASSERT_EQ(ids(found), (std::vector<std::string>{
                            "broken_hook:hooks/changed.sh", "broken_hook:hooks/link.sh",
                            "broken_hook:hooks/missing.sh", "broken_hook:hooks/mode.sh"}));
  EXPECT_NE(found[0].what.find("differs from its source"), std::string::npos);
  EXPECT_NE(found[1].what.find("is a symlink"), std::string::npos);
  EXPECT_NE(found[2].what.find("is missing"), std::string::npos);
  EXPECT_NE(found[3].what.find("mode 0644, not 0700"), std::string::npos) << found[3].what;
  for (const SessionProblem& p : found) {
    EXPECT_EQ(p.action, FixAction::kRestoreHook);
    const FixResult r = apply_fix(p, now_);
    EXPECT_TRUE(r.ok) << p.id << ": " << r.result;
    EXPECT_EQ(read_file(p.subject), "#!/bin/sh\necho a\n") << p.id;
    EXPECT_EQ(mode_of(p.subject), 0700u) << p.id;
  }
  EXPECT_EQ(read_file(outside), "#!/bin/sh\necho a\n");
  EXPECT_EQ(mode_of(outside), outside_mode);  // the symlink's target was never touched
  EXPECT_TRUE(find().empty());
}

TEST_F(SessionDoctorTest, ADirectoryWhereAHookShouldBeIsLeftToAHuman) {
  hook_source("h.sh", "x");
  make_dirs(hooks_ + "/h.sh/inside");
  const std::vector<SessionProblem> found = find();
  ASSERT_EQ(found.size(), 1u);
  EXPECT_NE(found[0].what.find("is a directory"), std::string::npos) << found[0].what;
  EXPECT_EQ(found[0].action, FixAction::kNone);
  EXPECT_TRUE(found[0].fix.starts_with("none: ")) << found[0].fix;
}

TEST_F(SessionDoctorTest, HooksAreLeftAloneWhenHookRestoreIsDisabled) {
  hook_source("missing.sh", "x");
  DoctorInput in = input();
  in.restore_hooks = false;
  EXPECT_TRUE(find(in).empty());
  EXPECT_EQ(find().size(), 1u);
}

TEST_F(SessionDoctorTest, LowDiskRunsRetentionOnTheOldSessionsOnly) {
  make_dirs(results_ + "/completed/old");
  write_file(results_ + "/completed/old/a.json", "{}");
  write_file(results_ + "/completed/old/session.integrating", "{}");  // would be in doubt
  write_file(results_ + "/completed/old/session.integrated", "{}");
  age_tree(results_ + "/completed/old", 8 * 24h);
  make_dirs(results_ + "/failed/f8");
  write_file(results_ + "/failed/f8/a.json", "{}");
  age_tree(results_ + "/failed/f8", 8 * 24h);
  make_dirs(results_ + "/integrated/i31");
  age_tree(results_ + "/integrated/i31", 31 * 24h);
  DoctorInput in = input();
  in.integrate_enabled = false;
  EXPECT_TRUE(find(in).empty());
  space_ = {1000, 40, 0, 0};  // 4% free
  const std::vector<SessionProblem> found = find(in);
  ASSERT_EQ(ids(found), std::vector<std::string>{"low_disk:results"});
  const SessionProblem& p = found[0];
  EXPECT_EQ(p.subject, results_);
  EXPECT_NE(p.what.find("below its min_free 5%"), std::string::npos) << p.what;
  EXPECT_NE(p.fix.find("completed/ older than 7d"), std::string::npos) << p.fix;
  EXPECT_NE(p.fix.find("failed/ older than 30d"), std::string::npos) << p.fix;
  const FixResult r = apply_fix(p, now_);
  EXPECT_TRUE(r.ok) << r.result;
  EXPECT_NE(r.result.find("deleted 2 entries"), std::string::npos) << r.result;
  EXPECT_FALSE(exists(results_ + "/completed/old"));
  EXPECT_FALSE(exists(results_ + "/integrated/i31"));
  EXPECT_TRUE(exists(results_ + "/failed/f8/a.json"));
}

TEST_F(SessionDoctorTest, LowDiskWithoutRetentionHasNoAutomaticFix) {
  space_ = {1000, 10, 0, 0};
  DoctorInput in = input();
  in.disks[0].retention.clear();
  const std::vector<SessionProblem> found = find(in);
  ASSERT_EQ(found.size(), 1u);
  EXPECT_EQ(found[0].action, FixAction::kNone);
}

TEST_F(SessionDoctorTest, SymlinksAreNeverFollowedOutOfARoot) {
  // Outside the root: a stale session, a claimed one, a broken result.
  const std::string out = dir_ / "outside";
  make_dirs(out + "/temp/stale");
  write_file(out + "/temp/stale/session.json", R"({"agents":["a"]})");
  make_dirs(out + "/claimed");
  write_file(out + "/claimed/session.integrating", "{}");
  write_file(out + "/bad.json", "oops");
  age_tree(out, 3h);
  ASSERT_EQ(::symlink((out + "/temp/stale").c_str(), (results_ + "/temp/stale").c_str()), 0);
  ASSERT_EQ(::symlink((out + "/claimed").c_str(), (results_ + "/completed/claimed").c_str()), 0);
  ASSERT_EQ(::symlink((out + "/bad.json").c_str(), (results_ + "/quarantine/bad.json").c_str()), 0);
  EXPECT_TRUE(find().empty());

  // A root's subdirectory that is a symlink is not entered at all.
  DoctorInput in = input();
  const std::string other = dir_ / "other";
  make_dirs(other);
  ASSERT_EQ(::symlink(out.c_str(), (other + "/temp").c_str()), 0);
  in.results = {{"results", other}};
  in.disks.clear();
  EXPECT_TRUE(find(in).empty());
  ASSERT_EQ(errors_.size(), 1u);
  EXPECT_NE(errors_[0].find("symlink"), std::string::npos) << errors_[0];

  // Nor is a hooks directory that is a symlink, even to identical hooks.
  make_dirs(out + "/hooks");
  write_file(out + "/hooks/h.sh", "x");
  ASSERT_EQ(::chmod((out + "/hooks/h.sh").c_str(), 0700), 0);
  make_dirs(sources_ + "/d");
  write_file(sources_ + "/d/h.sh", "x");
  ASSERT_EQ(::symlink((out + "/hooks").c_str(), (hooks_ + "/d").c_str()), 0);
  in = input();
  EXPECT_TRUE(find(in).empty());
  ASSERT_EQ(errors_.size(), 1u);
  EXPECT_NE(errors_[0].find("symlink"), std::string::npos) << errors_[0];
}

TEST_F(SessionDoctorTest, ProblemsKeepTheirIdsAndOrderAcrossRuns) {
  temp_session("b", {"a"}, {});
  temp_session("a", {"a"}, {});
  age_tree(results_ + "/temp", 2h);
  hook_source("h.sh", "x");
  const std::vector<std::string> first = ids(find());
  EXPECT_EQ(first, (std::vector<std::string>{"incomplete_session:results/temp/a",
                                             "incomplete_session:results/temp/b",
                                             "broken_hook:hooks/h.sh"}));
  EXPECT_EQ(ids(find()), first);
}

TEST_F(SessionDoctorTest, JsonCarriesTheFixBesideTheDiagnosisShape) {
  SessionProblem p;
  p.id = "incomplete_session:results/temp/s1";
  p.kind = "incomplete_session";
  p.severity = "error";
  p.subject = "/r/temp/s1";
  p.entity = "s1";
  p.what = "stale";
  p.fix = "fail it";
  EXPECT_EQ(session_problems_json({p}),
            R"([{"severity":"error","subject":"/r/temp/s1","what":"stale","hint":"fix: fail it",)"
            R"("id":"incomplete_session:results/temp/s1","kind":"incomplete_session",)"
            R"("fix":"fail it","entity":"s1"}])");
}

TEST(RecoverFixEventTest, NamesTheProblemTheFixTheResultAndWhoRanIt) {
  SessionProblem p;
  p.id = "broken_hook:hooks/h.sh";
  p.kind = "broken_hook";
  p.subject = "/h/h.sh";
  p.fix = "restore it";
  p.action = FixAction::kRestoreHook;
  const Event e = recover_fix_event(p, {true, true, "restored"}, 1000, "alice");
  EXPECT_EQ(e.kind, kind::kControlRecoverFix);
  EXPECT_EQ(e.kind, "control.recover.fix");
  EXPECT_EQ(e.path, "/h/h.sh");
  EXPECT_EQ(e.fields.get_string("problem"), "broken_hook");
  EXPECT_EQ(e.fields.get_string("subject"), "/h/h.sh");
  EXPECT_EQ(e.fields.get_string("fix"), "restore it");
  EXPECT_EQ(e.fields.get_string("result"), "restored");
  EXPECT_EQ(e.fields.get_string("action"), "restore_hook");
  EXPECT_EQ(e.fields.get_string("fixed"), "true");
  EXPECT_EQ(e.fields.get_int("uid"), 1000);
  EXPECT_EQ(e.fields.get_string("user"), "alice");
  EXPECT_TRUE(kind::is_known(e.kind));
}

// ---- run_fixes: asking, refusing, dry runs, recording ----

class RunFixesTest : public SessionDoctorTest {
 protected:
  void SetUp() override {
    SessionDoctorTest::SetUp();
    temp_session("s1", {"a1", "a2"}, {"a1"});
    age_tree(results_ + "/temp/s1", 2h);
    hook_source("h.sh", "#!/bin/sh\n");
    make_dirs(results_ + "/quarantine/s1");
    write_file(results_ + "/quarantine/s1/a2.json", "oops");
    problems_ = find();
    ASSERT_EQ(problems_.size(), 3u);
  }

  int run(FixRunOptions o, const std::string& answers = "") {
    std::istringstream in(answers);
    out_.str("");
    err_.str("");
    return run_fixes(
        problems_, o,
        [&](const SessionProblem& p) {
          fixed_.push_back(p.id);
          return apply_fix(p, now_);
        },
        [&](const SessionProblem& p, const FixResult& r) {
          recorded_.push_back(recover_fix_event(p, r, 1000, "alice"));
          return Status::Ok();
        },
        in, out_, err_);
  }

  std::vector<SessionProblem> problems_;
  std::vector<std::string> fixed_;
  std::vector<Event> recorded_;
  std::ostringstream out_, err_;
};

TEST_F(RunFixesTest, WithoutATerminalAndWithoutAutoItRefusesAndChangesNothing) {
  const std::string before = listing(dir_.path());
  EXPECT_EQ(run({}), 2);
  EXPECT_NE(err_.str().find("stdin is not a terminal"), std::string::npos) << err_.str();
  EXPECT_TRUE(fixed_.empty());
  EXPECT_TRUE(recorded_.empty());
  EXPECT_EQ(listing(dir_.path()), before);
}

TEST_F(RunFixesTest, ADryRunChangesNothingAndSaysWhatItWouldDo) {
  const std::string before = listing(dir_.path());
  FixRunOptions o;
  o.dry_run = true;
  EXPECT_EQ(run(o), 0);
  EXPECT_TRUE(fixed_.empty());
  EXPECT_TRUE(recorded_.empty());
  EXPECT_EQ(listing(dir_.path()), before);
  const std::string text = out_.str();
  EXPECT_NE(text.find("incomplete_session: " + results_ + "/temp/s1: "), std::string::npos) << text;
  EXPECT_NE(text.find("    would fix: fail it: move it to " + results_ + "/failed/s1"),
            std::string::npos)
      << text;
  EXPECT_NE(text.find("    fix: none: "), std::string::npos) << text;
  EXPECT_NE(text.find("dry run: 2 fixes would be applied, 1 needs a human; nothing was changed"),
            std::string::npos)
      << text;
  // --auto does not override a dry run.
  o.auto_yes = true;
  EXPECT_EQ(run(o), 0);
  EXPECT_TRUE(fixed_.empty());
  EXPECT_EQ(listing(dir_.path()), before);
}

TEST_F(RunFixesTest, InteractiveAsksBeforeEachFixAndAppliesOnlyTheAccepted) {
  FixRunOptions o;
  o.interactive = true;
  // Problems in order: the stale session, the corrupt result (never asked), the hook.
  EXPECT_EQ(run(o, "n\ny\n"), 0);
  EXPECT_EQ(fixed_, std::vector<std::string>{"broken_hook:hooks/h.sh"});
  ASSERT_EQ(recorded_.size(), 1u);
  EXPECT_EQ(recorded_[0].fields.get_string("problem"), "broken_hook");
  EXPECT_TRUE(exists(results_ + "/temp/s1"));  // declined
  EXPECT_TRUE(exists(hooks_ + "/h.sh"));
  const std::string prompts = err_.str();
  EXPECT_EQ(std::count(prompts.begin(), prompts.end(), '?'), 2) << prompts;
  EXPECT_NE(prompts.find("fix? [y/N] "), std::string::npos);
  EXPECT_NE(out_.str().find("    declined\n"), std::string::npos) << out_.str();
  EXPECT_NE(out_.str().find("1 fixed, 0 failed, 1 declined, 1 needs a human"), std::string::npos)
      << out_.str();
}

TEST_F(RunFixesTest, AnEndOfInputIsANo) {
  FixRunOptions o;
  o.interactive = true;
  EXPECT_EQ(run(o, ""), 0);
  EXPECT_TRUE(fixed_.empty());
}

TEST_F(RunFixesTest, AutoAppliesAndRecordsEveryFix) {
  FixRunOptions o;
  o.auto_yes = true;
  EXPECT_EQ(run(o), 0) << err_.str();
  EXPECT_EQ(fixed_, (std::vector<std::string>{"incomplete_session:results/temp/s1",
                                              "broken_hook:hooks/h.sh"}));
  ASSERT_EQ(recorded_.size(), 2u);
  for (const Event& e : recorded_) {
    EXPECT_EQ(e.fields.get_string("fixed"), "true");
    EXPECT_EQ(e.fields.get_int("uid"), 1000);
  }
  EXPECT_TRUE(exists(results_ + "/failed/s1/recovery_report.json"));
  EXPECT_EQ(read_file(hooks_ + "/h.sh"), "#!/bin/sh\n");
  EXPECT_TRUE(err_.str().empty()) << err_.str();
  EXPECT_NE(out_.str().find("    fixed: fail_session: session 's1' did not complete"),
            std::string::npos)
      << out_.str();
}

TEST_F(RunFixesTest, AFixThatFailsOrIsNotRecordedExitsOne) {
  problems_[0].subject = dir_ / "elsewhere/s1";  // outside its root: refused
  FixRunOptions o;
  o.auto_yes = true;
  EXPECT_EQ(run(o), 1);
  EXPECT_NE(out_.str().find("    FAILED: "), std::string::npos) << out_.str();
  ASSERT_EQ(recorded_.size(), 2u);
  EXPECT_EQ(recorded_[0].fields.get_string("fixed"), "false");

  std::istringstream in;
  std::ostringstream out, err;
  const int rc = run_fixes(
      {problems_[2]}, o, [&](const SessionProblem& p) { return apply_fix(p, now_); },
      [](const SessionProblem&, const FixResult&) -> Status { return make_error("log full"); }, in,
      out, err);
  EXPECT_EQ(rc, 1);
  EXPECT_NE(err.str().find("not recorded in the event log: log full"), std::string::npos)
      << err.str();
}

TEST_F(RunFixesTest, JsonListsEachFixWithWhatWasDone) {
  FixRunOptions o;
  o.auto_yes = true;
  o.json = true;
  EXPECT_EQ(run(o), 0);
  const std::string json = out_.str();
  EXPECT_EQ(std::count(json.begin(), json.end(), '\n'), 1) << json;
  EXPECT_NE(json.find(R"("dry_run":false)"), std::string::npos) << json;
  EXPECT_NE(json.find(R"("id":"incomplete_session:results/temp/s1")"), std::string::npos);
  EXPECT_NE(json.find(R"("action":"applied")"), std::string::npos) << json;
  EXPECT_NE(json.find(R"("action":"none")"), std::string::npos) << json;
  EXPECT_NE(json.find(R"("applied":2,"failed":0,"declined":0,"would":0,"none":1)"),
            std::string::npos)
      << json;
}

TEST_F(RunFixesTest, NothingToFixIsSaid) {
  problems_.clear();
  EXPECT_EQ(run({}), 0);  // nothing to ask: no terminal needed
  EXPECT_EQ(out_.str(), "nothing to fix\n");
}

}  // namespace
}  // namespace aw
