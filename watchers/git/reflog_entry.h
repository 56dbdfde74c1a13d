// One line of a git reflog (`<git-dir>/logs/HEAD`), decoded. Pure.
//
// git writes one line per update of HEAD (refs/files-backend.c, log_ref_write):
//
//   <old-oid> SP <new-oid> SP <name> SP "<" <email> ">" SP <unix-time> SP <tz> [TAB <message>] LF
//
// The oids are 40 hex digits (SHA-1) or 64 (SHA-256); an all-zero old oid is
// the first commit. The TAB and message are absent when the message is empty.
// The message is what the command passed as its reflog reason, conventionally
// "<action>: <details>":
//
//   commit: <subject>                 commit (initial): <subject>
//   commit (amend): <subject>         commit (merge): <subject>
//   merge <branch>: Fast-forward      checkout: moving from main to feature
//   reset: moving to HEAD~1           rebase (finish): returning to refs/heads/x
//   rebase (pick): <subject>          cherry-pick: <subject>
//   pull: Fast-forward                clone: from <url>
//
// A name and an email never contain '<', '>' or a newline (git strips them).
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace aw {

struct ReflogEntry {
  std::string old_oid;
  std::string new_oid;
  std::string name;       // the committer identity that moved HEAD
  std::string email;      // without the angle brackets
  std::int64_t time = 0;  // seconds since the Unix epoch
  std::string tz;         // as written, e.g. "+0200"
  // The part of the message before the first ": " when it starts like an
  // action ("commit (amend)", "merge feature", "rebase -i (finish)"); "" when
  // the message has no such prefix (then `message` is all of it).
  std::string action;
  std::string action_class;  // see reflog_action_class()
  std::string message;       // after "<action>: "; the subject for commits

  friend bool operator==(const ReflogEntry&, const ReflogEntry&) = default;
};

// Decodes one line (with or without its trailing '\n'); nullopt when it is not
// a reflog line (bad oids, no "<email>", no time).
std::optional<ReflogEntry> parse_reflog_line(std::string_view line);

// The kind of update, from the action's first word: "commit", "merge",
// "checkout", "reset", "rebase", "cherry-pick", "revert", "pull", "clone",
// "am", "branch", or "other" for anything else (including no action).
std::string_view reflog_action_class(std::string_view action);

}  // namespace aw
