#include "watchers/dir_watcher.h"

#include <fcntl.h>
#include <sys/inotify.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <set>

#include "src/core/event_kinds.h"
#include "src/os/errno_text.h"
#include "watchers/beneath_path.h"
#include "watchers/dir_crawl.h"
#include "watchers/inotify_source.h"
#include "watchers/settle_queue.h"
#include "watchers/watch_tree.h"

namespace aw {
namespace {

constexpr std::uint32_t kDirMask = IN_CLOSE_WRITE | IN_MOVED_TO | IN_MOVED_FROM | IN_CREATE |
                                   IN_DELETE | IN_ATTRIB | IN_DELETE_SELF | IN_MOVE_SELF |
                                   IN_ONLYDIR | IN_DONT_FOLLOW | IN_EXCL_UNLINK;
// The nearest existing ancestor of a missing root: only the name appearing (or
// the ancestor itself going away) matters.
constexpr std::uint32_t kParentMask =
    IN_CREATE | IN_MOVED_TO | IN_DELETE_SELF | IN_MOVE_SELF | IN_ONLYDIR;
// How far past a file's IN_CREATE to look for its IN_CLOSE_WRITE (see the header).
constexpr std::size_t kCreateLookahead = 8;

std::int64_t mtime_ns(const struct stat& st) {
  return static_cast<std::int64_t>(st.st_mtim.tv_sec) * 1'000'000'000 + st.st_mtim.tv_nsec;
}

FileVersion version_of(const struct stat& st) {
  return FileVersion{static_cast<std::int64_t>(st.st_size), mtime_ns(st),
                     static_cast<std::int64_t>(st.st_ino), static_cast<std::int64_t>(st.st_dev)};
}

// True when the next record about the same name in the same directory is its
// IN_CLOSE_WRITE: the entry IN_CREATE reported was a regular file opened for
// writing, not a symlink (writing through a symlink reports the target's name).
bool closed_next(const InotifyRecord& create, std::span<const InotifyRecord> after) {
  const std::size_t n = std::min(after.size(), kCreateLookahead);
  for (std::size_t i = 0; i < n; ++i) {
    const InotifyRecord& rec = after[i];
    if (rec.overflow) return false;
    if (rec.wd != create.wd || rec.name != create.name) continue;
    return (rec.mask & IN_CLOSE_WRITE) != 0 && !rec.is_dir;
  }
  return false;
}

}  // namespace

struct DirWatcher::Root {
  explicit Root(Duration settle) : settle(settle) {}

  std::size_t id = 0;
  WatchRoot spec;
  IgnoreRules ignore;
  std::unique_ptr<InotifySource> source;
  bool active = false;            // start() or add_root() after start() activated it
  bool missing = false;           // not watched: waiting for it to (re)appear
  bool reported_missing = false;  // watch.root_missing emitted, root_restored owed
  int root_wd = -1;
  std::uint64_t gen = 0;  // bumped when the tree's watches are dropped; stale jobs die

  WatchTree tree;
  std::set<std::string> refused;  // symlinks already reported
  SettleQueue settle;             // scanned files settling

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

  // Open only while a read batch is handled (see the header): the root, and
  // the last other directory a record needed, by rel.
  bool in_batch = false;
  UniqueFd batch_root_fd;
  UniqueFd batch_dir_fd;
  std::string batch_dir_rel;

  void close_batch_fds() {
    batch_root_fd.reset();
    batch_dir_fd.reset();
    batch_dir_rel.clear();
  }
  void close_all() {
    close_batch_fds();
    if (source) source->close();  // closing the fd removes every watch
    root_wd = parent_wd = -1;
    tree.clear();
  }
  ~Root() { close_all(); }
};

struct DirWatcher::ScanJob {
  ScanJob(std::string root_path, std::string rel) : crawl(std::move(root_path), std::move(rel)) {}
  std::size_t root = 0;
  std::uint64_t root_gen = 0;
  bool full = false;  // a whole-root scan: emits watch.rescanned, sweeps
  std::string reason;
  MonoTime started{};
  std::uint64_t index_epoch = 0;
  std::uint64_t sweep_gen = 0;
  DirCrawl crawl;
  std::uint64_t files = 0, landed = 0;
};

// What a scan does with each entry its crawl finds.
class DirWatcher::ScanVisitor final : public DirCrawl::Visitor {
 public:
  ScanVisitor(DirWatcher& w, Root& r, ScanJob& job) : w_(w), r_(r), job_(job) {}
  bool live() const override { return !w_.stopped_ && r_.gen == job_.root_gen; }
  void file(const std::string& rel, const struct stat& st) override {
    if (r_.ignore.ignores_file(rel)) return;
    ++job_.files;
    if (w_.hold_if_recent(r_, rel, st)) return;
    const std::uint64_t before = w_.stats_.landed;
    w_.land_stat(r_, rel, st, "scan", nullptr, "scan");
    job_.landed += w_.stats_.landed - before;
  }
  bool dir(int parent_fd, const std::string& rel) override {
    if (!r_.spec.recursive || r_.ignore.ignores_dir(rel)) return false;
    // Watch first, list later: nothing created in between is missed.
    w_.add_watch(r_, parent_fd, rel);
    return true;
  }
  void symlink(int parent_fd, const std::string& rel) override {
    if (r_.ignore.ignores_file(rel)) return;
    w_.refuse_symlink(r_, parent_fd, rel, "scan");
  }

 private:
  DirWatcher& w_;
  Root& r_;
  ScanJob& job_;
};

DirWatcher::DirWatcher(uv_loop_t* loop, const Clock& clock, FileIndex* index,
                       std::function<void(Event)> emit, Options options)
    : loop_(loop),
      clock_(clock),
      index_(index),
      emit_(std::move(emit)),
      options_(options),
      env_(options_.env ? *options_.env : Env::real()),
      moves_(options_.move_pair_window),
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
  auto r = std::make_unique<Root>(options_.scan_settle);
  r->id = roots_.size();
  r->spec = root;
  r->spec.path = *path;
  r->ignore = std::move(ignore.value());
  Root* raw = r.get();
  InotifySource::Callbacks cb;
  cb.on_records = [this, raw](std::span<const InotifyRecord> recs) { on_records(*raw, recs); };
  cb.on_malformed = [this, raw](const std::string&) { on_overflow(*raw, "decode_error"); };
  cb.on_error = [this, raw](const char* what, int err) {
    report_degraded(*raw,
                    std::strcmp(what, "poll") == 0 ? "inotify poll error" : "inotify read failed",
                    raw->spec.path, err);
  };
  cb.on_drained = [this] { rearm(); };
  auto source = InotifySource::open(
      loop_, std::move(cb),
      InotifySource::Options{64 * 1024, options_.max_backlog_bytes, options_.max_records_per_tick},
      env_);
  if (!source.ok())
    return make_error("watch '" + root.name + "': " + source.error().message, source.error().code);
  r->source = std::move(source.value());
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
  moves_.clear();
  for (auto& r : roots_) {
    r->settle.clear();
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
  s.events_read = 0;
  for (const auto& r : roots_) {
    if (r->missing) ++s.roots_missing;
    s.watches += r->tree.size();
    s.settling += r->settle.size();
    s.events_read += r->source->records_read();
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
  if (int rc = r.source->start(); rc != 0)
    report_degraded(r, "cannot poll the inotify fd", r.spec.path, -rc);
  r.missing = true;  // until try_restore finds the directory
  try_restore(r);
  if (r.missing && !stopped_) {
    r.reported_missing = true;
    Event e = make_event(kind::kWatchRootMissing, r, "", "inotify");
    struct stat st;
    e.fields.set("reason", lstat(r.spec.path.c_str(), &st) == 0 ? "not a directory" : "not found");
    emit(std::move(e));
  }
}

void DirWatcher::try_restore(Root& r) {
  // A root fd a batch holds may name the directory that went away.
  r.close_batch_fds();
  // Bounded: each round either watches the root, or watches an ancestor and
  // finds nothing new below it; the bound only guards against a livelock with a
  // process that keeps creating and deleting the path.
  for (int round = 0; round < 32; ++round) {
    struct stat st;
    if (lstat(r.spec.path.c_str(), &st) == 0) {
      if (S_ISDIR(st.st_mode)) {
        // IN_DONT_FOLLOW in kDirMask: a symlink swapped in since the lstat is
        // refused with ENOTDIR (IN_ONLYDIR), never followed.
        const int wd = r.source->add_watch(r.spec.path.c_str(), kDirMask);
        if (wd >= 0) {
          const bool was_reported_missing = r.reported_missing;
          r.reported_missing = false;
          if (r.parent_wd >= 0) r.source->rm_watch(r.parent_wd);
          r.parent_wd = -1;
          r.refused_root_target.clear();
          r.root_wd = wd;
          r.missing = false;
          r.tree.map(wd, "");
          if (was_reported_missing) emit(make_event(kind::kWatchRootRestored, r, "", "inotify"));
          queue_scan(r, "", true, was_reported_missing ? "restored" : "start");
          return;
        }
        const int err = -wd;
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
          Event e = make_event(kind::kWatchSymlinkRefused, r, "", "inotify");
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
      if (r.parent_wd >= 0) r.source->rm_watch(r.parent_wd);
      r.parent_wd = r.source->add_watch(parent.c_str(), kParentMask);
      if (r.parent_wd < 0) {
        report_add_watch_failure(r, "", -r.parent_wd);
        r.parent_wd = -1;
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
  ++r.gen;  // also ends the hiding of its unresolved directory moves
  r.refused.clear();
  unhold_under(r, "");
  r.rescan_due.reset();
  r.missing = true;
  r.reported_missing = true;
  Event e = make_event(kind::kWatchRootMissing, r, "", "inotify");
  e.fields.set("reason", reason);
  emit(std::move(e));
  try_restore(r);
}

void DirWatcher::drop_all_watches(Root& r) {
  r.close_batch_fds();
  for (int wd : r.tree.clear()) r.source->rm_watch(wd);
}

// ---------------------------------------------------------------- reading

void DirWatcher::on_records(Root& r, std::span<const InotifyRecord> records) {
  r.in_batch = true;
  for (std::size_t i = 0; i < records.size(); ++i) {
    if (stopped_) break;
    handle(r, records[i], records.subspan(i + 1));
  }
  r.in_batch = false;
  r.close_batch_fds();
}

void DirWatcher::handle(Root& r, const InotifyRecord& rec, std::span<const InotifyRecord> after) {
  if (rec.overflow) {
    on_overflow(r, "queue_overflow");
    return;
  }
  if (r.missing) {
    handle_missing_parent(r, rec);
    return;
  }
  const std::string* dir_rel_p = r.tree.rel_of(rec.wd);
  if (dir_rel_p == nullptr) return;  // a watch we already dropped
  const bool is_root = rec.wd == r.root_wd;

  if (rec.ignored) {
    if (is_root) {
      set_missing(r, "deleted");
    } else {
      r.close_batch_fds();
      r.tree.unmap(rec.wd);
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
  // Inside a directory whose move is unresolved: its pair (or age-out) accounts for it.
  if (moves_.hides(r.id, r.gen, *dir_rel_p)) return;

  const std::string rel = join_rel(*dir_rel_p, rec.name);
  if (rec.mask & IN_MOVED_FROM) {
    PendingMove m;
    m.root = r.id;
    m.root_gen = r.gen;
    m.rel = rel;
    m.is_dir = rec.is_dir;
    m.hides_subtree = rec.is_dir && !r.ignore.ignores_dir(rel);
    moves_.moved_from(rec.cookie, std::move(m), clock_.mono());
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
    } else if (!closed_next(rec, after)) {
      // A new entry's content is not complete yet (IN_CLOSE_WRITE lands it);
      // only a symlink is worth a look now.
      refuse_symlink(r, -1, rel, "inotify");
    }
  } else if (rec.mask & IN_CLOSE_WRITE) {
    if (!rec.is_dir) land(r, rel, "close_write", nullptr, "inotify");
  } else if (rec.mask & IN_DELETE) {
    if (rec.is_dir) {
      on_dir_gone(r, rel, "delete");
      return;
    }
    unhold(r, rel);
    if (r.refused.erase(rel) == 0) {
      Event e = make_event(kind::kFileRemoved, r, rel, "inotify");
      e.fields.set("via", "delete");
      index_->forget(r.spec.name, rel);
      emit(std::move(e));
    }
  } else if (rec.mask & IN_ATTRIB) {
    if (rec.is_dir) return;
    const DirFd dir = open_dir(r, rel_dirname(rel));
    if (dir.fd < 0) return;
    struct stat st;
    const std::string base(rel_basename(rel));
    if (fstatat(dir.fd, base.c_str(), &st, AT_SYMLINK_NOFOLLOW) != 0 || !S_ISREG(st.st_mode))
      return;
    Event e = make_event(kind::kFileAttrib, r, rel, "inotify");
    e.fields.set("mode", static_cast<std::int64_t>(st.st_mode & 07777));
    e.fields.set("uid", static_cast<std::int64_t>(st.st_uid));
    e.fields.set("gid", static_cast<std::int64_t>(st.st_gid));
    emit(std::move(e));
  }
}

void DirWatcher::handle_missing_parent(Root& r, const InotifyRecord& rec) {
  if (rec.wd != r.parent_wd) return;
  if (rec.ignored || rec.unmount || (rec.mask & (IN_DELETE_SELF | IN_MOVE_SELF))) {
    if (!rec.ignored) r.source->rm_watch(r.parent_wd);
    r.parent_wd = -1;
    r.parent_path.clear();
    try_restore(r);
    return;
  }
  if ((rec.mask & (IN_CREATE | IN_MOVED_TO)) && rec.name == r.next_name) try_restore(r);
}

void DirWatcher::on_moved_to(Root& r, const InotifyRecord& rec, const std::string& rel) {
  const std::optional<PendingMove> from = moves_.moved_to(rec.cookie);
  Root* from_root = nullptr;
  bool from_visible = false;
  if (from) {
    Root& fr = *roots_[from->root];
    if (fr.gen == from->root_gen && !fr.missing) {
      from_root = &fr;
      from_visible =
          from->is_dir ? !fr.ignore.ignores_dir(from->rel) : !fr.ignore.ignores_file(from->rel);
    }
  }
  const bool to_visible = rec.is_dir ? !r.ignore.ignores_dir(rel) : !r.ignore.ignores_file(rel);
  const std::string from_abs = from_root ? join_abs(from_root->spec.path, from->rel) : "";
  const std::string* from_ptr = from_root ? &from_abs : nullptr;

  if (rec.is_dir) {
    const bool renamed_inside = from_root == &r && from_visible && to_visible;
    if (renamed_inside && r.spec.recursive && r.tree.watches(from->rel)) {
      // Renamed inside the tree: the watches stay, their paths change. The
      // files below now live at new paths, so they land there (atomic
      // directory publish: build in a staging dir, rename into place).
      rename_subtree(r, from->rel, rel);
      Event e = make_event(kind::kDirCreated, r, rel, "inotify");
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
      Event e = make_event(kind::kFileRemoved, *from_root, from->rel, "inotify");
      e.fields.set("via", "moved_out");
      emit(std::move(e));
    }
  }
  if (to_visible) land(r, rel, "rename", from_ptr, "inotify");
}

void DirWatcher::on_dir_appeared(Root& r, const std::string& rel, const char* via,
                                 const std::string* from) {
  if (r.spec.recursive) {
    // The watch goes on first, then the scan: a file created in between is
    // reported by both, and the claim keeps one.
    const DirFd parent = open_dir(r, rel_dirname(rel));
    if (parent.fd < 0) return;  // the parent went away too; its own events follow
    const int wd = add_watch(r, parent.fd, rel);
    // Gone again or swapped for a symlink: its own events follow. A refused
    // watch (limit) still gets its event and a scan of what is there.
    if (wd == -ENOENT || wd == -ENOTDIR || wd == -ELOOP) return;
  }
  Event e = make_event(kind::kDirCreated, r, rel, "inotify");
  e.fields.set("via", via);
  if (from) e.fields.set("from", *from);
  emit(std::move(e));
  if (r.spec.recursive) queue_scan(r, rel, false, via);
}

void DirWatcher::on_dir_gone(Root& r, const std::string& rel, const char* via) {
  // A deleted directory's watches die with it (IN_IGNORED follows); a moved
  // one's would keep reporting from outside the root, so they are removed.
  drop_subtree(r, rel, std::strcmp(via, "delete") != 0);
  Event e = make_event(kind::kDirRemoved, r, rel, "inotify");
  e.fields.set("via", via);
  emit(std::move(e));
}

void DirWatcher::settle_moved_out(const PendingMove& m) {
  Root& r = *roots_[m.root];
  if (r.gen != m.root_gen || r.missing) return;
  if (m.is_dir) {
    if (!r.ignore.ignores_dir(m.rel)) on_dir_gone(r, m.rel, "moved_out");
    return;
  }
  if (r.ignore.ignores_file(m.rel)) return;
  unhold(r, m.rel);
  index_->forget(r.spec.name, m.rel);
  if (r.refused.erase(m.rel)) return;
  Event e = make_event(kind::kFileRemoved, r, m.rel, "inotify");
  e.fields.set("via", "moved_out");
  emit(std::move(e));
}

void DirWatcher::on_overflow(Root& r, const char* reason) {
  ++stats_.overflows;
  Event e = make_event(kind::kWatchOverflow, r, "", "inotify");
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
  const int wd = r.source->add_watch(path.c_str(), kDirMask);
  if (wd < 0) {
    const int err = -wd;
    if (err != ENOENT && err != ENOTDIR && err != ELOOP) report_add_watch_failure(r, rel, err);
    return wd;
  }
  r.tree.map(wd, rel);
  return wd;
}

void DirWatcher::drop_subtree(Root& r, const std::string& rel, bool rm_watches) {
  r.close_batch_fds();
  for (int wd : r.tree.drop_subtree(rel, r.root_wd))
    if (rm_watches) r.source->rm_watch(wd);
  for (const auto& k : rel_keys_under(r.refused, rel, [](const std::string& s) { return s; }))
    r.refused.erase(k);
  unhold_under(r, rel);
}

void DirWatcher::rename_subtree(Root& r, const std::string& from, const std::string& to) {
  r.close_batch_fds();
  r.tree.rename_subtree(from, to);
  // Symlinks below are reported again at their new paths by the scan, and
  // files held there are held again (or landed) there by it.
  for (const auto& k : rel_keys_under(r.refused, from, [](const std::string& s) { return s; }))
    r.refused.erase(k);
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
  Event e = make_event(kind::kWatchDegraded, r, "", "inotify");
  e.path = path;
  e.fields.set("reason", reason);
  e.fields.set("path", path);
  e.fields.set("error", errno_text(err));
  emit(std::move(e));
}

// ---------------------------------------------------------------- scanning

void DirWatcher::queue_scan(Root& r, std::string rel, bool full, std::string reason) {
  auto job = std::make_unique<ScanJob>(r.spec.path, std::move(rel));
  job->root = r.id;
  job->root_gen = r.gen;
  job->full = full;
  job->reason = std::move(reason);
  job->started = clock_.mono();
  if (full) {
    // A newer full scan supersedes a running one (it must see everything again).
    std::erase_if(scans_, [&](const auto& j) { return j->full && j->root == r.id; });
    job->index_epoch = index_->begin_epoch();
    // The root is not re-added by the scan; it stays confirmed.
    job->sweep_gen = r.tree.begin_sweep(r.root_wd);
    r.degraded_reported = false;
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
    ScanVisitor visitor(*this, r, job);
    if (!job.crawl.step(budget, visitor)) break;
    std::unique_ptr<ScanJob> done = std::move(scans_.front());
    scans_.pop_front();
    finish_scan(*done);
  }
}

void DirWatcher::finish_scan(ScanJob& job) {
  Root& r = *roots_[job.root];
  if (!job.full) return;
  // Sweep: watches not re-added since this scan started belong to directories
  // that went away while events were lost (IN_IGNORED dropped by an overflow).
  for (int wd : r.tree.unconfirmed(job.sweep_gen, r.root_wd)) {
    r.source->rm_watch(wd);
    r.tree.unmap(wd);
  }
  index_->drop_unseen(r.spec.name, job.index_epoch);
  ++stats_.rescans;
  Event e = make_event(kind::kWatchRescanned, r, "", "scan");
  e.fields.set("files", static_cast<std::int64_t>(job.files));
  e.fields.set("landed", static_cast<std::int64_t>(job.landed));
  e.fields.set("settling", static_cast<std::int64_t>(r.settle.size()));
  e.fields.set("duration_ms", to_ms(clock_.mono() - job.started));
  e.fields.set("reason", job.reason);
  emit(std::move(e));
}

// ---------------------------------------------------------------- settling

bool DirWatcher::hold_if_recent(Root& r, const std::string& rel, const struct stat& st) {
  if (!r.settle.offer(rel, version_of(st), ClockSnapshot::of(clock_))) return false;
  // Held files are not claimed, so the sweep at the end of this scan would
  // drop their index entries (a version the queue landed and whose handling
  // is still running, or one handled before a restart) and let that version
  // land twice.
  index_->touch(r.spec.name, rel);
  return true;
}

void DirWatcher::unhold(Root& r, const std::string& rel) {
  r.settle.release(rel);
}

void DirWatcher::unhold_under(Root& r, const std::string& rel) {
  r.settle.release_under(rel);
}

void DirWatcher::recheck_due_files(MonoTime now) {
  // Bounded like a scan slice, shared by the roots; what is left is due at
  // once, so rearm() brings the alarm back on the next iteration.
  std::size_t budget = options_.slice_entries;
  for (auto& rp : roots_) {
    Root& r = *rp;
    if (budget == 0 || stopped_) break;
    const std::vector<std::string> due = r.settle.take_due(now, budget);
    budget -= due.size();
    for (const std::string& rel : due) {
      if (stopped_) return;
      std::optional<FileVersion> v;
      struct stat st;
      {
        const DirFd dir = open_dir(r, rel_dirname(rel));
        const std::string base(rel_basename(rel));
        if (dir.fd >= 0 && fstatat(dir.fd, base.c_str(), &st, AT_SYMLINK_NOFOLLOW) == 0 &&
            S_ISREG(st.st_mode))
          v = version_of(st);
      }
      // Gone (or no longer a file): the queue reports that on its own, and a
      // directory without a watch is swept by the next full scan.
      if (r.settle.recheck(rel, v, ClockSnapshot::of(clock_)) == SettleQueue::Verdict::kLand)
        land_stat(r, rel, st, "scan", nullptr, "scan");
    }
  }
}

// ---------------------------------------------------------------- events

DirWatcher::DirFd DirWatcher::open_dir(Root& r, std::string_view dir_rel) {
  if (!r.in_batch) return DirFd(open_in_root(r.spec.path, dir_rel, O_PATH), true);
  if (dir_rel.empty()) {
    if (!r.batch_root_fd) {
      r.batch_root_fd.reset(
          open(r.spec.path.c_str(), O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC));
      if (!r.batch_root_fd) return DirFd(-errno, false);
    }
    return DirFd(r.batch_root_fd.get(), false);
  }
  if (r.batch_dir_fd && r.batch_dir_rel == dir_rel) return DirFd(r.batch_dir_fd.get(), false);
  const int fd = open_in_root(r.spec.path, dir_rel, O_PATH);
  if (fd < 0) return DirFd(fd, false);
  r.batch_dir_fd.reset(fd);
  r.batch_dir_rel.assign(dir_rel);
  return DirFd(fd, false);
}

Event DirWatcher::make_event(std::string_view kind, const Root& r, const std::string& rel,
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

void DirWatcher::land(Root& r, const std::string& rel, const char* via, const std::string* from,
                      const char* source) {
  // The queue reports `rel` complete (or it is gone by now): whatever a scan
  // held there is superseded.
  unhold(r, rel);
  const DirFd dir = open_dir(r, rel_dirname(rel));
  if (dir.fd < 0) return;
  const std::string base(rel_basename(rel));
  struct stat st;
  if (fstatat(dir.fd, base.c_str(), &st, AT_SYMLINK_NOFOLLOW) != 0) return;  // gone already
  if (S_ISLNK(st.st_mode)) refuse_symlink(r, dir.fd, rel, source);
  if (!S_ISREG(st.st_mode)) return;
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
  Event e = make_event(kind::kFileLanded, r, rel, source);
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
  const DirFd own = dir_fd < 0 ? open_dir(r, rel_dirname(rel)) : DirFd();
  if (dir_fd < 0) {
    if (own.fd < 0) return;
    dir_fd = own.fd;
  }
  const std::string base(rel_basename(rel));
  char target[4096];
  const ssize_t n = readlinkat(dir_fd, base.c_str(), target, sizeof target - 1);
  if (n < 0) return;  // not a symlink (EINVAL) or gone
  r.refused.insert(rel);
  ++stats_.symlinks_refused;
  Event e = make_event(kind::kWatchSymlinkRefused, r, rel, source);
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
  std::optional<MonoTime> due = moves_.next_deadline();
  const auto earliest = [&due](std::optional<MonoTime> t) {
    if (t && (!due || *t < *due)) due = t;
  };
  for (const auto& r : roots_) {
    earliest(r->rescan_due);
    earliest(r->settle.next_due());
  }
  if (!due) {
    alarm_.stop();  // idle means idle
    return;
  }
  const Duration wait = *due - clock_.mono();
  const auto ms =
      wait <= Duration(0) ? 0 : std::chrono::ceil<std::chrono::milliseconds>(wait).count();
  alarm_.start(static_cast<std::uint64_t>(ms));
}

void DirWatcher::on_alarm() {
  const MonoTime now = clock_.mono();
  for (const PendingMove& m : moves_.expire(now)) {
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
