#include "src/actions/rotate_file.h"

#include <dirent.h>
#include <fcntl.h>
#include <stdio.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <charconv>
#include <map>
#include <optional>
#include <vector>

#include "src/actions/confined_path.h"
#include "src/actions/fs_failure.h"
#include "src/core/duration.h"
#include "src/os/errno_text.h"
#include "src/os/files.h"
#include "src/os/gzip_copy.h"
#include "src/os/unique_fd.h"

namespace aw {
namespace {

constexpr std::size_t kCopyBuffer = 256 * 1024;

// What exists of one generation N of the log.
struct Generation {
  bool plain = false;   // base.N
  bool gz = false;      // base.N.gz
  bool gz_tmp = false;  // base.N.gz.tmp: a compression cut short
  bool tmp = false;     // base.N.tmp: a copytruncate copy cut short
};

// "base.12.gz" → {12, ".gz"}; nullopt for any other name. N is canonical
// decimal (no sign, no leading zero), at least 1.
std::optional<std::pair<int, std::string_view>> parse_generation(std::string_view name,
                                                                 std::string_view base) {
  if (name.size() <= base.size() + 1 || name.substr(0, base.size()) != base ||
      name[base.size()] != '.')
    return std::nullopt;
  std::string_view rest = name.substr(base.size() + 1);
  std::size_t digits = 0;
  while (digits < rest.size() && rest[digits] >= '0' && rest[digits] <= '9') ++digits;
  if (digits == 0 || digits > 6 || rest[0] == '0') return std::nullopt;
  int n = 0;
  std::from_chars(rest.data(), rest.data() + digits, n);
  return std::make_pair(n, rest.substr(digits));
}

Result<std::map<int, Generation>> scan_generations(int dirfd, const std::string& base,
                                                   const std::string& dir) {
  UniqueFd fd(::openat(dirfd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  if (!fd) return errno_error("cannot list " + dir, errno);
  DIR* d = ::fdopendir(fd.get());
  if (!d) return errno_error("cannot list " + dir, errno);
  fd.release();  // the DIR owns it now: closedir() closes it
  std::map<int, Generation> gens;
  errno = 0;
  while (const dirent* ent = ::readdir(d)) {
    auto parsed = parse_generation(ent->d_name, base);
    if (!parsed) continue;
    Generation& g = gens[parsed->first];
    const std::string_view suffix = parsed->second;
    if (suffix.empty()) {
      g.plain = true;
    } else if (suffix == ".gz") {
      g.gz = true;
    } else if (suffix == ".gz.tmp") {
      g.gz_tmp = true;
    } else if (suffix == ".tmp") {
      g.tmp = true;
    } else if (!g.plain && !g.gz && !g.gz_tmp && !g.tmp) {
      gens.erase(parsed->first);  // "base.3.bak": not ours
    }
  }
  const int err = errno;
  ::closedir(d);
  if (err != 0) return errno_error("cannot list " + dir, err);
  return gens;
}

std::string gen_name(const std::string& base, int n, const char* suffix = "") {
  return base + "." + std::to_string(n) + suffix;
}

class Rotation {
 public:
  Rotation(int dirfd, std::string dir, std::string base, const RotatePolicy& policy)
      : dirfd_(dirfd), dir_(std::move(dir)), base_(std::move(base)), policy_(policy) {}

  std::string shown(const std::string& name) const {
    return (dir_ == "/" ? "" : dir_) + "/" + name;
  }

  Status remove(const std::string& name) {
    if (::unlinkat(dirfd_, name.c_str(), 0) != 0) {
      if (errno == ENOENT) return Status::Ok();
      return errno_error("cannot remove " + shown(name), errno);
    }
    result.deleted.push_back(shown(name));
    return Status::Ok();
  }

  Status rename(const std::string& from, const std::string& to) {
    // NOREPLACE: going oldest first, the target is always free; if it is not,
    // something else is using our names and nothing must be overwritten.
    if (::renameat2(dirfd_, from.c_str(), dirfd_, to.c_str(), RENAME_NOREPLACE) != 0)
      return errno_error("cannot rename " + shown(from) + " to " + shown(to), errno);
    result.renamed.push_back(shown(from) + " -> " + shown(to));
    return Status::Ok();
  }

  // Steps 1 and 2: clean up, delete beyond keep, shift the rest up by one.
  Status shift(std::map<int, Generation>& gens) {
    for (auto& [n, g] : gens) {
      if (g.gz_tmp)
        if (Status s = remove(gen_name(base_, n, ".gz.tmp")); !s) return s;
      if (g.tmp)
        if (Status s = remove(gen_name(base_, n, ".tmp")); !s) return s;
      // Both forms of a compressed generation: the .gz is complete (it is renamed
      // into place only once fsynced), the plain file is left from a crash. Not
      // for .1, which is never compressed by us and may still be written to.
      if (n >= 2 && g.plain && g.gz) {
        if (Status s = remove(gen_name(base_, n)); !s) return s;
        g.plain = false;
      }
      if (n >= policy_.keep) {
        if (g.plain)
          if (Status s = remove(gen_name(base_, n)); !s) return s;
        if (g.gz)
          if (Status s = remove(gen_name(base_, n, ".gz")); !s) return s;
        g.plain = g.gz = false;
      }
    }
    std::map<int, Generation> shifted;
    for (auto it = gens.rbegin(); it != gens.rend(); ++it) {
      const auto& [n, g] = *it;
      if (g.plain)
        if (Status s = rename(gen_name(base_, n), gen_name(base_, n + 1)); !s) return s;
      if (g.gz)
        if (Status s = rename(gen_name(base_, n, ".gz"), gen_name(base_, n + 1, ".gz")); !s)
          return s;
      if (g.plain || g.gz) shifted[n + 1] = Generation{g.plain, g.gz, false, false};
    }
    gens = std::move(shifted);
    return Status::Ok();
  }

  // Step 3, kCopyTruncate: copy `fd` to base.1 through base.1.tmp, then truncate.
  Status copy_truncate(int fd, const struct stat& st) {
    const std::string tmp = gen_name(base_, 1, ".tmp");
    UniqueFd out(::openat(dirfd_, tmp.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC,
                          st.st_mode & 07777));
    if (!out) return errno_error("cannot create " + shown(tmp), errno);
    auto fail = [&](Error e) -> Status {
      ::unlinkat(dirfd_, tmp.c_str(), 0);
      return e;
    };
    std::vector<char> buf(kCopyBuffer);
    off_t copied = 0;
    // Copies from `copied` to the current end of the file.
    auto copy_to_end = [&]() -> Status {
      for (;;) {
        const ssize_t n = ::pread(fd, buf.data(), buf.size(), copied);
        if (n < 0) {
          if (errno == EINTR) continue;
          return errno_error("cannot read " + shown(base_), errno);
        }
        if (n == 0) return Status::Ok();
        if (Status s =
                write_all(out.get(), std::string_view(buf.data(), static_cast<std::size_t>(n)));
            !s)
          return errno_error("cannot write " + shown(tmp), -s.error().code);
        copied += n;
      }
    };
    if (Status s = copy_to_end(); !s) return fail(s.error());
    if (::fsync(out.get()) != 0) return fail(errno_error("cannot fsync " + shown(tmp), errno));
    // The bulk is durable; top up what was appended meanwhile and truncate at
    // once: the loss window is this one short read (see the header).
    if (Status s = copy_to_end(); !s) return fail(s.error());
    if (::ftruncate(fd, 0) != 0) {
      // Nothing lost: the original is whole. Do not leave a duplicate behind.
      return fail(errno_error("cannot truncate " + shown(base_), errno));
    }
    result.bytes = static_cast<std::uint64_t>(copied);
    if (::fsync(out.get()) != 0) return errno_error("cannot fsync " + shown(tmp), errno);
    if (Status s = rename(tmp, gen_name(base_, 1)); !s) return s;
    return Status::Ok();
  }

  // Step 4 for one generation; errors are reported, not returned as failure.
  Status compress(int n) {
    const std::string plain = gen_name(base_, n);
    const std::string gz = gen_name(base_, n, ".gz");
    const std::string tmp = gen_name(base_, n, ".gz.tmp");
    UniqueFd in(
        ::openat(dirfd_, plain.c_str(), O_RDONLY | O_NOFOLLOW | O_CLOEXEC | O_NONBLOCK | O_NOCTTY));
    if (!in) {
      if (errno == ELOOP)
        return make_error(shown(plain) + " is a symlink; refusing to compress through it", -ELOOP);
      return errno_error("cannot open " + shown(plain), errno);
    }
    struct stat st {};
    if (::fstat(in.get(), &st) != 0) return errno_error("cannot stat " + shown(plain), errno);
    if (!S_ISREG(st.st_mode))
      return make_error(shown(plain) + " is not a regular file; not compressing it", -EINVAL);
    UniqueFd out(::openat(dirfd_, tmp.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC,
                          st.st_mode & 07777));
    if (!out) return errno_error("cannot create " + shown(tmp), errno);
    auto fail = [&](Error e) -> Status {
      ::unlinkat(dirfd_, tmp.c_str(), 0);
      return e;
    };
    auto copied = gzip_copy(in.get(), out.get(), shown(plain), shown(tmp));
    if (!copied) return fail(copied.error());
    const std::uint64_t total = *copied;
    if (::fsync(out.get()) != 0) return fail(errno_error("cannot fsync " + shown(tmp), errno));
    struct stat out_st {};
    if (::fstat(out.get(), &out_st) == 0)
      result.gzip_bytes += static_cast<std::uint64_t>(out_st.st_size);
    if (::renameat2(dirfd_, tmp.c_str(), dirfd_, gz.c_str(), RENAME_NOREPLACE) != 0)
      return fail(errno_error("cannot rename " + shown(tmp) + " to " + shown(gz), errno));
    // The .gz must be durable before the plain copy goes.
    if (::fsync(dirfd_) != 0) return errno_error("cannot fsync " + dir_, errno);
    if (::unlinkat(dirfd_, plain.c_str(), 0) != 0 && errno != ENOENT)
      return errno_error("cannot remove " + shown(plain), errno);
    result.plain_bytes += total;
    result.compressed.push_back(shown(gz));
    return Status::Ok();
  }

  RotateResult result;

 private:
  int dirfd_;
  std::string dir_;
  std::string base_;
  const RotatePolicy& policy_;
};

// Why a rotation is due, or nullopt with `why_not` set.
std::optional<std::string> due_reason(const RotatePolicy& policy, const struct stat& st,
                                      std::optional<WallTime> start, WallTime now,
                                      std::string* why_not) {
  const auto size = static_cast<std::uint64_t>(st.st_size);
  if (policy.max_size == 0 && policy.max_age.count() == 0) return std::string("forced");
  std::vector<std::string> not_due;
  if (policy.max_size > 0) {
    if (size >= policy.max_size)
      return "size " + std::to_string(size) + " >= max_size " + std::to_string(policy.max_size);
    not_due.push_back("size " + std::to_string(size) + " < max_size " +
                      std::to_string(policy.max_size));
  }
  if (policy.max_age.count() > 0) {
    if (!start) {
      not_due.emplace_back(
          "age unknown (no birth time on this filesystem and no previous rotation)");
    } else {
      const Duration age = now - *start;
      const auto secs = [](Duration d) {
        return format_duration(std::chrono::duration_cast<std::chrono::seconds>(d));
      };
      if (age >= policy.max_age)
        return "age " + secs(age) + " >= max_age " + format_duration(policy.max_age);
      not_due.push_back("age " + secs(std::max(age, Duration{0})) + " < max_age " +
                        format_duration(policy.max_age));
    }
  }
  std::string text = "not due: ";
  for (std::size_t i = 0; i < not_due.size(); ++i) text += (i ? ", " : "") + not_due[i];
  *why_not = text;
  return std::nullopt;
}

WallTime to_wall(const struct timespec& ts) {
  return WallTime(std::chrono::seconds(ts.tv_sec) + std::chrono::nanoseconds(ts.tv_nsec));
}

// Opens the directory that holds the log, confined to the root when there is one.
Result<UniqueFd> open_log_dir(const std::string& dir, const std::string& root) {
  if (root.empty()) {
    UniqueFd fd(::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
    if (!fd) return errno_error("cannot open the directory " + dir, errno);
    return fd;
  }
  const std::string abs_root = normalize_path(root);
  if (abs_root.empty() || abs_root[0] != '/')
    return make_error("root '" + root + "' is not an absolute path", -EINVAL);
  auto rel = path_below(abs_root, dir);
  if (!rel) return make_error(dir + " is outside the root " + abs_root, -EXDEV);
  UniqueFd root_fd(::open(abs_root.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  if (!root_fd) return errno_error("cannot open the root " + abs_root, errno);
  if (rel->empty()) return root_fd;
  return open_dir_beneath(root_fd.get(), abs_root, *rel, OpenDirOptions{false, true});
}

}  // namespace

Result<RotateResult> rotate_file(const std::string& path, const RotatePolicy& policy,
                                 WallTime now) {
  if (policy.keep < 1)
    return make_error("rotate " + path + ": keep must be at least 1 (the file just rotated is " +
                          path + ".1), got " + std::to_string(policy.keep),
                      -EINVAL);
  if (path.empty() || path[0] != '/' || path.back() == '/')
    return make_error("rotate: '" + path + "' is not an absolute path to a file", -EINVAL);
  const std::string abs = normalize_path(path);
  const auto [dir_rel, base] = split_parent(abs.substr(1));
  const std::string dir = "/" + dir_rel;
  if (base.empty() || base == "." || base == "..")
    return make_error("rotate: '" + path + "' does not name a file", -EINVAL);

  auto dirfd = open_log_dir(dir, policy.root);
  if (!dirfd) return dirfd.error();
  Rotation rot(dirfd->get(), dir, base, policy);
  RotateResult& result = rot.result;

  if (::flock(dirfd->get(), LOCK_EX | LOCK_NB) != 0) {
    if (errno != EWOULDBLOCK) return errno_error("cannot lock " + dir, errno);
    result.reason = "busy: another rotation in " + dir + " is in progress";
    return result;
  }
  // (The lock goes with the directory fd.)

  const int mode = policy.method == RotatePolicy::kCopyTruncate ? O_RDWR : O_RDONLY;
  UniqueFd fd(
      ::openat(dirfd->get(), base.c_str(), mode | O_NOFOLLOW | O_CLOEXEC | O_NONBLOCK | O_NOCTTY));
  if (!fd) {
    if (errno == ELOOP)
      return make_error(
          abs + " is a symlink; rotation never follows symlinks (rotate the real file)", -ELOOP);
    return errno_error("cannot open " + abs, errno);
  }
  struct stat st {};
  if (::fstat(fd.get(), &st) != 0) return errno_error("cannot stat " + abs, errno);
  if (!S_ISREG(st.st_mode))
    return make_error(abs + " is not a regular file (expected a log file)", -EINVAL);
  if (st.st_size == 0) {
    result.reason = "empty";
    return result;
  }

  std::optional<WallTime> start;
  struct statx stx {};
  if (::statx(fd.get(), "", AT_EMPTY_PATH, STATX_BTIME, &stx) == 0 && (stx.stx_mask & STATX_BTIME))
    start = WallTime(std::chrono::seconds(stx.stx_btime.tv_sec) +
                     std::chrono::nanoseconds(stx.stx_btime.tv_nsec));
  struct stat prev {};
  if (::fstatat(dirfd->get(), gen_name(base, 1).c_str(), &prev, AT_SYMLINK_NOFOLLOW) == 0 &&
      S_ISREG(prev.st_mode)) {
    const WallTime ended = to_wall(prev.st_mtim);
    if (!start || ended > *start) start = ended;
  }
  std::string why_not;
  auto reason = due_reason(policy, st, start, now, &why_not);
  if (!reason) {
    result.reason = why_not;
    return result;
  }
  result.reason = *reason;

  auto gens = scan_generations(dirfd->get(), base, dir);
  if (!gens) return gens.error();
  if (Status s = rot.shift(*gens); !s) return s.error();

  if (policy.method == RotatePolicy::kRename) {
    if (Status s = rot.rename(base, gen_name(base, 1)); !s) return s.error();
    struct stat moved {};
    result.bytes = ::fstat(fd.get(), &moved) == 0 ? static_cast<std::uint64_t>(moved.st_size)
                                                  : static_cast<std::uint64_t>(st.st_size);
  } else {
    if (Status s = rot.copy_truncate(fd.get(), st); !s) return s.error();
  }
  result.rotated = true;
  result.rotated_to = rot.shown(gen_name(base, 1));

  if (policy.compress) {
    for (const auto& [n, g] : *gens) {
      if (n < 2 || !g.plain) continue;
      if (Status s = rot.compress(n); !s) {
        result.compress_error = s.error().message;
        break;
      }
    }
  }
  if (::fsync(dirfd->get()) != 0) return errno_error("cannot fsync " + dir, errno);
  return result;
}

ActionOutcome rotate_outcome(const std::string& path, const Result<RotateResult>& result) {
  Fields fields;
  fields.set("path", path);
  if (!result) return fs_failure(result.error(), std::move(fields));
  const RotateResult& r = *result;
  fields.set("rotated", r.rotated);
  fields.set("reason", r.reason);
  if (r.rotated) {
    fields.set("bytes", static_cast<std::int64_t>(r.bytes));
    fields.set("to", r.rotated_to);
  }
  fields.set("renamed", static_cast<std::int64_t>(r.renamed.size()));
  fields.set("compressed", static_cast<std::int64_t>(r.compressed.size()));
  fields.set("deleted", static_cast<std::int64_t>(r.deleted.size()));
  fields.set("plain_bytes", static_cast<std::int64_t>(r.plain_bytes));
  fields.set("gzip_bytes", static_cast<std::int64_t>(r.gzip_bytes));
  if (!r.compress_error.empty()) fields.set("compress_error", r.compress_error);
  std::string message = r.rotated
                            ? "rotated " + path + " to " + r.rotated_to + " (" + r.reason + ")"
                            : "did not rotate " + path + ": " + r.reason;
  return make_success(std::move(message), std::move(fields));
}

}  // namespace aw
