#include "src/actions/retention.h"

#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <memory>
#include <optional>

#include "src/actions/confined_path.h"
#include "src/actions/fs_failure.h"
#include "src/core/byte_size.h"
#include "src/core/duration.h"
#include "src/core/glob.h"
#include "src/os/errno_text.h"
#include "src/os/unique_fd.h"

namespace aw {

namespace {

constexpr const char* kAction = "retain";

struct DirCloser {
  void operator()(DIR* d) const { ::closedir(d); }
};
using DirStream = std::unique_ptr<DIR, DirCloser>;

// ".<name>.<pid>.<counter>.agentwatch-tmp" (file_write.h): a write of another
// action in flight, renamed into place or removed by that action.
bool is_action_temporary(std::string_view name) {
  constexpr std::string_view kSuffix = ".agentwatch-tmp";
  return name.size() > kSuffix.size() && name.front() == '.' && name.ends_with(kSuffix);
}

WallTime mtime_of(const struct stat& st) {
  return WallTime(std::chrono::seconds(st.st_mtim.tv_sec) +
                  std::chrono::nanoseconds(st.st_mtim.tv_nsec));
}

const char* type_name(mode_t type) {
  switch (type) {
    case S_IFIFO:
      return "a FIFO";
    case S_IFSOCK:
      return "a socket";
    case S_IFCHR:
      return "a character device";
    case S_IFBLK:
      return "a block device";
    default:
      return "of an unknown file type";
  }
}

bool deletable(mode_t type) {
  return type == S_IFREG || type == S_IFLNK || type == S_IFDIR;
}

Error too_deep() {
  return make_error("more than " + std::to_string(kRetentionMaxDepth) +
                    " levels of nested directories (retain's limit); delete it by hand");
}

// The names in the directory `dirfd` (opened O_RDONLY), without "." and "..".
// Read whole before anything in it is deleted: unlinking while readdir walks
// the same stream may make it skip names.
Result<std::vector<std::string>> list_names(int dirfd, const std::string& shown) {
  // fdopendir takes the descriptor over, so it gets a duplicate; that shares
  // the file offset with `dirfd`, hence the rewind.
  UniqueFd dup(::fcntl(dirfd, F_DUPFD_CLOEXEC, 0));
  if (!dup) {
    const int err = errno;
    return errno_error("cannot list '" + shown + "'", err);
  }
  DirStream stream(::fdopendir(dup.get()));
  if (!stream) {
    const int err = errno;
    return errno_error("cannot list '" + shown + "'", err);
  }
  dup.release();
  ::rewinddir(stream.get());
  std::vector<std::string> names;
  for (;;) {
    errno = 0;
    const dirent* ent = ::readdir(stream.get());
    if (ent == nullptr) {
      if (errno != 0) {
        const int err = errno;
        return errno_error("cannot list '" + shown + "'", err);
      }
      break;
    }
    const std::string_view name = ent->d_name;
    if (name != "." && name != "..") names.emplace_back(name);
  }
  return names;
}

// The directory `name` in `dirfd`, readable (for readdir) and never through a
// symlink: one swapped in since it was looked at fails with ELOOP or ENOTDIR.
Result<UniqueFd> open_subdir(int dirfd, const std::string& name, const std::string& shown) {
  UniqueFd fd(::openat(dirfd, name.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC));
  if (!fd) {
    const int err = errno;
    return errno_error("cannot open '" + shown + "'", err);
  }
  return fd;
}

// Raises `newest` to the newest mtime of anything inside the directory
// `dirfd`, which is `depth` levels down (the entry is level 1), recursively.
// Symlinks are not followed: a link's own mtime counts.
Status scan_newest(int dirfd, const std::string& shown, int depth, WallTime& newest) {
  Result<std::vector<std::string>> names = list_names(dirfd, shown);
  if (!names) return names.error();
  for (const std::string& name : *names) {
    const std::string path = join_path(shown, name);
    struct stat st {};
    if (::fstatat(dirfd, name.c_str(), &st, AT_SYMLINK_NOFOLLOW) != 0) {
      const int err = errno;
      if (err == ENOENT) continue;  // removed meanwhile: it dates nothing any more
      return errno_error("cannot stat '" + path + "'", err);
    }
    newest = std::max(newest, mtime_of(st));
    if (!S_ISDIR(st.st_mode)) continue;
    if (depth >= kRetentionMaxDepth) return too_deep();
    Result<UniqueFd> sub = open_subdir(dirfd, name, path);
    if (!sub) {
      if (sub.error().code == -ENOENT) continue;
      return sub.error();
    }
    if (Status s = scan_newest(sub->get(), path, depth + 1, newest); !s) return s;
  }
  return Status::Ok();
}

struct Entry {
  std::string name;
  std::string path;  // absolute, for reports
  mode_t type = 0;   // the S_IFMT bits
  Duration age{0};
  std::uint64_t size = 0;  // st_size of a regular file
};

// What `name` in `dirfd` is now and how old: nullopt when it is gone; an
// error naming the path when its age cannot be known (then it is kept).
Result<std::optional<Entry>> examine(int dirfd, const std::string& name, const std::string& path,
                                     WallTime now) {
  struct stat st {};
  if (::fstatat(dirfd, name.c_str(), &st, AT_SYMLINK_NOFOLLOW) != 0) {
    const int err = errno;
    if (err == ENOENT) return std::optional<Entry>();
    return errno_error("cannot stat '" + path + "'", err);
  }
  Entry e{.name = name, .path = path, .type = st.st_mode & S_IFMT};
  if (S_ISREG(st.st_mode)) e.size = static_cast<std::uint64_t>(st.st_size);
  WallTime newest = mtime_of(st);
  if (S_ISDIR(st.st_mode)) {
    // A session is as old as its newest file: one still being written is young.
    Result<UniqueFd> fd = open_subdir(dirfd, name, path);
    if (!fd) {
      if (fd.error().code == -ENOENT) return std::optional<Entry>();
      return fd.error();
    }
    if (Status s = scan_newest(fd->get(), path, 1, newest); !s) return s.error();
  }
  e.age = now - newest;
  return std::optional<Entry>(std::move(e));
}

// What a deletion removed, also when it failed part way.
struct Tally {
  std::uint64_t files = 0;  // everything but directories: files, symlinks, other nodes
  std::uint64_t dirs = 0;
  std::uint64_t bytes = 0;  // st_size of the regular files among them
};

// Deletes everything inside the directory `dirfd` (`depth` levels down),
// through descriptors only. Stops at the first failure: the caller reports
// the entry as partly deleted, and the next run tries again.
Status empty_directory(int dirfd, const std::string& shown, int depth, Tally& tally) {
  Result<std::vector<std::string>> names = list_names(dirfd, shown);
  if (!names) return names.error();
  for (const std::string& name : *names) {
    const std::string path = join_path(shown, name);
    struct stat st {};
    if (::fstatat(dirfd, name.c_str(), &st, AT_SYMLINK_NOFOLLOW) != 0) {
      const int err = errno;
      if (err == ENOENT) continue;
      return errno_error("cannot stat '" + path + "'", err);
    }
    if (S_ISDIR(st.st_mode)) {
      if (depth >= kRetentionMaxDepth) return too_deep();  // grew since it was scanned
      Result<UniqueFd> sub = open_subdir(dirfd, name, path);
      if (!sub) {
        if (sub.error().code == -ENOENT) continue;
        return sub.error();
      }
      if (Status s = empty_directory(sub->get(), path, depth + 1, tally); !s) return s;
      sub->reset();
      if (::unlinkat(dirfd, name.c_str(), AT_REMOVEDIR) != 0) {
        const int err = errno;
        if (err == ENOENT) continue;
        return errno_error("cannot remove '" + path + "'", err);
      }
      ++tally.dirs;
      continue;
    }
    // A symlink goes as a link; a FIFO or device node inside a session goes
    // as a node (nothing is opened). A name turned into a directory since the
    // fstatat fails with EISDIR and is reported.
    if (::unlinkat(dirfd, name.c_str(), 0) != 0) {
      const int err = errno;
      if (err == ENOENT) continue;
      return errno_error("cannot remove '" + path + "'", err);
    }
    ++tally.files;
    if (S_ISREG(st.st_mode)) tally.bytes += static_cast<std::uint64_t>(st.st_size);
  }
  return Status::Ok();
}

// Deletes the entry `e` of `dirfd`: false when someone else removed it first.
Result<bool> delete_entry(int dirfd, const Entry& e, Tally& tally) {
  if (e.type == S_IFDIR) {
    Result<UniqueFd> fd = open_subdir(dirfd, e.name, e.path);
    if (!fd) {
      if (fd.error().code == -ENOENT) return false;
      return fd.error();
    }
    if (Status s = empty_directory(fd->get(), e.path, 1, tally); !s) return s.error();
    fd->reset();
    if (::unlinkat(dirfd, e.name.c_str(), AT_REMOVEDIR) != 0) {
      const int err = errno;
      if (err == ENOENT) return false;
      return errno_error("cannot remove '" + e.path + "'", err);
    }
    ++tally.dirs;
    return true;
  }
  if (::unlinkat(dirfd, e.name.c_str(), 0) != 0) {
    const int err = errno;
    if (err == ENOENT) return false;
    return errno_error("cannot remove '" + e.path + "'", err);
  }
  ++tally.files;
  tally.bytes += e.size;
  return true;
}

std::string partly(const Tally& t) {
  if (t.files == 0 && t.dirs == 0) return "not deleted";
  return "partly deleted (" + std::to_string(t.files) + " files, " + std::to_string(t.dirs) +
         " directories, " + std::to_string(t.bytes) + " bytes removed)";
}

}  // namespace

Result<RetentionResult> apply_retention(const RetentionSpec& spec) {
  auto invalid = [](const std::string& why) { return make_error(why, -EINVAL); };
  if (spec.dir.empty()) return invalid("needs the directory whose old entries to delete ('dir')");
  if (spec.max_age <= Duration{0})
    return invalid("max_age must be more than 0, got " + format_duration(spec.max_age));
  if (spec.now == WallTime{}) return invalid("the current time ('now') was not given");
  if (spec.max_entries == 0) return invalid("max_entries must be at least 1");
  std::optional<Glob> glob;
  if (!spec.glob.empty()) {
    Result<Glob> compiled = Glob::compile(spec.glob, GlobMode::kPath);
    if (!compiled) return invalid("glob \"" + spec.glob + "\": " + compiled.error().message);
    glob.emplace(std::move(*compiled));
  }
  const ActionRoot root(spec.root);
  const std::string dir = root.absolute(spec.dir);
  if (dir == "/")
    return invalid("refusing to delete the entries of '/': name the directory that holds them");
  const std::optional<ConfinedPath> confined = root.confine(dir);
  if (!confined)
    return make_error("'" + dir + "' must lie under the root '" + root.root() + "'", -EXDEV);

  const std::string walk_base = root.walk_base();
  UniqueFd base_fd(::open(walk_base.c_str(), O_PATH | O_DIRECTORY | O_CLOEXEC));
  if (!base_fd) {
    const int err = errno;
    return errno_error("cannot open '" + walk_base + "'", err);
  }
  // O_RDONLY (for_sync): readdir needs a readable descriptor.
  Result<UniqueFd> dirfd =
      open_dir_beneath(base_fd.get(), walk_base, confined->rel, OpenDirOptions{.for_sync = true});
  if (!dirfd) return dirfd.error();
  Result<std::vector<std::string>> names = list_names(dirfd->get(), dir);
  if (!names) return names.error();

  RetentionResult result;
  std::vector<Entry> due;
  for (const std::string& name : *names) {
    if (is_action_temporary(name)) continue;
    if (glob && !glob->matches(name)) continue;
    const std::string path = join_path(dir, name);
    Result<std::optional<Entry>> e = examine(dirfd->get(), name, path, spec.now);
    if (!e) {
      result.skipped.push_back(path + ": not deleted: " + e.error().message);
      continue;
    }
    if (!*e) continue;
    if ((*e)->age > spec.max_age)
      due.push_back(std::move(**e));
    else
      ++result.kept;
  }

  std::sort(due.begin(), due.end(), [](const Entry& a, const Entry& b) {
    return a.age != b.age ? a.age > b.age : a.name < b.name;
  });
  for (const Entry& listed : due) {
    if (result.deleted.size() == spec.max_entries) {
      result.more = true;
      break;
    }
    // Looked at again just before deleting: a session written to since the
    // listing is young again, and a name may now be something else.
    Result<std::optional<Entry>> fresh = examine(dirfd->get(), listed.name, listed.path, spec.now);
    if (!fresh) {
      result.skipped.push_back(listed.path + ": not deleted: " + fresh.error().message);
      continue;
    }
    if (!*fresh) continue;
    const Entry& e = **fresh;
    if (e.age <= spec.max_age) {
      ++result.kept;
      continue;
    }
    // Only when due: a young FIFO would be kept anyway, and is no news.
    if (!deletable(e.type)) {
      result.skipped.push_back(e.path + ": not deleted: it is " + type_name(e.type) +
                               "; retain deletes only files, symlinks and directories");
      continue;
    }
    Tally tally;
    Result<bool> removed = delete_entry(dirfd->get(), e, tally);
    result.bytes_freed += tally.bytes;
    if (!removed) {
      result.skipped.push_back(e.path + ": " + partly(tally) + ": " + removed.error().message);
      continue;
    }
    if (!*removed) continue;  // another run (or its owner) removed it first
    result.deleted.push_back(RetainedDeletion{
        .path = e.path, .bytes = tally.bytes, .age = e.age, .directory = e.type == S_IFDIR});
  }
  return result;
}

ActionOutcome retention_outcome(const RetentionSpec& spec, const Result<RetentionResult>& r) {
  const std::string dir = ActionRoot(spec.root).absolute(spec.dir);
  Fields fields;
  fields.set("dir", dir);
  if (!r) {
    const Error e = make_error(std::string(kAction) + ": " + r.error().message, r.error().code);
    if (e.code == -EINVAL)
      return make_failure(outcome_category::kValidation, e.message,
                          "fix the rule's retain action: dir, max_age, max_entries or glob",
                          std::move(fields));
    if (e.code == -ENOENT) {
      // Nothing was ever kept there (no session has failed yet): nothing to do.
      fields.set("deleted", FieldValue(std::int64_t{0}));
      fields.set("bytes_freed", FieldValue(std::int64_t{0}));
      fields.set("kept", FieldValue(std::int64_t{0}));
      fields.set("more", false);
      fields.set("skipped", FieldValue(std::int64_t{0}));
      return make_success(
          std::string(kAction) + ": '" + dir + "' does not exist: nothing to delete",
          std::move(fields));
    }
    return fs_failure(e, std::move(fields));
  }
  fields.set("deleted", static_cast<std::int64_t>(r->deleted.size()));
  fields.set("bytes_freed", static_cast<std::int64_t>(r->bytes_freed));
  fields.set("kept", static_cast<std::int64_t>(r->kept));
  fields.set("more", r->more);
  fields.set("skipped", static_cast<std::int64_t>(r->skipped.size()));
  std::string message = std::string(kAction) + ": deleted " + std::to_string(r->deleted.size()) +
                        " entries older than " + format_duration(spec.max_age) + " from '" + dir +
                        "' (" + format_byte_size(r->bytes_freed) + " freed), kept " +
                        std::to_string(r->kept);
  if (r->more)
    message += "; more are due (at most " + std::to_string(spec.max_entries) + " per run)";
  if (!r->skipped.empty())
    message += "; skipped " + std::to_string(r->skipped.size()) + ", first: " + r->skipped.front();
  return make_success(std::move(message), std::move(fields));
}

// ---- disk space ----

Result<DiskSpace> disk_space(const std::string& path) {
  struct statvfs vfs {};
  if (::statvfs(path.c_str(), &vfs) != 0) {
    const int err = errno;
    return errno_error("cannot read the disk space of '" + path + "'", err);
  }
  const std::uint64_t unit = vfs.f_frsize != 0 ? vfs.f_frsize : vfs.f_bsize;
  return DiskSpace{
      .total_bytes = static_cast<std::uint64_t>(vfs.f_blocks) * unit,
      .free_bytes = static_cast<std::uint64_t>(vfs.f_bavail) * unit,
      .total_inodes = static_cast<std::uint64_t>(vfs.f_files),
      .free_inodes = static_cast<std::uint64_t>(vfs.f_favail),
  };
}

}  // namespace aw
