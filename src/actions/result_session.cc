#include "src/actions/result_session.h"

#include <dirent.h>
#include <fcntl.h>
#include <simdjson.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <random>
#include <set>
#include <tuple>

#include "src/actions/confined_path.h"
#include "src/actions/file_move.h"
#include "src/actions/file_write.h"
#include "src/actions/fs_failure.h"
#include "src/core/json_writer.h"
#include "src/json/json_check.h"
#include "src/os/errno_text.h"
#include "src/os/files.h"
#include "src/os/unique_fd.h"

namespace aw {

namespace {

constexpr const char* kAction = "complete_session";

bool usable_file_name(std::string_view name) {
  return !name.empty() && name != "." && name != ".." && name.find('/') == std::string_view::npos &&
         name.find('\0') == std::string_view::npos;
}

std::string joined(const std::vector<std::string>& names) {
  std::string out;
  for (const std::string& n : names) {
    if (!out.empty()) out += ",";
    out += n;
  }
  return out;
}

// Not there as a regular file: missing, a symlink, something else, unreadable.
bool is_absent(const Error& e) {
  return e.code == -ENOENT || e.code == -ELOOP || e.code == -EINVAL || e.code == -EACCES ||
         e.code == -ENOTDIR;
}

// What a regular file (never a symlink) named `name` in `dir` holds: nullopt
// when there is none, else whether it is valid JSON of at most `max` bytes.
std::optional<bool> json_file_valid(int dir, const std::string& name, std::uint64_t max) {
  Result<std::string> text = read_regular_file_at(dir, name, max, name);
  if (!text.ok() && is_absent(text.error())) return std::nullopt;
  return text.ok() && !check_json(*text).has_value();
}

bool is_regular(int dir, const std::string& name) {
  struct stat st {};
  return ::fstatat(dir, name.c_str(), &st, AT_SYMLINK_NOFOLLOW) == 0 && S_ISREG(st.st_mode);
}

}  // namespace

Result<SessionManifest> parse_session_manifest(std::string_view text) {
  if (std::optional<JsonError> bad = check_json(text))
    return make_error("not valid JSON at byte " + std::to_string(bad->offset) + ": " +
                      bad->message);
  thread_local simdjson::dom::parser parser;
  simdjson::padded_string padded(text);
  simdjson::dom::element root;
  if (parser.parse(padded).get(root) != simdjson::SUCCESS)
    return make_error("not valid JSON");  // check_json said it was: cannot happen
  simdjson::dom::array agents;
  if (root["agents"].get_array().get(agents) != simdjson::SUCCESS)
    return make_error(
        "expected an object with an \"agents\" array of names, e.g. {\"agents\": [\"a1\", "
        "\"a2\"]}");
  SessionManifest m;
  std::set<std::string, std::less<>> seen;
  std::size_t index = 0;
  for (simdjson::dom::element a : agents) {
    std::string_view name;
    if (a.get_string().get(name) != simdjson::SUCCESS || !usable_file_name(name))
      return make_error("agents[" + std::to_string(index) +
                        "] must be a non-empty name usable as a file name (no '/')");
    if (!seen.emplace(name).second)
      return make_error("agents[" + std::to_string(index) + "]: \"" + std::string(name) +
                        "\" is listed twice");
    m.agents.emplace_back(name);
    ++index;
  }
  if (m.agents.empty()) return make_error("\"agents\" is empty: the session could never complete");
  return m;
}

SessionVerdict judge_session(const std::optional<SessionManifest>& manifest, bool marker,
                             const std::map<std::string, AgentFiles>& agents) {
  SessionVerdict v;
  if (manifest) {
    for (const std::string& agent : manifest->agents) {
      const auto it = agents.find(agent);
      const AgentFiles f = it == agents.end() ? AgentFiles{} : it->second;
      if (f.result && f.result_valid)
        v.valid.push_back(agent);
      else if (f.repaired && f.repaired_valid)
        v.repaired.push_back(agent);
      else if (f.result || f.repaired)
        v.invalid.push_back(agent);
      else
        v.missing.push_back(agent);
    }
  }
  if (marker) {
    v.complete = true;
    v.how = "marker";
  } else if (manifest && v.invalid.empty() && v.missing.empty()) {
    v.complete = true;
    v.how = "manifest";
  }
  return v;
}

namespace {

// A filesystem failure of `action`, its message prefixed with the action's name.
ActionOutcome action_failure(const char* action, const Error& e, Fields& fields) {
  return fs_failure(make_error(std::string(action) + ": " + e.message, e.code), std::move(fields));
}

// Where a session action acts: the session directory and its destination,
// both confined to the root, and the open walk base.
struct SessionPlace {
  std::string from;    // the session directory, absolute
  std::string to_dir;  // the destination directory, absolute
  std::string walk_base;
  ConfinedPath src, dst;
  std::string parent_rel, name;  // src split: the session's parent and its name
  UniqueFd base_fd;
};

// Resolves `session` and `to` under `root`; a failure outcome when they are
// not both under it or the walk base cannot be opened.
std::optional<ActionOutcome> locate_session(const char* action, const std::string& session,
                                            const std::string& to, const std::string& root_text,
                                            SessionPlace& place, Fields& fields) {
  using namespace outcome_category;
  if (session.empty() || to.empty())
    return make_failure(kValidation, std::string(action) + ": needs a session and 'to'",
                        "give the action session = \"{dir}\" and a 'to' directory");
  const ActionRoot root(root_text);
  place.from = root.absolute(session);
  place.to_dir = root.absolute(to);
  place.walk_base = root.walk_base();
  fields.set("from", place.from);
  const std::optional<ConfinedPath> src = root.confine(place.from);
  const std::optional<ConfinedPath> dst = root.confine(place.to_dir);
  if (!src || src->rel.empty() || !dst)
    return make_failure(kPermission,
                        std::string(action) + ": '" + place.from + "' and '" + place.to_dir +
                            "' must both lie under the root '" + root.root() + "'",
                        "keep the session and 'to' under the rule's root", std::move(fields));
  place.src = *src;
  place.dst = *dst;
  std::tie(place.parent_rel, place.name) = split_parent(src->rel);
  fields.set("session", place.name);
  place.base_fd.reset(::open(place.walk_base.c_str(), O_PATH | O_DIRECTORY | O_CLOEXEC));
  if (!place.base_fd)
    return fs_failure(
        errno_error(std::string(action) + ": cannot open '" + place.walk_base + "'", errno),
        std::move(fields));
  return std::nullopt;
}

// The session directory where it is (temp/<s> or completed/<s>).
Result<UniqueFd> open_session(const SessionPlace& place) {
  return open_dir_beneath(place.base_fd.get(), place.walk_base, place.src.rel,
                          OpenDirOptions{.for_sync = true});
}

// The session directory inside the destination under `name` (default: the
// session's own name), when it is there.
Result<UniqueFd> open_moved(const SessionPlace& place, const std::string& moved_name = {}) {
  const std::string& name = moved_name.empty() ? place.name : moved_name;
  Result<UniqueFd> dest = open_dir_beneath(place.base_fd.get(), place.walk_base, place.dst.rel,
                                           OpenDirOptions{.for_sync = false});
  if (!dest.ok()) return dest;
  UniqueFd fd(::openat(dest->get(), name.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC));
  if (!fd) return errno_error("cannot open '" + join_path(place.to_dir, name) + "'", errno);
  return fd;
}

// What a session directory holds, judged.
struct SessionContents {
  std::optional<SessionManifest> manifest;
  std::string manifest_error;  // non-empty: the manifest is there and not valid
  bool marker = false;
  SessionVerdict verdict;
};

// `until_missing`: when some agent of the manifest has no file at all, judge
// no further (the session waits whatever the others hold): each of a
// session's results landing asks again, and reading every result each time
// would cost agents² reads per session. Only `missing` is filled then.
Result<SessionContents> read_session(int dir, const std::string& from,
                                     const std::string& manifest_name,
                                     const std::string& marker_name, std::uint64_t max_bytes,
                                     bool until_missing = false) {
  SessionContents c;
  const std::string shown = join_path(from, manifest_name);
  Result<std::string> text = read_regular_file_at(dir, manifest_name, 1 << 20, shown);
  if (!text.ok() && !is_absent(text.error())) return text.error();
  if (text.ok()) {
    Result<SessionManifest> parsed = parse_session_manifest(*text);
    if (parsed.ok())
      c.manifest = std::move(*parsed);
    else
      c.manifest_error = shown + ": " + parsed.error().message;
  }
  c.marker = is_regular(dir, marker_name);
  if (until_missing && c.manifest && !c.marker) {
    for (const std::string& agent : c.manifest->agents)
      if (!is_regular(dir, agent + ".json") && !is_regular(dir, agent + ".repaired.json"))
        c.verdict.missing.push_back(agent);
    if (!c.verdict.missing.empty()) return c;
  }
  std::map<std::string, AgentFiles> agents;
  if (c.manifest) {
    for (const std::string& agent : c.manifest->agents) {
      AgentFiles f;
      if (std::optional<bool> v = json_file_valid(dir, agent + ".json", max_bytes))
        f.result = true, f.result_valid = *v;
      if (std::optional<bool> v = json_file_valid(dir, agent + ".repaired.json", max_bytes))
        f.repaired = true, f.repaired_valid = *v;
      agents.emplace(agent, f);
    }
  }
  c.verdict = judge_session(c.manifest, c.marker, agents);
  return c;
}

void set_verdict_fields(const SessionVerdict& v, Fields& fields) {
  fields.set("valid", joined(v.valid));
  fields.set("repaired", joined(v.repaired));
  fields.set("invalid", joined(v.invalid));
  fields.set("missing", joined(v.missing));
}

// Renames the session into the destination (created when missing) under the
// first free name; -ENOENT when it is gone meanwhile.
Result<detail::Placement> move_session(const SessionPlace& place) {
  Result<UniqueFd> parent = open_dir_beneath(place.base_fd.get(), place.walk_base, place.parent_rel,
                                             OpenDirOptions{.for_sync = true});
  if (!parent.ok()) return parent.error();
  Result<UniqueFd> dest = open_dir_beneath(place.base_fd.get(), place.walk_base, place.dst.rel,
                                           OpenDirOptions{.create = true});
  if (!dest.ok()) return make_error("destination: " + dest.error().message, dest.error().code);
  return detail::place(parent->get(), place.name, dest->get(), false, nullptr);
}

}  // namespace

ActionOutcome complete_session(const CompleteSessionSpec& spec) {
  using namespace outcome_category;
  Fields fields;
  SessionPlace place;
  if (std::optional<ActionOutcome> bad =
          locate_session(kAction, spec.session, spec.to, spec.root, place, fields))
    return std::move(*bad);
  const std::string& name = place.name;
  Result<UniqueFd> dir = open_session(place);
  if (!dir.ok()) {
    // Gone: another check of the same session (or the attempt a killed daemon
    // had in flight) moved it.
    if (dir.error().code == -ENOENT && open_moved(place).ok()) {
      fields.set("state", "completed_before");
      fields.set("to", join_path(place.to_dir, name));
      return make_success(
          std::string(kAction) + ": session '" + name + "' is already in '" + place.to_dir + "'",
          std::move(fields));
    }
    return action_failure(kAction, dir.error(), fields);
  }
  Result<SessionContents> contents =
      read_session(dir->get(), place.from, spec.manifest, spec.marker, spec.max_result_bytes, true);
  if (!contents.ok()) return fs_failure(contents.error(), std::move(fields));
  if (!contents->manifest_error.empty() && !contents->marker)
    return make_failure(kValidation, std::string(kAction) + ": " + contents->manifest_error,
                        "fix the session's manifest; the session completes once it is valid "
                        "and satisfied",
                        std::move(fields));
  const SessionVerdict& verdict = contents->verdict;
  set_verdict_fields(verdict, fields);
  if (!verdict.complete) {
    fields.set("state", "waiting");
    std::string waiting_on =
        contents->manifest
            ? std::to_string(verdict.missing.size() + verdict.invalid.size()) + " of " +
                  std::to_string(contents->manifest->agents.size()) + " agents"
            : "a manifest (" + spec.manifest + ") or a marker (" + spec.marker + ")";
    return make_success(
        std::string(kAction) + ": session '" + name + "' is waiting on " + waiting_on,
        std::move(fields));
  }
  fields.set("how", verdict.how);
  // The record is created once (O_EXCL), never replaced: a check that loses
  // the race below must not make it land again in completed/, where its
  // landing starts the integration.
  if (UniqueFd record_fd(::openat(dir->get(), kCompletedRecordName,
                                  O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600));
      record_fd) {
    std::string record;
    JsonObjectWriter w(record);
    w.str("session", name).str("how", verdict.how).str("completed_at", format_time_utc(spec.time));
    w.close();
    record.push_back('\n');
    if (Status st = write_all_and_sync(record_fd.get(), record); !st)
      return fs_failure(st.error(), std::move(fields));
  } else if (errno != EEXIST) {
    return fs_failure(
        errno_error("cannot create '" + join_path(place.from, kCompletedRecordName) + "'", errno),
        std::move(fields));
  }
  dir->reset();

  // One rename into the first free name: `name`, `name.1`, ... (move's naming).
  Result<detail::Placement> placed = move_session(place);
  if (!placed.ok() && placed.error().code == -ENOENT) {
    // Another check moved it between our judgement and this rename.
    fields.set("state", "completed_before");
    return make_success(
        std::string(kAction) + ": session '" + name + "' was completed by another check meanwhile",
        std::move(fields));
  }
  if (!placed.ok()) return action_failure(kAction, placed.error(), fields);
  const std::string moved_to = join_path(place.to_dir, placed->final_name);
  fields.set("state", "completed");
  fields.set("to", moved_to);
  return make_success(std::string(kAction) + ": session '" + name + "' is complete (by " +
                          verdict.how + "), moved to '" + moved_to + "'",
                      std::move(fields));
}

namespace {

constexpr const char* kFailAction = "fail_session";
constexpr std::size_t kReportMaxFiles = 1000;

void append_names(std::string& out, const std::vector<std::string>& names) {
  out.push_back('[');
  for (std::size_t i = 0; i < names.size(); ++i) {
    if (i) out.push_back(',');
    append_json_string(out, names[i]);
  }
  out.push_back(']');
}

// Every entry of the session for the report: name, type, bytes, mtime, and
// for a regular *.json file whether it is valid. Never follows a symlink.
void append_files(std::string& out, int dir, std::uint64_t max_bytes) {
  out.push_back('[');
  std::vector<std::string> names;
  if (int fd = ::openat(dir, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC); fd >= 0) {
    if (DIR* d = ::fdopendir(fd)) {
      while (const dirent* e = ::readdir(d)) {
        std::string_view n = e->d_name;
        if (n != "." && n != "..") names.emplace_back(n);
      }
      ::closedir(d);
    } else {
      ::close(fd);
    }
  }
  std::sort(names.begin(), names.end());
  std::size_t listed = 0;
  for (const std::string& n : names) {
    if (listed++ == kReportMaxFiles) break;
    if (listed > 1) out.push_back(',');
    JsonObjectWriter w(out);
    w.str("name", n);
    struct stat st {};
    if (::fstatat(dir, n.c_str(), &st, AT_SYMLINK_NOFOLLOW) != 0) {
      w.str("type", "vanished");
    } else if (S_ISREG(st.st_mode)) {
      w.str("type", "file").unum("bytes", static_cast<std::uint64_t>(st.st_size));
      w.str("mtime", format_time_utc(WallTime(std::chrono::seconds(st.st_mtim.tv_sec) +
                                              std::chrono::nanoseconds(st.st_mtim.tv_nsec))));
      if (n.ends_with(".json")) {
        std::optional<bool> valid = json_file_valid(dir, n, max_bytes);
        w.str("json", !valid ? "unreadable" : (*valid ? "valid" : "invalid"));
      }
    } else {
      w.str("type", S_ISLNK(st.st_mode)   ? "symlink (not followed)"
                    : S_ISDIR(st.st_mode) ? "directory"
                                          : "other");
    }
    w.close();
  }
  out.push_back(']');
  if (names.size() > kReportMaxFiles)
    out += ",\"files_not_listed\":" + std::to_string(names.size() - kReportMaxFiles);
}

std::string recovery_report(const FailSessionSpec& spec, const std::string& name,
                            const SessionContents& c, int dir) {
  std::string out;
  JsonObjectWriter w(out);
  w.str("session", name)
      .str("state", "failed")
      .str("failed_at", format_time_utc(spec.time))
      .str("reason", spec.reason)
      .str("rule", spec.rule)
      .unum("cause_seq", spec.cause_seq);
  w.str("manifest", c.manifest ? "valid" : (c.manifest_error.empty() ? "absent" : "invalid"));
  if (!c.manifest_error.empty()) w.str("manifest_error", c.manifest_error);
  w.boolean("marker", c.marker);
  w.value("agents", [&](std::string& o) {
    JsonObjectWriter a(o);
    a.value("valid", [&](std::string& x) { append_names(x, c.verdict.valid); });
    a.value("repaired", [&](std::string& x) { append_names(x, c.verdict.repaired); });
    a.value("invalid", [&](std::string& x) { append_names(x, c.verdict.invalid); });
    a.value("missing", [&](std::string& x) { append_names(x, c.verdict.missing); });
    a.close();
  });
  w.value("files", [&](std::string& o) { append_files(o, dir, spec.max_result_bytes); });
  w.close();
  out.push_back('\n');
  return out;
}

}  // namespace

ActionOutcome fail_session(const FailSessionSpec& spec) {
  Fields fields;
  SessionPlace place;
  if (std::optional<ActionOutcome> bad =
          locate_session(kFailAction, spec.session, spec.to, spec.root, place, fields))
    return std::move(*bad);
  const std::string& name = place.name;
  const std::string failed_path = join_path(place.to_dir, name);
  Result<UniqueFd> dir = open_session(place);
  if (!dir.ok()) {
    if (dir.error().code != -ENOENT) return action_failure(kFailAction, dir.error(), fields);
    Result<UniqueFd> moved = open_moved(place);
    if (!moved.ok()) {
      // Completed, or moved away by someone else: nothing to fail.
      fields.set("state", "gone");
      return make_success(std::string(kFailAction) + ": session '" + name + "' is no longer in '" +
                              parent_dir(place.from) + "': nothing to fail",
                          std::move(fields));
    }
    // The attempt a killed daemon had in flight moved it; its report may be
    // missing.
    fields.set("state", "failed_before");
    fields.set("to", failed_path);
    fields.set("report", join_path(failed_path, kRecoveryReportName));
    struct stat st {};
    if (::fstatat(moved->get(), kRecoveryReportName, &st, AT_SYMLINK_NOFOLLOW) != 0) {
      Result<SessionContents> c = read_session(moved->get(), failed_path, spec.manifest,
                                               spec.marker, spec.max_result_bytes);
      if (!c.ok()) return fs_failure(c.error(), std::move(fields));
      if (Status w = write_file_replacing(moved->get(), kRecoveryReportName,
                                          recovery_report(spec, name, *c, moved->get()),
                                          join_path(failed_path, kRecoveryReportName));
          !w)
        return fs_failure(w.error(), std::move(fields));
    }
    return make_success(
        std::string(kFailAction) + ": session '" + name + "' is already in '" + place.to_dir + "'",
        std::move(fields));
  }
  Result<SessionContents> contents =
      read_session(dir->get(), place.from, spec.manifest, spec.marker, spec.max_result_bytes);
  if (!contents.ok()) return fs_failure(contents.error(), std::move(fields));
  set_verdict_fields(contents->verdict, fields);
  if (contents->verdict.complete) {
    fields.set("state", "complete");
    return make_success(std::string(kFailAction) + ": session '" + name +
                            "' is complete: not failed (complete_session moves it)",
                        std::move(fields));
  }
  dir->reset();
  Result<detail::Placement> placed = move_session(place);
  if (!placed.ok() && placed.error().code == -ENOENT) {
    fields.set("state", "gone");
    return make_success(std::string(kFailAction) + ": session '" + name +
                            "' was moved meanwhile (completed): nothing to fail",
                        std::move(fields));
  }
  if (!placed.ok()) return action_failure(kFailAction, placed.error(), fields);
  const std::string moved_to = join_path(place.to_dir, placed->final_name);
  fields.set("state", "failed");
  fields.set("to", moved_to);
  const std::string report = join_path(moved_to, kRecoveryReportName);
  fields.set("report", report);
  // The report goes in after the move, so the session never gets a new file
  // while it is still in temp/ (which would count as activity). A daemon killed
  // before it is written writes it when the resumed action finds the session
  // in `to` (failed_before).
  Result<UniqueFd> moved = open_moved(place, placed->final_name);
  if (!moved.ok()) return fs_failure(moved.error(), std::move(fields));
  if (Status w = write_file_replacing(moved->get(), kRecoveryReportName,
                                      recovery_report(spec, name, *contents, moved->get()), report);
      !w)
    return fs_failure(w.error(), std::move(fields));
  return make_success(std::string(kFailAction) + ": session '" + name + "' did not complete (" +
                          spec.reason + "); moved to '" + moved_to + "' with " +
                          kRecoveryReportName,
                      std::move(fields));
}

namespace {

constexpr const char* kIntegrateAction = "integrate_session";

// Names this daemon process in the claims it writes: a claim carrying it is an
// integration this process is running now ("in_progress"), any other one was
// left by a process that died (in doubt). The pid alone could be reused.
const std::string& process_token() {
  static const std::string token = [] {
    std::random_device rd;
    return std::to_string(::getpid()) + "-" + std::to_string(rd()) + std::to_string(rd());
  }();
  return token;
}

IntegrationStart done(ActionOutcome outcome) {
  IntegrationStart start;
  start.next = IntegrationStart::Next::kDone;
  start.outcome = std::move(outcome);
  return start;
}

}  // namespace

IntegrationStart prepare_integration(const IntegrateSessionSpec& spec) {
  using namespace outcome_category;
  Fields fields;
  SessionPlace place;
  if (std::optional<ActionOutcome> bad =
          locate_session(kIntegrateAction, spec.session, spec.to, spec.root, place, fields))
    return done(std::move(*bad));
  const std::string& name = place.name;
  Result<UniqueFd> dir = open_session(place);
  if (!dir.ok()) {
    if (dir.error().code != -ENOENT)
      return done(action_failure(kIntegrateAction, dir.error(), fields));
    const bool moved = open_moved(place).ok();
    fields.set("state", moved ? "integrated_before" : "gone");
    if (moved) fields.set("to", join_path(place.to_dir, name));
    return done(make_success(std::string(kIntegrateAction) + ": session '" + name +
                                 (moved ? "' is already in '" + place.to_dir + "'"
                                        : "' is no longer in '" + parent_dir(place.from) + "'"),
                             std::move(fields)));
  }
  IntegrationStart start;
  start.session_dir = place.from;
  start.name = name;
  if (is_regular(dir->get(), spec.marker)) {
    start.next = IntegrationStart::Next::kFinalize;
    return start;
  }
  std::string claim;
  JsonObjectWriter w(claim);
  w.str("session", name)
      .str("started_at", format_time_utc(spec.time))
      .str("rule", spec.rule)
      .unum("cause_seq", spec.cause_seq)
      .str("daemon", process_token());
  w.close();
  claim.push_back('\n');
  const std::string claim_path = join_path(place.from, spec.claim);
  UniqueFd fd(::openat(dir->get(), spec.claim.c_str(),
                       O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600));
  if (!fd && errno == EEXIST) {
    Result<std::string> held = read_regular_file_at(dir->get(), spec.claim, 4096, claim_path);
    if (held.ok() && held->find("\"daemon\":\"" + process_token() + "\"") != std::string::npos) {
      fields.set("state", "in_progress");
      return done(make_success(
          std::string(kIntegrateAction) + ": session '" + name + "' is being integrated already",
          std::move(fields)));
    }
    struct stat st {};
    std::string since;
    if (::fstatat(dir->get(), spec.claim.c_str(), &st, AT_SYMLINK_NOFOLLOW) == 0)
      since = " at " + format_time_utc(WallTime(std::chrono::seconds(st.st_mtim.tv_sec)));
    fields.set("state", "in_doubt");
    fields.set("claim", claim_path);
    return done(make_failure(
        kExecution,
        std::string(kIntegrateAction) + ": session '" + name + "' was claimed for integration" +
            since + " (" + claim_path + ") and never finished: it may have run, so it is not run " +
            "again",
        "check whether the integration took effect; `agentwatch recover fix` runs it again, or "
        "create " +
            join_path(place.from, spec.marker) + " if it did",
        std::move(fields)));
  }
  if (!fd)
    return done(fs_failure(
        errno_error(std::string(kIntegrateAction) + ": cannot create '" + claim_path + "'", errno),
        std::move(fields)));
  // Durable before the command runs: after a crash the claim must be there if
  // the command may have been.
  if (Status st = write_all_and_sync(fd.get(), claim); !st)
    return done(fs_failure(st.error(), std::move(fields)));
  if (::fsync(dir->get()) != 0)
    return done(
        fs_failure(errno_error("cannot flush '" + place.from + "'", errno), std::move(fields)));
  start.next = IntegrationStart::Next::kRun;
  return start;
}

ActionOutcome finish_integration(const IntegrateSessionSpec& spec, const Fields& run_fields,
                                 int attempts) {
  Fields fields = run_fields;
  SessionPlace place;
  if (std::optional<ActionOutcome> bad =
          locate_session(kIntegrateAction, spec.session, spec.to, spec.root, place, fields))
    return std::move(*bad);
  const std::string& name = place.name;
  Result<UniqueFd> dir = open_session(place);
  if (!dir.ok()) return action_failure(kIntegrateAction, dir.error(), fields);
  const bool ran = !run_fields.empty();
  if (!is_regular(dir->get(), spec.marker)) {
    std::string marker;
    JsonObjectWriter w(marker);
    w.str("session", name)
        .str("integrated_at", format_time_utc(spec.time))
        .str("rule", spec.rule)
        .unum("cause_seq", spec.cause_seq)
        .num("attempts", attempts);
    w.close();
    marker.push_back('\n');
    if (Status st = write_file_replacing(dir->get(), spec.marker, marker,
                                         join_path(place.from, spec.marker));
        !st)
      return fs_failure(st.error(), std::move(fields));
  }
  dir->reset();
  Result<detail::Placement> placed = move_session(place);
  if (!placed.ok() && placed.error().code == -ENOENT && open_moved(place).ok()) {
    fields.set("state", "integrated_before");
    fields.set("to", join_path(place.to_dir, name));
    return make_success(std::string(kIntegrateAction) + ": session '" + name + "' is already in '" +
                            place.to_dir + "'",
                        std::move(fields));
  }
  if (!placed.ok()) return action_failure(kIntegrateAction, placed.error(), fields);
  const std::string moved_to = join_path(place.to_dir, placed->final_name);
  fields.set("state", "integrated");
  fields.set("how", ran ? "command" : "marker");
  fields.set("to", moved_to);
  return make_success(std::string(kIntegrateAction) + ": session '" + name + "' integrated" +
                          (ran ? "" : " (its marker was there already)") + ", moved to '" +
                          moved_to + "'",
                      std::move(fields));
}

void release_integration(const IntegrateSessionSpec& spec) {
  Fields ignored;
  SessionPlace place;
  if (locate_session(kIntegrateAction, spec.session, spec.to, spec.root, place, ignored)) return;
  Result<UniqueFd> dir = open_session(place);
  if (!dir.ok()) return;
  if (::unlinkat(dir->get(), spec.claim.c_str(), 0) == 0) ::fsync(dir->get());
}

}  // namespace aw
