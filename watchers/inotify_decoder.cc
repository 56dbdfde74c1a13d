#include "watchers/inotify_decoder.h"

#include <sys/inotify.h>

#include <cstring>

namespace aw {

InotifyDecodeResult InotifyDecoder::decode(std::span<const std::uint8_t> bytes,
                                           std::vector<InotifyRecord>& out,
                                           std::size_t max_records) {
  constexpr std::size_t kHeader = sizeof(struct inotify_event);
  InotifyDecodeResult result;
  std::size_t off = 0;
  for (std::size_t decoded = 0; off < bytes.size() && decoded < max_records; ++decoded) {
    const std::size_t left = bytes.size() - off;
    if (left < kHeader) {
      result.malformed = true;
      result.error = "truncated inotify record header at offset " + std::to_string(off) +
                     " (need " + std::to_string(kHeader) + " bytes, have " + std::to_string(left) +
                     ")";
      break;
    }
    // memcpy, not a cast: the buffer has no alignment guarantee.
    struct inotify_event ev;
    std::memcpy(&ev, bytes.data() + off, kHeader);
    if (ev.len > kMaxNameLen) {
      result.malformed = true;
      result.error = "inotify record at offset " + std::to_string(off) + " claims a name of " +
                     std::to_string(ev.len) + " bytes (at most " + std::to_string(kMaxNameLen) +
                     " expected)";
      break;
    }
    if (left - kHeader < ev.len) {
      result.malformed = true;
      result.error = "truncated inotify record name at offset " + std::to_string(off) + " (need " +
                     std::to_string(ev.len) + " bytes, have " + std::to_string(left - kHeader) +
                     ")";
      break;
    }
    InotifyRecord rec;
    rec.wd = ev.wd;
    rec.mask = ev.mask;
    rec.cookie = ev.cookie;
    if (ev.len > 0) {
      const char* name = reinterpret_cast<const char*>(bytes.data() + off + kHeader);
      const void* nul = std::memchr(name, '\0', ev.len);
      if (nul == nullptr) {
        result.malformed = true;
        result.error = "inotify record at offset " + std::to_string(off) +
                       " has a name without its terminating NUL";
        break;
      }
      rec.name.assign(name, static_cast<const char*>(nul) - name);
    }
    rec.is_dir = (ev.mask & IN_ISDIR) != 0;
    rec.overflow = (ev.mask & IN_Q_OVERFLOW) != 0;
    rec.ignored = (ev.mask & IN_IGNORED) != 0;
    rec.unmount = (ev.mask & IN_UNMOUNT) != 0;
    out.push_back(std::move(rec));
    off += kHeader + ev.len;
  }
  result.consumed = off;
  return result;
}

}  // namespace aw
