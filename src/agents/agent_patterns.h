// Pane-output patterns per agent, from rule files (rules/agents/*.toml), and
// the classifier that turns one line of pane output into an Observation
// (docs/agents.md, "Pattern files"). Patterns live in files, not code, so a
// new agent release is a pattern edit (and fixtures), not a rebuild.
//
//   [[agent_pattern]]
//   agent = "claude"                 # [a-z0-9][a-z0-9_-]*
//   name = "claude.permission"       # unique, "<agent>." then [a-z0-9_.-]
//   status = "waiting"               # a state name (agent_status.h)
//   reason = "permission"            # waiting only, and required there
//   regex = 'Do you want to proceed\?'
//   pct_below = 20                   # context_low only: count it under 20%
//
// The regex is RE2 syntax, unanchored, matched against one screen row (after
// strip_terminal_escapes()). Named groups: `reset` (rate_limited only) is the
// text handed to parse_reset_time(); `pct` (context_low, required there) is
// the percentage of context left, an integer 0..100; no other names.
//
// Order matters: when several patterns of an agent match, the first in file
// order wins (list the specific before the general: a "Retrying" line before
// the API-error line it contains, idle prompts last). Across several files the
// order is the order the files are given in.
//
// Every mistake is reported the TomlReader way, FILE:LINE:COLUMN: unknown keys
// with "did you mean", a bad status or reason with the valid ones, a regex
// that does not compile with RE2's words, a misnamed capture group.
//
// Pure apart from load_agent_pattern_dir(), the thin reader of a directory.
#pragma once

#include <cstddef>
#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "src/agents/agent_status.h"
#include "src/agents/agent_tracker.h"
#include "src/agents/time_zone.h"
#include "src/config/toml_reader.h"
#include "src/core/clock.h"
#include "src/core/result.h"
#include "src/match/pattern_set.h"

namespace aw::agents {

struct AgentPattern {
  std::string agent;
  std::string name;
  AgentState state = AgentState::kWorking;
  std::optional<WaitReason> reason;  // waiting only
  std::string regex;
  std::optional<int> pct_below;  // context_low only
  std::string file;              // where it was read, for errors and `said`
  std::uint32_t line = 0;
};

// A pattern file's name (what errors say) and text.
struct AgentPatternFile {
  std::string name;
  std::string text;
};

// Reads the [[agent_pattern]] tables of one file into `out`, each mistake
// appended to `errors` (patterns with mistakes are left out).
void read_agent_patterns(const AgentPatternFile& file, std::vector<AgentPattern>& out,
                         std::vector<ConfigError>& errors);

// One pane line's reading: the status a pattern says, and which pattern said
// it on which row.
struct PaneReading {
  AgentStatus status;
  const AgentPattern* pattern = nullptr;  // owned by the classifier
  std::string row;                        // the stripped screen row it matched
};

class PaneClassifier {
 public:
  // Reads and compiles every file, in order. Errors come back one per line
  // (config_errors_text()); a name given twice is an error at the second.
  static Result<PaneClassifier> load(const std::vector<AgentPatternFile>& files);
  // Compiles already-read patterns (one PatternSet per agent, with the block
  // prefilter). An error names the pattern and its file.
  static Result<PaneClassifier> compile(std::vector<AgentPattern> patterns);

  PaneClassifier(PaneClassifier&&) noexcept;
  PaneClassifier& operator=(PaneClassifier&&) noexcept;
  ~PaneClassifier();

  // The agents some pattern names, sorted.
  std::vector<std::string> agents() const;
  bool knows(std::string_view agent) const;
  const std::vector<AgentPattern>& patterns() const { return patterns_; }

  // What one raw line of `agent`'s pane output (as split on '\n', escapes and
  // all) says, or nullopt when no pattern gives a reading: no match, an
  // unknown agent, a context_low at or above its `pct_below`, a `pct` that is
  // not 0..100. When the line draws several rows, the row matched by the
  // earliest pattern wins. A `reset` capture is read with parse_reset_time()
  // against `now` and `zones`; unreadable, the reading is rate_limited
  // without a reset time (never an invented one).
  std::optional<PaneReading> read(std::string_view agent, std::string_view raw_line, WallTime now,
                                  ZoneLookup& zones) const;

  // read() as an Observation from the pane source at `at`, its `said` being
  // "pane: pattern NAME 'ROW'" (the row cut to 200 bytes).
  std::optional<Observation> classify(std::string_view agent, std::string_view raw_line,
                                      MonoTime at, WallTime now, ZoneLookup& zones) const;

 private:
  struct AgentSet;
  PaneClassifier();
  std::vector<AgentPattern> patterns_;
  std::map<std::string, std::unique_ptr<AgentSet>, std::less<>> sets_;
};

// Reads every *.toml file of `dir` (sorted by name, dotfiles skipped, each at
// most 1 MiB) and loads them: the daemon's one call, at start-up or on the
// thread pool (it blocks).
Result<PaneClassifier> load_agent_pattern_dir(const std::string& dir);

}  // namespace aw::agents
