#include "src/config/toml_reader.h"

#include <cstdlib>

#include "src/core/byte_size.h"
#include "src/core/duration.h"
#include "src/core/json_writer.h"
#include "src/core/suggest.h"

namespace aw {

std::string ConfigError::to_string() const {
  const std::string text = line == 0 ? file + ": error: " + message
                                     : file + ":" + std::to_string(line) + ":" +
                                           std::to_string(column) + ": error: " + message;
  // A message may quote what the file holds (a name, a key, the character
  // toml++ saw), newlines included: escaped, so that an error is one line.
  std::string out;
  for (const char c : text) {
    const auto u = static_cast<unsigned char>(c);
    if (c == '\n') {
      out += "\\n";
    } else if (u < 0x20 || u == 0x7F) {
      static constexpr char kHex[] = "0123456789abcdef";
      out += "\\x";
      out += kHex[u >> 4];
      out += kHex[u & 15];
    } else {
      out += c;
    }
  }
  return out;
}

std::string config_errors_text(const std::vector<ConfigError>& errors) {
  std::string out;
  for (const ConfigError& e : errors) {
    if (!out.empty()) out += '\n';
    out += e.to_string();
  }
  return out;
}

std::string join_keys(const KeyList& keys, std::string_view last_sep) {
  std::string s;
  for (std::size_t i = 0; i < keys.size(); ++i) {
    if (i > 0) s += i + 1 == keys.size() ? last_sep : ", ";
    s += keys[i];
  }
  return s;
}

std::string quoted(std::string_view s) {
  std::string out;
  append_json_string(out, s);
  return out;
}

std::string_view toml_type_name(const toml::node& n) {
  switch (n.type()) {
    case toml::node_type::string:
      return "a string";
    case toml::node_type::integer:
      return "an integer";
    case toml::node_type::floating_point:
      return "a float";
    case toml::node_type::boolean:
      return "a boolean";
    case toml::node_type::table:
      return "a table";
    case toml::node_type::array:
      return "an array";
    case toml::node_type::date:
      return "a date";
    case toml::node_type::time:
      return "a time";
    case toml::node_type::date_time:
      return "a date-time";
    default:
      return "nothing";
  }
}

TomlReader::TomlReader(std::string file, std::string_view text, std::vector<ConfigError>& errors)
    : file_(std::move(file)), text_(text), errors_(errors) {
  line_starts_.push_back(0);
  for (std::size_t i = 0; i < text_.size(); ++i)
    if (text_[i] == '\n') line_starts_.push_back(i + 1);
}

std::optional<toml::table> TomlReader::parse() {
  try {
    return toml::parse(text_, file_);
  } catch (const toml::parse_error& e) {
    error(pos(e.source()), std::string(e.description()));
    return std::nullopt;
  }
}

ConfigPos TomlReader::pos_in_string(const toml::node& v, std::size_t offset) const {
  ConfigPos p = pos(v);
  std::string_view t = text_;
  if (p.line == 0 || p.line > line_starts_.size()) return p;
  std::size_t i = line_starts_[p.line - 1];
  auto step = [&](std::size_t& j) {  // one code point forward
    ++j;
    while (j < t.size() && (static_cast<unsigned char>(t[j]) & 0xC0) == 0x80) ++j;
  };
  for (std::uint32_t c = 1; c < p.column && i < t.size() && t[i] != '\n'; ++c) step(i);
  if (i >= t.size() || (t[i] != '"' && t[i] != '\'')) return p;
  const char quote = t[i];
  if (t.substr(i, 3) == std::string(3, quote)) return p;  // multi-line string
  std::size_t j = i + 1;
  std::size_t decoded = 0;
  while (decoded < offset && j < t.size() && t[j] != quote && t[j] != '\n') {
    if (quote == '"' && t[j] == '\\' && j + 1 < t.size()) {
      char e = t[j + 1];
      std::size_t raw = e == 'u' ? 6 : e == 'U' ? 10 : 2;
      std::size_t len = 1;
      if (e == 'u' || e == 'U') {
        std::string hex(t.substr(j + 2, raw - 2));
        unsigned long cp = std::strtoul(hex.c_str(), nullptr, 16);
        len = cp < 0x80 ? 1 : cp < 0x800 ? 2 : cp < 0x10000 ? 3 : 4;
      }
      decoded += len;
      j += raw;
    } else {
      ++decoded;
      ++j;
    }
  }
  std::uint32_t column = p.column + 1;
  for (std::size_t k = i + 1; k < j && k < t.size(); step(k)) ++column;
  return ConfigPos{p.line, column};
}

void TomlReader::error(ConfigPos p, std::string message) {
  errors_.push_back(ConfigError{file_, p.line, p.column, std::move(message)});
}

void TomlReader::unknown_key(const toml::key& k, std::string_view where, const KeyList& known,
                             std::string_view hint) {
  error(k, "unknown key '" + std::string(k.str()) + "' " + std::string(where) +
               did_you_mean(k.str(), known) + std::string(hint));
}

bool TomlReader::check_keys(const toml::table& t, const KeyList& known, std::string_view where,
                            std::string_view hint) {
  bool ok = true;
  for (auto&& [k, v] : t) {
    bool found = false;
    for (std::string_view name : known) found = found || name == k.str();
    if (found) continue;
    unknown_key(k, where, known, hint);
    ok = false;
  }
  return ok;
}

void TomlReader::wrong_type(const toml::node& v, std::string_view key, std::string_view expected) {
  error(v, "'" + std::string(key) + "' expects " + std::string(expected) + ", not " +
               std::string(toml_type_name(v)));
}

std::optional<std::string> TomlReader::get_string(const toml::node& v, std::string_view key,
                                                  std::string_view expected) {
  if (const auto* s = v.as_string()) return s->get();
  wrong_type(v, key, expected);
  return std::nullopt;
}

std::optional<bool> TomlReader::get_bool(const toml::node& v, std::string_view key) {
  if (const auto* b = v.as_boolean()) return b->get();
  wrong_type(v, key, "true or false");
  return std::nullopt;
}

std::optional<double> TomlReader::get_number(const toml::node& v, std::string_view key) {
  if (const auto* i = v.as_integer()) return static_cast<double>(i->get());
  if (const auto* f = v.as_floating_point()) return f->get();
  wrong_type(v, key, "a number");
  return std::nullopt;
}

std::optional<std::int64_t> TomlReader::get_int(const toml::node& v, std::string_view key,
                                                std::int64_t min, std::int64_t max,
                                                std::string_view expected) {
  const auto* i = v.as_integer();
  if (!i) {
    wrong_type(v, key, expected);
    return std::nullopt;
  }
  if (i->get() < min || i->get() > max) {
    error(v, "'" + std::string(key) + "' must be between " + std::to_string(min) + " and " +
                 std::to_string(max));
    return std::nullopt;
  }
  return i->get();
}

std::optional<Duration> TomlReader::get_duration(const toml::node& v, std::string_view key,
                                                 bool positive) {
  const auto* s = v.as_string();
  if (!s) {
    wrong_type(v, key, "a duration string like \"30s\"");
    return std::nullopt;
  }
  Result<Duration> d = parse_duration(s->get());
  if (!d.ok()) {
    error(v, "'" + std::string(key) + "': " + d.error().message);
    return std::nullopt;
  }
  if (positive && *d <= Duration::zero()) {
    error(v, "'" + std::string(key) + "' must be longer than 0");
    return std::nullopt;
  }
  return *d;
}

std::optional<std::uint64_t> TomlReader::get_byte_size(const toml::node& v, std::string_view key) {
  if (const auto* i = v.as_integer()) {
    if (i->get() >= 0) return static_cast<std::uint64_t>(i->get());
    error(v, "'" + std::string(key) + "' must not be negative");
    return std::nullopt;
  }
  const auto* s = v.as_string();
  if (!s) {
    wrong_type(v, key, "a size like \"10MB\" or a number of bytes");
    return std::nullopt;
  }
  Result<std::uint64_t> n = parse_byte_size(s->get());
  if (!n.ok()) {
    error(v, "'" + std::string(key) + "': " + n.error().message);
    return std::nullopt;
  }
  return *n;
}

std::optional<std::size_t> TomlReader::get_choice(const toml::node& v, std::string_view key,
                                                  const KeyList& choices) {
  auto s = get_string(v, key);
  if (!s) return std::nullopt;
  for (std::size_t i = 0; i < choices.size(); ++i)
    if (*s == choices[i]) return i;
  error(v, "'" + std::string(key) + "': unknown value " + quoted(*s) + did_you_mean(*s, choices) +
               " (expected " + join_keys(choices) + ")");
  return std::nullopt;
}

std::optional<std::vector<std::string>> TomlReader::get_string_array(const toml::node& v,
                                                                     std::string_view key,
                                                                     std::string_view expected,
                                                                     bool non_empty) {
  const auto* arr = v.as_array();
  if (!arr) {
    wrong_type(v, key, expected);
    return std::nullopt;
  }
  std::vector<std::string> out;
  bool ok = true;
  for (const toml::node& item : *arr) {
    const auto* s = item.as_string();
    if (!s) {
      error(item, "'" + std::string(key) + "' expects only strings in the array, not " +
                      std::string(toml_type_name(item)));
      ok = false;
      continue;
    }
    if (non_empty && s->get().empty()) {
      error(item, "'" + std::string(key) + "' expects non-empty strings");
      ok = false;
    }
    out.push_back(s->get());
  }
  if (!ok) return std::nullopt;
  return out;
}

const toml::table* TomlReader::get_table(const toml::node& v, std::string_view key,
                                         std::string_view expected) {
  if (const auto* t = v.as_table()) return t;
  wrong_type(v, key, expected);
  return nullptr;
}

const toml::array* TomlReader::get_array(const toml::node& v, std::string_view key,
                                         std::string_view expected) {
  if (const auto* a = v.as_array()) return a;
  wrong_type(v, key, expected);
  return nullptr;
}

const toml::array* TomlReader::get_array_of_tables(const toml::node& v, std::string_view key,
                                                   std::string_view expected) {
  const auto* a = v.as_array();
  if (a && (a->empty() || a->is_array_of_tables())) return a;
  wrong_type(v, key, expected);
  return nullptr;
}

}  // namespace aw
