#include "src/daemon/pipeline_loop_ports.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <spdlog/spdlog.h>
#include <cerrno>

#include "src/os/unique_fd.h"

namespace aw {

namespace {

// Reads a whole regular file for JSON conditions. Runs on the thread pool.
// O_NOFOLLOW: the watcher never lands a symlink, and one swapped in since is not read.
std::shared_ptr<const std::string> read_content(const std::string& path, std::uint64_t max_bytes) {
  UniqueFd fd(open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NOFOLLOW | O_NONBLOCK));
  if (!fd) return nullptr;
  struct stat st {};
  if (fstat(fd.get(), &st) != 0 || !S_ISREG(st.st_mode) ||
      static_cast<std::uint64_t>(st.st_size) > max_bytes)
    return nullptr;
  auto out = std::make_shared<std::string>();
  out->resize(static_cast<std::size_t>(st.st_size));
  std::size_t got = 0;
  while (got < out->size()) {
    ssize_t n = ::read(fd.get(), out->data() + got, out->size() - got);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;
    got += static_cast<std::size_t>(n);
  }
  out->resize(got);  // the file may have shrunk meanwhile; match what we read
  return out;
}

}  // namespace

void ExecutorRunner::start(const ActionRequest& request, const Event& cause, OnAttempt on_attempt,
                           OnDone done) {
  executor_.start(
      request, cause,
      [on_attempt = std::move(on_attempt)](const AttemptInfo& a) {
        if (on_attempt) on_attempt(a.attempt, a.pid);
      },
      std::move(done));
}

void ThreadPoolContentReader::read(const std::string& path, std::uint64_t max_bytes, OnRead done) {
  auto content = std::make_shared<std::shared_ptr<const std::string>>();
  auto on_read = std::make_shared<OnRead>(std::move(done));
  int rc = uvx::queue_work(
      loop_, work_owner_, [content, path, max_bytes] { *content = read_content(path, max_bytes); },
      [content, on_read] { (*on_read)(std::move(*content)); });
  if (rc != 0) {
    // Unread is what an unreadable file gives: the JSON conditions do not hold.
    spdlog::error("cannot queue a read of {}: {}", path, uv_strerror(rc));
    (*on_read)(nullptr);
  }
}

TimerAlarm::TimerAlarm(uv_loop_t* loop, const Clock& clock)
    : clock_(clock), timer_(loop, [this] {
        if (ring_) ring_();
      }) {}

void TimerAlarm::arm(MonoTime deadline) {
  const MonoTime now = clock_.mono();
  // +1 ms: libuv rounds the delay down to its millisecond clock; never ring early.
  const std::uint64_t delay_ms =
      deadline > now ? static_cast<std::uint64_t>(to_ms(deadline - now)) + 1 : 0;
  timer_.start(delay_ms);
}

void FileIndexLedger::finished(const Event& landed, std::string_view outcome) {
  auto key = FileIndex::key_from_event(landed);
  if (!key) return;
  // The file went while it was handled (a rule moved it away): its record
  // would describe a file no longer there, and stay in the index for ever.
  if (!index_.tracks(*key)) return;
  // "no-rule" (pipeline_ports.h): nothing acted on the file, so its record may
  // wait for the turn's other such records; a crash costs a repeated
  // file.landed at most. Anything that acted is recorded before we go on.
  const bool acted = outcome != "no-rule";
  index_.complete(*key, outcome,
                  acted ? FileIndex::Durability::kNow : FileIndex::Durability::kWithTurn);
}

void FileIndexLedger::abandoned(const Event& landed) {
  if (auto key = FileIndex::key_from_event(landed)) index_.abandon(*key);
}

void FileIndexLedger::resumed(const Event& landed) {
  if (auto key = FileIndex::key_from_event(landed)) (void)index_.claim(*key);
}

LoopPipelinePorts::LoopPipelinePorts(uv_loop_t* loop, const Clock& clock, EventLogWriter& log,
                                     ActionExecutor& executor, FileIndex* index,
                                     EntityTable* entities, IntentJournal* intents)
    : clock_(clock),
      journal_(log),
      runner_(executor),
      reader_(loop),
      alarm_(loop, clock),
      ledger_(index ? std::make_unique<FileIndexLedger>(*index) : nullptr),
      entities_(entities),
      intents_(intents) {}

PipelinePorts LoopPipelinePorts::ports() {
  PipelinePorts ports{clock_, journal_, runner_, reader_, alarm_, ledger_.get(), entities_};
  ports.intents = intents_;
  return ports;
}

}  // namespace aw
