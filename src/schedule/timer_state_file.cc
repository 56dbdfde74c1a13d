#include "src/schedule/timer_state_file.h"

#include <cstdio>

#include <cerrno>
#include <filesystem>
#include <vector>

#include "src/core/event.h"
#include "src/core/percent_escape.h"
#include "src/core/state_file.h"
#include "src/os/errno_text.h"
#include "src/os/files.h"

namespace aw {
namespace {

constexpr std::string_view kKind = "timers";
// The format before docs/state-files.md: still read, then rewritten.
constexpr std::string_view kHeaderV1 = "agentwatch-timers 1";

std::string time_column(const std::optional<WallTime>& t) {
  return t ? format_time_utc(*t) : "-";
}

// nullopt inside: "-"; nullopt outside: not a time.
std::optional<std::optional<WallTime>> parse_time_column(std::string_view s) {
  if (s == "-") return std::optional<WallTime>{};
  auto t = parse_time_utc(s);
  if (!t) return std::nullopt;
  return std::optional<WallTime>{*t};
}

// One job's columns (name unescaped or not, per `escaped`), added to `records`.
// Returns an error message naming `where`, or "".
std::string add_job(const std::vector<std::string_view>& cols, bool escaped,
                    const std::string& where, JobRecords& records) {
  if (cols.size() != 3)
    return where + "expected 3 tab-separated columns (name, last run, first seen), found " +
           std::to_string(cols.size());
  std::optional<std::string> name =
      escaped ? percent_unescape(cols[0]) : std::optional<std::string>(std::string(cols[0]));
  if (!name || name->empty()) return where + "expected a job name (percent-escaped, not empty)";
  auto last_run = parse_time_column(cols[1]);
  if (!last_run)
    return where + "last run: expected an RFC 3339 time or '-', found '" +
           std::string(cols[1].substr(0, 60)) + "'";
  auto first_seen = parse_time_column(cols[2]);
  if (!first_seen)
    return where + "first seen: expected an RFC 3339 time or '-', found '" +
           std::string(cols[2].substr(0, 60)) + "'";
  if (!*last_run && !*first_seen)
    return where + "expected a last run or a first-seen time, found neither";
  if (!records.emplace(*name, JobRecord{*last_run, *first_seen}).second)
    return where + "job '" + *name + "' appears twice (expected one line per job)";
  return "";
}

Result<JobRecords> parse_v1(std::string_view text, const std::string& path) {
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
    const std::string_view line = text.substr(0, nl);
    text.remove_prefix(nl + 1);
    if (line_no == 1) continue;  // the header, checked by the caller
    const std::vector<std::string_view> cols = split_tabs(line);
    if (std::string err = add_job(cols, true, where, records); !err.empty())
      return make_error(std::move(err));
  }
  return records;
}

bool is_v1(std::string_view text) {
  return text.substr(0, text.find('\n')) == kHeaderV1;
}

}  // namespace

std::string serialize_timer_state(const JobRecords& records) {
  std::string out = state_file_header(kKind);
  for (const auto& [name, record] : records)
    out += state_record({name, time_column(record.last_run), time_column(record.first_seen)});
  return out;
}

Result<JobRecords> parse_timer_state(std::string_view text, const std::string& path) {
  if (is_v1(text)) return parse_v1(text, path);
  auto file = parse_state_file(text, path, kKind);
  if (!file) return file.error();
  // Any defect makes the whole file unusable (see the header).
  if (!file->problems.empty()) return make_error(file->problems.front());
  JobRecords records;
  for (const StateRecord& r : file->records) {
    std::vector<std::string_view> cols(r.fields.begin(), r.fields.end());
    const std::string where = path + ":" + std::to_string(r.line) + ": ";
    if (std::string err = add_job(cols, false, where, records); !err.empty())
      return make_error(std::move(err));
  }
  return records;
}

Result<JobRecords> read_timer_state(const std::string& path) {
  auto text = read_file_if_exists(path);
  if (!text)
    return make_error(
        "cannot read the timer state '" + path + "': " + errno_text(-text.error().code),
        text.error().code);
  if (!*text) return JobRecords{};
  auto parsed = parse_timer_state(**text, path);
  if (parsed.ok()) {
    // Migration: the old format is rewritten in the current one at once.
    // Best effort: if it fails, the next save writes it.
    if (is_v1(**text)) (void)write_timer_state(path, serialize_timer_state(*parsed));
    return parsed;
  }
  const std::string aside = path + ".corrupt";
  std::string message = parsed.error().message;
  if (::rename(path.c_str(), aside.c_str()) == 0) {
    message += " (moved aside to '" + aside + "'; every timer starts afresh)";
  } else {
    const int err = errno;
    message += " (cannot move it aside: " + errno_text(err) + "; every timer starts afresh)";
  }
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
  return write_file_durably(path, content, 0644);
}

}  // namespace aw
