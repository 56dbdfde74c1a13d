#include "src/actions/json_repair_file.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <climits>
#include <optional>
#include <variant>

#include "src/actions/confined_path.h"
#include "src/actions/file_move.h"
#include "src/actions/file_write.h"
#include "src/actions/fs_failure.h"
#include "src/json/json_check.h"
#include "src/json/json_repair.h"
#include "src/os/errno_text.h"
#include "src/os/files.h"
#include "src/os/unique_fd.h"

namespace aw {

namespace detail {

std::string repaired_name(const std::string& name) {
  const std::size_t dot = name.rfind('.');
  if (dot == std::string::npos || dot == 0) return name + ".repaired";
  return name.substr(0, dot) + ".repaired" + name.substr(dot);
}

}  // namespace detail

namespace {

constexpr int kMaxCandidates = 10000;
constexpr const char* kAction = "repair_json";

// Whether the regular file `name` in `dir` holds exactly `content`.
bool holds(int dir, const std::string& name, std::string_view content) {
  Result<std::string> text = read_regular_file_at(dir, name, content.size(), name);
  return text.ok() && *text == content;
}

// The first numbered variant of `name` in `dir` that is free or already holds
// `content` (a copy an earlier attempt wrote): where the copy goes.
std::string copy_name(int dir, const std::string& name, std::string_view content) {
  for (int n = 0; n < kMaxCandidates; ++n) {
    std::string candidate = detail::numbered_name(name, n);
    struct stat st {};
    if (::fstatat(dir, candidate.c_str(), &st, AT_SYMLINK_NOFOLLOW) != 0 && errno == ENOENT)
      return candidate;
    if (holds(dir, candidate, content)) return candidate;
  }
  return name;  // place_copy reports the lack of a free name
}

// Writes `content` durably (mode 0600) as `first` in `dir`, or finds it there
// already; when `first` was taken meanwhile, as the next free numbered variant
// of `name`. Returns the final name.
Result<std::string> place_copy(int dir, const std::string& name, const std::string& first,
                               std::string_view content, const std::string& shown_dir) {
  if (holds(dir, first, content)) return first;
  const std::string tmp = temporary_name(name);
  UniqueFd fd(
      ::openat(dir, tmp.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600));
  if (!fd) return errno_error("cannot create a temporary file in '" + shown_dir + "'", errno);
  Status written = write_all_and_sync(fd.get(), content);
  fd.reset();
  const auto drop_tmp = [&] { ::unlinkat(dir, tmp.c_str(), 0); };
  if (!written.ok()) {
    drop_tmp();
    return written.error();
  }
  std::string candidate = first;
  for (int n = 0; n < kMaxCandidates; candidate = detail::numbered_name(name, ++n)) {
    const int rc = rename_noreplace(dir, tmp, dir, candidate);
    if (rc == 0) {
      if (::fsync(dir) != 0) return errno_error("cannot fsync '" + shown_dir + "'", errno);
      return candidate;
    }
    if (rc != -EEXIST) {
      drop_tmp();
      return errno_error("cannot rename into '" + join_path(shown_dir, candidate) + "'", -rc);
    }
    if (holds(dir, candidate, content)) {
      drop_tmp();
      return candidate;
    }
  }
  drop_tmp();
  return errno_error("no free name for '" + join_path(shown_dir, name) + "'", EEXIST);
}

std::string describe(const std::vector<JsonChange>& changes) {
  std::string out;
  for (const JsonChange& c : changes) {
    if (!out.empty()) out += "; ";
    out += c.what + " at " + std::to_string(c.offset);
  }
  return out;
}

std::string error_text(const JsonError& e) {
  return "not valid JSON at byte " + std::to_string(e.offset) + ": " + e.message;
}

// Moves the original into the quarantine with a reason file.
ActionOutcome quarantine_original(const RepairJsonSpec& spec, const std::string& from,
                                  std::string reason, const JsonError& error) {
  MoveSpec move{from, spec.quarantine, spec.root,
                QuarantineNote{std::move(reason), spec.time, spec.rule, spec.cause_seq,
                               error.message, error.offset},
                spec.resumed};
  return move_file(move);
}

// An error of this action, named as its own.
Error prefixed(const Error& e) {
  return make_error(std::string(kAction) + ": " + e.message, e.code);
}

}  // namespace

ActionOutcome repair_json_file(const RepairJsonSpec& spec) {
  using namespace outcome_category;
  if (spec.source.empty())
    return make_failure(kValidation, "repair_json: no file to repair",
                        "give the action a path (usually the event's {path})");
  const ActionRoot root(spec.root);
  const std::string from = root.absolute(spec.source);
  Fields fields;
  fields.set("from", from);
  const std::optional<ConfinedPath> src = root.confine(from);
  if (!src || src->rel.empty())
    return make_failure(kPermission,
                        std::string(kAction) + ": '" + from + "' is not a file under the root '" +
                            root.root() + "'",
                        "only files under the rule's root can be repaired", std::move(fields));
  const auto [parent_rel, name] = split_parent(src->rel);
  const std::string copy_dir = spec.to.empty() ? parent_dir(from) : root.absolute(spec.to);
  const std::optional<ConfinedPath> dst = root.confine(copy_dir);
  if (!dst)
    return make_failure(kPermission,
                        std::string(kAction) + ": destination '" + copy_dir +
                            "' is outside the root '" + root.root() + "'",
                        "keep 'to' under the rule's root, or change root", std::move(fields));

  const std::string base = root.walk_base();
  UniqueFd base_fd(::open(base.c_str(), O_PATH | O_DIRECTORY | O_CLOEXEC));
  if (!base_fd)
    return fs_failure(errno_error(std::string(kAction) + ": cannot open '" + base + "'", errno),
                      std::move(fields));
  Result<UniqueFd> parent = open_dir_beneath(base_fd.get(), base, parent_rel,
                                             OpenDirOptions{.create = false, .for_sync = false});
  Result<std::string> text = parent.ok()
                                 ? read_regular_file_at(parent->get(), name, spec.max_bytes, from)
                                 : Result<std::string>(parent.error());
  bool already_quarantined = false;
  if (!text.ok() && text.error().code == -ENOENT && spec.resumed && !spec.quarantine.empty()) {
    // The attempt a killed daemon had in flight may have quarantined it
    // before writing the copy (finish from the quarantined original), or
    // written the copy too (and the session it completed may have moved on).
    const std::string quarantine = root.absolute(spec.quarantine);
    const std::optional<ConfinedPath> q = root.confine(quarantine);
    Result<UniqueFd> qdir =
        q ? open_dir_beneath(base_fd.get(), base, q->rel, OpenDirOptions{.for_sync = false})
          : Result<UniqueFd>(make_error("outside the root", -EXDEV));
    if (qdir.ok()) {
      Result<std::string> kept =
          read_regular_file_at(qdir->get(), name, spec.max_bytes, join_path(quarantine, name));
      if (kept.ok()) {
        text = std::move(kept);
        already_quarantined = true;
        fields.set("quarantined", join_path(quarantine, name));
      }
    }
  }
  if (!text.ok()) return fs_failure(prefixed(text.error()), std::move(fields));

  const std::optional<JsonError> error = check_json(*text);
  if (!error) {
    fields.set("result", "valid");
    return make_success(std::string(kAction) + ": '" + from + "' is valid JSON; nothing to repair",
                        std::move(fields));
  }
  fields.set("error", error->message);
  fields.set("error_offset", static_cast<std::int64_t>(error->offset));

  std::variant<JsonRepair, JsonUnrepairable> repaired = repair_json(*text);
  if (auto* bad = std::get_if<JsonUnrepairable>(&repaired)) {
    fields.set("why", bad->why);
    const std::string reason = error_text(*error) + "; not repairable: " + bad->why;
    if (already_quarantined) {
      fields.set("result", "quarantined");
      return make_success(std::string(kAction) + ": '" + from + "' is " + reason +
                              "; quarantined (before the daemon restarted)",
                          std::move(fields));
    }
    if (spec.quarantine.empty())
      return make_failure(kExecution, std::string(kAction) + ": '" + from + "' is " + reason,
                          "fix the file by hand, or give the action a quarantine directory",
                          std::move(fields));
    ActionOutcome moved = quarantine_original(spec, from, reason, *error);
    if (!moved.ok) return moved;
    fields.set("result", "quarantined");
    fields.set("quarantined", moved.fields.get_string("to").value_or(""));
    return make_success(std::string(kAction) + ": '" + from + "' is " + reason + "; quarantined",
                        std::move(fields));
  }

  // The original goes to the quarantine before the copy appears: in a result
  // session the copy completes the session, which moves the directory the
  // original is in.
  const JsonRepair& fix = std::get<JsonRepair>(repaired);
  // Finishing a killed attempt never creates the copy's directory again: gone,
  // it went with the session the copy completed.
  Result<UniqueFd> out_dir =
      open_dir_beneath(base_fd.get(), base, dst->rel,
                       OpenDirOptions{.create = !already_quarantined, .for_sync = true});
  if (!out_dir.ok() && already_quarantined && out_dir.error().code == -ENOENT) {
    fields.set("result", "repaired");
    return make_success(std::string(kAction) + ": '" + from +
                            "' was repaired and quarantined before the daemon restarted; '" +
                            copy_dir + "' has moved on since",
                        std::move(fields));
  }
  if (!out_dir.ok())
    return fs_failure(make_error(std::string(kAction) + ": destination: " + out_dir.error().message,
                                 out_dir.error().code),
                      std::move(fields));
  const std::string wanted = detail::repaired_name(name);
  const std::string first = copy_name(out_dir->get(), wanted, fix.text);
  const std::string changes = describe(fix.changes);
  if (!spec.quarantine.empty() && !already_quarantined) {
    ActionOutcome moved = quarantine_original(
        spec, from,
        error_text(*error) + "; repaired into " + join_path(copy_dir, first) + " (" + changes + ")",
        *error);
    if (!moved.ok) return moved;
    fields.set("quarantined", moved.fields.get_string("to").value_or(""));
  }
  Result<std::string> copy = place_copy(out_dir->get(), wanted, first, fix.text, copy_dir);
  if (!copy.ok()) return fs_failure(copy.error(), std::move(fields));
  const std::string copy_path = join_path(copy_dir, *copy);
  fields.set("result", "repaired");
  fields.set("repaired", copy_path);
  fields.set("changes", changes);
  return make_success(
      std::string(kAction) + ": repaired '" + from + "' into '" + copy_path + "' (" + changes + ")",
      std::move(fields));
}

}  // namespace aw
