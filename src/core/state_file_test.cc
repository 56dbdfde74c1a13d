// The state-file codec: one named test per corruption case. (Its durable
// write is src/os/files_test.cc.)
#include "src/core/state_file.h"

#include <gtest/gtest.h>
#include <zlib.h>

#include <cstdio>
#include <cstdlib>

namespace aw {
namespace {

std::string two_records() {
  return state_file_header("test") + state_record({"a", "1"}) + state_record({"b\tc\n%", ""});
}

StateFileContents parse_ok(std::string_view text) {
  auto r = parse_state_file(text, "/s/f", "test");
  EXPECT_TRUE(r.ok()) << r.error().message;
  return r.ok() ? *r : StateFileContents{};
}

TEST(StateFile, RoundTripsFieldsWithAnyBytes) {
  const std::string text = two_records();
  EXPECT_EQ(text.substr(0, text.find('\n')), "agentwatch-state 2 test");
  EXPECT_EQ(std::count(text.begin(), text.end(), '\n'), 3) << "one line per record";
  StateFileContents c = parse_ok(text);
  ASSERT_EQ(c.records.size(), 2u);
  EXPECT_EQ(c.records[0].line, 2u);
  EXPECT_EQ(c.records[0].fields, (std::vector<std::string>{"a", "1"}));
  EXPECT_EQ(c.records[1].line, 3u);
  EXPECT_EQ(c.records[1].fields, (std::vector<std::string>{"b\tc\n%", ""}));
  EXPECT_TRUE(c.problems.empty());
  EXPECT_FALSE(c.torn_tail);
  EXPECT_EQ(c.whole_bytes, text.size());
}

TEST(StateFile, AppendedRecordIsTheSameRecord) {
  std::string out = "x";
  append_state_record(out, {"b\tc\n%", "", "plain"});
  EXPECT_EQ(out, "x" + state_record({"b\tc\n%", "", "plain"}));
  StateFileContents c = parse_ok(state_file_header("test") + out.substr(1));
  ASSERT_EQ(c.records.size(), 1u);
  EXPECT_EQ(c.records[0].fields, (std::vector<std::string>{"b\tc\n%", "", "plain"}));
}

TEST(StateFile, ASpanOfFieldsMakesTheSameRecord) {
  const std::vector<std::string_view> fields{"open", "7", "{\"a\":\"\\t%\"}"};
  std::string out;
  append_state_record(out, std::span<const std::string_view>(fields));
  EXPECT_EQ(out, state_record({"open", "7", "{\"a\":\"\\t%\"}"}));
}

TEST(StateFile, JustTheHeaderIsAnEmptyFile) {
  StateFileContents c = parse_ok(state_file_header("test"));
  EXPECT_TRUE(c.records.empty());
  EXPECT_TRUE(c.problems.empty());
}

TEST(StateFile, AnotherKindsHeaderIsRefused) {
  auto r = parse_state_file(state_file_header("other"), "/s/f", "test");
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().message,
            "/s/f:1: expected the header 'agentwatch-state 2 test', found "
            "'agentwatch-state 2 other'");
}

TEST(StateFile, AnEmptyFileIsRefused) {
  auto r = parse_state_file("", "/s/f", "test");
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().message,
            "/s/f:1: expected the header 'agentwatch-state 2 test', found an empty file");
}

TEST(StateFile, ATornHeaderIsRefused) {
  auto r = parse_state_file("agentwatch-state 2 te", "/s/f", "test");
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.error().message.find("without a newline"), std::string::npos) << r.error().message;
}

TEST(StateFile, ATornLastLineIsIgnoredAndNamed) {
  const std::string whole = state_file_header("test") + state_record({"a"});
  std::string rec = state_record({"b"});
  rec.pop_back();
  StateFileContents c = parse_ok(whole + rec);
  ASSERT_EQ(c.records.size(), 1u);
  EXPECT_TRUE(c.torn_tail);
  EXPECT_EQ(c.whole_bytes, whole.size()) << "where an appender cuts";
  ASSERT_EQ(c.problems.size(), 1u);
  EXPECT_EQ(c.problems[0].substr(0, 9), "/s/f:3: t");
}

TEST(StateFile, AChecksumMismatchSkipsJustThatLine) {
  std::string bad = state_record({"b", "2"});
  bad[bad.size() - 2] = '3';  // one byte flipped after the checksum was taken
  StateFileContents c =
      parse_ok(state_file_header("test") + state_record({"a"}) + bad + state_record({"c"}));
  ASSERT_EQ(c.records.size(), 2u);
  EXPECT_EQ(c.records[1].fields[0], "c");
  ASSERT_EQ(c.problems.size(), 1u);
  EXPECT_EQ(c.problems[0], "/s/f:3: the checksum does not match the record (a damaged line)");
}

TEST(StateFile, ALineWithoutAChecksumIsSkipped) {
  StateFileContents c = parse_ok(state_file_header("test") + "a\t1\n" + state_record({"x"}));
  ASSERT_EQ(c.records.size(), 1u);
  ASSERT_EQ(c.problems.size(), 1u);
  EXPECT_EQ(c.problems[0], "/s/f:2: expected a checksum (8 hex digits) and a TAB");
}

TEST(StateFile, ABadEscapeIsSkipped) {
  // A line whose checksum is right but whose field is not validly escaped: a
  // foreign writer (ours escapes every '%').
  const std::string body = "bad%zz";
  const uLong crc = crc32(crc32(0L, Z_NULL, 0), reinterpret_cast<const Bytef*>(body.data()),
                          static_cast<uInt>(body.size()));
  char hex[9];
  std::snprintf(hex, sizeof hex, "%08lx", static_cast<unsigned long>(crc));
  StateFileContents c = parse_ok(state_file_header("test") + hex + "\t" + body + "\n");
  EXPECT_TRUE(c.records.empty());
  ASSERT_EQ(c.problems.size(), 1u);
  EXPECT_EQ(c.problems[0], "/s/f:2: a field with a bad %-escape (expected %XX)");
  EXPECT_NE(state_record({body}).find("%25zz"), std::string::npos);
}

}  // namespace
}  // namespace aw
