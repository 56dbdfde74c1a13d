#include "src/eventlog/seq_index.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <charconv>

#include "src/os/errno_text.h"
#include "src/os/unique_fd.h"

namespace aw {
namespace {

// Past this many entries the index keeps every other one: a log of more than
// 16 GiB (at the default stride) is indexed more coarsely, never unboundedly.
constexpr std::size_t kMaxEntries = 1 << 16;

// How much of a file one sample reads: enough for the end of one line and the
// head of the next. A sample that finds no line start in it is skipped.
constexpr std::size_t kSampleBytes = 4096;

// Enough of a line's head for leading_seq: `{"seq":` and 20 digits and a ','.
constexpr std::size_t kHeadBytes = 28;

bool by_place(const LogPosition& a, const LogPosition& b) {
  return a.segment != b.segment ? a.segment < b.segment : a.offset < b.offset;
}

}  // namespace

std::optional<std::uint64_t> leading_seq(std::string_view line) {
  constexpr std::string_view kHead = R"({"seq":)";
  if (!line.starts_with(kHead)) return std::nullopt;
  line.remove_prefix(kHead.size());
  std::uint64_t seq = 0;
  const auto [end, ec] = std::from_chars(line.data(), line.data() + line.size(), seq);
  if (ec != std::errc() || end == line.data() || end == line.data() + line.size() ||
      (*end != ',' && *end != '}'))
    return std::nullopt;
  return seq;
}

void SeqIndex::note_appended(std::uint64_t segment, std::uint64_t offset, std::string_view bytes) {
  if (segment < floor_) return;
  if (segment_ != segment || offset != end_) {
    // Another file, or bytes we did not see in between: what precedes `offset`
    // is unknown, so the first mark waits for a '\n'.
    segment_ = segment;
    end_ = offset;
    next_mark_ = offset;
    at_line_start_ = offset == 0;
    head_.clear();
  }
  if (!head_.empty()) {
    // A line to mark began at the end of the previous append: its head goes on here.
    const std::size_t take = std::min(kHeadBytes - head_.size(), bytes.size());
    head_.append(bytes.substr(0, take));
    if (const auto seq = leading_seq(head_)) {
      mark(segment, head_at_, *seq);
      head_.clear();
    } else if (head_.size() >= kHeadBytes || take < bytes.size()) {
      head_.clear();  // not a line of ours
    }
  }
  const std::uint64_t begin = end_;
  const std::uint64_t stop = end_ + bytes.size();
  while (next_mark_ < stop) {
    std::size_t i = next_mark_ > begin ? static_cast<std::size_t>(next_mark_ - begin) : 0;
    const bool starts_here = i == 0 ? at_line_start_ : bytes[i - 1] == '\n';
    if (!starts_here) {
      const std::size_t nl = bytes.find('\n', i);
      if (nl == std::string_view::npos) break;
      i = nl + 1;
      if (i == bytes.size()) {
        next_mark_ = stop;  // the next line starts with the next append
        break;
      }
    }
    const std::string_view line = bytes.substr(i);
    if (const auto seq = leading_seq(line)) {
      mark(segment, begin + i, *seq);
    } else if (line.size() < kHeadBytes && line.find('\n') == std::string_view::npos) {
      head_.assign(line);  // the next append finishes the head
      head_at_ = begin + i;
    }
    next_mark_ = begin + i + stride_;
  }
  if (!bytes.empty()) at_line_start_ = bytes.back() == '\n';
  end_ = stop;
}

void SeqIndex::restart_segment(std::uint64_t segment, std::uint64_t size, bool at_line_start) {
  std::erase_if(entries_, [segment](const LogPosition& p) { return p.segment == segment; });
  segment_ = segment;
  end_ = size;
  next_mark_ = size;
  at_line_start_ = size == 0 || at_line_start;
  head_.clear();
}

void SeqIndex::add_sampled(const std::vector<LogPosition>& positions) {
  for (const LogPosition& p : positions)
    if (p.segment >= floor_) entries_.push_back(p);
  std::sort(entries_.begin(), entries_.end(), by_place);
  entries_.erase(std::unique(entries_.begin(), entries_.end(),
                             [](const LogPosition& a, const LogPosition& b) {
                               return a.segment == b.segment && a.offset == b.offset;
                             }),
                 entries_.end());
}

void SeqIndex::forget_segments_below(std::uint64_t segment) {
  floor_ = std::max(floor_, segment);
  std::erase_if(entries_, [this](const LogPosition& p) { return p.segment < floor_; });
}

std::optional<LogPosition> SeqIndex::start_for(std::uint64_t after) const {
  // Seqs grow in file order, so the entries are sorted by seq too.
  const std::uint64_t wanted = after + 1;
  const auto past = std::partition_point(
      entries_.begin(), entries_.end(), [wanted](const LogPosition& p) { return p.seq <= wanted; });
  if (past == entries_.begin()) return std::nullopt;
  return *(past - 1);
}

void SeqIndex::mark(std::uint64_t segment, std::uint64_t offset, std::uint64_t seq) {
  entries_.push_back(LogPosition{segment, offset, seq});
  if (entries_.size() < kMaxEntries) return;
  std::size_t kept = 0;
  for (std::size_t i = 0; i < entries_.size(); i += 2) entries_[kept++] = entries_[i];
  entries_.resize(kept);
  stride_ *= 2;
}

Result<std::vector<LogPosition>> sample_log_file(const std::string& path, std::uint64_t segment,
                                                 bool gzip, std::uint64_t stride,
                                                 std::optional<std::uint64_t> limit) {
  std::vector<LogPosition> out;
  UniqueFd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
  if (!fd) {
    if (errno == ENOENT) return out;
    return errno_error("cannot open " + path, errno);
  }
  std::array<char, kSampleBytes> buf{};
  if (gzip) {
    gzFile gz = ::gzdopen(fd.get(), "rb");
    if (!gz) return make_error("cannot read " + path + ": not enough memory for zlib");
    fd.release();  // gzclose() closes it
    const int n = ::gzread(gz, buf.data(), static_cast<unsigned>(buf.size()));
    ::gzclose(gz);
    if (n > 0) {
      if (const auto seq = leading_seq(std::string_view(buf.data(), static_cast<std::size_t>(n))))
        out.push_back(LogPosition{segment, 0, *seq});
    }
    return out;
  }
  struct stat st {};
  if (::fstat(fd.get(), &st) != 0) return errno_error("cannot stat " + path, errno);
  std::uint64_t size = static_cast<std::uint64_t>(st.st_size);
  if (limit) size = std::min(size, *limit);
  for (std::uint64_t at = 0; at < size; at += stride ? stride : 1) {
    const std::size_t want =
        static_cast<std::size_t>(std::min<std::uint64_t>(buf.size(), size - at));
    const ssize_t n = ::pread(fd.get(), buf.data(), want, static_cast<off_t>(at));
    if (n < 0) {
      if (errno == EINTR) continue;
      return errno_error("cannot read " + path, errno);
    }
    if (n == 0) break;
    std::string_view got(buf.data(), static_cast<std::size_t>(n));
    std::size_t start = 0;
    if (at != 0) {
      const std::size_t nl = got.find('\n');
      if (nl == std::string_view::npos) continue;  // inside a long line
      start = nl + 1;
    }
    if (const auto seq = leading_seq(got.substr(start)))
      out.push_back(LogPosition{segment, at + start, *seq});
  }
  return out;
}

}  // namespace aw
