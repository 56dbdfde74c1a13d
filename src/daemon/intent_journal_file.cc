#include "src/daemon/intent_journal_file.h"

#include <fcntl.h>
#include <spdlog/spdlog.h>
#include <unistd.h>

#include "src/core/state_file.h"
#include "src/os/crash_point.h"
#include "src/os/errno_text.h"
#include "src/os/files.h"

namespace aw {

IntentJournalFile::IntentJournalFile(uv_loop_t* loop, std::string path, Options options, Env& env)
    : path_(std::move(path)), options_(options), env_(env), turn_end_(loop, [this] {
        if (Status s = flush(); !s) spdlog::error("intent log: {}", s.error().message);
      }) {}

IntentJournalFile::~IntentJournalFile() {
  (void)flush();
}

Result<std::unique_ptr<IntentJournalFile>> IntentJournalFile::open(uv_loop_t* loop,
                                                                   const std::string& state_dir,
                                                                   Options options, Env& env) {
  std::unique_ptr<IntentJournalFile> j(
      new IntentJournalFile(loop, state_dir + "/intents", options, env));
  Result<std::optional<std::string>> text = read_file_if_exists(j->path_);
  if (!text) return text.error();
  if (*text) {
    Result<IntentReplay> replay = replay_intents(**text, j->path_);
    if (replay) {
      j->next_id_ = replay->last_id + 1;
      j->problems_ = std::move(replay->problems);
      for (const OpenIntent& intent : replay->open) {
        std::string& records = j->live_[intent.id];
        append_intent_state(records, intent);
        j->live_bytes_ += records.size();
      }
      j->resumable_ = std::move(replay->open);
    } else {
      // Not an intent log: keep it for a human, and start a new one.
      const std::string aside = j->path_ + ".unreadable";
      if (env.rename(j->path_.c_str(), aside.c_str()) != 0)
        return errno_error("rename " + j->path_ + " to " + aside, errno);
      j->problems_.push_back(replay.error().message + " (moved aside to " + aside + ")");
    }
  }
  std::string content = state_file_header(kIntentLogKind);
  for (const auto& [id, records] : j->live_) content += records;
  if (Status s = j->rewrite(content); !s) return s.error();
  return j;
}

Status IntentJournalFile::rewrite(const std::string& content) {
  const std::string temp = path_ + ".tmp";
  // Appended to through this same fd once renamed: no reopen that could fail.
  UniqueFd out(env_.open(temp.c_str(),
                         O_WRONLY | O_APPEND | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, 0600));
  if (!out) return errno_error(temp, errno);
  if (Status s = write_all(out.get(), content, env_); !s) {
    unlink(temp.c_str());
    return make_error(temp + ": " + s.error().message);
  }
  if (env_.rename(temp.c_str(), path_.c_str()) != 0) {
    const int err = errno;
    unlink(temp.c_str());
    return errno_error("rename " + temp + " to " + path_, err);
  }
  fd_ = std::move(out);
  file_bytes_ = content.size();
  return Status::Ok();
}

std::uint64_t IntentJournalFile::open(const Event& cause, const std::vector<const Plan*>& plans) {
  const std::uint64_t id = next_id_++;
  const std::size_t at = gathered_opens_.size();
  append_intent_open(gathered_opens_, id, cause, plans);
  keep_live(id, gathered_opens_, at);
  return id;
}

void IntentJournalFile::start(std::uint64_t id, std::size_t plan, std::size_t action) {
  const std::size_t at = gathered_.size();
  append_intent_start(gathered_, id, plan, action);
  keep_live(id, gathered_, at);
}

void IntentJournalFile::end(std::uint64_t id, std::size_t plan, std::size_t action, ActionEnd end) {
  const std::size_t at = gathered_.size();
  append_intent_end(gathered_, id, plan, action, end);
  gathered_outcomes_ = true;
  keep_live(id, gathered_, at);
}

void IntentJournalFile::close(std::uint64_t id) {
  append_intent_close(gathered_, id);
  gathered_outcomes_ = true;
  if (auto it = live_.find(id); it != live_.end()) {
    live_bytes_ -= it->second.size();
    live_.erase(it);
  }
  gathered_one();
}

void IntentJournalFile::keep_live(std::uint64_t id, const std::string& buffer,
                                  std::size_t record_at) {
  const std::string_view record = std::string_view(buffer).substr(record_at);
  live_[id].append(record);
  live_bytes_ += record.size();
  gathered_one();
}

void IntentJournalFile::gathered_one() {
  // The turn's first record: whatever no action flushes goes out at its end.
  if (!turn_end_.active()) turn_end_.start(0);
}

Status IntentJournalFile::flush_opens() {
  // Starts may go with the opens when no end or close is gathered: a start
  // never precedes an end of its own plan then, and one that reaches the file
  // ahead of the event log only makes its action "in flight" for a daemon
  // killed before it acts, as a start always does. Then one write, not two,
  // for the common turn (an event, its intent, its first actions' starts).
  if (!gathered_outcomes_) {
    gathered_opens_ += gathered_;
    gathered_.clear();
  }
  return write_gathered(gathered_opens_);
}

Status IntentJournalFile::flush() {
  // Opens first: a start, end or close may follow an open gathered in the same turn.
  if (Status s = write_gathered(gathered_opens_); !s) return s;
  return write_gathered(gathered_);
}

Status IntentJournalFile::write_gathered(std::string& records) {
  if (records.empty()) return Status::Ok();
  if (!fd_) return make_error(path_ + ": not open");
  if (Status s = write_all(fd_.get(), records, env_); !s) {
    // Cut a part-written record off, so the next write starts on a whole line.
    ++write_errors_;
    if (env_.ftruncate(fd_.get(), static_cast<off_t>(file_bytes_)) != 0) {
      // The torn tail stays; the replay skips that one line and reports it.
    }
    return make_error(path_ + ": " + s.error().message +
                      " (the records are kept and written "
                      "with the next)");
  }
  file_bytes_ += records.size();
  records.clear();
  crash_point("intents-written");
  if (gathered_.empty()) gathered_outcomes_ = false;
  maybe_compact();
  return Status::Ok();
}

void IntentJournalFile::maybe_compact() {
  // Checked after every write: nothing is built until a compaction is due. The
  // live records include what is gathered; a compaction with records still
  // gathered would write them twice (once in the new file, once appended).
  if (!gathered_opens_.empty() || !gathered_.empty()) return;
  static const std::string kHeader = state_file_header(kIntentLogKind);
  const std::uint64_t needed = kHeader.size() + live_bytes_;
  if (file_bytes_ < options_.compact_min_bytes || file_bytes_ < 4 * needed) return;
  std::string content = kHeader;
  content.reserve(needed);
  for (const auto& [id, records] : live_) content += records;
  if (rewrite(content)) ++compactions_;
  // On failure the old file is intact and still appended to: nothing lost.
}

IntentJournalFile::Stats IntentJournalFile::stats() const {
  return Stats{live_.size(), file_bytes_, compactions_, write_errors_};
}

}  // namespace aw
