#include "src/agents/agent_patterns.h"

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>

#include "src/core/event.h"

namespace aw::agents {
namespace {

using namespace std::chrono_literals;

constexpr const char* kZoneinfo = "/usr/share/zoneinfo";

std::string error_of(std::string_view text) {
  auto c = PaneClassifier::load({AgentPatternFile{"p.toml", std::string(text)}});
  return c.ok() ? "(loaded)" : c.error().message;
}

PaneClassifier load_ok(std::string_view text) {
  auto c = PaneClassifier::load({AgentPatternFile{"p.toml", std::string(text)}});
  EXPECT_TRUE(c.ok()) << c.error().message;
  if (!c.ok()) std::abort();
  return std::move(c).value();
}

WallTime now() {
  return *parse_time_utc("2026-01-15T10:00:00Z");
}

constexpr std::string_view kSample = R"(
[[agent_pattern]]
agent = "claude"
name = "claude.retry"
status = "working"
regex = 'Retrying in \d+ seconds'

[[agent_pattern]]
agent = "claude"
name = "claude.limit"
status = "rate_limited"
regex = 'limit reached\s*∙\s*(?P<reset>resets .+)'

[[agent_pattern]]
agent = "claude"
name = "claude.error"
status = "errored"
regex = 'API Error'

[[agent_pattern]]
agent = "claude"
name = "claude.permission"
status = "waiting"
reason = "permission"
regex = 'Do you want to proceed\?'

[[agent_pattern]]
agent = "claude"
name = "claude.context"
status = "context_low"
regex = '(?P<pct>\d+)% context left'
pct_below = 20

[[agent_pattern]]
agent = "claude"
name = "claude.idle"
status = "idle"
regex = '\? for shortcuts'

[[agent_pattern]]
agent = "codex"
name = "codex.working"
status = "working"
regex = 'esc to interrupt'
)";

TEST(AgentPatternsTest, ReadsEveryKey) {
  std::vector<AgentPattern> out;
  std::vector<ConfigError> errors;
  read_agent_patterns(AgentPatternFile{"p.toml", std::string(kSample)}, out, errors);
  ASSERT_TRUE(errors.empty()) << config_errors_text(errors);
  ASSERT_EQ(out.size(), 7u);
  EXPECT_EQ(out[3].agent, "claude");
  EXPECT_EQ(out[3].name, "claude.permission");
  EXPECT_EQ(out[3].state, AgentState::kWaiting);
  EXPECT_EQ(out[3].reason, WaitReason::kPermission);
  EXPECT_EQ(out[3].regex, "Do you want to proceed\\?");
  EXPECT_EQ(out[3].file, "p.toml");
  EXPECT_EQ(out[3].line, 20u);
  EXPECT_EQ(out[4].pct_below, 20);
}

TEST(AgentPatternsTest, ClassifierKnowsItsAgents) {
  PaneClassifier c = load_ok(kSample);
  EXPECT_EQ(c.agents(), (std::vector<std::string>{"claude", "codex"}));
  EXPECT_TRUE(c.knows("codex"));
  EXPECT_FALSE(c.knows("gemini"));
}

TEST(AgentPatternsTest, ClassifiesALine) {
  PaneClassifier c = load_ok(kSample);
  ZoneinfoDirectory zones(kZoneinfo, std::string(kZoneinfo) + "/Europe/London");
  auto o = c.classify("claude", " Do you want to proceed?", MonoTime(5s), now(), zones);
  ASSERT_TRUE(o);
  EXPECT_EQ(o->source, Source::kPane);
  EXPECT_EQ(o->status, AgentStatus::waiting(WaitReason::kPermission));
  EXPECT_EQ(o->at, MonoTime(5s));
  EXPECT_EQ(o->said, "pane: pattern claude.permission ' Do you want to proceed?'");
}

TEST(AgentPatternsTest, UnknownAgentOrNoMatchGivesNothing) {
  PaneClassifier c = load_ok(kSample);
  ZoneinfoDirectory zones(kZoneinfo);
  EXPECT_FALSE(c.read("gemini", "Do you want to proceed?", now(), zones));
  EXPECT_FALSE(c.read("claude", "just some program output", now(), zones));
  EXPECT_FALSE(c.read("codex", "Do you want to proceed?", now(), zones));
}

TEST(AgentPatternsTest, EscapesAreStrippedBeforeMatching) {
  PaneClassifier c = load_ok(kSample);
  ZoneinfoDirectory zones(kZoneinfo);
  auto r = c.read("codex", "\x1b[2m(3s • esc\x1b[0m to interrupt)", now(), zones);
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, AgentStatus::working());
  EXPECT_EQ(r->row, "(3s • esc to interrupt)");
}

TEST(AgentPatternsTest, FirstPatternInFileOrderWins) {
  PaneClassifier c = load_ok(kSample);
  ZoneinfoDirectory zones(kZoneinfo);
  auto r = c.read("claude", "API Error (529) · Retrying in 5 seconds…", now(), zones);
  ASSERT_TRUE(r);
  EXPECT_EQ(r->pattern->name, "claude.retry");
  EXPECT_EQ(r->status, AgentStatus::working());
}

TEST(AgentPatternsTest, EarliestPatternWinsAcrossRowsOfOneLine) {
  PaneClassifier c = load_ok(kSample);
  ZoneinfoDirectory zones(kZoneinfo);
  // A positioned redraw: the idle footer drawn after the permission question.
  auto r =
      c.read("claude", "\x1b[3;1HDo you want to proceed?\x1b[9;1H? for shortcuts", now(), zones);
  ASSERT_TRUE(r);
  EXPECT_EQ(r->pattern->name, "claude.permission");
}

TEST(AgentPatternsTest, ResetCaptureIsParsed) {
  PaneClassifier c = load_ok(kSample);
  ZoneinfoDirectory zones(kZoneinfo, std::string(kZoneinfo) + "/Europe/London");
  auto r = c.read("claude", "5-hour limit reached ∙ resets 4am", now(), zones);
  ASSERT_TRUE(r);
  ASSERT_TRUE(r->status.reset_at());
  EXPECT_EQ(format_time_utc(*r->status.reset_at()), "2026-01-16T04:00:00.000Z");
}

TEST(AgentPatternsTest, UnreadableResetIsRateLimitedWithoutTime) {
  PaneClassifier c = load_ok(kSample);
  ZoneinfoDirectory zones(kZoneinfo);
  auto r = c.read("claude", "limit reached ∙ resets whenever", now(), zones);
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, AgentStatus::rate_limited());
}

TEST(AgentPatternsTest, ContextPercentageAndThreshold) {
  PaneClassifier c = load_ok(kSample);
  ZoneinfoDirectory zones(kZoneinfo);
  auto low = c.read("claude", "12% context left", now(), zones);
  ASSERT_TRUE(low);
  EXPECT_EQ(low->status, AgentStatus::context_low(12));
  EXPECT_FALSE(c.read("claude", "20% context left", now(), zones));
  EXPECT_FALSE(c.read("claude", "100% context left", now(), zones));
  EXPECT_FALSE(c.read("claude", "250% context left", now(), zones));  // not a percentage
}

TEST(AgentPatternsTest, PatternWithoutReadingFallsToTheNextHit) {
  PaneClassifier c = load_ok(kSample);
  ZoneinfoDirectory zones(kZoneinfo);
  auto r = c.read("claude", "? for shortcuts     85% context left", now(), zones);
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, AgentStatus::idle());
}

TEST(AgentPatternsTest, SaidCutsLongRows) {
  PaneClassifier c = load_ok(kSample);
  ZoneinfoDirectory zones(kZoneinfo);
  const std::string row = "API Error " + std::string(300, 'x');
  auto o = c.classify("claude", row, MonoTime(0s), now(), zones);
  ASSERT_TRUE(o);
  EXPECT_LT(o->said.size(), 260u);
  EXPECT_NE(o->said.find("…'"), std::string::npos);
}

TEST(AgentPatternsTest, UnknownKeyWithDidYouMean) {
  EXPECT_EQ(error_of(R"([[agent_pattern]]
agent = "claude"
name = "claude.x"
status = "working"
regx = 'x'
)"),
            "p.toml:5:1: error: unknown key 'regx' in [[agent_pattern]]; did you mean 'regex'?\n"
            "p.toml:1:1: error: [[agent_pattern]] 'claude.x' needs a 'regex' (RE2 syntax)");
}

TEST(AgentPatternsTest, UnknownTopLevelKey) {
  EXPECT_EQ(error_of("[[agent_patern]]\nagent = \"claude\"\n"),
            "p.toml:1:3: error: unknown key 'agent_patern' at the top of an agent pattern file; "
            "did you mean 'agent_pattern'? (a pattern file holds [[agent_pattern]] tables only)");
}

TEST(AgentPatternsTest, BadStatusNamesTheChoices) {
  EXPECT_EQ(error_of(R"([[agent_pattern]]
agent = "claude"
name = "claude.x"
status = "wroking"
regex = 'x'
)"),
            "p.toml:4:10: error: 'status': unknown value \"wroking\"; did you mean 'working'? "
            "(expected starting, working, idle, waiting, rate_limited, context_low, errored or "
            "exited)");
}

TEST(AgentPatternsTest, WaitingNeedsAReason) {
  EXPECT_EQ(error_of(R"([[agent_pattern]]
agent = "claude"
name = "claude.x"
status = "waiting"
regex = 'x'
)"),
            "p.toml:1:1: error: [[agent_pattern]] 'claude.x' has status \"waiting\": it needs a "
            "'reason' (permission, question or input)");
}

TEST(AgentPatternsTest, ReasonOnlyForWaiting) {
  EXPECT_EQ(error_of(R"([[agent_pattern]]
agent = "claude"
name = "claude.x"
status = "idle"
reason = "input"
regex = 'x'
)"),
            "p.toml:5:10: error: 'reason' is for status \"waiting\" only, not \"idle\"");
}

TEST(AgentPatternsTest, BadReason) {
  EXPECT_EQ(error_of(R"([[agent_pattern]]
agent = "claude"
name = "claude.x"
status = "waiting"
reason = "permision"
regex = 'x'
)"),
            "p.toml:5:10: error: 'reason': unknown value \"permision\"; did you mean "
            "'permission'? (expected permission, question or input)");
}

TEST(AgentPatternsTest, BadRegexIsNamedWithRe2sWords) {
  EXPECT_EQ(error_of(R"([[agent_pattern]]
agent = "claude"
name = "claude.x"
status = "working"
regex = 'esc to (interrupt'
)"),
            "p.toml:5:10: error: 'regex' of [[agent_pattern]] 'claude.x' does not compile: "
            "missing ): esc to (interrupt");
}

TEST(AgentPatternsTest, EmptyRegexIsRefused) {
  EXPECT_EQ(error_of(R"([[agent_pattern]]
agent = "claude"
name = "claude.x"
status = "working"
regex = ''
)"),
            "p.toml:5:9: error: 'regex' is empty: it would match every line");
}

TEST(AgentPatternsTest, CaptureNamesAreChecked) {
  EXPECT_EQ(error_of(R"([[agent_pattern]]
agent = "claude"
name = "claude.x"
status = "rate_limited"
regex = 'limit (?P<rest>.+)'
)"),
            "p.toml:5:9: error: 'regex': unknown capture group 'rest'; did you mean 'reset'? "
            "(expected reset or pct)");
  EXPECT_EQ(error_of(R"([[agent_pattern]]
agent = "claude"
name = "claude.x"
status = "working"
regex = 'resets (?P<reset>.+)'
)"),
            "p.toml:5:9: error: 'regex': capture group 'reset' is for status \"rate_limited\" "
            "only");
}

TEST(AgentPatternsTest, ContextLowNeedsPct) {
  EXPECT_EQ(error_of(R"([[agent_pattern]]
agent = "claude"
name = "claude.x"
status = "context_low"
regex = 'context left'
)"),
            "p.toml:5:9: error: 'regex' of [[agent_pattern]] 'claude.x' has status "
            "\"context_low\": it needs a (?P<pct>...) group, the percentage left");
}

TEST(AgentPatternsTest, PctBelowRange) {
  EXPECT_EQ(error_of(R"([[agent_pattern]]
agent = "claude"
name = "claude.x"
status = "context_low"
regex = '(?P<pct>\d+)%'
pct_below = 0
)"),
            "p.toml:6:13: error: 'pct_below' must be between 1 and 100");
}

TEST(AgentPatternsTest, NameMustStartWithTheAgent) {
  EXPECT_EQ(error_of(R"([[agent_pattern]]
agent = "claude"
name = "codex.x"
status = "working"
regex = 'x'
)"),
            "p.toml:3:8: error: 'name': expected \"claude....\" (the agent, a dot, then lowercase "
            "letters, digits, '_', '.' or '-'), not \"codex.x\"");
}

TEST(AgentPatternsTest, BadAgentName) {
  EXPECT_EQ(error_of(R"([[agent_pattern]]
agent = "Claude Code"
name = "x"
status = "working"
regex = 'x'
)"),
            "p.toml:2:9: error: 'agent': expected lowercase letters, digits, '_' or '-', starting "
            "with a letter or digit, not \"Claude Code\"");
}

TEST(AgentPatternsTest, MissingKeysAreEachReported) {
  EXPECT_EQ(error_of("[[agent_pattern]]\n"),
            "p.toml:1:1: error: [[agent_pattern]] needs an 'agent' (e.g. \"claude\")\n"
            "p.toml:1:1: error: [[agent_pattern]] needs a 'name' (e.g. \"claude.permission\")\n"
            "p.toml:1:1: error: [[agent_pattern]] needs a 'status' (starting, working, idle, "
            "waiting, rate_limited, context_low, errored or exited)");
}

TEST(AgentPatternsTest, DuplicateNameAcrossFiles) {
  const std::string one =
      "[[agent_pattern]]\nagent = \"a\"\nname = \"a.x\"\nstatus = "
      "\"idle\"\nregex = 'x'\n";
  auto c = PaneClassifier::load(
      {AgentPatternFile{"one.toml", one}, AgentPatternFile{"two.toml", "\n" + one}});
  ASSERT_FALSE(c.ok());
  EXPECT_EQ(c.error().message,
            "two.toml:2:1: error: [[agent_pattern]] 'a.x' is defined twice (first at "
            "one.toml:1)");
}

TEST(AgentPatternsTest, SyntaxErrorIsPositioned) {
  const std::string e = error_of("[[agent_pattern]\n");
  EXPECT_EQ(e.rfind("p.toml:1:", 0), 0u) << e;
}

TEST(AgentPatternsTest, EmptyFileIsNoPatterns) {
  PaneClassifier c = load_ok("# nothing yet\n");
  EXPECT_TRUE(c.agents().empty());
}

TEST(AgentPatternsTest, LoadsADirectoryInNameOrder) {
  const auto dir =
      std::filesystem::temp_directory_path() / ("aw_agent_patterns_" + std::to_string(::getpid()));
  std::filesystem::create_directories(dir);
  std::ofstream(dir / "b.toml") << "[[agent_pattern]]\nagent = \"b\"\nname = \"b.one\"\n"
                                   "status = \"idle\"\nregex = 'x'\n";
  std::ofstream(dir / "a.toml") << "[[agent_pattern]]\nagent = \"a\"\nname = \"a.one\"\n"
                                   "status = \"idle\"\nregex = 'x'\n";
  std::ofstream(dir / ".hidden.toml") << "not toml at all [";
  std::ofstream(dir / "notes.txt") << "ignored";
  auto c = load_agent_pattern_dir(dir.string());
  std::filesystem::remove_all(dir);
  ASSERT_TRUE(c.ok()) << c.error().message;
  ASSERT_EQ(c->patterns().size(), 2u);
  EXPECT_EQ(c->patterns()[0].name, "a.one");
  EXPECT_EQ(c->patterns()[1].name, "b.one");
}

TEST(AgentPatternsTest, MissingDirectoryIsAnError) {
  auto c = load_agent_pattern_dir("/nonexistent/agents");
  ASSERT_FALSE(c.ok());
  EXPECT_NE(c.error().message.find("/nonexistent/agents"), std::string::npos);
}

TEST(AgentPatternsTest, ShippedPatternFilesLoad) {
  auto c = load_agent_pattern_dir(std::string(AW_SOURCE_DIR) + "/rules/agents");
  ASSERT_TRUE(c.ok()) << c.error().message;
  EXPECT_EQ(c->agents(), (std::vector<std::string>{"claude", "codex", "gemini"}));
}

}  // namespace
}  // namespace aw::agents
