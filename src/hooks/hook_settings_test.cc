#include "src/hooks/hook_settings.h"

#include <gtest/gtest.h>

#include <fstream>
#include <sstream>

namespace aw {
namespace {

std::string fixture(const std::string& rel) {
  std::ifstream in(std::string(AW_SOURCE_DIR) + "/tests/fixtures/hooks/" + rel);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

HookProgram program(const std::string& path = "/usr/local/bin/agentwatch-hook") {
  HookProgram p;
  p.argv = {path};
  return p;
}

JsonValue parse(const std::string& text) {
  auto v = parse_json_tree(text);
  EXPECT_TRUE(v) << v.error().message;
  return v ? *v : JsonValue::object();
}

// The commands of every hook under hooks.EVENT.
std::vector<std::string> commands(const JsonValue& settings, const std::string& event) {
  std::vector<std::string> out;
  const JsonValue* hooks = settings.find("hooks");
  const JsonValue* list = hooks ? hooks->find(event) : nullptr;
  if (!list) return out;
  for (const auto& g : list->items())
    for (const auto& h : g.find("hooks")->items()) out.push_back(h.find("command")->str());
  return out;
}

TEST(HookCommand, QuotesOnlyWhatNeedsIt) {
  EXPECT_EQ(hook_command_line(program(), HookAgent::kClaude, "Stop"),
            "/usr/local/bin/agentwatch-hook claude Stop");
  EXPECT_EQ(
      hook_command_line(program("/opt/my tools/agentwatch-hook"), HookAgent::kGemini, "AfterAgent"),
      "'/opt/my tools/agentwatch-hook' gemini AfterAgent");
  EXPECT_EQ(hook_command_line(program("/o'k/agentwatch-hook"), HookAgent::kClaude, "Stop"),
            "'/o'\\''k/agentwatch-hook' claude Stop");
}

TEST(HookCommand, RecognisesOursByProgram) {
  EXPECT_TRUE(is_agentwatch_hook_command("/usr/bin/agentwatch-hook claude Stop"));
  EXPECT_TRUE(is_agentwatch_hook_command("'/opt/my tools/agentwatch-hook' gemini AfterAgent"));
  EXPECT_TRUE(is_agentwatch_hook_command("/usr/bin/agentwatch hook claude Stop"));
  EXPECT_TRUE(is_agentwatch_hook_command("agentwatch-hook --runtime-dir /r claude Stop"));
  EXPECT_FALSE(is_agentwatch_hook_command("/usr/bin/agentwatch notify user.x"));
  EXPECT_FALSE(is_agentwatch_hook_command("notify-send 'agentwatch-hook'"));
  EXPECT_FALSE(is_agentwatch_hook_command(""));
}

TEST(ClaudeSettings, InstallIntoEmptySettingsAddsEveryEventAndStatusLine) {
  JsonValue s = JsonValue::object();
  auto changes = add_json_hooks(s, HookAgent::kClaude, program(), true);
  ASSERT_TRUE(changes) << changes.error().message;
  EXPECT_EQ(changes->size(), hook_events(HookAgent::kClaude).size() + 1);
  for (const auto& event : hook_events(HookAgent::kClaude))
    EXPECT_EQ(commands(s, event),
              std::vector<std::string>{"/usr/local/bin/agentwatch-hook claude " + event});
  EXPECT_EQ(s.find("statusLine")->find("command")->str(),
            "/usr/local/bin/agentwatch-hook claude statusline");
  // Tool events match every tool; the others leave the matcher out.
  EXPECT_EQ(s.find("hooks")->find("PreToolUse")->items()[0].find("matcher")->str(), "*");
  EXPECT_EQ(s.find("hooks")->find("Stop")->items()[0].find("matcher"), nullptr);
}

TEST(ClaudeSettings, HasTheEventsClaudeCodeDocuments) {
  const std::vector<std::string> want = {"SessionStart", "UserPromptSubmit", "PreToolUse",
                                         "PostToolUse",  "Notification",     "Stop",
                                         "StopFailure",  "PreCompact",       "SessionEnd"};
  EXPECT_EQ(hook_events(HookAgent::kClaude), want);
}

TEST(ClaudeSettings, InstallKeepsEveryExistingKeyAndHook) {
  const JsonValue original = parse(fixture("settings/claude-settings.json"));
  JsonValue s = original;
  auto changes = add_json_hooks(s, HookAgent::kClaude, program(), true);
  ASSERT_TRUE(changes);
  // Every original top-level key, in order, before anything we added.
  for (std::size_t i = 0; i < original.members().size(); ++i)
    EXPECT_EQ(s.members()[i].first, original.members()[i].first);
  EXPECT_EQ(*s.find("permissions"), *original.find("permissions"));
  EXPECT_EQ(*s.find("env"), *original.find("env"));
  // Their PostToolUse and Stop hooks are still first, ours after.
  EXPECT_EQ(commands(s, "PostToolUse"),
            (std::vector<std::string>{"npx prettier --write \"$CLAUDE_FILE_PATHS\"",
                                      "/usr/local/bin/agentwatch-hook claude PostToolUse"}));
  EXPECT_EQ(commands(s, "Stop"),
            (std::vector<std::string>{"notify-send 'Claude is done'",
                                      "/usr/local/bin/agentwatch-hook claude Stop"}));
  // Their statusLine is kept.
  EXPECT_EQ(s.find("statusLine")->find("command")->str(), "~/.claude/statusline.sh");
  EXPECT_NE(std::find(changes->begin(), changes->end(),
                      "kept your statusLine (not replaced; see docs/hooks.md to chain it)"),
            changes->end());
}

TEST(ClaudeSettings, InstallTwiceChangesNothingTheSecondTime) {
  JsonValue s = parse(fixture("settings/claude-settings.json"));
  ASSERT_TRUE(add_json_hooks(s, HookAgent::kClaude, program(), true));
  const JsonValue after_first = s;
  auto second = add_json_hooks(s, HookAgent::kClaude, program(), true);
  ASSERT_TRUE(second);
  EXPECT_EQ(s, after_first);
  for (const auto& c : *second) EXPECT_EQ(c.rfind("kept", 0), 0U) << c;
}

TEST(ClaudeSettings, InstallAfterTheBinaryMovedUpdatesInPlace) {
  JsonValue s = JsonValue::object();
  ASSERT_TRUE(add_json_hooks(s, HookAgent::kClaude, program("/old/agentwatch-hook"), true));
  auto changes = add_json_hooks(s, HookAgent::kClaude, program("/new/agentwatch-hook"), true);
  ASSERT_TRUE(changes);
  EXPECT_EQ(changes->size(), hook_events(HookAgent::kClaude).size() + 1);
  EXPECT_EQ(commands(s, "Stop"), std::vector<std::string>{"/new/agentwatch-hook claude Stop"});
  EXPECT_EQ(s.find("statusLine")->find("command")->str(), "/new/agentwatch-hook claude statusline");
}

TEST(ClaudeSettings, UninstallRestoresTheOriginal) {
  const JsonValue original = parse(fixture("settings/claude-settings.json"));
  JsonValue s = original;
  ASSERT_TRUE(add_json_hooks(s, HookAgent::kClaude, program(), true));
  auto removed = remove_json_hooks(s, HookAgent::kClaude);
  ASSERT_TRUE(removed);
  EXPECT_EQ(removed->size(), hook_events(HookAgent::kClaude).size());
  EXPECT_EQ(s, original);
}

TEST(ClaudeSettings, UninstallFromEmptyRemovesHooksAndStatusLine) {
  JsonValue s = JsonValue::object();
  ASSERT_TRUE(add_json_hooks(s, HookAgent::kClaude, program(), true));
  ASSERT_TRUE(remove_json_hooks(s, HookAgent::kClaude));
  EXPECT_EQ(s, JsonValue::object());
}

TEST(ClaudeSettings, UninstallTwiceChangesNothing) {
  JsonValue s = parse(fixture("settings/claude-settings.json"));
  auto removed = remove_json_hooks(s, HookAgent::kClaude);
  ASSERT_TRUE(removed);
  EXPECT_TRUE(removed->empty());
  EXPECT_EQ(s, parse(fixture("settings/claude-settings.json")));
}

TEST(ClaudeSettings, UninstallKeepsOurEntryInTheUsersGroupsSiblings) {
  // A user who put our hook into their own group keeps the group's other hooks.
  JsonValue s = parse(R"({"hooks":{"Stop":[{"hooks":[
      {"type":"command","command":"say done"},
      {"type":"command","command":"/x/agentwatch-hook claude Stop"}]}]}})");
  ASSERT_TRUE(remove_json_hooks(s, HookAgent::kClaude));
  EXPECT_EQ(commands(s, "Stop"), std::vector<std::string>{"say done"});
}

TEST(ClaudeSettings, WithoutStatusLineOption) {
  JsonValue s = JsonValue::object();
  ASSERT_TRUE(add_json_hooks(s, HookAgent::kClaude, program(), false));
  EXPECT_EQ(s.find("statusLine"), nullptr);
}

TEST(ClaudeSettings, WrongTypesAreErrorsAndChangeNothing) {
  JsonValue s = parse(R"({"hooks":[]})");
  const JsonValue before = s;
  auto r = add_json_hooks(s, HookAgent::kClaude, program(), true);
  ASSERT_FALSE(r);
  EXPECT_NE(r.error().message.find("\"hooks\" is not an object"), std::string::npos);
  EXPECT_EQ(s, before);
  JsonValue t = parse(R"({"hooks":{"Stop":{"oops":1}}})");
  const JsonValue t_before = t;
  auto r2 = add_json_hooks(t, HookAgent::kClaude, program(), true);
  ASSERT_FALSE(r2);
  EXPECT_NE(r2.error().message.find("\"Stop\" is not a list"), std::string::npos);
  EXPECT_EQ(t, t_before);
  JsonValue arr = parse("[1]");
  EXPECT_FALSE(add_json_hooks(arr, HookAgent::kClaude, program(), true));
}

TEST(GeminiSettings, InstallNamesHooksAndKeepsTheUsers) {
  const JsonValue original = parse(fixture("settings/gemini-settings.json"));
  JsonValue s = original;
  ASSERT_TRUE(add_json_hooks(s, HookAgent::kGemini, program(), true));
  EXPECT_EQ(s.find("statusLine"), nullptr);  // Gemini CLI has no statusLine command
  EXPECT_EQ(commands(s, "BeforeTool"),
            (std::vector<std::string>{"$GEMINI_PROJECT_DIR/.gemini/hooks/security.sh",
                                      "/usr/local/bin/agentwatch-hook gemini BeforeTool"}));
  const JsonValue& ours = s.find("hooks")->find("AfterAgent")->items()[0].find("hooks")->items()[0];
  EXPECT_EQ(ours.find("name")->str(), "agentwatch");
  JsonValue again = s;
  ASSERT_TRUE(add_json_hooks(again, HookAgent::kGemini, program(), true));
  EXPECT_EQ(again, s);
  ASSERT_TRUE(remove_json_hooks(s, HookAgent::kGemini));
  EXPECT_EQ(s, original);
}

TEST(GeminiSettings, Events) {
  const std::vector<std::string> want = {"SessionStart", "BeforeAgent",  "BeforeTool",
                                         "AfterTool",    "Notification", "AfterAgent",
                                         "PreCompress",  "SessionEnd"};
  EXPECT_EQ(hook_events(HookAgent::kGemini), want);
}

TEST(CodexToml, AddsNotifyAtTheTopKeepingEveryLine) {
  const std::string original = fixture("settings/codex-config.toml");
  auto edit = add_codex_notify(original, program());
  ASSERT_TRUE(edit) << edit.error().message;
  EXPECT_EQ(edit->text, "notify = [\"/usr/local/bin/agentwatch-hook\", \"codex\"]\n" + original);
  EXPECT_EQ(edit->changes.size(), 1U);
}

TEST(CodexToml, AddTwiceChangesNothing) {
  auto first = add_codex_notify(fixture("settings/codex-config.toml"), program());
  ASSERT_TRUE(first);
  auto second = add_codex_notify(first->text, program());
  ASSERT_TRUE(second);
  EXPECT_EQ(second->text, first->text);
  EXPECT_TRUE(second->changes.empty());
}

TEST(CodexToml, RemoveRestoresTheFileByteForByte) {
  const std::string original = fixture("settings/codex-config.toml");
  auto added = add_codex_notify(original, program());
  ASSERT_TRUE(added);
  auto removed = remove_codex_notify(added->text);
  ASSERT_TRUE(removed);
  EXPECT_EQ(removed->text, original);
  EXPECT_EQ(removed->changes, std::vector<std::string>{"removed notify"});
}

TEST(CodexToml, RefusesToClobberAnotherNotify) {
  const std::string text = fixture("settings/codex-config-other-notify.toml");
  auto edit = add_codex_notify(text, program());
  ASSERT_FALSE(edit);
  EXPECT_NE(edit.error().message.find("line 2: notify is already set to run python3 "
                                      "/home/u/.codex/notify.py"),
            std::string::npos)
      << edit.error().message;
  auto removed = remove_codex_notify(text);
  ASSERT_TRUE(removed);
  EXPECT_EQ(removed->text, text);  // not ours: left alone
}

TEST(CodexToml, UpdatesOurNotifyWrittenOverSeveralLines) {
  const std::string text =
      "# top\nnotify = [\n  \"/old/agentwatch-hook\",  # the hook\n  'codex',\n]\nmodel = \"x\"\n";
  auto edit = add_codex_notify(text, program());
  ASSERT_TRUE(edit) << edit.error().message;
  EXPECT_EQ(edit->text,
            "# top\nnotify = [\"/usr/local/bin/agentwatch-hook\", \"codex\"]\nmodel = \"x\"\n");
}

TEST(CodexToml, NotifyInsideATableIsNotTopLevel) {
  const std::string text = "[profiles.x]\nnotify = [\"python3\", \"n.py\"]\n";
  auto edit = add_codex_notify(text, program());
  ASSERT_TRUE(edit);
  EXPECT_EQ(edit->text, "notify = [\"/usr/local/bin/agentwatch-hook\", \"codex\"]\n" + text);
}

TEST(CodexToml, UnreadableNotifyIsAnErrorNamingTheLine) {
  auto edit = add_codex_notify("a = 1\nnotify = \"oops\"\n", program());
  ASSERT_FALSE(edit);
  EXPECT_NE(edit.error().message.find("line 2"), std::string::npos) << edit.error().message;
  EXPECT_FALSE(add_codex_notify("notify = [\"a\"", program()));
}

TEST(CodexToml, EmptyFileAndPathsWithQuotes) {
  auto edit = add_codex_notify("", program("/we\"ird\\dir/agentwatch-hook"));
  ASSERT_TRUE(edit);
  EXPECT_EQ(edit->text, "notify = [\"/we\\\"ird\\\\dir/agentwatch-hook\", \"codex\"]\n");
  auto again = add_codex_notify(edit->text, program("/we\"ird\\dir/agentwatch-hook"));
  ASSERT_TRUE(again);
  EXPECT_TRUE(again->changes.empty());
  auto removed = remove_codex_notify(edit->text);
  ASSERT_TRUE(removed);
  EXPECT_EQ(removed->text, "");
}

TEST(CodexToml, NotifyKeyPrefixIsNotNotify) {
  auto edit = add_codex_notify("notify_level = 2\n", program());
  ASSERT_TRUE(edit);
  EXPECT_EQ(edit->changes.size(), 1U);
}

}  // namespace
}  // namespace aw
