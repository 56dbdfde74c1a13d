#include "src/eventlog/segment_maintenance.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <vector>

#include "src/eventlog/log_segments.h"
#include "src/os/errno_text.h"
#include "src/os/gzip_copy.h"
#include "src/os/unique_fd.h"

namespace aw {
namespace {

bool exists(const std::string& path) {
  struct stat st;
  return ::stat(path.c_str(), &st) == 0;
}

// Unlink that treats "already gone" as success.
bool remove_if_present(const std::string& path) {
  return ::unlink(path.c_str()) == 0 || errno == ENOENT;
}

Status fsync_dir(const std::string& dir) {
  const UniqueFd fd(::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  if (!fd) return errno_error("cannot open " + dir, errno);
  if (::fsync(fd.get()) != 0) return errno_error("cannot fsync " + dir, errno);
  return Status::Ok();
}

}  // namespace

Result<CompressOutcome> compress_log_segment(const std::string& dir, std::uint64_t number) {
  const std::string plain = log_segment_path(dir, number, SegmentForm::kPlain);
  const std::string gz = log_segment_path(dir, number, SegmentForm::kGzip);
  const std::string tmp = log_segment_path(dir, number, SegmentForm::kGzipTmp);
  CompressOutcome outcome;

  if (exists(gz)) {
    // A previous run crashed between the rename and the unlink: the .gz is complete.
    if (!remove_if_present(plain)) return errno_error("cannot remove " + plain, errno);
    return outcome;
  }
  const UniqueFd in_fd(::open(plain.c_str(), O_RDONLY | O_CLOEXEC));
  if (!in_fd) {
    if (errno == ENOENT) return outcome;  // pruned meanwhile: nothing to compress
    return errno_error("cannot open " + plain, errno);
  }
  const UniqueFd out_fd(::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600));
  if (!out_fd) return errno_error("cannot create " + tmp, errno);

  auto fail = [&](Error e) -> Result<CompressOutcome> {
    ::unlink(tmp.c_str());
    return e;
  };
  auto plain_bytes = gzip_copy(in_fd.get(), out_fd.get(), plain, tmp);
  if (!plain_bytes) return fail(plain_bytes.error());
  if (::fsync(out_fd.get()) != 0) return fail(errno_error("cannot fsync " + tmp, errno));
  struct stat st;
  if (::fstat(out_fd.get(), &st) == 0) outcome.gzip_bytes = static_cast<std::uint64_t>(st.st_size);
  if (::rename(tmp.c_str(), gz.c_str()) != 0)
    return fail(errno_error("cannot rename " + tmp, errno));
  // Make the rename durable before the plain copy disappears.
  if (Status s = fsync_dir(dir); !s) return s.error();
  if (!remove_if_present(plain)) return errno_error("cannot remove " + plain, errno);
  outcome.compressed = true;
  outcome.plain_bytes = *plain_bytes;
  return outcome;
}

Result<std::size_t> prune_log_segments(const std::string& dir, std::size_t keep) {
  auto segments = list_log_segments(dir);
  if (!segments) return segments.error();
  // A lone .tmp (no plain, no .gz) is debris, not a segment: it does not count.
  std::size_t real = 0;
  for (const LogSegment& seg : *segments)
    if (seg.has_plain || seg.has_gzip) ++real;
  std::size_t excess = real > keep ? real - keep : 0;
  std::size_t removed = 0;
  for (const LogSegment& seg : *segments) {
    if (excess > 0 && (seg.has_plain || seg.has_gzip)) {
      --excess;
      for (SegmentForm form : {SegmentForm::kPlain, SegmentForm::kGzip}) {
        const std::string path = log_segment_path(dir, seg.number, form);
        if (!remove_if_present(path)) return errno_error("cannot remove " + path, errno);
      }
      ++removed;
    }
    if (seg.has_gzip_tmp) {
      const std::string path = log_segment_path(dir, seg.number, SegmentForm::kGzipTmp);
      if (!remove_if_present(path)) return errno_error("cannot remove " + path, errno);
    }
  }
  return removed;
}

}  // namespace aw
