// Replays every pane fixture of tests/fixtures/agents/<agent>/<version>/
// through the real code: strip_terminal_escapes → PaneClassifier (the shipped
// rules/agents/*.toml) → AgentTracker, and checks the status it ends in
// against the directory's manifest.toml (tests/fixtures/agents/README.md).
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <set>
#include <sstream>

#include "src/agents/agent_patterns.h"
#include "src/agents/agent_tracker.h"
#include "src/config/toml_reader.h"
#include "src/core/event.h"

namespace aw::agents {
namespace {

namespace fs = std::filesystem;
using namespace std::chrono_literals;

const std::string kFixtures = std::string(AW_SOURCE_DIR) + "/tests/fixtures/agents";
constexpr const char* kZoneinfo = "/usr/share/zoneinfo";

std::string read_file(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  std::ostringstream s;
  s << in.rdbuf();
  return s.str();
}

struct Expectation {
  std::string screen;
  AgentState state = AgentState::kStarting;
  std::optional<WaitReason> reason;
  std::optional<WallTime> reset_at;
  std::optional<int> context_pct;
};

struct Manifest {
  WallTime now{};
  std::string local_zone;
  std::vector<Expectation> fixtures;
};

// Reads a manifest strictly: a typo in a manifest must fail, not pass quietly.
Manifest read_manifest(const fs::path& path) {
  const std::string text = read_file(path);
  std::vector<ConfigError> errors;
  TomlReader p(path.string(), text, errors);
  Manifest m;
  std::optional<toml::table> root = p.parse();
  if (root) {
    p.check_keys(*root, {"now", "local_zone", "fixture"}, "in a fixture manifest");
    if (auto s = root->get("now") ? p.get_string(*root->get("now"), "now") : std::nullopt) {
      if (auto t = parse_time_utc(*s))
        m.now = *t;
      else
        p.error(*root->get("now"), "'now': expected an RFC 3339 time");
    } else {
      p.error(*root, "a manifest needs 'now'");
    }
    if (auto s = root->get("local_zone") ? p.get_string(*root->get("local_zone"), "local_zone")
                                         : std::nullopt)
      m.local_zone = *s;
    else
      p.error(*root, "a manifest needs 'local_zone'");
    const toml::node* f = root->get("fixture");
    const toml::array* arr = f ? p.get_array_of_tables(*f, "fixture", "[[fixture]]") : nullptr;
    for (const toml::node& n : arr ? *arr : toml::array{}) {
      const toml::table& t = *n.as_table();
      p.check_keys(t, {"screen", "status", "reason", "reset_at", "context_pct", "origin"},
                   "in [[fixture]]");
      Expectation e;
      if (auto s = t.get("screen") ? p.get_string(*t.get("screen"), "screen") : std::nullopt)
        e.screen = *s;
      else
        p.error(t, "[[fixture]] needs 'screen'");
      if (auto i = t.get("status") ? p.get_choice(*t.get("status"), "status", all_state_names())
                                   : std::nullopt)
        e.state = static_cast<AgentState>(*i);
      else
        p.error(t, "[[fixture]] needs a valid 'status'");
      if (const toml::node* r = t.get("reason"))
        if (auto i = p.get_choice(*r, "reason", all_wait_reason_names()))
          e.reason = static_cast<WaitReason>(*i);
      if (const toml::node* r = t.get("reset_at"))
        if (auto s = p.get_string(*r, "reset_at")) e.reset_at = parse_time_utc(*s);
      if (const toml::node* c = t.get("context_pct"))
        if (auto v = p.get_int(*c, "context_pct", 0, 100, "a percentage"))
          e.context_pct = static_cast<int>(*v);
      if (!t.get("origin")) p.error(t, "[[fixture]] needs an 'origin' (hand-made or captured)");
      m.fixtures.push_back(e);
    }
  }
  EXPECT_TRUE(errors.empty()) << config_errors_text(errors);
  return m;
}

// The replay the README describes: the screen redrawn every 500 ms for 3 s.
AgentStatus replay(const PaneClassifier& c, const std::string& agent, const std::string& screen,
                   WallTime now, ZoneLookup& zones, std::string& trace) {
  AgentTracker tracker;
  std::vector<std::string_view> lines;
  for (std::size_t start = 0; start < screen.size();) {
    std::size_t end = screen.find('\n', start);
    if (end == std::string::npos) end = screen.size();
    lines.emplace_back(screen.data() + start, end - start);
    start = end + 1;
  }
  auto note = [&](const std::optional<AgentTransition>& t) {
    if (t) trace += "  " + t->from.to_string() + " -> " + t->to.to_string() + "\n";
  };
  MonoTime at{};
  for (int pass = 0; pass <= 6; ++pass) {
    at = MonoTime(std::chrono::milliseconds(500 * pass));
    for (std::string_view line : lines) {
      at += 1ms;
      if (auto d = tracker.next_deadline(); d && *d <= at) note(tracker.tick(at));
      if (auto o = c.classify(agent, line, at, now, zones)) note(tracker.observe(*o));
    }
  }
  note(tracker.tick(at + 500ms));
  return tracker.status();
}

TEST(AgentFixtureReplay, EveryFixtureReachesItsStatus) {
  auto classifier = load_agent_pattern_dir(std::string(AW_SOURCE_DIR) + "/rules/agents");
  ASSERT_TRUE(classifier.ok()) << classifier.error().message;
  std::size_t replayed = 0;
  std::set<std::string> agents_seen;
  for (const auto& agent_dir : fs::directory_iterator(kFixtures)) {
    if (!agent_dir.is_directory()) continue;
    const std::string agent = agent_dir.path().filename().string();
    ASSERT_TRUE(classifier->knows(agent)) << "fixtures for an agent without patterns: " << agent;
    for (const auto& version_dir : fs::directory_iterator(agent_dir.path())) {
      if (!version_dir.is_directory()) continue;
      const fs::path manifest_path = version_dir.path() / "manifest.toml";
      ASSERT_TRUE(fs::exists(manifest_path)) << manifest_path;
      const Manifest m = read_manifest(manifest_path);
      ZoneinfoDirectory zones(kZoneinfo, std::string(kZoneinfo) + "/" + m.local_zone);
      ASSERT_NE(zones.local(), nullptr) << manifest_path << ": local_zone " << m.local_zone;

      std::set<std::string> listed;
      for (const Expectation& e : m.fixtures) {
        SCOPED_TRACE(version_dir.path().string() + "/" + e.screen);
        listed.insert(e.screen);
        const fs::path screen_path = version_dir.path() / e.screen;
        ASSERT_TRUE(fs::exists(screen_path));
        std::string trace;
        const AgentStatus s =
            replay(*classifier, agent, read_file(screen_path), m.now, zones, trace);
        EXPECT_EQ(state_name(s.state()), state_name(e.state)) << "transitions:\n" << trace;
        EXPECT_EQ(s.reason(), e.reason) << s.to_string();
        EXPECT_EQ(s.reset_at(), e.reset_at) << s.to_string();
        EXPECT_EQ(s.context_pct(), e.context_pct) << s.to_string();
        ++replayed;
      }
      // Every screen has an expectation.
      for (const auto& f : fs::directory_iterator(version_dir.path())) {
        if (f.path().extension() != ".screen") continue;
        EXPECT_TRUE(listed.count(f.path().filename().string()))
            << f.path() << " is not in its manifest";
      }
      agents_seen.insert(agent);
    }
  }
  EXPECT_EQ(agents_seen, (std::set<std::string>{"claude", "codex", "gemini"}));
  EXPECT_GE(replayed, 40u);
}

}  // namespace
}  // namespace aw::agents
