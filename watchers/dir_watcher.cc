#include "watchers/dir_watcher.h"

#include <dirent.h>
#include <fcntl.h>
#include <sys/inotify.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <set>

#include "watchers/beneath_path.h"

namespace aw {
namespace {

constexpr std::uint32_t kDirMask = IN_CLOSE_WRITE | IN_MOVED_TO | IN_MOVED_FROM | IN_CREATE |
                                   IN_DELETE | IN_ATTRIB | IN_DELETE_SELF | IN_MOVE_SELF |
                                   IN_ONLYDIR | IN_DONT_FOLLOW | IN_EXCL_UNLINK;
// The nearest existing ancestor of a missing root: only the name appearing (or
// the ancestor itself going away) matters.
constexpr std::uint32_t kParentMask =
    IN_CREATE | IN_MOVED_TO | IN_DELETE_SELF | IN_MOVE_SELF | IN_ONLYDIR;

constexpr std::size_t kReadChunk = 64 * 1024;

std::int64_t mtime_ns(const struct stat& st) {
  return static_cast<std::int64_t>(st.st_mtim.tv_sec) * 1'000'000'000 + st.st_mtim.tv_nsec;
}

std::string errno_text(int err) {
  return std::strerror(err);
}

// Directory entry names of an open directory, sorted (lands are emitted in a
// deterministic order). `fd` stays open and owned by the caller.
std::vector<std::string> list_names(int fd) {
  std::vector<std::string> names;
  int dup_fd = fcntl(fd, F_DUPFD_CLOEXEC, 0);
  if (dup_fd < 0) return names;
  DIR* d = fdopendir(dup_fd);
  if (d == nullptr) {
    close(dup_fd);
    return names;
  }
  while (struct dirent* de = readdir(d)) {
    if (std::strcmp(de->d_name, ".") == 0 || std::strcmp(de->d_name, "..") == 0) continue;
    names.emplace_back(de->d_name);
  }
  closedir(d);
  std::sort(names.begin(), names.end());
  return names;
}

const std::string& key_of(const std::string& k) {
  return k;
}
template <class V>
const std::string& key_of(const std::pair<const std::string, V>& kv) {
  return kv.first;
}

// The entries of an ordered map or set keyed by rel, at `rel` or below it. "a/b"
// and "a/b/..." are not contiguous in byte order ("a/b-c" sorts between), so
// the two ranges are taken separately.
template <class Map>
std::vector<std::string> keys_under(const Map& m, const std::string& rel) {
  std::vector<std::string> out;
  if (rel.empty()) {
    for (const auto& kv : m) out.push_back(key_of(kv));
    return out;
  }
  if (m.count(rel)) out.push_back(rel);
  const std::string lo = rel + '/', hi = rel + '0';  // '0' == '/' + 1
  for (auto it = m.lower_bound(lo); it != m.end() && key_of(*it) < hi; ++it)
    out.push_back(key_of(*it));
  return out;
}

}  // namespace

struct DirWatcher::HeldFile {
  std::int64_t size = 0, mtime_ns = 0, inode = 0, dev = 0;
  MonoTime quiet_since{};  // when this version was first seen
  MonoTime due{};          // its entry in settle_queue_

  bool same_version(const struct stat& st) const {
    return size == st.st_size && mtime_ns == aw::mtime_ns(st) &&
           inode == static_cast<std::int64_t>(st.st_ino) &&
           dev == static_cast<std::int64_t>(st.st_dev);
  }
  void set_version(const struct stat& st, MonoTime now) {
    size = st.st_size;
    mtime_ns = aw::mtime_ns(st);
    inode = static_cast<std::int64_t>(st.st_ino);
    dev = static_cast<std::int64_t>(st.st_dev);
    quiet_since = now;
  }
};

struct DirWatcher::Root {
  std::size_t id = 0;
  WatchRoot spec;
  IgnoreRules ignore;
  int inotify_fd = -1;
  std::unique_ptr<uvx::Poll> poll;
  bool active = false;            // start() or add_root() after start() activated it
  bool missing = false;           // not watched: waiting for it to (re)appear
  bool reported_missing = false;  // watch.root_missing emitted, root_restored owed
  int root_wd = -1;
  std::uint64_t gen = 0;  // bumped when the tree's watches are dropped; stale jobs die

  struct Watch {
    std::string rel;
    std::uint64_t confirmed = 0;  // sweep_gen when last added
  };
  std::unordered_map<int, Watch> watches;  // wd -> dir
  std::map<std::string, int> wd_of;        // dir rel -> wd (ordered: subtree ranges)
  std::uint64_t sweep_gen = 0;             // bumped when a full scan starts
  std::vector<std::string> limbo;          // dirs moved from, pair not yet seen
  std::set<std::string> refused;           // symlinks already reported
  std::map<std::string, HeldFile> held;    // scanned files settling, by rel

  // While missing: the nearest existing ancestor and the name leading down.
  int parent_wd = -1;
  std::string parent_path;
  std::string next_name;
  std::string refused_root_target;  // the root itself is a symlink (reported once)

  std::optional<MonoTime> last_overflow;
  Duration backoff{0};
  std::optional<MonoTime> rescan_due;
  std::string rescan_reason;
  bool degraded_reported = false;  // one watch.degraded per full scan

  void close_all() {
    poll.reset();  // uv_close before the fd goes away
    if (inotify_fd >= 0) close(inotify_fd);
    inotify_fd = root_wd = parent_wd = -1;
    watches.clear();
    wd_of.clear();
  }
  ~Root() { close_all(); }
};

struct DirWatcher::ScanJob {
  std::size_t root = 0;
  std::uint64_t root_gen = 0;
  bool full = false;  // a whole-root scan: emits watch.rescanned, sweeps
  std::string reason;
  MonoTime started{};
  std::uint64_t index_epoch = 0;
  std::uint64_t sweep_gen = 0;
  std::vector<std::string> dirs;  // still to list (a stack: depth first)
  int dir_fd = -1;                // the directory being walked
  std::string dir_rel;
  std::vector<std::string> names;
  std::size_t next = 0;
  std::vector<std::string> subdirs;  // found in the current dir, pushed when it is done
  std::uint64_t files = 0, landed = 0;

  ~ScanJob() {
    if (dir_fd >= 0) close(dir_fd);
  }
};

DirWatcher::DirWatcher(uv_loop_t* loop, const Clock& clock, FileIndex* index,
                       std::function<void(Event)> emit, Options options)
    : loop_(loop),
      clock_(clock),
      index_(index),
      emit_(std::move(emit)),
      options_(std::move(options)),
      alarm_(loop, [this] { on_alarm(); }),
      scan_idle_(loop, [this] {
        if (stopped_) return;
        run_scan_slice();
        rearm();
      }) {
  if (index_ == nullptr) {
    owned_index_ = FileIndex::in_memory();
    index_ = owned_index_.get();
  }
  if (options_.slice_entries == 0) options_.slice_entries = 1;
  read_buf_.resize(kReadChunk);
  // Watches on new subdirectories are added through /proc/self/fd/<parent>/<name>
  // so no symlink swapped into an intermediate component is followed.
  proc_fd_usable_ = access("/proc/self/fd", X_OK) == 0;
}

DirWatcher::~DirWatcher() {
  stop();
}

Status DirWatcher::add_root(const WatchRoot& root) {
  if (stopped_) return make_error("watch '" + root.name + "': the watcher is stopped");
  if (root.name.empty())
    return make_error("watch root " + root.path + ": empty name (expected a unique watch name)");
  for (const auto& r : roots_)
    if (r->spec.name == root.name)
      return make_error("watch '" + root.name + "': duplicate watch name (already watches " +
                        r->spec.path + ")");
  auto path = normalize_root_path(root.path);
  if (!path.ok()) return make_error("watch '" + root.name + "': " + path.error().message);
  auto ignore = IgnoreRules::compile(root.ignore);
  if (!ignore.ok()) return make_error("watch '" + root.name + "': " + ignore.error().message);
  struct stat st;
  if (lstat(path->c_str(), &st) == 0 && S_ISLNK(st.st_mode)) {
    char target[4096];
    ssize_t n = readlink(path->c_str(), target, sizeof target - 1);
    std::string t = n > 0 ? std::string(target, static_cast<std::size_t>(n)) : "?";
    return make_error("watch '" + root.name + "': root " + *path + " is a symlink to " + t +
                      "; symlinks are never followed (expected the real directory path)");
  }
  auto r = std::make_unique<Root>();
  r->id = roots_.size();
  r->spec = root;
  r->spec.path = *path;
  r->ignore = std::move(ignore.value());
  r->inotify_fd = inotify_init1(IN_NONBLOCK | IN_CLOEXEC);
  if (r->inotify_fd < 0) {
    int err = errno;
    return make_error("watch '" + root.name + "': inotify_init1: " + errno_text(err) +
                          (err == EMFILE ? " (fs.inotify.max_user_instances reached)" : ""),
                      -err);
  }
  Root* raw = r.get();
  r->poll = std::make_unique<uvx::Poll>(loop_, r->inotify_fd, [this, raw](int status, int) {
    if (status < 0) {
      report_degraded(*raw, "inotify poll error", raw->spec.path, -status);
      return;
    }
    on_readable(*raw);
  });
  if (int rc = r->poll->init_status(); rc != 0)
    return make_error("watch '" + root.name + "': uv_poll_init: " + uv_strerror(rc), rc);
  roots_.push_back(std::move(r));
  if (started_) activate(*raw);
  return Status::Ok();
}

void DirWatcher::start() {
  if (started_ || stopped_) return;
  started_ = true;
  for (auto& r : roots_) activate(*r);
}

void DirWatcher::stop() {
  if (stopped_) return;
  stopped_ = true;
  alarm_.stop();
  scan_idle_.stop();
  scans_.clear();
  pending_moves_.clear();
  settle_queue_.clear();
  for (auto& r : roots_) {
    r->held.clear();
    r->close_all();
  }
}

void DirWatcher::rescan(std::string_view reason) {
  if (stopped_) return;
  for (auto& r : roots_)
    if (r->active && !r->missing) queue_scan(*r, "", true, std::string(reason));
}

WatchStats DirWatcher::stats() const {
  WatchStats s = stats_;
  s.roots = roots_.size();
  s.roots_missing = 0;
  s.watches = 0;
  s.settling = 0;
  for (const auto& r : roots_) {
    if (r->missing) ++s.roots_missing;
    s.watches += r->watches.size();
    s.settling += r->held.size();
  }
  return s;
}

bool DirWatcher::scans_idle() const {
  if (!scans_.empty()) return false;
  for (const auto& r : roots_)
    if (r->rescan_due) return false;
  return true;
}

// ---------------------------------------------------------------- root lifecycle

void DirWatcher::activate(Root& r) {
  if (r.active) return;
  r.active = true;
  if (int rc = r.poll->start(UV_READABLE); rc != 0)
    report_degraded(r, "cannot poll the inotify fd", r.spec.path, -rc);
  r.missing = true;  // until try_restore finds the directory
  try_restore(r);
  if (r.missing && !stopped_) {
    r.reported_missing = true;
    Event e = make_event("watch.root_missing", r, "", "inotify");
    struct stat st;
    e.fields.set("reason", lstat(r.spec.path.c_str(), &st) == 0 ? "not a directory" : "not found");
    emit(std::move(e));
  }
}

void DirWatcher::try_restore(Root& r) {
  // Bounded: each round either watches the root, or watches an ancestor and
  // finds nothing new below it; the bound only guards against a livelock with a
  // process that keeps creating and deleting the path.
  for (int round = 0; round < 32; ++round) {
    struct stat st;
    if (lstat(r.spec.path.c_str(), &st) == 0) {
      if (S_ISDIR(st.st_mode)) {
        // IN_DONT_FOLLOW in kDirMask: a symlink swapped in since the lstat is
        // refused with ENOTDIR (IN_ONLYDIR), never followed.
        errno = 0;
        const int wd = options_.add_watch
                           ? options_.add_watch(r.inotify_fd, r.spec.path.c_str(), kDirMask)
                           : inotify_add_watch(r.inotify_fd, r.spec.path.c_str(), kDirMask);
        if (wd >= 0) {
          const bool was_reported_missing = r.reported_missing;
          r.reported_missing = false;
          if (r.parent_wd >= 0) inotify_rm_watch(r.inotify_fd, r.parent_wd);
          r.parent_wd = -1;
          r.refused_root_target.clear();
          r.root_wd = wd;
          r.missing = false;
          map_watch(r, wd, "");
          if (was_reported_missing) emit(make_event("watch.root_restored", r, "", "inotify"));
          queue_scan(r, "", true, was_reported_missing ? "restored" : "start");
          return;
        }
        const int err = errno;
        if (err != ENOENT && err != ENOTDIR && err != ELOOP) {
          report_add_watch_failure(r, "", err);
          return;  // stays missing until the limit is raised and the daemon restarted
        }
        continue;  // replaced under us: look again
      }
      if (S_ISLNK(st.st_mode)) {
        char target[4096];
        ssize_t n = readlink(r.spec.path.c_str(), target, sizeof target - 1);
        std::string t = n > 0 ? std::string(target, static_cast<std::size_t>(n)) : "";
        if (t != r.refused_root_target) {
          r.refused_root_target = t;
          ++stats_.symlinks_refused;
          Event e = make_event("watch.symlink_refused", r, "", "inotify");
          e.fields.set("target", t);
          emit(std::move(e));
        }
      }
    }
    // Not there (or not a directory): watch the nearest existing ancestor for
    // the next name down the path.
    std::string child = r.spec.path;
    std::string parent(rel_dirname(child));
    if (parent.empty()) parent = "/";
    while (parent != "/" && !(lstat(parent.c_str(), &st) == 0 && S_ISDIR(st.st_mode))) {
      child = parent;
      parent = std::string(rel_dirname(parent));
      if (parent.empty()) parent = "/";
    }
    const std::string name(rel_basename(child));
    if (r.parent_wd < 0 || r.parent_path != parent) {
      if (r.parent_wd >= 0) inotify_rm_watch(r.inotify_fd, r.parent_wd);
      r.parent_wd = inotify_add_watch(r.inotify_fd, parent.c_str(), kParentMask);
      if (r.parent_wd < 0) {
        report_add_watch_failure(r, "", errno);
        r.parent_path.clear();
        return;
      }
      r.parent_path = parent;
    }
    r.next_name = name;
    // The name may have appeared between the lstat and the watch: look again.
    const std::string below = join_abs(parent, name);
    if (lstat(below.c_str(), &st) == 0 && S_ISDIR(st.st_mode)) continue;
    return;
  }
}

void DirWatcher::set_missing(Root& r, const char* reason) {
  if (r.missing) return;
  drop_all_watches(r);
  r.root_wd = -1;
  ++r.gen;
  r.limbo.clear();
  r.refused.clear();
  unhold_under(r, "");
  r.rescan_due.reset();
  r.missing = true;
  r.reported_missing = true;
  Event e = make_event("watch.root_missing", r, "", "inotify");
  e.fields.set("reason", reason);
  emit(std::move(e));
  try_restore(r);
}

void DirWatcher::drop_all_watches(Root& r) {
  for (const auto& [wd, w] : r.watches) inotify_rm_watch(r.inotify_fd, wd);
  r.watches.clear();
  r.wd_of.clear();
}

// ---------------------------------------------------------------- reading

void DirWatcher::on_readable(Root& r) {
  std::size_t total = 0;
  // Bounded per readiness so one busy root cannot starve the loop; the poll is
  // level-triggered, so what is left is read on the next iteration.
  while (!stopped_ && total < options_.max_read_bytes_per_tick) {
    ssize_t n = read(r.inotify_fd, read_buf_.data(), read_buf_.size());
    if (n < 0) {
      if (errno == EINTR) continue;
      if (errno != EAGAIN) report_degraded(r, "inotify read failed", r.spec.path, errno);
      break;
    }
    if (n == 0) break;
    total += static_cast<std::size_t>(n);
    records_.clear();
    auto res = InotifyDecoder::decode(
        std::span<const std::uint8_t>(read_buf_.data(), static_cast<std::size_t>(n)), records_);
    for (const auto& rec : records_) {
      if (stopped_) return;
      ++stats_.events_read;
      handle(r, rec);
    }
    if (res.malformed) on_overflow(r, "decode_error");
  }
  rearm();
}

void DirWatcher::handle(Root& r, const InotifyRecord& rec) {
  if (rec.overflow) {
    on_overflow(r, "queue_overflow");
    return;
  }
  if (r.missing) {
    handle_missing_parent(r, rec);
    return;
  }
  auto it = r.watches.find(rec.wd);
  if (it == r.watches.end()) return;  // a watch we already dropped
  const std::string dir_rel = it->second.rel;
  const bool is_root = rec.wd == r.root_wd;

  if (rec.ignored) {
    if (is_root) {
      set_missing(r, "deleted");
    } else {
      unmap_wd(r, rec.wd);
    }
    return;
  }
  if (rec.unmount) {
    if (is_root) set_missing(r, "unmounted");
    return;
  }
  if (rec.mask & (IN_DELETE_SELF | IN_MOVE_SELF)) {
    // A subdirectory's own removal is reported by its parent (IN_DELETE /
    // IN_MOVED_FROM); only the root's matters here.
    if (is_root) set_missing(r, (rec.mask & IN_DELETE_SELF) ? "deleted" : "moved");
    return;
  }
  if (rec.name.empty()) return;  // IN_ATTRIB etc. on a watched directory itself
  for (const auto& moving : r.limbo)
    if (rel_is_under(dir_rel, moving)) return;  // inside a dir whose move is unresolved

  const std::string rel = join_rel(dir_rel, rec.name);
  if (rec.mask & IN_MOVED_FROM) {
    PendingMove m;
    m.root = r.id;
    m.root_gen = r.gen;
    m.rel = rel;
    m.is_dir = rec.is_dir;
    m.deadline = clock_.mono() + options_.move_pair_window;
    if (rec.is_dir && !r.ignore.ignores_dir(rel)) r.limbo.push_back(rel);
    pending_moves_[rec.cookie] = std::move(m);
    return;
  }
  if (rec.mask & IN_MOVED_TO) {
    on_moved_to(r, rec, rel);
    return;
  }
  if (rec.is_dir ? r.ignore.ignores_dir(rel) : r.ignore.ignores_file(rel)) return;

  if (rec.mask & IN_CREATE) {
    if (rec.is_dir) {
      on_dir_appeared(r, rel, "create", nullptr);
    } else {
      // A new entry's content is not complete yet (IN_CLOSE_WRITE lands it);
      // only a symlink is worth a look now.
      refuse_symlink(r, -1, rel, "inotify");
    }
  } else if (rec.mask & IN_CLOSE_WRITE) {
    if (!rec.is_dir) land(r, -1, rel, "close_write", nullptr, "inotify");
  } else if (rec.mask & IN_DELETE) {
    if (rec.is_dir) {
      on_dir_gone(r, rel, "delete");
      return;
    }
    unhold(r, rel);
    if (r.refused.erase(rel) == 0) {
      Event e = make_event("file.removed", r, rel, "inotify");
      e.fields.set("via", "delete");
      index_->forget(r.spec.name, rel);
      emit(std::move(e));
    }
  } else if (rec.mask & IN_ATTRIB) {
    if (rec.is_dir) return;
    int pfd = open_in_root(r, rel_dirname(rel), O_PATH);
    if (pfd < 0) return;
    struct stat st;
    const std::string base(rel_basename(rel));
    const bool ok = fstatat(pfd, base.c_str(), &st, AT_SYMLINK_NOFOLLOW) == 0;
    close(pfd);
    if (!ok || !S_ISREG(st.st_mode)) return;
    Event e = make_event("file.attrib", r, rel, "inotify");
    e.fields.set("mode", static_cast<std::int64_t>(st.st_mode & 07777));
    e.fields.set("uid", static_cast<std::int64_t>(st.st_uid));
    e.fields.set("gid", static_cast<std::int64_t>(st.st_gid));
    emit(std::move(e));
  }
}

void DirWatcher::handle_missing_parent(Root& r, const InotifyRecord& rec) {
  if (rec.wd != r.parent_wd) return;
  if (rec.ignored || rec.unmount || (rec.mask & (IN_DELETE_SELF | IN_MOVE_SELF))) {
    if (!rec.ignored) inotify_rm_watch(r.inotify_fd, r.parent_wd);
    r.parent_wd = -1;
    r.parent_path.clear();
    try_restore(r);
    return;
  }
  if ((rec.mask & (IN_CREATE | IN_MOVED_TO)) && rec.name == r.next_name) try_restore(r);
}

void DirWatcher::on_moved_to(Root& r, const InotifyRecord& rec, const std::string& rel) {
  std::optional<PendingMove> from;
  if (rec.cookie != 0) {
    if (auto it = pending_moves_.find(rec.cookie); it != pending_moves_.end()) {
      from = std::move(it->second);
      pending_moves_.erase(it);
    }
  }
  Root* from_root = nullptr;
  bool from_visible = false;
  if (from) {
    Root& fr = *roots_[from->root];
    if (fr.gen == from->root_gen && !fr.missing) {
      from_root = &fr;
      auto& limbo = fr.limbo;
      if (auto li = std::find(limbo.begin(), limbo.end(), from->rel); li != limbo.end())
        limbo.erase(li);
      from_visible =
          from->is_dir ? !fr.ignore.ignores_dir(from->rel) : !fr.ignore.ignores_file(from->rel);
    }
  }
  const bool to_visible = rec.is_dir ? !r.ignore.ignores_dir(rel) : !r.ignore.ignores_file(rel);
  const std::string from_abs = from_root ? join_abs(from_root->spec.path, from->rel) : "";
  const std::string* from_ptr = from_root ? &from_abs : nullptr;

  if (rec.is_dir) {
    const bool renamed_inside = from_root == &r && from_visible && to_visible;
    if (renamed_inside && r.spec.recursive && r.wd_of.count(from->rel)) {
      // Renamed inside the tree: the watches stay, their paths change. The
      // files below now live at new paths, so they land there (atomic
      // directory publish: build in a staging dir, rename into place).
      rename_subtree(r, from->rel, rel);
      Event e = make_event("dir.created", r, rel, "inotify");
      e.fields.set("via", "rename");
      e.fields.set("from", from_abs);
      emit(std::move(e));
      queue_scan(r, rel, false, "renamed");
      return;
    }
    if (renamed_inside) {
      drop_subtree(r, from->rel, true);  // told by dir.created's `from`, like a file rename
    } else if (from_root && from_visible) {
      on_dir_gone(*from_root, from->rel, "moved_out");
    }
    if (to_visible) on_dir_appeared(r, rel, from_root ? "rename" : "moved_in", from_ptr);
    return;
  }
  if (from_root && from_visible) {
    unhold(*from_root, from->rel);
    index_->forget(from_root->spec.name, from->rel);
    if (from_root->refused.erase(from->rel) == 0 && (from_root != &r || !to_visible)) {
      Event e = make_event("file.removed", *from_root, from->rel, "inotify");
      e.fields.set("via", "moved_out");
      emit(std::move(e));
    }
  }
  if (to_visible) land(r, -1, rel, "rename", from_ptr, "inotify");
}

void DirWatcher::on_dir_appeared(Root& r, const std::string& rel, const char* via,
                                 const std::string* from) {
  if (r.spec.recursive) {
    // The watch goes on first, then the scan: a file created in between is
    // reported by both, and the claim keeps one.
    int pfd = open_in_root(r, rel_dirname(rel), O_PATH);
    if (pfd < 0) return;  // the parent went away too; its own events follow
    const int wd = add_watch(r, pfd, rel);
    close(pfd);
    // Gone again or swapped for a symlink: its own events follow. A refused
    // watch (limit) still gets its event and a scan of what is there.
    if (wd == -ENOENT || wd == -ENOTDIR || wd == -ELOOP) return;
  }
  Event e = make_event("dir.created", r, rel, "inotify");
  e.fields.set("via", via);
  if (from) e.fields.set("from", *from);
  emit(std::move(e));
  if (r.spec.recursive) queue_scan(r, rel, false, via);
}

void DirWatcher::on_dir_gone(Root& r, const std::string& rel, const char* via) {
  // A deleted directory's watches die with it (IN_IGNORED follows); a moved
  // one's would keep reporting from outside the root, so they are removed.
  drop_subtree(r, rel, std::strcmp(via, "delete") != 0);
  Event e = make_event("dir.removed", r, rel, "inotify");
  e.fields.set("via", via);
  emit(std::move(e));
}

void DirWatcher::settle_moved_out(const PendingMove& m) {
  Root& r = *roots_[m.root];
  if (r.gen != m.root_gen || r.missing) return;
  if (auto li = std::find(r.limbo.begin(), r.limbo.end(), m.rel); li != r.limbo.end())
    r.limbo.erase(li);
  if (m.is_dir) {
    if (!r.ignore.ignores_dir(m.rel)) on_dir_gone(r, m.rel, "moved_out");
    return;
  }
  if (r.ignore.ignores_file(m.rel)) return;
  unhold(r, m.rel);
  index_->forget(r.spec.name, m.rel);
  if (r.refused.erase(m.rel)) return;
  Event e = make_event("file.removed", r, m.rel, "inotify");
  e.fields.set("via", "moved_out");
  emit(std::move(e));
}

void DirWatcher::on_overflow(Root& r, const char* reason) {
  ++stats_.overflows;
  Event e = make_event("watch.overflow", r, "", "inotify");
  e.fields.set("count", static_cast<std::int64_t>(stats_.overflows));
  e.fields.set("reason", reason);
  emit(std::move(e));
  const MonoTime now = clock_.mono();
  if (r.last_overflow && now - *r.last_overflow < options_.overflow_window) {
    r.backoff = r.backoff == Duration(0) ? options_.rescan_backoff_first
                                         : std::min(r.backoff * 2, options_.rescan_backoff_max);
  } else {
    r.backoff = Duration(0);
  }
  r.last_overflow = now;
  if (r.missing) {
    try_restore(r);  // the parent's events were lost too: look again
    return;
  }
  const MonoTime due = now + r.backoff;
  if (!r.rescan_due || due < *r.rescan_due) r.rescan_due = due;
  r.rescan_reason = "overflow";
  rearm();
}

// ---------------------------------------------------------------- watches

int DirWatcher::add_watch(Root& r, int parent_fd, const std::string& rel) {
  std::string path;
  if (proc_fd_usable_ && parent_fd >= 0) {
    path = "/proc/self/fd/" + std::to_string(parent_fd) + "/";
    path += rel_basename(rel);
  } else {
    path = join_abs(r.spec.path, rel);
  }
  errno = 0;
  const int wd = options_.add_watch ? options_.add_watch(r.inotify_fd, path.c_str(), kDirMask)
                                    : inotify_add_watch(r.inotify_fd, path.c_str(), kDirMask);
  if (wd < 0) {
    const int err = errno != 0 ? errno : EINVAL;
    if (err != ENOENT && err != ENOTDIR && err != ELOOP) report_add_watch_failure(r, rel, err);
    return -err;
  }
  map_watch(r, wd, rel);
  return wd;
}

void DirWatcher::map_watch(Root& r, int wd, const std::string& rel) {
  auto it = r.watches.find(wd);
  if (it != r.watches.end() && it->second.rel != rel) {
    // The same directory under a new path (a rename whose events were lost).
    auto old = r.wd_of.find(it->second.rel);
    if (old != r.wd_of.end() && old->second == wd) r.wd_of.erase(old);
  }
  r.watches[wd] = Root::Watch{rel, r.sweep_gen};
  r.wd_of[rel] = wd;
}

void DirWatcher::unmap_wd(Root& r, int wd) {
  auto it = r.watches.find(wd);
  if (it == r.watches.end()) return;
  auto rel_it = r.wd_of.find(it->second.rel);
  if (rel_it != r.wd_of.end() && rel_it->second == wd) r.wd_of.erase(rel_it);
  r.watches.erase(it);
}

void DirWatcher::drop_subtree(Root& r, const std::string& rel, bool rm_watches) {
  for (const auto& k : keys_under(r.wd_of, rel)) {
    const int wd = r.wd_of[k];
    if (wd == r.root_wd) continue;
    if (rm_watches) inotify_rm_watch(r.inotify_fd, wd);
    r.watches.erase(wd);
    r.wd_of.erase(k);
  }
  for (const auto& k : keys_under(r.refused, rel)) r.refused.erase(k);
  unhold_under(r, rel);
}

void DirWatcher::rename_subtree(Root& r, const std::string& from, const std::string& to) {
  std::vector<std::pair<std::string, int>> moved;
  for (const auto& k : keys_under(r.wd_of, from)) {
    moved.emplace_back(to + k.substr(from.size()), r.wd_of[k]);
    r.wd_of.erase(k);
  }
  for (auto& [rel, wd] : moved) {
    r.watches[wd].rel = rel;
    r.wd_of[rel] = wd;
  }
  // Symlinks below are reported again at their new paths by the scan, and
  // files held there are held again (or landed) there by it.
  for (const auto& k : keys_under(r.refused, from)) r.refused.erase(k);
  unhold_under(r, from);
}

void DirWatcher::report_add_watch_failure(Root& r, const std::string& rel, int err) {
  ++stats_.unwatched_dirs;
  std::string reason;
  if (err == ENOSPC) {
    reason = "inotify watch limit reached (raise fs.inotify.max_user_watches)";
  } else if (err == ENOMEM) {
    reason = "out of kernel memory for inotify watches";
  } else {
    reason = "cannot watch directory";
  }
  if (r.degraded_reported) {  // one event per full scan, the stats count the rest
    stats_.degraded = true;
    stats_.degraded_reason = reason + ": " + join_abs(r.spec.path, rel);
    return;
  }
  r.degraded_reported = true;
  report_degraded(r, reason, join_abs(r.spec.path, rel), err);
}

void DirWatcher::report_degraded(Root& r, const std::string& reason, const std::string& path,
                                 int err) {
  stats_.degraded = true;
  stats_.degraded_reason = reason + ": " + path;
  Event e = make_event("watch.degraded", r, "", "inotify");
  e.path = path;
  e.fields.set("reason", reason);
  e.fields.set("path", path);
  e.fields.set("error", errno_text(err));
  emit(std::move(e));
}

// ---------------------------------------------------------------- scanning

void DirWatcher::queue_scan(Root& r, std::string rel, bool full, std::string reason) {
  auto job = std::make_unique<ScanJob>();
  job->root = r.id;
  job->root_gen = r.gen;
  job->full = full;
  job->reason = std::move(reason);
  job->started = clock_.mono();
  job->dirs.push_back(std::move(rel));
  if (full) {
    // A newer full scan supersedes a running one (it must see everything again).
    std::erase_if(scans_, [&](const auto& j) { return j->full && j->root == r.id; });
    job->index_epoch = index_->begin_epoch();
    job->sweep_gen = ++r.sweep_gen;
    r.degraded_reported = false;
    // The root is not re-added by the scan; keep it confirmed.
    if (auto it = r.watches.find(r.root_wd); it != r.watches.end())
      it->second.confirmed = r.sweep_gen;
  }
  scans_.push_back(std::move(job));
  rearm();
}

void DirWatcher::run_scan_slice() {
  std::size_t budget = options_.slice_entries;
  while (budget > 0 && !scans_.empty() && !stopped_) {
    ScanJob& job = *scans_.front();
    Root& r = *roots_[job.root];
    if (r.gen != job.root_gen || r.missing) {
      scans_.pop_front();
      continue;
    }
    if (!scan_step(job, budget)) break;
    std::unique_ptr<ScanJob> done = std::move(scans_.front());
    scans_.pop_front();
    finish_scan(*done);
  }
}

bool DirWatcher::scan_step(ScanJob& job, std::size_t& budget) {
  Root& r = *roots_[job.root];
  while (budget > 0) {
    if (stopped_ || r.gen != job.root_gen) return false;
    if (job.dir_fd < 0) {
      if (job.dirs.empty()) return true;
      job.dir_rel = std::move(job.dirs.back());
      job.dirs.pop_back();
      --budget;
      job.dir_fd = open_in_root(r, job.dir_rel, O_RDONLY);
      if (job.dir_fd < 0) continue;  // gone or swapped for a symlink: events tell
      job.names = list_names(job.dir_fd);
      job.next = 0;
      job.subdirs.clear();
      continue;
    }
    if (job.next == job.names.size()) {
      close(job.dir_fd);
      job.dir_fd = -1;
      // Depth first, in name order.
      for (auto it = job.subdirs.rbegin(); it != job.subdirs.rend(); ++it)
        job.dirs.push_back(std::move(*it));
      job.subdirs.clear();
      continue;
    }
    const std::string& name = job.names[job.next++];
    --budget;
    std::string rel = join_rel(job.dir_rel, name);
    struct stat st;
    if (fstatat(job.dir_fd, name.c_str(), &st, AT_SYMLINK_NOFOLLOW) != 0) continue;
    if (S_ISREG(st.st_mode)) {
      if (r.ignore.ignores_file(rel)) continue;
      ++job.files;
      if (hold_if_recent(r, rel, st)) continue;
      const std::uint64_t before = stats_.landed;
      land_stat(r, rel, st, "scan", nullptr, "scan");
      job.landed += stats_.landed - before;
    } else if (S_ISDIR(st.st_mode)) {
      if (!r.spec.recursive || r.ignore.ignores_dir(rel)) continue;
      // Watch first, list later: nothing created in between is missed.
      add_watch(r, job.dir_fd, rel);
      job.subdirs.push_back(std::move(rel));
    } else if (S_ISLNK(st.st_mode)) {
      if (r.ignore.ignores_file(rel)) continue;
      refuse_symlink(r, job.dir_fd, rel, "scan");
    }
  }
  return false;
}

void DirWatcher::finish_scan(ScanJob& job) {
  Root& r = *roots_[job.root];
  if (!job.full) return;
  // Sweep: watches not re-added since this scan started belong to directories
  // that went away while events were lost (IN_IGNORED dropped by an overflow).
  std::vector<int> stale;
  for (const auto& [wd, w] : r.watches)
    if (w.confirmed < job.sweep_gen && wd != r.root_wd) stale.push_back(wd);
  for (int wd : stale) {
    inotify_rm_watch(r.inotify_fd, wd);
    unmap_wd(r, wd);
  }
  index_->drop_unseen(r.spec.name, job.index_epoch);
  ++stats_.rescans;
  Event e = make_event("watch.rescanned", r, "", "scan");
  e.fields.set("files", static_cast<std::int64_t>(job.files));
  e.fields.set("landed", static_cast<std::int64_t>(job.landed));
  e.fields.set("settling", static_cast<std::int64_t>(r.held.size()));
  e.fields.set("duration_ms", to_ms(clock_.mono() - job.started));
  e.fields.set("reason", job.reason);
  emit(std::move(e));
}

// ---------------------------------------------------------------- settling

bool DirWatcher::hold_if_recent(Root& r, const std::string& rel, const struct stat& st) {
  const Duration settle = options_.scan_settle;
  if (settle <= Duration(0)) return false;
  const Duration age = clock_.wall().time_since_epoch() - Duration(mtime_ns(st));
  if (age >= settle) return false;  // quiet for long enough: the caller lands it
  // Held files are not claimed, so the sweep at the end of this scan would
  // drop their index entries (a version the queue landed and whose handling
  // is still running, or one handled before a restart) and let that version
  // land twice.
  index_->touch(r.spec.name, rel);
  const MonoTime now = clock_.mono();
  auto [it, inserted] = r.held.try_emplace(rel);
  HeldFile& h = it->second;
  if (!inserted) {
    if (h.same_version(st)) return true;  // found again by another scan: keep its timing
    settle_queue_.erase(SettleDue{h.due, r.id, rel});
  }
  h.set_version(st, now);
  schedule_recheck(r, rel, h);
  return true;
}

void DirWatcher::schedule_recheck(Root& r, const std::string& rel, HeldFile& h) {
  // Quiet means "unchanged since quiet_since" and either "mtime older than the
  // settle period" (no write since, the usual case: the wait is only what is
  // left of it) or "unchanged for the whole settle period" (an mtime in the
  // future, or a wall clock that jumped back).
  const Duration settle = options_.scan_settle;
  const MonoTime now = clock_.mono();
  const Duration age = clock_.wall().time_since_epoch() - Duration(h.mtime_ns);
  h.due = std::min(h.quiet_since + settle, now + std::max(settle - age, Duration(0)));
  settle_queue_.insert(SettleDue{h.due, r.id, rel});
}

void DirWatcher::unhold(Root& r, const std::string& rel) {
  auto it = r.held.find(rel);
  if (it == r.held.end()) return;
  settle_queue_.erase(SettleDue{it->second.due, r.id, rel});
  r.held.erase(it);
}

void DirWatcher::unhold_under(Root& r, const std::string& rel) {
  for (const auto& k : keys_under(r.held, rel)) unhold(r, k);
}

void DirWatcher::recheck_due_files(MonoTime now) {
  // Bounded like a scan slice; what is left is due at once, so rearm() brings
  // the alarm back on the next iteration.
  std::size_t budget = options_.slice_entries;
  while (budget > 0 && !settle_queue_.empty() && !stopped_) {
    auto first = settle_queue_.begin();
    if (first->due > now) break;
    // A copy, not a reference: the entry is erased on the next line.
    const SettleDue d = *first;  // NOLINT(performance-unnecessary-copy-initialization)
    settle_queue_.erase(first);
    --budget;
    recheck(*roots_[d.root], d.rel);
  }
}

void DirWatcher::recheck(Root& r, const std::string& rel) {
  auto it = r.held.find(rel);
  if (it == r.held.end()) return;
  HeldFile& h = it->second;
  struct stat st;
  const int pfd = open_in_root(r, rel_dirname(rel), O_PATH);
  const std::string base(rel_basename(rel));
  const bool ok = pfd >= 0 && fstatat(pfd, base.c_str(), &st, AT_SYMLINK_NOFOLLOW) == 0;
  if (pfd >= 0) close(pfd);
  if (!ok || !S_ISREG(st.st_mode)) {
    // Gone (or replaced by something that is not a file): the queue reports
    // that on its own, and a directory without a watch is swept by the next
    // full scan. Nothing ever landed, so nothing is owed.
    r.held.erase(it);
    return;
  }
  const MonoTime now = clock_.mono();
  if (!h.same_version(st)) {
    // Still being written: wait again from now. Its close_write may land it
    // first, which ends the hold.
    h.set_version(st, now);
    schedule_recheck(r, rel, h);
    return;
  }
  const Duration settle = options_.scan_settle;
  const Duration age = clock_.wall().time_since_epoch() - Duration(h.mtime_ns);
  if (now - h.quiet_since < settle && age < settle) {
    schedule_recheck(r, rel, h);  // the timer fired early, or the wall clock went back
    return;
  }
  r.held.erase(it);
  land_stat(r, rel, st, "scan", nullptr, "scan");
}

// ---------------------------------------------------------------- events

int DirWatcher::open_in_root(const Root& r, std::string_view rel, int flags) {
  // The root is opened per use, not held: an open descriptor would keep the
  // kernel from reporting IN_DELETE_SELF when the root is deleted.
  const int root_fd = open(r.spec.path.c_str(), O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
  if (root_fd < 0) return -errno;
  const int fd = open_dir_beneath(root_fd, rel, flags);
  close(root_fd);
  return fd;
}

Event DirWatcher::make_event(const char* kind, const Root& r, const std::string& rel,
                             const char* source) {
  Event e;
  e.kind = kind;
  e.source = source;
  e.time = clock_.wall();
  e.path = join_abs(r.spec.path, rel);
  e.fields.set("watch", r.spec.name);
  e.fields.set("root", r.spec.path);
  e.fields.set("rel", rel);
  return e;
}

void DirWatcher::land(Root& r, int dir_fd, const std::string& rel, const char* via,
                      const std::string* from, const char* source) {
  // The queue reports `rel` complete (or it is gone by now): whatever a scan
  // held there is superseded.
  unhold(r, rel);
  int own_fd = -1;
  if (dir_fd < 0) {
    own_fd = open_in_root(r, rel_dirname(rel), O_PATH);
    if (own_fd < 0) return;
    dir_fd = own_fd;
  }
  const std::string base(rel_basename(rel));
  struct stat st;
  const bool ok = fstatat(dir_fd, base.c_str(), &st, AT_SYMLINK_NOFOLLOW) == 0;
  if (ok && S_ISLNK(st.st_mode)) refuse_symlink(r, dir_fd, rel, source);
  if (own_fd >= 0) close(own_fd);
  if (!ok || !S_ISREG(st.st_mode)) return;  // gone already, or not a regular file
  land_stat(r, rel, st, via, from, source);
}

void DirWatcher::land_stat(Root& r, const std::string& rel, const struct stat& st, const char* via,
                           const std::string* from, const char* source) {
  unhold(r, rel);
  FileIndex::Key key{r.spec.name,
                     rel,
                     static_cast<std::int64_t>(st.st_dev),
                     static_cast<std::int64_t>(st.st_ino),
                     static_cast<std::int64_t>(st.st_size),
                     mtime_ns(st)};
  if (!index_->claim(key)) {
    ++stats_.deduped;
    return;
  }
  ++stats_.landed;
  Event e = make_event("file.landed", r, rel, source);
  e.fields.set("via", via);
  e.fields.set("size", key.size);
  e.fields.set("inode", key.inode);
  e.fields.set("dev", key.dev);
  e.fields.set("mtime_ns", key.mtime_ns);
  if (from) e.fields.set("from", *from);
  emit(std::move(e));
}

void DirWatcher::refuse_symlink(Root& r, int dir_fd, const std::string& rel, const char* source) {
  if (r.refused.count(rel)) return;
  int own_fd = -1;
  if (dir_fd < 0) {
    own_fd = open_in_root(r, rel_dirname(rel), O_PATH);
    if (own_fd < 0) return;
    dir_fd = own_fd;
  }
  const std::string base(rel_basename(rel));
  char target[4096];
  const ssize_t n = readlinkat(dir_fd, base.c_str(), target, sizeof target - 1);
  if (own_fd >= 0) close(own_fd);
  if (n < 0) return;  // not a symlink (EINVAL) or gone
  r.refused.insert(rel);
  ++stats_.symlinks_refused;
  Event e = make_event("watch.symlink_refused", r, rel, source);
  e.fields.set("target", std::string(target, static_cast<std::size_t>(n)));
  emit(std::move(e));
}

void DirWatcher::emit(Event e) {
  if (!stopped_) emit_(std::move(e));
}

// ---------------------------------------------------------------- the alarm

void DirWatcher::rearm() {
  if (stopped_) return;
  if (scans_.empty())
    scan_idle_.stop();
  else
    scan_idle_.start();
  std::optional<MonoTime> due;
  const MonoTime now = clock_.mono();
  for (const auto& [cookie, m] : pending_moves_)
    if (!due || m.deadline < *due) due = m.deadline;
  for (const auto& r : roots_)
    if (r->rescan_due && (!due || *r->rescan_due < *due)) due = *r->rescan_due;
  if (!settle_queue_.empty() && (!due || settle_queue_.begin()->due < *due))
    due = settle_queue_.begin()->due;
  if (!due) {
    alarm_.stop();  // idle means idle
    return;
  }
  const Duration wait = *due - now;
  const auto ms =
      wait <= Duration(0) ? 0 : std::chrono::ceil<std::chrono::milliseconds>(wait).count();
  alarm_.start(static_cast<std::uint64_t>(ms));
}

void DirWatcher::on_alarm() {
  const MonoTime now = clock_.mono();
  std::vector<std::pair<std::uint32_t, PendingMove>> expired;
  for (const auto& [cookie, m] : pending_moves_)
    if (m.deadline <= now) expired.emplace_back(cookie, m);
  std::sort(expired.begin(), expired.end(), [](const auto& a, const auto& b) {
    return a.second.deadline < b.second.deadline ||
           (a.second.deadline == b.second.deadline && a.second.rel < b.second.rel);
  });
  for (const auto& [cookie, m] : expired) {
    pending_moves_.erase(cookie);
    if (stopped_) return;
    settle_moved_out(m);
  }
  for (auto& r : roots_) {
    if (stopped_) return;
    if (r->rescan_due && *r->rescan_due <= now) {
      r->rescan_due.reset();
      if (!r->missing) queue_scan(*r, "", true, r->rescan_reason);
    }
  }
  if (stopped_) return;
  run_scan_slice();
  recheck_due_files(clock_.mono());
  rearm();
}

}  // namespace aw
