#include "src/eventlog/log_segments.h"

#include <dirent.h>

#include <algorithm>
#include <cerrno>
#include <charconv>
#include <cstdio>
#include <map>

#include "src/os/errno_text.h"

namespace aw {
namespace {

constexpr std::string_view kPrefix = "events.";

std::string_view suffix_for(SegmentForm form) {
  switch (form) {
    case SegmentForm::kPlain:
      return ".jsonl";
    case SegmentForm::kGzip:
      return ".jsonl.gz";
    case SegmentForm::kGzipTmp:
      return ".jsonl.gz.tmp";
  }
  return ".jsonl";
}

}  // namespace

std::string log_segment_file_name(std::uint64_t number, SegmentForm form) {
  char digits[32];
  std::snprintf(digits, sizeof digits, "%06llu", static_cast<unsigned long long>(number));
  std::string out(kPrefix);
  out += digits;
  out += suffix_for(form);
  return out;
}

std::string log_segment_path(const std::string& dir, std::uint64_t number, SegmentForm form) {
  return dir + "/" + log_segment_file_name(number, form);
}

std::string live_log_path(const std::string& dir) {
  return dir + "/" + std::string(kLiveLogFileName);
}

bool parse_log_segment_file_name(std::string_view name, ParsedLogSegmentName& out) {
  if (!name.starts_with(kPrefix)) return false;
  name.remove_prefix(kPrefix.size());
  std::size_t digits = 0;
  while (digits < name.size() && name[digits] >= '0' && name[digits] <= '9') ++digits;
  if (digits == 0 || digits > 19) return false;
  std::uint64_t number = 0;
  auto [ptr, ec] = std::from_chars(name.data(), name.data() + digits, number);
  if (ec != std::errc() || number == 0) return false;
  const std::string_view rest = name.substr(digits);
  for (SegmentForm form : {SegmentForm::kPlain, SegmentForm::kGzip, SegmentForm::kGzipTmp}) {
    if (rest == suffix_for(form)) {
      out.number = number;
      out.form = form;
      return true;
    }
  }
  return false;
}

Result<std::vector<LogSegment>> list_log_segments(const std::string& dir) {
  DIR* d = ::opendir(dir.c_str());
  if (!d) {
    const int err = errno;
    if (err == ENOENT) return std::vector<LogSegment>{};
    return errno_error("cannot list " + dir, err);
  }
  std::map<std::uint64_t, LogSegment> by_number;
  while (const dirent* ent = ::readdir(d)) {
    ParsedLogSegmentName parsed;
    if (!parse_log_segment_file_name(ent->d_name, parsed)) continue;
    LogSegment& seg = by_number[parsed.number];
    seg.number = parsed.number;
    switch (parsed.form) {
      case SegmentForm::kPlain:
        seg.has_plain = true;
        break;
      case SegmentForm::kGzip:
        seg.has_gzip = true;
        break;
      case SegmentForm::kGzipTmp:
        seg.has_gzip_tmp = true;
        break;
    }
  }
  ::closedir(d);
  std::vector<LogSegment> out;
  out.reserve(by_number.size());
  for (auto& [n, seg] : by_number) out.push_back(seg);
  return out;
}

std::uint64_t highest_log_segment_number(const std::vector<LogSegment>& segments) {
  return segments.empty() ? 0 : segments.back().number;
}

}  // namespace aw
