// The one format of agentwatch's small state files (timers, log offsets, the
// file index: docs/state-files.md), and the one way they are written durably.
//
// Format, version 2:
//   agentwatch-state 2 <kind>                 header: magic, version, what it holds
//   <crc> TAB <field> TAB <field> ...         one record per line
// `crc` is the CRC-32 (zlib's) of the bytes after the first TAB up to the
// '\n', as 8 lowercase hex digits; each field is percent-escaped
// (percent_escape.h), so a TAB, newline or '%' in a name stays on its line.
//
// The reader is tolerant, and says where:
//   - a header that is not this kind's, or missing, makes the file unusable
//     (a foreign file says nothing about any record): "PATH:1: expected ...";
//   - a last line without '\n' is a torn write (a crash mid-append): never
//     parsed, reported as a problem at its line; whole_bytes tells an appender
//     where to cut before it appends again;
//   - a line whose checksum or escaping is wrong is skipped and reported as
//     "PATH:LINE: ..."; its neighbours are not affected.
// What a record's fields mean, and whether a skipped record makes the whole
// file unusable, is each kind's business.
//
// Writes (src/os/files.h): a file is replaced whole by write_file_durably()
// (temp file beside it, fsync, rename, fsync of the directory): readers and a
// crash see the old file or the new, never a part. An append-only file (the
// file index) appends one whole record line per write() on an O_APPEND fd and
// is compacted by the two halves write_temp_beside() (blocking: thread pool)
// and commit_temp(). This header is pure: formatting and parsing only.
//
// Thread safety: functions share nothing.
#pragma once

#include <cstddef>
#include <initializer_list>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "src/core/result.h"

namespace aw {

inline constexpr int kStateFileVersion = 2;

// "agentwatch-state 2 <kind>\n"
std::string state_file_header(std::string_view kind);
// Whether `text` starts with this kind's version-2 header line.
bool has_state_file_header(std::string_view text, std::string_view kind);

// One record line: checksum, the fields escaped, '\n'.
std::string state_record(const std::vector<std::string>& fields);
// The same line, appended to `out` (no temporaries: the file index writes one
// per file it handles).
void append_state_record(std::string& out, std::initializer_list<std::string_view> fields);
void append_state_record(std::string& out, std::span<const std::string_view> fields);

// The TAB-separated columns of one line, as written (not unescaped): what
// both this format and the version-1 files it replaced are made of.
std::vector<std::string_view> split_tabs(std::string_view line);

struct StateRecord {
  std::size_t line = 0;  // 1-based line number in the file (the header is line 1)
  std::vector<std::string> fields;
};

struct StateFileContents {
  std::vector<StateRecord> records;  // in file order
  // One per line skipped, a torn last line included: "PATH:LINE: what".
  std::vector<std::string> problems;
  bool torn_tail = false;
  std::size_t whole_bytes = 0;  // the length of the file's whole lines
};

// Parses `text` (the whole file), naming `path` in messages. An error only for
// a missing or foreign header.
Result<StateFileContents> parse_state_file(std::string_view text, const std::string& path,
                                           std::string_view kind);

}  // namespace aw
