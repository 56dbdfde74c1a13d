// The one TOML reader (src/config/toml_reader.h): parse, then every typed
// getter on every value of the document, and pos_in_string() at every offset
// of every string (it maps a decoded offset back to the source, through
// escapes and multi-byte characters).
//
// Holds beyond "no crash":
//   - parse() fails exactly when it reports one error, on a line of the text;
//   - every position the getters report names a line of the text and a column
//     at most one past that line's end; pos_in_string() stays on the string's
//     line and never goes backwards as the offset grows;
//   - a getter that returns a value adds no error; one that returns nothing
//     adds exactly one (get_string_array: at least one).
#include <string>
#include <vector>

#include "src/config/toml_reader.h"
#include "tests/fuzz/fuzz_support.h"

using namespace aw;

namespace {

struct Walk {
  TomlReader& reader;
  std::string_view text;
  std::vector<std::size_t> line_len;  // bytes, without '\n'
  int budget = 2000;                  // values visited, so a huge array stays cheap

  void check_pos(ConfigPos p) const {
    if (p.line == 0) return;  // a node without a source position
    FUZZ_CHECK(p.line <= line_len.size());
    FUZZ_CHECK(p.column >= 1 && p.column <= line_len[p.line - 1] + 1);
  }

  void check_new_errors(std::size_t before, bool got_value, bool at_least_one = false) {
    const std::size_t added = reader.error_count() - before;
    if (got_value) {
      FUZZ_CHECK(added == 0);
    } else if (at_least_one) {
      FUZZ_CHECK(added >= 1);
    } else {
      FUZZ_CHECK(added == 1);
    }
    for (std::size_t i = before; i < reader.error_count(); ++i) {
      const ConfigError& e = reader.errors()[i];
      check_pos({e.line, e.column});
    }
  }

  void value(const toml::node& v) {
    if (--budget < 0) return;
    check_pos(TomlReader::pos(v));
    std::size_t n = reader.error_count();
    check_new_errors(n, reader.get_string(v, "k").has_value());
    n = reader.error_count();
    check_new_errors(n, reader.get_bool(v, "k").has_value());
    n = reader.error_count();
    check_new_errors(n, reader.get_number(v, "k").has_value());
    n = reader.error_count();
    check_new_errors(n, reader.get_int(v, "k", -5, 1000, "an integer").has_value());
    n = reader.error_count();
    check_new_errors(n, reader.get_duration(v, "k", true).has_value());
    n = reader.error_count();
    check_new_errors(n, reader.get_byte_size(v, "k").has_value());
    n = reader.error_count();
    check_new_errors(n, reader.get_choice(v, "k", {"always", "never", "on-failure"}).has_value());
    n = reader.error_count();
    check_new_errors(n, reader.get_string_array(v, "k", "strings", true).has_value(), true);
    n = reader.error_count();
    check_new_errors(n, reader.get_table(v, "k", "a table") != nullptr);
    n = reader.error_count();
    check_new_errors(n, reader.get_array(v, "k", "an array") != nullptr);
    n = reader.error_count();
    check_new_errors(n, reader.get_array_of_tables(v, "k", "tables") != nullptr);

    if (const auto* s = v.as_string()) {
      const ConfigPos start = TomlReader::pos(v);
      ConfigPos last = start;
      for (std::size_t off = 0; off <= s->get().size() && off < 300; ++off) {
        const ConfigPos p = reader.pos_in_string(v, off);
        check_pos(p);
        FUZZ_CHECK(p.line == start.line);
        FUZZ_CHECK(p.column >= last.column);
        last = p;
      }
    } else if (const auto* t = v.as_table()) {
      table(*t);
    } else if (const auto* a = v.as_array()) {
      for (const toml::node& item : *a) value(item);
    }
  }

  void table(const toml::table& t) {
    std::size_t n = reader.error_count();
    const bool all_known = reader.check_keys(t, {"name", "on", "when", "every"}, "in a table");
    FUZZ_CHECK(all_known == (reader.error_count() == n));
    for (auto&& [k, v] : t) {
      check_pos(TomlReader::pos(k));
      value(v);
    }
  }
};

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view text = fuzz::as_text(data, size);
  std::vector<ConfigError> errors;
  TomlReader reader("f.toml", text, errors);
  Walk walk{reader, text, {}};
  for (std::size_t start = 0;;) {
    const std::size_t nl = text.find('\n', start);
    walk.line_len.push_back((nl == std::string_view::npos ? text.size() : nl) - start);
    if (nl == std::string_view::npos) break;
    start = nl + 1;
  }
  auto doc = reader.parse();
  if (!doc) {
    FUZZ_CHECK(errors.size() == 1);
    // toml++ may place an error at the end of the file one column past the
    // last line's end and its newline ("f:36:73" for a 71-byte line 36): only
    // the line is checked.
    FUZZ_CHECK(errors[0].line >= 1 && errors[0].line <= walk.line_len.size());
    return 0;
  }
  FUZZ_CHECK(errors.empty());
  walk.table(*doc);
  return 0;
}
