#include "src/state/state_store.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <utility>

#include "src/os/errno_text.h"
#include "src/os/files.h"
#include "src/os/unique_fd.h"

namespace aw {
namespace {

constexpr const char* kJournalName = "lifecycle.journal";
constexpr const char* kSnapshotName = "lifecycle.snapshot";
constexpr std::uint64_t kFirstRetryMs = 1000;
constexpr std::uint64_t kMaxRetryMs = 30'000;

std::uint64_t count_lines(std::string_view bytes) {
  return static_cast<std::uint64_t>(std::count(bytes.begin(), bytes.end(), '\n'));
}

}  // namespace

// ---------------------------------------------------------------------------
// Loading

std::string StateLoadReport::summary(std::size_t entities) const {
  std::string s = "lifecycle state: " + std::to_string(entities) + " entities (";
  s += snapshot_found ? "snapshot seq " + std::to_string(snapshot_last_seq) : "no snapshot";
  if (!snapshot_error.empty()) s += ", snapshot unreadable: " + snapshot_error;
  if (!snapshot_moved_to.empty()) s += ", moved to " + snapshot_moved_to;
  if (!snapshot_problems.empty())
    s += ", " + std::to_string(snapshot_problems.size()) + " malformed snapshot entities skipped";
  s += journal_found ? ", journal " + std::to_string(journal.applied) + " applied" : ", no journal";
  if (journal.skipped_old) s += ", " + std::to_string(journal.skipped_old) + " already in snapshot";
  if (journal.corrupt) s += ", " + std::to_string(journal.corrupt) + " corrupt lines skipped";
  if (journal.unapplied) s += ", " + std::to_string(journal.unapplied) + " records not applicable";
  if (journal.out_of_order) s += ", " + std::to_string(journal.out_of_order) + " out of order";
  if (journal.torn_tail_bytes)
    s += ", torn tail " + std::to_string(journal.torn_tail_bytes) + " bytes dropped";
  s += ")";
  return s;
}

Result<LoadedState> load_state(const std::string& dir, EntityTableOptions table_options) {
  LoadedState out{EntityTable(table_options), {}};
  StateLoadReport& report = out.report;
  const std::string snapshot_path = dir + "/" + kSnapshotName;
  const std::string journal_path = dir + "/" + kJournalName;

  auto snapshot_text = read_file_if_exists(snapshot_path);
  if (!snapshot_text) return snapshot_text.error();
  if (*snapshot_text) {
    report.snapshot_found = true;
    auto snap = decode_snapshot(**snapshot_text, snapshot_path);
    if (!snap) {
      report.snapshot_error = snap.error().message;
    } else {
      report.snapshot_last_seq = snap->last_seq;
      report.snapshot_entities = snap->entities.size();
      report.snapshot_problems = std::move(snap->problems);
      for (auto& e : snap->entities) out.table.restore(std::move(e));
    }
  }

  auto journal_text = read_file_if_exists(journal_path);
  if (!journal_text) return journal_text.error();
  if (*journal_text) {
    report.journal_found = true;
    report.journal =
        replay_journal(**journal_text, report.snapshot_last_seq, out.table, journal_path);
  }
  return out;
}

// ---------------------------------------------------------------------------
// The journal fd and paths, shared between the store and the job in flight, so a
// job can finish after the store is gone (and a destroyed store's last batch can
// still be written).

struct StateStore::Link {
  uv_loop_t* loop = nullptr;
  Env* env = nullptr;
  std::string dir, journal_path, snapshot_path, snapshot_tmp_path;
  UniqueFd fd;
  bool dir_sync_pending = false;  // the journal was created: its name needs a dir fsync
  bool busy = false;              // a job is in flight (loop thread only)
  StateStore* owner = nullptr;    // nullptr once the store is destroyed
  std::string orphan;             // bytes a destroyed store left to write
  int orphan_failures = 0;
};

struct StateStore::Job {
  bool snapshot = false;
  std::string bytes;  // commit: journal lines; snapshot: the document
  std::uint64_t snapshot_seq = 0;
  std::string absorbed;  // snapshot: pending journal bytes it makes unnecessary
  std::uint64_t absorbed_records = 0;
  std::vector<DurableCallback> callbacks;
  bool sync_dir = false;
  // Results, written by the pool thread and read by finish() on the loop thread.
  enum class Failure { kNone, kWrite, kFsync, kSnapshot };
  Failure failure = Failure::kNone;
  std::size_t written = 0;
  std::string error;
  bool journal_truncated = false;
  std::string truncate_error;
};

namespace {

// Writes all of `data` (short writes continue, EINTR retries), counting in
// `written` what landed: a failed journal write retries from there, so that a
// line cut by a short write is completed, not torn (write_all cannot tell).
// Returns 0 or errno.
int write_counted(Env& env, int fd, std::string_view data, std::size_t& written) {
  while (written < data.size()) {
    ssize_t n = env.write(fd, data.data() + written, data.size() - written);
    if (n < 0) {
      if (errno == EINTR) continue;
      return errno;
    }
    if (n == 0) return EIO;
    written += static_cast<std::size_t>(n);
  }
  return 0;
}

// The errno behind a failed src/os call (its Error carries -errno), 0 for ok.
int errno_of(const Status& s) {
  if (s) return 0;
  return s.error().code < 0 ? -s.error().code : EIO;
}

}  // namespace

// Runs on a pool thread (or inline without a loop). Touches only the job and the
// link's immutable parts (fd, paths, env).
void StateStore::run_job(Link& link, Job& job) {
  using Failure = Job::Failure;
  Env& env = *link.env;
  if (!job.snapshot) {
    if (!job.bytes.empty()) {
      if (int err = write_counted(env, link.fd.get(), job.bytes, job.written)) {
        job.failure = Failure::kWrite;
        job.error = "writing " + link.journal_path + ": " + errno_text(err);
        return;
      }
      if (env.fsync(link.fd.get()) != 0) {
        job.failure = Failure::kFsync;
        job.error = "fsync of " + link.journal_path + ": " + errno_text(errno);
        return;
      }
    }
    if (job.sync_dir) {
      if (int err = errno_of(sync_dir(link.dir, env))) {
        job.failure = Failure::kFsync;
        job.error = "fsync of directory " + link.dir + ": " + errno_text(err);
      }
    }
    return;
  }

  // Snapshot: tmp, fsync, rename, fsync dir; only then truncate the journal.
  auto fail = [&](const std::string& what, int err) {
    job.failure = Failure::kSnapshot;
    job.error = what + ": " + errno_text(err);
  };
  UniqueFd sfd(
      env.open(link.snapshot_tmp_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600));
  if (!sfd) return fail("cannot create " + link.snapshot_tmp_path, errno);
  int err = errno_of(write_all_and_sync(sfd.get(), job.bytes, env));
  sfd.reset();  // closed before the rename or unlink below
  if (err) {
    ::unlink(link.snapshot_tmp_path.c_str());
    return fail("writing " + link.snapshot_tmp_path, err);
  }
  if (env.rename(link.snapshot_tmp_path.c_str(), link.snapshot_path.c_str()) != 0) {
    err = errno;
    ::unlink(link.snapshot_tmp_path.c_str());
    return fail("renaming " + link.snapshot_tmp_path + " to " + link.snapshot_path, err);
  }
  // The new snapshot must be the one a reboot finds before the journal it replaces
  // goes: without this fsync a crash could bring back the old snapshot with an
  // empty journal.
  if (int e = errno_of(sync_dir(link.dir, env))) return fail("fsync of directory " + link.dir, e);
  if (env.ftruncate(link.fd.get(), 0) != 0 || env.fsync(link.fd.get()) != 0) {
    // The snapshot landed: state is safe. The journal keeps old records, which
    // replay skips (seq <= last_seq); the next compaction tries again.
    job.truncate_error = "truncating " + link.journal_path + ": " + errno_text(errno);
    return;
  }
  job.journal_truncated = true;
}

// Writes what a destroyed store left behind, one job at a time; no callbacks.
void StateStore::write_orphans(const std::shared_ptr<Link>& link) {
  if (link->busy || link->orphan.empty()) return;
  auto job = std::make_shared<Job>();
  job->bytes = std::move(link->orphan);
  link->orphan.clear();
  job->sync_dir = link->dir_sync_pending;
  link->busy = true;
  int rc = uvx::queue_work(
      link->loop, [link, job] { run_job(*link, *job); },
      [link, job] {
        link->busy = false;
        finish_orphan(link, *job);
      });
  if (rc != 0) {  // the loop is going away: write it now rather than lose it
    run_job(*link, *job);
    link->busy = false;
  }
}

// A job that finished after its store was destroyed: keep the journal in order
// (a cut line is completed first), try a failing disk at most twice more, and
// never call a callback.
void StateStore::finish_orphan(const std::shared_ptr<Link>& link, Job& job) {
  if (!job.snapshot && job.failure == Job::Failure::kWrite) {
    if (++link->orphan_failures > 2) {
      link->orphan.clear();
      return;
    }
    link->orphan.insert(0, job.bytes.substr(job.written));
  }
  if (job.snapshot && job.failure == Job::Failure::kSnapshot) link->orphan.insert(0, job.absorbed);
  write_orphans(link);
}

// ---------------------------------------------------------------------------
// StateStore

Result<std::unique_ptr<StateStore>> StateStore::open(uv_loop_t* loop, StateStoreOptions options) {
  if (options.dir.empty()) return make_error("state directory: empty path");
  if (Status s = make_dirs(options.dir, 0700); !s)
    return make_error("state directory: " + s.error().message, s.error().code);
  auto loaded = load_state(options.dir, options.table);
  if (!loaded) return loaded.error();
  std::unique_ptr<StateStore> store(new StateStore(loop, std::move(options), std::move(*loaded)));
  Link& link = *store->link_;
  Env& env = store->env_;
  StateLoadReport& report = store->load_report_;

  if (!report.snapshot_error.empty()) {
    // Keep the unreadable file for a person to look at; a fresh snapshot follows.
    std::string moved = link.snapshot_path + ".corrupt." +
                        std::to_string(SystemClock().wall().time_since_epoch().count());
    if (env.rename(link.snapshot_path.c_str(), moved.c_str()) != 0)
      return errno_error("cannot move unreadable " + link.snapshot_path + " aside", errno);
    report.snapshot_moved_to = moved;
  }

  struct stat st {};
  bool existed = ::stat(link.journal_path.c_str(), &st) == 0;
  link.fd.reset(
      env.open(link.journal_path.c_str(), O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0600));
  if (!link.fd) return errno_error("cannot open " + link.journal_path, errno);
  link.dir_sync_pending = !existed;
  if (report.journal.torn_tail_bytes > 0) {
    // Without this, the next record would be glued to the torn bytes and the pair
    // read back as one corrupt line: a durable record lost.
    if (env.ftruncate(link.fd.get(), static_cast<off_t>(report.journal.valid_bytes)) != 0)
      return errno_error("cannot drop the torn tail of " + link.journal_path, errno);
  }

  store->next_seq_ = std::max(report.snapshot_last_seq, report.journal.last_seq) + 1;
  store->stats_.journal_records = report.journal.lines;
  store->stats_.journal_bytes = report.journal.valid_bytes;
  const StateStoreOptions& o = store->options_;
  if (report.needs_compaction() || store->stats_.journal_records >= o.compact_after_records ||
      store->stats_.journal_bytes >= o.compact_after_bytes) {
    store->snapshot_requested_ = true;
    store->pump();
  }
  return store;
}

StateStore::StateStore(uv_loop_t* loop, StateStoreOptions options, LoadedState loaded)
    : loop_(loop),
      options_(std::move(options)),
      env_(options_.env ? *options_.env : Env::real()),
      table_(std::move(loaded.table)),
      load_report_(std::move(loaded.report)),
      link_(std::make_shared<Link>()) {
  link_->loop = loop_;
  link_->env = &env_;
  link_->dir = options_.dir;
  link_->journal_path = options_.dir + "/" + kJournalName;
  link_->snapshot_path = options_.dir + "/" + kSnapshotName;
  link_->snapshot_tmp_path = link_->snapshot_path + ".tmp";
  link_->owner = this;
  table_.set_observer([this](const Mutation& m) { on_mutation(m); });
  if (loop_) {
    commit_timer_.emplace(loop_, [this] {
      commit_requested_ = true;
      pump();
    });
    retry_timer_.emplace(loop_, [this] {
      commit_requested_ = true;
      pump();
    });
    // A store that cannot write must not keep a stopping daemon alive.
    retry_timer_->unref();
  }
}

StateStore::~StateStore() {
  table_.set_observer({});
  link_->owner = nullptr;
  if (pending_.empty()) return;
  if (!loop_) {
    Job job;
    job.bytes = std::move(pending_);
    job.sync_dir = link_->dir_sync_pending;
    run_job(*link_, job);
    return;
  }
  link_->orphan += pending_;
  write_orphans(link_);
}

const std::string& StateStore::journal_path() const {
  return link_->journal_path;
}
const std::string& StateStore::snapshot_path() const {
  return link_->snapshot_path;
}

void StateStore::on_mutation(const Mutation& m) {
  pending_ += encode_journal_record(next_seq_++, m);
  ++pending_records_;
  if (loop_ && options_.auto_commit) schedule_commit();
}

void StateStore::schedule_commit() {
  if (loop_ && !commit_timer_->active()) commit_timer_->start(0);
}

void StateStore::commit(DurableCallback on_durable) {
  if (on_durable) pending_callbacks_.push_back(std::move(on_durable));
  commit_requested_ = true;
  pump();
}

void StateStore::when_durable(DurableCallback on_durable) {
  if (!loop_) return commit(std::move(on_durable));
  if (on_durable) pending_callbacks_.push_back(std::move(on_durable));
  schedule_commit();
}

void StateStore::compact(DurableCallback on_done) {
  if (on_done) pending_callbacks_.push_back(std::move(on_done));
  snapshot_requested_ = true;
  pump();
}

StateStoreStats StateStore::stats() const {
  StateStoreStats s = stats_;
  s.next_seq = next_seq_;
  s.pending_records = pending_records_;
  s.busy = link_->busy;
  return s;
}

bool StateStore::idle() const {
  return !link_->busy && pending_.empty() && pending_callbacks_.empty() && !snapshot_requested_;
}

void StateStore::pump() {
  if (link_->busy) return;
  auto job = std::make_shared<Job>();
  if (snapshot_requested_) {
    snapshot_requested_ = false;
    commit_requested_ = false;
    job->snapshot = true;
    job->snapshot_seq = next_seq_ - 1;
    job->bytes = encode_snapshot(job->snapshot_seq, table_);
    // Every pending record has seq <= snapshot_seq and is in the snapshot.
    job->absorbed = std::move(pending_);
    job->absorbed_records = pending_records_;
    pending_.clear();
    pending_records_ = 0;
  } else if (commit_requested_) {
    commit_requested_ = false;
    if (pending_.empty() && pending_callbacks_.empty()) return;
    job->bytes = std::move(pending_);
    pending_.clear();
    pending_records_ = 0;
    job->sync_dir = link_->dir_sync_pending;
  } else {
    return;
  }
  job->callbacks = std::move(pending_callbacks_);
  pending_callbacks_.clear();
  dispatch(job);
}

void StateStore::dispatch(const std::shared_ptr<Job>& job) {
  link_->busy = true;
  if (loop_) {
    std::shared_ptr<Link> link = link_;
    int rc = uvx::queue_work(
        loop_, [link, job] { run_job(*link, *job); },
        [link, job] {
          link->busy = false;
          if (link->owner)
            link->owner->finish(*job);
          else
            finish_orphan(link, *job);
        });
    if (rc == 0) return;
  }
  run_job(*link_, *job);
  link_->busy = false;
  finish(*job);
}

void StateStore::problem(const Error& e) {
  if (options_.on_problem) options_.on_problem(e);
}

void StateStore::finish(Job& job) {
  using Failure = Job::Failure;
  std::vector<DurableCallback> callbacks = std::move(job.callbacks);
  Status result;
  bool was_failing = retry_delay_ms_ != 0;
  if (!job.snapshot) {
    std::string_view done(job.bytes.data(), job.written);
    stats_.journal_records += count_lines(done);
    stats_.journal_bytes += job.written;
    switch (job.failure) {
      case Failure::kNone:
        ++stats_.commits;
        if (job.sync_dir) link_->dir_sync_pending = false;
        retry_delay_ms_ = 0;
        if (retry_timer_) retry_timer_->stop();
        if ((stats_.journal_records >= options_.compact_after_records ||
             stats_.journal_bytes >= options_.compact_after_bytes) &&
            stats_.journal_records >= compact_retry_at_records_)
          snapshot_requested_ = true;
        break;
      case Failure::kWrite: {
        ++stats_.write_errors;
        // The unwritten rest goes first next time: the journal stays in seq order,
        // and a line cut by a short write is completed, not torn.
        std::string rest = job.bytes.substr(job.written);
        pending_records_ += count_lines(rest);
        pending_.insert(0, rest);
        result = make_error(job.error);
        retry_delay_ms_ =
            retry_delay_ms_ ? std::min(retry_delay_ms_ * 2, kMaxRetryMs) : kFirstRetryMs;
        if (retry_timer_) retry_timer_->start(retry_delay_ms_);
        if (!was_failing) problem(result.error());
        break;
      }
      case Failure::kFsync:
        // After a failed fsync the kernel may have dropped the dirty pages and
        // will not report it again: only rewriting everything (a snapshot) makes
        // these records durable for sure.
        ++stats_.fsync_errors;
        result = make_error(job.error);
        snapshot_requested_ = true;
        problem(result.error());
        break;
      case Failure::kSnapshot:
        break;
    }
  } else if (job.failure == Failure::kNone) {
    ++stats_.snapshots;
    link_->dir_sync_pending = false;  // the snapshot fsynced the directory
    retry_delay_ms_ = 0;
    if (retry_timer_) retry_timer_->stop();
    compact_retry_at_records_ = 0;
    if (job.journal_truncated) {
      stats_.journal_records = 0;
      stats_.journal_bytes = 0;
    } else {
      compact_retry_at_records_ =
          stats_.journal_records + std::max<std::uint64_t>(1, options_.compact_after_records / 4);
      problem(make_error(job.truncate_error));
    }
  } else {
    ++stats_.snapshot_errors;
    pending_.insert(0, job.absorbed);
    pending_records_ += job.absorbed_records;
    if (!pending_.empty()) commit_requested_ = true;
    compact_retry_at_records_ =
        stats_.journal_records + std::max<std::uint64_t>(1, options_.compact_after_records / 4);
    result = make_error(job.error);
    problem(result.error());
  }
  pump();
  // Last: a callback may destroy the store.
  for (auto& cb : callbacks)
    if (cb) cb(result);
}

}  // namespace aw
