// Writing JSON needs no library (DESIGN §4): a tested escaper and a tiny builder.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <utility>

namespace aw {

// Appends `s` as a JSON string literal (with quotes) to `out`. Control characters,
// quotes and backslashes are escaped; invalid UTF-8 bytes are replaced by U+FFFD so
// the output is always valid JSON whatever bytes a file name or log line held.
void append_json_string(std::string& out, std::string_view s);

// Builds one JSON object left to right. Keys are trusted (written by us).
class JsonObjectWriter {
 public:
  explicit JsonObjectWriter(std::string& out) : out_(out) { out_.push_back('{'); }
  JsonObjectWriter& str(std::string_view key, std::string_view value);
  JsonObjectWriter& num(std::string_view key, std::int64_t value);
  JsonObjectWriter& unum(std::string_view key, std::uint64_t value);
  JsonObjectWriter& dbl(std::string_view key, double value);
  JsonObjectWriter& boolean(std::string_view key, bool value);
  // Inserts `json` verbatim as the value (caller guarantees it is valid JSON).
  JsonObjectWriter& raw(std::string_view key, std::string_view json);
  // The value is whatever `write(out)` appends: one valid JSON value, written in
  // place (a nested object without a temporary string).
  template <class WriteValue>
  JsonObjectWriter& value(std::string_view k, WriteValue&& write) {
    key(k);
    std::forward<WriteValue>(write)(out_);
    return *this;
  }
  void close() { out_.push_back('}'); }

 private:
  void key(std::string_view k);
  std::string& out_;
  bool first_ = true;
};

}  // namespace aw
