// The intent log's file, `<state_dir>/intents` (records: intent_log.h;
// docs/intents.md): the pipeline's IntentJournal port on the loop.
//
// Records are gathered in memory and written with one write() on an O_APPEND
// fd by flush(), which the pipeline calls before an action acts (opens first,
// by flush_opens(), before the event log; the rest after it); what is still
// gathered at the end of a loop turn (an action's end, an intent's close) is
// written then, by a zero-delay timer, as the event log's group commit does.
// So a killed daemon leaves every intent whose action acted, and every outcome
// of a turn that completed. The file is written, not fsynced: it survives the
// daemon's death, not the machine's (as the event log's lines).
//
// A failed write (ENOSPC) cuts the file back to its last whole line and keeps
// the records for the next flush: nothing gathered is dropped.
//
// Compaction: the file only has to hold the open intents. When it has grown
// past `compact_min_bytes` and four times what the open intents need, it is
// replaced (temp file, rename: a crash leaves the old file or the new) by their
// current state (intent_log.h append_intent_state). Open intents are few, so
// this is a small write on the loop. At open, the file is replayed and
// rewritten the same way.
//
// Ownership and threads: one owner on the loop thread; not thread-safe. The
// loop must outlive it.
#pragma once

#include <uv.h>

#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "src/core/result.h"
#include "src/daemon/intent_log.h"
#include "src/daemon/pipeline_ports.h"
#include "src/os/env.h"
#include "src/os/unique_fd.h"
#include "src/uvx/handle.h"

namespace aw {

class IntentJournalFile final : public IntentJournal {
 public:
  struct Options {
    std::size_t compact_min_bytes = std::size_t{1} << 20;
  };
  struct Stats {
    std::size_t open_intents = 0;
    std::uint64_t file_bytes = 0;
    std::uint64_t compactions = 0;
    std::uint64_t write_errors = 0;
  };

  // Opens or creates `<state_dir>/intents` (the directory must exist), replays
  // it and rewrites it with the intents it left open. Errors name the file.
  static Result<std::unique_ptr<IntentJournalFile>> open(uv_loop_t* loop,
                                                         const std::string& state_dir,
                                                         Options options, Env& env = Env::real());
  static Result<std::unique_ptr<IntentJournalFile>> open(uv_loop_t* loop,
                                                         const std::string& state_dir) {
    return open(loop, state_dir, Options{});
  }
  ~IntentJournalFile() override;
  IntentJournalFile(const IntentJournalFile&) = delete;
  IntentJournalFile& operator=(const IntentJournalFile&) = delete;

  // The intents the last daemon left open, for Pipeline::resume (once: moved out).
  std::vector<OpenIntent> take_open() { return std::move(resumable_); }
  // What the replay skipped: "PATH:LINE: what".
  const std::vector<std::string>& problems() const { return problems_; }
  Stats stats() const;
  const std::string& path() const { return path_; }

  std::uint64_t open(const Event& cause, const std::vector<const Plan*>& plans) override;
  void start(std::uint64_t id, std::size_t plan, std::size_t action) override;
  void end(std::uint64_t id, std::size_t plan, std::size_t action, ActionEnd end) override;
  void close(std::uint64_t id) override;
  Status flush() override;
  Status flush_opens() override;
  // The intents the last daemon left open, before take_open() (the daemon
  // logs the causes its event log lacks, IntentJournal::flush_opens).
  const std::vector<OpenIntent>& left_open() const { return resumable_; }

 private:
  IntentJournalFile(uv_loop_t* loop, std::string path, Options options, Env& env);
  Status rewrite(const std::string& content);
  // Appends the record just written at `record_at` of `buffer` to its intent's live records.
  void keep_live(std::uint64_t id, const std::string& buffer, std::size_t record_at);
  // Writes `records` (whole lines) at the end of the file; cleared when written.
  Status write_gathered(std::string& records);
  void gathered_one();
  void maybe_compact();

  std::string path_;
  Options options_;
  Env& env_;
  UniqueFd fd_;
  std::uint64_t next_id_ = 1;
  std::string gathered_opens_;      // open records not written yet
  std::string gathered_;            // every other record not written yet
  bool gathered_outcomes_ = false;  // gathered_ holds an end or a close
  // Each open intent's records, as a compaction writes them.
  std::map<std::uint64_t, std::string> live_;
  std::size_t live_bytes_ = 0;
  std::uint64_t file_bytes_ = 0;
  std::vector<OpenIntent> resumable_;
  std::vector<std::string> problems_;
  std::uint64_t compactions_ = 0;
  std::uint64_t write_errors_ = 0;
  uvx::Timer turn_end_;
};

}  // namespace aw
