#include "watchers/logtail/offset_store.h"

#include "src/core/percent_escape.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <charconv>
#include <cstring>
#include <mutex>
#include <vector>

namespace aw {
namespace {

constexpr std::string_view kHeader = "agentwatch-log-offsets 1";

std::optional<std::int64_t> parse_int(std::string_view s) {
  std::int64_t v = 0;
  auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
  if (ec != std::errc() || p != s.data() + s.size() || v < 0) return std::nullopt;
  return v;
}

std::string errno_text(const std::string& what, const std::string& path, int err) {
  return what + " " + path + ": " + std::strerror(err);
}

bool write_all(int fd, std::string_view data) {
  while (!data.empty()) {
    ssize_t n = write(fd, data.data(), data.size());
    if (n < 0) {
      if (errno == EINTR) continue;
      return false;
    }
    data.remove_prefix(static_cast<std::size_t>(n));
  }
  return true;
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
    const std::string tmp = path + ".tmp";
    int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd < 0) return errno_text("cannot create", tmp, errno);
    if (!write_all(fd, text) || fsync(fd) != 0) {
      const int err = errno;
      ::close(fd);
      unlink(tmp.c_str());
      return errno_text("cannot write", tmp, err);
    }
    ::close(fd);
    if (rename(tmp.c_str(), path.c_str()) != 0) {
      const int err = errno;
      unlink(tmp.c_str());
      return errno_text("cannot rename to", path, err);
    }
    // The rename itself must survive a crash too.
    std::string dir = path.substr(0, path.find_last_of('/'));
    if (dir.empty()) dir = "/";
    int dfd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (dfd >= 0) {
      fsync(dfd);
      ::close(dfd);
    }
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
  int fd = ::open(store->path_.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    if (errno == ENOENT) return store;
    return make_error(errno_text("cannot open", store->path_, errno), -errno);
  }
  std::string text;
  char buf[16384];
  for (;;) {
    ssize_t n = read(fd, buf, sizeof buf);
    if (n < 0) {
      if (errno == EINTR) continue;
      const int err = errno;
      ::close(fd);
      return make_error(errno_text("cannot read", store->path_, err), -err);
    }
    if (n == 0) break;
    text.append(buf, static_cast<std::size_t>(n));
  }
  ::close(fd);
  auto table = parse(text, store->path_, &store->stats_.corrupt_lines);
  if (!table.ok()) return table.error();
  store->table_ = std::move(table.value());
  store->stats_.entries = store->table_.size();
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
  std::string out(kHeader);
  out.push_back('\n');
  for (const auto& [name, o] : table) {
    append_percent_escaped(out, name);
    for (std::int64_t v : {o.dev, o.inode, o.offset, o.line_no}) {
      out.push_back('\t');
      out += std::to_string(v);
    }
    out += o.skipping ? "\t1\n" : "\t0\n";
  }
  return out;
}

Result<std::map<std::string, LogOffset>> FileOffsetStore::parse(std::string_view text,
                                                                const std::string& path,
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
    std::string_view line = text.substr(0, nl);
    text.remove_prefix(nl + 1);
    if (line_no == 1) {
      if (line != kHeader)
        return make_error(path + ":1: expected the header '" + std::string(kHeader) + "', found '" +
                          std::string(line.substr(0, 60)) + "'");
      continue;
    }
    std::vector<std::string_view> cols;
    while (true) {
      const std::size_t tab = line.find('\t');
      cols.push_back(line.substr(0, tab));
      if (tab == std::string_view::npos) break;
      line.remove_prefix(tab + 1);
    }
    if (cols.size() != 6) {
      ++corrupt;
      continue;
    }
    auto name = percent_unescape(cols[0]);
    auto dev = parse_int(cols[1]), ino = parse_int(cols[2]), off = parse_int(cols[3]),
         lno = parse_int(cols[4]);
    if (!name || name->empty() || !dev || !ino || !off || !lno ||
        (cols[5] != "0" && cols[5] != "1")) {
      ++corrupt;
      continue;
    }
    table[*name] = LogOffset{*dev, *ino, *off, *lno, cols[5] == "1"};
  }
  if (line_no == 1 && corrupt == 1)
    return make_error(path + ":1: expected the header '" + std::string(kHeader) +
                      "' followed by a newline");
  if (corrupt_lines) *corrupt_lines = corrupt;
  return table;
}

}  // namespace aw
