#include "src/config/toml_reader.h"

#include <gtest/gtest.h>

namespace aw {
namespace {

using namespace std::chrono_literals;

struct Doc {
  std::vector<ConfigError> errors;
  std::string text;
  TomlReader reader;
  toml::table root;
  explicit Doc(std::string t) : text(std::move(t)), reader("f.toml", text, errors) {
    auto parsed = reader.parse();
    if (parsed) root = std::move(*parsed);
  }
  std::string messages() const { return config_errors_text(errors); }
};

TEST(TomlReader, SyntaxErrorHasFileLineAndColumn) {
  Doc d("a = 1\n[b\n");
  ASSERT_EQ(d.errors.size(), 1u);
  EXPECT_EQ(d.errors[0].to_string().rfind("f.toml:2:", 0), 0u) << d.messages();
}

// Found by tests/fuzz/fuzz_config: toml++ quoted the newline it saw, and a
// message quoted a name or key holding one, so one error took two lines.
TEST(TomlReader, AnErrorIsOneLine) {
  Doc d("a = [1.0, i\n]\n");
  ASSERT_EQ(d.errors.size(), 1u);
  EXPECT_EQ(d.messages().find('\n'), std::string::npos) << d.messages();
  EXPECT_EQ(d.messages().rfind("f.toml:1:", 0), 0u) << d.messages();

  Doc k("\"a\\nb\" = 1\n");
  EXPECT_FALSE(k.reader.check_keys(k.root, {"name"}, "in [[worker]]"));
  EXPECT_EQ(k.messages(), "f.toml:1:1: error: unknown key 'a\\nb' in [[worker]]") << k.messages();
  EXPECT_EQ((ConfigError{"f\t.toml", 0, 0, "x\x1b[31m"}).to_string(),
            "f\\x09.toml: error: x\\x1b[31m");
}

TEST(TomlReader, UnknownKeyAtTheKeyWithSuggestion) {
  Doc d("name = \"x\"\nrecursve = true\n");
  EXPECT_FALSE(d.reader.check_keys(d.root, {"name", "recursive"}, "in [[watch]]"));
  EXPECT_EQ(d.messages(),
            "f.toml:2:1: error: unknown key 'recursve' in [[watch]]; did you mean 'recursive'?");
}

TEST(TomlReader, WrongTypeSaysWhatWasExpectedAndWhatWasFound) {
  Doc d("grace = 5\n");
  EXPECT_FALSE(d.reader.get_duration(*d.root.get("grace"), "grace", false));
  EXPECT_EQ(d.messages(),
            "f.toml:1:9: error: 'grace' expects a duration string like \"30s\", not an integer");
}

TEST(TomlReader, TypedGetters) {
  Doc d(
      "s = \"x\"\nb = true\ni = 7\nd = \"1m30s\"\nz = \"10MB\"\nc = \"two\"\n"
      "a = [\"p\", \"q\"]\nt = { k = 1 }\n");
  EXPECT_EQ(d.reader.get_string(*d.root.get("s"), "s"), "x");
  EXPECT_EQ(d.reader.get_bool(*d.root.get("b"), "b"), true);
  EXPECT_EQ(d.reader.get_int(*d.root.get("i"), "i", 0, 10, "a number"), 7);
  EXPECT_EQ(d.reader.get_duration(*d.root.get("d"), "d", true), Duration(90s));
  EXPECT_EQ(d.reader.get_byte_size(*d.root.get("z"), "z"), 10u << 20);
  EXPECT_EQ(d.reader.get_choice(*d.root.get("c"), "c", {"one", "two"}), 1u);
  EXPECT_EQ(d.reader.get_string_array(*d.root.get("a"), "a", "strings"),
            (std::vector<std::string>{"p", "q"}));
  EXPECT_NE(d.reader.get_table(*d.root.get("t"), "t", "a table"), nullptr);
  EXPECT_TRUE(d.errors.empty()) << d.messages();
}

TEST(TomlReader, RangeAndChoiceErrors) {
  Doc d("i = 70\nc = \"tow\"\n");
  EXPECT_FALSE(d.reader.get_int(*d.root.get("i"), "i", 0, 10, "a number"));
  EXPECT_FALSE(d.reader.get_choice(*d.root.get("c"), "c", {"one", "two"}));
  EXPECT_EQ(d.messages(),
            "f.toml:1:5: error: 'i' must be between 0 and 10\n"
            "f.toml:2:5: error: 'c': unknown value \"tow\"; did you mean 'two'? (expected one or "
            "two)");
}

TEST(TomlReader, PositionInsideAString) {
  Doc d("re = \"a\\tb{x\"\n");
  // decoded "a\tb{x": byte 3 is the brace, at column 11 of the source (the escape takes 2).
  ConfigPos p = d.reader.pos_in_string(*d.root.get("re"), 3);
  EXPECT_EQ(p.line, 1u);
  EXPECT_EQ(p.column, 11u);
}

TEST(TomlReader, ErrorWithoutLineNamesOnlyTheFile) {
  ConfigError e{"f.toml", 0, 0, "cannot read"};
  EXPECT_EQ(e.to_string(), "f.toml: error: cannot read");
}

}  // namespace
}  // namespace aw
