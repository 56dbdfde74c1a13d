#include "src/json/json_repair.h"

#include <gtest/gtest.h>
#include <simdjson.h>

#include <ostream>
#include <string>
#include <vector>

namespace aw {

void PrintTo(const JsonChange& c, std::ostream* os) {
  *os << "{" << c.offset << ", \"" << c.what << "\"}";
}

namespace {

using Changes = std::vector<JsonChange>;

// The repair of `text`, which must exist, be valid JSON and list its changes
// in offset order within the text.
JsonRepair repaired(std::string_view text) {
  std::variant<JsonRepair, JsonUnrepairable> r = repair_json(text);
  if (const auto* no = std::get_if<JsonUnrepairable>(&r)) {
    ADD_FAILURE() << "unrepairable: " << no->why << "\n  text: " << text;
    return {};
  }
  JsonRepair& fix = std::get<JsonRepair>(r);
  EXPECT_EQ(check_json(fix.text), std::nullopt) << fix.text;
  EXPECT_FALSE(fix.changes.empty());
  for (std::size_t k = 0; k < fix.changes.size(); ++k) {
    EXPECT_LE(fix.changes[k].offset, text.size());
    if (k > 0) {
      EXPECT_LE(fix.changes[k - 1].offset, fix.changes[k].offset);
    }
  }
  return std::move(fix);
}

JsonUnrepairable unrepairable(std::string_view text) {
  std::variant<JsonRepair, JsonUnrepairable> r = repair_json(text);
  if (const auto* fix = std::get_if<JsonRepair>(&r)) {
    ADD_FAILURE() << "repaired into: " << fix->text;
    return {};
  }
  return std::get<JsonUnrepairable>(std::move(r));
}

void expect_repair(std::string_view text, std::string_view want, const Changes& changes) {
  const JsonRepair fix = repaired(text);
  EXPECT_EQ(fix.text, want) << "text: " << text;
  EXPECT_EQ(fix.changes, changes) << "text: " << text;
}

void expect_unrepairable(std::string_view text, const JsonError& error, std::string_view why) {
  const JsonUnrepairable no = unrepairable(text);
  EXPECT_EQ(no.error.offset, error.offset) << text;
  EXPECT_EQ(no.error.message, error.message) << text;
  EXPECT_EQ(no.why, why) << text;
}

// --- truncation ---

TEST(RepairJson, ClosesAStringValueCutShort) {
  expect_repair(R"({"a": "hel)", R"({"a": "hel"})",
                {{10, "closed an unterminated string"}, {10, "closed 1 open object"}});
  expect_repair(R"(["x", "y)", R"(["x", "y"])",
                {{8, "closed an unterminated string"}, {8, "closed 1 open array"}});
}

TEST(RepairJson, DropsAMemberCutInsideItsKey) {
  expect_repair(R"({"a": 1, "na)", R"({"a": 1})",
                {{9, "cut the incomplete key 'na'"}, {12, "closed 1 open object"}});
  expect_repair(R"({")", "{}", {{1, "cut the incomplete key ''"}, {2, "closed 1 open object"}});
}

TEST(RepairJson, DropsAKeyWithoutValue) {
  expect_repair(R"({"a": 1, "name")", R"({"a": 1})",
                {{9, "dropped the key 'name', which had no value"}, {15, "closed 1 open object"}});
}

TEST(RepairJson, DropsAKeyAndItsColon) {
  expect_repair(R"({"a": 1, "name": )", R"({"a": 1})",
                {{9, "dropped the key 'name', which had no value"}, {17, "closed 1 open object"}});
}

TEST(RepairJson, DropsADanglingComma) {
  expect_repair("[1, 2, ", "[1, 2]", {{5, "removed a dangling ','"}, {7, "closed 1 open array"}});
  expect_repair(R"({"a": 1,)", R"({"a": 1})",
                {{7, "removed a dangling ','"}, {8, "closed 1 open object"}});
}

TEST(RepairJson, CutsAPartialLiteral) {
  expect_repair("[1, tr", "[1]", {{4, "cut an incomplete value 'tr'"}, {6, "closed 1 open array"}});
  expect_repair(
      R"({"ok": tru)", "{}",
      {{1, "cut the member 'ok', whose value 'tru' is incomplete"}, {10, "closed 1 open object"}});
  expect_repair("[null, nul", "[null]",
                {{7, "cut an incomplete value 'nul'"}, {10, "closed 1 open array"}});
}

TEST(RepairJson, CutsANumberThatIsNotYetANumber) {
  expect_repair("[1, -", "[1]", {{4, "cut an incomplete value '-'"}, {5, "closed 1 open array"}});
  expect_repair("[1.5, 2.", "[1.5]",
                {{6, "cut an incomplete value '2.'"}, {8, "closed 1 open array"}});
  expect_repair(
      R"({"n": 1e+)", "{}",
      {{1, "cut the member 'n', whose value '1e+' is incomplete"}, {9, "closed 1 open object"}});
  expect_repair("[2E", "[]", {{1, "cut an incomplete value '2E'"}, {3, "closed 1 open array"}});
}

TEST(RepairJson, KeepsANumberCompleteAtTheCut) {
  expect_repair(R"({"n": 12)", R"({"n": 12})", {{8, "closed 1 open object"}});
  expect_repair("[0.5e-3", "[0.5e-3]", {{7, "closed 1 open array"}});
}

TEST(RepairJson, CutsANumberSimdjsonRefusesAtTheCut) {
  // The prefix of 100000000000000000000000.5, an integer past 64 bits.
  expect_repair(
      "[1, 100000000000000000000000", "[1]",
      {{4, "cut an incomplete value '100000000000000000000000'"}, {28, "closed 1 open array"}});
}

TEST(RepairJson, ClosesThreeOpenContainers) {
  expect_repair(R"({"a": [{"b": 1)", R"({"a": [{"b": 1}]})",
                {{14, "closed 3 open objects/arrays"}});
  expect_repair("[[[", "[[[]]]", {{3, "closed 3 open arrays"}});
  expect_repair(R"({"a": {)", R"({"a": {}})", {{7, "closed 2 open objects"}});
}

TEST(RepairJson, DropsAPartialEscapeOrUtf8SequenceBeforeClosing) {
  expect_repair(R"(["ab\)", R"(["ab"])",
                {{4, "cut an incomplete escape sequence"},
                 {5, "closed an unterminated string"},
                 {5, "closed 1 open array"}});
  expect_repair(R"(["\u00)", R"([""])",
                {{2, "cut an incomplete escape sequence"},
                 {6, "closed an unterminated string"},
                 {6, "closed 1 open array"}});
  // A high surrogate alone is invalid: it goes with its partial partner.
  expect_repair(R"(["x\ud83d)", R"(["x"])",
                {{3, "cut an incomplete escape sequence"},
                 {9, "closed an unterminated string"},
                 {9, "closed 1 open array"}});
  expect_repair(R"(["x\ud83d\ude)", R"(["x"])",
                {{3, "cut an incomplete escape sequence"},
                 {13, "closed an unterminated string"},
                 {13, "closed 1 open array"}});
  expect_repair(R"(["x\ud83d\ude00)", R"(["x\ud83d\ude00"])",
                {{15, "closed an unterminated string"}, {15, "closed 1 open array"}});
  expect_repair("[\"caf\xC3", R"(["caf"])",
                {{5, "cut an incomplete UTF-8 sequence"},
                 {6, "closed an unterminated string"},
                 {6, "closed 1 open array"}});
  expect_repair("[\"\xF0\x9F\x98", R"([""])",
                {{2, "cut an incomplete UTF-8 sequence"},
                 {5, "closed an unterminated string"},
                 {5, "closed 1 open array"}});
}

TEST(RepairJson, ClosesATopLevelStringCutShort) {
  expect_repair(R"("abc)", R"("abc")", {{4, "closed an unterminated string"}});
  expect_repair(R"(")", R"("")", {{1, "closed an unterminated string"}});
}

// --- unquoted keys, trailing commas ---

TEST(RepairJson, QuotesUnquotedKeys) {
  expect_repair(R"({name: "x", _id2: 3, $ref-x: true})",
                R"({"name": "x", "_id2": 3, "$ref-x": true})",
                {{1, "quoted the key 'name'"},
                 {12, "quoted the key '_id2'"},
                 {21, "quoted the key '$ref-x'"}});
  expect_repair("{ true :{null:1}}", R"({ "true" :{"null":1}})",
                {{2, "quoted the key 'true'"}, {9, "quoted the key 'null'"}});
}

TEST(RepairJson, RemovesTrailingCommaInArray) {
  expect_repair("[1, 2,]", "[1, 2]", {{5, "removed a trailing comma"}});
  expect_repair("[[],\n]", "[[]\n]", {{3, "removed a trailing comma"}});
}

TEST(RepairJson, RemovesTrailingCommaInObject) {
  expect_repair(R"({"a": 1,})", R"({"a": 1})", {{7, "removed a trailing comma"}});
  expect_repair("{\"a\": [1,\n],\n}", "{\"a\": [1\n]\n}",
                {{8, "removed a trailing comma"}, {11, "removed a trailing comma"}});
}

// --- combinations ---

TEST(RepairJson, QuotesKeysAndClosesATruncatedValue) {
  expect_repair(R"({agent: "a1", status: "do)", R"({"agent": "a1", "status": "do"})",
                {{1, "quoted the key 'agent'"},
                 {14, "quoted the key 'status'"},
                 {25, "closed an unterminated string"},
                 {25, "closed 1 open object"}});
}

TEST(RepairJson, ForgetsTheQuotingOfAKeyItCuts) {
  expect_repair(
      "{a: 1, bc", R"({"a": 1})",
      {{1, "quoted the key 'a'"}, {7, "cut the incomplete key 'bc'"}, {9, "closed 1 open object"}});
  expect_repair("{a: 1, b:", R"({"a": 1})",
                {{1, "quoted the key 'a'"},
                 {7, "dropped the key 'b', which had no value"},
                 {9, "closed 1 open object"}});
}

TEST(RepairJson, RemovesTrailingCommasAndCompletesTheRest) {
  expect_repair("[[1,], [2,", "[[1], [2]]",
                {{3, "removed a trailing comma"},
                 {9, "removed a dangling ','"},
                 {10, "closed 2 open arrays"}});
}

TEST(RepairJson, CompletesARealisticAgentResult) {
  const std::string text =
      R"({"agent": "a1", "status": "done", "summary": "Refactored the parser; all tests pa)";
  expect_repair(
      text, text + "\"}",
      {{text.size(), "closed an unterminated string"}, {text.size(), "closed 1 open object"}});

  const std::string pretty = "{\n  \"agent\": \"a1\",\n  \"files\": [\"src/a.cc\", \"src/b.";
  expect_repair(pretty, pretty + "\"]}",
                {{pretty.size(), "closed an unterminated string"},
                 {pretty.size(), "closed 2 open objects/arrays"}});

  const std::string between = "{\n  \"agent\": \"a1\",\n  \"status\": \"done\",\n  ";
  expect_repair(between, "{\n  \"agent\": \"a1\",\n  \"status\": \"done\"}",
                {{between.find("\"done\",") + 6, "removed a dangling ','"},
                 {between.size(), "closed 1 open object"}});
}

TEST(RepairJson, KeepsTheWhitespaceItDoesNotCut) {
  expect_repair("\n  [ 1 ,\n  2 ", "\n  [ 1 ,\n  2 ]", {{13, "closed 1 open array"}});
  expect_repair("\t{ \"a\" : [ ] , } ", "\t{ \"a\" : [ ]  } ", {{13, "removed a trailing comma"}});
}

TEST(RepairJson, QuotesAtMost32BytesOfAKey) {
  const std::string key(40, 'k');
  const JsonRepair fix = repaired("{" + key + ": 1}");
  ASSERT_EQ(fix.changes.size(), 1U);
  EXPECT_EQ(fix.changes[0].what, "quoted the key '" + std::string(32, 'k') + "...'");
}

// --- unrepairable ---

TEST(RepairJson, RefusesEmptyAndWhitespace) {
  expect_unrepairable("", {0, "empty input"}, "empty file");
  expect_unrepairable(" \n\t ", {4, "no JSON value, only whitespace"}, "only whitespace");
}

TEST(RepairJson, RefusesWhatIsNotJson) {
  expect_unrepairable("garbage", {0, "expected a value, found 'g'"}, "not JSON: starts with 'g'");
  expect_unrepairable("Garbage", {0, "expected a value, found 'G'"}, "not JSON: starts with 'G'");
  expect_unrepairable("<html><body>502 Bad Gateway</body></html>",
                      {0, "expected a value, found '<'"}, "not JSON: starts with '<'");
  expect_unrepairable("\xEF\xBB\xBF{\"a\": 1}", {0, "expected a value, found byte 0xEF"},
                      "not JSON: starts with a UTF-8 byte-order mark");
}

TEST(RepairJson, RefusesInvalidUtf8InAString) {
  expect_unrepairable("{\"a\": \"\xFF\"}", {7, "invalid UTF-8 in a string"},
                      "invalid UTF-8 in a string at byte 7");
}

TEST(RepairJson, RefusesNestingDeeperThan1024) {
  expect_unrepairable(std::string(2000, '['), {1024, "nested deeper than 1024"},
                      "nested deeper than 1024 at byte 1024");
  // 1024 levels are fine, and closed.
  const JsonRepair fix = repaired(std::string(1024, '['));
  EXPECT_EQ(fix.text, std::string(1024, '[') + std::string(1024, ']'));
}

TEST(RepairJson, RefusesOtherGrammarErrors) {
  expect_unrepairable("{\"a\":\x01}", {5, "expected a value, found byte 0x01"},
                      "expected a value, found byte 0x01 at byte 5");
  expect_unrepairable(R"({"a":1} x)", {8, "unexpected 'x' after the top-level value"},
                      "unexpected 'x' after the top-level value at byte 8");
  expect_unrepairable("[1,,2]", {3, "expected a value, found ','"},
                      "expected a value, found ',' at byte 3");
  expect_unrepairable("{\"a\": \"line1\nline2\"}",
                      {12, "raw control character in a string (it must be escaped)"},
                      "raw control character in a string (it must be escaped) at byte 12");
  expect_unrepairable("[1, 1e999]", {4, "number too large for a double"},
                      "number too large for a double at byte 4");
  expect_unrepairable("[trux", {4, "invalid literal (expected 'true')"},
                      "invalid literal (expected 'true') at byte 4");
}

TEST(RepairJson, RefusesAnIncompleteTopLevelScalar) {
  expect_unrepairable("tru", {3, "unexpected end of input inside a literal"},
                      "the top-level value 'tru' is incomplete, and nothing else would be left");
  expect_unrepairable("-", {1, "unexpected end of input inside a number"},
                      "the top-level value '-' is incomplete, and nothing else would be left");
}

TEST(RepairJson, KeepsTheFirstErrorWhenALaterOneIsFatal) {
  expect_unrepairable("{a b: 1}", {1, "expected a double-quoted key, found 'a'"},
                      "expected ':' after an object key at byte 3");
  expect_unrepairable(R"({a: 1, "b": [1 2]})", {1, "expected a double-quoted key, found 'a'"},
                      "expected ',' or ']' after an array element at byte 15");
}

TEST(RepairJson, SaysValidJsonIsAlreadyValid) {
  expect_unrepairable(R"({"a": [1, 2]})", {}, "already valid JSON");
  expect_unrepairable("42", {}, "already valid JSON");
}

// --- every cut of a valid document ---

simdjson::dom::element_type top_level_type(const std::string& json) {
  static simdjson::dom::parser parser;
  simdjson::dom::element root;
  EXPECT_EQ(parser.parse(json).get(root), simdjson::SUCCESS) << json;
  return root.type();
}

// Every prefix of `doc` is valid, or unrepairable because it is only
// whitespace, or repaired into a value of the document's own type. Nearly
// all of them are repaired (only the whitespace before the value and the
// complete value itself are not).
void expect_every_prefix_repairable(const std::string& doc) {
  const simdjson::dom::element_type type = top_level_type(doc);
  std::size_t repairs = 0;
  for (std::size_t cut = 0; cut <= doc.size(); ++cut) {
    const std::string prefix = doc.substr(0, cut);
    if (!check_json(prefix)) continue;
    if (prefix.find_first_not_of(" \t\r\n") == std::string::npos) {
      const std::variant<JsonRepair, JsonUnrepairable> r = repair_json(prefix);
      EXPECT_TRUE(std::holds_alternative<JsonUnrepairable>(r));
      continue;
    }
    SCOPED_TRACE("cut at " + std::to_string(cut));
    const JsonRepair fix = repaired(prefix);
    if (fix.text.empty()) return;  // failed above; one report is enough
    EXPECT_EQ(top_level_type(fix.text), type) << prefix << "\n -> " << fix.text;
    ++repairs;
  }
  EXPECT_GE(repairs + 4, doc.size());
}

TEST(RepairJsonProperty, EveryPrefixOfAnAgentResultIsRepairedIntoAnObject) {
  std::string doc = R"({
  "agent": "a1",
  "status": "done",
  "ok": true, "error": null, "skipped": false,
  "retries": 0, "score": -1.5e-3, "big": 12345678901234567890,
  "summary": "Caf\u00e9 \ud83d\ude00 \"quoted\"\\\/\n caf)";
  doc += "\xC3\xA9 \xF0\x9F\x98\x80 done\",\n";
  doc += R"(  "files": ["src/a.cc", "src/b.cc"],
  "nested": {"a": [1, [2, [3, {"b": {}}]], []], "c": {"d": [{}]}},
  "float": 1)";
  // 10^320 written out, times 1e-300: a cut before the exponent leaves a number
  // simdjson refuses.
  doc += std::string(320, '0') + "e-300\n}\n";
  expect_every_prefix_repairable(doc);
}

TEST(RepairJsonProperty, EveryPrefixOfAnArrayIsRepairedIntoAnArray) {
  expect_every_prefix_repairable(
      R"(  [1, "two", [3.25, {"four": [null, true]}], {}, "\u20ac", -0])");
}

TEST(RepairJsonProperty, EveryPrefixOfAStringIsRepairedIntoAString) {
  expect_every_prefix_repairable("\"caf\\u00e9 \\ud83d\\ude00 caf\xC3\xA9 \xF0\x9F\x98\x80\"");
}

TEST(RepairJsonProperty, EveryPrefixOfADeepDocumentIsRepaired) {
  std::string deep;
  for (int i = 0; i < 500; ++i) deep += R"([{"k":)";
  deep += "{}";
  for (int i = 0; i < 500; ++i) deep += "}]";
  expect_every_prefix_repairable(deep);
}

}  // namespace
}  // namespace aw
