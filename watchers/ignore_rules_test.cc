#include "watchers/ignore_rules.h"

#include <gtest/gtest.h>

namespace aw {
namespace {

IgnoreRules compile(const std::vector<std::string>& p) {
  auto r = IgnoreRules::compile(p);
  EXPECT_TRUE(r.ok()) << r.error().message;
  return r.ok() ? std::move(r.value()) : IgnoreRules();
}

TEST(IgnoreRules, PatternWithoutSlashMatchesBasenameAtAnyDepth) {
  auto rules = compile({"*.tmp", ".*"});
  EXPECT_TRUE(rules.ignores_file("x.tmp"));
  EXPECT_TRUE(rules.ignores_file("a/b/x.tmp"));
  EXPECT_TRUE(rules.ignores_file(".hidden"));
  EXPECT_TRUE(rules.ignores_dir("a/.git"));
  EXPECT_FALSE(rules.ignores_file("x.json"));
  EXPECT_FALSE(rules.ignores_file("a.b/x.json"));
}

TEST(IgnoreRules, PatternWithSlashMatchesWholeRelativePath) {
  auto rules = compile({"completed/**", "logs/*.log"});
  EXPECT_TRUE(rules.ignores_file("completed/x.json"));
  EXPECT_TRUE(rules.ignores_file("completed/a/b.json"));
  EXPECT_TRUE(rules.ignores_dir("completed"));
  EXPECT_TRUE(rules.ignores_file("logs/w.log"));
  EXPECT_FALSE(rules.ignores_file("a/logs/w.log"));
  EXPECT_FALSE(rules.ignores_dir("logs"));
  EXPECT_FALSE(rules.ignores_file("completed.json"));
}

TEST(IgnoreRules, BadPatternNamesItAndTheColumn) {
  auto r = IgnoreRules::compile({"ok", "[abc"});
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.error().message.find("[abc"), std::string::npos) << r.error().message;
  EXPECT_NE(r.error().message.find("column 1"), std::string::npos) << r.error().message;
  EXPECT_FALSE(IgnoreRules::compile({""}).ok());
}

}  // namespace
}  // namespace aw
