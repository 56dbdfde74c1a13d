#include "src/recover/session_doctor.h"

#include <dirent.h>
#include <fcntl.h>
#include <simdjson.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <istream>
#include <iterator>
#include <map>
#include <ostream>

#include "src/actions/confined_path.h"
#include "src/actions/ensure_file.h"
#include "src/actions/file_write.h"
#include "src/actions/result_session.h"
#include "src/core/duration.h"
#include "src/core/event_kinds.h"
#include "src/core/json_writer.h"
#include "src/json/json_check.h"
#include "src/os/errno_text.h"
#include "src/os/files.h"
#include "src/os/unique_fd.h"

namespace aw {
namespace {

using namespace std::chrono_literals;

constexpr const char* kManifest = "session.json";
constexpr const char* kMarker = "session.done";
constexpr const char* kClaim = "session.integrating";
constexpr const char* kIntegrated = "session.integrated";
constexpr std::uint64_t kMaxResultBytes = std::uint64_t{256} << 20;  // as complete_session
constexpr std::size_t kMaxManifestBytes = 1 << 20;
constexpr std::size_t kMaxHookBytes = 1 << 20;  // as ensure_file
constexpr int kMaxHookDepth = 16;
constexpr std::size_t kMaxReasonChars = 200;

// One directory entry, judged without following it.
struct Entry {
  std::string name;
  struct stat st {};
};

WallTime mtime_of(const struct stat& st) {
  return WallTime(std::chrono::seconds(st.st_mtim.tv_sec) +
                  std::chrono::nanoseconds(st.st_mtim.tv_nsec));
}

// The entries of the open directory `dir` (not "." and ".."), sorted by name,
// each lstat'ed. An entry that vanishes meanwhile is left out.
Result<std::vector<Entry>> list_dir(int dir, const std::string& shown) {
  const int fd = ::openat(dir, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0) return errno_error("cannot list '" + shown + "'", errno);
  DIR* d = ::fdopendir(fd);
  if (!d) {
    const int err = errno;
    ::close(fd);
    return errno_error("cannot list '" + shown + "'", err);
  }
  std::vector<Entry> out;
  while (const dirent* e = ::readdir(d)) {
    const std::string_view n = e->d_name;
    if (n == "." || n == "..") continue;
    Entry entry{std::string(n), {}};
    if (::fstatat(dir, entry.name.c_str(), &entry.st, AT_SYMLINK_NOFOLLOW) != 0) continue;
    out.push_back(std::move(entry));
  }
  ::closedir(d);
  std::sort(out.begin(), out.end(), [](const Entry& a, const Entry& b) { return a.name < b.name; });
  return out;
}

// `rel` beneath the root `root` (trusted, opened as written), never through a
// symlink; "" = the root itself. O_RDONLY, so it can be listed.
Result<UniqueFd> open_under(const std::string& root, const std::string& rel) {
  const UniqueFd base(::open(root.c_str(), O_PATH | O_DIRECTORY | O_CLOEXEC));
  if (!base) return errno_error("cannot open '" + root + "'", errno);
  return open_dir_beneath(base.get(), root, rel, OpenDirOptions{.for_sync = true});
}

// A subdirectory entry of `dir`, opened without following a symlink.
Result<UniqueFd> open_child_dir(int dir, const std::string& name, const std::string& shown) {
  UniqueFd fd(::openat(dir, name.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC));
  if (!fd) return errno_error("cannot open '" + shown + "'", errno);
  return fd;
}

bool hidden(const std::string& name) {
  return name.empty() || name[0] == '.';
}

std::optional<Entry> find_entry(const std::vector<Entry>& entries, std::string_view name) {
  for (const Entry& e : entries)
    if (e.name == name) return e;
  return std::nullopt;
}

bool is_regular_entry(const std::vector<Entry>& entries, std::string_view name) {
  const std::optional<Entry> e = find_entry(entries, name);
  return e && S_ISREG(e->st.st_mode);
}

// The newest mtime of the regular files in a session (the directory's own when
// it holds none): what the age-out's wait restarts on.
WallTime newest_of(const struct stat& dir, const std::vector<Entry>& entries, bool with_dir) {
  WallTime newest{};
  bool any = false;
  for (const Entry& e : entries) {
    if (!S_ISREG(e.st.st_mode)) continue;
    newest = any ? std::max(newest, mtime_of(e.st)) : mtime_of(e.st);
    any = true;
  }
  if (!any || with_dir) newest = any ? std::max(newest, mtime_of(dir)) : mtime_of(dir);
  return newest;
}

std::string age_text(Duration d) {
  if (d < Duration::zero()) d = Duration::zero();
  if (d >= std::chrono::hours(1))
    return format_duration(std::chrono::floor<std::chrono::minutes>(d));
  return format_duration(std::chrono::floor<std::chrono::seconds>(d));
}

// "512 B", "3.2 MiB", "79.0 GiB": for people, not for parsing.
std::string human_bytes(std::uint64_t bytes) {
  static constexpr const char* kUnits[] = {"B", "KiB", "MiB", "GiB", "TiB", "PiB"};
  double value = static_cast<double>(bytes);
  std::size_t unit = 0;
  while (value >= 1024 && unit + 1 < std::size(kUnits)) {
    value /= 1024;
    ++unit;
  }
  char text[32];
  if (unit == 0)
    std::snprintf(text, sizeof text, "%llu B", static_cast<unsigned long long>(bytes));
  else
    std::snprintf(text, sizeof text, "%.1f %s", value, kUnits[unit]);
  return text;
}

std::string joined(const std::vector<std::string>& names) {
  std::string out;
  for (const std::string& n : names) out += (out.empty() ? "" : ", ") + n;
  return out;
}

// A regular file (never a symlink) holding valid JSON; nullopt when there is
// no regular file of that name.
std::optional<bool> json_valid_at(int dir, const std::string& name) {
  Result<std::string> text = read_regular_file_at(dir, name, kMaxResultBytes, name);
  if (!text.ok()) {
    const int code = text.error().code;
    if (code == -ENOENT || code == -ELOOP || code == -EINVAL) return std::nullopt;
    return false;
  }
  return !check_json(*text).has_value();
}

// What a session directory in temp/ holds, judged as complete_session judges.
struct SessionState {
  SessionVerdict verdict;
  std::optional<SessionManifest> manifest;
  std::string manifest_error;
};

SessionState judge_dir(int dir, const std::vector<Entry>& entries) {
  SessionState s;
  Result<std::string> text = read_regular_file_at(dir, kManifest, kMaxManifestBytes, kManifest);
  if (text.ok()) {
    Result<SessionManifest> parsed = parse_session_manifest(*text);
    if (parsed.ok())
      s.manifest = std::move(*parsed);
    else
      s.manifest_error = parsed.error().message;
  }
  std::map<std::string, AgentFiles> agents;
  if (s.manifest) {
    for (const std::string& agent : s.manifest->agents) {
      AgentFiles f;
      if (std::optional<bool> v = json_valid_at(dir, agent + ".json"))
        f.result = true, f.result_valid = *v;
      if (std::optional<bool> v = json_valid_at(dir, agent + ".repaired.json"))
        f.repaired = true, f.repaired_valid = *v;
      agents.emplace(agent, f);
    }
  }
  s.verdict = judge_session(s.manifest, is_regular_entry(entries, kMarker), agents);
  return s;
}

std::string waiting_text(const SessionState& s) {
  if (!s.manifest_error.empty())
    return "its manifest " + std::string(kManifest) + " is not valid (" + s.manifest_error + ")";
  if (!s.manifest)
    return "it has no manifest (" + std::string(kManifest) + ") and no marker (" + kMarker + ")";
  std::string out = "waiting on " +
                    std::to_string(s.verdict.missing.size() + s.verdict.invalid.size()) + " of " +
                    std::to_string(s.manifest->agents.size()) + " agents";
  if (!s.verdict.missing.empty()) out += " (missing: " + joined(s.verdict.missing);
  if (!s.verdict.invalid.empty())
    out += std::string(s.verdict.missing.empty() ? " (" : "; ") +
           "invalid: " + joined(s.verdict.invalid);
  return out + ")";
}

class Finder {
 public:
  Finder(const DoctorInput& in, std::vector<std::string>* errors) : in_(in), errors_(errors) {}

  std::vector<SessionProblem> run() {
    for (const DoctorRoot& r : in_.results) {
      temp_sessions(r);
      completed_sessions(r);
      quarantine(r);
    }
    if (in_.hooks && in_.restore_hooks && !in_.hooks_source.empty()) hooks(*in_.hooks);
    for (const DoctorDisk& d : in_.disks) disk(d);
    return std::move(problems_);
  }

 private:
  void error(const std::string& text) {
    if (errors_) errors_->push_back(text);
  }

  // An optional directory of a root: nullopt (quietly) when it does not exist.
  std::optional<UniqueFd> open_optional(const DoctorRoot& r, const std::string& rel) {
    Result<UniqueFd> fd = open_under(r.path, rel);
    if (fd.ok()) return std::move(*fd);
    if (fd.error().code != -ENOENT) error(fd.error().message);
    return std::nullopt;
  }

  std::vector<Entry> entries_of(int dir, const std::string& shown) {
    Result<std::vector<Entry>> entries = list_dir(dir, shown);
    if (entries.ok()) return std::move(*entries);
    error(entries.error().message);
    return {};
  }

  SessionProblem& add(const std::string& kind, const DoctorRoot& r, const std::string& rel) {
    SessionProblem& p = problems_.emplace_back();
    p.kind = kind;
    p.id = kind + ":" + r.watch + (rel.empty() ? "" : "/" + rel);
    p.severity = "error";
    p.subject = rel.empty() ? r.path : join_path(r.path, rel);
    p.root = r.path;
    return p;
  }

  void temp_sessions(const DoctorRoot& r) {
    std::optional<UniqueFd> temp = open_optional(r, "temp");
    if (!temp) return;
    for (const Entry& s : entries_of(temp->get(), join_path(r.path, "temp"))) {
      if (hidden(s.name) || !S_ISDIR(s.st.st_mode)) continue;  // a symlink is never a session
      const std::string rel = "temp/" + s.name;
      Result<UniqueFd> dir = open_child_dir(temp->get(), s.name, join_path(r.path, rel));
      if (!dir.ok()) {
        error(dir.error().message);
        continue;
      }
      const std::vector<Entry> entries = entries_of(dir->get(), join_path(r.path, rel));
      const Duration age = in_.now - newest_of(s.st, entries, false);
      const SessionState state = judge_dir(dir->get(), entries);
      if (state.verdict.complete && age >= in_.settle) {
        SessionProblem& p = add("incomplete_session", r, rel);
        p.entity = s.name;
        p.severity = "warning";
        p.what = "session " + s.name + " is complete (by its " + state.verdict.how +
                 ") but still in temp/ after " + age_text(age);
        p.fix = "complete it: move it to " + join_path(r.path, "completed/" + s.name) +
                " (complete_session)";
        p.action = FixAction::kCompleteSession;
      } else if (!state.verdict.complete && in_.age_out && age >= *in_.age_out) {
        SessionProblem& p = add("incomplete_session", r, rel);
        p.entity = s.name;
        p.what = "session " + s.name + " has had no new file for " + age_text(age) +
                 " (the limit is " + format_duration(*in_.age_out) + "); " + waiting_text(state);
        p.fix = "fail it: move it to " + join_path(r.path, "failed/" + s.name) + " with " +
                kRecoveryReportName + " (fail_session)";
        p.reason = "no new result for " + age_text(age) + " (the limit is " +
                   format_duration(*in_.age_out) + "; failed by agentwatch recover fix)";
        p.action = FixAction::kFailSession;
      }
    }
  }

  // What a claim says (integrate_session writes it): the pid in its "daemon"
  // member ("<pid>-<random>"; 0 when unreadable) and its "started_at".
  struct Claim {
    int pid = 0;
    std::string started_at;
  };
  static Claim read_claim(int dir) {
    Claim c;
    Result<std::string> text = read_regular_file_at(dir, kClaim, 4096, kClaim);
    if (!text.ok()) return c;
    simdjson::dom::parser parser;
    simdjson::dom::element root;
    if (parser.parse(simdjson::padded_string(*text)).get(root)) return c;
    std::string_view v;
    if (!root["started_at"].get_string().get(v)) c.started_at = std::string(v);
    if (root["daemon"].get_string().get(v)) return c;
    for (const char ch : v) {
      if (ch < '0' || ch > '9') break;
      if (c.pid > 100'000'000) return Claim{0, c.started_at};
      c.pid = c.pid * 10 + (ch - '0');
    }
    return c;
  }

  void completed_sessions(const DoctorRoot& r) {
    std::optional<UniqueFd> completed = open_optional(r, "completed");
    if (!completed) return;
    for (const Entry& s : entries_of(completed->get(), join_path(r.path, "completed"))) {
      if (hidden(s.name) || !S_ISDIR(s.st.st_mode)) continue;
      const std::string rel = "completed/" + s.name;
      Result<UniqueFd> dir = open_child_dir(completed->get(), s.name, join_path(r.path, rel));
      if (!dir.ok()) {
        error(dir.error().message);
        continue;
      }
      const std::vector<Entry> entries = entries_of(dir->get(), join_path(r.path, rel));
      const std::optional<Entry> claim = find_entry(entries, kClaim);
      const bool marker = is_regular_entry(entries, kIntegrated);
      const bool record = is_regular_entry(entries, kCompletedRecordName);
      const Duration age = in_.now - newest_of(s.st, entries, true);
      if (claim && !marker) {
        const Claim c = read_claim(dir->get());
        if (in_.daemon_pid > 0 && c.pid == in_.daemon_pid) continue;  // being integrated now
        SessionProblem& p = add("integration_in_doubt", r, rel);
        p.entity = s.name;
        p.what = "session " + s.name + " was claimed for integration at " +
                 (c.started_at.empty() ? format_time_utc(mtime_of(claim->st)) : c.started_at) +
                 " and never finished: the command may have run (" + kClaim + " without " +
                 kIntegrated + ")";
        p.fix = "release the claim (remove " + std::string(kClaim) + ") and land " +
                kCompletedRecordName + " again, so session-integrate runs the integration again" +
                (in_.integrate_enabled ? "" : " (once it is enabled)") +
                "; if it did take effect, decline and create " + kIntegrated + " instead";
        p.action = FixAction::kReleaseAndReland;
        continue;
      }
      if (!in_.integrate_enabled || age < in_.settle) continue;
      SessionProblem& p = add("missing_integration", r, rel);
      p.entity = s.name;
      if (marker) {
        p.what = "session " + s.name + " is marked integrated (" + kIntegrated +
                 ") but was never moved to integrated/";
        p.fix =
            "land " + std::string(kCompletedRecordName) +
            " again: session-integrate finds the marker and moves it without running the command";
      } else {
        p.what = "session " + s.name + " has waited " + age_text(age) +
                 " in completed/ and was never integrated" +
                 (record ? "" : std::string(" (it has no ") + kCompletedRecordName + ")");
        p.fix = "land " + std::string(kCompletedRecordName) +
                " again (a new file, renamed into place), so session-integrate integrates it";
      }
      p.action = FixAction::kReland;
    }
  }

  // The reason a quarantined file's .reason holds: its "reason" member, or its
  // first line; "" when there is none.
  static std::string reason_of(int dir, const std::string& name) {
    Result<std::string> text = read_regular_file_at(dir, name + ".reason", 64 * 1024, name);
    if (!text.ok()) return "";
    std::string line = text->substr(0, text->find('\n'));
    simdjson::dom::parser parser;
    simdjson::dom::element root;
    std::string_view reason;
    if (!parser.parse(simdjson::padded_string(line)).get(root) &&
        !root["reason"].get_string().get(reason))
      line = std::string(reason);
    if (line.size() > kMaxReasonChars) line = line.substr(0, kMaxReasonChars) + "...";
    return line;
  }

  void corrupt(const DoctorRoot& r, int dir, const std::string& session, const Entry& f) {
    const std::string rel = "quarantine/" + (session.empty() ? "" : session + "/") + f.name;
    SessionProblem& p = add("corrupt_result", r, rel);
    p.severity = "warning";
    p.entity = session;
    const std::string reason = reason_of(dir, f.name);
    p.what =
        "a broken result, quarantined: " + (reason.empty() ? "no " + f.name + ".reason" : reason);
    if (reason.find("repaired into") != std::string::npos)
      p.fix =
          "none: the repaired copy counted for the session; check it, then delete this "
          "original and its .reason";
    else
      p.fix = "none: read " + f.name + ".reason, fix the result by hand and write it back " +
              (session.empty() ? std::string("where it came from")
                               : "into temp/" + session + "/ (the session then completes)") +
              ", or delete it and its .reason";
  }

  void quarantine(const DoctorRoot& r) {
    std::optional<UniqueFd> q = open_optional(r, "quarantine");
    if (!q) return;
    auto is_result = [](const Entry& e) {
      return !hidden(e.name) && S_ISREG(e.st.st_mode) && !e.name.ends_with(".reason");
    };
    for (const Entry& e : entries_of(q->get(), join_path(r.path, "quarantine"))) {
      if (is_result(e)) corrupt(r, q->get(), "", e);
      if (hidden(e.name) || !S_ISDIR(e.st.st_mode)) continue;
      const std::string shown = join_path(r.path, "quarantine/" + e.name);
      Result<UniqueFd> dir = open_child_dir(q->get(), e.name, shown);
      if (!dir.ok()) {
        error(dir.error().message);
        continue;
      }
      for (const Entry& f : entries_of(dir->get(), shown))
        if (is_result(f)) corrupt(r, dir->get(), e.name, f);
    }
  }

  // One hook: `rel` under the hooks root must equal `rel` under the sources.
  void hook(const DoctorRoot& root, int hooks_base, int source_dir, const std::string& rel,
            const std::string& name) {
    const std::string source = join_path(in_.hooks_source, rel);
    Result<std::string> want = read_regular_file_at(source_dir, name, kMaxHookBytes, source);
    if (!want.ok()) {
      error(want.error().message);
      return;
    }
    const auto [parent_rel, base] = split_parent(rel);
    std::string problem;
    bool replace = false;
    bool directory = false;
    Result<UniqueFd> parent =
        open_dir_beneath(hooks_base, root.path, parent_rel, OpenDirOptions{.for_sync = false});
    struct stat st {};
    if (!parent.ok() && parent.error().code != -ENOENT) {
      error(parent.error().message);  // a symlink on the way: never restored through
      return;
    }
    if (!parent.ok() || ::fstatat(parent->get(), base.c_str(), &st, AT_SYMLINK_NOFOLLOW) != 0) {
      problem = "is missing";
    } else if (S_ISDIR(st.st_mode)) {
      problem = "is a directory";
      directory = true;
    } else if (!S_ISREG(st.st_mode)) {
      problem = S_ISLNK(st.st_mode) ? "is a symlink, not the hook" : "is not a regular file";
      replace = true;
    } else {
      Result<std::string> have =
          read_regular_file_at(parent->get(), base, kMaxHookBytes + 1, join_path(root.path, rel));
      if (!have.ok() || *have != *want) {
        problem = "differs from its source";
        replace = true;
      } else if ((st.st_mode & 07777) != 0700) {
        char mode[8];
        std::snprintf(mode, sizeof mode, "%04o", static_cast<unsigned>(st.st_mode & 07777));
        problem = std::string("has mode ") + mode + ", not 0700";
      }
    }
    if (problem.empty()) return;
    SessionProblem& p = add("broken_hook", root, rel);
    p.what = "hook " + rel + " " + problem + " (source: " + source + ")";
    if (directory) {  // ensure_file refuses to move a directory: never deleted, never moved
      p.fix = "none: move the directory away by hand; then recover fix restores the hook";
      return;
    }
    p.fix = "restore it from " + source + ", mode 0700 (ensure_file)" +
            (replace ? "; what is there now is kept in .agentwatch-replaced/" : "");
    p.action = FixAction::kRestoreHook;
    p.source = source;
  }

  void hook_dir(const DoctorRoot& root, int hooks_base, int source_dir, const std::string& rel,
                int depth) {
    const std::string shown = rel.empty() ? in_.hooks_source : join_path(in_.hooks_source, rel);
    for (const Entry& e : entries_of(source_dir, shown)) {
      if (hidden(e.name)) continue;  // as hook-restore: dotfiles are not hooks
      const std::string child = rel.empty() ? e.name : rel + "/" + e.name;
      if (S_ISREG(e.st.st_mode)) {
        hook(root, hooks_base, source_dir, child, e.name);
      } else if (S_ISDIR(e.st.st_mode) && depth < kMaxHookDepth) {
        Result<UniqueFd> sub =
            open_child_dir(source_dir, e.name, join_path(in_.hooks_source, child));
        if (sub.ok())
          hook_dir(root, hooks_base, sub->get(), child, depth + 1);
        else
          error(sub.error().message);
      }
    }
  }

  void hooks(const DoctorRoot& root) {
    const UniqueFd sources(::open(in_.hooks_source.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
    if (!sources) {
      if (errno != ENOENT)
        error(errno_error("cannot open '" + in_.hooks_source + "'", errno).message);
      return;
    }
    const UniqueFd base(::open(root.path.c_str(), O_PATH | O_DIRECTORY | O_CLOEXEC));
    if (!base) {
      error(errno_error("cannot open '" + root.path + "'", errno).message);
      return;
    }
    hook_dir(root, base.get(), sources.get(), "", 0);
  }

  void disk(const DoctorDisk& d) {
    Result<DiskSpace> space =
        in_.disk_space ? in_.disk_space(d.root.path) : disk_space(d.root.path);
    if (!space.ok()) {
      if (space.error().code != -ENOENT) error(space.error().message);  // not made yet: no data
      return;
    }
    if (!below_threshold(*space, d.min_free)) return;
    SessionProblem& p = add("low_disk", d.root, "");
    const double percent = space->total_bytes ? 100.0 * static_cast<double>(space->free_bytes) /
                                                    static_cast<double>(space->total_bytes)
                                              : 0.0;
    char pct[32];
    std::snprintf(pct, sizeof pct, "%.1f%%", percent);
    p.what = "the filesystem of watch " + d.root.watch + " has " + human_bytes(space->free_bytes) +
             " free (" + pct + "), below its min_free " + d.min_free_text;
    if (d.retention.empty()) {
      p.fix = "none: no retention rule applies here; free space by hand";
      return;
    }
    std::string what;
    for (const RetentionDir& r : d.retention) {
      if (!what.empty()) what += ", ";
      what += (r.dir.empty() ? std::string("entries") : r.dir + "/") +
              (r.glob.empty() ? "" : " " + r.glob) + " older than " + format_duration(r.max_age);
    }
    p.fix = "run retention: delete " + what + " (apply_retention)";
    p.action = FixAction::kRetention;
    p.retention = d.retention;
  }

  const DoctorInput& in_;
  std::vector<std::string>* errors_;
  std::vector<SessionProblem> problems_;
};

FixResult failed(std::string text) {
  return {true, false, std::move(text)};
}

FixResult from_outcome(const ActionOutcome& o) {
  return {true, o.ok, o.message};
}

// Lands session.completed in the session `p.subject` again: a new file renamed
// over the old one, so the watcher sees it land (and the file index counts it
// as a new version). The old record's content is kept when it can be read.
FixResult reland(const SessionProblem& p, WallTime now) {
  const ActionRoot root(p.root);
  const std::optional<ConfinedPath> place = root.confine(root.absolute(p.subject));
  if (!place || place->rel.empty())
    return failed("'" + p.subject + "' does not lie under the root '" + p.root + "'");
  const UniqueFd base(::open(place->base.c_str(), O_PATH | O_DIRECTORY | O_CLOEXEC));
  if (!base) return failed(errno_error("cannot open '" + place->base + "'", errno).message);
  Result<UniqueFd> dir =
      open_dir_beneath(base.get(), place->base, place->rel, OpenDirOptions{.for_sync = true});
  if (!dir.ok()) return failed(dir.error().message);
  const std::string shown = join_path(p.subject, kCompletedRecordName);
  Result<std::string> old =
      read_regular_file_at(dir->get(), kCompletedRecordName, 64 * 1024, shown);
  std::string record;
  if (old.ok() && !old->empty() && !check_json(*old)) {
    record = *old;
  } else {
    JsonObjectWriter w(record);
    w.str("session", split_parent(place->rel).second)
        .str("how", "recover")
        .str("completed_at", format_time_utc(now));
    w.close();
  }
  if (record.back() != '\n') record.push_back('\n');
  if (Status s = write_file_replacing(dir->get(), kCompletedRecordName, record, shown); !s)
    return failed(s.error().message);
  return {true, true, "landed " + shown + " again"};
}

FixResult retention(const SessionProblem& p, WallTime now) {
  std::size_t deleted = 0, skipped = 0;
  std::uint64_t bytes = 0;
  std::string errors, dirs;
  for (const RetentionDir& r : p.retention) {
    RetentionSpec spec;
    spec.dir = r.dir.empty() ? p.root : join_path(p.root, r.dir);
    spec.root = p.root;
    spec.max_age = r.max_age;
    spec.now = now;
    spec.glob = r.glob;
    Result<RetentionResult> done = apply_retention(spec);
    if (!done.ok()) {
      if (done.error().code == -ENOENT) continue;  // nothing was ever kept there
      errors += (errors.empty() ? "" : "; ") + done.error().message;
      continue;
    }
    deleted += done->deleted.size();
    bytes += done->bytes_freed;
    skipped += done->skipped.size();
    dirs += (dirs.empty() ? "" : ", ") + (r.dir.empty() ? std::string(".") : r.dir + "/");
  }
  std::string text = "deleted " + std::to_string(deleted) + " entries (" + human_bytes(bytes) +
                     ") from " + (dirs.empty() ? "nothing" : dirs);
  if (skipped) text += "; " + std::to_string(skipped) + " skipped";
  if (!errors.empty()) return failed(text + "; " + errors);
  return {true, true, text};
}

void add_problem_members(JsonObjectWriter& w, const SessionProblem& p) {
  w.str("severity", p.severity)
      .str("subject", p.subject)
      .str("what", p.what)
      .str("hint", session_problem_hint(p))
      .str("id", p.id)
      .str("kind", p.kind)
      .str("fix", p.fix);
  if (!p.entity.empty()) w.str("entity", p.entity);
}

bool said_yes(std::istream& in) {
  std::string line;
  if (!std::getline(in, line)) return false;
  while (!line.empty() && (line.back() == '\r' || line.back() == ' ')) line.pop_back();
  while (!line.empty() && line.front() == ' ') line.erase(0, 1);
  return line == "y" || line == "Y" || line == "yes" || line == "Yes" || line == "YES";
}

std::string plural(std::size_t n, const char* one, const char* many) {
  return std::to_string(n) + " " + (n == 1 ? one : many);
}

}  // namespace

const char* fix_action_name(FixAction a) {
  switch (a) {
    case FixAction::kNone:
      return "none";
    case FixAction::kFailSession:
      return "fail_session";
    case FixAction::kCompleteSession:
      return "complete_session";
    case FixAction::kReleaseAndReland:
      return "release_and_reland";
    case FixAction::kReland:
      return "reland";
    case FixAction::kRestoreHook:
      return "restore_hook";
    case FixAction::kRetention:
      return "retention";
  }
  return "none";
}

std::vector<RetentionDir> default_results_retention() {
  return {{"completed", "", std::chrono::hours(24 * 7)},
          {"integrated", "", std::chrono::hours(24 * 7)},
          {"failed", "", std::chrono::hours(24 * 30)}};
}

std::vector<RetentionDir> default_logs_retention() {
  return {{"", "*.gz", std::chrono::hours(24 * 30)}};
}

std::optional<Duration> session_age_out(const RuleSet* rules) {
  std::optional<Duration> age_out = DoctorInput{}.age_out;
  if (const Rule* r = rules ? rules->find("session-age-out") : nullptr) {
    if (!r->enabled)
      age_out.reset();
    else if (r->gate.debounce > Duration::zero())
      age_out = r->gate.debounce;
  }
  return age_out;
}

std::size_t count_stale_sessions(const std::vector<DoctorRoot>& results,
                                 std::optional<Duration> age_out, WallTime now) {
  DoctorInput in;
  in.results = results;
  in.age_out = age_out;
  in.now = now;
  const std::vector<SessionProblem> problems = find_session_problems(in);
  return static_cast<std::size_t>(
      std::count_if(problems.begin(), problems.end(),
                    [](const SessionProblem& p) { return p.action == FixAction::kFailSession; }));
}

std::vector<SessionProblem> find_session_problems(const DoctorInput& in,
                                                  std::vector<std::string>* errors) {
  return Finder(in, errors).run();
}

FixResult apply_fix(const SessionProblem& p, WallTime now) {
  switch (p.action) {
    case FixAction::kNone:
      return {false, true, "nothing to apply"};
    case FixAction::kFailSession: {
      FailSessionSpec spec;
      spec.session = p.subject;
      spec.to = join_path(p.root, "failed");
      spec.root = p.root;
      spec.reason = p.reason.empty() ? "agentwatch recover fix" : p.reason;
      spec.time = now;
      spec.rule = "recover fix";
      return from_outcome(fail_session(spec));
    }
    case FixAction::kCompleteSession: {
      CompleteSessionSpec spec;
      spec.session = p.subject;
      spec.to = join_path(p.root, "completed");
      spec.root = p.root;
      spec.time = now;
      const ActionOutcome o = complete_session(spec);
      // Judged complete a moment ago: waiting now means it changed under us.
      if (o.ok && o.fields.get_string("state") == "waiting") return failed(o.message);
      return from_outcome(o);
    }
    case FixAction::kReleaseAndReland: {
      IntegrateSessionSpec spec;
      spec.session = p.subject;
      spec.to = join_path(p.root, "integrated");
      spec.root = p.root;
      spec.time = now;
      release_integration(spec);
      struct stat st {};
      const std::string claim = join_path(p.subject, spec.claim);
      if (::lstat(claim.c_str(), &st) == 0)
        return failed("the claim " + claim + " could not be removed");
      FixResult r = reland(p, now);
      if (r.ok) r.result = "removed the claim " + claim + "; " + r.result;
      return r;
    }
    case FixAction::kReland:
      return reland(p, now);
    case FixAction::kRestoreHook: {
      EnsureFileSpec spec;
      spec.path = p.subject;
      spec.source = p.source;
      spec.root = p.root;
      spec.mode = 0700;
      return from_outcome(ensure_file(spec));
    }
    case FixAction::kRetention:
      return retention(p, now);
  }
  return failed("unknown fix");
}

std::string session_problem_hint(const SessionProblem& p) {
  return "fix: " + p.fix;
}

std::string session_problem_json(const SessionProblem& p) {
  std::string out;
  JsonObjectWriter w(out);
  add_problem_members(w, p);
  w.close();
  return out;
}

std::string session_problems_json(const std::vector<SessionProblem>& problems) {
  std::string out = "[";
  for (std::size_t i = 0; i < problems.size(); ++i) {
    if (i) out += ',';
    out += session_problem_json(problems[i]);
  }
  return out + "]";
}

int run_fixes(const std::vector<SessionProblem>& problems, const FixRunOptions& o,
              const Fixer& fixer, const FixRecorder& record, std::istream& in, std::ostream& out,
              std::ostream& err) {
  const bool fixable = std::any_of(problems.begin(), problems.end(), [](const SessionProblem& p) {
    return p.action != FixAction::kNone;
  });
  if (fixable && !o.dry_run && !o.auto_yes && !o.interactive) {
    err << "agentwatch: recover fix asks before each fix, and stdin is not a terminal: run it in a "
           "terminal, or with --auto to apply every fix (--dry-run shows them); nothing was "
           "changed\n";
    return 2;
  }
  std::vector<FixRecord> records;
  int rc = 0;
  std::ostream& listing = o.json ? err : out;  // what the asker reads, beside the prompt
  const bool list_text = !o.json || (!o.dry_run && !o.auto_yes);
  for (const SessionProblem& p : problems) {
    FixRecord& rec = records.emplace_back();
    rec.problem = &p;
    if (list_text) listing << p.kind << ": " << p.subject << ": " << p.what << "\n";
    if (p.action == FixAction::kNone) {
      rec.action = "none";
      rec.result = p.fix;
      if (list_text) listing << "    fix: " << p.fix << "\n";
      continue;
    }
    if (o.dry_run) {
      rec.action = "would";
      rec.result = p.fix;
      if (list_text) listing << "    would fix: " << p.fix << "\n";
      continue;
    }
    if (list_text) listing << "    fix: " << p.fix << "\n";
    if (!o.auto_yes) {
      listing.flush();
      err << "fix? [y/N] " << std::flush;
      if (!said_yes(in)) {
        rec.action = "declined";
        if (list_text) listing << "    declined\n";
        continue;
      }
    }
    const FixResult r = fixer(p);
    rec.action = r.ok ? "applied" : "failed";
    rec.result = r.result;
    if (!r.ok) rc = 1;
    if (list_text) listing << (r.ok ? "    fixed: " : "    FAILED: ") << r.result << "\n";
    if (Status s = record(p, r); !s) {
      err << "agentwatch: " << p.id << ": " << (r.ok ? "fixed" : "tried")
          << ", but not recorded in the event log: " << s.error().message << "\n";
      rc = 1;
    }
  }
  std::map<std::string, std::size_t> n;
  for (const FixRecord& r : records) ++n[r.action];
  if (o.json) {
    std::string json;
    JsonObjectWriter w(json);
    w.boolean("dry_run", o.dry_run);
    w.value("fixes", [&](std::string& a) {
      a.push_back('[');
      for (std::size_t i = 0; i < records.size(); ++i) {
        if (i) a.push_back(',');
        JsonObjectWriter f(a);
        const SessionProblem& p = *records[i].problem;
        f.str("id", p.id)
            .str("kind", p.kind)
            .str("severity", p.severity)
            .str("subject", p.subject)
            .str("what", p.what)
            .str("fix", p.fix)
            .str("action", records[i].action)
            .str("result", records[i].result);
        f.close();
      }
      a.push_back(']');
    });
    for (const char* k : {"applied", "failed", "declined", "would", "none"})
      w.unum(k, static_cast<std::uint64_t>(n[k]));
    w.close();
    out << json << "\n";
    return rc;
  }
  if (problems.empty()) {
    out << "nothing to fix\n";
    return rc;
  }
  const std::string human = n["none"] ? ", " + plural(n["none"], "needs", "need") + " a human" : "";
  if (o.dry_run)
    out << "dry run: " << plural(n["would"], "fix", "fixes") << " would be applied" << human
        << "; nothing was changed\n";
  else
    out << n["applied"] << " fixed, " << n["failed"] << " failed, " << n["declined"] << " declined"
        << human << "\n";
  return rc;
}

Event recover_fix_event(const SessionProblem& p, const FixResult& r, std::uint32_t uid,
                        const std::string& user) {
  Event e;
  e.kind = kind::kControlRecoverFix;
  e.source = "cli";
  e.path = p.subject;
  e.entity = p.entity;
  e.fields.set("problem", p.kind);
  e.fields.set("id", p.id);
  e.fields.set("subject", p.subject);
  e.fields.set("fix", p.fix);
  e.fields.set("action", fix_action_name(p.action));
  e.fields.set("result", r.result);
  e.fields.set("fixed", r.ok);
  e.fields.set("uid", static_cast<std::int64_t>(uid));
  e.fields.set("user", user);
  e.fields.set("outcome", "ok");  // the request's, as every control.* audit event
  return e;
}

}  // namespace aw
