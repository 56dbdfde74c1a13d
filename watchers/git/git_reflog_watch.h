// GitReflogWatch: completion by git commit (DESIGN §6 scenario 7). Every
// update of a watched repository's HEAD becomes an event, within milliseconds,
// without running git and without polling.
//
// How: git appends one line to `<git-dir>/logs/HEAD` for every move of HEAD
// (commit, merge, checkout, reset, rebase, ...; reflog_entry.h). One LogTailer
// follows that file for every repo added (inotify on its directory; one
// catch-all pattern), and each line it reports is decoded and emitted as
// `git.<class>` (reflog_action_class: git.commit, git.merge, git.checkout,
// git.reset, git.rebase, git.cherry-pick, git.revert, git.pull, git.clone,
// git.am, git.branch, git.other). docs/logs.md lists the fields.
//
// Where it starts: what LogTailer does. At the END of the reflog on first
// sight (history is not news); where it stopped when the file is the one it
// read before (offsets kept in Options::offsets under the log name
// "git:<name>"), so commits made while the daemon was down are delivered at
// start.
//
// Rewrites are not replayed. `git gc` (run automatically by commit and merge,
// `gc --auto`) and `git reflog expire` rewrite logs/HEAD as a new file renamed
// over the old one; the tailer then reads the new file from its start, which
// is the whole kept history again. So after any rewrite or truncation seen
// while running, and at start when the file was replaced or truncated while
// the daemon was down, a replay guard drops:
//   - every line already delivered in this run (by content: a 64-bit hash of
//     the line; the last 8192 lines delivered are remembered), and
//   - every line up to the HORIZON, the newest entry known when this run
//     started: the newest one delivered by the previous run (persisted in
//     Options::offsets as "git:<name>#seen": offset = its unix time, inode =
//     the hash of its line), or on first sight the reflog's last line. Lines
//     stamped before the horizon's second are dropped; in that second, lines
//     up to the horizon's own line are dropped and lines after it delivered
//     (all of them are dropped if the horizon's line is gone from the file).
// The price, only once a rewrite was seen: a genuinely new entry stamped
// before the horizon (the system clock stepped back, or GIT_COMMITTER_DATE set
// to the past) is dropped too. stats().replays_skipped counts every drop.
//
// Limits: only HEAD's reflog: a branch updated without moving HEAD (a push
// into the repo, `git fetch`, `git branch -f`) is not seen. Bare repositories
// keep no reflog unless core.logAllRefUpdates is set. A missing
// `<git-dir>/logs` directory (a fresh `git init`, nothing committed) is
// created (as git itself would at the first commit), so the first commit is
// seen.
//
// Ownership and threads: loop thread only. The loop, the clock and
// Options::offsets must outlive the watch. `emit` is called synchronously
// from loop callbacks and from start() / add_repo(); it must not destroy the
// watch or call into it.
#pragma once

#include <cstdint>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <unordered_set>

#include <uv.h>

#include "src/core/clock.h"
#include "src/core/event.h"
#include "src/core/result.h"
#include "watchers/git/reflog_entry.h"
#include "watchers/logtail/log_tailer.h"
#include "watchers/logtail/offset_store.h"

namespace aw {

struct GitRepoSpec {
  std::string name;    // the `repo` field of every event; unique within the watch
  std::string repo;    // absolute: a work tree (with .git) or a git directory
  std::string entity;  // Event::entity of every event (the worker / project); may be empty
};

struct GitReflogStats {
  std::size_t repos = 0;
  std::uint64_t entries = 0;          // events emitted for reflog lines
  std::uint64_t replays_skipped = 0;  // lines dropped by the replay guard
  std::uint64_t rewrites = 0;         // reflog rewritten or truncated (guard armed)
  std::uint64_t unparsed = 0;         // lines that were not reflog lines (git.error op=parse)
  std::uint64_t errors = 0;           // git.error events
};

class GitReflogWatch {
 public:
  struct Options {
    // Borrowed; must outlive the watch. Null: nothing is resumed or saved.
    OffsetStore* offsets = nullptr;
  };

  GitReflogWatch(uv_loop_t* loop, const Clock& clock, std::function<void(Event)> emit,
                 Options options);
  ~GitReflogWatch();
  GitReflogWatch(const GitReflogWatch&) = delete;
  GitReflogWatch& operator=(const GitReflogWatch&) = delete;

  // Finds the repo's git dir (git_dir.h), creates `<git-dir>/logs` if missing,
  // and follows `<git-dir>/logs/HEAD`. Errors (empty or duplicate name, a path
  // that is not a repository, no inotify watch left) name the repo and what
  // was expected. After start() the repo is followed at once.
  Status add_repo(const GitRepoSpec& spec);
  // Begins following every repo added.
  void start();
  // Saves every position and stops; no event is emitted afterwards.
  void stop();

  GitReflogStats stats() const;
  // The tailer underneath (tests: its position and state).
  const LogTailer& tailer() const { return tailer_; }

 private:
  struct Repo {
    GitRepoSpec spec;
    std::string reflog;  // <git-dir>/logs/HEAD
    // The newest entry known at start (time, hash of its line): it and what
    // came before it predate this run.
    std::int64_t horizon = 0;
    std::uint64_t horizon_hash = 0;
    bool passed_horizon = false;  // the horizon's line went by in this replay
    // The newest entry delivered (persisted as "git:<name>#seen").
    std::int64_t newest = 0;
    std::uint64_t newest_hash = 0;
    bool guard = false;                           // a replay from offset 0 may be under way
    std::unordered_set<std::uint64_t> delivered;  // hashes of lines delivered this run
    std::deque<std::uint64_t> delivered_order;    // oldest first, to bound `delivered`
  };

  void on_tailer_event(const Event& e);
  void on_line(Repo& repo, const Event& e);
  bool is_replay(Repo& repo, std::uint64_t hash, std::int64_t time);
  void remember(Repo& repo, std::uint64_t hash, std::int64_t time);
  void save_newest(const Repo& repo);
  Event make_event(std::string_view kind, const Repo& repo) const;

  const Clock& clock_;
  std::function<void(Event)> emit_;
  Options options_;
  bool stopped_ = false;
  std::map<std::string, std::unique_ptr<Repo>> repos_;  // by tailer log name "git:<name>"
  GitReflogStats stats_;
  LogTailer tailer_;  // last: destroyed first, while what it reports into still exists
};

}  // namespace aw
