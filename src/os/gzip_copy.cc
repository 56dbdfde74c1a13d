#include "src/os/gzip_copy.h"

#include <unistd.h>
#include <zlib.h>

#include <cerrno>
#include <cstring>
#include <vector>

#include "src/os/unique_fd.h"

namespace aw {
namespace {

constexpr std::size_t kCopyBuffer = 256 * 1024;

Error errno_error(const std::string& what, const std::string& name, int err) {
  return make_error(what + " " + name + ": " + std::strerror(err), -err);
}

}  // namespace

Result<std::uint64_t> gzip_copy(int in_fd, int out_fd, const std::string& in_name,
                                const std::string& out_name) {
  // gzclose closes the fd it was given: give it its own.
  UniqueFd gz_fd(::dup(out_fd));
  if (!gz_fd) return errno_error("cannot dup fd of", out_name, errno);
  gzFile stream = ::gzdopen(gz_fd.get(), "wb6");
  if (!stream) return make_error("cannot start a gzip stream on " + out_name, -ENOMEM);
  gz_fd.release();  // zlib owns it now: gzclose() closes it
  ::gzbuffer(stream, kCopyBuffer);
  std::vector<char> buf(kCopyBuffer);
  std::uint64_t total = 0;
  for (;;) {
    const ssize_t got = ::read(in_fd, buf.data(), buf.size());
    if (got < 0) {
      if (errno == EINTR) continue;
      const int err = errno;
      ::gzclose(stream);
      return errno_error("cannot read", in_name, err);
    }
    if (got == 0) break;
    if (::gzwrite(stream, buf.data(), static_cast<unsigned>(got)) != static_cast<int>(got)) {
      int zerr = 0;
      std::string msg = ::gzerror(stream, &zerr);
      const int err = zerr == Z_ERRNO ? errno : EIO;
      if (zerr == Z_ERRNO) msg = std::strerror(err);
      ::gzclose(stream);
      return make_error("cannot write " + out_name + ": " + msg, -err);
    }
    total += static_cast<std::uint64_t>(got);
  }
  if (const int rc = ::gzclose(stream); rc != Z_OK) {
    const int err = rc == Z_ERRNO ? errno : EIO;
    return make_error("cannot finish " + out_name + ": " +
                          (rc == Z_ERRNO ? std::strerror(err) : "zlib error " + std::to_string(rc)),
                      -err);
  }
  return total;
}

}  // namespace aw
