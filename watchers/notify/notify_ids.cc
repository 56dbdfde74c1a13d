#include "watchers/notify/notify_ids.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>

#include "src/os/errno_text.h"
#include "src/os/unique_fd.h"
#include "watchers/notify/notify_protocol.h"

namespace aw {

bool NotifyIds::first_delivery(std::uint64_t id) {
  if (ids_.count(id)) return false;
  remember(id);
  return true;
}

void NotifyIds::remember(std::uint64_t id) {
  if (capacity_ == 0 || !ids_.insert(id).second) return;
  order_.push_back(id);
  if (order_.size() > capacity_) {
    ids_.erase(order_.front());
    order_.pop_front();
  }
}

std::size_t NotifyIds::seed_from_log_text(std::string_view text) {
  // The key as the event log writes it: compact JSON, field values as strings.
  static constexpr std::string_view kKey = "\"notify_id\":\"";
  std::size_t found = 0;
  for (std::size_t at = text.find(kKey); at != std::string_view::npos;
       at = text.find(kKey, at + 1)) {
    std::string_view rest = text.substr(at + kKey.size());
    if (rest.size() < 17 || rest[16] != '"') continue;
    if (auto id = parse_notify_id(rest.substr(0, 16))) {
      remember(*id);
      ++found;
    }
  }
  return found;
}

Result<std::size_t> NotifyIds::seed_from_log_file(const std::string& path, std::size_t max_bytes) {
  UniqueFd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
  if (!fd) {
    if (errno == ENOENT) return std::size_t{0};
    return errno_error("cannot read " + path, errno);
  }
  struct stat st {};
  if (::fstat(fd.get(), &st) != 0) return errno_error("cannot read " + path, errno);
  const auto size = static_cast<std::size_t>(st.st_size);
  const std::size_t from = size > max_bytes ? size - max_bytes : 0;
  std::string text(size - from, '\0');
  std::size_t got = 0;
  while (got < text.size()) {
    const ssize_t n =
        ::pread(fd.get(), text.data() + got, text.size() - got, static_cast<off_t>(from + got));
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return errno_error("cannot read " + path, errno);
    if (n == 0) break;
    got += static_cast<std::size_t>(n);
  }
  text.resize(got);
  return seed_from_log_text(text);
}

}  // namespace aw
