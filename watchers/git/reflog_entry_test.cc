// parse_reflog_line on lines as git 2.39 writes them (copied from real
// reflogs), and on each way a line can be wrong.
#include "watchers/git/reflog_entry.h"

#include <gtest/gtest.h>

#include <string>

#include "src/core/event_kinds.h"

namespace aw {
namespace {

const std::string kZero(40, '0');
const std::string kA = "eb1c3ab5e1f0b6a7f2c4d8e9a0b1c2d3e4f5a6b7";
const std::string kB = "bc0f2d1e3a4b5c6d7e8f9a0b1c2d3e4f5a6b7c8d";

std::string line(const std::string& message,
                 const std::string& ident = "A B <a@b> 1795357061 +0000") {
  return kA + " " + kB + " " + ident + (message.empty() ? "" : "\t" + message) + "\n";
}

TEST(ReflogEntry, InitialCommit) {
  auto e = parse_reflog_line(
      kZero + " " + kB +
      " Ann Lee <ann@example.com> 1700000000 +0200\tcommit (initial): all phases complete\n");
  ASSERT_TRUE(e);
  EXPECT_EQ(e->old_oid, kZero);
  EXPECT_EQ(e->new_oid, kB);
  EXPECT_EQ(e->name, "Ann Lee");
  EXPECT_EQ(e->email, "ann@example.com");
  EXPECT_EQ(e->time, 1700000000);
  EXPECT_EQ(e->tz, "+0200");
  EXPECT_EQ(e->action, "commit (initial)");
  EXPECT_EQ(e->action_class, "commit");
  EXPECT_EQ(e->message, "all phases complete");
}

TEST(ReflogEntry, ActionsAndTheirClasses) {
  struct Case {
    const char* text;
    const char* action;
    const char* cls;
    const char* message;
  };
  const Case cases[] = {
      {"commit: fix: second", "commit", "commit", "fix: second"},
      {"commit (amend): amended", "commit (amend)", "commit", "amended"},
      {"commit (merge): Merge branch 'x'", "commit (merge)", "commit", "Merge branch 'x'"},
      {"merge feat: Merge made by the 'ort' strategy.", "merge feat", "merge",
       "Merge made by the 'ort' strategy."},
      {"checkout: moving from master to feat", "checkout", "checkout",
       "moving from master to feat"},
      {"reset: moving to HEAD~1", "reset", "reset", "moving to HEAD~1"},
      {"rebase (start): checkout feat", "rebase (start)", "rebase", "checkout feat"},
      {"rebase (finish): returning to refs/heads/master", "rebase (finish)", "rebase",
       "returning to refs/heads/master"},
      {"rebase -i (pick): fix", "rebase -i (pick)", "rebase", "fix"},
      {"cherry-pick: port the fix", "cherry-pick", "cherry-pick", "port the fix"},
      {"revert: Revert \"x\"", "revert", "revert", "Revert \"x\""},
      {"pull: Fast-forward", "pull", "pull", "Fast-forward"},
      {"pull --rebase (finish): refs/heads/main onto 1234", "pull --rebase (finish)", "pull",
       "refs/heads/main onto 1234"},
      {"clone: from https://example.com/r.git", "clone", "clone", "from https://example.com/r.git"},
      {"am: add the parser", "am", "am", "add the parser"},
      {"Branch: renamed refs/heads/a to refs/heads/b", "Branch", "branch",
       "renamed refs/heads/a to refs/heads/b"},
      // Not an action: the whole text is the message.
      {"deploy: v1.2", "", "other", "deploy: v1.2"},
      {"moved by hand", "", "other", "moved by hand"},
  };
  for (const Case& c : cases) {
    auto e = parse_reflog_line(line(c.text));
    ASSERT_TRUE(e) << c.text;
    EXPECT_EQ(e->action, c.action) << c.text;
    EXPECT_EQ(e->action_class, c.cls) << c.text;
    EXPECT_TRUE(kind::is_known("git." + e->action_class)) << c.text << ": not in kind::kAllKinds";
    EXPECT_EQ(e->message, c.message) << c.text;
  }
}

TEST(ReflogEntry, NoMessageMeansNoTab) {
  auto e = parse_reflog_line(line(""));
  ASSERT_TRUE(e);
  EXPECT_EQ(e->action, "");
  EXPECT_EQ(e->action_class, "other");
  EXPECT_EQ(e->message, "");
  EXPECT_EQ(e->tz, "+0000");
}

TEST(ReflogEntry, WithoutTrailingNewline) {
  std::string l = line("commit: x");
  l.pop_back();
  auto e = parse_reflog_line(l);
  ASSERT_TRUE(e);
  EXPECT_EQ(e->message, "x");
}

TEST(ReflogEntry, Sha256Oids) {
  const std::string a(64, 'a'), b(64, 'b');
  auto e = parse_reflog_line(a + " " + b + " A <a@b> 1 -0130\tcommit: x");
  ASSERT_TRUE(e);
  EXPECT_EQ(e->new_oid, b);
  EXPECT_EQ(e->tz, "-0130");
}

TEST(ReflogEntry, OddIdentities) {
  auto empty_name = parse_reflog_line(kA + " " + kB + " <bot@ci> 5 +0000\tcommit: x");
  ASSERT_TRUE(empty_name);
  EXPECT_EQ(empty_name->name, "");
  EXPECT_EQ(empty_name->email, "bot@ci");
  auto empty_email = parse_reflog_line(kA + " " + kB + " Some Body <> 5 +0000\tcommit: x");
  ASSERT_TRUE(empty_email);
  EXPECT_EQ(empty_email->name, "Some Body");
  EXPECT_EQ(empty_email->email, "");
  // A tab in the message stays in the message.
  auto tabbed = parse_reflog_line(line("commit: a\tb"));
  ASSERT_TRUE(tabbed);
  EXPECT_EQ(tabbed->message, "a\tb");
}

TEST(ReflogEntry, MalformedLinesAreRefused) {
  const std::string bad[] = {
      "",
      "\n",
      "not a reflog line",
      kA.substr(0, 39) + " " + kB + " A <a@b> 1 +0000\tcommit: x",            // short old oid
      kA + " " + kB.substr(0, 39) + " A <a@b> 1 +0000\tcommit: x",            // short new oid
      kA + " " + std::string(64, 'b') + " A <a@b> 1 +0000\tcommit: x",        // mixed lengths
      "EB1C3AB5E1F0B6A7F2C4D8E9A0B1C2D3E4F5A6B7 " + kB + " A <a@b> 1 +0000",  // upper case
      kA + " " + kB + " A a@b 1 +0000\tcommit: x",                            // no <email>
      kA + " " + kB + " A <a@b 1 +0000\tcommit: x",                           // unclosed
      kA + " " + kB + " A <a@b> +0000\tcommit: x",                            // no time
      kA + " " + kB + " A <a@b> 12x +0000\tcommit: x",                        // bad time
      kA + " " + kB + " A <a@b> 1 0000\tcommit: x",                           // tz without sign
      kA + " " + kB + " A <a@b> 1 +00\tcommit: x",                            // short tz
      kA + " " + kB + " A <a@b> 1\tcommit: x",                                // no tz
      kA + " " + kB + " A <a@b>1 +0000\tcommit: x",                           // no space
  };
  for (const std::string& l : bad) EXPECT_FALSE(parse_reflog_line(l)) << l;
}

TEST(ReflogEntry, ActionClassOfBareWords) {
  EXPECT_EQ(reflog_action_class("commit"), "commit");
  EXPECT_EQ(reflog_action_class("commit (initial)"), "commit");
  EXPECT_EQ(reflog_action_class("COMMIT"), "commit");
  EXPECT_EQ(reflog_action_class("committed"), "other");
  EXPECT_EQ(reflog_action_class(""), "other");
}

}  // namespace
}  // namespace aw
