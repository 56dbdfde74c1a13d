#include "src/core/state_file.h"

#include <zlib.h>

#include <cstdint>
#include <cstdio>

#include "src/core/percent_escape.h"

namespace aw {
namespace {

constexpr std::string_view kMagic = "agentwatch-state";

// The CRC-32 of `body` as 8 lowercase hex digits.
void write_crc_hex(char* out8, std::string_view body) {
  static constexpr char kHex[] = "0123456789abcdef";
  auto crc = static_cast<std::uint32_t>(crc32(crc32(0L, Z_NULL, 0),
                                              reinterpret_cast<const Bytef*>(body.data()),
                                              static_cast<uInt>(body.size())));
  for (int i = 7; i >= 0; --i, crc >>= 4) out8[i] = kHex[crc & 0xF];
}

std::string crc_hex(std::string_view body) {
  std::string out(8, '0');
  write_crc_hex(out.data(), body);
  return out;
}

}  // namespace

std::string state_file_header(std::string_view kind) {
  return std::string(kMagic) + " " + std::to_string(kStateFileVersion) + " " + std::string(kind) +
         "\n";
}

bool has_state_file_header(std::string_view text, std::string_view kind) {
  const std::string header = state_file_header(kind);
  return text.substr(0, header.size()) == header;
}

std::vector<std::string_view> split_tabs(std::string_view line) {
  std::vector<std::string_view> columns;
  while (true) {
    const std::size_t tab = line.find('\t');
    columns.push_back(line.substr(0, tab));
    if (tab == std::string_view::npos) return columns;
    line.remove_prefix(tab + 1);
  }
}

namespace {

// Writes the checksum's place, then the body, then the checksum over it.
template <class Fields>
void append_record(std::string& out, const Fields& fields) {
  const std::size_t crc_at = out.size();
  out.append("00000000\t");
  const std::size_t body_at = out.size();
  bool first = true;
  for (const auto& field : fields) {
    if (!first) out.push_back('\t');
    first = false;
    append_percent_escaped(out, field);
  }
  write_crc_hex(out.data() + crc_at, std::string_view(out).substr(body_at));
  out.push_back('\n');
}

}  // namespace

std::string state_record(const std::vector<std::string>& fields) {
  std::string out;
  append_record(out, fields);
  return out;
}

void append_state_record(std::string& out, std::initializer_list<std::string_view> fields) {
  append_record(out, fields);
}

void append_state_record(std::string& out, std::span<const std::string_view> fields) {
  append_record(out, fields);
}

Result<StateFileContents> parse_state_file(std::string_view text, const std::string& path,
                                           std::string_view kind) {
  const std::string header = state_file_header(kind);
  const std::string expected = header.substr(0, header.size() - 1);
  const std::size_t first_nl = text.find('\n');
  if (first_nl == std::string_view::npos || text.substr(0, first_nl) != expected) {
    const std::string found =
        text.empty() ? "an empty file"
        : first_nl == std::string_view::npos
            ? "'" + std::string(text.substr(0, 60)) + "' without a newline"
            : "'" + std::string(text.substr(0, std::min<std::size_t>(first_nl, 60))) + "'";
    return make_error(path + ":1: expected the header '" + expected + "', found " + found);
  }
  StateFileContents out;
  std::size_t pos = first_nl + 1;
  out.whole_bytes = pos;
  std::size_t line_no = 1;
  while (pos < text.size()) {
    ++line_no;
    const std::string where = path + ":" + std::to_string(line_no) + ": ";
    const std::size_t nl = text.find('\n', pos);
    if (nl == std::string_view::npos) {
      out.torn_tail = true;
      out.problems.push_back(where +
                             "the last line ends without a newline (a torn write: "
                             "ignored)");
      break;
    }
    const std::string_view line = text.substr(pos, nl - pos);
    pos = nl + 1;
    out.whole_bytes = pos;
    const std::size_t tab = line.find('\t');
    if (tab != 8) {
      out.problems.push_back(where + "expected a checksum (8 hex digits) and a TAB");
      continue;
    }
    const std::string_view body = line.substr(tab + 1);
    if (line.substr(0, 8) != crc_hex(body)) {
      out.problems.push_back(where + "the checksum does not match the record (a damaged line)");
      continue;
    }
    StateRecord r;
    r.line = line_no;
    bool ok = true;
    for (std::string_view column : split_tabs(body)) {
      auto field = percent_unescape(column);
      if (!field) {
        ok = false;
        break;
      }
      r.fields.push_back(std::move(*field));
    }
    if (!ok) {
      out.problems.push_back(where + "a field with a bad %-escape (expected %XX)");
      continue;
    }
    out.records.push_back(std::move(r));
  }
  return out;
}

}  // namespace aw
