#include "src/schedule/timer_state_file.h"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <vector>

#include "src/actions/file_write.h"
#include "src/core/event.h"
#include "src/core/percent_escape.h"
#include "src/core/unique_fd.h"

namespace aw {
namespace {

constexpr std::string_view kHeader = "agentwatch-timers 1";

void append_time(std::string& out, const std::optional<WallTime>& t) {
  out += t ? format_time_utc(*t) : "-";
}

// nullopt inside: "-"; nullopt outside: not a time.
std::optional<std::optional<WallTime>> parse_time_column(std::string_view s) {
  if (s == "-") return std::optional<WallTime>{};
  auto t = parse_time_utc(s);
  if (!t) return std::nullopt;
  return std::optional<WallTime>{*t};
}

Error errno_error(const std::string& what, int err) {
  return make_error(what + ": " + std::strerror(err), -err);
}

}  // namespace

std::string serialize_timer_state(const JobRecords& records) {
  std::string out(kHeader);
  out.push_back('\n');
  for (const auto& [name, record] : records) {
    append_percent_escaped(out, name);
    out.push_back('\t');
    append_time(out, record.last_run);
    out.push_back('\t');
    append_time(out, record.first_seen);
    out.push_back('\n');
  }
  return out;
}

Result<JobRecords> parse_timer_state(std::string_view text, const std::string& path) {
  JobRecords records;
  std::size_t line_no = 0;
  while (!text.empty()) {
    ++line_no;
    const std::string where = path + ":" + std::to_string(line_no) + ": ";
    const std::size_t nl = text.find('\n');
    if (nl == std::string_view::npos)
      return make_error(where +
                        "the line ends without a newline (expected a whole line: the "
                        "file was cut short)");
    std::string_view line = text.substr(0, nl);
    text.remove_prefix(nl + 1);
    if (line_no == 1) {
      if (line != kHeader)
        return make_error(where + "expected the header '" + std::string(kHeader) + "', found '" +
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
    if (cols.size() != 3)
      return make_error(where +
                        "expected 3 tab-separated columns (name, last run, first seen), "
                        "found " +
                        std::to_string(cols.size()));
    auto name = percent_unescape(cols[0]);
    if (!name || name->empty())
      return make_error(where + "expected a job name (percent-escaped, not empty)");
    auto last_run = parse_time_column(cols[1]);
    if (!last_run)
      return make_error(where + "last run: expected an RFC 3339 time or '-', found '" +
                        std::string(cols[1].substr(0, 60)) + "'");
    auto first_seen = parse_time_column(cols[2]);
    if (!first_seen)
      return make_error(where + "first seen: expected an RFC 3339 time or '-', found '" +
                        std::string(cols[2].substr(0, 60)) + "'");
    if (!*last_run && !*first_seen)
      return make_error(where + "expected a last run or a first-seen time, found neither");
    if (!records.emplace(*name, JobRecord{*last_run, *first_seen}).second)
      return make_error(where + "job '" + *name + "' appears twice (expected one line per job)");
  }
  if (line_no == 0)
    return make_error(path + ":1: expected the header '" + std::string(kHeader) +
                      "', found an empty file");
  return records;
}

Result<JobRecords> read_timer_state(const std::string& path) {
  UniqueFd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
  if (!fd) {
    if (errno == ENOENT) return JobRecords{};
    return errno_error("cannot open the timer state '" + path + "'", errno);
  }
  std::string text;
  char buf[16384];
  while (true) {
    ssize_t n = ::read(fd.get(), buf, sizeof buf);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return errno_error("cannot read the timer state '" + path + "'", errno);
    if (n == 0) break;
    text.append(buf, static_cast<std::size_t>(n));
  }
  auto parsed = parse_timer_state(text, path);
  if (parsed.ok()) return parsed;
  const std::string aside = path + ".corrupt";
  std::string message = parsed.error().message;
  if (::rename(path.c_str(), aside.c_str()) == 0)
    message += " (moved aside to '" + aside + "'; every timer starts afresh)";
  else
    message += " (cannot move it aside: " + std::string(std::strerror(errno)) +
               "; every timer starts afresh)";
  return make_error(std::move(message));
}

Status write_timer_state(const std::string& path, std::string_view content) {
  const std::filesystem::path p(path);
  std::string dir = p.parent_path().string();
  if (dir.empty()) dir = ".";
  std::error_code ec;
  if (!std::filesystem::exists(dir, ec)) {
    std::filesystem::create_directories(dir, ec);
    if (ec)
      return make_error("cannot create the directory '" + dir + "': " + ec.message(), -ec.value());
    std::filesystem::permissions(dir, std::filesystem::perms::owner_all,
                                 std::filesystem::perm_options::replace, ec);
  }
  UniqueFd dirfd(::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  if (!dirfd) return errno_error("cannot open the directory '" + dir + "'", errno);
  return write_file_replacing(dirfd.get(), p.filename().string(), content, path);
}

}  // namespace aw
