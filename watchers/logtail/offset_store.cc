#include "watchers/logtail/offset_store.h"

#include "src/core/percent_escape.h"
#include "src/core/state_file.h"
#include "src/os/files.h"

#include <cerrno>
#include <charconv>
#include <cstring>
#include <mutex>
#include <vector>

namespace aw {
namespace {

constexpr std::string_view kKind = "log-offsets";
// The format before docs/state-files.md: still read, then rewritten.
constexpr std::string_view kHeaderV1 = "agentwatch-log-offsets 1";

std::optional<std::int64_t> parse_int(std::string_view s) {
  std::int64_t v = 0;
  auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
  if (ec != std::errc() || p != s.data() + s.size() || v < 0) return std::nullopt;
  return v;
}

// One record's columns: name (unescaped), dev, inode, offset, line_no, skipping.
std::optional<std::pair<std::string, LogOffset>> parse_record(
    const std::vector<std::string_view>& cols, std::optional<std::string> name) {
  if (cols.size() != 6) return std::nullopt;
  auto dev = parse_int(cols[1]), ino = parse_int(cols[2]), off = parse_int(cols[3]),
       lno = parse_int(cols[4]);
  if (!name || name->empty() || !dev || !ino || !off || !lno || (cols[5] != "0" && cols[5] != "1"))
    return std::nullopt;
  return std::pair{std::move(*name), LogOffset{*dev, *ino, *off, *lno, cols[5] == "1"}};
}

Result<std::map<std::string, LogOffset>> parse_v1(std::string_view text,
                                                  std::size_t* corrupt_lines) {
  std::map<std::string, LogOffset> table;
  std::size_t corrupt = 0;
  std::size_t line_no = 0;
  while (!text.empty()) {
    ++line_no;
    const std::size_t nl = text.find('\n');
    if (nl == std::string_view::npos) {  // torn last line
      ++corrupt;
      break;
    }
    const std::string_view line = text.substr(0, nl);
    text.remove_prefix(nl + 1);
    if (line_no == 1) continue;  // the header, checked by the caller
    const std::vector<std::string_view> cols = split_tabs(line);
    auto record = parse_record(cols, cols.empty() ? std::nullopt : percent_unescape(cols[0]));
    if (!record) {
      ++corrupt;
      continue;
    }
    table[record->first] = record->second;
  }
  if (corrupt_lines) *corrupt_lines = corrupt;
  return table;
}

bool is_v1(std::string_view text) {
  return text.substr(0, kHeaderV1.size() + 1) == std::string(kHeaderV1) + "\n";
}

}  // namespace

// What the loop thread shares with the background saves. `mu` orders the
// writers so that the newest table (highest generation) is the one left on
// disk whoever finishes last; `owner` is touched on the loop thread only.
struct FileOffsetStore::Shared {
  std::string path;
  std::mutex mu;
  std::uint64_t written_gen = 0;  // under mu
  std::uint64_t next_gen = 0;     // loop thread
  FileOffsetStore* owner = nullptr;

  // Writes `text` as generation `gen` unless a newer one is already on disk.
  // Returns an error message, or "" on success. Runs on any thread.
  std::string write(std::uint64_t gen, const std::string& text) {
    std::lock_guard<std::mutex> lock(mu);
    if (gen <= written_gen) return "";
    if (Status s = write_file_durably(path, text, 0644); !s.ok()) return s.error().message;
    written_gen = gen;
    return "";
  }
};

std::optional<LogOffset> MemoryOffsetStore::get(const std::string& log) const {
  auto it = table_.find(log);
  if (it == table_.end()) return std::nullopt;
  return it->second;
}

FileOffsetStore::FileOffsetStore(uv_loop_t* loop, const Clock& clock, std::string path,
                                 Options options)
    : loop_(loop),
      clock_(clock),
      path_(std::move(path)),
      options_(options),
      shared_(std::make_shared<Shared>()),
      timer_(loop, [this] { on_timer(); }) {
  shared_->path = path_;
  shared_->owner = this;
}

Result<std::unique_ptr<FileOffsetStore>> FileOffsetStore::open(uv_loop_t* loop, const Clock& clock,
                                                               std::string path, Options options) {
  if (path.empty() || path[0] != '/')
    return make_error("log offsets file '" + path + "': expected an absolute path");
  std::unique_ptr<FileOffsetStore> store(
      new FileOffsetStore(loop, clock, std::move(path), options));
  // Loading happens once at start, where blocking is fine.
  auto text = read_file_if_exists(store->path_);
  if (!text) return text.error();
  if (!*text) return store;
  auto table = parse(**text, store->path_, &store->stats_.corrupt_lines);
  if (!table.ok()) return table.error();
  store->table_ = std::move(table.value());
  store->stats_.entries = store->table_.size();
  // Migration: the old format is rewritten in the current one at once (best
  // effort: if it fails, the first save writes it).
  if (is_v1(**text)) (void)write_file_durably(store->path_, serialize(store->table_), 0644);
  return store;
}

FileOffsetStore::~FileOffsetStore() {
  shared_->owner = nullptr;  // a save still in flight reports to nobody
  (void)flush();
}

std::optional<LogOffset> FileOffsetStore::get(const std::string& log) const {
  auto it = table_.find(log);
  if (it == table_.end()) return std::nullopt;
  return it->second;
}

void FileOffsetStore::put(const std::string& log, const LogOffset& offset) {
  auto [it, inserted] = table_.try_emplace(log, offset);
  if (!inserted) {
    if (it->second == offset) return;
    it->second = offset;
  }
  stats_.entries = table_.size();
  changed();
}

void FileOffsetStore::erase(const std::string& log) {
  if (table_.erase(log) == 0) return;
  stats_.entries = table_.size();
  changed();
}

Status FileOffsetStore::flush() {
  if (!dirty_ && !in_flight_) return Status::Ok();
  timer_.stop();
  dirty_ = false;
  const std::string err = shared_->write(++shared_->next_gen, serialize(table_));
  last_save_ = clock_.mono();
  ++stats_.saves;
  if (!err.empty()) {
    ++stats_.save_errors;
    stats_.last_error = err;
    dirty_ = true;
    return make_error(err);
  }
  return Status::Ok();
}

void FileOffsetStore::changed() {
  dirty_ = true;
  if (in_flight_ || timer_.active()) return;  // the pending save or its completion picks it up
  Duration wait{0};
  if (last_save_) {
    const MonoTime due = *last_save_ + options_.save_interval;
    const MonoTime now = clock_.mono();
    if (due > now) wait = due - now;
  }
  // Rounded up: a timer that fires early would only re-arm.
  const auto ms = std::chrono::ceil<std::chrono::milliseconds>(wait).count();
  timer_.start(static_cast<std::uint64_t>(ms));
}

void FileOffsetStore::on_timer() {
  if (dirty_ && !in_flight_) start_save();
}

void FileOffsetStore::start_save() {
  dirty_ = false;
  in_flight_ = true;
  last_save_ = clock_.mono();
  const std::uint64_t gen = ++shared_->next_gen;
  auto text = std::make_shared<std::string>(serialize(table_));
  auto err = std::make_shared<std::string>();
  std::shared_ptr<Shared> shared = shared_;
  const int rc = uvx::queue_work(
      loop_, [shared, gen, text, err] { *err = shared->write(gen, *text); },
      [shared, err] {
        FileOffsetStore* self = shared->owner;
        if (self == nullptr) return;
        self->in_flight_ = false;
        ++self->stats_.saves;
        if (!err->empty()) {
          ++self->stats_.save_errors;
          self->stats_.last_error = *err;
          self->dirty_ = true;  // try again next interval
        }
        if (self->dirty_) self->changed();
      });
  if (rc != 0) {
    in_flight_ = false;
    ++stats_.save_errors;
    stats_.last_error = "cannot queue the save of " + path_ + ": " + uv_strerror(rc);
    changed();
  }
}

std::string FileOffsetStore::serialize(const std::map<std::string, LogOffset>& table) {
  std::string out = state_file_header(kKind);
  for (const auto& [name, o] : table)
    out +=
        state_record({name, std::to_string(o.dev), std::to_string(o.inode),
                      std::to_string(o.offset), std::to_string(o.line_no), o.skipping ? "1" : "0"});
  return out;
}

Result<std::map<std::string, LogOffset>> FileOffsetStore::parse(std::string_view text,
                                                                const std::string& path,
                                                                std::size_t* corrupt_lines) {
  if (is_v1(text)) return parse_v1(text, corrupt_lines);
  auto file = parse_state_file(text, path, kKind);
  if (!file) return file.error();
  std::map<std::string, LogOffset> table;
  std::size_t corrupt = file->problems.size();
  for (const StateRecord& r : file->records) {
    std::vector<std::string_view> cols(r.fields.begin(), r.fields.end());
    auto record =
        parse_record(cols, cols.empty() ? std::nullopt : std::optional<std::string>(r.fields[0]));
    if (!record) {
      ++corrupt;  // that log starts as if new
      continue;
    }
    table[record->first] = record->second;
  }
  if (corrupt_lines) *corrupt_lines = corrupt;
  return table;
}

}  // namespace aw
