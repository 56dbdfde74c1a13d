#include "src/actions/result_session.h"

#include <fcntl.h>
#include <simdjson.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <set>

#include "src/actions/confined_path.h"
#include "src/actions/file_move.h"
#include "src/actions/fs_failure.h"
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

ActionOutcome complete_session(const CompleteSessionSpec& spec) {
  using namespace outcome_category;
  if (spec.session.empty() || spec.to.empty())
    return make_failure(kValidation, std::string(kAction) + ": needs a session and 'to'",
                        "give the action session = \"{dir}\" and to = \"{root}/completed\"");
  const ActionRoot root(spec.root);
  const std::string from = root.absolute(spec.session);
  const std::string to_dir = root.absolute(spec.to);
  const std::string walk_base = root.walk_base();
  Fields fields;
  fields.set("from", from);
  const std::optional<ConfinedPath> src = root.confine(from);
  const std::optional<ConfinedPath> dst = root.confine(to_dir);
  if (!src || src->rel.empty() || !dst)
    return make_failure(kPermission,
                        std::string(kAction) + ": '" + from + "' and '" + to_dir +
                            "' must both lie under the root '" + root.root() + "'",
                        "keep the session and 'to' under the rule's root", std::move(fields));
  auto [parent_rel, name] = split_parent(src->rel);
  fields.set("session", name);

  UniqueFd base_fd(::open(walk_base.c_str(), O_PATH | O_DIRECTORY | O_CLOEXEC));
  if (!base_fd)
    return fs_failure(
        errno_error(std::string(kAction) + ": cannot open '" + walk_base + "'", errno),
        std::move(fields));
  Result<UniqueFd> dir =
      open_dir_beneath(base_fd.get(), walk_base, src->rel, OpenDirOptions{.for_sync = true});
  if (!dir.ok()) {
    if (dir.error().code == -ENOENT) {
      // Gone: another check of the same session (or the attempt a killed
      // daemon had in flight) moved it.
      Result<UniqueFd> moved =
          open_dir_beneath(base_fd.get(), walk_base, dst->rel, OpenDirOptions{.for_sync = false});
      struct stat st {};
      if (moved.ok() && ::fstatat(moved->get(), name.c_str(), &st, AT_SYMLINK_NOFOLLOW) == 0 &&
          S_ISDIR(st.st_mode)) {
        fields.set("state", "completed_before");
        fields.set("to", join_path(to_dir, name));
        return make_success(
            std::string(kAction) + ": session '" + name + "' is already in '" + to_dir + "'",
            std::move(fields));
      }
    }
    return fs_failure(
        make_error(std::string(kAction) + ": " + dir.error().message, dir.error().code),
        std::move(fields));
  }

  std::optional<SessionManifest> manifest;
  const std::string shown = join_path(from, spec.manifest);
  Result<std::string> text = read_regular_file_at(dir->get(), spec.manifest, 1 << 20, shown);
  if (!text.ok() && !is_absent(text.error())) return fs_failure(text.error(), std::move(fields));
  if (text.ok()) {
    Result<SessionManifest> parsed = parse_session_manifest(*text);
    if (!parsed.ok())
      return make_failure(kValidation,
                          std::string(kAction) + ": " + shown + ": " + parsed.error().message,
                          "fix the session's manifest; the session completes once it is valid "
                          "and satisfied",
                          std::move(fields));
    manifest = std::move(*parsed);
  }

  std::map<std::string, AgentFiles> agents;
  if (manifest) {
    for (const std::string& agent : manifest->agents) {
      AgentFiles f;
      if (std::optional<bool> v =
              json_file_valid(dir->get(), agent + ".json", spec.max_result_bytes))
        f.result = true, f.result_valid = *v;
      if (std::optional<bool> v =
              json_file_valid(dir->get(), agent + ".repaired.json", spec.max_result_bytes))
        f.repaired = true, f.repaired_valid = *v;
      agents.emplace(agent, f);
    }
  }
  const SessionVerdict verdict =
      judge_session(manifest, is_regular(dir->get(), spec.marker), agents);
  fields.set("valid", joined(verdict.valid));
  fields.set("repaired", joined(verdict.repaired));
  fields.set("invalid", joined(verdict.invalid));
  fields.set("missing", joined(verdict.missing));
  if (!verdict.complete) {
    fields.set("state", "waiting");
    std::string waiting_on =
        manifest ? std::to_string(verdict.missing.size() + verdict.invalid.size()) + " of " +
                       std::to_string(manifest->agents.size()) + " agents"
                 : "a manifest (" + spec.manifest + ") or a marker (" + spec.marker + ")";
    return make_success(
        std::string(kAction) + ": session '" + name + "' is waiting on " + waiting_on,
        std::move(fields));
  }
  fields.set("how", verdict.how);
  dir->reset();

  Result<UniqueFd> parent =
      open_dir_beneath(base_fd.get(), walk_base, parent_rel, OpenDirOptions{.for_sync = true});
  if (!parent.ok())
    return fs_failure(
        make_error(std::string(kAction) + ": " + parent.error().message, parent.error().code),
        std::move(fields));
  Result<UniqueFd> dest =
      open_dir_beneath(base_fd.get(), walk_base, dst->rel, OpenDirOptions{.create = true});
  if (!dest.ok())
    return fs_failure(make_error(std::string(kAction) + ": destination: " + dest.error().message,
                                 dest.error().code),
                      std::move(fields));
  // One rename into the first free name: `name`, `name.1`, ... (move's naming).
  Result<detail::Placement> placed =
      detail::place(parent->get(), name, dest->get(), false, nullptr);
  if (!placed.ok() && placed.error().code == -ENOENT) {
    // Another check moved it between our judgement and this rename.
    fields.set("state", "completed_before");
    return make_success(
        std::string(kAction) + ": session '" + name + "' was completed by another check meanwhile",
        std::move(fields));
  }
  if (!placed.ok())
    return fs_failure(
        make_error(std::string(kAction) + ": " + placed.error().message, placed.error().code),
        std::move(fields));
  const std::string moved_to = join_path(to_dir, placed->final_name);
  fields.set("state", "completed");
  fields.set("to", moved_to);
  return make_success(std::string(kAction) + ": session '" + name + "' is complete (by " +
                          verdict.how + "), moved to '" + moved_to + "'",
                      std::move(fields));
}

}  // namespace aw
