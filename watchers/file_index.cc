#include "watchers/file_index.h"

#include "src/core/percent_escape.h"
#include "src/core/state_file.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <charconv>

#include "src/os/crash_point.h"
#include "src/os/errno_text.h"
#include "src/os/files.h"
#include "src/uvx/handle.h"

namespace aw {
namespace {

constexpr std::string_view kKind = "file-index";
// The format before docs/state-files.md: still read, then rewritten.
constexpr std::string_view kHeaderV1 = "agentwatch-file-index 1";

std::optional<std::int64_t> parse_int(std::string_view s) {
  std::int64_t v = 0;
  auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
  if (ec != std::errc() || p != s.data() + s.size() || s.empty()) return std::nullopt;
  return v;
}

void append_record(std::string& out, const FileIndex::Key& k, std::string_view outcome) {
  // One record per handled file: the numbers go through stack buffers, not strings.
  struct Number {
    explicit Number(std::int64_t v) : len(std::to_chars(buf, buf + sizeof buf, v).ptr - buf) {}
    std::string_view view() const { return {buf, static_cast<std::size_t>(len)}; }
    char buf[24];
    std::ptrdiff_t len;
  };
  const Number dev(k.dev), inode(k.inode), size(k.size), mtime(k.mtime_ns);
  append_state_record(
      out, {"H", dev.view(), inode.view(), size.view(), mtime.view(), k.watch, k.rel, outcome});
}

struct ParsedLine {
  FileIndex::Key key;
  std::string outcome;
};

// A record's 8 fields, already unescaped: H, dev, inode, size, mtime_ns,
// watch, rel, outcome.
std::optional<ParsedLine> parse_fields(std::vector<std::string> f) {
  if (f.size() != 8 || f[0] != "H" || f[5].empty()) return std::nullopt;
  auto dev = parse_int(f[1]), ino = parse_int(f[2]), size = parse_int(f[3]),
       mtime = parse_int(f[4]);
  if (!dev || !ino || !size || !mtime) return std::nullopt;
  return ParsedLine{FileIndex::Key{std::move(f[5]), std::move(f[6]), *dev, *ino, *size, *mtime},
                    std::move(f[7])};
}

// The older format: the same fields, tab-separated, text fields escaped.
std::optional<ParsedLine> parse_v1_line(std::string_view line) {
  std::vector<std::string> fields;
  std::size_t start = 0;
  while (fields.size() < 9) {
    const std::size_t tab = line.find('\t', start);
    auto field = percent_unescape(line.substr(start, tab - start));
    if (!field) return std::nullopt;
    fields.push_back(std::move(*field));
    if (tab == std::string_view::npos) break;
    start = tab + 1;
  }
  return parse_fields(std::move(fields));
}

// Reads a log in the older format into `parsed`, counting its lines; returns
// the length of its whole lines (a torn last one is cut there).
std::size_t load_v1(std::string_view content, std::vector<ParsedLine>& parsed,
                    FileIndex::Stats& counters) {
  std::size_t whole = content.rfind('\n');
  whole = whole == std::string::npos ? 0 : whole + 1;
  if (whole < content.size()) ++counters.corrupt_lines;  // the torn last record
  const std::string_view text = content.substr(0, whole);
  std::size_t pos = 0;
  bool first = true;
  while (pos < text.size()) {
    const std::size_t nl = text.find('\n', pos);
    const std::string_view line = text.substr(pos, nl - pos);
    pos = nl + 1;
    if (first) {
      first = false;
      if (line == kHeaderV1) continue;
    }
    ++counters.log_lines;
    auto p = parse_v1_line(line);
    if (!p) {
      ++counters.corrupt_lines;
      continue;
    }
    parsed.push_back(std::move(*p));
  }
  return whole;
}

}  // namespace

struct FileIndex::Compaction {
  std::vector<std::string> appended_since;  // lines completed while the tmp was written
};

const std::string& FileIndex::map_key(std::string_view watch, std::string_view rel) const {
  key_scratch_.assign(watch).push_back('\0');
  key_scratch_.append(rel);
  return key_scratch_;
}

bool FileIndex::same_version(const Entry& e, const Key& k) {
  return e.dev == k.dev && e.inode == k.inode && e.size == k.size && e.mtime_ns == k.mtime_ns;
}

Result<std::unique_ptr<FileIndex>> FileIndex::open(const std::string& state_dir, uv_loop_t* loop,
                                                   Options options) {
  std::unique_ptr<FileIndex> idx(new FileIndex());
  idx->path_ = state_dir + "/file-index";
  idx->loop_ = loop;
  idx->options_ = options;
  if (Status s = idx->load(); !s.ok()) return s.error();
  return idx;
}

std::unique_ptr<FileIndex> FileIndex::in_memory() {
  return std::unique_ptr<FileIndex>(new FileIndex());
}

FileIndex::~FileIndex() {
  write_gathered();
  *alive_ = false;
}

Status FileIndex::load() {
  fd_.reset(::open(path_.c_str(), O_RDWR | O_CREAT | O_APPEND | O_CLOEXEC, 0600));
  if (!fd_) return errno_error("cannot open file index " + path_, errno);
  // Loading happens once, at start, before the loop runs: a blocking read is fine.
  std::string content;
  char buf[65536];
  while (true) {
    ssize_t n = pread(fd_.get(), buf, sizeof buf, static_cast<off_t>(content.size()));
    if (n < 0) {
      if (errno == EINTR) continue;
      return errno_error("cannot read file index " + path_, errno);
    }
    if (n == 0) break;
    content.append(buf, static_cast<std::size_t>(n));
  }
  if (content.empty()) {
    if (Status s = write_all(fd_.get(), state_file_header(kKind)); !s.ok())
      return make_error("cannot write file index " + path_ + ": " + s.error().message,
                        s.error().code);
    return Status::Ok();
  }
  std::vector<ParsedLine> parsed;
  std::size_t whole = 0;
  const bool v1 = !has_state_file_header(content, kKind);
  if (v1) {
    whole = load_v1(content, parsed, counters_);
  } else {
    auto file = parse_state_file(content, path_, kKind);
    if (!file) return file.error();
    whole = file->whole_bytes;
    counters_.corrupt_lines += file->problems.size();
    counters_.log_lines += file->records.size() + file->problems.size() - (file->torn_tail ? 1 : 0);
    for (StateRecord& r : file->records) {
      auto p = parse_fields(std::move(r.fields));
      if (p)
        parsed.push_back(std::move(*p));
      else
        ++counters_.corrupt_lines;
    }
  }
  if (whole < content.size()) {
    // A torn last record: cut it off so the next append starts a clean line.
    if (ftruncate(fd_.get(), static_cast<off_t>(whole)) != 0)
      return errno_error("cannot truncate torn tail of file index " + path_, errno);
  }
  for (ParsedLine& p : parsed) {
    Entry& e = entries_.try_emplace(map_key(p.key.watch, p.key.rel)).first->value;
    if (!e.handled) ++handled_count_;
    e.dev = p.key.dev;
    e.inode = p.key.inode;
    e.size = p.key.size;
    e.mtime_ns = p.key.mtime_ns;
    e.handled = true;
    e.outcome = std::move(p.outcome);
  }
  // Migration: the older format is rewritten in the current one at once.
  if (v1 || (counters_.log_lines >= options_.compact_min_lines &&
             counters_.log_lines > 2 * handled_count_))
    return compact_now();
  return Status::Ok();
}

bool FileIndex::claim(const Key& key) {
  auto [item, inserted] = entries_.try_emplace(map_key(key.watch, key.rel));
  Entry& e = item->value;
  e.seen = ++clock_;
  if (!inserted && same_version(e, key)) return false;
  if (e.handled) --handled_count_;
  e.dev = key.dev;
  e.inode = key.inode;
  e.size = key.size;
  e.mtime_ns = key.mtime_ns;
  e.handled = false;
  e.outcome.clear();
  return true;
}

void FileIndex::complete(const Key& key, std::string_view outcome, Durability durability) {
  auto [item, inserted] = entries_.try_emplace(map_key(key.watch, key.rel));
  Entry& e = item->value;
  // A different version at this path: if it is pending (a newer claim in
  // flight) or newer, this completion is late and must not cover it.
  if (!inserted && !same_version(e, key) && (!e.handled || key.mtime_ns < e.mtime_ns)) return;
  if (!inserted && e.handled && same_version(e, key) && e.outcome == outcome) return;
  if (!e.handled) ++handled_count_;
  e.dev = key.dev;
  e.inode = key.inode;
  e.size = key.size;
  e.mtime_ns = key.mtime_ns;
  e.handled = true;
  e.outcome = std::string(outcome);
  e.seen = ++clock_;
  append_record_line(key, outcome, durability);
  maybe_compact();
}

void FileIndex::abandon(const Key& key) {
  const auto* item = entries_.find(map_key(key.watch, key.rel));
  if (item != nullptr && !item->value.handled && same_version(item->value, key))
    entries_.erase(item);
}

void FileIndex::forget(std::string_view watch, std::string_view rel) {
  const auto* item = entries_.find(map_key(watch, rel));
  if (item == nullptr) return;
  if (item->value.handled) --handled_count_;
  entries_.erase(item);
  maybe_compact();
}

void FileIndex::touch(std::string_view watch, std::string_view rel) {
  if (auto* item = entries_.find(map_key(watch, rel))) item->value.seen = ++clock_;
}

bool FileIndex::tracks(const Key& key) const {
  return entries_.find(map_key(key.watch, key.rel)) != nullptr;
}

bool FileIndex::is_handled(const Key& key) const {
  const auto* item = entries_.find(map_key(key.watch, key.rel));
  return item != nullptr && item->value.handled && same_version(item->value, key);
}

std::optional<std::string> FileIndex::outcome(const Key& key) const {
  const auto* item = entries_.find(map_key(key.watch, key.rel));
  if (item == nullptr || !item->value.handled || !same_version(item->value, key))
    return std::nullopt;
  return item->value.outcome;
}

std::optional<FileIndex::Key> FileIndex::key_from_event(const Event& e) {
  auto watch = e.fields.get_string("watch");
  auto rel = e.fields.get_string("rel");
  auto dev = e.fields.get_int("dev"), inode = e.fields.get_int("inode"),
       size = e.fields.get_int("size"), mtime = e.fields.get_int("mtime_ns");
  if (!watch || !rel || !dev || !inode || !size || !mtime || watch->empty()) return std::nullopt;
  return Key{std::move(*watch), std::move(*rel), *dev, *inode, *size, *mtime};
}

void FileIndex::drop_unseen(std::string_view watch, std::uint64_t since_epoch) {
  const std::string prefix = map_key(watch, "");
  entries_.erase_if([&](const auto& item) {
    const bool drop = item.value.seen < since_epoch && item.key().starts_with(prefix);
    if (drop && item.value.handled) --handled_count_;
    return drop;
  });
  maybe_compact();
}

FileIndex::Stats FileIndex::stats() const {
  Stats s = counters_;
  s.entries = entries_.size();
  s.handled = handled_count_;
  s.pending = entries_.size() - handled_count_;
  return s;
}

std::string FileIndex::render_log() const {
  std::string out = state_file_header(kKind);
  // One record per (watch, rel): load() gets the same entries whatever their order.
  for (const auto& item : entries_) {
    const Entry& e = item.value;
    if (!e.handled) continue;
    const std::string& mk = item.key();
    const auto nul = mk.find('\0');
    Key k{mk.substr(0, nul), mk.substr(nul + 1), e.dev, e.inode, e.size, e.mtime_ns};
    append_record(out, k, e.outcome);
  }
  return out;
}

void FileIndex::append_record_line(const Key& key, std::string_view outcome,
                                   Durability durability) {
  if (path_.empty()) return;
  const std::size_t line_at = gathered_.size();
  append_record(gathered_, key, outcome);
  if (compaction_) compaction_->appended_since.emplace_back(gathered_.substr(line_at));
  ++counters_.log_lines;
  if (durability == Durability::kWithTurn && loop_ != nullptr) {
    if (!turn_timer_)
      turn_timer_ = std::make_unique<uvx::Timer>(loop_, [this] { write_gathered(); });
    if (!turn_timer_->active()) turn_timer_->start(0);
    return;
  }
  write_gathered();
}

void FileIndex::write_gathered() {
  if (turn_timer_) turn_timer_->stop();
  if (gathered_.empty()) return;
  // Whole record lines in one write() on an O_APPEND fd: a crash leaves at
  // worst a torn last line, which load() cuts off.
  if (!fd_ || !write_all(fd_.get(), gathered_).ok()) ++counters_.append_errors;
  gathered_.clear();
  crash_point("index-written");
}

void FileIndex::maybe_compact() {
  if (path_.empty() || compaction_) return;
  if (counters_.log_lines < options_.compact_min_lines || counters_.log_lines <= 2 * handled_count_)
    return;
  if (loop_ == nullptr) {
    (void)compact_now();
    return;
  }
  start_async_compaction();
}

Status FileIndex::compact_now() {
  if (path_.empty()) return Status::Ok();
  if (compaction_) return make_error("file index " + path_ + ": a compaction is already running");
  write_gathered();  // into the file being replaced: the new one is rendered from memory
  auto tmp = write_temp_beside(path_, render_log(), 0600);
  if (!tmp) return make_error("cannot compact file index: " + tmp.error().message);
  if (Status s = commit_temp(*tmp, path_, true); !s.ok())
    return make_error("cannot compact file index: " + s.error().message);
  UniqueFd fd(::open(path_.c_str(), O_WRONLY | O_APPEND | O_CLOEXEC));
  if (!fd) return errno_error("cannot reopen file index " + path_, errno);
  fd_ = std::move(fd);
  counters_.log_lines = handled_count_;
  ++counters_.compactions;
  return Status::Ok();
}

void FileIndex::start_async_compaction() {
  compaction_ = std::make_unique<Compaction>();
  auto content = std::make_shared<std::string>(render_log());
  auto tmp = std::make_shared<Result<std::string>>(make_error("not written"));
  const std::size_t snapshot_lines = handled_count_;
  const std::string path = path_;
  std::weak_ptr<bool> alive = alive_;
  int rc = uvx::queue_work(
      loop_, [path, content, tmp] { *tmp = write_temp_beside(path, *content, 0600); },
      [this, alive, tmp, snapshot_lines] {
        auto a = alive.lock();
        if (!a || !*a) {
          if (tmp->ok()) unlink((*tmp)->c_str());
          return;
        }
        finish_async_compaction(tmp->ok() ? **tmp : std::string(), snapshot_lines);
      });
  if (rc != 0) compaction_.reset();
}

void FileIndex::finish_async_compaction(const std::string& tmp, std::size_t snapshot_lines) {
  // Gathered records are in appended_since too: write them to the old file now,
  // never to the new one twice.
  write_gathered();
  std::unique_ptr<Compaction> c = std::move(compaction_);
  // On failure the old log is intact and received every line: nothing to undo.
  if (tmp.empty()) {
    ++counters_.compaction_errors;
    return;
  }
  // Runs on the loop thread: a few small appends and a rename, no fsync. The
  // rename is atomic, so whichever file a crash leaves behind is a valid log.
  UniqueFd fd(::open(tmp.c_str(), O_WRONLY | O_APPEND | O_CLOEXEC));
  bool ok = fd.valid();
  for (const auto& line : c->appended_since)
    if (ok && !write_all(fd.get(), line).ok()) ok = false;
  if (ok) ok = commit_temp(tmp, path_, false).ok();  // removes `tmp` on failure
  if (!ok) {
    fd.reset();
    unlink(tmp.c_str());
    ++counters_.compaction_errors;
    return;
  }
  fd_ = std::move(fd);
  counters_.log_lines = snapshot_lines + c->appended_since.size();
  ++counters_.compactions;
}

}  // namespace aw
