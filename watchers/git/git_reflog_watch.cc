#include "watchers/git/git_reflog_watch.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <string_view>

#include "src/core/event_kinds.h"
#include "src/os/errno_text.h"
#include "src/os/unique_fd.h"
#include "watchers/git/git_dir.h"

namespace aw {
namespace {

constexpr std::size_t kDeliveredMemory = 8192;
constexpr std::size_t kTailBytes = 64 * 1024;
constexpr const char* kLogPrefix = "git:";
constexpr const char* kSeenSuffix = "#seen";

// FNV-1a, 64 bits: stable across builds and library versions, since the hash
// of the newest line delivered is persisted.
std::uint64_t line_hash(std::string_view line) {
  std::uint64_t h = 14695981039346656037ull;
  for (unsigned char c : line) {
    h ^= c;
    h *= 1099511628211ull;
  }
  return h;
}

struct Mark {
  std::int64_t time = 0;
  std::uint64_t hash = 0;
};

// The last complete reflog line of `path` ({0, 0}: none, or unreadable). One
// pread of at most 64 KiB of a local file.
Mark last_entry(const std::string& path) {
  UniqueFd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NONBLOCK | O_NOCTTY));
  if (!fd) return {};
  struct stat st {};
  if (::fstat(fd.get(), &st) != 0 || !S_ISREG(st.st_mode) || st.st_size == 0) return {};
  const auto size = static_cast<std::size_t>(st.st_size);
  const std::size_t want = std::min(size, kTailBytes);
  std::string buf(want, '\0');
  const ssize_t n = ::pread(fd.get(), buf.data(), want, static_cast<off_t>(size - want));
  if (n <= 0) return {};
  buf.resize(static_cast<std::size_t>(n));
  std::string_view text = buf;
  // Only whole lines: drop an unterminated end, then walk back line by line.
  const std::size_t end = text.rfind('\n');
  if (end == std::string_view::npos) return {};
  text = text.substr(0, end);
  while (!text.empty()) {
    const std::size_t start = text.rfind('\n');
    const std::string_view line = start == std::string_view::npos ? text : text.substr(start + 1);
    if (auto entry = parse_reflog_line(line)) return {entry->time, line_hash(line)};
    if (start == std::string_view::npos) break;
    text = text.substr(0, start);
  }
  return {};
}

}  // namespace

GitReflogWatch::GitReflogWatch(uv_loop_t* loop, const Clock& clock, std::function<void(Event)> emit,
                               Options options)
    : clock_(clock),
      emit_(std::move(emit)),
      options_(options),
      tailer_(
          loop, clock, [this](const Event& e) { on_tailer_event(e); },
          LogTailer::Options{options.offsets}) {}

GitReflogWatch::~GitReflogWatch() {
  stop();
}

Status GitReflogWatch::add_repo(const GitRepoSpec& spec) {
  if (spec.name.empty()) return make_error("git repo: expected a non-empty name", -EINVAL);
  const std::string log_name = kLogPrefix + spec.name;
  if (repos_.count(log_name))
    return make_error("git repo '" + spec.name + "' is already watched (names must be unique)",
                      -EEXIST);
  auto git_dir = find_git_dir(spec.repo);
  if (!git_dir)
    return make_error("git repo '" + spec.name + "': " + git_dir.error().message,
                      git_dir.error().code);
  const std::string logs_dir = *git_dir + "/logs";
  if (::mkdir(logs_dir.c_str(), 0777) != 0 && errno != EEXIST)
    return errno_error("git repo '" + spec.name + "': cannot create " + logs_dir, errno);

  auto repo = std::make_unique<Repo>();
  repo->spec = spec;
  repo->reflog = head_reflog_path(*git_dir);

  // The horizon, and whether the tailer is about to replay the file from 0.
  std::optional<LogOffset> seen, position;
  if (options_.offsets) {
    seen = options_.offsets->get(log_name + kSeenSuffix);
    position = options_.offsets->get(log_name);
  }
  Mark horizon = last_entry(repo->reflog);
  if (seen) horizon = {seen->offset, static_cast<std::uint64_t>(seen->inode)};
  repo->horizon = repo->newest = horizon.time;
  repo->horizon_hash = repo->newest_hash = horizon.hash;
  if (position) {
    struct stat st {};
    const bool same = ::stat(repo->reflog.c_str(), &st) == 0 &&
                      position->dev == static_cast<std::int64_t>(st.st_dev) &&
                      position->inode == static_cast<std::int64_t>(st.st_ino) &&
                      st.st_size >= position->offset;
    // Replaced or truncated while we were away: LogTailer reads it from 0.
    if (!same) {
      repo->guard = true;
      ++stats_.rewrites;
    }
  }
  if (!seen) save_newest(*repo);

  LogSpec log;
  log.name = log_name;
  log.path = repo->reflog;
  log.patterns = {{"entry", "^"}};
  log.entity = spec.entity;
  repos_.emplace(log_name, std::move(repo));
  if (Status s = tailer_.add_file(std::move(log)); !s) {
    repos_.erase(log_name);
    return make_error("git repo '" + spec.name + "': " + s.error().message, s.error().code);
  }
  return Status::Ok();
}

void GitReflogWatch::start() {
  tailer_.start();
}

void GitReflogWatch::stop() {
  if (stopped_) return;
  stopped_ = true;
  tailer_.stop();
}

GitReflogStats GitReflogWatch::stats() const {
  GitReflogStats s = stats_;
  s.repos = repos_.size();
  return s;
}

void GitReflogWatch::on_tailer_event(const Event& e) {
  if (stopped_) return;
  const auto log = e.fields.get_string("log");
  if (!log) return;
  auto it = repos_.find(*log);
  if (it == repos_.end()) return;
  Repo& repo = *it->second;
  if (e.kind == kind::kLogLine) {
    on_line(repo, e);
  } else if (e.kind == kind::kLogRotated) {
    // Rewritten (gc, reflog expire) or truncated: what follows from offset 0
    // is mostly history.
    repo.guard = true;
    repo.passed_horizon = false;
    ++stats_.rewrites;
  } else if (e.kind == kind::kLogError) {
    ++stats_.errors;
    Event out = make_event(kind::kGitError, repo);
    for (const char* key : {"op", "error"})
      if (auto v = e.fields.get_string(key)) out.fields.set(key, *v);
    emit_(std::move(out));
  }
}

void GitReflogWatch::on_line(Repo& repo, const Event& e) {
  const std::string line = e.fields.get_string("line").value_or("");
  auto entry = parse_reflog_line(line);
  if (!entry) {
    ++stats_.unparsed;
    ++stats_.errors;
    Event out = make_event(kind::kGitError, repo);
    out.fields.set("op", "parse");
    std::string where = repo.reflog;
    if (auto no = e.fields.get_int("line_no")) where += ":" + std::to_string(*no);
    out.fields.set("error", where +
                                ": not a reflog line (expected '<old-oid> <new-oid> <name> "
                                "<<email>> <unix-time> <tz>' then a TAB and the message)");
    out.fields.set("line", line.substr(0, 256));
    emit_(std::move(out));
    return;
  }
  const std::uint64_t hash = line_hash(line);
  if (repo.guard && is_replay(repo, hash, entry->time)) {
    ++stats_.replays_skipped;
    return;
  }
  remember(repo, hash, entry->time);
  ++stats_.entries;
  Event out = make_event(std::string(kind::kGitPrefix) + entry->action_class, repo);
  out.fields.set("action", entry->action);
  out.fields.set("old", entry->old_oid);
  out.fields.set("new", entry->new_oid);
  out.fields.set("author", entry->name);
  out.fields.set("email", entry->email);
  out.fields.set("message", entry->message);
  out.fields.set("reflog_time", entry->time);
  if (e.fields.find("truncated")) out.fields.set("truncated", true);
  emit_(std::move(out));
}

bool GitReflogWatch::is_replay(Repo& repo, std::uint64_t hash, std::int64_t time) {
  if (repo.delivered.count(hash)) return true;  // delivered in this run
  if (time < repo.horizon) return true;         // before this run
  if (time == repo.horizon && !repo.passed_horizon) {
    // The horizon's second: lines up to the horizon's own line came before
    // this run; lines after it are new.
    if (hash == repo.horizon_hash) repo.passed_horizon = true;
    return true;
  }
  return false;
}

void GitReflogWatch::remember(Repo& repo, std::uint64_t hash, std::int64_t time) {
  if (repo.delivered.insert(hash).second) {
    repo.delivered_order.push_back(hash);
    if (repo.delivered_order.size() > kDeliveredMemory) {
      repo.delivered.erase(repo.delivered_order.front());
      repo.delivered_order.pop_front();
    }
  }
  if (time >= repo.newest) {
    repo.newest = time;
    repo.newest_hash = hash;
    save_newest(repo);
  }
}

void GitReflogWatch::save_newest(const Repo& repo) {
  if (!options_.offsets) return;
  LogOffset mark;
  mark.offset = repo.newest;
  mark.inode = static_cast<std::int64_t>(repo.newest_hash);
  options_.offsets->put(kLogPrefix + repo.spec.name + kSeenSuffix, mark);
}

Event GitReflogWatch::make_event(std::string_view kind, const Repo& repo) const {
  Event e;
  e.kind = kind;
  e.source = "git";
  e.time = clock_.wall();
  e.path = repo.spec.repo;
  e.entity = repo.spec.entity;
  e.fields.set("repo", repo.spec.name);
  return e;
}

}  // namespace aw
