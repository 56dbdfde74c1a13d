// One TOML reader for every configuration file (rule files, agentwatch.toml and
// its [[worker]] sections), so that every mistake is reported the same way:
//
//   FILE:LINE:COLUMN: error: WHAT WAS EXPECTED
//
// A TomlReader parses one document and then reads values out of it with typed
// getters. A getter that finds the wrong thing appends one positioned error and
// returns nullopt (or null), so a caller goes on and one pass reports every
// problem of the file, not just the first. Unknown keys are reported at the key,
// with "did you mean" (src/core/suggest.h).
//
// The shared wording, pinned by the tests of its users:
//   wrong type   'KEY' expects EXPECTED, not a string
//   unknown key  unknown key 'KEY' WHERE; did you mean 'KNOWN'?
//   bad value    'KEY': what the value parser says (durations, byte sizes)
//
// Pure: no I/O (callers read the file), no libuv. Not thread-safe; a reader per
// document, on any thread.
#pragma once

#include <toml++/toml.h>

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "src/core/clock.h"

namespace aw {

// A 1-based line and column; 0 when unknown (e.g. a file that cannot be read).
struct ConfigPos {
  std::uint32_t line = 0;
  std::uint32_t column = 0;
};

// One user mistake in one configuration file.
struct ConfigError {
  std::string file;
  std::uint32_t line = 0;  // 0 when the error concerns the whole file (e.g. unreadable)
  std::uint32_t column = 0;
  std::string message;

  // "FILE:LINE:COLUMN: error: MESSAGE" (or "FILE: error: MESSAGE" without a line).
  std::string to_string() const;
};

// The errors, one to_string() per line, without a trailing newline.
std::string config_errors_text(const std::vector<ConfigError>& errors);

using KeyList = std::vector<std::string_view>;

// "a, b or c" (or with `last_sep` " and ").
std::string join_keys(const KeyList& keys, std::string_view last_sep = " or ");
// The value quoted as a JSON string: "a \"b\"".
std::string quoted(std::string_view s);
// "a string", "an integer", "a table" ... for "expects X, not Y".
std::string_view toml_type_name(const toml::node& n);

class TomlReader {
 public:
  // `file` is what errors name. `text` is the document (may be empty when the
  // caller only has parsed tables: then pos_in_string() falls back to the value's
  // start); it must outlive the reader. Errors are appended to `errors`, which
  // must outlive the reader too.
  TomlReader(std::string file, std::string_view text, std::vector<ConfigError>& errors);

  // Parses `text`; a syntax error is reported at its position and gives nullopt.
  std::optional<toml::table> parse();

  const std::string& file() const { return file_; }
  std::vector<ConfigError>& errors() { return errors_; }
  std::size_t error_count() const { return errors_.size(); }

  // ---- positions and errors ----
  static ConfigPos pos(const toml::source_region& r) { return {r.begin.line, r.begin.column}; }
  static ConfigPos pos(const toml::node& n) { return pos(n.source()); }
  static ConfigPos pos(const toml::key& k) { return pos(k.source()); }
  // The position of byte `offset` of the decoded value of string node `v`
  // (escapes make decoded and source offsets differ); the value's start for a
  // multi-line string or without the document's text.
  ConfigPos pos_in_string(const toml::node& v, std::size_t offset) const;

  void error(ConfigPos p, std::string message);
  void error(const toml::node& n, std::string message) { error(pos(n), std::move(message)); }
  void error(const toml::key& k, std::string message) { error(pos(k), std::move(message)); }

  // "unknown key 'K' WHERE; did you mean 'X'?" + `hint`, at the key.
  void unknown_key(const toml::key& k, std::string_view where, const KeyList& known,
                   std::string_view hint = "");
  // unknown_key() for every key of `t` not in `known`; true when all are known.
  bool check_keys(const toml::table& t, const KeyList& known, std::string_view where,
                  std::string_view hint = "");
  // "'KEY' expects EXPECTED, not TYPE", at the value.
  void wrong_type(const toml::node& v, std::string_view key, std::string_view expected);

  // ---- typed values: each reports its own mistake and returns nullopt ----
  std::optional<std::string> get_string(const toml::node& v, std::string_view key,
                                        std::string_view expected = "a string");
  std::optional<bool> get_bool(const toml::node& v, std::string_view key);
  // An integer or a float.
  std::optional<double> get_number(const toml::node& v, std::string_view key);
  // An integer in [min, max]; `expected` describes it for a wrong type.
  std::optional<std::int64_t> get_int(const toml::node& v, std::string_view key, std::int64_t min,
                                      std::int64_t max, std::string_view expected);
  // A duration string (src/core/duration.h); `positive` refuses "0".
  std::optional<Duration> get_duration(const toml::node& v, std::string_view key, bool positive);
  // A byte size string (src/core/byte_size.h) or a non-negative integer.
  std::optional<std::uint64_t> get_byte_size(const toml::node& v, std::string_view key);
  // A string that must be one of `choices`; its index.
  std::optional<std::size_t> get_choice(const toml::node& v, std::string_view key,
                                        const KeyList& choices);
  // An array of strings (`non_empty` refuses "" elements); every bad element
  // is reported.
  std::optional<std::vector<std::string>> get_string_array(const toml::node& v,
                                                           std::string_view key,
                                                           std::string_view expected,
                                                           bool non_empty = false);
  const toml::table* get_table(const toml::node& v, std::string_view key,
                               std::string_view expected);
  const toml::array* get_array(const toml::node& v, std::string_view key,
                               std::string_view expected);
  // An array whose elements are all tables ([[key]]); an empty array is fine.
  const toml::array* get_array_of_tables(const toml::node& v, std::string_view key,
                                         std::string_view expected);

 private:
  std::string file_;
  std::string_view text_;
  std::vector<ConfigError>& errors_;
  std::vector<std::size_t> line_starts_;
};

}  // namespace aw
