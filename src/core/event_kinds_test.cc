#include "src/core/event_kinds.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <fstream>
#include <map>
#include <set>
#include <sstream>
#include <string>
#include <vector>

namespace aw {
namespace {

#ifndef AW_SOURCE_DIR
#error "AW_SOURCE_DIR must name the source tree (src/core/meson.build)"
#endif

std::string read_source_file(const std::string& rel) {
  std::ifstream in(std::string(AW_SOURCE_DIR) + "/" + rel, std::ios::binary);
  if (!in) return {};
  std::ostringstream buf;
  buf << in.rdbuf();
  return std::move(buf).str();
}

// Dotted lowercase words: `[a-z][a-z0-9_-]*` separated by single dots, two words at least.
bool well_formed(std::string_view kind) {
  std::size_t words = 0;
  std::size_t start = 0;
  while (start <= kind.size()) {
    const std::size_t dot = std::min(kind.find('.', start), kind.size());
    const std::string_view word = kind.substr(start, dot - start);
    if (word.empty() || word.front() < 'a' || word.front() > 'z') return false;
    for (char c : word)
      if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_' || c == '-')) return false;
    ++words;
    start = dot + 1;
  }
  return words >= 2;
}

TEST(EventKinds, WellFormedCheckRejectsWhatItShould) {
  EXPECT_TRUE(well_formed("file.landed"));
  EXPECT_TRUE(well_formed("tmux.session-closed"));
  EXPECT_TRUE(well_formed("control.recover.kill-zombie"));
  EXPECT_FALSE(well_formed("file"));
  EXPECT_FALSE(well_formed("file."));
  EXPECT_FALSE(well_formed(".landed"));
  EXPECT_FALSE(well_formed("file..landed"));
  EXPECT_FALSE(well_formed("File.landed"));
  EXPECT_FALSE(well_formed("file.landed "));
  EXPECT_FALSE(well_formed("file.-landed"));
}

TEST(EventKinds, EveryKindIsDottedLowercase) {
  for (std::string_view k : kind::kAllKinds) EXPECT_TRUE(well_formed(k)) << k;
}

TEST(EventKinds, NoDuplicates) {
  std::set<std::string_view> seen;
  for (std::string_view k : kind::kAllKinds) EXPECT_TRUE(seen.insert(k).second) << k;
}

// kAllKinds is every full kind the header defines, in the header's order: a
// constant added without its entry (or the other way round) fails here.
TEST(EventKinds, AllKindsListsEveryConstantInHeaderOrder) {
  const std::string header = read_source_file("src/core/event_kinds.h");
  ASSERT_FALSE(header.empty()) << "cannot read " << AW_SOURCE_DIR << "/src/core/event_kinds.h";
  std::vector<std::string> defined;
  const std::string marker = "inline constexpr std::string_view ";
  for (std::size_t at = header.find(marker); at != std::string::npos;
       at = header.find(marker, at + 1)) {
    const std::size_t open = header.find('"', at);
    const std::size_t close = header.find('"', open + 1);
    ASSERT_NE(close, std::string::npos);
    std::string value = header.substr(open + 1, close - open - 1);
    if (!value.ends_with('.')) defined.push_back(std::move(value));  // prefixes are not kinds
  }
  const std::vector<std::string> listed(kind::kAllKinds.begin(), kind::kAllKinds.end());
  EXPECT_EQ(listed, defined);
}

// Each kind is documented, in docs/events.md or in the doc of the part that emits it.
TEST(EventKinds, EveryKindIsDocumented) {
  const std::map<std::string, std::string> doc_of_source = {
      {"file", "docs/watching.md"},      {"dir", "docs/watching.md"},
      {"watch", "docs/watching.md"},     {"log", "docs/logs.md"},
      {"git", "docs/logs.md"},           {"notify", "docs/notify.md"},
      {"tmux", "docs/tmux.md"},          {"worker", "docs/workers.md"},
      {"supervisor", "docs/workers.md"}, {"action", "docs/actions.md"},
      {"rule", "docs/rules.md"},         {"rules", "docs/rules.md"},
      {"state", "docs/lifecycle.md"},    {"timer", "docs/schedule.md"},
      {"control", "docs/control.md"},    {"daemon", "docs/configuration.md"},
      {"plan", "docs/intents.md"},       {"disk", "docs/sessions.md"},
      {"retention", "docs/sessions.md"}, {"alert", "docs/alerts.md"},
      {"agent", "docs/agents.md"},
  };
  const std::string events_doc = read_source_file("docs/events.md");
  ASSERT_FALSE(events_doc.empty()) << "cannot read " << AW_SOURCE_DIR << "/docs/events.md";
  std::map<std::string, std::string> docs;
  for (std::string_view k : kind::kAllKinds) {
    const std::string source(k.substr(0, k.find('.')));
    auto doc = doc_of_source.find(source);
    if (doc == doc_of_source.end()) {
      ADD_FAILURE() << k << ": no doc for source \"" << source << "\" (add it to this test)";
      continue;
    }
    auto [text, fresh] = docs.try_emplace(doc->second);
    if (fresh) {
      text->second = read_source_file(doc->second);
      EXPECT_FALSE(text->second.empty()) << "cannot read " << doc->second;
    }
    const std::string quoted = "`" + std::string(k) + "`";
    EXPECT_TRUE(events_doc.find(quoted) != std::string::npos ||
                text->second.find(quoted) != std::string::npos)
        << k << " is documented neither in docs/events.md nor in " << doc->second;
  }
}

}  // namespace
}  // namespace aw
