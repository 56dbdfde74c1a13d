#include "src/actions/ensure_file.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <optional>

#include "src/actions/confined_path.h"
#include "src/actions/file_move.h"
#include "src/actions/file_write.h"
#include "src/actions/fs_failure.h"
#include "src/os/errno_text.h"
#include "src/os/files.h"
#include "src/os/unique_fd.h"

namespace aw {

namespace {

constexpr const char* kAction = "ensure_file";
constexpr const char* kKeepDir = ".agentwatch-replaced";
constexpr int kMaxCandidates = 10000;

std::string octal(mode_t mode) {
  char buf[16];
  std::snprintf(buf, sizeof buf, "%04o", static_cast<unsigned>(mode & 07777));
  return buf;
}

// An error of this action, named as its own.
Error prefixed(const Error& e) {
  return make_error(std::string(kAction) + ": " + e.message, e.code);
}

// The directory `rel` beneath `base_fd`, opened O_RDONLY so that it can be
// fsynced; missing directories are created (0700: the scripts in a hooks
// directory the daemon makes are nobody else's to read).
Result<UniqueFd> open_or_make_dir(int base_fd, const std::string& base, const std::string& rel) {
  return open_dir_beneath(base_fd, base, rel, OpenDirOptions{.create = true, .for_sync = true});
}

// The source's content: its directory is trusted configuration and opened as
// written, but the file itself is read only as a regular file, never through
// a symlink, and only up to `max_bytes`.
Result<std::string> read_source(const std::string& source, std::uint64_t max_bytes) {
  const std::string dir = parent_dir(source);
  const std::string name = source.substr(source.rfind('/') + 1);
  if (name.empty()) return make_error("'" + source + "' is not a file", -EINVAL);
  UniqueFd dir_fd(::open(dir.c_str(), O_PATH | O_DIRECTORY | O_CLOEXEC));
  if (!dir_fd) return errno_error("cannot open the directory of '" + source + "'", errno);
  Result<std::string> text = read_regular_file_at(dir_fd.get(), name, max_bytes, source);
  if (!text.ok() && text.error().code == -ELOOP)
    return make_error("'" + source + "' is a symlink; a source is never read through one", -ELOOP);
  return text;
}

enum class Found {
  kMissing,
  kIntact,     // same content, same permission bits
  kWrongMode,  // same content; `fd` is open on it for the fchmod
  kOther,      // anything else that may be moved aside: `what` says what
  kDirectory,  // never moved
};

struct Judgement {
  Found found = Found::kMissing;
  UniqueFd fd;
  mode_t mode = 0;
  std::string what;
};

// What stands at `name` in `dir` compared with `content` and `mode`. Cheap in
// the common case: an fstatat, and for a regular file of the right size one
// read of it (no write). The verdict comes from the opened file's fstat, so a
// swap between the fstatat and the open is judged by what was opened.
Result<Judgement> judge(int dir, const std::string& name, std::string_view content, mode_t mode,
                        const std::string& shown) {
  Judgement j;
  struct stat st {};
  if (::fstatat(dir, name.c_str(), &st, AT_SYMLINK_NOFOLLOW) != 0) {
    if (errno == ENOENT) return j;
    return errno_error("cannot stat '" + shown + "'", errno);
  }
  const auto other = [&](const char* what) {
    j.found = Found::kOther;
    j.what = what;
    j.mode = st.st_mode & 07777;
    return std::move(j);
  };
  if (S_ISDIR(st.st_mode)) {
    j.found = Found::kDirectory;
    return j;
  }
  if (S_ISLNK(st.st_mode)) return other("a symlink");
  if (!S_ISREG(st.st_mode)) return other("not a regular file");
  if (static_cast<std::uint64_t>(st.st_size) != content.size())
    return other("a file with other content");
  // O_NONBLOCK: a FIFO swapped in after the fstatat must not hang the pool.
  UniqueFd fd(::openat(dir, name.c_str(), O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC));
  if (!fd) {
    if (errno == ENOENT) return j;
    if (errno == ELOOP) return other("a symlink");
    // Unreadable (mode 0 for a daemon not running as root): its content is
    // unknown, so it is kept aside like any other and a fresh copy written.
    if (errno == EACCES) return other("an unreadable file");
    return errno_error("cannot open '" + shown + "'", errno);
  }
  if (::fstat(fd.get(), &st) != 0) return errno_error("cannot stat '" + shown + "'", errno);
  if (!S_ISREG(st.st_mode)) return other("not a regular file");
  Result<std::string> text = read_fd(fd.get(), content.size(), shown);
  if (!text.ok() && text.error().code != -EFBIG) return text.error();
  if (!text.ok() || *text != content) return other("a file with other content");
  j.mode = st.st_mode & 07777;
  if (j.mode == mode) {
    j.found = Found::kIntact;
    return j;
  }
  j.found = Found::kWrongMode;
  j.fd = std::move(fd);
  return j;
}

// Writes `content` to a new temporary file beside `name`, with exactly
// `mode` (fchmod after the create, which the umask trims), and fsyncs it.
// Returns the temporary name.
Result<std::string> write_temp(int dir, const std::string& name, std::string_view content,
                               mode_t mode, const std::string& shown) {
  std::string tmp;
  UniqueFd fd;
  for (int tries = 0; tries < 100 && !fd; ++tries) {
    tmp = temporary_name(name);
    fd.reset(
        ::openat(dir, tmp.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, mode));
    if (!fd && errno != EEXIST)
      return errno_error("cannot create a temporary file for '" + shown + "'", errno);
  }
  if (!fd) return errno_error("cannot create a temporary file for '" + shown + "'", EEXIST);
  const auto fail = [&](const Error& e) -> Result<std::string> {
    fd.reset();
    ::unlinkat(dir, tmp.c_str(), 0);  // ours, half made
    return e;
  };
  if (::fchmod(fd.get(), mode) != 0)
    return fail(errno_error("cannot set the mode of the copy of '" + shown + "'", errno));
  if (Status s = write_all_and_sync(fd.get(), content); !s.ok())
    return fail(make_error("cannot write the copy of '" + shown + "': " + s.error().message,
                           s.error().code));
  // close() can report a deferred write error (NFS, quota) that fsync did not.
  if (fd.close() != 0) return fail(errno_error("cannot write the copy of '" + shown + "'", errno));
  return tmp;
}

// Moves the entry `name` of `dir` into `keep_dir` under the first free
// numbered name; returns that name. -ENOENT when it has gone meanwhile.
Result<std::string> keep_aside(int dir, const std::string& name, int keep_dir,
                               const std::string& keep_shown) {
  for (int n = 0; n < kMaxCandidates; ++n) {
    const std::string candidate = detail::numbered_name(name, n);
    const int rc = rename_noreplace(dir, name, keep_dir, candidate);
    if (rc == 0) {
      ::fsync(keep_dir);
      return candidate;
    }
    if (rc == -EEXIST || rc == -ENOTEMPTY) continue;
    if (rc == -EXDEV)
      return make_error("cannot move '" + name + "' into '" + keep_shown +
                            "': 'keep' must be on the same filesystem as the file",
                        rc);
    return errno_error("cannot move '" + name + "' into '" + keep_shown + "'", -rc);
  }
  return make_error("no free name for '" + name + "' in '" + keep_shown + "'", -EEXIST);
}

}  // namespace

ActionOutcome ensure_file(const EnsureFileSpec& spec) {
  using namespace outcome_category;
  if (spec.path.empty() || spec.source.empty())
    return make_failure(kValidation, std::string(kAction) + ": needs a path and a source",
                        "give the action path = \"{root}/hooks/stop.sh\" and the source it is "
                        "restored from");
  const mode_t mode = spec.mode;
  if ((mode & ~static_cast<mode_t>(07777)) != 0)
    return make_failure(
        kValidation,
        std::string(kAction) + ": mode " + std::to_string(mode) + " has more than permission bits",
        "give mode as permission bits, e.g. 0755");
  const ActionRoot root(spec.root);
  const std::string target = root.absolute(spec.path);
  const std::string source = root.absolute(spec.source);
  Fields fields;
  fields.set("path", target);
  fields.set("source", source);
  fields.set("state", "failed");
  fields.set("mode", octal(mode));

  const std::optional<ConfinedPath> at = root.confine(target);
  if (!at || at->rel.empty())
    return make_failure(kPermission,
                        std::string(kAction) + ": '" + target + "' is not a file under the root '" +
                            root.root() + "'",
                        "only files under the rule's root can be ensured: fix root or path",
                        std::move(fields));
  const std::string target_dir = parent_dir(target);
  const std::string keep =
      spec.keep.empty() ? join_path(target_dir, kKeepDir) : root.absolute(spec.keep);
  const std::optional<ConfinedPath> keep_at = root.confine(keep);
  if (!keep_at)
    return make_failure(kPermission,
                        std::string(kAction) + ": keep directory '" + keep +
                            "' is outside the root '" + root.root() + "'",
                        "keep 'keep' under the rule's root, or change root", std::move(fields));

  // The source first: when it cannot be read nothing at `path` is touched
  // (no directory created, nothing moved aside).
  Result<std::string> content = read_source(source, spec.max_bytes);
  if (!content.ok()) {
    ActionOutcome o =
        fs_failure(make_error(std::string(kAction) + ": source: " + content.error().message +
                                  "; '" + target + "' was NOT restored",
                              content.error().code),
                   std::move(fields));
    o.suggestion =
        "fix the rule's source: it must be a readable regular file (not a symlink) of "
        "at most " +
        std::to_string(spec.max_bytes) + " bytes";
    return o;
  }

  const std::string walk_base = root.walk_base();
  UniqueFd base_fd(::open(walk_base.c_str(), O_PATH | O_DIRECTORY | O_CLOEXEC));
  if (!base_fd)
    return fs_failure(
        errno_error(std::string(kAction) + ": cannot open '" + walk_base + "'", errno),
        std::move(fields));
  const auto [parent_rel, name] = split_parent(at->rel);
  Result<UniqueFd> dir = open_or_make_dir(base_fd.get(), walk_base, parent_rel);
  if (!dir.ok()) return fs_failure(prefixed(dir.error()), std::move(fields));

  std::optional<UniqueFd> keep_fd;  // opened (and made) only when something is moved aside
  std::string kept;
  std::string why;  // what was moved aside, for the message
  // Twice at most: a second pass only when something appeared at `path`
  // between the judgement and the rename (another run, the agent itself).
  for (int attempt = 0;; ++attempt) {
    Result<Judgement> j = judge(dir->get(), name, *content, mode, target);
    if (!j.ok()) return fs_failure(prefixed(j.error()), std::move(fields));
    switch (j->found) {
      case Found::kIntact:
        fields.set("state", "intact");
        return make_success(std::string(kAction) + ": '" + target + "' is intact",
                            std::move(fields));
      case Found::kDirectory:
        return make_failure(kExecution,
                            std::string(kAction) + ": '" + target +
                                "' is a directory; it is never moved, so the file was NOT restored",
                            "move the directory away by hand; the file is restored on the next run",
                            std::move(fields));
      case Found::kWrongMode: {
        if (::fchmod(j->fd.get(), mode) != 0)
          return fs_failure(
              errno_error(std::string(kAction) + ": cannot set the mode of '" + target + "'",
                          errno),
              std::move(fields));
        ::fsync(j->fd.get());  // the inode change, durable like a restore
        fields.set("state", "mode_fixed");
        fields.set("old_mode", octal(j->mode));
        return make_success(std::string(kAction) + ": '" + target + "' had mode " + octal(j->mode) +
                                "; set to " + octal(mode),
                            std::move(fields));
      }
      case Found::kMissing:
      case Found::kOther:
        break;
    }

    // Written before anything is moved aside, so `path` is missing only for
    // the moment between the two renames.
    Result<std::string> tmp = write_temp(dir->get(), name, *content, mode, target);
    if (!tmp.ok()) return fs_failure(prefixed(tmp.error()), std::move(fields));
    const auto drop_tmp = [&] { ::unlinkat(dir->get(), tmp->c_str(), 0); };
    if (j->found == Found::kOther) {
      if (!keep_fd) {
        Result<UniqueFd> k = open_or_make_dir(base_fd.get(), walk_base, keep_at->rel);
        if (!k.ok()) {
          drop_tmp();
          return fs_failure(
              make_error(std::string(kAction) + ": keep directory: " + k.error().message + "; '" +
                             target + "' was NOT restored",
                         k.error().code),
              std::move(fields));
        }
        keep_fd = std::move(k.value());
      }
      Result<std::string> moved = keep_aside(dir->get(), name, keep_fd->get(), keep);
      if (moved.ok()) {
        kept = join_path(keep, *moved);
        fields.set("kept", kept);
        why = " (it was " + j->what + "; kept as '" + kept + "')";
      } else if (moved.error().code != -ENOENT) {  // gone meanwhile: as missing
        drop_tmp();
        return fs_failure(make_error(std::string(kAction) + ": " + moved.error().message + "; '" +
                                         target + "' was NOT restored",
                                     moved.error().code),
                          std::move(fields));
      }
    }
    const int rc = rename_noreplace(dir->get(), *tmp, dir->get(), name);
    if (rc == -EEXIST && attempt == 0) {
      drop_tmp();
      continue;  // judge what appeared
    }
    if (rc != 0) {
      drop_tmp();
      return fs_failure(
          errno_error(std::string(kAction) + ": cannot put the copy in place at '" + target + "'",
                      -rc),
          std::move(fields));
    }
    if (::fsync(dir->get()) != 0)
      return fs_failure(
          errno_error(std::string(kAction) + ": cannot fsync the directory of '" + target + "'",
                      errno),
          std::move(fields));
    const bool replaced = !kept.empty();
    fields.set("state", replaced ? "replaced" : "restored");
    fields.set("bytes", static_cast<std::int64_t>(content->size()));
    return make_success(std::string(kAction) + ": " + (replaced ? "replaced" : "restored") + " '" +
                            target + "' from '" + source + "'" + why,
                        std::move(fields));
  }
}

}  // namespace aw
