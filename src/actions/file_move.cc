#include "src/actions/file_move.h"

#include <fcntl.h>
#include <stdio.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <climits>
#include <cstring>
#include <memory>
#include <vector>

#include "src/actions/confined_path.h"
#include "src/actions/file_write.h"
#include "src/actions/fs_failure.h"
#include "src/core/json_writer.h"
#include "src/os/crash_point.h"
#include "src/os/errno_text.h"
#include "src/os/files.h"
#include "src/os/unique_fd.h"

namespace aw {
namespace detail {
namespace {

constexpr int kMaxCandidates = 10000;

// Copies the regular file `name` into a new temporary file in dst_dir, durable.
Result<std::string> copy_to_temp(int src_dir, const std::string& name, int dst_dir) {
  // O_NONBLOCK: opening a FIFO planted under the name must not hang the pool.
  UniqueFd src(::openat(src_dir, name.c_str(), O_RDONLY | O_NOFOLLOW | O_CLOEXEC | O_NONBLOCK));
  if (!src) {
    if (errno == ELOOP)
      return make_error("'" + name + "' is a symlink; refusing to copy it", -ELOOP);
    return errno_error("cannot open '" + name + "' to copy it", errno);
  }
  struct stat st {};
  if (::fstat(src.get(), &st) != 0) return errno_error("cannot stat '" + name + "'", errno);
  if (!S_ISREG(st.st_mode))
    return make_error("'" + name +
                          "' is not a regular file and the destination is on another "
                          "filesystem: only regular files can be moved across filesystems",
                      -EOPNOTSUPP);
  std::string tmp;
  UniqueFd dst;
  for (int tries = 0; tries < 100 && !dst; ++tries) {
    tmp = temporary_name(name);
    dst.reset(
        ::openat(dst_dir, tmp.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600));
    if (!dst && errno != EEXIST)
      return errno_error("cannot create a temporary file in the destination", errno);
  }
  if (!dst) return errno_error("cannot create a temporary file in the destination", EEXIST);

  auto fail = [&](Error e) -> Result<std::string> {
    dst.reset();
    ::unlinkat(dst_dir, tmp.c_str(), 0);  // ours, half written
    return e;
  };
  std::vector<char> buf(1 << 18);
  for (;;) {
    ssize_t n = ::read(src.get(), buf.data(), buf.size());
    if (n == 0) break;
    if (n < 0) {
      if (errno == EINTR) continue;
      return fail(errno_error("cannot read '" + name + "'", errno));
    }
    if (Status s = write_all(dst.get(), std::string_view(buf.data(), static_cast<std::size_t>(n)));
        !s)
      return fail(errno_error("cannot write the copy of '" + name + "'", -s.error().code));
  }
  ::fchmod(dst.get(), st.st_mode & 07777);
  const timespec times[2] = {st.st_atim, st.st_mtim};
  ::futimens(dst.get(), times);
  if (::fsync(dst.get()) != 0)
    return fail(errno_error("cannot fsync the copy of '" + name + "'", errno));
  return tmp;
}

}  // namespace

std::string numbered_name(const std::string& name, int n) {
  if (n == 0) return name;
  // The extension starts at the last dot that is not the first character, so
  // dot-files keep their name whole; ".tar.<x>" counts as one extension.
  std::size_t dot = name.rfind('.');
  if (dot == 0 || dot == std::string::npos || name.size() - dot > 16) dot = name.size();
  if (dot != name.size() && dot >= 4 && name.compare(dot - 4, 4, ".tar") == 0 && dot - 4 > 0)
    dot -= 4;
  std::string stem = name.substr(0, dot);
  std::string ext = name.substr(dot);
  std::string tag = "." + std::to_string(n);
  // Keep within NAME_MAX by shortening the stem, never the number or extension.
  std::size_t room = NAME_MAX - tag.size() - ext.size();
  if (stem.size() > room) stem.resize(room);
  return stem + tag + ext;
}

Result<Placement> place(int src_dir, const std::string& name, int dst_dir, bool force_copy,
                        const Companion* companion) {
  struct stat st {};
  if (::fstatat(src_dir, name.c_str(), &st, AT_SYMLINK_NOFOLLOW) != 0) {
    if (errno == ENOENT) return make_error("'" + name + "' does not exist", -ENOENT);
    return errno_error("cannot stat '" + name + "'", errno);
  }
  if (S_ISLNK(st.st_mode))
    return make_error("'" + name + "' is a symlink; symlinks are never moved or followed", -ELOOP);

  bool copying = false;
  std::string tmp;
  auto drop_tmp = [&] {
    if (!tmp.empty()) ::unlinkat(dst_dir, tmp.c_str(), 0);  // our own copy
  };
  auto start_copy = [&]() -> Status {
    Result<std::string> t = copy_to_temp(src_dir, name, dst_dir);
    if (!t.ok()) return t.error();
    tmp = std::move(t.value());
    copying = true;
    return Status::Ok();
  };
  if (force_copy) {
    if (Status s = start_copy(); !s.ok()) return s.error();
  }

  for (int n = 0; n < kMaxCandidates; ++n) {
    std::string candidate = numbered_name(name, n);
    if (companion) {
      int c = companion->claim(candidate);
      if (c == -EEXIST) continue;
      if (c < 0) {
        drop_tmp();
        return make_error(
            std::string("cannot claim the companion of '") + candidate + "': " + errno_text(-c), c);
      }
    }
    int rc = 0;
    if (!copying) {
      rc = rename_noreplace(src_dir, name, dst_dir, candidate);
      if (rc == -EXDEV) {
        if (Status s = start_copy(); !s.ok()) {
          if (companion) companion->release(candidate);
          return s.error();
        }
      }
    }
    if (copying) rc = rename_noreplace(dst_dir, tmp, dst_dir, candidate);
    if (rc == -EEXIST || rc == -ENOTEMPTY) {
      if (companion) companion->release(candidate);
      continue;
    }
    if (rc != 0) {
      if (companion) companion->release(candidate);
      drop_tmp();
      if (rc == -ENOENT) return make_error("'" + name + "' does not exist", -ENOENT);
      std::string message = "cannot move '";
      message.append(name).append("' to '").append(candidate).append("': ");
      message.append(errno_text(-rc));
      return make_error(std::move(message), rc);
    }
    // In place. Make it durable before anything is removed.
    ::fsync(dst_dir);
    crash_point("file-moved");
    if (copying) {
      if (::unlinkat(src_dir, name.c_str(), 0) != 0) {
        int err = errno;
        std::string message = "copied '";
        message.append(name).append("' to '").append(candidate);
        message.append("' but could not remove the source: ").append(errno_text(err));
        return make_error(std::move(message), -err);
      }
    }
    ::fsync(src_dir);
    return Placement{candidate, copying};
  }
  drop_tmp();
  return make_error("no free name for '" + name + "' in the destination after " +
                        std::to_string(kMaxCandidates) + " tries",
                    -EEXIST);
}

}  // namespace detail

namespace {

std::string reason_json(const QuarantineNote& note, const std::string& from) {
  std::string out;
  JsonObjectWriter w(out);
  w.str("reason", note.reason)
      .str("time", format_time_utc(note.time))
      .str("rule", note.rule)
      .unum("cause_seq", note.cause_seq)
      .str("from", from);
  if (!note.error.empty()) w.str("error", note.error).unum("error_offset", note.error_offset);
  w.close();
  out.push_back('\n');
  return out;
}

// When this process started (static initialisation): a claim older than that
// was left by a daemon that is gone.
const std::chrono::system_clock::time_point kProcessStart = std::chrono::system_clock::now();

// The quarantine's ".reason" file, claimed with O_EXCL before the move so that a
// file and its reason always share a free name.
class ReasonFile {
 public:
  explicit ReasonFile(int dir) : dir_(dir) {}
  ~ReasonFile() { fd_.reset(); }
  int claim(const std::string& candidate) {
    name_ = candidate + ".reason";
    fd_.reset(
        ::openat(dir_, name_.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600));
    if (fd_) return 0;
    const int err = errno;
    return err == EEXIST && reclaim_stale(candidate) ? 0 : -err;
  }
  void release() {
    fd_.reset();
    ::unlinkat(dir_, name_.c_str(), 0);  // the empty file we just created
  }
  Status write(std::string_view content) { return write_all_and_sync(fd_.get(), content); }
  const std::string& name() const { return name_; }

 private:
  // An empty reason file beside no file, made before this process started, is
  // a claim whose move never happened: the daemon was killed between the two.
  // Taking it over keeps a quarantine resumed after that kill at the name it
  // would have had. (A newer one is a live claim of another pool thread.)
  bool reclaim_stale(const std::string& candidate) {
    struct stat st {};
    if (::fstatat(dir_, candidate.c_str(), &st, AT_SYMLINK_NOFOLLOW) == 0 || errno != ENOENT)
      return false;
    fd_.reset(::openat(dir_, name_.c_str(), O_WRONLY | O_NOFOLLOW | O_CLOEXEC));
    if (fd_ && ::fstat(fd_.get(), &st) == 0 && S_ISREG(st.st_mode) && st.st_size == 0 &&
        made_before_this_process(st))
      return true;
    fd_.reset();
    return false;
  }
  static bool made_before_this_process(const struct stat& st) {
    const auto made = std::chrono::system_clock::time_point(
        std::chrono::duration_cast<std::chrono::system_clock::duration>(
            std::chrono::seconds(st.st_mtim.tv_sec) +
            std::chrono::nanoseconds(st.st_mtim.tv_nsec)));
    return made < kProcessStart;
  }

  int dir_;
  UniqueFd fd_;
  std::string name_;
};

}  // namespace

ActionOutcome move_file(const MoveSpec& spec) {
  const char* action = spec.quarantine ? "quarantine" : "move";
  if (spec.source.empty())
    return make_failure(outcome_category::kValidation, std::string(action) + ": no source path",
                        "give the action a source (usually the event's {path})");
  if (spec.to.empty())
    return make_failure(outcome_category::kValidation,
                        std::string(action) + ": no destination directory 'to'",
                        "give the action a 'to' directory");

  const ActionRoot root(spec.root);
  const std::string& root_abs = root.root();
  const std::string from = root.absolute(spec.source);
  const std::string to_dir = root.absolute(spec.to);
  Fields fields;
  fields.set("from", from);

  // Where each walk starts, and the paths below it.
  const std::string walk_base = root.walk_base();
  const std::optional<ConfinedPath> src = root.confine(from);
  if (!src)
    return make_failure(
        outcome_category::kPermission,
        std::string(action) + ": source '" + from + "' is outside the root '" + root_abs + "'",
        "only files under the rule's root can be moved: fix root or the source", std::move(fields));
  const std::optional<ConfinedPath> dst = root.confine(to_dir);
  if (!dst)
    return make_failure(outcome_category::kPermission,
                        std::string(action) + ": destination '" + to_dir +
                            "' is outside the root '" + root_abs + "'",
                        "keep 'to' under the rule's root, or change root", std::move(fields));
  const std::string& src_rel = src->rel;
  const std::string& to_rel = dst->rel;
  OpenDirOptions src_opts{.create = false, .for_sync = true};
  OpenDirOptions dst_opts{.create = true, .for_sync = true};
  if (src_rel.empty())
    return make_failure(outcome_category::kValidation,
                        std::string(action) + ": the source '" + from + "' is the root itself",
                        "the source must be a file or directory under root", std::move(fields));

  UniqueFd base_fd(::open(walk_base.c_str(), O_PATH | O_DIRECTORY | O_CLOEXEC));
  if (!base_fd) {
    int err = errno;
    return fs_failure(
        errno_error(std::string(action) + ": cannot open the root '" + walk_base + "'", err),
        std::move(fields));
  }
  auto [src_parent_rel, name] = split_parent(src_rel);
  const std::string src_parent =
      src_parent_rel.empty() ? walk_base : join_path(walk_base, src_parent_rel);
  if (src_parent == to_dir) {
    fields.set("to", from);
    return make_success(std::string(action) + ": '" + from + "' is already in '" + to_dir + "'",
                        std::move(fields));
  }
  Result<UniqueFd> src_dir = open_dir_beneath(base_fd.get(), walk_base, src_parent_rel, src_opts);
  if (!src_dir.ok())
    return fs_failure(
        make_error(std::string(action) + ": source directory: " + src_dir.error().message,
                   src_dir.error().code),
        std::move(fields));
  Result<UniqueFd> dst_dir = open_dir_beneath(base_fd.get(), walk_base, to_rel, dst_opts);
  if (!dst_dir.ok())
    return fs_failure(make_error(std::string(action) + ": destination: " + dst_dir.error().message,
                                 dst_dir.error().code),
                      std::move(fields));

  std::unique_ptr<ReasonFile> reason;
  detail::Companion companion;
  if (spec.quarantine) {
    reason = std::make_unique<ReasonFile>(dst_dir->get());
    companion.claim = [&](const std::string& c) { return reason->claim(c); };
    companion.release = [&](const std::string&) { reason->release(); };
  }
  Result<detail::Placement> placed =
      detail::place(src_dir->get(), name, dst_dir->get(), false, reason ? &companion : nullptr);
  if (!placed.ok() && placed.error().code == -ENOENT && spec.resumed) {
    // The move a killed daemon had in flight may have happened: the source is
    // gone and its name is in the destination. That is this move, done.
    struct stat st {};
    if (::fstatat(dst_dir->get(), name.c_str(), &st, AT_SYMLINK_NOFOLLOW) == 0) {
      fields.set("to", join_path(to_dir, name));
      return make_success(std::string(action) + ": '" + from + "' was already moved to '" +
                              join_path(to_dir, name) + "' (before the daemon restarted)",
                          std::move(fields));
    }
  }
  if (!placed.ok()) {
    std::string shown = placed.error().code == -ENOENT
                            ? "source '" + from + "' does not exist"
                            : placed.error().message + " (in '" + to_dir + "')";
    return fs_failure(make_error(std::string(action) + ": " + shown, placed.error().code),
                      std::move(fields));
  }
  const std::string final_path = join_path(to_dir, placed->final_name);
  fields.set("to", final_path);
  std::string how = placed->copied ? " (copied across filesystems)" : "";
  if (reason) {
    const std::string reason_path = join_path(to_dir, reason->name());
    fields.set("reason_file", reason_path);
    Status wrote = reason->write(reason_json(*spec.quarantine, from));
    if (!wrote.ok())
      return fs_failure(
          make_error("quarantine: moved '" + from + "' to '" + final_path +
                         "' but could not write '" + reason_path + "': " + wrote.error().message,
                     wrote.error().code),
          std::move(fields));
    return make_success("quarantined '" + from + "' as '" + final_path + "'" + how,
                        std::move(fields));
  }
  return make_success("moved '" + from + "' to '" + final_path + "'" + how, std::move(fields));
}

}  // namespace aw
