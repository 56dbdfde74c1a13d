#include "watchers/notify/notify_ids.h"

#include <fcntl.h>

#include <cerrno>

#include "src/core/state_file.h"
#include "src/os/errno_text.h"
#include "src/os/files.h"
#include "src/os/unique_fd.h"
#include "watchers/notify/notify_protocol.h"

namespace aw {

namespace {
constexpr std::string_view kKind = "notify-ids";
}  // namespace

bool NotifyIds::first_delivery(std::uint64_t id) {
  if (contains(id)) return false;
  record(id);
  return true;
}

void NotifyIds::record(std::uint64_t id) {
  if (remember(id) && fd_) write_ids({id});
}

bool NotifyIds::remember(std::uint64_t id) {
  if (capacity_ == 0 || !ids_.insert(id).second) return false;
  order_.push_back(id);
  if (order_.size() > capacity_) {
    ids_.erase(order_.front());
    order_.pop_front();
  }
  return true;
}

Result<std::vector<std::string>> NotifyIds::persist_to(const std::string& path) {
  auto text = read_file_if_exists(path);
  if (!text) return text.error();
  std::vector<std::string> problems;
  if (*text) {
    auto contents = parse_state_file(**text, path, kKind);
    if (!contents) return contents.error();
    problems = std::move(contents->problems);
    for (const StateRecord& r : contents->records) {
      auto id = r.fields.size() == 1 ? parse_notify_id(r.fields[0]) : std::nullopt;
      if (!id) {
        problems.push_back(path + ":" + std::to_string(r.line) + ": expected one notify id");
        continue;
      }
      remember(*id);
    }
    records_in_file_ = contents->records.size();
  }
  path_ = path;
  // A fresh file, or one with a torn tail or damage: rewritten whole, so that
  // appends start on a clean line.
  if (!*text || !problems.empty()) {
    rewrite_file();
    if (!fd_) return make_error("cannot write " + path);
    return problems;
  }
  fd_ = UniqueFd(::open(path.c_str(), O_WRONLY | O_APPEND | O_CLOEXEC | O_NOFOLLOW));
  if (!fd_) return errno_error("cannot open " + path, errno);
  return problems;
}

void NotifyIds::write_ids(const std::vector<std::uint64_t>& ids) {
  if (ids.empty()) return;
  if (records_in_file_ + ids.size() > 2 * capacity_) {
    rewrite_file();  // holds every id remembered, these included
    return;
  }
  std::string records;
  for (std::uint64_t id : ids) append_state_record(records, {format_notify_id(id)});
  if (!fd_ || !write_all(fd_.get(), records).ok()) {
    ++write_errors_;
    return;
  }
  records_in_file_ += ids.size();
}

void NotifyIds::rewrite_file() {
  std::string content = state_file_header(kKind);
  for (std::uint64_t id : order_) append_state_record(content, {format_notify_id(id)});
  // Replaced whole (temp file, rename), then appended to through a new fd.
  if (!write_file_durably(path_, content, 0600).ok()) {
    ++write_errors_;
    return;
  }
  fd_ = UniqueFd(::open(path_.c_str(), O_WRONLY | O_APPEND | O_CLOEXEC | O_NOFOLLOW));
  if (!fd_) ++write_errors_;
  records_in_file_ = order_.size();
}

std::size_t NotifyIds::seed_from_log_text(std::string_view text) {
  // The key as the event log writes it: compact JSON, field values as strings.
  static constexpr std::string_view kKey = "\"notify_id\":\"";
  std::size_t found = 0;
  std::vector<std::uint64_t> fresh;  // not remembered before: written to the file at once
  for (std::size_t at = text.find(kKey); at != std::string_view::npos;
       at = text.find(kKey, at + 1)) {
    std::string_view rest = text.substr(at + kKey.size());
    if (rest.size() < 17 || rest[16] != '"') continue;
    if (auto id = parse_notify_id(rest.substr(0, 16))) {
      if (remember(*id)) fresh.push_back(*id);
      ++found;
    }
  }
  if (fd_) write_ids(fresh);
  return found;
}

Result<std::size_t> NotifyIds::seed_from_log_file(const std::string& path, std::size_t max_bytes) {
  auto tail = read_file_tail(path, max_bytes);
  if (!tail) return tail.error();
  return *tail ? seed_from_log_text(**tail) : std::size_t{0};
}

}  // namespace aw
